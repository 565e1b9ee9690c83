"""Tests of albert/optimization.py and albert/lamb_optimizer.py against ALBERT.

Fixtures in tests/fixtures/albert/optimization/ were produced by running
ALBERT's own optimization.py (google-research/albert b772393) on TF 2.21 for 10
steps of the quadratic problem of tests/fixtures/optimization/ (same
variables, data, initial values and loss); see tests/fixtures/README.md.
"""

import json
import struct

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import optimization
from albert import lamb_optimizer
from albert import optimization as albert_optimization
import test_optimization
from test_optimization import _make_variables, _problem

NUM_STEPS = 10
# run name -> (optimizer, poly_power, start_warmup_step) of its call.
RUNS = {"lamb": ("lamb", 1.0, 0), "lamb_poly2_start1": ("lamb", 2.0, 1),
        "adamw": ("adamw", 1.0, 0)}


def _reference():
  with open(fixture_path("albert", "optimization", "optimization.json")) as f:
    return json.load(f)


def _load(name):
  return np.load(fixture_path("albert", "optimization", name))


def _data():
  """The problem's data arrays (stored with BERT's fixture, not ALBERT's)."""
  return _load_bert("expected.npz")


def _load_bert(name):
  return np.load(fixture_path("optimization", name))


def _hex(value):
  return "%08x" % struct.unpack("<I", struct.pack("<f", np.float32(value)))[0]


def _numpy_schedule(spec, step, reciprocal):
  """ALBERT's schedule in float32 numpy, written from its source.

  Args:
    spec: dict with init_lr, num_train_steps, num_warmup_steps, poly_power,
      start_warmup_step.
    step: int.
    reciprocal: False: `step / num_train_steps` as written (op by op); True:
      `step * (1 / num_train_steps)`, the rewrite TF's default graph
      optimizer (grappler) applies to a division by a constant.

  Returns:
    np.float32.
  """
  f = np.float32
  total = f(spec["num_train_steps"])
  decay_step = min(f(step), total)
  fraction = decay_step * (f(1) / total) if reciprocal else decay_step / total
  decayed = f(spec["init_lr"]) * np.power(f(1) - fraction,
                                          f(spec["poly_power"]))
  shifted = step - spec["start_warmup_step"]
  if shifted < spec["num_warmup_steps"]:
    return f(spec["init_lr"]) * (f(shifted) / f(spec["num_warmup_steps"]))
  return decayed


def _schedules():
  """optimization.json's schedules plus the three runs' (init_lr 0.1)."""
  specs = list(_reference()["schedules"])
  for name, run in _reference()["runs"].items():
    _, poly_power, start = RUNS[name]
    specs.append(dict(init_lr=0.1, num_train_steps=NUM_STEPS,
                      num_warmup_steps=3, poly_power=poly_power,
                      start_warmup_step=start, steps=list(range(NUM_STEPS)),
                      learning_rate=run["lr_pre_increment"]["learning_rate"]))
  return specs


@pytest.mark.parametrize("index", range(5))
def test_schedule_matches_albert(index):
  """Bit for bit, except where TF's graph rewrite changes ALBERT's division.

  Our schedule evaluates every float32 op as written (the project's choice
  for BERT too). ALBERT's reference ran with TF's default graph rewrites,
  which turn `step / num_train_steps` into `step * (1 / num_train_steps)`;
  that changes the last bits of a few rates (4 of the 53 here). At exactly
  those steps the reference equals the rewritten formula bit for bit.
  """
  spec = _schedules()[index]
  schedule = optimization.learning_rate_schedule(
      spec["init_lr"], spec["num_train_steps"], spec["num_warmup_steps"],
      poly_power=spec["poly_power"],
      start_warmup_step=spec["start_warmup_step"])
  rewritten = 0
  for step, want in zip(spec["steps"], spec["learning_rate"]):
    got = schedule(step).numpy()
    assert got.dtype == np.float32
    assert _hex(got) == _hex(_numpy_schedule(spec, step, reciprocal=False))
    if _hex(want) != _hex(got):
      rewritten += 1
      assert _hex(want) == _hex(_numpy_schedule(spec, step, reciprocal=True))
      assert abs(got - want) <= 1e-4 * abs(want)
  if "learning_rate_float32_hex" in spec:
    assert spec["learning_rate_float32_hex"] == [
        _hex(x) for x in spec["learning_rate"]]
  assert rewritten <= 1


