# coding=utf-8
# Copyright 2018 The Google AI Team Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Functions and classes related to optimization (weight updates).

Google's update, exactly: Adam without bias correction plus decoupled weight
decay (`AdamWeightDecayOptimizer`), gradients clipped to a global norm of 1.0,
and a linear warmup followed by a linear decay measured from step 0. Added: the
LAMB optimizer, gradient accumulation and dynamic loss scaling.

How a training loop uses this module (see ARCHITECTURE.md):

  with strategy.scope():
    global_step = optimization.create_global_step()
    optimizer = optimization.create_optimizer(
        None, init_lr, num_train_steps, num_warmup_steps, use_tpu)
    optimizer.create_slots(variables)
  ...
  # inside strategy.run, with gradients already all-reduced:
  optimizer.apply_step(grads, variables, global_step)
"""

import re

import tensorflow as tf

import checkpoints
import validation

# Parameters whose names match one of these (re.search) get no weight decay.
EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def learning_rate_schedule(init_lr, num_train_steps, num_warmup_steps,
                           poly_power=1.0, start_warmup_step=0):
  """Google's (and ALBERT's) learning rate as a plain function of the step.

  `lr(step) = init_lr * (1 - min(step, num_train_steps) / num_train_steps)
  ** poly_power` (tf.train.polynomial_decay with end rate 0); when
  `num_warmup_steps` is set and `step - start_warmup_step < num_warmup_steps`
  the rate is `init_lr * (step - start_warmup_step) / num_warmup_steps`
  instead. The decay is measured from step 0, not from the end of the warmup,
  so the rate drops a little at the end of the warmup and `init_lr` itself is
  never used. BERT's schedule is `poly_power=1, start_warmup_step=0`.

  ALBERT's formula is reproduced for every step: before `start_warmup_step`
  the rate is negative (gradient ascent). `create_optimizer` refuses to train
  there (see `_refuse_steps_before`); this function only computes the value.

  Every operation is a float32 op in Google's (ALBERT's) order, so the values
  are those of the original graph evaluated op by op.

  Args:
    init_lr: float, the peak learning rate.
    num_train_steps: int, the step at which the rate reaches 0.
    num_warmup_steps: int or None/0, the length of the linear warmup.
    poly_power: float, the power of the polynomial decay (ALBERT's
      --poly_power; BERT: 1.0).
    start_warmup_step: int, the step at which the warmup starts (ALBERT's
      --start_warmup_step; BERT: 0).

  Returns:
    A function `step -> float32 scalar tensor`; `step` is an integer scalar
    (Python int, tensor or variable).
  """

  def schedule(step):
    step = tf.convert_to_tensor(step)
    # polynomial_decay(init_lr, step, num_train_steps, 0.0, poly_power).
    decay_step = tf.minimum(tf.cast(step, tf.float32),
                            tf.cast(num_train_steps, tf.float32))
    fraction = decay_step / tf.cast(num_train_steps, tf.float32)
    remaining = 1.0 - fraction
    if poly_power != 1.0:
      # pow(x, 1) is x exactly; skipping it keeps BERT's graph op for op.
      remaining = tf.pow(remaining, tf.cast(poly_power, tf.float32))
    learning_rate = tf.constant(init_lr, tf.float32) * remaining + 0.0
    if not num_warmup_steps:
      return learning_rate
    step_int = tf.cast(step, tf.int32)
    if start_warmup_step:
      step_int -= tf.constant(start_warmup_step, tf.int32)
    warmup_steps_int = tf.constant(num_warmup_steps, tf.int32)
    warmup_percent_done = (tf.cast(step_int, tf.float32) /
                           tf.cast(warmup_steps_int, tf.float32))
    warmup_learning_rate = init_lr * warmup_percent_done
    is_warmup = tf.cast(step_int < warmup_steps_int, tf.float32)
    return ((1.0 - is_warmup) * learning_rate +
            is_warmup * warmup_learning_rate)

  return schedule


def _refuse_steps_before(schedule, start_warmup_step):
  """`schedule`, raising at a step before `start_warmup_step`.

  ALBERT's warmup gives `init_lr * (step - start) / warmup`, negative before
  the start: its train op then climbs the loss (gradient ascent) until the
  start. That happens when a run begins below the start (e.g. a fresh global
  step with --init_checkpoint), never when it resumes at or after it, so it is
  refused instead of reproduced. The check is an op the rate depends on, so
  the refused step changes no variable, slot or step.

  Args:
    schedule: function step -> float32 scalar (`learning_rate_schedule`).
    start_warmup_step: int > 0.

  Returns:
    A function step -> float32 scalar raising `tf.errors.
    InvalidArgumentError` (eagerly: at the call; in a tf.function: when the
    step runs) when `step < start_warmup_step`.
  """

  def refusing_schedule(step):
    step = tf.convert_to_tensor(step)
    check = tf.debugging.assert_greater_equal(
        tf.cast(step, tf.int64), tf.constant(start_warmup_step, tf.int64),
        message=("--start_warmup_step=%d is after the global step: ALBERT's "
                 "learning rate is negative before the warmup starts "
                 "(gradient ascent), so the step is refused; start from a "
                 "checkpoint at or after step %d or lower the flag" %
                 (start_warmup_step, start_warmup_step)))
    with tf.control_dependencies([check]):
      return tf.identity(schedule(step))

  return refusing_schedule


def create_global_step():
  """The int64 step counter, saved in checkpoints as "global_step".

  Created with ONLY_FIRST_REPLICA aggregation so that it may also be assigned
  in a replica context (every replica holds the same value).

  Returns:
    A scalar int64 `tf.Variable` holding 0.
  """
  return tf.Variable(
      0,
      dtype=tf.int64,
      trainable=False,
      name="global_step",
      aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


def create_optimizer(loss,
                     init_lr,
                     num_train_steps,
                     num_warmup_steps,
                     use_tpu=False,
                     optimizer="adamw",
                     weight_decay_rate=0.01,
                     beta_1=0.9,
                     beta_2=0.999,
                     epsilon=1e-6,
                     exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY,
                     clip_norm=1.0,
                     poly_power=1.0,
                     start_warmup_step=0,
                     excluded_variables=None):
  """Creates the optimizer Google's `create_optimizer` builds its train op with.

  TF2 has no graph train op: this returns the optimizer object configured with
  Google's hyperparameters and learning-rate schedule. One training step, as
  Google's train op does it, is then `optimizer.apply_step(grads, variables,
  global_step)` (rate from the step before its increment, clipping at
  `clip_norm`, update, increment).

  Args:
    loss: ignored (kept so Google's call `create_optimizer(loss, init_lr,
      num_train_steps, num_warmup_steps, use_tpu)` still works; gradients come
      from the training loop's tf.GradientTape). May be None.
    init_lr: float, peak learning rate.
    num_train_steps: int, steps after which the rate is 0.
    num_warmup_steps: int or None, linear warmup steps.
    use_tpu: ignored: Google wraps the optimizer in CrossShardOptimizer to
      average gradients over TPU cores; here the loop all-reduces gradients
      under any tf.distribute strategy before calling the optimizer.
    optimizer: "adamw" (Google's AdamWeightDecayOptimizer) or "lamb".
    weight_decay_rate: float, decoupled weight decay (Google: 0.01).
    beta_1: float, first moment decay.
    beta_2: float, second moment decay.
    epsilon: float, added to sqrt(v).
    exclude_from_weight_decay: regular expressions of parameter names that get
      no weight decay (and, for LAMB, no trust ratio).
    clip_norm: float, global norm the gradients are clipped to in `apply_step`.
    poly_power: float, power of the polynomial decay (ALBERT; BERT: 1.0).
    start_warmup_step: int, ALBERT's warmup start. When > 0, a step taken at
      a global step below it is refused (InvalidArgumentError, nothing
      changes) instead of applying ALBERT's negative rate; see
      `_refuse_steps_before`.
    excluded_variables: names of variables `apply_step` leaves untouched
      (ALBERT's `excluded_tvars`; with or without ":0").

  Returns:
    An `AdamWeightDecayOptimizer` or `LAMBOptimizer` whose `learning_rate` is
    `learning_rate_schedule(init_lr, num_train_steps, num_warmup_steps,
    poly_power, start_warmup_step)`.

  Raises:
    ValueError: for an unknown `optimizer`; validation.UsageError for a NaN,
      infinite or negative `init_lr`, `num_train_steps` below 1 or a negative
      `num_warmup_steps` (named as Google's flags; a runner that computes
      them checks its own flags first).
  """
  del loss, use_tpu  # See the docstring.
  validation.check_schedule(init_lr, num_train_steps, num_warmup_steps)
  optimizer_classes = {"adamw": AdamWeightDecayOptimizer, "lamb": LAMBOptimizer}
  if optimizer not in optimizer_classes:
    raise ValueError("--optimizer must be one of %s, got %r" %
                     (sorted(optimizer_classes), optimizer))
  schedule = learning_rate_schedule(init_lr, num_train_steps,
                                    num_warmup_steps, poly_power,
                                    start_warmup_step)
  if num_warmup_steps and start_warmup_step > 0:
    schedule = _refuse_steps_before(schedule, start_warmup_step)
  return optimizer_classes[optimizer](
      learning_rate=schedule,
      weight_decay_rate=weight_decay_rate,
      beta_1=beta_1,
      beta_2=beta_2,
      epsilon=epsilon,
      exclude_from_weight_decay=list(exclude_from_weight_decay or []),
      clip_norm=clip_norm,
      excluded_variables=excluded_variables)


def clip_by_global_norm(grads, clip_norm=1.0):
  """Google's clipping: all gradients jointly to a global norm of `clip_norm`.

  Args:
    grads: list of gradient tensors (None entries are passed through).
    clip_norm: float.

  Returns:
    The list of clipped gradients (bit-identical to the input when the global
    norm is <= clip_norm).
  """
  clipped, _ = tf.clip_by_global_norm(grads, clip_norm=clip_norm)
  return clipped


def global_norm_scale(grads, clip_norm=1.0):
  """The factor `tf.clip_by_global_norm` multiplies every gradient by.

  `clip_norm / max(global_norm, clip_norm)`, NaN when the norm is not finite,
  computed op for op as `tf.clip_by_global_norm` does, so that `g * scale`
  equals its clipped gradient bit for bit. The optimizer multiplies inside its
  update instead of writing a clipped copy of every gradient first.

  Args:
    grads: list of gradient tensors (None entries are skipped).
    clip_norm: float.

  Returns:
    float32 scalar tensor.
  """
  use_norm = tf.linalg.global_norm([g for g in grads if g is not None])
  clip_norm = tf.cast(clip_norm, use_norm.dtype)
  scale_for_finite = clip_norm * tf.minimum(
      1.0 / use_norm, tf.constant(1.0, dtype=use_norm.dtype) / clip_norm)
  return scale_for_finite + (use_norm - use_norm)


def _scaled(grad, grad_scale):
  """`grad * grad_scale` as tf.clip_by_global_norm computes it (None: grad)."""
  grad = tf.convert_to_tensor(grad)
  if grad_scale is None:
    return grad
  return grad * tf.cast(grad_scale, grad.dtype)


def _unfused(product, zero):
  """`product`, hidden from the compiler behind an integer `+ zero`.

  XLA's CPU code generator contracts a multiply feeding an add into one FMA,
  which skips the product's rounding; TensorFlow's op-by-op graph (and so
  Google's) rounds it. Adding a zero that is only known at run time to the
  float's bits keeps the product a separate, rounded value.

  Args:
    product: float32 tensor.
    zero: int32 scalar tensor holding 0 (an argument, not a constant).

  Returns:
    `product`, bit for bit.
  """
  return tf.bitcast(tf.bitcast(product, tf.int32) + zero, tf.float32)


# One XLA kernel per variable: op by op, the update below is about fifteen
# elementwise passes over the parameters (TensorFlow's CPU kernels do not
# fuse), a sixth of a BERT-Base training step on a CPU; fused, it reads param,
# grad, m and v once and writes param, m and v in place. Same ops, same
# rounding as `_compute_update` (see `_unfused`): bit-identical results.
# Compiled per optimizer (`AdamWeightDecayOptimizer._fused_step`).
def _fused_adam_weight_decay(param, grad, m, v, learning_rate, grad_scale,
                             zero, beta_1, beta_2, epsilon, weight_decay_rate):
  """Assigns Google's AdamWeightDecay step to `param`, `m` and `v`.

  Args:
    param: float32 variable (any shape).
    grad: its gradient tensor (same shape; float16 is cast to float32 after
      scaling).
    m, v: float32 slot variables (same shape).
    learning_rate: float32 scalar.
    grad_scale: float32 scalar the gradient is multiplied by (global-norm
      clipping), or None.
    zero: int32 scalar 0 (see `_unfused`).
    beta_1, beta_2, epsilon: Python floats.
    weight_decay_rate: Python float, 0.0 for an excluded parameter.

  Returns:
    A dummy scalar (for control dependencies on the update).
  """
  grad = tf.cast(_scaled(grad, grad_scale), m.dtype)
  next_m = (_unfused(tf.multiply(beta_1, m), zero) +
            _unfused(tf.multiply(1.0 - beta_1, grad), zero))
  next_v = (_unfused(tf.multiply(beta_2, v), zero) +
            _unfused(tf.multiply(1.0 - beta_2, tf.square(grad)), zero))
  update = next_m / (tf.sqrt(next_v) + epsilon)
  if weight_decay_rate:
    update += _unfused(weight_decay_rate * param, zero)
  param.assign(param - _unfused(learning_rate * update, zero))
  m.assign(next_m)
  v.assign(next_v)
  return tf.constant(True)


def _local_copies(strategy):
  """How many copies of each variable `strategy` keeps in this process."""
  try:
    return len(strategy.extended.worker_devices)
  except RuntimeError:  # the default strategy: one device
    return 1


def _increment(step, should_apply):
  """Adds 1 to `step` (one device's copy) unless `should_apply` is False."""
  if should_apply is None:
    return step.assign_add(1)
  return step.assign_add(tf.cast(should_apply, step.dtype))


def _matches_any(patterns, name):
  """Whether `re.search` finds one of `patterns` in `name`."""
  return any(re.search(r, name) is not None for r in patterns or [])


class AdamWeightDecayOptimizer(tf.Module):
  """A basic Adam optimizer that includes "correct" L2 weight decay.

  Per parameter p with gradient g and learning rate lr (Google's update):
    m = beta_1 m + (1 - beta_1) g;  v = beta_2 v + (1 - beta_2) g^2
    update = m / (sqrt(v) + epsilon)     # no bias correction
    update += weight_decay_rate * p      # unless p's name is excluded
    p = p - lr * update
  """

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               clip_norm=1.0,
               name="AdamWeightDecayOptimizer",
               fused_update=True,
               excluded_variables=None):
    """Constructs an AdamWeightDecayOptimizer.

    Args:
      learning_rate: float, scalar tensor, or a function step -> rate (see
        `learning_rate_schedule`). Used when `apply_gradients` gets no rate.
      weight_decay_rate: float.
      beta_1: float.
      beta_2: float.
      epsilon: float.
      exclude_from_weight_decay: list of regular expressions (re.search on the
        variable name without ":0").
      clip_norm: float, the global norm `apply_step` clips gradients to.
      name: string, name of this module.
      fused_update: bool; True: each variable's update (clipping included) is
        one XLA-compiled kernel, about 3x faster on CPUs; False: op by op, as
        Google's graph. Both give the same bits.
      excluded_variables: names of variables that `apply_step` does not train
        (ALBERT's `excluded_tvars`; ":0" suffixes are ignored): their
        gradients are dropped before clipping, as if never computed.
    """
    super(AdamWeightDecayOptimizer, self).__init__(name=name)
    self.fused_update = fused_update
    # One compiled step per optimizer, not per process: a process-wide trace
    # keeps weak references to the first variables it updated when they are
    # variables restored from a SavedModel (TF Hub modules), and fails once
    # they are gone ("referencing variables which have been deleted").
    self._fused_step = tf.function(_fused_adam_weight_decay,
                                   jit_compile=True, autograph=False)
    self.learning_rate = learning_rate
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = exclude_from_weight_decay
    self.clip_norm = clip_norm
    self.excluded_variables = frozenset(
        re.sub(r":\d+$", "", name) for name in excluded_variables or ())
    # Variable name (without ":0") -> (adam_m, adam_v), in creation order.
    self._slots = {}
    # Variable name -> ref() of the variable the slots belong to (a ref, so
    # that the model variables are not tracked as the optimizer's own).
    self._owners = {}

  def create_slots(self, variables):
    """Creates the zero `<name>/adam_m` and `<name>/adam_v` slots.

    Call once, eagerly (under `strategy.scope()` when distributing) and
    before tracing a tf.function that applies gradients: a tf.function must
    not create variables when it is traced again.

    Args:
      variables: list of float `tf.Variable`s to be trained. Variables that
        already have slots, or are `excluded_variables`, are skipped.
    """
    strategy = tf.distribute.get_strategy()
    for var in variables:
      name = checkpoints.variable_name(var)
      if name in self.excluded_variables:
        continue
      if name in self._slots:
        # Slots are found by name: two variables with one name would share.
        if self._owners[name] != var.ref():
          raise ValueError("Two different variables are named %r; optimizer "
                           "slots (and checkpoints) need unique names" % name)
        continue
      self._owners[name] = var.ref()
      with tf.init_scope(), strategy.extended.colocate_vars_with(var):
        self._slots[name] = tuple(
            tf.Variable(tf.zeros(var.shape, dtype=var.dtype), trainable=False,
                        name=name + "/" + slot_name)
            for slot_name in ("adam_m", "adam_v"))

  def get_slot(self, var, slot_name):
    """The slot variable "adam_m" or "adam_v" of `var`.

    Args:
      var: a variable passed to `create_slots`.
      slot_name: "adam_m" or "adam_v".

    Returns:
      The slot `tf.Variable`.
    """
    m, v = self._slots[checkpoints.variable_name(var)]
    return {"adam_m": m, "adam_v": v}[slot_name]

  def slot_variables(self):
    """All slot variables, in creation order (for checkpoints)."""
    return [slot for pair in self._slots.values() for slot in pair]

  def learning_rate_at(self, global_step):
    """The learning rate used at `global_step` (before its increment).

    Args:
      global_step: integer scalar, or None when `learning_rate` is constant.

    Returns:
      float32 scalar tensor.
    """
    if callable(self.learning_rate):
      if global_step is None:
        raise ValueError("The learning rate is a schedule: pass global_step")
      return tf.cast(self.learning_rate(global_step), tf.float32)
    return tf.cast(self.learning_rate, tf.float32)

  def apply_gradients(self, grads_and_vars, learning_rate=None,
                      global_step=None, name=None, should_apply=None):
    """Applies one update. Does not increment any step (as Google).

    Works in the cross-replica context and in a replica context (inside
    `strategy.run` of any tf.distribute strategy): the variables are updated
    through `merge_call` and `strategy.extended.update`, so they need no
    particular aggregation. The gradients must already be the same on every
    replica (all-reduced).

    Args:
      grads_and_vars: iterable of (gradient, variable); pairs whose gradient
        is None are skipped.
      learning_rate: float32 scalar; default: the constructor's rate (a
        schedule is evaluated at `global_step`).
      global_step: integer scalar, only read for a schedule.
      name: ignored (Google's signature).
      should_apply: optional bool scalar; when False the variables and slots
        are left unchanged (skipped step of dynamic loss scaling).

    Returns:
      None.
    """
    del name
    grads_and_vars = [(g, v) for g, v in grads_and_vars
                      if g is not None and v is not None]
    if learning_rate is None:
      learning_rate = self.learning_rate_at(global_step)
    elif tf.as_dtype(getattr(learning_rate, "dtype", tf.float32)).is_integer:
      # Google's positional call apply_gradients(grads_and_vars, global_step).
      raise ValueError("The second argument of apply_gradients is the learning "
                       "rate; pass the step as global_step=")
    self._apply(grads_and_vars, learning_rate, should_apply, None)

  def apply_step(self, grads, variables, global_step, should_apply=None):
    """One training step as Google's train op: rate, clip, update, increment.

    The rate is computed from `global_step` before its increment, as Google's
    code documents (lr = 0 at step 0).

    Args:
      grads: list of gradients (already all-reduced across replicas), aligned
        with `variables`.
      variables: list of the trained variables.
      global_step: the int64 step variable (`create_global_step`).
      should_apply: optional bool scalar; when False neither the variables nor
        the step change (dynamic loss scaling skips the step, as NVIDIA's
        BERT does).

    Returns:
      The float32 learning rate of this step.
    """
    learning_rate = self.learning_rate_at(global_step)
    grads = [None if checkpoints.variable_name(v) in self.excluded_variables
             else g for g, v in zip(grads, variables)]
    # Clipping is `g * scale` (tf.clip_by_global_norm's product), done inside
    # each variable's update rather than as a clipped copy of every gradient.
    grad_scale = global_norm_scale(grads, self.clip_norm)
    grads_and_vars = [(g, v) for g, v in zip(grads, variables) if g is not None]
    self._apply(grads_and_vars, learning_rate, should_apply, global_step,
                grad_scale)
    return learning_rate

  def _apply(self, grads_and_vars, learning_rate, should_apply, global_step,
             grad_scale=None):
    """Runs `_distributed_apply` in the cross-replica context."""
    missing = [checkpoints.variable_name(v) for _, v in grads_and_vars
               if checkpoints.variable_name(v) not in self._slots]
    in_replica = not tf.distribute.in_cross_replica_context()
    if missing and in_replica and tf.distribute.has_strategy():
      raise ValueError(
          "Optimizer slots are missing for %s: call create_slots(variables) "
          "under strategy.scope() before training" % missing[:3])
    # Creates what is missing; checks that no two variables share a name.
    self.create_slots([v for _, v in grads_and_vars])
    args = (grads_and_vars, learning_rate, should_apply, global_step,
            grad_scale)
    if tf.distribute.in_cross_replica_context():
      self._distributed_apply(tf.distribute.get_strategy(), *args)
    else:
      tf.distribute.get_replica_context().merge_call(
          self._distributed_apply, args=args)

  def _distributed_apply(self, strategy, grads_and_vars, learning_rate,
                         should_apply, global_step, grad_scale):
    """Updates every variable on every device (cross-replica context)."""
    updates = []
    # The fused kernel only with one copy of each variable here: with several
    # local devices (MirroredStrategy) TensorFlow reuses its trace for the
    # device copies of other variables of the same shape, and the update of
    # one went to the slots of another.
    fused = self.fused_update and _local_copies(strategy) == 1
    for grad, var in grads_and_vars:
      name = checkpoints.variable_name(var)
      m, v = self._slots[name]
      updates.append(
          strategy.extended.update(
              var, self._update_fn(name, fused),
              args=(grad, m, v, learning_rate, should_apply, grad_scale),
              group=True))
    if global_step is not None:
      with tf.control_dependencies(updates):
        strategy.extended.update(global_step, _increment,
                                 args=(should_apply,), group=True)

  def _update_fn(self, param_name, fused=False):
    """The per-device update function of parameter `param_name` (`fused`:
    AdamWeightDecayOptimizer's one-kernel update)."""

    def update(param, grad, m, v, learning_rate, should_apply, grad_scale):
      """Assigns param, m, v (all on one device)."""

      def assign():
        if fused:
          decay = (self.weight_decay_rate
                   if self._do_use_weight_decay(param_name) else 0.0)
          # A tensor rate: a Python float would compile a kernel per value.
          return tf.group(self._fused_step(
              param, grad, m, v, tf.cast(learning_rate, tf.float32),
              grad_scale, tf.constant(0), self.beta_1, self.beta_2,
              self.epsilon, decay))
        next_param, next_m, next_v = self._compute_update(
            param_name, param, _scaled(grad, grad_scale), m, v, learning_rate)
        return tf.group(param.assign(next_param), m.assign(next_m),
                        v.assign(next_v))

      # Every assignment waits for the rate: a schedule may refuse the step
      # (`_refuse_steps_before`), and then nothing may change.
      with tf.control_dependencies(
          [learning_rate] if tf.is_tensor(learning_rate) else []):
        if should_apply is None:
          return assign()
        return tf.cond(should_apply, assign, tf.no_op)

    return update

  def _adam_update(self, param_name, param, grad, m, v):
    """Google's Adam direction plus weight decay.

    Args:
      param_name: variable name without ":0".
      param: the parameter value (any shape).
      grad: its gradient (same shape).
      m: first moment (same shape).
      v: second moment (same shape).

    Returns:
      (update, next_m, next_v), tensors of param's shape.
    """
    # Gradients of a float16 computation may arrive as float16.
    grad = tf.cast(tf.convert_to_tensor(grad), m.dtype)
    # 1.0 - beta is computed in Python (float64) as Google does, then cast.
    next_m = (tf.multiply(self.beta_1, m) +
              tf.multiply(1.0 - self.beta_1, grad))
    next_v = (tf.multiply(self.beta_2, v) +
              tf.multiply(1.0 - self.beta_2, tf.square(grad)))
    update = next_m / (tf.sqrt(next_v) + self.epsilon)
    # Decoupled weight decay: adding the square of the weights to the loss
    # would interact with m and v; decaying the weights directly does not.
    if self._do_use_weight_decay(param_name):
      update += self.weight_decay_rate * param
    return update, next_m, next_v

  def _compute_update(self, param_name, param, grad, m, v, learning_rate):
    """-> (next_param, next_m, next_v) of Google's AdamWeightDecay step."""
    update, next_m, next_v = self._adam_update(param_name, param, grad, m, v)
    next_param = param - learning_rate * update
    return next_param, next_m, next_v

  def _do_use_weight_decay(self, param_name):
    """Whether to use L2 weight decay for `param_name`."""
    if not self.weight_decay_rate:
      return False
    return not _matches_any(self.exclude_from_weight_decay, param_name)


class LAMBOptimizer(AdamWeightDecayOptimizer):
  """LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning").

  As in ALBERT's LAMBOptimizer: the AdamWeightDecay direction `u` (no bias
  correction, decoupled weight decay) is scaled per variable by the trust
  ratio ||p|| / ||u|| (1.0 when either norm is 0):  p = p - ratio * lr * u.
  Variables matching `exclude_from_layer_adaptation` (default: the weight
  decay exclusions) use ratio 1.0.
  """

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               exclude_from_layer_adaptation=None,
               name="LAMBOptimizer",
               **kwargs):
    """Constructs a LAMBOptimizer (ALBERT's positional arguments).

    Args:
      learning_rate: see AdamWeightDecayOptimizer.
      weight_decay_rate: float.
      beta_1: float.
      beta_2: float.
      epsilon: float.
      exclude_from_weight_decay: list of regular expressions (re.search).
      exclude_from_layer_adaptation: list of regular expressions of variables
        without trust ratio; None or empty: `exclude_from_weight_decay`.
      name: string.
      **kwargs: AdamWeightDecayOptimizer's other keyword arguments
        (clip_norm, excluded_variables).
    """
    # The trust ratio needs the norms of the whole update: op by op.
    kwargs["fused_update"] = False
    super(LAMBOptimizer, self).__init__(
        learning_rate, weight_decay_rate=weight_decay_rate, beta_1=beta_1,
        beta_2=beta_2, epsilon=epsilon,
        exclude_from_weight_decay=exclude_from_weight_decay, name=name,
        **kwargs)
    self.exclude_from_layer_adaptation = (
        exclude_from_layer_adaptation or self.exclude_from_weight_decay)

  def _compute_update(self, param_name, param, grad, m, v, learning_rate):
    """-> (next_param, next_m, next_v) of the LAMB step."""
    update, next_m, next_v = self._adam_update(param_name, param, grad, m, v)
    ratio = 1.0
    if not _matches_any(self.exclude_from_layer_adaptation, param_name):
      w_norm = tf.norm(param, ord=2)
      g_norm = tf.norm(update, ord=2)
      ratio = tf.where(w_norm > 0,
                       tf.where(g_norm > 0, w_norm / g_norm, 1.0), 1.0)
    next_param = param - ratio * learning_rate * update
    return next_param, next_m, next_v


class GradientAccumulator(tf.Module):
  """Sums the gradients of k micro-batches so that one update sees them all.

  With the mean loss of each micro-batch, the mean of the k accumulated
  gradients (`gradients()`) equals the gradient of the mean loss over the k
  micro-batches together: k micro-batches of size b give the update of one
  batch of size k*b.

  The sums are SyncOnRead variables: inside `strategy.run` every replica adds
  to its own copy without communication, and the loop all-reduces the result
  once per update. They are named `<variable>/accum_grad`, are not trainable
  and are not meant to be checkpointed (a checkpoint is written between
  updates, when they hold zeros).
  """

  def __init__(self, variables, name="GradientAccumulator"):
    """Creates the zero sums, once (under `strategy.scope()` if distributing).

    Args:
      variables: list of the trained `tf.Variable`s, in the order the
        gradients will be passed.
      name: string, name of this module.
    """
    super(GradientAccumulator, self).__init__(name=name)
    on_read = dict(trainable=False,
                   synchronization=tf.VariableSynchronization.ON_READ)
    with tf.init_scope():
      self._sums = [
          tf.Variable(tf.zeros(v.shape, v.dtype),
                      name=checkpoints.variable_name(v) + "/accum_grad",
                      aggregation=tf.VariableAggregation.SUM, **on_read)
          for v in variables]
      self._count = tf.Variable(
          0, dtype=tf.int64, name="accum_grad_count",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA, **on_read)
    # Which variables the loss reaches is fixed by the model; `accumulate`
    # (traced first) records it so that `gradients` gives None for the others.
    self._reached = None

  def accumulate(self, grads):
    """Adds one micro-batch's gradients (a list aligned with the variables).

    Args:
      grads: list of tensors (None for a variable without gradient).
    """
    self._reached = [grad is not None for grad in grads]
    for total, grad in zip(self._sums, grads):
      if grad is not None:
        total.assign_add(tf.cast(grad, total.dtype))
    self._count.assign_add(1)

  def gradients(self):
    """The mean of the accumulated gradients (this replica's, in a replica).

    Returns:
      list of tensors, one per variable (None for a variable `accumulate` was
      given no gradient for).
    """
    count = tf.cast(self._count, self._sums[0].dtype)
    reached = self._reached or [True] * len(self._sums)
    return [total / count if r else None
            for total, r in zip(self._sums, reached)]

  def reset(self):
    """Sets the sums and the count back to zero (after an update)."""
    for total in self._sums:
      total.assign(tf.zeros_like(total))
    self._count.assign(0)


class DynamicLossScale(tf.Module):
  """Dynamic loss scaling for float16 compute.

  The loss is multiplied by the scale before differentiation so that small
  float16 gradients do not flush to zero; the gradients are divided by it
  again. When a gradient is not finite the step is skipped and the scale
  halved (not below 1); after `growth_interval` finite steps in a row it is
  doubled (unless that overflows).
  """

  def __init__(self, initial_scale=2.0**15, growth_interval=2000,
               multiplier=2.0, name="DynamicLossScale"):
    """Creates the scale and the count of good steps.

    Args:
      initial_scale: float.
      growth_interval: int, finite steps in a row before the scale grows.
      multiplier: float, factor of growth and of reduction.
      name: string, name of this module.
    """
    super(DynamicLossScale, self).__init__(name=name)
    self.growth_interval = growth_interval
    self.multiplier = multiplier
    # Every replica computes the same update from all-reduced gradients.
    first = tf.VariableAggregation.ONLY_FIRST_REPLICA
    with tf.init_scope():
      self.loss_scale = tf.Variable(initial_scale, dtype=tf.float32,
                                    trainable=False, name="current_loss_scale",
                                    aggregation=first)
      self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False,
                                    name="good_steps", aggregation=first)

  def scale_loss(self, loss):
    """loss * scale, in the loss's dtype."""
    return loss * tf.cast(self.loss_scale, loss.dtype)

  def unscale(self, grads):
    """Gradients / scale, as float32 (None entries kept).

    Args:
      grads: list of gradient tensors of the scaled loss.

    Returns:
      list of float32 tensors.
    """
    inverse = 1.0 / self.loss_scale
    return [None if g is None else tf.cast(g, tf.float32) * inverse
            for g in grads]

  def update(self, grads):
    """Adjusts the scale after a step with (unscaled) `grads`.

    Args:
      grads: list of gradient tensors (None entries ignored), the same on
        every replica.

    Returns:
      bool scalar tensor: whether every gradient is finite, i.e. whether the
      step may be applied (pass it as `should_apply`).
    """
    finite = tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(g)) for g in grads if g is not None])
    good_steps = self.good_steps + 1
    grow = tf.logical_and(finite, good_steps >= self.growth_interval)
    grown = self.loss_scale * self.multiplier
    grown = tf.where(tf.math.is_finite(grown), grown, self.loss_scale)
    shrunk = tf.maximum(self.loss_scale / self.multiplier, 1.0)
    new_scale = tf.where(finite, tf.where(grow, grown, self.loss_scale), shrunk)
    # tf.where rather than tf.cond: a MirroredVariable assigned in a replica
    # context uses merge_call, which must not run inside a tf.cond branch.
    new_good_steps = tf.where(tf.logical_and(finite, tf.logical_not(grow)),
                              good_steps, tf.zeros_like(good_steps))
    self.loss_scale.assign(new_scale)
    self.good_steps.assign(new_good_steps)
    return finite
