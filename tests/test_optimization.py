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
import checkpoints
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
    for what, actual in (("values", var),
                         ("adam_m", opt.get_slot(var, "adam_m")),
                         ("adam_v", opt.get_slot(var, "adam_v"))):
      np.testing.assert_allclose(
          actual.numpy(), npz["%s.%s" % (what, key)][step], rtol=rtol,
          atol=atol,
          err_msg="%s of %s after step %d" % (what, spec["name"], step))


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
  names = [checkpoints.variable_name(s) for s in opt.slot_variables()]
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


def _run_adamw(fused, steps, in_function):
  """Variables and slots after `steps` (grads, lr) AdamW steps, as numpy."""
  rng = np.random.RandomState(1)
  shapes = {"layer/kernel": (37, 53), "layer/bias": (53,),
            "LayerNorm/gamma": (53,), "embeddings": (301, 8)}
  variables = [tf.Variable(rng.randn(*s).astype(np.float32) * 0.1, name=n)
               for n, s in shapes.items()]
  opt = optimization.AdamWeightDecayOptimizer(
      lambda step: 1e-2 / (1.0 + tf.cast(step, tf.float32)),
      weight_decay_rate=0.01, exclude_from_weight_decay=["LayerNorm", "bias"],
      fused_update=fused)
  opt.create_slots(variables)
  step_var = optimization.create_global_step()
  apply = lambda g: opt.apply_step(g, variables, step_var)
  if in_function:
    apply = tf.function(apply)
  for grads in steps:
    apply([tf.constant(g) for g in grads])
  return [x.numpy() for x in variables + opt.slot_variables()]


@pytest.mark.parametrize("in_function", [False, True])
def test_fused_update_is_bit_identical_to_op_by_op(in_function):
  """The XLA-fused update (clipping folded in) gives the op-by-op bits."""
  rng = np.random.RandomState(2)
  shapes = [(37, 53), (53,), (53,), (301, 8)]
  # Global norms far above and below clip_norm 1.0: clipped and unclipped.
  steps = [[rng.randn(*s).astype(np.float32) * scale for s in shapes]
           for scale in (1.0, 1e-3, 0.5, 1e-4)]
  fused = _run_adamw(True, steps, in_function)
  unfused = _run_adamw(False, steps, in_function)
  for a, b in zip(fused, unfused):
    np.testing.assert_array_equal(a, b)
  assert not np.array_equal(fused[0], _run_adamw(True, [], in_function)[0])


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


class _Trainer(object):
  """Google's create_optimizer call on the golden problem, fresh state.

  `optimizer` replaces Google's (e.g. ALBERT's call); `npz` holds the
  problem's data and the recorded trajectory.
  """

  def __init__(self, problem, npz, optimizer=None):
    self.problem, self.npz = problem, npz
    self.variables = _make_variables(problem, npz)
    self.global_step = optimization.create_global_step()
    self.opt = optimizer or optimization.create_optimizer(
        None, init_lr=0.1, num_train_steps=NUM_STEPS, num_warmup_steps=3,
        use_tpu=False)
    self.opt.create_slots(self.variables)
    self.train_step = tf.function(self._train_step)

  def _train_step(self):
    with tf.GradientTape() as tape:
      loss = _golden_loss(self.variables, self.npz)
    grads = tape.gradient(loss, self.variables)
    return self.opt.apply_step(grads, self.variables, self.global_step), loss

  def checkpoint_variables(self):
    return self.variables + self.opt.slot_variables() + [self.global_step]

  def train(self, steps):
    """Runs `steps`, checking every state; returns the learning rates."""
    learning_rates = []
    for step in steps:
      assert int(self.global_step.numpy()) == step
      lr, loss = self.train_step()
      learning_rates.append(lr.numpy())
      np.testing.assert_allclose(loss.numpy(), self.npz["loss"][step],
                                 rtol=1e-5)
      _assert_state(self.problem, self.npz, self.variables, self.opt, step,
                    rtol=1e-5, atol=1e-6)
    assert int(self.global_step.numpy()) == steps[-1] + 1
    return learning_rates


def test_end_to_end_matches_google_pre_increment():
  """Gradient, clipping, schedule lr(global_step) and update, 10 steps."""
  npz = _load("expected_lr_pre_increment.npz")
  learning_rates = _Trainer(_problem(), npz).train(range(NUM_STEPS))
  np.testing.assert_allclose(learning_rates, npz["learning_rate"], rtol=1e-6)
  np.testing.assert_array_equal(npz["global_step_after"],
                                npz["global_step_before"] + 1)


