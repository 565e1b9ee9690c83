# coding=utf-8
"""Tests of albert/run_pretraining.py: the shared pre-training task with the
"albert" family against ALBERT's own heads (reference checkpoints), training
on albert.create_pretraining_data records, resume, ALBERT's flags and
eval_results.txt keys, the checkpoint in ALBERT's names, init_from_group0
and the refused start_warmup_step / masked_lm_budget."""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert import create_pretraining_data as albert_data
from albert import modeling as albert_modeling
from albert import run_pretraining as albert_pretraining
from conftest import fixture_path
from conftest import ROOT
import checkpoints
import encoders
import estimator_lib
import harness
import task_lib
from tasks import pretraining
import validation

SAMPLE = fixture_path("pretraining_data", "sample_text.txt")
SPM = fixture_path("albert", "spm_tiny.model")
SEQ, PRED = 64, 10
TOL = dict(atol=1e-5, rtol=1e-5)
ALBERT_KEYS = ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
               "masked_lm_perplexity", "sentence_order_accuracy",
               "sentence_order_loss"]
# ALBERT's run_pretraining flags and defaults (google-research/albert
# b772393), plus the TPU flags the shared runtime defines the same way.
ALBERT_DEFAULTS = {
    "albert_config_file": None, "input_file": None, "output_dir": None,
    "init_checkpoint": None, "max_seq_length": 512,
    "max_predictions_per_seq": 20, "do_train": True, "do_eval": False,
    "train_batch_size": 4096, "eval_batch_size": 64, "optimizer": "lamb",
    "learning_rate": 0.00176, "poly_power": 1.0, "num_train_steps": 125000,
    "num_warmup_steps": 3125, "start_warmup_step": 0,
    "save_checkpoints_steps": 5000, "keep_checkpoint_max": 5,
    "iterations_per_loop": 1000, "max_eval_steps": 100, "use_tpu": False,
    "init_from_group0": False, "tpu_name": None, "tpu_zone": None,
    "gcp_project": None, "master": None, "num_tpu_cores": 8,
    "masked_lm_budget": 0,
}


def albert_task(config, **kwargs):
  """The task albert/run_pretraining.py builds (sentence-order names)."""
  return pretraining.PretrainingTask(
      kwargs.pop("settings", task_lib.RunSettings()),
      encoders.EncoderSpec.from_config(config),
      relation_name=pretraining.SENTENCE_ORDER, **kwargs)


@pytest.mark.parametrize("name", harness.ALBERT_MODELS)
def test_task_losses_match_albert_heads(name):
  """MLM + SOP of ALBERT's reference models through the task (its model,
  train_loss and metrics) within 1e-5 of ALBERT's own heads."""
  config = albert_modeling.AlbertConfig.from_json_file(
      harness.albert_fixture(name, "albert_config.json"))
  task = albert_task(config)
  model = task.create_model({})
  result = task.warm_start(model, harness.albert_fixture(
      name, "model.ckpt-best"))
  assert not result.missing
  exp = harness.albert_reference(name)
  features = {k: tf.constant(exp[k]) for k in (
      "input_ids", "input_mask", "segment_ids", "masked_lm_positions",
      "masked_lm_ids", "masked_lm_weights")}
  features["next_sentence_labels"] = tf.constant(
      exp["sentence_order_labels"][:, None])
  out = model(features, training=False)
  for ours, albert in (("masked_lm_log_probs", "masked_lm_log_probs"),
                       ("masked_lm_example_loss", "masked_lm_example_loss"),
                       ("masked_lm_loss", "masked_lm_loss"),
                       ("next_sentence_log_probs", "sentence_order_log_probs"),
                       ("next_sentence_example_loss",
                        "sentence_order_example_loss"),
                       ("next_sentence_loss", "sentence_order_loss")):
    np.testing.assert_allclose(out[ours], exp[albert], err_msg=ours, **TOL)
  loss = task.train_loss(model, features, {"mode": "eval"})
  np.testing.assert_allclose(loss, exp["total_pretraining_loss"], **TOL)
  metrics = {k: float(s / c) for k, (s, c) in
             task.eval_metrics(model, features, {}).items()}
  assert sorted(metrics) == ["masked_lm_accuracy", "masked_lm_loss",
                             "sentence_order_accuracy", "sentence_order_loss"]
  np.testing.assert_allclose(metrics["sentence_order_loss"],
                             exp["sentence_order_loss"], **TOL)
  np.testing.assert_allclose(metrics["masked_lm_loss"],
                             exp["masked_lm_loss"], **TOL)


