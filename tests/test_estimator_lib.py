# coding=utf-8
"""Tests of estimator_lib.py: the shared train / evaluate / predict loop.

The model is a linear regression (tests/loop_worker.py); the expected weights
come from an independent float64 NumPy re-derivation of Google's update (Adam
without bias correction, weight decay except on biases, clipping at global
norm 1.0, linear warmup and decay, rate taken at the step before its increment).
"""

import json
import os
import socket
import subprocess
import sys

from absl import logging
import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import estimator_lib
import loop_worker

from tensorflow.core.util import event_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "loop_worker.py")


def google_schedule(step):
  """Google's learning rate at `step` (warmup, then decay from step 0)."""
  if step < loop_worker.NUM_WARMUP_STEPS:
    return loop_worker.INIT_LR * step / loop_worker.NUM_WARMUP_STEPS
  total = loop_worker.NUM_TRAIN_STEPS
  return loop_worker.INIT_LR * (1.0 - min(step, total) / total)


def numpy_reference(steps, batch_size=8):
  """Kernel [4] and bias after `steps` of Google's update, in float64."""
  x, y, _ = loop_worker.data()
  x, y = x.astype(np.float64), y.astype(np.float64)
  w = np.full([4], 0.5)
  b = np.zeros([1])
  state = {"w": (np.zeros(4), np.zeros(4)), "b": (np.zeros(1), np.zeros(1))}
  for k in range(steps):
    start = (k * batch_size) % len(x)
    xb, yb = x[start:start + batch_size], y[start:start + batch_size]
    err = xb @ w + b[0] - yb
    grads = {"w": 2 * xb.T @ err / len(xb), "b": np.array([2 * err.mean()])}
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    scale = 1.0 / max(norm, 1.0)
    lr = google_schedule(k)
    params = {"w": w, "b": b}
    for name in ("w", "b"):
      g = grads[name] * scale
      m, v = state[name]
      m = 0.9 * m + 0.1 * g
      v = 0.999 * v + 0.001 * g * g
      update = m / (np.sqrt(v) + 1e-6)
      if name == "w":  # "dense/bias" matches the "bias" exclusion.
        update = update + 0.01 * params[name]
      params[name] = params[name] - lr * update
      state[name] = (m, v)
    w, b = params["w"], params["b"]
  return w, b


def make_estimator(model_dir, unreached=False, **config_kwargs):
  kwargs = dict(iterations_per_loop=3, save_checkpoints_steps=4, seed=1)
  kwargs.update(config_kwargs)
  config = estimator_lib.RunConfig(str(model_dir), **kwargs)
  return estimator_lib.Estimator(loop_worker.make_model_fn(unreached), config,
                                 train_batch_size=8, eval_batch_size=8,
                                 predict_batch_size=6)


def weights(estimator):
  return (estimator.model.kernel.numpy()[:, 0], estimator.model.bias.numpy())


