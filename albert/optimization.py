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
"""ALBERT's optimization.py: `create_optimizer` with ALBERT's arguments.

The optimizers and the schedule are the shared ones (optimization.py);
ALBERT adds the polynomial power of the decay and a warmup start to BERT's
schedule. One difference from ALBERT, on purpose: a step taken before
`start_warmup_step`, where ALBERT's rate is negative, is refused (see
`optimization._refuse_steps_before` and the README).
"""

import optimization as shared_optimization
# ALBERT's public names.
from optimization import AdamWeightDecayOptimizer  # pylint: disable=unused-import
from albert.lamb_optimizer import LAMBOptimizer  # pylint: disable=unused-import


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu,
                     optimizer="adamw", poly_power=1.0, start_warmup_step=0,
                     colocate_gradients_with_ops=False, excluded_tvars=None):
  """Creates the optimizer ALBERT's `create_optimizer` builds its train op with.

  TF2 has no graph train op: the training loop computes the gradients and
  calls `optimizer.apply_step(grads, variables, global_step)`, which does what
  ALBERT's train op does: rate from the step (before its increment),
  clipping to a global norm of 1.0, update, `global_step += 1`.

  Args:
    loss: ignored (the loop's tf.GradientTape takes the gradients); may be
      None.
    init_lr: float, peak learning rate.
    num_train_steps: int, the step at which the rate reaches 0.
    num_warmup_steps: int or None, linear warmup steps.
    use_tpu: ignored (the loop all-reduces gradients under any strategy).
    optimizer: "adamw" or "lamb", each with ALBERT's settings (weight decay
      0.01, betas 0.9 / 0.999, epsilon 1e-6, no decay and no trust ratio for
      names containing LayerNorm, layer_norm or bias).
    poly_power: float, power of the polynomial decay.
    start_warmup_step: int, the step at which the linear warmup starts; a step
      taken before it raises tf.errors.InvalidArgumentError and changes
      nothing (ALBERT applies a negative rate there).
    colocate_gradients_with_ops: ignored (TF2 places each gradient with its
      forward op).
    excluded_tvars: list of variable names (`"name:0"` as ALBERT compares
      them, or without the suffix) that are not trained. ALBERT removes them
      from a list while iterating over it, which keeps the second of two
      adjacent excluded variables trainable; here all of them are excluded.

  Returns:
    An `optimization.AdamWeightDecayOptimizer` or `LAMBOptimizer`.

  Raises:
    ValueError: for an unknown `optimizer`.
  """
  del colocate_gradients_with_ops  # See the docstring.
  return shared_optimization.create_optimizer(
      loss, init_lr, num_train_steps, num_warmup_steps, use_tpu,
      optimizer=optimizer, poly_power=poly_power,
      start_warmup_step=start_warmup_step, excluded_variables=excluded_tvars)