def test_training_resumes_from_a_checkpoint_with_googles_names(tmp_path):
  """Save after 4 steps, restore into fresh objects, the next 6 steps match."""
  problem, npz = _problem(), _load("expected_lr_pre_increment.npz")
  first = _Trainer(problem, npz)
  first.train(range(4))
  prefix = str(tmp_path / "model.ckpt-4")
  checkpoints.save_checkpoint(first.checkpoint_variables(), prefix)
  saved = dict(tf.train.list_variables(prefix))
  reader = tf.train.load_checkpoint(prefix)
  # The names Google's run gave its variables, slots and step.
  want = ([s["name"] for s in problem["variables"]] +
          [n for s in problem["variables"] for n in s["slot_names"]] +
          ["global_step"])
  assert sorted(saved) == sorted(want)
  assert reader.get_variable_to_dtype_map()["global_step"] == tf.int64
  assert reader.get_tensor("global_step") == 4
  second = _Trainer(problem, npz)
  checkpoints.restore(second.checkpoint_variables(), prefix)
  second.train(range(4, NUM_STEPS))


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


def test_apply_gradients_refuses_the_step_as_learning_rate():
  var = tf.Variable([1.0], name="w")
  opt = optimization.create_optimizer(None, 0.1, 10, 2, False)
  step = optimization.create_global_step()
  with pytest.raises(ValueError, match="global_step="):
    opt.apply_gradients([(tf.constant([1.0]), var)], step)
  opt.apply_gradients([(tf.constant([1.0]), var)], global_step=step)
  np.testing.assert_array_equal(var.numpy(), [1.0])  # lr(0) = 0.


def test_create_optimizer_rejects_unknown_optimizer():
  with pytest.raises(ValueError, match="optimizer"):
    optimization.create_optimizer(None, 1e-4, 10, 1, False, optimizer="sgd")


def test_as_run_google_rates_are_the_schedule_one_step_early():
  """expected.npz (Google's graph as run, issue 1050) applied lr(step + 1)."""
  npz = _load("expected.npz")
  schedule = optimization.learning_rate_schedule(0.1, NUM_STEPS, 3)
  np.testing.assert_allclose(
      [schedule(k + 1).numpy() for k in range(NUM_STEPS)],
      npz["learning_rate"], rtol=1e-6)
  pre = _load("expected_lr_pre_increment.npz")
  np.testing.assert_allclose(
      [schedule(k).numpy() for k in range(NUM_STEPS)], pre["learning_rate"],
      rtol=1e-6)


def test_global_step_variable():
  step = optimization.create_global_step()
  assert checkpoints.variable_name(step) == "global_step"
  assert step.dtype == tf.int64 and not step.trainable


def _numpy_lamb(params, grads_per_step, lrs, names, wd=0.01, b1=0.9, b2=0.999,
                eps=1e-6, excluded=("LayerNorm", "layer_norm", "bias")):
  """LAMB as in the paper / ALBERT, written directly in numpy float64."""
  params = {n: p.astype(np.float64) for n, p in params.items()}
  m = {n: np.zeros_like(p) for n, p in params.items()}
  v = {n: np.zeros_like(p) for n, p in params.items()}
  for grads, lr in zip(grads_per_step, lrs):
    for n in names:
      g = grads[n].astype(np.float64)
      m[n] = b1 * m[n] + (1 - b1) * g
      v[n] = b2 * v[n] + (1 - b2) * g * g
      u = m[n] / (np.sqrt(v[n]) + eps)
      plain = any(x in n for x in excluded)
      if not plain:
        u = u + wd * params[n]
      ratio = 1.0
      w_norm, u_norm = np.sqrt(np.sum(params[n]**2)), np.sqrt(np.sum(u**2))
      if not plain and w_norm > 0 and u_norm > 0:
        ratio = w_norm / u_norm
      params[n] = params[n] - ratio * lr * u
  return params, m, v


