"""Tests of optimization.py against the outputs of Google's optimization.py.

Fixtures in tests/fixtures/optimization/ were produced by running Google's
original code (google-research/bert eedf571) on TF 2.21; see
tests/fixtures/README.md.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, fixture_path
import optimization

NUM_STEPS = 10


def _load(name):
  return np.load(fixture_path("optimization", name))


def _problem():
  with open(fixture_path("optimization", "problem.json")) as f:
    return json.load(f)


def _make_variables(problem, npz):
  """The nine variables of the golden problem, named as in Google's run."""
  return [
      tf.Variable(npz["init." + spec["npz_key"]], name=spec["name"])
      for spec in problem["variables"]
  ]


def _golden_loss(variables, npz):
  """Rebuilds problem.json's quadratic loss (same op order as Google's)."""
  d = {k: tf.constant(npz["data." + k]) for k in
       ("X", "Y", "U", "V", "Q", "Hd", "T", "s", "R")}
  (kernel, bias, gamma, beta, scale, weights, output_bias, debias,
   plain) = variables
  rs = lambda x: tf.reduce_sum(tf.square(x))
  total = (rs(tf.matmul(d["X"], kernel) + bias - d["Y"]) +
           rs(gamma * d["U"] + beta - d["V"]) + rs(scale - d["Q"]) +
           rs(tf.matmul(d["Hd"], weights) + output_bias - d["T"]) +
           tf.square(debias - d["s"]) + rs(plain - d["R"]))
  return 0.03125 * total


def _google_optimizer(problem, learning_rate):
  hp = problem["optimizer"]
  return optimization.AdamWeightDecayOptimizer(
      learning_rate=learning_rate,
      weight_decay_rate=hp["weight_decay_rate"],
      beta_1=hp["beta_1"],
      beta_2=hp["beta_2"],
      epsilon=hp["epsilon"],
      exclude_from_weight_decay=hp["exclude_from_weight_decay"])


def _assert_state(problem, npz, variables, opt, step, rtol, atol):
  """Variables and slots after `step` equal the recorded ones."""
  for spec, var in zip(problem["variables"], variables):
    key = spec["npz_key"]
    for what, actual in (("values", var), ("adam_m", opt.get_slot(var, "adam_m")),
                         ("adam_v", opt.get_slot(var, "adam_v"))):
      np.testing.assert_allclose(
          actual.numpy(), npz["%s.%s" % (what, key)][step], rtol=rtol,
          atol=atol, err_msg="%s of %s after step %d" % (what, spec["name"], step))


@pytest.mark.parametrize("npz_name", ["expected.npz",
                                      "expected_lr_pre_increment.npz"])
def test_step_in_isolation_matches_google(npz_name):
  """Recorded (clipped grads, learning rate) in -> recorded values and slots."""
  problem, npz = _problem(), _load(npz_name)
  variables = _make_variables(problem, npz)
  opt = _google_optimizer(problem, learning_rate=None)
  for step in range(NUM_STEPS):
    grads = [tf.constant(npz["grads." + s["npz_key"]][step])
             for s in problem["variables"]]
    opt.apply_gradients(zip(grads, variables),
                        learning_rate=npz["learning_rate"][step])
    _assert_state(problem, npz, variables, opt, step, rtol=1e-6, atol=1e-7)


def test_slot_names_are_googles():
  problem, npz = _problem(), _load("expected.npz")
  variables = _make_variables(problem, npz)
  opt = _google_optimizer(problem, 0.1)
  opt.create_slots(variables)
  names = [optimization.get_variable_name(s.name) for s in opt.slot_variables()]
  assert names == [n for spec in problem["variables"]
                   for n in spec["slot_names"]]
  assert all(not s.trainable for s in opt.slot_variables())


def test_weight_decay_exclusions_use_re_search():
  problem = _problem()
  opt = _google_optimizer(problem, 0.1)
  for spec in problem["variables"]:
    assert opt._do_use_weight_decay(spec["name"]) == spec["weight_decay"], spec
  # Google's constructor default: no weight decay at all.
  assert not optimization.AdamWeightDecayOptimizer(0.1)._do_use_weight_decay(
      "dense/kernel")


