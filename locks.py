# coding=utf-8
"""A run owns its output: a lock on the output directory or file.

Two runs writing into one `--output_dir` overwrote each other's checkpoints
and both exited 0; two writers of one `--output_file` interleaved their lines.
A run therefore takes a lock first:

  with locks.lock_output_dir(FLAGS.output_dir):
    ...                                   # all the work

* The lock is a `flock` on `<dir>/.lock` (for an output file F:
  `<dir of F>/.<F's name>.lock`), which also holds the owner's pid, host,
  start time and command line. A second live run is refused with a message
  naming the directory and the other run.
* The kernel drops a `flock` when its process dies (also on SIGKILL), so a
  lock file left by a dead run is taken over, with a warning naming it.
* Taking a lock removes the temporary files dead runs left in what it
  protects: `.<name>.tmp-<pid>-<8 hex>` (this project's unique temporary
  names, see `io_lib.temporary_name`) whose pid is no longer running, and the
  older `<name>.tmp<32 hex>` / `<name>_temp_<32 hex>` names (they carry no
  pid; a run holding the lock owns them).
* The lock is released (the file removed) when the block ends, also on an
  exception, Ctrl-C or SIGTERM (see `validation.handle_signals`), and at
  interpreter exit.
* Locks are re-entrant within a process (the driver and the Estimator may
  both take the one of `--output_dir`).
* Paths with `://` (gs://...) are not locked (no local file system); this is
  logged.

No TensorFlow here.
"""

import atexit
import contextlib
import datetime
import errno
import json
import os
import re
import shutil
import socket
import sys
import threading

from absl import logging

import io_lib
import validation

try:
  import fcntl  # pylint: disable=g-import-not-at-top
except ImportError:  # not POSIX: owners are recognised by pid only
  fcntl = None

DIR_LOCK_NAME = ".lock"
# `.<name>.tmp-<pid>-<8 hex>`, possibly with an extension a tool added
# (SentencePiece writes `<prefix>.model` and `<prefix>.vocab`).
_TEMP_RE = re.compile(
    r"^\.(?P<base>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]{8}(?:\.[A-Za-z0-9]+)?$")
_LEGACY_TEMP_RE = re.compile(r"^(?P<base>.+)(\.tmp|_temp_)[0-9a-f]{32}$")

_HELD = {}  # lock file path -> OutputLock held by this process
_HELD_GUARD = threading.Lock()


class LockError(validation.UsageError):
  """The output is in use by another live run."""


def pid_alive(pid):
  """Whether process `pid` runs on this host (True when we cannot tell)."""
  if pid <= 0:
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # another user's process
  return True


def temporary_owner(name):
  """For a temporary file name: (final name, pid or None); None otherwise.

  Args:
    name: a base name (no directory).

  Returns:
    (base, pid) for `.<base>.tmp-<pid>-<hex8>`, (base, None) for the older
    `<base>.tmp<hex32>` / `<base>_temp_<hex32>`, or None for other names.
  """
  m = _TEMP_RE.match(name)
  if m:
    return m.group("base"), int(m.group("pid"))
  m = _LEGACY_TEMP_RE.match(name)
  if m:
    return m.group("base"), None
  return None


def remove_dead_temporaries(directory, base=None, depth=1):
  """Removes temporary files and directories left by runs that are dead.

  Args:
    directory: where to look.
    base: only temporaries of this final name (an output file's lock), or
      None for every temporary (an output directory's lock).
    depth: how many levels of subdirectories to search too (checkpoints are
      at the top, `eval/` and `best/` one level down).

  Returns:
    list of removed paths.
  """
  removed = []
  try:
    names = sorted(os.listdir(directory))
  except OSError:
    return removed
  for name in names:
    path = os.path.join(directory, name)
    owner = temporary_owner(name)
    if owner is not None and (base is None or owner[0] == base or
                              owner[0].startswith(base + ".")):
      pid = owner[1]
      if pid is None or (pid != os.getpid() and not pid_alive(pid)):
        _remove(path)
        removed.append(path)
      continue
    if depth > 0 and base is None and os.path.isdir(path) and not (
        os.path.islink(path)):
      removed.extend(remove_dead_temporaries(path, None, depth - 1))
  return removed


def _remove(path):
  """Removes a file or directory tree, ignoring one that vanished meanwhile."""
  try:
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path)
    else:
      os.remove(path)
  except FileNotFoundError:
    pass


def _describe(info):
  """'pid 123 on host h, started ...: command' for messages."""
  if not info:
    return "owner unknown"
  text = "pid %s on host %s" % (info.get("pid", "?"), info.get("host", "?"))
  if info.get("started"):
    text += ", started %s" % info["started"]
  if info.get("command"):
    text += ": %s" % info["command"]
  return text