def test_lamb_matches_numpy():
  rng = np.random.RandomState(0)
  shapes = {"layer/kernel": (4, 3), "layer/bias": (3,),
            "LayerNorm/gamma": (3,), "zero/kernel": (2, 2),
            "embeddings": (5, 2)}
  names = list(shapes)
  init = {n: rng.randn(*s).astype(np.float32) for n, s in shapes.items()}
  init["zero/kernel"][:] = 0.0  # ||w|| = 0: trust ratio 1.
  grads = [{n: rng.randn(*s).astype(np.float32) for n, s in shapes.items()}
           for _ in range(5)]
  grads[1]["embeddings"][:] = 0.0
  lrs = [0.05, 0.1, 0.08, 0.06, 0.04]
  variables = [tf.Variable(init[n], name=n) for n in names]
  opt = optimization.create_optimizer(None, 0.1, 10, 2, False,
                                      optimizer="lamb")
  assert isinstance(opt, optimization.LAMBOptimizer)
  for step_grads, lr in zip(grads, lrs):
    opt.apply_gradients([(tf.constant(step_grads[n]), v)
                         for n, v in zip(names, variables)], learning_rate=lr)
  want_p, want_m, want_v = _numpy_lamb(init, grads, lrs, names)
  for n, var in zip(names, variables):
    np.testing.assert_allclose(var.numpy(), want_p[n], rtol=1e-5, atol=1e-6,
                               err_msg=n)
    np.testing.assert_allclose(opt.get_slot(var, "adam_m").numpy(), want_m[n],
                               rtol=1e-5, atol=1e-7, err_msg=n)
    np.testing.assert_allclose(opt.get_slot(var, "adam_v").numpy(), want_v[n],
                               rtol=1e-5, atol=1e-8, err_msg=n)
  # The trust ratio changes the step: LAMB is not AdamWeightDecay.
  adamw = optimization.AdamWeightDecayOptimizer(0.0, weight_decay_rate=0.01)
  w = tf.Variable(init["layer/kernel"], name="layer/kernel")
  adamw.apply_gradients([(tf.constant(grads[0]["layer/kernel"]), w)], 0.05)
  assert np.max(np.abs(w.numpy() - _numpy_lamb(
      init, grads[:1], lrs[:1], names)[0]["layer/kernel"])) > 1e-3


def test_lamb_layer_adaptation_exclusions():
  opt = optimization.LAMBOptimizer(0.1, weight_decay_rate=0.01,
                                   exclude_from_weight_decay=["bias"])
  assert opt.exclude_from_layer_adaptation == ["bias"]
  opt = optimization.LAMBOptimizer(0.1, exclude_from_weight_decay=["bias"],
                                   exclude_from_layer_adaptation=["gamma"])
  assert opt.exclude_from_layer_adaptation == ["gamma"]


def _linear_data():
  rng = np.random.RandomState(1)
  x = rng.randn(8, 3).astype(np.float32)
  y = rng.randn(8, 2).astype(np.float32)
  return x, y


def _train_linear(micro_batches, num_updates=3):
  """AdamW on a linear model; each update sees all 8 examples."""
  x, y = _linear_data()
  kernel = tf.Variable(np.full((3, 2), 0.5, np.float32), name="dense/kernel")
  bias = tf.Variable(np.zeros(2, np.float32), name="dense/bias")
  variables = [kernel, bias]
  opt = optimization.AdamWeightDecayOptimizer(0.1, weight_decay_rate=0.01)
  opt.create_slots(variables)
  accumulator = optimization.GradientAccumulator(variables)
  size = 8 // micro_batches

  @tf.function
  def update():
    for i in range(micro_batches):
      with tf.GradientTape() as tape:
        pred = tf.matmul(x[i * size:(i + 1) * size], kernel) + bias
        loss = tf.reduce_mean(tf.square(pred - y[i * size:(i + 1) * size]))
      accumulator.accumulate(tape.gradient(loss, variables))
    opt.apply_gradients(zip(accumulator.gradients(), variables), 0.1)
    accumulator.reset()

  for _ in range(num_updates):
    update()
  return [v.numpy() for v in variables]


def test_gradient_accumulation_equals_large_batch():
  """4 micro-batches of 2 give the update of one batch of 8."""
  one_batch = _train_linear(micro_batches=1)
  accumulated = _train_linear(micro_batches=4)
  for big, acc in zip(one_batch, accumulated):
    np.testing.assert_allclose(acc, big, rtol=0, atol=1e-6)
  # The model did move, so the comparison means something.
  assert np.max(np.abs(one_batch[0] - 0.5)) > 0.1


def test_gradient_accumulator_variables():
  v = tf.Variable(tf.zeros([2, 3]), name="a/kernel")
  accumulator = optimization.GradientAccumulator([v])
  names = [s.name for s in accumulator.variables]
  assert "a/kernel/accum_grad:0" in names
  assert all(not s.trainable for s in accumulator.variables)
  accumulator.accumulate([tf.ones([2, 3])])
  accumulator.accumulate([3 * tf.ones([2, 3])])
  np.testing.assert_array_equal(accumulator.gradients()[0].numpy(),
                                np.full((2, 3), 2.0, np.float32))
  accumulator.reset()
  accumulator.accumulate([tf.ones([2, 3])])
  np.testing.assert_array_equal(accumulator.gradients()[0].numpy(),
                                np.ones((2, 3), np.float32))


