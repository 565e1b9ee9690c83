# coding=utf-8
"""Tests of locks.py: a run owns its output directory or file.

The other run is a real process (tests/lock_holder.py: it takes the lock,
leaves a temporary file of its own, says "locked" and waits), killed with
SIGTERM (it releases the lock and exits 143) or SIGKILL (it leaves the lock
file and its temporary file for the next run to take over and clean).
"""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

import io_lib
import locks
import validation

HERE = os.path.dirname(os.path.abspath(__file__))
HOLDER = os.path.join(HERE, "lock_holder.py")


def start_holder(path, kind="dir"):
  """Starts lock_holder.py on `path` and waits until it holds the lock."""
  proc = subprocess.Popen([sys.executable, HOLDER, kind, str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  line = proc.stdout.readline()
  assert line == "locked\n", line + proc.stderr.read()
  return proc


def dead_pid():
  """The pid of a process that has ended."""
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  proc.wait()
  return proc.pid


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_second_live_run_is_refused_and_a_signal_releases(tmp_path, signum):
  out = tmp_path / "out"
  holder = start_holder(out)
  try:
    with pytest.raises(locks.LockError) as info:
      locks.lock_output_dir(str(out))
    message = str(info.value)
    assert message.startswith(
        "--output_dir=%s is in use by another run (pid %d on host %s, "
        "started " % (out, holder.pid, socket.gethostname())), message
    assert message.endswith(
        ": lock_holder.py dir %s); wait for it to end or use another "
        "directory (lock file %s)" % (out, out / ".lock")), message
  finally:
    holder.send_signal(signum)
    _, err = holder.communicate(timeout=30)
  # SIGTERM is handled like Ctrl-C: one line, 128 + signal, lock released.
  assert holder.returncode == 128 + signum
  assert err.strip().splitlines()[-1] == (
      "lock_holder.py: interrupted (%s)" % signal.Signals(signum).name)
  assert not (out / ".lock").exists()
  with locks.lock_output_dir(str(out)):
    assert (out / ".lock").exists()
  assert not (out / ".lock").exists()


def test_stale_lock_of_a_killed_run_is_taken_over_and_cleaned(tmp_path,
                                                               caplog):
  out = tmp_path / "out"
  holder = start_holder(out)
  holder.kill()  # SIGKILL: no cleanup at all
  holder.wait()
  (out / "eval").mkdir()
  leftovers = [
      ".model.ckpt-3.index.tmp-%d-0123abcd" % holder.pid,  # the holder's
      "eval/.events.tmp-%d-89abcdef" % dead_pid(),
      "checkpoint.tmp" + "0123456789abcdef" * 2,           # older name
  ]
  os.mkdir(out / (".model.ckpt-4.tmp-%d-0a0b0c0d" % dead_pid()))
  leftovers.append(".model.ckpt-4.tmp-%d-0a0b0c0d" % dead_pid())
  kept = [
      ".model.ckpt-5.tmp-%d-0123abcd" % os.getpid(),       # a live writer
      "notes.tmp", "model.ckpt-3.index", "eval/events.out",
      ".model.ckpt-6.tmp-%d-nothex!" % holder.pid,         # not our pattern
  ]
  for name in leftovers[1:3] + kept:
    (out / name).write_text("x")
  assert (out / ".lock").exists() and (out / leftovers[0]).exists()
  with caplog.at_level("WARNING"):
    lock = locks.lock_output_dir(str(out))
  try:
    text = caplog.text
    assert ("--output_dir=%s: taking over the lock of a run that ended "
            "without releasing it (pid %d on host %s" %
            (out, holder.pid, socket.gethostname())) in text
    assert "Removed 4 temporary file(s) left by ended runs" in text
    for name in leftovers:
      assert not (out / name).exists(), name
    for name in kept:
      assert (out / name).exists(), name
  finally:
    lock.release()


def test_output_file_lock_beside_the_file(tmp_path):
  target = tmp_path / "features.jsonl"
  holder = start_holder(target, kind="file")
  try:
    with pytest.raises(locks.LockError) as info:
      locks.lock_output_file(str(target))
    assert str(info.value).startswith(
        "--output_file=%s is in use by another run (pid %d" %
        (target, holder.pid))
    assert "use another file (lock file %s)" % (
        tmp_path / ".features.jsonl.lock") in str(info.value)
  finally:
    holder.kill()
    holder.wait()
  # The killed writer's temporary file of this output is removed; another
  # output's temporary file in the same directory is not this lock's.
  other = tmp_path / (".other.jsonl.tmp-%d-0123abcd" % dead_pid())
  other.write_text("x")
  mine = tmp_path / (".features.jsonl.tmp-%d-0123abcd" % holder.pid)
  assert mine.exists()
  with locks.lock_output_file(str(target)):
    assert not mine.exists()
    assert other.exists()
  assert sorted(os.listdir(tmp_path)) == [other.name]


def test_reentrant_in_one_process(tmp_path):
  outer = locks.lock_output_dir(str(tmp_path))
  with locks.OutputLock(str(tmp_path)):
    with locks.OutputLock(str(tmp_path)):
      assert (tmp_path / ".lock").exists()
    assert (tmp_path / ".lock").exists()
  assert (tmp_path / ".lock").exists()  # the outer holder still holds it
  outer.release()
  assert not (tmp_path / ".lock").exists()
  outer.release()  # a second release is harmless


def test_lock_under_a_file_is_an_output_error(tmp_path):
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  with pytest.raises(validation.OutputError) as info:
    locks.lock_output_dir(str(a_file / "out"))
  assert str(info.value).startswith(
      "--output_dir=%s: cannot create %s" % (a_file / "out", a_file / "out"))


def test_remote_paths_are_not_locked(tmp_path):
  with locks.lock_output_dir("gs://bucket/out") as lock:
    assert lock.path == "gs://bucket/out"


def test_temporary_names():
  path = io_lib.temporary_name("/out/model.ckpt-5")
  directory, name = os.path.split(path)
  assert directory == "/out"
  assert name.startswith(".model.ckpt-5.tmp-%d-" % os.getpid())
  assert locks.temporary_owner(name) == ("model.ckpt-5", os.getpid())
  assert locks.temporary_owner("checkpoint.tmp" + "ab" * 16) == (
      "checkpoint", None)
  assert locks.temporary_owner("model.ckpt-5_temp_" + "ab" * 16) == (
      "model.ckpt-5", None)
  assert locks.temporary_owner("model.ckpt-5.index") is None
  assert not locks.pid_alive(dead_pid())
  assert locks.pid_alive(os.getpid())


def test_without_flock_a_live_owner_is_still_refused(tmp_path, monkeypatch):
  # File systems without flock (and non-POSIX systems): the owner record's
  # pid decides, on this host.
  monkeypatch.setattr(locks, "fcntl", None)
  holder = start_holder(tmp_path)  # holds it with flock, record written
  try:
    with pytest.raises(locks.LockError, match="pid %d on host" % holder.pid):
      locks.lock_output_dir(str(tmp_path))
  finally:
    holder.kill()
    holder.wait()
  with locks.lock_output_dir(str(tmp_path)):  # its pid is dead now
    pass
  assert not (tmp_path / ".lock").exists()


def test_a_refused_run_leaves_no_directory_it_created(tmp_path):
  """The lock creates the output directory; released with nothing written
  it removes what it created (and nothing that existed before)."""
  out = tmp_path / "a" / "b" / "out"
  with locks.lock_output_dir(str(out)):
    assert os.listdir(str(out)) == [".lock"]
  assert os.listdir(str(tmp_path)) == []
  with locks.lock_output_dir(str(out)):
    (out / "model.ckpt-1.index").write_text("")
  assert os.listdir(str(out)) == ["model.ckpt-1.index"]


def test_outputs_named_by_flags_are_locked_for_the_run(tmp_path, monkeypatch):
  """validation.run_main locks --output_dir (the chief only) and each of a
  comma list of output files."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flag_values = flags.FlagValues()
  flags.DEFINE_string("output_dir", None, "", flag_values=flag_values)
  flags.DEFINE_string("output_file", None, "", flag_values=flag_values)
  a, b = tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"
  flag_values(["prog", "--output_dir=%s" % (tmp_path / "out"),
               "--output_file=%s,%s" % (a, b)])
  with locks.lock_flag_outputs(flag_values):
    assert sorted(os.listdir(str(tmp_path))) == [".a.tfrecord.lock",
                                                 ".b.tfrecord.lock", "out"]
    assert os.listdir(str(tmp_path / "out")) == [".lock"]
  assert os.listdir(str(tmp_path)) == []
  # A worker of a multi-worker run writes nothing there: no lock.
  monkeypatch.setenv("TF_CONFIG", json.dumps({
      "cluster": {"worker": ["h:1", "h:2"]},
      "task": {"type": "worker", "index": 1}}))
  assert not locks.is_chief_from_environment()
  with locks.lock_flag_outputs(flag_values):
    assert sorted(os.listdir(str(tmp_path))) == [".a.tfrecord.lock",
                                                 ".b.tfrecord.lock"]


def test_temporaries_with_a_tool_extension_are_recognised():
  """SentencePiece writes <prefix>.model and .vocab of a temporary prefix."""
  assert locks.temporary_owner(".spm.tmp-12-0123abcd.model") == ("spm", 12)
  assert locks.temporary_owner(".spm.lock") is None