def _read_info(fd):
  """The owner record of an open lock file (dict, empty if unreadable)."""
  try:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 65536)
    return json.loads(data.decode("utf-8")) if data.strip() else {}
  except (OSError, ValueError):
    return {}


def _own_info():
  """This process's owner record."""
  command = " ".join([os.path.basename(sys.argv[0] or "python")] +
                     sys.argv[1:])
  return {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
          "command": command[:500]}


class OutputLock(object):
  """The lock of one output directory or file (see the module docstring)."""

  def __init__(self, path, flag_name="output_dir", is_dir=True):
    """Describes the lock; `acquire` takes it.

    Args:
      path: the output directory or file.
      flag_name: the flag that named it (for messages).
      is_dir: whether `path` is a directory (else a file).
    """
    self.path = path
    self.flag_name = flag_name
    self.is_dir = is_dir
    if is_dir:
      self.lock_path = os.path.join(path, DIR_LOCK_NAME)
    else:
      directory, base = os.path.split(os.path.abspath(path))
      self.lock_path = os.path.join(directory, ".%s.lock" % base)
    self.lock_path = os.path.abspath(self.lock_path)
    self._fd = None
    self._pid = None
    self._count = 0
    self._delegate = None  # the lock this process already held for the path
    self._created = []  # directories the lock created, deepest first

  def __enter__(self):
    """Takes the lock (if this object does not hold it yet)."""
    return self.acquire()

  def __exit__(self, *unused_exc_info):
    """Releases the lock, also when the block raised."""
    self.release()

  def acquire(self):
    """Takes the lock (re-entrant in one process), cleans dead temporaries.

    Returns:
      self.

    Raises:
      LockError: another live run holds it.
      validation.OutputError: the lock file cannot be created.
    """
    if validation.is_remote(self.path):
      logging.info("%s is not local: not locked.",
                   validation.flag_text(self.flag_name, self.path))
      return self
    if self._fd is not None or self._delegate is not None:
      return self  # `with lock_output_dir(...)`: already held by this object
    with _HELD_GUARD:
      held = _HELD.get(self.lock_path)
      if held is not None and held._pid == os.getpid():
        held._count += 1
        self._delegate = held
        return self
      self._lock()
      _HELD[self.lock_path] = self
    self._clean()
    return self

  def _lock(self):
    """Opens and flocks the lock file, retrying if it was replaced meanwhile."""
    directory = os.path.dirname(self.lock_path)
    self._created = _missing_directories(directory)
    try:
      os.makedirs(directory, exist_ok=True)
    except OSError as e:
      raise validation.OutputError("%s: cannot create %s: %s" % (
          validation.flag_text(self.flag_name, self.path), directory,
          e.strerror or e)) from e
    while True:
      try:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
      except OSError as e:
        raise validation.OutputError("%s: cannot create the lock file %s: %s"
                                     % (validation.flag_text(
                                         self.flag_name, self.path),
                                        self.lock_path, e.strerror or e)
                                    ) from e
      if not self._flock(fd):
        continue
      break
    previous = _read_info(fd)
    if previous and previous.get("pid") != os.getpid():
      logging.warning(
          "%s: taking over the lock of a run that ended without releasing it "
          "(%s).", validation.flag_text(self.flag_name, self.path),
          _describe(previous))
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(_own_info()).encode("utf-8"))
    self._fd, self._pid, self._count = fd, os.getpid(), 1

  def _flock(self, fd):
    """Locks `fd`; False when the file was replaced and must be reopened.

    Raises:
      LockError: another process holds the lock.
    """
    if fcntl is None:
      self._check_pid_only(fd)
      return True
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      info = _read_info(fd)
      os.close(fd)
      raise LockError(
          "%s is in use by another run (%s); wait for it to end or use "
          "another %s (lock file %s)" % (
              validation.flag_text(self.flag_name, self.path),
              _describe(info), "directory" if self.is_dir else "file",
              self.lock_path)) from None
    except OSError as e:
      if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
        os.close(fd)
        raise
      self._check_pid_only(fd)
      return True
    # A releasing run unlinks the file after we opened it: lock the new one.
    try:
      same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
    except FileNotFoundError:
      same = False
    if not same:
      os.close(fd)
    return same

  def _check_pid_only(self, fd):
    """Without flock support: refuse only a live owner on this host.

    Raises:
      LockError: the lock file names a live process on this host.
    """
    info = _read_info(fd)
    if (info.get("host") == socket.gethostname() and
        info.get("pid") not in (None, os.getpid()) and
        pid_alive(int(info["pid"]))):
      os.close(fd)
      raise LockError("%s is in use by another run (%s); lock file %s" % (
          validation.flag_text(self.flag_name, self.path), _describe(info),
          self.lock_path))
    logging.warning("%s: the file system does not support locks; a second "
                    "run is detected by its pid on this host only.",
                    validation.flag_text(self.flag_name, self.path))

  def _clean(self):
    """Removes temporaries of dead runs in what this lock protects."""
    if self.is_dir:
      removed = remove_dead_temporaries(self.path)
    else:
      directory, base = os.path.split(os.path.abspath(self.path))
      removed = remove_dead_temporaries(directory, base=base, depth=0)
    if removed:
      logging.warning("Removed %d temporary file(s) left by ended runs: %s",
                      len(removed), ", ".join(removed))

  def release(self):
    """Releases the lock (when the outermost holder in this process ends)."""
    if self._delegate is not None:
      delegate, self._delegate = self._delegate, None
      delegate.release()
      return
    if self._fd is None:
      return
    with _HELD_GUARD:
      self._count -= 1
      if self._count > 0:
        return
      if _HELD.get(self.lock_path) is self:
        del _HELD[self.lock_path]
      fd, self._fd = self._fd, None
    if self._pid != os.getpid():
      return  # a forked child: the lock is its parent's
    try:
      os.remove(self.lock_path)  # while still holding it (see _flock)
    except OSError:
      pass
    os.close(fd)
    # A run refused or failed before writing anything leaves no empty
    # directory behind (only the ones it created, and only when empty).
    for directory in self._created:
      try:
        os.rmdir(directory)
      except OSError:
        break



