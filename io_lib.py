# coding=utf-8
"""File helpers shared by the scripts: input globs, atomic outputs, progress.

* `expand_globs`: Google's `--input_file` (a comma separated list of globs) as
  one sorted list, one behaviour for every script.
* `atomic_output` / `AtomicFile`, `atomic_path` / `AtomicPath`, `atomic_dir`:
  an output is written under a unique temporary name in its own directory
  (`.<name>.tmp-<pid>-<8 hex>`, so two runs never share one, and a reader of
  the directory never sees a half-written file under the real name) and
  renamed over the real name only when complete; on failure the temporary is
  removed, and a write error (disk full, permission denied, ...) becomes a
  `validation.OutputError` naming the real path.
* `Progress`: the one progress printer (count, rate, percent, ETA).

No TensorFlow at import: local paths use Python's own file functions;
TensorFlow's `tf.io.gfile` is imported only for paths with a scheme
(`gs://...`), which only it can open.
"""

import contextlib
import glob
import os
import re
import shutil
import time
import uuid

from absl import logging

import validation


def is_remote(path):
  """True for a path with a scheme (gs://, s3://, ...), read by tf.io.gfile."""
  return "://" in path


def _gfile():
  """tf.io.gfile, imported on first use (remote paths only)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def exists(path):
  """Whether `path` exists (local or remote)."""
  return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def open_file(path, mode="r"):
  """Opens a local or remote file.

  Text modes read and write UTF-8 without newline translation, as
  tf.io.gfile.GFile does, so a file's bytes do not depend on the platform.

  Args:
    path: file path (any tf.io.gfile path when it has a scheme).
    mode: "r", "w", "a", "rb", "wb" or "ab".

  Returns:
    a file object.
  """
  if is_remote(path):
    return _gfile().GFile(path, mode)
  if "b" in mode:
    return open(path, mode)
  return open(path, mode, encoding="utf-8", newline="")


def remove(path):
  """Deletes a file or a directory tree (local or remote), if it exists."""
  if is_remote(path):
    gfile = _gfile()
    if gfile.isdir(path):
      gfile.rmtree(path)
    elif gfile.exists(path):
      gfile.remove(path)
  elif os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
  elif os.path.lexists(path):
    os.remove(path)


def _rename(source, target):
  """Renames `source` over `target` (a file replaces a file)."""
  if is_remote(source):
    _gfile().rename(source, target, overwrite=True)
  else:
    os.replace(source, target)


def expand_globs(spec, flag_name="--input_file"):
  """Google's `--input_file`: comma separated globs -> list of files.

  Args:
    spec: e.g. "a.txt,data/part-*.tfrecord"; spaces around an element are
      dropped and an empty element (a trailing comma) is skipped.
    flag_name: named in the errors.

  Returns:
    list of paths: each pattern's matches sorted, patterns in the given order
    (a file named twice is listed twice, as Google's scripts read it twice).

  Raises:
    ValueError: a pattern matches no file, or `spec` names none.
  """
  paths = []
  for pattern in (spec or "").split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    if is_remote(pattern):
      matches = sorted(_gfile().glob(pattern))
    else:
      matches = sorted(glob.glob(pattern))
    if not matches:
      raise validation.UsageError("%s: no file matches %r" % (flag_name, pattern))
    paths.extend(matches)
  if not paths:
    raise validation.UsageError("%s names no file: %r" % (flag_name, spec))
  return paths


def temporary_name(path):
  """A unique temporary name next to `path`: `<dir>/.<name>.tmp-<pid>-<hex8>`.

  The same directory, so the final rename is atomic (one file system); the
  process id and a random part, so concurrent runs never share one; a leading
  dot, so globs such as `model.ckpt-100.*` do not see it.
  """
  directory, base = os.path.split(path.rstrip("/"))
  return os.path.join(directory, ".%s.tmp-%d-%s" % (base, os.getpid(),
                                                     uuid.uuid4().hex[:8]))


def error_reason(error):
  """The operating system's reason in an OSError or TensorFlow I/O error.

  Args:
    error: OSError or tf.errors.OpError.

  Returns:
    e.g. "No space left on device", "File too large", "Permission denied"
    (TensorFlow's function names, temporary paths and `[Op:...]` dropped).
  """
  if isinstance(error, OSError) and error.strerror:
    return error.strerror
  text = getattr(error, "message", None) or str(error)
  text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
  text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text, flags=re.S).strip()
  return text.rsplit("; ", 1)[-1] if "; " in text else text


def is_write_error(error):
  """Whether `error` is a failed write (OSError, TensorFlow's I/O errors)."""
  if isinstance(error, OSError):
    return True
  return type(error).__module__.startswith("tensorflow") and hasattr(
      error, "error_code")


@contextlib.contextmanager
def output_errors(path):
  """Turns a write error inside the block into an OutputError naming `path`.

  Args:
    path: the output being written (what the message names).

  Raises:
    validation.OutputError: "Cannot write <path>: <reason>".
  """
  try:
    yield
  except validation.UsageError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    if not is_write_error(e):
      raise
    raise validation.OutputError("Cannot write %s: %s" %
                                 (path, error_reason(e))) from e


class AtomicPath(object):
  """A temporary path for a writer that opens files by name, renamed on commit.

  For writers such as tf.io.TFRecordWriter or zipfile: write to `.temporary`,
  then `commit()` (rename over the real path) or `abort()` (remove).
  """

  def __init__(self, path):
    """Args: path: the final path (its directory must exist)."""
    self.path = path
    self.temporary = temporary_name(path)

  def commit(self):
    """Renames the temporary over `path`."""
    _rename(self.temporary, self.path)

  def abort(self):
    """Removes the temporary (whatever was written)."""
    remove(self.temporary)


class AtomicFile(object):
  """A file written under a temporary name and renamed when complete.

  For streaming writers that outlive a `with` block: `write(...)`, then
  `commit()` or, after an error, `abort()`.
  """

  def __init__(self, path, mode="w"):
    """Opens the temporary file.

    Args:
      path: the final path.
      mode: "w" (UTF-8 text) or "wb".
    """
    self._target = AtomicPath(path)
    self.path = path
    with output_errors(path):
      self.file = open_file(self._target.temporary, mode)

  def write(self, data):
    """Writes `data` (str or bytes, as the mode); errors name the path."""
    with output_errors(self.path):
      self.file.write(data)

  def commit(self):
    """Closes the file and renames it to its final name (removes it if that
    fails)."""
    try:
      with output_errors(self.path):
        self.file.close()
        self._target.commit()
    except BaseException:
      self._target.abort()
      raise

  def abort(self):
    """Closes and removes the temporary file."""
    self.file.close()
    self._target.abort()


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path; renamed over `path` if the block succeeds.

  Args:
    path: the final path.

  Yields:
    the temporary path (nothing is created there).
  """
  target = AtomicPath(path)
  try:
    with output_errors(path):
      yield target.temporary
      target.commit()
  except BaseException:
    target.abort()
    raise


@contextlib.contextmanager
def atomic_output(path, mode="w"):
  """Yields a file object; the file appears as `path` only when complete.

  Args:
    path: the final path.
    mode: "w" (UTF-8 text, no newline translation) or "wb".

  Yields:
    the open temporary file.
  """
  output = AtomicFile(path, mode)
  try:
    with output_errors(path):
      yield output.file
    output.commit()
  except BaseException:
    output.abort()
    raise


@contextlib.contextmanager
def atomic_dir(path, replace_existing=False):
  """Yields a temporary directory path; renamed to `path` if the block succeeds.

  Args:
    path: the final directory.
    replace_existing: delete an existing `path` just before the rename (else
      an existing `path` is an error, raised before the block runs).

  Yields:
    the temporary path (not created: the block creates it, as
    tf.saved_model.save does).

  Raises:
    ValueError: `path` exists and `replace_existing` is False.
  """
  path = path.rstrip("/") or path
  if exists(path) and not replace_existing:
    raise ValueError("%s already exists" % path)
  target = AtomicPath(path)
  try:
    with output_errors(path):
      yield target.temporary
      if exists(path):
        remove(path)
      if is_remote(path):
        _gfile().rename(target.temporary, path)
      else:
        os.rename(target.temporary, path)
  except BaseException:
    target.abort()
    raise


class OutputGroup(object):
  """Outputs that describe each other, replaced together or not at all.

  Each is written under its temporary name (`file(path)` -> AtomicFile);
  `commit()` renames them all at the end (back to back, after every one is
  complete), `abort()` removes them all. A failure while writing any of
  them (a full disk) leaves every old file as it was: a rerun never leaves
  new predictions beside an old n-best list.
  """

  def __init__(self):
    self._files = []

  def file(self, path, mode="w"):
    """A new member: an AtomicFile of `path` (do not commit it yourself)."""
    member = AtomicFile(path, mode)
    self._files.append(member)
    return member

  def write_text(self, path, text):
    """A member holding `text` (UTF-8)."""
    self.file(path).write(text)

  def commit(self):
    """Renames every member to its name (closing it first)."""
    for member in self._files:
      member.commit()
    self._files = []

  def abort(self):
    """Removes every member's temporary file."""
    for member in self._files:
      member.abort()
    self._files = []


@contextlib.contextmanager
def output_group():
  """Yields an OutputGroup, committed when the block succeeds, else aborted."""
  group = OutputGroup()
  try:
    yield group
  except BaseException:
    group.abort()
    raise
  group.commit()


def write_text(path, text):
  """Writes `text` (UTF-8) to `path` atomically."""
  with atomic_output(path, "w") as f:
    f.write(text)


def format_duration(seconds):
  """Seconds as H:MM:SS (negative counts as 0)."""
  seconds = int(max(seconds, 0))
  return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class Progress(object):
  """Progress lines with the count, rate, percent and ETA of long work.

  A line is written when `every` more units are done (when given), when
  `every_seconds` have passed since the last line (when given; the default
  when neither is), and at the last unit of a known total.
  """

  default_every_seconds = 5.0

  def __init__(self, total=None, unit="items", every=None, every_seconds=None,
               label=None, write=None, enabled=True):
    """Starts the clock.

    Args:
      total: units in all, or None when unknown.
      unit: plural noun of the units ("examples").
      every: report every this many units.
      every_seconds: report at most this often (seconds).
      label: prefix `[<label> <elapsed> s] `, or None for none.
      write: function(line); default logging.info.
      enabled: False writes nothing.
    """
    if every is None and every_seconds is None:
      every_seconds = self.default_every_seconds
    self.total = total
    self.unit = unit
    self.every = max(1, every) if every else None
    self.every_seconds = every_seconds
    self.label = label
    self.write = write or logging.info
    self.enabled = enabled
    self.count = 0
    self.restart()

  def restart(self):
    """Restarts the clock (rates and ETA) from the current count."""
    self.start = time.time()
    self._start_count = self.count
    self._last_time = self.start
    self._last_count = self.count

  def add(self, n=1, message=None):
    """Counts `n` more units done; reports when due."""
    self.update(message, self.count + n)

  def update(self, message=None, done=None, total=None):
    """Reports `message` (and the count) when due.

    Args:
      message: text of the line; default "<done> of <total> <unit>".
      done: units done so far (default: unchanged).
      total: a new total (default: unchanged).
    """
    if done is not None:
      self.count = done
    if total is not None:
      self.total = total
    if self.enabled and self._due():
      self.write(self.line(message))
      self._last_time = time.time()
      self._last_count = self.count

  def _due(self):
    if self.total is not None and self.count >= self.total:
      return self._last_count < self.total  # the last line, once
    if self.every and (self.count // self.every >
                       self._last_count // self.every):
      return True
    return bool(self.every_seconds is not None and
                time.time() - self._last_time >= self.every_seconds)

  def line(self, message=None):
    """The progress line for the current count."""
    elapsed = time.time() - self.start
    done = self.count - self._start_count
    rate = done / max(elapsed, 1e-9)
    if message is None:
      message = "%d%s %s" % (
          self.count, "" if self.total is None else " of %d" % self.total,
          self.unit)
    text = message
    if self.total:
      eta = (self.total - self.count) / rate if rate > 0 else float("inf")
      text += " (%.1f%%, %.1f %s/s, ETA %s)" % (
          100.0 * self.count / self.total, rate, self.unit,
          format_duration(eta) if eta != float("inf") else "?")
    elif self.count:
      text += " (%.1f %s/s)" % (rate, self.unit)
    if self.label:
      text = "[%s %.0f s] %s" % (self.label, elapsed, text)
    return text
