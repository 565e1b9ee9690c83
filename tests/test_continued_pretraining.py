# coding=utf-8
"""Continued (domain) pretraining with run_pretraining.py: masked-LM-only
records (the next-sentence head and pooler kept as they are), dynamic
masking (exact resume after SIGKILL, fixed evaluation masks),
`masked_lm_perplexity`, a held-out file, and vocabularies filled
(learn_vocab --fill_unused_from) or grown (--extend_from)."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import create_pretraining_data as cpd
import encoders
import estimator_lib
import harness
import learn_vocab
import task_lib
from tasks import pretraining
from tasks import pretraining_data
import tokenization
import validation
from test_run_pretraining import write_small_vocab

SAMPLE = fixture_path("pretraining_data", "sample_text.txt")
SEQ, PRED = 64, 10
MLM_KEYS = ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
            "masked_lm_perplexity"]


def small_config(vocab_size=99, dropout=0.1):
  """A 2-layer, hidden-32 BertConfig over a small vocabulary."""
  return harness.tiny_config(vocab_size=vocab_size, num_attention_heads=2,
                             hidden_dropout_prob=dropout,
                             attention_probs_dropout_prob=dropout)


def released_checkpoint(directory, config):
  """A fresh model with both heads (a released checkpoint's variables),
  every bias made non-zero so that loading is visible."""
  model = pretraining.PretrainingModel(
      encoders.EncoderSpec.from_config(config).create())
  rng = np.random.RandomState(0)
  for v in model.variables:
    if "bias" in v.name:
      v.assign(rng.normal(0, 0.1, v.shape).astype(np.float32))
  return harness.save_checkpoint(model, directory, "bert_model.ckpt"), model


def mlm_dynamic_records(directory, vocab_file, eval_documents=1):
  """MLM-only dynamic records of sample_text and a held-out file."""
  train = os.path.join(str(directory), "train.tfrecord")
  held_out = os.path.join(str(directory), "heldout.tfrecord")
  cpd.run([SAMPLE], [train], vocab_file, max_seq_length=SEQ,
          max_predictions_per_seq=PRED, masking="dynamic",
          next_sentence_prediction=False, log_examples=False, progress=False,
          eval_output_files=[held_out], eval_documents=eval_documents)
  return train, held_out


def make_task(settings, config, records, vocab_file=None):
  """A PretrainingTask of prepare_records' output."""
  return pretraining.PretrainingTask(
      settings, encoders.EncoderSpec.from_config(config),
      max_seq_length=SEQ, max_predictions_per_seq=PRED,
      vocab_file=vocab_file, **records)


def test_masked_lm_only_keeps_the_sentence_head_and_evaluates_fixed(tmp_path):
  vocab = write_small_vocab(tmp_path / "vocab.txt")
  train, held_out = mlm_dynamic_records(tmp_path, vocab)
  config = small_config()
  init, _ = released_checkpoint(tmp_path, config)
  records = pretraining_data.prepare_records(
      train, held_out, SEQ, PRED, 99, do_train=True, do_eval=True,
      vocab_file=vocab)
  assert records["next_sentence_prediction"] is False
  settings = task_lib.RunSettings(
      output_dir=str(tmp_path / "out"), init_checkpoint=init,
      learning_rate=1e-3, num_train_steps=20, num_warmup_steps=2,
      max_eval_steps=3, train_batch_size=8, eval_batch_size=8)
  task = make_task(settings, config, records)
  est = task_lib.make_estimator(task, settings, estimator_lib.RunConfig(
      settings.output_dir, seed=2, iterations_per_loop=10))
  task.set_schedule(*task.training_schedule())
  est.train(task.train_input_fn(), max_steps=20)
  first = task.evaluate(est, task.eval_input())
  second = task.evaluate(est, task.eval_input())
  # No next-sentence keys; evaluation masks fixed by the seed.
  assert sorted(first) == MLM_KEYS
  assert first == second
  assert first["masked_lm_perplexity"] == pytest.approx(
      np.exp(first["masked_lm_loss"]), rel=1e-6)
  # The head and the pooler: in the checkpoint, untouched, not trained.
  saved = tf.train.load_checkpoint(est.latest_checkpoint())
  released = tf.train.load_checkpoint(init)
  untouched = ["cls/seq_relationship/output_weights",
               "cls/seq_relationship/output_bias",
               "bert/pooler/dense/kernel", "bert/pooler/dense/bias"]
  for name in untouched:
    np.testing.assert_array_equal(saved.get_tensor(name),
                                  released.get_tensor(name), name)
    assert not saved.has_tensor(name + "/adam_m")
  for name in ("bert/encoder/layer_0/output/dense/kernel",
               "cls/predictions/output_bias"):
    assert saved.has_tensor(name + "/adam_m")
    assert not np.array_equal(saved.get_tensor(name),
                              released.get_tensor(name))


def kill_and_resume_flags(output_dir, paths):
  """run_pretraining flags of the dynamic-masking resume test."""
  return ["--input_file=" + paths["train"],
          "--eval_input_file=" + paths["held_out"],
          "--vocab_file=" + paths["vocab"],
          "--bert_config_file=" + paths["config"],
          "--init_checkpoint=" + paths["init"],
          "--output_dir=" + output_dir, "--do_train", "--do_eval",
          "--train_batch_size=4", "--eval_batch_size=4",
          "--max_seq_length=%d" % SEQ, "--max_predictions_per_seq=%d" % PRED,
          "--num_train_steps=60", "--num_warmup_steps=10",
          "--learning_rate=1e-3", "--save_checkpoints_steps=10",
          "--iterations_per_loop=5", "--max_eval_steps=3", "--seed=7"]


def test_dynamic_masking_resumes_bit_for_bit_after_sigkill(tmp_path):
  """A run killed with SIGKILL and restarted ends with the weights of an
  uninterrupted one (masks keyed by seed and position, dropout by step);
  eval_results.txt has the masked-LM keys and the perplexity."""
  vocab = write_small_vocab(tmp_path / "vocab.txt")
  train, held_out = mlm_dynamic_records(tmp_path, vocab)
  config = small_config()
  init, _ = released_checkpoint(tmp_path, config)
  config_file = harness.write_config(tmp_path / "bert_config.json",
                                     **config.to_dict())
  paths = {"train": train, "held_out": held_out, "vocab": vocab,
           "config": config_file, "init": init}
  straight = str(tmp_path / "straight")
  harness.run_script("run_pretraining.py",
                     kill_and_resume_flags(straight, paths))
  results = harness.read_eval_results(os.path.join(straight,
                                                   "eval_results.txt"))
  assert list(results) == MLM_KEYS
  np.testing.assert_allclose(float(results["masked_lm_perplexity"]),
                             np.exp(float(results["masked_lm_loss"])),
                             rtol=1e-6)

  killed = str(tmp_path / "killed")
  interrupted_at = harness.kill_at_first_checkpoint(
      "run_pretraining.py", kill_and_resume_flags(killed, paths), killed)
  assert not interrupted_at.endswith("-60"), "the run was not interrupted"
  out = harness.run_script("run_pretraining.py",
                           kill_and_resume_flags(killed, paths))
  assert "Restoring from " + interrupted_at in out
  a = tf.train.load_checkpoint(os.path.join(straight, "model.ckpt-60"))
  b = tf.train.load_checkpoint(os.path.join(killed, "model.ckpt-60"))
  names = sorted(a.get_variable_to_shape_map())
  assert names == sorted(b.get_variable_to_shape_map())
  for name in names:
    np.testing.assert_array_equal(b.get_tensor(name), a.get_tensor(name),
                                  err_msg=name)
  assert harness.read_eval_results(os.path.join(
      killed, "eval_results.txt")) == results


# ------------------------------------------------------- vocabulary growth

BASE_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "un",
               "##able", "play", "##s", "dog", "##gy", "a", "b"]