def test_init_from_group0_starts_every_group_from_group_0(tmp_path):
  """--init_from_group0: a one-group checkpoint fills every group."""
  config = harness.tiny_albert_config(num_hidden_groups=2,
                                      num_hidden_layers=2)
  one_group = albert_modeling.AlbertModel(harness.tiny_albert_config())
  prefix = harness.save_checkpoint(one_group, tmp_path)
  task = albert_task(config, restore_fn=functools.partial(
      albert_modeling.init_from_checkpoint,
      num_of_group=albert_pretraining.init_groups(config, True)))
  model = task.create_model({})
  task.warm_start(model, prefix)
  values = {checkpoints.variable_name(v): v.numpy() for v in model.variables}
  kernel = "bert/encoder/transformer/group_%d/inner_group_0/ffn_1/" \
           "intermediate/dense/kernel"
  np.testing.assert_array_equal(values[kernel % 1], values[kernel % 0])
  np.testing.assert_array_equal(
      values[kernel % 0], tf.train.load_checkpoint(prefix).get_tensor(
          kernel % 0))
  assert albert_pretraining.init_groups(config, False) == 1


@pytest.fixture(scope="module")
def albert_records(tmp_path_factory):
  """SOP records of sample_text by albert.create_pretraining_data."""
  directory = tmp_path_factory.mktemp("albert_records")
  output = str(directory / "sop.tfrecord")
  albert_data.run([SAMPLE], [output], None, SPM, max_seq_length=SEQ,
                  max_predictions_per_seq=PRED, dupe_factor=3,
                  log_examples=False, progress=False)
  config = str(directory / "albert_config.json")
  with open(config, "w") as f:
    json.dump(dict(harness.TINY_ALBERT_CONFIG, vocab_size=1000,
                   hidden_size=32, embedding_size=16, intermediate_size=48,
                   max_position_embeddings=64, hidden_dropout_prob=0.1,
                   attention_probs_dropout_prob=0.1), f)
  return {"records": output, "config": config}


def albert_estimator(model_dir, config, steps):
  """ALBERT's model_fn_builder (LAMB) in the shared loop, seeded as a run
  with --seed=5 (the initial weights too)."""
  estimator_lib.set_seed(5)
  model_fn = albert_pretraining.model_fn_builder(
      config, None, learning_rate=2e-2, num_train_steps=steps,
      num_warmup_steps=2, use_tpu=False, use_one_hot_embeddings=False,
      optimizer="lamb", poly_power=1.0, start_warmup_step=0)
  return estimator_lib.Estimator(
      model_fn, estimator_lib.RunConfig(model_dir, seed=5,
                                        iterations_per_loop=10,
                                        save_checkpoints_steps=10),
      train_batch_size=8, eval_batch_size=8)


def test_loss_falls_and_a_restart_resumes_exactly(tmp_path, albert_records):
  config = albert_modeling.AlbertConfig.from_json_file(
      albert_records["config"])
  train_fn = albert_pretraining.input_fn_builder(
      [albert_records["records"]], SEQ, PRED, True)
  eval_fn = albert_pretraining.input_fn_builder(
      [albert_records["records"]], SEQ, PRED, False)
  straight = albert_estimator(str(tmp_path / "straight"), config, 40)
  before = straight.evaluate(eval_fn, steps=4, allow_initial_weights=True)
  straight.train(train_fn, max_steps=40)
  after = straight.evaluate(eval_fn, steps=4)
  assert type(straight._optimizer).__name__ == "LAMBOptimizer"
  assert before["masked_lm_loss"] > 6.5  # ~ln(1000) = 6.9 at the start
  assert after["masked_lm_loss"] < before["masked_lm_loss"] - 1.0
  assert after["loss"] < before["loss"] - 1.0
  # Stopped at step 20, then a new loop (as after a restart) to 40.
  stopped = str(tmp_path / "stopped")
  albert_estimator(stopped, config, 40).train(train_fn, max_steps=20)
  albert_estimator(stopped, config, 40).train(train_fn, max_steps=40)
  a = tf.train.load_checkpoint(straight.latest_checkpoint())
  b = tf.train.load_checkpoint(os.path.join(stopped, "model.ckpt-40"))
  for name in a.get_variable_to_shape_map():
    np.testing.assert_array_equal(b.get_tensor(name), a.get_tensor(name),
                                  err_msg=name)


