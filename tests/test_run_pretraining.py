# coding=utf-8
"""Tests of run_pretraining.py: heads against Google's outputs, training on real
records, kill-and-resume, Google's checkpoint names, eval_results.txt, and the
continued-pretraining path from a Google checkpoint."""

import collections
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import estimator_lib
import harness
import modeling
import run_pretraining
import seeding
import tokenization

A_BASE = fixture_path("pretraining_data", "a_base.tfrecord")
SAMPLE_TEXT = fixture_path("pretraining_data", "sample_text.txt")
EVAL_KEYS = ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
             "masked_lm_perplexity", "next_sentence_accuracy",
             "next_sentence_loss"]


def tiny_config(path, vocab_size=30522, dropout=0.1):
  """Writes a 2-layer, hidden-32 bert_config.json; returns its path."""
  return harness.write_config(
      path, vocab_size=vocab_size, num_attention_heads=2,
      intermediate_size=64, hidden_dropout_prob=dropout,
      attention_probs_dropout_prob=dropout, max_position_embeddings=128)


run_script = harness.run_script
read_eval_results = harness.read_eval_results


# ----------------------------------------------------------- heads vs Google


@pytest.mark.parametrize("folder", ["", "sharp"])
def test_heads_match_google(folder):
  base = fixture_path("modeling", folder)
  expected = np.load(os.path.join(base, "expected.npz"))
  config = modeling.BertConfig.from_json_file(
      os.path.join(base, "bert_config.json"))
  model = run_pretraining.BertPretrainingModel(config)
  result = checkpoints.restore(model, os.path.join(base, "bert_model.ckpt"),
                               allow_missing=False, log=False)
  assert "cls/predictions/output_bias" in result.loaded
  assert "cls/seq_relationship/output_weights" in result.loaded
  features = {name: tf.constant(expected[name]) for name in (
      "input_ids", "input_mask", "segment_ids", "masked_lm_positions",
      "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")}
  out = model(features, training=False)
  for key in ("masked_lm_log_probs", "masked_lm_example_loss",
              "masked_lm_loss", "next_sentence_log_probs",
              "next_sentence_example_loss", "next_sentence_loss"):
    np.testing.assert_allclose(out[key].numpy(), expected[key], atol=1e-5,
                               rtol=1e-5, err_msg=key)
  np.testing.assert_allclose(out["total_loss"].numpy(),
                             expected["total_pretraining_loss"], atol=1e-5,
                             rtol=1e-5)


def _full_sequence_loss(model, features, training):
  """The total loss computed from the whole sequence output (no
  output_positions), as Google's model_fn does."""
  outputs = model.bert(features["input_ids"],
                       input_mask=features["input_mask"],
                       token_type_ids=features["segment_ids"],
                       training=training)
  masked_lm_loss, _, _ = run_pretraining.get_masked_lm_output(
      model.bert_config, outputs.sequence_output, outputs.embedding_table,
      features["masked_lm_positions"], features["masked_lm_ids"],
      features["masked_lm_weights"], head=model.masked_lm)
  next_sentence_loss, _, _ = run_pretraining.get_next_sentence_output(
      model.bert_config, outputs.pooled_output,
      features["next_sentence_labels"], head=model.next_sentence)
  return masked_lm_loss + next_sentence_loss


def test_last_layer_at_masked_positions_gives_the_full_loss_and_gradients():
  """BertPretrainingModel runs the last layer at the masked positions only;
  loss and gradients equal those from the whole sequence output, with
  dropout (same seeded masks)."""
  base = fixture_path("modeling", "sharp")
  expected = np.load(os.path.join(base, "expected.npz"))
  config = modeling.BertConfig.from_json_file(
      os.path.join(base, "bert_config.json"))
  model = run_pretraining.BertPretrainingModel(config)
  checkpoints.restore(model, os.path.join(base, "bert_model.ckpt"),
                      allow_missing=False, log=False)
  features = {name: tf.constant(expected[name]) for name in (
      "input_ids", "input_mask", "segment_ids", "masked_lm_positions",
      "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")}

  @tf.function
  def loss_and_grads(full):
    with tf.GradientTape() as tape, seeding.dropout_seed(
        tf.constant([3, 5], tf.int64)):
      if full:
        loss = _full_sequence_loss(model, features, training=True)
      else:
        loss = model(features, training=True)["total_loss"]
    grads = tape.gradient(loss, model.trainable_variables)
    return loss, [tf.convert_to_tensor(g) for g in grads]

  want_loss, want_grads = loss_and_grads(True)
  got_loss, got_grads = loss_and_grads(False)
  np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
  for got, want, var in zip(got_grads, want_grads, model.trainable_variables):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5,
                               err_msg=var.name)
  # Dropout was on (the loss differs from the evaluation loss).
  assert abs(float(want_loss) - float(expected["total_pretraining_loss"])) > 1e-3


