# coding=utf-8
"""Tests of checkpoints.py's guards: full disks, non-finite weights, warm
starts that restore nothing (or too little), and the keep/demote rules."""

import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import io_lib
import modeling
import validation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_model(scope=None, layers=2):
  return modeling.BertModel(modeling.BertConfig(
      vocab_size=99, hidden_size=32, num_hidden_layers=layers,
      num_attention_heads=4, intermediate_size=37,
      max_position_embeddings=64, type_vocab_size=2), scope=scope)


def test_file_too_large_names_the_checkpoint_and_leaves_nothing(tmp_path):
  # A real write error: RLIMIT_FSIZE in a child process (SIGXFSZ ignored, so
  # write() fails with EFBIG), a step-1 checkpoint under the limit, a step-2
  # one over it.
  script = textwrap.dedent("""\
      import resource, signal, sys
      sys.path.insert(0, %r)
      signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
      resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
      import tensorflow as tf
      import checkpoints, validation
      manager = checkpoints.CheckpointManager(sys.argv[1])
      manager.save({"w": tf.zeros([100])}, 1)
      try:
        manager.save({"w": tf.zeros([100000])}, 2)
      except validation.OutputError as e:
        print(e)
      """) % ROOT
  proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                        capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.strip() == "Cannot write checkpoint %s: File too large" % (
      tmp_path / "model.ckpt-2")
  assert sorted(os.listdir(tmp_path)) == [
      "checkpoint", "model.ckpt-1.data-00000-of-00001", "model.ckpt-1.index"]
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1")


def test_state_file_write_error_keeps_the_old_one(tmp_path, monkeypatch):
  manager = checkpoints.CheckpointManager(str(tmp_path))
  manager.save({"w": tf.constant([1.0])}, 1)
  with open(tmp_path / "checkpoint") as f:
    before = f.read()

  def disk_full(*unused_args, **unused_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  monkeypatch.setattr(io_lib, "_rename", disk_full)
  with pytest.raises(validation.OutputError) as info:
    manager.save({"w": tf.constant([2.0])}, 2)
  monkeypatch.undo()
  assert str(info.value) == "Cannot write %s: No space left on device" % (
      tmp_path / "checkpoint")
  with open(tmp_path / "checkpoint") as f:
    assert f.read() == before
  # The step-2 files are complete but unlisted (the next save or run keeps
  # its own list); no temporary file is left.
  assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]


def test_interrupted_save_leaves_no_temporary_directory(tmp_path, monkeypatch):
  def interrupted(**unused_kwargs):
    raise KeyboardInterrupt("Ctrl-C while merging")

  monkeypatch.setattr(tf.raw_ops, "MergeV2Checkpoints", interrupted)
  with pytest.raises(KeyboardInterrupt):
    checkpoints.save_checkpoint({"w": tf.constant([1.0])},
                                str(tmp_path / "model.ckpt-5"))
  assert os.listdir(tmp_path) == []


def test_finite_check_names_the_non_finite_variables():
  values = {
      "a": tf.Variable([1.0, 2.0], name="a"),
      "b": tf.Variable([1.0, np.nan], name="b"),
      "c/adam_v": tf.Variable([[np.inf]], name="c/adam_v"),
      "global_step": tf.Variable(3, dtype=tf.int64, name="global_step"),
  }
  check = checkpoints.make_finite_check(values)
  assert check() == ["b", "c/adam_v"]
  values["b"].assign([0.0, 0.0])
  values["c/adam_v"].assign([[1.0]])
  assert check() == []  # the compiled check reads the current values
  values["a"].assign([-np.inf, 0.0])
  assert check() == ["a"]


def test_negative_keep_checkpoint_max_is_refused(tmp_path):
  with pytest.raises(validation.UsageError) as info:
    checkpoints.CheckpointManager(str(tmp_path), max_to_keep=-1)
  assert str(info.value) == ("--keep_checkpoint_max=-1: must be >= 0 (0 keeps "
                             "all)")
  assert os.listdir(tmp_path) == []


def test_demote_makes_the_previous_checkpoint_the_newest(tmp_path):
  manager = checkpoints.CheckpointManager(str(tmp_path), max_to_keep=2)
  for step in (1, 2):
    manager.save({"w": tf.constant([float(step)])}, step)
  newest = manager.demote(str(tmp_path / "model.ckpt-2"))
  assert newest == str(tmp_path / "model.ckpt-1")
  assert tf.train.latest_checkpoint(str(tmp_path)) == newest
  assert (tmp_path / "model.ckpt-2.index").exists()  # kept, unlisted
  # Later saves neither list nor delete it.
  for step in (3, 4, 5):
    manager.save({"w": tf.constant([float(step)])}, step)
  assert (tmp_path / "model.ckpt-2.index").exists()
  assert not (tmp_path / "model.ckpt-1.index").exists()
  assert checkpoints.CheckpointManager(str(tmp_path)).demote(
      str(tmp_path / "model.ckpt-5")) == str(tmp_path / "model.ckpt-4")


def restore_into(model, prefix):
  return checkpoints.restore(model.trainable_variables, prefix,
                             allow_missing=True, log=False)


def encoder_names(model):
  return [checkpoints.variable_name(v) for v in model.trainable_variables]