def test_clipping_matches_google():
  problem, npz = _problem(), _load("expected.npz")
  keys = [s["npz_key"] for s in problem["variables"]]
  for step in range(NUM_STEPS):
    raw = [tf.constant(npz["raw_grads." + k][step]) for k in keys]
    clipped = optimization.clip_by_global_norm(raw, 1.0)
    for k, c in zip(keys, clipped):
      np.testing.assert_array_equal(c.numpy(), npz["grads." + k][step])
  assert list(npz["clipped"]) == [True, True, False, False, True, False, False,
                                  False, False, False]


def test_schedule_matches_google():
  with open(fixture_path("optimization", "schedule.json")) as f:
    ref = json.load(f)
  schedule = optimization.learning_rate_schedule(
      ref["init_lr"], ref["num_train_steps"], ref["num_warmup_steps"])
  got = np.array([schedule(s).numpy() for s in ref["global_steps"]])
  assert got.dtype == np.float32
  # Plain float32 ops reproduce Google's graph evaluated op by op exactly ...
  np.testing.assert_array_equal(
      got, np.array(ref["learning_rate_op_by_op"], np.float32))
  # ... and the grappler-rewritten default run within its 6e-5 rounding.
  np.testing.assert_allclose(got, ref["learning_rate"], rtol=1e-4, atol=0)
  # An int64 variable (the global step) works as the argument too.
  np.testing.assert_array_equal(
      schedule(tf.Variable(100, dtype=tf.int64)).numpy(), got[4])


def test_schedule_without_warmup_is_linear_decay():
  schedule = optimization.learning_rate_schedule(1.0, 4, 0)
  got = [float(schedule(s)) for s in range(6)]
  assert got == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def _run_end_to_end(problem, npz, optimizer_name="adamw"):
  """Google's create_optimizer call, 10 steps; returns (variables, opt, lrs)."""
  variables = _make_variables(problem, npz)
  global_step = optimization.create_global_step()
  opt = optimization.create_optimizer(
      None, init_lr=0.1, num_train_steps=NUM_STEPS, num_warmup_steps=3,
      use_tpu=False, optimizer=optimizer_name)
  opt.create_slots(variables)

  @tf.function
  def train_step():
    with tf.GradientTape() as tape:
      loss = _golden_loss(variables, npz)
    grads = tape.gradient(loss, variables)
    return opt.apply_step(grads, variables, global_step), loss

  learning_rates = []
  for step in range(NUM_STEPS):
    assert int(global_step.numpy()) == step
    lr, loss = train_step()
    learning_rates.append(lr.numpy())
    np.testing.assert_allclose(loss.numpy(), npz["loss"][step], rtol=1e-5)
    _assert_state(problem, npz, variables, opt, step, rtol=1e-5, atol=1e-6)
  assert int(global_step.numpy()) == NUM_STEPS
  return variables, opt, np.array(learning_rates)


def test_end_to_end_matches_google_pre_increment():
  """Gradient, clipping, schedule lr(global_step) and update, 10 steps."""
  problem, npz = _problem(), _load("expected_lr_pre_increment.npz")
  _, _, learning_rates = _run_end_to_end(problem, npz)
  np.testing.assert_allclose(learning_rates, npz["learning_rate"], rtol=1e-6)
  np.testing.assert_array_equal(npz["global_step_after"],
                                npz["global_step_before"] + 1)


def test_google_optimization_test_golden_regression():
  """BEHAVIOUR.md 7.3: Google's optimization_test.py, 100 steps."""
  w = tf.Variable([0.1, -0.2, -0.1], name="w")
  x = tf.constant([0.4, 0.2, -0.5])
  opt = optimization.AdamWeightDecayOptimizer(learning_rate=0.2)
  for _ in range(100):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(x - w))
    grads = tape.gradient(loss, [w])
    opt.apply_gradients(zip(grads, [w]))
  np.testing.assert_allclose(w.numpy(), x.numpy(), rtol=1e-2, atol=1e-2)
  np.testing.assert_allclose(w.numpy(), [0.401646, 0.197824, -0.497824],
                             atol=1e-6)


def test_create_optimizer_rejects_unknown_optimizer():
  with pytest.raises(ValueError, match="optimizer"):
    optimization.create_optimizer(None, 1e-4, 10, 1, False, optimizer="sgd")
