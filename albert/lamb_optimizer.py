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
"""ALBERT's lamb_optimizer.py: its `LAMBOptimizer`, from the shared code.

`LAMBOptimizer(learning_rate, weight_decay_rate=0.0, beta_1=0.9,
beta_2=0.999, epsilon=1e-6, exclude_from_weight_decay=None,
exclude_from_layer_adaptation=None, name="LAMBOptimizer")` takes ALBERT's
arguments in ALBERT's order and makes ALBERT's update (no bias correction,
decoupled weight decay, trust ratio ||p|| / ||u|| per variable, 1.0 for the
excluded names) with slots named `<variable>/adam_m` and `<variable>/adam_v`.
It is a tf.Module: a training step is `apply_step(grads, variables,
global_step)` (see optimization.py).
"""

from optimization import LAMBOptimizer  # pylint: disable=unused-import
