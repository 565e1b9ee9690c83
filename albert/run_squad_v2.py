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
"""Run ALBERT on SQuAD v2.0 using sentence piece tokenization.

google-research/albert's run_squad_v2.py for TensorFlow 2, with ALBERT's
flags and defaults (`python -m albert.run_squad_v2 --albert_config_file=...
--spm_model_file=... --output_dir=... --do_train --do_predict ...`): ALBERT's
features (albert/squad_utils.py, cached in --train_feature_file,
--predict_feature_file and --predict_feature_left_file), ALBERT's SQuAD 2.0
head (start and end beams, --start_n_top / --end_n_top, and an answerability
logit; heads.SquadV2Head) and loss, and its do_predict: every checkpoint is
scored by evaluate_v2 (predictions written with the null threshold that
maximises F1, official SQuAD 2.0 metrics), the best kept as
model.ckpt-best (eval_results.txt, predictions.json, nbest_predictions.json,
null_odds.json). The task is tasks/albert_squad.py, the driver
task_lib.run, so the shared runtime flags (--precision, --use_xla,
--distribution, --gradient_accumulation_steps, --optimizer, --seed) work.
"""

from absl import flags
from absl import logging

import task_lib
from tasks import albert_squad

FLAGS = flags.FLAGS

albert_squad.define_flags(version_2_with_negative=True)


def validate_flags_or_throw(albert_config):
  """Validate the input FLAGS or throw an exception naming the flag.

  Args:
    albert_config: the AlbertConfig of --albert_config_file.

  Raises:
    validation.UsageError (a ValueError).
  """
  albert_squad.check_flags(FLAGS, albert_config,
                           version_2_with_negative=True)


def main(_):
  logging.set_verbosity(logging.INFO)
  albert_squad.run_main(FLAGS, version_2_with_negative=True)


if __name__ == "__main__":
  task_lib.app_main(main, ["spm_model_file", "albert_config_file",
                           "output_dir"])