# New tokens, and their pieces under BASE_TOKENS ([] = [UNK]: all old rows).
NEW_TOKENS = {"unable": ["un", "##able"], "plays": ["play", "##s"],
              "doggy": ["dog", "##gy"], "zzz": [], "##ing": []}


def grown_setup(tmp_path):
  """A checkpoint over BASE_TOKENS and the grown vocabulary file."""
  base_config = small_config(len(BASE_TOKENS))
  init, base_model = released_checkpoint(tmp_path, base_config)
  vocab_file = str(tmp_path / "grown_vocab.txt")
  with open(vocab_file, "w") as f:
    f.write("\n".join(BASE_TOKENS + list(NEW_TOKENS)) + "\n")
  return init, base_model, vocab_file


def expected_rows(old, tokens=NEW_TOKENS):
  """The documented new rows, computed in float64."""
  old = old.astype(np.float64)
  rows = [old[[BASE_TOKENS.index(p) for p in pieces]].mean(0) if pieces
          else old.mean(0) for pieces in tokens.values()]
  return np.concatenate([old, np.stack(rows)])


@pytest.mark.parametrize("with_vocab", [True, False])
def test_grown_vocabulary_keeps_old_rows_and_starts_new_ones_as_means(
    tmp_path, caplog, with_vocab):
  init, base_model, vocab_file = grown_setup(tmp_path)
  size = len(BASE_TOKENS) + len(NEW_TOKENS)
  task = pretraining.PretrainingTask(
      task_lib.RunSettings(), encoders.EncoderSpec.from_config(
          small_config(size)), vocab_file=vocab_file if with_vocab else None)
  model = task.create_model({})
  with caplog.at_level(logging.INFO, logger="absl"):
    result = task.warm_start(model, init)
  assert "Vocabulary grown from 14 to 19 ids" in caplog.text
  old_table = base_model.encoder.get_embedding_table().numpy()
  old_bias = base_model.masked_lm.output_bias.numpy()
  table = model.encoder.get_embedding_table().numpy()
  bias = model.masked_lm.output_bias.numpy()
  # Old rows bit for bit; new rows the mean of their pieces (or of all).
  np.testing.assert_array_equal(table[:14], old_table)
  np.testing.assert_array_equal(bias[:14], old_bias)
  tokens = NEW_TOKENS if with_vocab else {t: [] for t in NEW_TOKENS}
  np.testing.assert_allclose(table, expected_rows(old_table, tokens),
                             rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(bias, expected_rows(old_bias, tokens),
                             rtol=1e-6, atol=1e-7)
  # Everything else loaded as it is.
  old = {checkpoints.variable_name(v): v.numpy()
         for v in base_model.variables}
  for v in model.variables:
    name = checkpoints.variable_name(v)
    if v.shape[0] != size:
      np.testing.assert_array_equal(v.numpy(), old[name], name)
  assert not result.missing and not result.unused
  assert len(result.loaded) == len(model.variables)


def test_grown_vocabulary_trains_and_a_smaller_one_is_refused(tmp_path):
  init, _, vocab_file = grown_setup(tmp_path)
  records = str(tmp_path / "grown.tfrecord")
  cpd.run([SAMPLE], [records], vocab_file, max_seq_length=SEQ,
          max_predictions_per_seq=PRED, dupe_factor=1,
          next_sentence_prediction=False, log_examples=False,
          progress=False)
  config = small_config(19)
  settings = task_lib.RunSettings(
      output_dir=str(tmp_path / "out"), init_checkpoint=init,
      learning_rate=1e-3, num_train_steps=3, num_warmup_steps=1,
      train_batch_size=4, do_train=True)
  task = make_task(settings, config, pretraining_data.prepare_records(
      records, None, SEQ, PRED, 19), vocab_file)
  estimator = task_lib.run(task, settings, estimator_lib.RunConfig(
      settings.output_dir, seed=1))
  reader = tf.train.load_checkpoint(estimator.latest_checkpoint())
  assert reader.get_variable_to_shape_map()[
      "bert/embeddings/word_embeddings"] == [19, 32]
  # A vocabulary cannot shrink.
  smaller = pretraining.PretrainingTask(
      task_lib.RunSettings(), encoders.EncoderSpec.from_config(
          small_config(10)))
  with pytest.raises(validation.UsageError,
                     match=r"--init_checkpoint=.*bert_model.ckpt: its "
                     r"bert/embeddings/word_embeddings has 14 rows but the "
                     r"model config's vocab_size is 10"):
    smaller.warm_start(smaller.create_model({}), init)


def test_filled_vocabulary_loads_the_released_checkpoint(tmp_path, caplog):
  """learn_vocab --fill_unused_from keeps every id: the released checkpoint
  loads whole (no growth), and training runs on the domain records."""
  base = harness.google_model_dir(tmp_path / "released")
  with open(SAMPLE, encoding="utf-8") as f:
    text = f.read()
  counts = learn_vocab.count_words([text], True, num_workers=1)
  lines, stats = learn_vocab.adapt_vocab(counts, [], base["vocab_file"],
                                         False, None, True, 1)
  assert stats["added"] > 0 and len(lines) == 30522
  filled = str(tmp_path / "filled_vocab.txt")
  learn_vocab.write_lines(filled, lines)
  train, held_out = mlm_dynamic_records(tmp_path, filled)
  config = harness.tiny_config()
  settings = task_lib.RunSettings(
      output_dir=str(tmp_path / "out"),
      init_checkpoint=base["init_checkpoint"], learning_rate=1e-3,
      num_train_steps=2, num_warmup_steps=1, train_batch_size=4,
      eval_batch_size=4, max_eval_steps=2, do_train=True, do_eval=True)
  task = make_task(settings, config, pretraining_data.prepare_records(
      train, held_out, SEQ, PRED, config.vocab_size, True, True,
      vocab_file=filled), filled)
  with caplog.at_level(logging.INFO, logger="absl"):
    estimator = task_lib.run(task, settings, estimator_lib.RunConfig(
        settings.output_dir, seed=1))
  assert "Vocabulary grown" not in caplog.text
  encoder_names = encoders.get_family("bert").variable_names(config)
  result = task.warm_start(task.create_model({}), base["init_checkpoint"])
  assert set(encoder_names) <= set(result.loaded)
  results = harness.read_eval_results(os.path.join(settings.output_dir,
                                                   "eval_results.txt"))
  assert list(results) == MLM_KEYS and results["global_step"] == "2"
  assert estimator.latest_checkpoint().endswith("model.ckpt-2")