def test_gather_indexes():
  seq = tf.reshape(tf.range(2 * 3 * 2, dtype=tf.float32), [2, 3, 2])
  got = run_pretraining.gather_indexes(seq, tf.constant([[2, 0], [1, 1]]))
  np.testing.assert_array_equal(got.numpy(),
                                [[4, 5], [0, 1], [8, 9], [8, 9]])


# ----------------------------------------------------------- records / flags


def test_record_length_mismatch_names_feature_and_lengths(tmp_path):
  with pytest.raises(ValueError) as e:
    run_pretraining.check_input_files([A_BASE], 64, 20)
  message = str(e.value)
  assert "input_ids" in message and "128" in message and "64" in message
  assert "a_base.tfrecord" in message and "max_seq_length" in message
  with pytest.raises(ValueError, match=r"masked_lm_positions has length 20 .* "
                     r"--max_predictions_per_seq=10"):
    run_pretraining.check_input_files([A_BASE], 128, 10)
  run_pretraining.check_input_files([A_BASE], 128, 20)  # matching: no error

  # With create_pretraining_data's sidecar the JSON is the authority.
  copy = str(tmp_path / "part.tfrecord")
  shutil.copy(A_BASE, copy)
  with open(copy + ".json", "w") as f:
    json.dump({"max_seq_length": 128, "max_predictions_per_seq": 20,
               "vocab_size": 30522}, f)
  with pytest.raises(ValueError, match=r"max_predictions_per_seq=20 .*"
                     r"part.tfrecord.json.* --max_predictions_per_seq=19"):
    run_pretraining.check_input_files([copy], 128, 19)
  with pytest.raises(ValueError, match="vocab_size is 99"):
    run_pretraining.check_input_files([copy], 128, 20, vocab_size=99)


def test_input_files_globs_and_lists(tmp_path):
  for name in ("x1.tfrecord", "x2.tfrecord", "y.tfrecord"):
    shutil.copy(A_BASE, str(tmp_path / name))
  files = run_pretraining.expand_input_files(
      "%s,%s" % (tmp_path / "x*.tfrecord", tmp_path / "y.tfrecord"))
  assert sorted(os.path.basename(f) for f in files) == [
      "x1.tfrecord", "x2.tfrecord", "y.tfrecord"]
  with pytest.raises(ValueError, match="no file matches"):
    run_pretraining.expand_input_files(str(tmp_path / "nothing*"))


def test_input_pipeline_decodes_google_records():
  input_fn = run_pretraining.input_fn_builder([A_BASE], 128, 20,
                                              is_training=False)
  batch = next(iter(input_fn({"batch_size": 4})))
  first = tf.train.Example.FromString(
      next(iter(tf.data.TFRecordDataset(A_BASE))).numpy()).features.feature
  assert batch["input_ids"].dtype == tf.int32
  assert batch["masked_lm_weights"].dtype == tf.float32
  assert batch["next_sentence_labels"].shape == [4, 1]
  for name in ("input_ids", "input_mask", "segment_ids",
               "masked_lm_positions", "masked_lm_ids",
               "next_sentence_labels"):
    np.testing.assert_array_equal(batch[name][0].numpy(),
                                  first[name].int64_list.value)
  np.testing.assert_array_equal(batch["masked_lm_weights"][0].numpy(),
                                first["masked_lm_weights"].float_list.value)


# ----------------------------------------------------------- training


def test_loss_falls_on_real_records(tmp_path):
  config = modeling.BertConfig.from_json_file(
      tiny_config(tmp_path / "bert_config.json"))
  model_fn = run_pretraining.model_fn_builder(
      config, None, learning_rate=2e-3, num_train_steps=40,
      num_warmup_steps=4, use_tpu=False, use_one_hot_embeddings=False)
  run_config = estimator_lib.RunConfig(str(tmp_path / "out"), seed=3,
                                       iterations_per_loop=10,
                                       save_checkpoints_steps=40)
  est = estimator_lib.Estimator(model_fn, run_config, train_batch_size=8,
                                eval_batch_size=8)
  train_fn = run_pretraining.input_fn_builder([A_BASE], 128, 20, True)
  eval_fn = run_pretraining.input_fn_builder([A_BASE], 128, 20, False)
  before = est.evaluate(eval_fn, steps=5, allow_initial_weights=True)
  assert before["global_step"] == 0
  est.train(train_fn, max_steps=40)
  after = est.evaluate(eval_fn, steps=5)
  assert after["global_step"] == 40
  # Fresh weights predict ~uniformly over 30522 words: ln(30522) = 10.3.
  assert before["masked_lm_loss"] > 9.5
  assert after["masked_lm_loss"] < before["masked_lm_loss"] - 2.0
  assert after["loss"] < before["loss"] - 2.0
  # `loss` is the mean of the batches' losses, the others weighted means over
  # all predictions: close, not equal (as in Google's README sample).
  np.testing.assert_allclose(
      after["loss"], after["masked_lm_loss"] + after["next_sentence_loss"],
      rtol=1e-2)


