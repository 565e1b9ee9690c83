"""Tests of checkpoints.py: TF1 name-based checkpoints in Google's layout."""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import harness
import io_lib
import modeling


def tiny_config():
  return harness.tiny_config(vocab_size=99)


def training_state(model):
  """Model weights + Adam-style slots + an int64 global_step, as the loop saves."""
  state = {}
  for v in model.trainable_variables:
    name = checkpoints.variable_name(v)
    state[name] = v
    state[name + "/adam_m"] = tf.Variable(tf.fill(v.shape, 0.5),
                                          name=name + "/adam_m")
    state[name + "/adam_v"] = tf.Variable(tf.fill(v.shape, 0.25),
                                          name=name + "/adam_v")
  state["global_step"] = tf.Variable(7, dtype=tf.int64, name="global_step")
  return state


def test_variable_name_strips_output_index():
  v = tf.Variable(1.0, name="bert/pooler/dense/bias")
  assert checkpoints.variable_name(v) == "bert/pooler/dense/bias"


def test_round_trip_in_googles_layout(tmp_path):
  model = modeling.BertModel(tiny_config())
  state = training_state(model)
  prefix = checkpoints.save_checkpoint(state, str(tmp_path / "model.ckpt-7"))
  assert os.path.exists(prefix + ".index")
  assert os.path.exists(prefix + ".data-00000-of-00001")
  # No temporary directories are left behind.
  assert sorted(os.listdir(tmp_path)) == ["model.ckpt-7.data-00000-of-00001",
                                          "model.ckpt-7.index"]
  listed = dict(tf.train.list_variables(prefix))
  assert len(listed) == 39 * 3 + 1
  assert listed["global_step"] == []
  assert listed["bert/encoder/layer_1/attention/self/query/kernel"] == [32, 32]
  assert listed["bert/encoder/layer_1/intermediate/dense/kernel/adam_v"] == [32, 37]
  assert listed["bert/embeddings/word_embeddings/adam_m"] == [99, 32]
  reader = tf.train.load_checkpoint(prefix)
  assert reader.get_variable_to_dtype_map()["global_step"] == tf.int64
  assert reader.get_tensor("global_step") == 7
  np.testing.assert_array_equal(
      reader.get_tensor("bert/embeddings/word_embeddings"),
      model.word_embeddings.numpy())
  np.testing.assert_array_equal(
      reader.get_tensor("bert/pooler/dense/kernel/adam_v"),
      np.full([32, 32], 0.25, np.float32))


def test_google_checkpoint_rewritten_by_us_is_identical(tmp_path):
  google = fixture_path("modeling", "sharp", "bert_model.ckpt")
  reader = tf.train.load_checkpoint(google)
  names = sorted(reader.get_variable_to_shape_map())
  tensors = {n: tf.constant(reader.get_tensor(n)) for n in names}
  ours = checkpoints.save_checkpoint(tensors, str(tmp_path / "bert_model.ckpt"))
  assert tf.train.list_variables(ours) == tf.train.list_variables(google)
  ours_reader = tf.train.load_checkpoint(ours)
  for n in names:
    np.testing.assert_array_equal(ours_reader.get_tensor(n), reader.get_tensor(n))


