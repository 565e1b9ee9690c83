"""io_lib.py: input globs, atomic outputs (unique temporaries, cleanup on
failure), progress lines; no TensorFlow import."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
import io_lib
import validation


def _touch(path, text=""):
  path.write_text(text)
  return str(path)


def test_expand_globs_sorted_per_pattern_in_pattern_order(tmp_path):
  for name in ("b2.txt", "b10.txt", "a.txt", "c.txt"):
    _touch(tmp_path / name)
  spec = "%s, %s,,%s," % (tmp_path / "c.txt", tmp_path / "b*.txt",
                          tmp_path / "a.txt")
  assert [os.path.basename(p) for p in io_lib.expand_globs(spec)] == [
      "c.txt", "b10.txt", "b2.txt", "a.txt"]
  # A file named twice is read twice (Google's scripts do).
  twice = io_lib.expand_globs("%s,%s" % (tmp_path / "a.txt",
                                         tmp_path / "a.txt"))
  assert len(twice) == 2


def test_expand_globs_errors_name_flag_and_pattern(tmp_path):
  pattern = str(tmp_path / "x*")
  with pytest.raises(ValueError) as e:
    io_lib.expand_globs(pattern, "--input_file")
  assert str(e.value) == "--input_file: no file matches %r" % pattern
  with pytest.raises(ValueError, match="--train_file names no file"):
    io_lib.expand_globs(" , ", "--train_file")


def test_temporary_names_are_unique_hidden_and_beside_the_target(tmp_path):
  target = str(tmp_path / "out.tfrecord")
  names = {io_lib.temporary_name(target) for _ in range(100)}
  assert len(names) == 100
  for name in names:
    assert os.path.dirname(name) == str(tmp_path)
    base = os.path.basename(name)
    assert base.startswith(".out.tfrecord.tmp-%d-" % os.getpid())
    assert len(base.rsplit("-", 1)[1]) == 8
  # A directory target with a trailing slash.
  assert os.path.basename(io_lib.temporary_name(str(tmp_path / "d") + "/")
                          ).startswith(".d.tmp-")


def test_atomic_output_appears_only_when_complete(tmp_path):
  path = tmp_path / "results.txt"
  with io_lib.atomic_output(str(path)) as f:
    f.write("line \u00e9\n")
    assert not path.exists()
    assert [n for n in os.listdir(str(tmp_path))
            if n.startswith(".results.txt.tmp-")]
  assert path.read_bytes() == "line \u00e9\n".encode("utf-8")
  assert os.listdir(str(tmp_path)) == ["results.txt"]


def test_atomic_output_failure_keeps_the_old_file_and_leaves_nothing(
    tmp_path):
  path = tmp_path / "results.txt"
  path.write_text("old\n")
  with pytest.raises(RuntimeError):
    with io_lib.atomic_output(str(path), "wb") as f:
      f.write(b"half")
      raise RuntimeError("disk full")
  assert path.read_text() == "old\n"
  assert os.listdir(str(tmp_path)) == ["results.txt"]


def test_two_writers_of_one_path_do_not_share_a_temporary(tmp_path):
  path = str(tmp_path / "x.json")
  first = io_lib.AtomicFile(path)
  second = io_lib.AtomicFile(path)
  first.write("first")
  second.write("second")
  second.commit()
  first.abort()
  with open(path) as f:
    assert f.read() == "second"
  assert os.listdir(str(tmp_path)) == ["x.json"]


def test_atomic_path_for_writers_that_open_by_name(tmp_path):
  path = tmp_path / "data.bin"
  with io_lib.atomic_path(str(path)) as tmp:
    with open(tmp, "wb") as f:
      f.write(b"\x00\x01")
  assert path.read_bytes() == b"\x00\x01"
  with pytest.raises(KeyError):
    with io_lib.atomic_path(str(tmp_path / "other.bin")) as tmp:
      with open(tmp, "wb") as f:
        f.write(b"x")
      raise KeyError("interrupted")
  assert os.listdir(str(tmp_path)) == ["data.bin"]


def test_atomic_dir(tmp_path):
  target = tmp_path / "export"
  with io_lib.atomic_dir(str(target)) as tmp:
    os.makedirs(tmp)
    _touch(tmp_path / os.path.basename(tmp) / "saved_model.pb", "x")
    assert not target.exists()
  assert (target / "saved_model.pb").read_text() == "x"
  # An existing directory is refused unless replacing is asked for.
  with pytest.raises(ValueError, match="already exists"):
    with io_lib.atomic_dir(str(target)):
      pass
  with io_lib.atomic_dir(str(target) + "/", replace_existing=True) as tmp:
    os.makedirs(tmp)
    _touch(tmp_path / os.path.basename(tmp) / "new.pb")
  assert os.listdir(str(target)) == ["new.pb"]
  # A failed export leaves the earlier one and no temporary.
  with pytest.raises(RuntimeError):
    with io_lib.atomic_dir(str(target), replace_existing=True) as tmp:
      os.makedirs(tmp)
      raise RuntimeError("save failed")
  assert os.listdir(str(tmp_path)) == ["export"]
  assert os.listdir(str(target)) == ["new.pb"]


def test_an_output_group_is_replaced_together_or_not_at_all(tmp_path):
  """Files that describe each other (predictions and their n-best list)."""
  paths = [_touch(tmp_path / n, "old")
           for n in ("predictions.json", "nbest.json")]
  with pytest.raises(validation.OutputError):
    with io_lib.output_group() as group:
      group.write_text(paths[0], "new")
      with io_lib.output_errors(paths[1]):
        raise OSError(28, "No space left on device")
  assert sorted(os.listdir(str(tmp_path))) == ["nbest.json",
                                               "predictions.json"]
  assert [open(p).read() for p in paths] == ["old", "old"]
  with io_lib.output_group() as group:
    for path in paths:
      group.file(path).write("new")
    assert [open(p).read() for p in paths] == ["old", "old"]
  assert [open(p).read() for p in paths] == ["new", "new"]
  assert sorted(os.listdir(str(tmp_path))) == ["nbest.json",
                                               "predictions.json"]


def test_progress_every_n_units_and_the_last_one():
  lines = []
  progress = io_lib.Progress(total=10, unit="examples", every=4,
                             write=lines.append)
  for _ in range(10):
    progress.add()
  assert len(lines) == 3  # at 4, 8 and the last
  assert lines[0].startswith("4 of 10 examples (40.0%, ")
  assert "examples/s, ETA 0:00:0" in lines[0]
  assert lines[2].startswith("10 of 10 examples (100.0%, ")
  progress.add()  # beyond the total: no second final line
  assert len(lines) == 3


def test_progress_by_time_with_a_label_and_a_message(monkeypatch):
  clock = [100.0]
  monkeypatch.setattr(io_lib.time, "time", lambda: clock[0])
  lines = []
  progress = io_lib.Progress(total=200, unit="instances", every_seconds=5.0,
                             label="create_pretraining_data",
                             write=lines.append)
  clock[0] += 1
  progress.update("wrote 10", 10)
  assert not lines  # not due yet
  clock[0] += 4
  progress.update("wrote 50", 50)
  assert lines == ["[create_pretraining_data 5 s] wrote 50 (25.0%, 10.0 "
                   "instances/s, ETA 0:00:15)"]
  # A message alone (no count yet, no total) is written as it is.
  untimed = io_lib.Progress(every_seconds=0.0, write=lines.append)
  untimed.update("read a.txt")
  assert lines[-1] == "read a.txt"
  silent = io_lib.Progress(total=1, enabled=False, write=lines.append)
  silent.add()
  assert len(lines) == 2


def test_no_tensorflow_import(tmp_path):
  code = ("import os, sys, io_lib\n"
          "io_lib.expand_globs('io_lib.py')\n"
          "io_lib.write_text(os.path.join(%r, 'a.txt'), 'x')\n"
          "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n" %
          str(tmp_path))
  subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                 timeout=120)
  assert (tmp_path / "a.txt").read_text() == "x"