def test_schedule_keeps_albert_negative_rates_before_the_start():
  """The schedule itself is ALBERT's formula: negative before the start."""
  schedule = optimization.learning_rate_schedule(
      0.00176, 1000, 100, poly_power=0.5, start_warmup_step=10)
  assert float(schedule(0)) < 0 and float(schedule(9)) < 0
  assert float(schedule(10)) == 0.0 and float(schedule(11)) > 0
  # An int64 variable (the global step) works as the argument too.
  assert _hex(schedule(tf.Variable(500, dtype=tf.int64))) == "3aa31ec2"


def _albert_optimizer(name, learning_rate):
  """ALBERT's optimizer of run `name` with its recorded settings."""
  settings = _reference()["runs"][name]["optimizer"]
  kwargs = dict(weight_decay_rate=settings["weight_decay_rate"],
                beta_1=settings["beta_1"], beta_2=settings["beta_2"],
                epsilon=settings["epsilon"],
                exclude_from_weight_decay=settings["exclude_from_weight_decay"])
  if RUNS[name][0] == "lamb":
    return lamb_optimizer.LAMBOptimizer(learning_rate, **kwargs)
  return albert_optimization.AdamWeightDecayOptimizer(learning_rate, **kwargs)


def _set_state(npz, variables, opt, step):
  """Loads the recorded variables and slots after `step` (-1: initial)."""
  for spec, var in zip(_problem()["variables"], variables):
    key = spec["npz_key"]
    if step < 0:
      var.assign(npz["init." + key])
      continue
    var.assign(npz["values." + key][step])
    opt.get_slot(var, "adam_m").assign(npz["adam_m." + key][step])
    opt.get_slot(var, "adam_v").assign(npz["adam_v." + key][step])