def test_checkpoint_written_by_us_loads_into_a_fresh_model(tmp_path):
  exp = dict(np.load(fixture_path("modeling", "sharp", "expected.npz")))
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", "sharp", "bert_config.json"))
  model = modeling.BertModel(config)
  modeling.init_from_checkpoint(
      model, fixture_path("modeling", "sharp", "bert_model.ckpt"))
  manager = checkpoints.CheckpointManager(str(tmp_path))
  manager.save(training_state(model), global_step=7)
  fresh = modeling.BertModel(config)
  result = modeling.init_from_checkpoint(fresh, manager.latest_checkpoint)
  assert len(result.loaded) == 39 and not result.missing
  # The optimizer slots and the step are there, unused by a bare model.
  assert "global_step" in result.unused
  assert len(result.unused) == 2 * 39 + 1
  outputs = fresh(exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  np.testing.assert_allclose(outputs.sequence_output, exp["sequence_output"],
                             atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(outputs.pooled_output, exp["pooled_output"],
                             atol=1e-5, rtol=1e-5)


def test_manager_state_file_latest_and_max_to_keep(tmp_path):
  directory = str(tmp_path)
  v = tf.Variable(tf.zeros([2]), name="w")
  manager = checkpoints.CheckpointManager(directory, max_to_keep=2)
  assert manager.latest_checkpoint is None
  for step in [1, 2, 3]:
    v.assign([step, -step])
    path = manager.save([v], global_step=step)
    assert path == os.path.join(directory, "model.ckpt-%d" % step)
    assert tf.train.latest_checkpoint(directory) == path
  state = tf.train.get_checkpoint_state(directory)
  assert state.model_checkpoint_path.endswith("model.ckpt-3")
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
      "model.ckpt-2", "model.ckpt-3"]
  with open(os.path.join(directory, "checkpoint")) as f:
    assert f.read() == ('model_checkpoint_path: "model.ckpt-3"\n'
                        'all_model_checkpoint_paths: "model.ckpt-2"\n'
                        'all_model_checkpoint_paths: "model.ckpt-3"\n')
  files = sorted(os.listdir(directory))
  assert files == ["checkpoint", "model.ckpt-2.data-00000-of-00001",
                   "model.ckpt-2.index", "model.ckpt-3.data-00000-of-00001",
                   "model.ckpt-3.index"]
  # A restarted job resumes the list and keeps deleting the oldest.
  again = checkpoints.CheckpointManager(directory, max_to_keep=2)
  again.save({"w": tf.constant([4.0, -4.0])}, global_step=tf.constant(4,
                                                                       tf.int64))
  assert not os.path.exists(os.path.join(directory, "model.ckpt-2.index"))
  assert again.checkpoints == [os.path.join(directory, "model.ckpt-3"),
                               os.path.join(directory, "model.ckpt-4")]
  checkpoints.restore([v], directory)
  np.testing.assert_array_equal(v.numpy(), [4.0, -4.0])


def test_max_to_keep_none_keeps_everything(tmp_path):
  manager = checkpoints.CheckpointManager(str(tmp_path), max_to_keep=None)
  for step in range(4):
    manager.save({"w": tf.constant(float(step))}, step)
  assert len(tf.train.get_checkpoint_state(
      str(tmp_path)).all_model_checkpoint_paths) == 4


def test_crash_before_state_update_keeps_previous_checkpoint(tmp_path,
                                                             monkeypatch):
  directory = str(tmp_path)
  manager = checkpoints.CheckpointManager(directory, max_to_keep=1)
  manager.save({"w": tf.constant([1.0])}, 1)

  def crash(*args, **kwargs):
    raise KeyboardInterrupt("killed between data write and state update")

  monkeypatch.setattr(checkpoints, "write_state_file", crash)
  with pytest.raises(KeyboardInterrupt):
    manager.save({"w": tf.constant([2.0])}, 2)
  monkeypatch.undo()
  # The state file still names the complete step-1 checkpoint, which was not
  # deleted even though max_to_keep is 1.
  latest = tf.train.latest_checkpoint(directory)
  assert latest == os.path.join(directory, "model.ckpt-1")
  assert tf.train.load_checkpoint(latest).get_tensor("w") == [1.0]


def test_crash_while_writing_state_file_leaves_old_one(tmp_path, monkeypatch):
  directory = str(tmp_path)
  manager = checkpoints.CheckpointManager(directory)
  manager.save({"w": tf.constant([1.0])}, 1)
  with open(os.path.join(directory, "checkpoint")) as f:
    before = f.read()

  def crash(*args, **kwargs):
    raise KeyboardInterrupt("killed before the rename")

  # The state file is written by io_lib, which renames through _rename.
  monkeypatch.setattr(io_lib, "_rename", crash)
  with pytest.raises(KeyboardInterrupt):
    manager.save({"w": tf.constant([2.0])}, 2)
  monkeypatch.undo()
  with open(os.path.join(directory, "checkpoint")) as f:
    assert f.read() == before


def test_crash_while_writing_data_leaves_no_index(tmp_path, monkeypatch):
  def crash(**kwargs):
    raise KeyboardInterrupt("killed while merging")

  monkeypatch.setattr(tf.raw_ops, "MergeV2Checkpoints", crash)
  prefix = str(tmp_path / "model.ckpt-5")
  with pytest.raises(KeyboardInterrupt):
    checkpoints.save_checkpoint({"w": tf.constant([1.0])}, prefix)
  assert not os.path.exists(prefix + ".index")


def test_mirrored_variables_save_and_restore(tmp_path):
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  with strategy.scope():
    v = tf.Variable([1.0, 2.0], name="bert/pooler/dense/bias")
    step = tf.Variable(3, dtype=tf.int64, name="global_step")
  assert "Mirrored" in type(v).__name__
  manager = checkpoints.CheckpointManager(str(tmp_path))
  path = manager.save([v, step], step)
  assert path.endswith("model.ckpt-3")
  assert dict(tf.train.list_variables(path)) == {
      "bert/pooler/dense/bias": [2], "global_step": []}
  with strategy.scope():
    w = tf.Variable([0.0, 0.0], name="bert/pooler/dense/bias")
  checkpoints.restore([w], path, allow_missing=False, log=False)
  np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_restore_errors(tmp_path):
  v = tf.Variable(tf.zeros([2]), name="w")
  with pytest.raises(ValueError, match="expected the file .*nothing.index"):
    checkpoints.restore([v], str(tmp_path / "nothing"))
  with pytest.raises(ValueError, match="No checkpoint found in directory"):
    checkpoints.restore([v], str(tmp_path))
  prefix = checkpoints.save_checkpoint({"w": tf.zeros([3]),
                                        "s": tf.constant(1, tf.int64)},
                                       str(tmp_path / "c"))
  with pytest.raises(ValueError, match=r"w: the model has \[2\].*has \[3\]"):
    checkpoints.restore([v], prefix)
  u = tf.Variable(0.0, name="s")
  with pytest.raises(ValueError, match="Dtype mismatch for variable s"):
    checkpoints.restore([u], prefix)
  other = tf.Variable(0.0, name="not_there")
  with pytest.raises(ValueError, match="lacks 1 variables.*not_there"):
    checkpoints.restore([other], prefix)
  result = checkpoints.restore([other], prefix, allow_missing=True)
  assert result.missing == ["not_there"] and result.loaded == []
  assert result.unused == ["s", "w"]


def test_duplicate_names_are_an_error(tmp_path):
  a = tf.Variable(0.0, name="same")
  b = tf.Variable(1.0, name="same")
  with pytest.raises(ValueError, match="same"):
    checkpoints.save_checkpoint([a, b], str(tmp_path / "x"))


def test_tensorflows_name_based_loader_reads_our_checkpoint(tmp_path):
  # tf.train.Checkpoint falls back to TF1's name-based restore (Saver semantics)
  # for checkpoints without an object graph, as ours and Google's are.
  model = modeling.BertModel(tiny_config())
  prefix = checkpoints.save_checkpoint(training_state(model),
                                       str(tmp_path / "model.ckpt-7"))
  fresh = modeling.BertModel(tiny_config())
  assert not np.array_equal(fresh.word_embeddings.numpy(),
                            model.word_embeddings.numpy())
  status = tf.train.Checkpoint(model=fresh).restore(prefix)
  assert type(status).__name__ == "NameBasedSaverStatus"
  for ours, theirs in zip(model.variables, fresh.variables):
    assert ours.name == theirs.name
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