@atexit.register
def _release_all_at_exit():
  """Releases the locks this process still holds when the interpreter exits.

  Forked children (tokenizer workers) inherit `_HELD` but must not release
  their parent's locks, hence the pid check.
  """
  for lock in list(_HELD.values()):
    if lock._pid == os.getpid():  # pylint: disable=protected-access
      lock._count = 1  # pylint: disable=protected-access
      lock.release()


def _missing_directories(directory):
  """The ancestors of `directory` (itself included) that do not exist yet,
  deepest first."""
  missing = []
  directory = os.path.abspath(directory)
  while directory and not os.path.exists(directory):
    missing.append(directory)
    parent = os.path.dirname(directory)
    if parent == directory:
      break
    directory = parent
  return missing


def is_chief_from_environment():
  """Whether this process is the chief of a multi-worker run (TF_CONFIG).

  True without TF_CONFIG or with a one-task cluster; else the `chief` task,
  or worker 0 when the cluster has no chief (estimator_lib's convention).
  Only the chief writes (and locks) --output_dir.
  """
  try:
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
  except ValueError:
    return True  # estimator_lib names the bad variable
  cluster = tf_config.get("cluster", {}) or {}
  if sum(len(cluster.get(k, [])) for k in ("chief", "worker")) <= 1:
    return True
  task = tf_config.get("task", {}) or {}
  if task.get("type") in (None, "chief"):
    return True
  return (task.get("type") == "worker" and int(task.get("index", 0)) == 0
          and not cluster.get("chief"))


# Flags naming what a run writes: the output directory (locked by the chief)
# and output files (comma-separated lists allowed).
OUTPUT_DIR_FLAGS = ("output_dir",)
OUTPUT_FILE_FLAGS = ("output_file", "eval_output_file", "model_prefix")


def lock_flag_outputs(flag_values):
  """Locks every output a script's flags name, for the whole run.

  Args:
    flag_values: absl FLAGS (parsed).

  Returns:
    a contextlib.ExitStack holding the locks (`with` it; leaving releases).

  Raises:
    LockError: another live run writes one of them.
  """
  stack = contextlib.ExitStack()
  try:
    for name in OUTPUT_DIR_FLAGS:
      value = flag_values[name].value if name in flag_values else None
      if value and is_chief_from_environment():
        stack.enter_context(OutputLock(value, name, is_dir=True))
    for name in OUTPUT_FILE_FLAGS:
      value = flag_values[name].value if name in flag_values else None
      for path in (value or "").split(","):
        if path.strip():
          stack.enter_context(OutputLock(path, name, is_dir=False))
  except BaseException:
    stack.close()
    raise
  return stack


def lock_output_dir(path, flag_name="output_dir"):
  """Takes the lock of an output directory (creating the directory).

  Use as `with locks.lock_output_dir(FLAGS.output_dir): ...` or keep the
  returned lock for the whole run.

  Returns:
    the held OutputLock.

  Raises:
    LockError: another live run holds it.
  """
  return OutputLock(path, flag_name, is_dir=True).acquire()


def lock_output_file(path, flag_name="output_file"):
  """Takes the lock of an output file (the lock file sits beside it).

  Returns:
    the held OutputLock.

  Raises:
    LockError: another live run writes the file.
  """
  return OutputLock(path, flag_name, is_dir=False).acquire()
