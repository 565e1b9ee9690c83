# coding=utf-8
"""What runs leave on disk: killed runs, dead runs' leftovers, full disks,
files that describe each other, exports into occupied directories.

SIGTERM needs a real process (a runner started as its command line: exit
status 143, the last line of stderr, the files left); everything else runs
in this process.
"""

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import create_pretraining_data as cpd
from conftest import fixture_path
from conftest import ROOT
import encoders
import estimator_lib
import export_lib
import harness
import io_lib
import locks
import run_classifier
import validation

RECORDS = fixture_path("pretraining_data", "a_base.tfrecord")


def leftovers(directory):
  """Lock files and temporary files or directories under `directory`."""
  found = []
  for root, dirs, files in os.walk(str(directory)):
    for name in files + dirs:
      if name.endswith(".lock") or locks.temporary_owner(name):
        found.append(os.path.join(root, name))
  return found


def dead_pid():
  """The pid of a process that has ended."""
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  proc.wait()
  return proc.pid


# ------------------------------------------------------------ killed runs

def test_sigterm_to_a_runner_leaves_no_temporaries_and_it_resumes(tmp_path):
  """run_pretraining.py, stopped by SIGTERM once it has a checkpoint:
  status 143, one line, no lock or temporary file; the same command
  resumes from the newest checkpoint."""
  model = harness.google_model_dir(tmp_path / "model",
                                   max_position_embeddings=128)
  out = tmp_path / "out"
  args = ["--bert_config_file=" + model["bert_config_file"],
          "--input_file=" + RECORDS, "--output_dir=%s" % out, "--do_train",
          "--max_seq_length=128", "--train_batch_size=4",
          "--num_warmup_steps=0", "--save_checkpoints_steps=2",
          "--iterations_per_loop=1", "--seed=1"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "run_pretraining.py"),
       "--num_train_steps=100000"] + args, cwd=ROOT, env=env,
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 240
  while not (out / "checkpoint").exists():
    assert time.time() < deadline and proc.poll() is None, proc.stderr.read()
    time.sleep(0.2)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 143, err[-3000:]
  assert err.strip().splitlines()[-1] == (
      "run_pretraining.py: interrupted (SIGTERM)")
  assert not leftovers(out)
  step = int(checkpoints.latest_checkpoint(str(out)).rsplit("-", 1)[1])
  harness.run_main(run_pretraining_main(), *args,
                   num_train_steps=step + 1)
  assert checkpoints.latest_checkpoint(str(out)) == str(
      out / ("model.ckpt-%d" % (step + 1)))
  assert not leftovers(out)


def run_pretraining_main():
  """run_pretraining.main (imported late: its flags are defined then)."""
  import run_pretraining  # pylint: disable=g-import-not-at-top
  return run_pretraining.main


def test_a_dead_runs_lock_and_temporaries_are_cleaned_nothing_else(tmp_path):
  """After kill -9 the lock file and half-written temporaries stay; the
  next run takes the lock over and removes them, and only them."""
  model = harness.google_model_dir(tmp_path / "model")
  data = tmp_path / "data"
  data.mkdir()
  (data / "train.tsv").write_text("good movie\tpos\nbad movie\tneg\n")
  out = tmp_path / "out"
  out.mkdir()
  pid = dead_pid()
  (out / ".lock").write_text(json.dumps({"pid": pid, "host": "h"}))
  (out / (".model.ckpt-7.tmp-%d-0123abcd" % pid)).mkdir()
  (out / (".train.tf_record.tmp-%d-89abcdef" % pid)).write_text("partial")
  (out / "notes.txt").write_text("mine")
  harness.run_main(run_classifier.main, "--do_train", task_name="tsv",
                   data_dir=data, vocab_file=model["vocab_file"],
                   bert_config_file=model["bert_config_file"],
                   init_checkpoint=model["init_checkpoint"], output_dir=out,
                   max_seq_length=16, train_batch_size=2,
                   num_train_epochs=1.0, learning_rate=1e-3)
  assert not leftovers(out)
  assert (out / "notes.txt").read_text() == "mine"
  assert checkpoints.latest_checkpoint(str(out)) == str(out / "model.ckpt-1")


# -------------------------------------------------------------- full disk

def test_full_disk_while_writing_events_names_the_file_and_keeps_records(
    tmp_path):
  """TensorFlow reports it as an op error of the writer's flush and leaves
  half a record; the error names the file, which keeps whole records."""
  writer = tf.summary.create_file_writer(str(tmp_path))
  estimator_lib.write_scalars(writer, 1, {"loss": 0.5})
  writer.flush()
  (path,) = [str(p) for p in tmp_path.iterdir()]
  whole = os.path.getsize(path)
  with open(path, "ab") as f:
    f.write(b"\x40\x00\x00\x00\x00\x00\x00\x00half a record")
  message = ("{{function_node __wrapped__FlushSummaryWriter}} %s; No space "
             "left on device\n\tFailed to flush 3 events to %s" % (path, path))
  with pytest.raises(validation.OutputError) as info:
    with estimator_lib.summary_errors():
      raise tf.errors.ResourceExhaustedError(None, None, message)
  assert str(info.value) == ("Cannot write TensorBoard events %s: No space "
                             "left on device" % path)
  assert os.path.getsize(path) == whole
  assert len(list(tf.data.TFRecordDataset(path))) == 2  # version + scalar
  # Other op errors pass unchanged.
  with pytest.raises(tf.errors.InvalidArgumentError):
    with estimator_lib.summary_errors():
      raise tf.errors.InvalidArgumentError(None, None, "bad shape")


class _FullDisk(io.BytesIO):
  """A binary file that fails like a full disk after `room` bytes."""

  def __init__(self, room):
    super().__init__()
    self.room = room

  def write(self, data):
    if self.tell() + len(data) > self.room:
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return super().write(data)