@pytest.mark.parametrize("name", sorted(RUNS))
@pytest.mark.parametrize("suffix", ["", "_lr_pre_increment"])
def test_step_in_isolation_matches_albert(name, suffix):
  """Recorded (clipped grads, rate) in -> recorded values and slots.

  Covers both orderings of ALBERT's graph and the negative rate of
  lamb_poly2_start1's first pre-increment step (the update arithmetic is
  ALBERT's whatever the rate).
  """
  npz = _load(name + suffix + ".npz")
  variables = _make_variables(_problem(), npz)
  opt = _albert_optimizer(name, learning_rate=None)
  keys = [s["npz_key"] for s in _problem()["variables"]]
  for step in range(NUM_STEPS):
    grads = [tf.constant(npz["grads." + k][step]) for k in keys]
    opt.apply_gradients(zip(grads, variables),
                        learning_rate=npz["learning_rate"][step])
    test_optimization._assert_state(_problem(), npz, variables, opt, step,  # pylint: disable=protected-access
                                    rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_clipping_matches_albert(name):
  npz = _load(name + ".npz")
  keys = [s["npz_key"] for s in _problem()["variables"]]
  for step in range(NUM_STEPS):
    raw = [tf.constant(npz["raw_grads." + k][step]) for k in keys]
    np.testing.assert_allclose(tf.linalg.global_norm(raw).numpy(),
                               npz["global_norm"][step], rtol=1e-6)
    for k, c in zip(keys, optimization.clip_by_global_norm(raw, 1.0)):
      np.testing.assert_array_equal(c.numpy(), npz["grads." + k][step])


@pytest.mark.parametrize("name", sorted(RUNS))
def test_exclusions_match_albert(name):
  """Weight decay and layer adaptation per variable, as ALBERT recorded."""
  run = _reference()["runs"][name]["optimizer"]
  opt = albert_optimization.create_optimizer(None, 0.1, NUM_STEPS, 3, False,
                                             optimizer=RUNS[name][0])
  assert isinstance(opt, {"lamb": lamb_optimizer.LAMBOptimizer, "adamw":
                          albert_optimization.AdamWeightDecayOptimizer}[
                              RUNS[name][0]])
  for var_name, decays in run["weight_decay"].items():
    assert opt._do_use_weight_decay(var_name) == decays, var_name
  if run["layer_adaptation"] is not None:
    for var_name, adapts in run["layer_adaptation"].items():
      assert (not optimization._matches_any(
          opt.exclude_from_layer_adaptation, var_name)) == adapts, var_name


def _trainer(name, npz):
  """test_optimization's trainer with ALBERT's create_optimizer call."""
  optimizer, poly_power, start = RUNS[name]
  opt = albert_optimization.create_optimizer(
      None, init_lr=0.1, num_train_steps=NUM_STEPS, num_warmup_steps=3,
      use_tpu=False, optimizer=optimizer, poly_power=poly_power,
      start_warmup_step=start)
  # ALBERT's arrays, plus the problem's data (stored with BERT's fixture).
  arrays = dict(npz)
  arrays.update((k, v) for k, v in _data().items() if k.startswith("data."))
  return test_optimization._Trainer(_problem(), arrays, opt)  # pylint: disable=protected-access


@pytest.mark.parametrize("name", ["lamb", "adamw"])
def test_end_to_end_matches_albert_pre_increment(name):
  """Gradient, clipping, schedule lr(global_step), update: 10 steps."""
  npz = _load(name + "_lr_pre_increment.npz")
  learning_rates = _trainer(name, npz).train(range(NUM_STEPS))
  np.testing.assert_allclose(learning_rates, npz["learning_rate"], rtol=1e-6)


def test_poly_power_and_start_end_to_end_after_the_refused_step():
  """poly_power 2, start_warmup_step 1: step 0 is refused, 1-9 match ALBERT.

  ALBERT's documented (pre-increment) order gives step 0 the rate -0.0333:
  refused, nothing changes. Given ALBERT's state after that step, steps 1 to
  9 (rates 0, 0.033, 0.067, then the squared decay) match its trajectory.
  """
  npz = _load("lamb_poly2_start1_lr_pre_increment.npz")
  assert npz["learning_rate"][0] < 0
  trainer = _trainer("lamb_poly2_start1", npz)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="--start_warmup_step=1"):
    trainer.train_step()
  assert int(trainer.global_step.numpy()) == 0
  for spec, var in zip(_problem()["variables"], trainer.variables):
    np.testing.assert_array_equal(var.numpy(), npz["init." + spec["npz_key"]])
    for slot in ("adam_m", "adam_v"):
      assert not np.any(trainer.opt.get_slot(var, slot).numpy())
  _set_state(npz, trainer.variables, trainer.opt, 0)
  trainer.global_step.assign(1)
  learning_rates = trainer.train(range(1, NUM_STEPS))
  np.testing.assert_allclose(learning_rates, npz["learning_rate"][1:],
                             rtol=1e-6)


def test_refusal_is_eager_too_and_names_the_flag():
  var = tf.Variable([1.0, 2.0], name="w")
  step = optimization.create_global_step()
  opt = albert_optimization.create_optimizer(
      None, 0.1, 100, 10, False, optimizer="lamb", start_warmup_step=5)
  step.assign(4)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="--start_warmup_step=5"):
    opt.apply_step([tf.constant([1.0, 1.0])], [var], step)
  np.testing.assert_array_equal(var.numpy(), [1.0, 2.0])
  assert int(step.numpy()) == 4
  step.assign(5)  # The start itself: rate 0, allowed.
  assert float(opt.apply_step([tf.constant([1.0, 1.0])], [var], step)) == 0.0
  assert int(step.numpy()) == 6
  # A start at 0 or below never refuses (below: the warmup began earlier).
  early = albert_optimization.create_optimizer(None, 0.1, 100, 10, False,
                                               start_warmup_step=-2)
  np.testing.assert_allclose(float(early.learning_rate_at(0)), 0.02)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_as_run_albert_rates_are_the_schedule_one_step_early(name):
  """<run>.npz (ALBERT's graph as run) applied lr(step + 1).

  (Within the graph rewrite's rounding: see test_schedule_matches_albert.)
  """
  _, poly_power, start = RUNS[name]
  schedule = optimization.learning_rate_schedule(
      0.1, NUM_STEPS, 3, poly_power=poly_power, start_warmup_step=start)
  np.testing.assert_allclose(
      [schedule(k + 1).numpy() for k in range(NUM_STEPS)],
      _load(name + ".npz")["learning_rate"], rtol=1e-5)