def run_module(args):
  """`python -m albert.run_pretraining args`; returns (returncode, output)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run([sys.executable, "-m", "albert.run_pretraining"] +
                        args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=300)
  return proc.returncode, proc.stdout.decode("utf-8", "replace")


def test_command_line_writes_albert_results_and_names(tmp_path,
                                                      albert_records):
  output_dir = str(tmp_path / "out")
  code, out = run_module([
      "--input_file=" + albert_records["records"],
      "--albert_config_file=" + albert_records["config"],
      "--output_dir=" + output_dir, "--do_eval", "--max_seq_length=64",
      "--max_predictions_per_seq=10", "--train_batch_size=8",
      "--eval_batch_size=8", "--num_train_steps=20", "--num_warmup_steps=2",
      "--save_checkpoints_steps=10", "--iterations_per_loop=10",
      "--max_eval_steps=3", "--learning_rate=1e-2", "--seed=3"])
  assert code == 0, out[-3000:]
  results = harness.read_eval_results(os.path.join(output_dir,
                                                   "eval_results.txt"))
  assert list(results) == ALBERT_KEYS and results["global_step"] == "20"
  # The evaluated checkpoint is copied to model.ckpt-best, as ALBERT's.
  best = os.path.join(output_dir, "model.ckpt-best")
  assert "saved %s-20.index to %s.index" % (best[:-5], best) in out
  # ALBERT's names: the model, its two heads, LAMB's slots, global_step.
  config = albert_modeling.AlbertConfig.from_json_file(
      albert_records["config"])
  model_names = set(albert_modeling.albert_variable_names(config)) | {
      "cls/predictions/transform/dense/kernel",
      "cls/predictions/transform/dense/bias",
      "cls/predictions/transform/LayerNorm/beta",
      "cls/predictions/transform/LayerNorm/gamma",
      "cls/predictions/output_bias", "cls/seq_relationship/output_weights",
      "cls/seq_relationship/output_bias"}
  saved = set(tf.train.load_checkpoint(best).get_variable_to_shape_map())
  assert saved == model_names | {"global_step"} | {
      n + slot for n in model_names for slot in ("/adam_m", "/adam_v")}
  model = albert_modeling.AlbertModel(config)
  result = albert_modeling.init_from_checkpoint(model, best)
  assert not result.missing


def test_flags_are_albert_and_bad_ones_are_refused(tmp_path, albert_records):
  script = ("import json\nfrom albert import run_pretraining as r\n"
            "print(json.dumps({n: r.FLAGS[n].default for n in %r}))" %
            sorted(ALBERT_DEFAULTS))
  proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert json.loads(proc.stdout.decode().splitlines()[-1]) == ALBERT_DEFAULTS
  # Refused before any work (in this process: nothing else runs).
  with pytest.raises(validation.UsageError,
                     match=r"--masked_lm_budget=0.2: masking in the input "
                     r"pipeline by a budget is not implemented"):
    harness.run_main(
        albert_pretraining.main, input_file=albert_records["records"],
        albert_config_file=albert_records["config"],
        output_dir=str(tmp_path / "out"), masked_lm_budget=0.2,
        do_train=True)


def test_start_warmup_step_after_the_start_is_refused(tmp_path):
  output_dir = str(tmp_path / "out")
  settings = task_lib.RunSettings(output_dir=output_dir, num_train_steps=20,
                                  num_warmup_steps=5)
  task = albert_task(harness.tiny_albert_config(), settings=settings,
                     start_warmup_step=6)
  with pytest.raises(validation.UsageError,
                     match=r"--start_warmup_step=6: training would start at "
                     r"global step 0 .* ALBERT's learning rate is negative"):
    task.training_schedule()
  # Resuming from step 6 or later (ALBERT's use of it) is fine.
  os.makedirs(output_dir)
  manager = checkpoints.CheckpointManager(output_dir)
  manager.save({"global_step": tf.Variable(6, dtype=tf.int64)}, 6)
  assert task.training_schedule() == (20, 5)