def test_full_disk_while_writing_records_keeps_the_old_pair(tmp_path,
                                                           monkeypatch):
  """create_pretraining_data: the error names the outputs; the old records
  and their sidecar stay as they were, and no temporary is left."""
  out = str(tmp_path / "out.tfrecord")
  old = {out: b"old records", cpd.sidecar_path(out): b'{"old": true}\n'}
  for path, data in old.items():
    with open(path, "wb") as f:
      f.write(data)
  real_open = open

  def full_disk_open(path, mode="r", *args, **kwargs):
    if "b" in mode and "w" in mode:
      return _FullDisk(room=10)
    return real_open(path, mode, *args, **kwargs)

  monkeypatch.setattr(cpd, "open", full_disk_open, raising=False)
  with pytest.raises(validation.OutputError) as info:
    cpd.write_records(lambda rows: b"x" * 100 * len(rows), np.arange(50),
                      [out], settings={"a": 1})
  assert str(info.value) == "Cannot write %s: No space left on device" % out
  assert sorted(os.listdir(str(tmp_path))) == sorted(
      os.path.basename(p) for p in old)
  for path, data in old.items():
    with real_open(path, "rb") as f:
      assert f.read() == data


def test_a_sidecar_never_describes_other_records(tmp_path, monkeypatch):
  """Records and their sidecar are renamed together; the old sidecar goes
  first, so a failure between the renames leaves new records without a
  sidecar (read with the defaults), never beside the old one."""
  out = str(tmp_path / "out.tfrecord")
  cpd.write_records(lambda rows: b"a" * len(rows), np.arange(3), [out],
                    settings={"run": 1})
  real_replace = os.replace

  def fail_on_the_sidecar(source, target):
    if target.endswith(".json"):
      raise OSError(errno.EIO, "I/O error")
    real_replace(source, target)

  monkeypatch.setattr(os, "replace", fail_on_the_sidecar)
  with pytest.raises(validation.OutputError):
    cpd.write_records(lambda rows: b"b" * len(rows), np.arange(4), [out],
                      settings={"run": 2})
  monkeypatch.undo()
  with open(out, "rb") as f:
    assert f.read() == b"bbbb"
  assert sorted(os.listdir(str(tmp_path))) == ["out.tfrecord"]


# --------------------------------------------------------------- exports

def test_an_export_never_deletes_what_it_did_not_create(tmp_path):
  encoder = harness.tiny_encoder()
  export_dir = tmp_path / "export"
  export_dir.mkdir()
  (export_dir / "thesis.txt").write_text("years of work")
  with pytest.raises(validation.UsageError) as info:
    export_lib.export_hub_encoder(encoder, str(export_dir), harness.VOCAB,
                                  True)
  assert str(info.value) == (
      "--export_dir=%s: the directory holds thesis.txt, which an export "
      "would delete (it is not an earlier export); name a new or empty "
      "directory, or pass --overwrite to replace it" % export_dir)
  assert os.listdir(str(export_dir)) == ["thesis.txt"]
  assert not leftovers(tmp_path)
  # With overwrite it is replaced; an earlier export (only SavedModel
  # files) needs no flag.
  export_lib.export_hub_encoder(encoder, str(export_dir), harness.VOCAB, True,
                                overwrite=True)
  entries = sorted(os.listdir(str(export_dir)))
  assert "thesis.txt" not in entries and "saved_model.pb" in entries
  assert validation.check_export_dir("export_dir", str(export_dir)) == str(
      export_dir)


def test_export_command_line_refuses_before_any_work(tmp_path):
  """export_lib.py (its flags exist only as a script): status 2, one line,
  the directory untouched."""
  model = harness.google_model_dir(tmp_path / "model")
  occupied = tmp_path / "occupied"
  occupied.mkdir()
  (occupied / "a.txt").write_text("a")
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, "export_lib.py"),
       "--bert_config_file=" + model["bert_config_file"],
       "--init_checkpoint=" + model["init_checkpoint"],
       "--vocab_file=" + model["vocab_file"], "--export_dir=%s" % occupied],
      cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
      capture_output=True, text=True, timeout=300)
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert proc.stderr.strip().splitlines()[-1] == (
      "export_lib.py: error: --export_dir=%s: the directory holds a.txt, "
      "which an export would delete (it is not an earlier export); name a "
      "new or empty directory, or pass --overwrite to replace it" % occupied)
  assert os.listdir(str(occupied)) == ["a.txt"]


# ------------------------------------------------------------ warm start

def test_warm_start_restoring_part_of_the_encoder_is_an_error(tmp_path):
  """The driver's warm start must restore every encoder variable (the
  pooler may be missing)."""
  values = {checkpoints.variable_name(v): v
            for v in harness.tiny_encoder().variables}
  names = [n for n in values if "layer_1" not in n]
  partial = checkpoints.save_checkpoint(
      {n: values[n] for n in names}, str(tmp_path / "partial.ckpt"))
  model = harness.tiny_encoder()
  expected = encoders.get_family("bert").variable_names(harness.tiny_config())
  with pytest.raises(validation.UsageError) as info:
    estimator_lib.warm_start(model, partial, expected)
  assert str(info.value).startswith(
      "--init_checkpoint=%s restores 23 of the 39 variables expected; it "
      "lacks bert/encoder/layer_1/" % partial)
  no_pooler = checkpoints.save_checkpoint(
      {n: v for n, v in values.items() if "pooler" not in n},
      str(tmp_path / "no_pooler.ckpt"))
  result = estimator_lib.warm_start(harness.tiny_encoder(), no_pooler,
                                    expected)
  assert len(result.loaded) == 37