def kill_and_resume_flags(output_dir, config_file):
  return ["--input_file=" + A_BASE, "--bert_config_file=" + config_file,
          "--output_dir=" + output_dir, "--do_train", "--train_batch_size=4",
          "--max_seq_length=128", "--max_predictions_per_seq=20",
          "--num_train_steps=150", "--num_warmup_steps=10",
          "--learning_rate=1e-3", "--save_checkpoints_steps=10",
          "--iterations_per_loop=5", "--seed=7"]


def test_sigkill_and_restart_ends_with_same_weights(tmp_path):
  # With --seed, dropout masks are a function of the step (not of the
  # process), so Google's dropout 0.1 stays on.
  config_file = tiny_config(tmp_path / "bert_config.json", dropout=0.1)
  straight = str(tmp_path / "straight")
  run_script("run_pretraining.py", kill_and_resume_flags(straight, config_file))

  killed = str(tmp_path / "killed")
  interrupted_at = harness.kill_at_first_checkpoint(
      "run_pretraining.py", kill_and_resume_flags(killed, config_file), killed)
  assert not interrupted_at.endswith("-150"), "the run was not interrupted"

  out = run_script("run_pretraining.py",
                   kill_and_resume_flags(killed, config_file))
  assert "Restoring from " + interrupted_at in out
  a = tf.train.load_checkpoint(os.path.join(straight, "model.ckpt-150"))
  b = tf.train.load_checkpoint(os.path.join(killed, "model.ckpt-150"))
  names = sorted(a.get_variable_to_shape_map())
  assert names == sorted(b.get_variable_to_shape_map())
  assert "bert/encoder/layer_1/output/dense/kernel/adam_v" in names
  for name in names:
    np.testing.assert_allclose(b.get_tensor(name), a.get_tensor(name),
                               rtol=1e-5, atol=1e-7, err_msg=name)


# ----------------------------------------------------------- continued


def write_small_vocab(path, size=99):
  """[PAD] [UNK] [CLS] [SEP] [MASK] + the most frequent words of sample_text."""
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  counts = collections.Counter()
  with open(SAMPLE_TEXT, encoding="utf-8") as f:
    for line in f:
      counts.update(basic.tokenize(line))
  words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  vocab += words[:size - len(vocab)]
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(vocab) + "\n")
  return str(path)