def test_excluded_tvars_are_not_trained():
  """ALBERT's excluded_tvars: no slot, no update, not in the global norm."""
  rng = np.random.RandomState(3)
  names = ["a/kernel", "b/kernel", "c/kernel", "d/bias"]
  init = [rng.randn(3, 2).astype(np.float32) for _ in names]
  grads = [tf.constant(rng.randn(3, 2).astype(np.float32) * 3) for _ in names]

  def run(excluded, keep):
    variables = [tf.Variable(x, name=n) for x, n in zip(init, names)]
    opt = albert_optimization.create_optimizer(
        None, 0.1, 10, 0, False, optimizer="lamb", excluded_tvars=excluded)
    opt.create_slots(variables)
    step = optimization.create_global_step()
    opt.apply_step([grads[i] for i in keep], [variables[i] for i in keep],
                   step)
    slots = sorted(checkpoints.variable_name(s) for s in opt.slot_variables())
    return [v.numpy() for v in variables], slots

  # Two adjacent excluded names (ALBERT's list removal would keep c).
  excluded, slots = run(["b/kernel:0", "c/kernel"], keep=[0, 1, 2, 3])
  alone, _ = run(None, keep=[0, 3])
  assert slots == ["a/kernel/adam_m", "a/kernel/adam_v", "d/bias/adam_m",
                   "d/bias/adam_v"]
  for i in (1, 2):
    np.testing.assert_array_equal(excluded[i], init[i])
  for i in (0, 3):
    assert not np.array_equal(excluded[i], init[i])
    np.testing.assert_array_equal(excluded[i], alone[i])


def test_lamb_optimizer_takes_albert_positional_arguments():
  opt = lamb_optimizer.LAMBOptimizer(0.5, 0.01, 0.8, 0.99, 1e-5, ["bias"],
                                     ["gamma"], "my_lamb")
  assert (opt.learning_rate, opt.weight_decay_rate, opt.beta_1, opt.beta_2,
          opt.epsilon) == (0.5, 0.01, 0.8, 0.99, 1e-5)
  assert opt.exclude_from_weight_decay == ["bias"]
  assert opt.exclude_from_layer_adaptation == ["gamma"]
  assert opt.name == "my_lamb"
  # ALBERT's default: no decay at all; adaptation follows the decay list.
  plain = lamb_optimizer.LAMBOptimizer(0.1, exclude_from_weight_decay=["x"])
  assert not plain._do_use_weight_decay("dense/kernel")
  assert plain.exclude_from_layer_adaptation == ["x"]


def test_create_optimizer_takes_albert_positional_arguments():
  opt = albert_optimization.create_optimizer(
      None, 0.1, 10, 3, False, "lamb", 2.0, 0, False, None)
  assert isinstance(opt, lamb_optimizer.LAMBOptimizer)
  want = optimization.learning_rate_schedule(0.1, 10, 3, poly_power=2.0)
  for step in (0, 2, 3, 7, 12):
    assert _hex(opt.learning_rate_at(step)) == _hex(want(step))
  with pytest.raises(ValueError, match="optimizer"):
    albert_optimization.create_optimizer(None, 0.1, 10, 3, False, "sgd")