def test_loss_scale_skips_non_finite_step():
  var = tf.Variable([1.0, 2.0], name="w")
  global_step = optimization.create_global_step()
  opt = optimization.AdamWeightDecayOptimizer(
      optimization.learning_rate_schedule(0.1, 10, 0))
  opt.create_slots([var])
  loss_scale = optimization.DynamicLossScale()
  assert float(loss_scale.loss_scale.numpy()) == 2.0**15
  loss16 = loss_scale.scale_loss(tf.constant(0.5, tf.float16))
  assert loss16.dtype == tf.float16 and float(loss16) == 2.0**14

  def step(grad):
    grads = loss_scale.unscale([tf.constant(grad, tf.float16)])
    assert grads[0].dtype == tf.float32
    should_apply = loss_scale.update(grads)
    opt.apply_step(grads, [var], global_step, should_apply=should_apply)
    return bool(should_apply)

  assert not step([np.inf, 1.0])
  assert float(loss_scale.loss_scale.numpy()) == 2.0**14
  np.testing.assert_array_equal(var.numpy(), [1.0, 2.0])
  np.testing.assert_array_equal(opt.get_slot(var, "adam_m").numpy(), [0, 0])
  assert int(global_step.numpy()) == 0
  assert not step([np.nan, 1.0])
  assert float(loss_scale.loss_scale.numpy()) == 2.0**13
  assert step([2.0**11, 2.0**12])  # Unscaled: [0.25, 0.5], not clipped.
  assert int(global_step.numpy()) == 1
  np.testing.assert_allclose(opt.get_slot(var, "adam_m").numpy(),
                             [0.025, 0.05])
  assert not np.array_equal(var.numpy(), [1.0, 2.0])


def test_loss_scale_grows_after_2000_good_steps():
  loss_scale = optimization.DynamicLossScale()
  grads = [tf.ones([3])]
  update = tf.function(loss_scale.update)
  for _ in range(1999):
    update(grads)
  assert float(loss_scale.loss_scale.numpy()) == 2.0**15
  assert int(loss_scale.good_steps.numpy()) == 1999
  update(grads)
  assert float(loss_scale.loss_scale.numpy()) == 2.0**16
  assert int(loss_scale.good_steps.numpy()) == 0
  # A bad step resets the count of good steps.
  update(grads)
  update([tf.constant([np.inf, 0.0, 0.0])])
  assert float(loss_scale.loss_scale.numpy()) == 2.0**15
  assert int(loss_scale.good_steps.numpy()) == 0


@pytest.fixture(scope="module")
def distributed_report():
  """Runs tests/distributed_optimizer_check.py in a fresh process."""
  script = os.path.join(ROOT, "tests", "distributed_optimizer_check.py")
  result = subprocess.run(
      [sys.executable, script, fixture_path("optimization"), "adamw", "lamb"],
      capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  line = [l for l in result.stdout.splitlines() if l.startswith("REPORT ")][0]
  return json.loads(line[len("REPORT "):])


@pytest.mark.parametrize("optimizer_name", ["adamw", "lamb"])
def test_mirrored_strategy_matches_default_strategy(distributed_report,
                                                    optimizer_name):
  """2 logical CPUs under MirroredStrategy == default strategy (subprocess).

  The script trains with apply_step inside strategy.run, the gradient
  accumulator, loss scaling and one skipped (infinite gradient) step.
  """
  default = distributed_report[optimizer_name]["default"]
  mirrored = distributed_report[optimizer_name]["mirrored"]
  assert mirrored["num_replicas"] == 2
  assert default["global_step"] == mirrored["global_step"] == 4  # 1 skipped.
  assert default["loss_scale"] == mirrored["loss_scale"] == 8.0
  assert default["slot_names"] == mirrored["slot_names"]
  # Training moved the kernel, so equal states are not trivially equal.
  init = _load("expected.npz")["init.dense__kernel"]
  assert np.max(np.abs(np.array(default["variables"][0][0]) - init)) > 0.05
  for what in ("variables", "slots"):
    for want, got in zip(default[what], mirrored[what]):
      assert len(got) == 2
      for replica_value in got:
        np.testing.assert_allclose(replica_value, want[0], rtol=0, atol=1e-6)


def test_slots_refuse_two_variables_with_one_name():
  opt = optimization.AdamWeightDecayOptimizer(0.1)
  a = tf.Variable([1.0], name="same/name")
  opt.create_slots([a])
  opt.create_slots([a])  # Again for the same variable: nothing new.
  assert len(opt.slot_variables()) == 2
  assert len(opt.variables) == 2  # Only the slots, not the model variable.
  with pytest.raises(ValueError, match="same/name"):
    opt.create_slots([tf.Variable([2.0], name="same/name")])