def test_continued_pretraining_from_google_checkpoint(tmp_path):
  """create_pretraining_data with the checkpoint's vocab, then run_pretraining
  --init_checkpoint: Google's weights load, the loss falls, the checkpoint
  written has Google's names and loads into a fresh BertModel."""
  vocab = write_small_vocab(tmp_path / "vocab.txt")
  records = str(tmp_path / "domain.tfrecord")
  run_script("create_pretraining_data.py", [
      "--input_file=" + SAMPLE_TEXT, "--output_file=" + records,
      "--vocab_file=" + vocab, "--max_seq_length=64",
      "--max_predictions_per_seq=10", "--dupe_factor=2"])
  init = fixture_path("modeling", "bert_model.ckpt")
  config_file = fixture_path("modeling", "bert_config.json")
  # The loss of Google's weights on the new records (in process).
  config = modeling.BertConfig.from_json_file(config_file)
  model_fn = run_pretraining.model_fn_builder(config, init, 5e-3, 30, 3,
                                              False, False)
  est = estimator_lib.Estimator(
      model_fn, estimator_lib.RunConfig(str(tmp_path / "start")),
      eval_batch_size=8)
  before = est.evaluate(
      run_pretraining.input_fn_builder([records], 64, 10, False), steps=4)
  assert before["global_step"] == 0

  # Google's README command line, flag for flag (smaller numbers).
  trained = str(tmp_path / "trained")
  out = run_script("run_pretraining.py", [
      "--input_file=" + records, "--output_dir=" + trained,
      "--do_train=True", "--do_eval=True",
      "--bert_config_file=" + config_file, "--init_checkpoint=" + init,
      "--train_batch_size=8", "--max_seq_length=64",
      "--max_predictions_per_seq=10", "--num_train_steps=30",
      "--num_warmup_steps=3", "--learning_rate=5e-3",
      # Not in Google's command: eval size, fewer steps per loop, a seed.
      "--eval_batch_size=8", "--max_eval_steps=4", "--iterations_per_loop=10",
      "--seed=1"])
  assert ("name = cls/predictions/output_bias, shape = [99], *INIT_FROM_CKPT*"
          in out)
  after = read_eval_results(os.path.join(trained, "eval_results.txt"))

  # Google's keys, sorted, "%s = %s".
  assert list(after) == EVAL_KEYS
  assert after["global_step"] == "30"
  assert float(after["loss"]) < before["loss"] - 0.5
  for key in EVAL_KEYS[1:]:
    if key != "masked_lm_perplexity":
      assert 0.0 <= float(after[key]) < 20.0
  # New: the perplexity of the masked LM, exp of its loss.
  np.testing.assert_allclose(float(after["masked_lm_perplexity"]),
                             np.exp(float(after["masked_lm_loss"])),
                             rtol=1e-6)

  # The checkpoint: Google's names and shapes (model, cls heads, slots, step).
  ckpt = tf.train.latest_checkpoint(trained)
  assert os.path.basename(ckpt) == "model.ckpt-30"
  shapes = dict(tf.train.list_variables(ckpt))
  google = dict(tf.train.list_variables(init))
  del google["output_weights"], google["output_bias"]  # classifier only
  for name, shape in google.items():
    assert shapes[name] == shape, name
    assert shapes[name + "/adam_m"] == shape, name
    assert shapes[name + "/adam_v"] == shape, name
  assert shapes["global_step"] == []
  assert len(shapes) == 3 * len(google) + 1

  fresh = modeling.BertModel(config)
  result = checkpoints.restore(fresh, ckpt, log=False)
  assert not result.missing and len(result.loaded) == len(fresh.variables)
  reader = tf.train.load_checkpoint(ckpt)
  np.testing.assert_array_equal(
      fresh.word_embeddings.numpy(),
      reader.get_tensor("bert/embeddings/word_embeddings"))
  assert not np.array_equal(
      reader.get_tensor("bert/embeddings/word_embeddings"),
      tf.train.load_checkpoint(init).get_tensor(
          "bert/embeddings/word_embeddings"))


@pytest.mark.parametrize("precision,use_xla,optimizer,learning_rate", [
    ("bfloat16", True, "adamw", 2e-3), ("float16", False, "lamb", 5e-2)])
def test_mixed_precision_xla_lamb_train(tmp_path, precision, use_xla,
                                        optimizer, learning_rate):
  config = modeling.BertConfig.from_json_file(
      tiny_config(tmp_path / "bert_config.json"))
  model_fn = run_pretraining.model_fn_builder(
      config, None, learning_rate=learning_rate, num_train_steps=20,
      num_warmup_steps=2, use_tpu=False, use_one_hot_embeddings=False,
      optimizer=optimizer)
  run_config = estimator_lib.RunConfig(
      str(tmp_path / "out"), seed=3, iterations_per_loop=10,
      save_checkpoints_steps=20, precision=precision, use_xla=use_xla)
  est = estimator_lib.Estimator(model_fn, run_config, train_batch_size=8,
                                eval_batch_size=8)
  eval_fn = run_pretraining.input_fn_builder([A_BASE], 128, 20, False)
  before = est.evaluate(eval_fn, steps=3, allow_initial_weights=True)
  est.train(run_pretraining.input_fn_builder([A_BASE], 128, 20, True),
            max_steps=20)
  after = est.evaluate(eval_fn, steps=3)
  assert est.model.bert.compute_dtype == tf.as_dtype(precision)
  assert type(est._optimizer).__name__ == {
      "adamw": "AdamWeightDecayOptimizer", "lamb": "LAMBOptimizer"}[optimizer]
  assert np.isfinite(after["loss"]) and after["global_step"] > 0
  assert after["masked_lm_loss"] < before["masked_lm_loss"] - 0.3
  # Checkpoints stay float32 whatever the compute dtype.
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(
      str(tmp_path / "out")))
  assert reader.get_variable_to_dtype_map()[
      "bert/encoder/layer_0/attention/self/query/kernel"] == tf.float32
  # float16 also saves the loss scale, so a restart keeps it.
  names = reader.get_variable_to_dtype_map()
  has_scale = "loss_scale/current_loss_scale" in names
  assert has_scale == (precision == "float16")
  if has_scale:
    assert reader.get_tensor("loss_scale/current_loss_scale") == (
        est._loss_scale.loss_scale.numpy())