def test_train_matches_numpy_reference(tmp_path):
  est = make_estimator(tmp_path)
  est.train(loop_worker.input_fn, max_steps=10)
  w, b = numpy_reference(10)
  np.testing.assert_allclose(weights(est)[0], w, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(weights(est)[1], b, rtol=1e-5, atol=1e-6)
  # The first step runs with lr(0) = 0 and must not move the weights.
  w1, _ = numpy_reference(1)
  np.testing.assert_array_equal(w1, np.full([4], 0.5))


def test_gradient_accumulation_equals_full_batch(tmp_path):
  est = make_estimator(tmp_path, gradient_accumulation_steps=4)
  est.train(loop_worker.input_fn, max_steps=7)
  w, b = numpy_reference(7)
  np.testing.assert_allclose(weights(est)[0], w, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(weights(est)[1], b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("accum", [1, 2])
def test_variable_no_loss_reaches_is_left_untouched(tmp_path, accum):
  """As Google's AdamWeightDecayOptimizer skips a None gradient (SQuAD's
  pooler), a variable outside the loss gets no weight decay, and the others
  train exactly as without it."""
  est = make_estimator(tmp_path, unreached=True,
                       gradient_accumulation_steps=accum)
  est.train(loop_worker.input_fn, max_steps=6)
  np.testing.assert_array_equal(est.model.unreached.numpy(), [1.0, 1.0])
  plain = make_estimator(tmp_path / "plain", gradient_accumulation_steps=accum)
  plain.train(loop_worker.input_fn, max_steps=6)
  np.testing.assert_array_equal(weights(est)[0], weights(plain)[0])
  np.testing.assert_array_equal(weights(est)[1], weights(plain)[1])


def test_checkpoints_resume_and_names(tmp_path):
  # 6 steps, then a new estimator (a restarted job) continues to 10.
  first = make_estimator(tmp_path / "resumed", keep_checkpoint_max=2)
  first.train(loop_worker.input_fn, max_steps=6)
  second = make_estimator(tmp_path / "resumed", keep_checkpoint_max=2)
  second.train(loop_worker.input_fn, max_steps=10)
  w, b = numpy_reference(10)
  np.testing.assert_allclose(weights(second)[0], w, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(weights(second)[1], b, rtol=1e-5, atol=1e-6)

  model_dir = str(tmp_path / "resumed")
  latest = tf.train.latest_checkpoint(model_dir)
  assert os.path.basename(latest) == "model.ckpt-10"
  names = dict(tf.train.list_variables(latest))
  assert names == {
      "dense/kernel": [4, 1], "dense/bias": [1],
      "dense/kernel/adam_m": [4, 1], "dense/kernel/adam_v": [4, 1],
      "dense/bias/adam_m": [1], "dense/bias/adam_v": [1], "global_step": []}
  assert tf.train.load_checkpoint(latest).get_tensor("global_step") == 10
  # Saves at 4 and 8 (save_checkpoints_steps) and at the end; keeps 2.
  kept = sorted(f for f in os.listdir(model_dir) if f.endswith(".index"))
  assert kept == ["model.ckpt-10.index", "model.ckpt-8.index"]


def test_relative_model_dir_resumes_and_evaluates(tmp_path, monkeypatch):
  """model_dir relative to the working directory, as in most shell scripts:
  a restarted job resumes and evaluation finds the newest checkpoint."""
  monkeypatch.chdir(tmp_path)
  make_estimator("out").train(loop_worker.input_fn, max_steps=6)
  second = make_estimator("out")
  second.train(loop_worker.input_fn, max_steps=10)
  w, b = numpy_reference(10)
  np.testing.assert_allclose(weights(second)[0], w, rtol=1e-5, atol=1e-6)
  result = make_estimator("out").evaluate(loop_worker.input_fn)
  assert result["global_step"] == 10


def test_warm_start_loads_weights_only(tmp_path, caplog):
  source = make_estimator(tmp_path / "source")
  source.train(loop_worker.input_fn, max_steps=10)
  prefix = tf.train.latest_checkpoint(str(tmp_path / "source"))

  model_fn = loop_worker.make_model_fn()
  config = estimator_lib.RunConfig(str(tmp_path / "target"),
                                   iterations_per_loop=1)
  est = estimator_lib.Estimator(model_fn, config, train_batch_size=8,
                                warm_start_from=prefix)
  logging.set_verbosity(logging.INFO)
  with caplog.at_level("INFO"):
    est.train(loop_worker.input_fn, max_steps=1)
  # Step 0 has lr 0: the weights are the checkpoint's, the step and the
  # Adam slots start fresh (the slots after one step hold 0.1 * g only).
  reader = tf.train.load_checkpoint(prefix)
  np.testing.assert_array_equal(est.model.kernel.numpy(),
                                reader.get_tensor("dense/kernel"))
  assert int(est._global_step.numpy()) == 1
  m = est._optimizer.get_slot(est.model.kernel, "adam_m").numpy()
  v = est._optimizer.get_slot(est.model.kernel, "adam_v").numpy()
  assert np.all(m != 0)
  np.testing.assert_allclose(v, 0.1 * m * m, rtol=1e-5)
  assert "name = dense/kernel, shape = [4, 1], *INIT_FROM_CKPT*" in caplog.text


def test_evaluate_and_predict(tmp_path):
  est = make_estimator(tmp_path)
  est.train(loop_worker.input_fn, max_steps=10)
  x, y, ids = loop_worker.data()
  w, b = weights(est)
  err = (x @ w + b[0] - y) ** 2
  result = est.evaluate(loop_worker.input_fn)
  assert result["global_step"] == 10
  assert result["batch_size"] == 8  # sum over batches / number of batches
  np.testing.assert_allclose(result["mse"], err.mean(), rtol=1e-5)
  np.testing.assert_allclose(result["loss"], err.mean(), rtol=1e-5)
  eval_tags = read_scalar_tags(str(tmp_path / "eval"))
  assert eval_tags["mse"] == [(10, pytest.approx(err.mean(), rel=1e-5))]
  two = est.evaluate(loop_worker.input_fn, steps=2)
  np.testing.assert_allclose(two["mse"], err[:16].mean(), rtol=1e-5)

  # 64 examples in batches of 6: the last batch is partial; order is kept.
  preds = list(est.predict(loop_worker.input_fn))
  assert [int(p["id"]) for p in preds] == list(ids)
  np.testing.assert_allclose([p["y"] for p in preds], x @ w + b[0],
                             rtol=1e-5, atol=1e-6)


def read_scalar_tags(model_dir):
  tags = {}
  for name in os.listdir(model_dir):
    if not name.startswith("events.out.tfevents"):
      continue
    for raw in tf.data.TFRecordDataset(os.path.join(model_dir, name)):
      event = event_pb2.Event.FromString(raw.numpy())
      for value in event.summary.value:
        tags.setdefault(value.tag, []).append(
            (event.step, float(tf.make_ndarray(value.tensor))))
  return tags


def test_summaries_and_progress(tmp_path, caplog):
  est = make_estimator(tmp_path)
  logging.set_verbosity(logging.INFO)
  with caplog.at_level("INFO"):
    est.train(loop_worker.input_fn, max_steps=10)
  tags = read_scalar_tags(str(tmp_path))
  assert set(tags) == {"loss", "learning_rate", "global_step/sec",
                       "examples/sec"}
  # Loops end at steps 3, 4 (checkpoint), 7, 8 (checkpoint), 10.
  assert [s for s, _ in tags["learning_rate"]] == [3, 4, 7, 8, 10]
  # The rate reported is the one of the loop's last update (step before it).
  for step, lr in tags["learning_rate"]:
    assert lr == pytest.approx(google_schedule(step - 1), rel=1e-6)
  assert "ETA" in caplog.text and "examples/sec" in caplog.text


def test_write_eval_results_format(tmp_path):
  path = str(tmp_path / "eval_results.txt")
  estimator_lib.write_eval_results(path, {
      "loss": np.float32(0.0979674), "global_step": 20,
      "masked_lm_accuracy": np.float32(0.985479)})
  with open(path) as f:
    text = f.read()
  # Google: sorted keys, "%s = %s" of str(value), one per line.
  assert text == ("global_step = 20\nloss = 0.0979674\n"
                  "masked_lm_accuracy = 0.985479\n")
  assert os.listdir(str(tmp_path)) == ["eval_results.txt"]


def test_batch_size_must_divide(tmp_path):
  est = make_estimator(tmp_path, gradient_accumulation_steps=3)
  with pytest.raises(ValueError,
                     match="--train_batch_size=8: is not divisible"):
    est.train(loop_worker.input_fn, max_steps=1)


def run_worker(args, env=None, timeout=240):
  """Starts tests/loop_worker.py with `args`."""
  full_env = dict(os.environ)
  full_env.update(env or {})
  full_env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  return subprocess.Popen([sys.executable, WORKER] + args, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc, timeout=240):
  out, _ = proc.communicate(timeout=timeout)
  assert proc.returncode == 0, out.decode("utf-8", "replace")[-3000:]


def test_mirrored_two_cpus_equals_one_device(tmp_path):
  # Also a restart at step 5: the shared input pipeline skips 2 x 5 batches.
  out = str(tmp_path / "mirrored.npz")
  # A variable no loss reaches stays as it was (no all-reduce of a gradient
  # it does not have, no weight decay).
  finish(run_worker(["--cpus=2", "--distribution=mirrored", "--steps=10",
                     "--resume_at=5", "--model_dir=%s" % (tmp_path / "m"),
                     "--out=%s" % out, "--unreached"]))
  result = np.load(out)
  assert int(result["replicas"]) == 2
  np.testing.assert_array_equal(result["dense__unreached"], [1.0, 1.0])
  w, b = numpy_reference(10)
  np.testing.assert_allclose(result["dense__kernel"][:, 0], w, rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(result["dense__bias"], b, rtol=1e-5, atol=1e-6)


def free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_multi_worker_mirrored_two_processes(tmp_path):
  ports = [free_port(), free_port()]
  cluster = {"worker": ["localhost:%d" % p for p in ports]}
  procs = []
  for index in range(2):
    tf_config = json.dumps({"cluster": cluster,
                            "task": {"type": "worker", "index": index}})
    procs.append(run_worker(
        ["--distribution=multi_worker", "--steps=6", "--accum=2",
         "--model_dir=%s" % (tmp_path / "mw"),
         "--out=%s" % (tmp_path / ("w%d.npz" % index))],
        env={"TF_CONFIG": tf_config}))
  for proc in procs:
    finish(proc)
  w0, w1 = (np.load(str(tmp_path / ("w%d.npz" % i))) for i in range(2))
  assert int(w0["replicas"]) == 2
  np.testing.assert_array_equal(w0["dense__kernel"], w1["dense__kernel"])
  np.testing.assert_array_equal(w0["dense__bias"], w1["dense__bias"])
  w, b = numpy_reference(6)
  np.testing.assert_allclose(w0["dense__kernel"][:, 0], w, rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(w0["dense__bias"], b, rtol=1e-5, atol=1e-6)
  # Only the chief (worker 0) wrote checkpoints, readable by name.
  latest = tf.train.latest_checkpoint(str(tmp_path / "mw"))
  assert os.path.basename(latest) == "model.ckpt-6"
  np.testing.assert_array_equal(
      tf.train.load_checkpoint(latest).get_tensor("dense/kernel"),
      w0["dense__kernel"])



def test_finite_training_input_stops_and_saves(tmp_path):
  def one_epoch(params):
    # 64 examples, batch 8, no repeat: 8 steps, then the input ends.
    p = dict(params, mode="eval")
    return loop_worker.input_fn(p)

  est = make_estimator(tmp_path)
  est.train(one_epoch, max_steps=20)
  assert int(est._global_step.numpy()) == 8
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-8")
  w, b = numpy_reference(8)
  np.testing.assert_allclose(weights(est)[0], w, rtol=1e-5, atol=1e-6)


class FakeFlags(object):
  """Parsed flags as run_config_from_flags reads them (`in` and attributes)."""

  def __init__(self, **values):
    self.__dict__.update(values)

  def __contains__(self, name):
    return name in self.__dict__


def test_run_config_from_flags(tmp_path, monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  config = estimator_lib.run_config_from_flags(
      FakeFlags(precision="bfloat16", use_xla=True, seed=5,
                gradient_accumulation_steps=2, iterations_per_loop=7,
                save_checkpoints_steps=11, keep_checkpoint_max=0,
                distribution="auto", optimizer="lamb", use_tpu=False),
      str(tmp_path), iterations_per_loop=3)
  assert config.compute_dtype == tf.bfloat16 and config.use_xla
  assert (config.seed, config.gradient_accumulation_steps) == (5, 2)
  assert config.iterations_per_loop == 3  # the override wins
  assert (config.save_checkpoints_steps, config.keep_checkpoint_max) == (11, 0)
  assert config.optimizer == "lamb" and config.num_replicas == 1
  assert config.is_chief
  # A runner without the flags gets RunConfig's defaults.
  bare = estimator_lib.run_config_from_flags(FakeFlags(), str(tmp_path))
  assert (bare.iterations_per_loop, bare.precision, bare.seed) == (
      1000, "float32", None)


def test_strategy_errors(monkeypatch):
  monkeypatch.setenv("TF_CONFIG", "{not json")
  with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
    estimator_lib.make_strategy("auto")
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"worker": ["localhost:1"]},
       "task": {"type": "worker", "index": 0}}))
  # One task is not a cluster: the default strategy.
  assert estimator_lib.make_strategy("auto").num_replicas_in_sync == 1
  monkeypatch.delenv("TF_CONFIG")
  with pytest.raises(ValueError, match="needs the TF_CONFIG"):
    estimator_lib.make_strategy("multi_worker")
  with pytest.raises(ValueError,
                     match="--precision=float64: must be one of"):
    estimator_lib.RunConfig("/unused", precision="float64")


def test_model_dir_with_another_models_checkpoint_is_refused(tmp_path):
  other = {"some/other/kernel": tf.zeros([2]), "global_step": tf.constant(
      3, tf.int64)}
  checkpoints.CheckpointManager(str(tmp_path)).save(other, 3)
  est = make_estimator(tmp_path)
  with pytest.raises(ValueError, match=r"lacks 2 variables of this model "
                     r"\(dense/bias, dense/kernel\)"):
    est.train(loop_worker.input_fn, max_steps=5)