def test_warm_start_from_a_foreign_checkpoint_is_an_error(tmp_path):
  prefix = checkpoints.save_checkpoint(
      {"other/embeddings/word_embeddings": tf.zeros([99, 32]),
       "other/pooler/dense/bias": tf.zeros([32])},
      str(tmp_path / "bert_model.ckpt"))
  model = tiny_model()
  names = encoder_names(model)
  result = restore_into(model, prefix)
  with pytest.raises(validation.UsageError) as info:
    checkpoints.check_warm_start(result, names, prefix)
  assert str(info.value) == (
      "--init_checkpoint=%s restores 0 of the 39 variables expected; it "
      "lacks %s and 36 more; it holds 2 tensors, e.g. other/embeddings/"
      "word_embeddings, other/pooler/dense/bias (its names start with "
      "'other/' where the model's start with 'bert/': another model family "
      "or scope?)" % (prefix, ", ".join(names[:3])))
  # Without the encoder's names the loop still refuses restoring nothing.
  with pytest.raises(validation.UsageError, match="restores 0 of the 39"):
    checkpoints.check_warm_start(result, None, prefix)


def test_warm_start_from_a_tf2_object_checkpoint_says_so(tmp_path):
  holder = tf.Module()
  holder.kernel = tf.Variable(tf.zeros([2]))
  prefix = tf.train.Checkpoint(model=holder).write(str(tmp_path / "ckpt"))
  model = tiny_model()
  with pytest.raises(validation.UsageError) as info:
    checkpoints.check_warm_start(restore_into(model, prefix),
                                 encoder_names(model), prefix)
  assert str(info.value).endswith(
      "(it is a TF2 object-based checkpoint (tf.train.Checkpoint); give a TF1 "
      "name-based one such as Google's bert_model.ckpt)")


def test_warm_start_restoring_a_fraction_is_an_error(tmp_path):
  # A 1-layer checkpoint for a 2-layer model: 23 of 39 variables.
  small = tiny_model(layers=1)
  prefix = checkpoints.save_checkpoint(small, str(tmp_path / "small.ckpt"))
  model = tiny_model()
  names = encoder_names(model)
  with pytest.raises(validation.UsageError) as info:
    checkpoints.check_warm_start(restore_into(model, prefix), names, prefix)
  layer_1 = [n for n in names if "/layer_1/" in n]
  assert len(layer_1) == 16
  assert str(info.value).startswith(
      "--init_checkpoint=%s restores 23 of the 39 variables expected; it "
      "lacks %s and 13 more; it holds 23 tensors, e.g. " % (
          prefix, ", ".join(layer_1[:3])))


def test_warm_start_optional_variables_only_warn(tmp_path, caplog):
  model = tiny_model()
  state = {checkpoints.variable_name(v): v for v in model.trainable_variables
           if "pooler" not in v.name}
  prefix = checkpoints.save_checkpoint(state, str(tmp_path / "np.ckpt"))
  fresh = tiny_model()
  result = restore_into(fresh, prefix)
  with caplog.at_level("WARNING"):
    checkpoints.check_warm_start(result, encoder_names(fresh), prefix,
                                 optional_prefixes=("bert/pooler/",))
  assert ("lacks 2 variable(s) (kept at their initial values): "
          "bert/pooler/dense/bias, bert/pooler/dense/kernel") in caplog.text
  # A complete checkpoint passes silently.
  full = checkpoints.save_checkpoint(model, str(tmp_path / "full.ckpt"))
  checkpoints.check_warm_start(restore_into(fresh, full),
                               encoder_names(fresh), full)


def test_latest_checkpoint_falls_back_when_the_newest_files_are_gone(tmp_path,
                                                                     caplog):
  manager = checkpoints.CheckpointManager(str(tmp_path))
  for step in (1, 2):
    manager.save({"w": tf.constant([float(step)])}, step)
  checkpoints.delete_checkpoint(str(tmp_path / "model.ckpt-2"))
  # TensorFlow's answer would restart training from scratch.
  assert tf.train.latest_checkpoint(str(tmp_path)) is None
  with caplog.at_level("WARNING"):
    assert checkpoints.latest_checkpoint(str(tmp_path)) == str(
        tmp_path / "model.ckpt-1")
  assert "model.ckpt-2, has no files; using" in caplog.text
  checkpoints.delete_checkpoint(str(tmp_path / "model.ckpt-1"))
  assert checkpoints.latest_checkpoint(str(tmp_path)) is None


def test_latest_checkpoint_of_a_relative_directory(tmp_path, monkeypatch):
  """A relative --output_dir (the demo's, most shell scripts'): the newest
  checkpoint is found, not a path with the directory twice (which made
  every restart train from scratch and --do_eval find nothing)."""
  monkeypatch.chdir(tmp_path)
  manager = checkpoints.CheckpointManager(os.path.join("runs", "out"))
  for step in (1, 2):
    manager.save({"w": tf.constant([float(step)])}, step)
  expected = os.path.join("runs", "out", "model.ckpt-2")
  assert checkpoints.latest_checkpoint(os.path.join("runs", "out")) == expected
  assert checkpoints.read_state_file(os.path.join("runs", "out")) == (
      expected, [os.path.join("runs", "out", "model.ckpt-1"), expected])


@pytest.mark.parametrize("text", ["garbage {{{\n", ""])
def test_unreadable_state_file_is_an_error_not_a_fresh_start(tmp_path, text):
  manager = checkpoints.CheckpointManager(str(tmp_path))
  manager.save({"w": tf.constant([1.0])}, 1)
  (tmp_path / "checkpoint").write_text(text)
  with pytest.raises(validation.UsageError) as info:
    checkpoints.latest_checkpoint(str(tmp_path))
  assert str(info.value).startswith("%s cannot be read: " % (
      tmp_path / "checkpoint"))
  with pytest.raises(validation.UsageError):
    checkpoints.CheckpointManager(str(tmp_path))
