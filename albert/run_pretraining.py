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
"""Run masked LM/sentence order pre-training for ALBERT (TensorFlow 2).

  python -m albert.run_pretraining --input_file=out.tfrecord \\
    --output_dir=/tmp/albert --albert_config_file=albert_config.json

ALBERT's flags, names and defaults (LAMB, 4096 x 512, 125000 steps,
`--poly_power`, `--start_warmup_step`, `--init_from_group0`), records
(albert/create_pretraining_data.py's eight features: `token_boundary` is not
read; the sentence-order label is `next_sentence_labels`), heads and
eval_results.txt keys (`sentence_order_accuracy`, `sentence_order_loss`).
It is the shared pre-training task (tasks/pretraining.py) with the "albert"
encoder family; the loop, resume, strategies and precision are BERT's.

Decisions (see the README's ALBERT section):
* records made with --do_permutation hold masked-LM arrays of twice
  --max_predictions_per_seq, as in ALBERT; pass their length
  (--max_predictions_per_seq=2N), as ALBERT's run_pretraining needs (the
  sidecar check says so);
* a --start_warmup_step after the step training starts from is refused
  (ALBERT trains those steps with negative learning rates);
* --do_eval follows the checkpoints until --num_train_steps as ALBERT's,
  evaluating each once; the best by masked_lm_accuracy is copied to
  model.ckpt-best (logged; ALBERT also writes those lines into
  eval_results.txt); `masked_lm_perplexity` is added;
* --masked_lm_budget > 0, which ALBERT's own script cannot run (its model
  then reads features its input omits), is refused.
"""

import copy
import functools

from absl import flags
from absl import logging
import tensorflow as tf

from albert import modeling
import encoders
import estimator_lib
import heads
import task_lib
from tasks import pretraining
from tasks import pretraining_data
import validation

# ALBERT's default optimizer, defined before the shared runtime flags (whose
# --optimizer defaults to adamw, BERT's).
estimator_lib.define_flag(flags.DEFINE_enum, "optimizer", "lamb",
                          ["adamw", "lamb"], "The optimizer for training.")

task_lib.define_shared_flags(
    ["output_dir", "init_checkpoint", "max_seq_length", "do_train", "do_eval",
     "train_batch_size", "eval_batch_size", "learning_rate",
     "save_checkpoints_steps", "iterations_per_loop"],
    max_seq_length=512, do_train=True, train_batch_size=4096,
    eval_batch_size=64, learning_rate=0.00176, save_checkpoints_steps=5000)

estimator_lib.define_flag(
    flags.DEFINE_string, "albert_config_file", None,
    "The config json file corresponding to the pre-trained ALBERT model. "
    "This specifies the model architecture.")

# input_file, max_predictions_per_seq, num_train_steps, num_warmup_steps,
# max_eval_steps, and (new) eval_input_file.
pretraining.define_flags(num_train_steps=125000, num_warmup_steps=3125)

estimator_lib.define_flag(flags.DEFINE_float, "poly_power", 1.0,
                          "The power of poly decay.")

estimator_lib.define_flag(flags.DEFINE_integer, "start_warmup_step", 0,
                          "The starting step of warmup.")

estimator_lib.define_flag(
    flags.DEFINE_bool, "init_from_group0", False,
    "Whether to initialize parameters of other groups from group 0")

estimator_lib.define_flag(
    flags.DEFINE_float, "masked_lm_budget", 0,
    "If >0, the ratio of masked ngrams to unmasked ngrams. Default 0,"
    "for offline masking")

FLAGS = flags.FLAGS


gather_indexes = heads.gather_indexes


def get_masked_lm_output(albert_config, input_tensor, output_weights,
                         positions, label_ids, label_weights, head):
  """Get loss and log probs for the masked LM (ALBERT's name).

  Args:
    albert_config: the AlbertConfig (unused: the head knows its sizes).
    input_tensor: float32 [batch_size, seq_length, hidden_size], the sequence
      output.
    output_weights: [vocab_size, embedding_size], the word embedding table.
    positions: int32 [batch_size, max_predictions_per_seq].
    label_ids: int32 [batch_size, max_predictions_per_seq].
    label_weights: float32 [batch_size, max_predictions_per_seq].
    head: heads.MaskedLMHead holding `cls/predictions/*` (H -> E transform).

  Returns:
    (loss scalar, per_example_loss [batch_size * P], log_probs
    [batch_size * P, vocab_size]), float32.
  """
  del albert_config
  return heads.masked_lm_output(head, gather_indexes(input_tensor, positions),
                                output_weights, label_ids, label_weights)


def get_sentence_order_output(albert_config, input_tensor, labels, head):
  """Get loss and log probs for the sentence order prediction (ALBERT's name).

  Args:
    albert_config: unused (ALBERT's signature).
    input_tensor: float32 [batch_size, hidden_size], the pooled output.
    labels: int32 [batch_size] or [batch_size, 1]; 1 = swapped or random.
    head: heads.SentenceRelationHead holding `cls/seq_relationship/*`.

  Returns:
    (loss scalar, per_example_loss [batch_size], log_probs [batch_size, 2]).
  """
  del albert_config
  return heads.sentence_relation_output(head, input_tensor, labels)


def input_fn_builder(input_files, max_seq_length, max_predictions_per_seq,
                     is_training, num_cpu_threads=4):
  """ALBERT's input_fn (its records; `token_boundary` is not read).

  Returns:
    input_fn(params) -> tf.data.Dataset (see pretraining_data's).
  """
  return pretraining_data.input_fn_builder(
      input_files, max_seq_length, max_predictions_per_seq, is_training,
      num_cpu_threads)


def _decode_record(record, name_to_features):
  """Decodes a record to a TensorFlow example (int64 -> int32)."""
  example = estimator_lib.decode_records(record[None], name_to_features)
  return {name: value[0] for name, value in example.items()}


def model_fn_builder(albert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer, poly_power,
                     start_warmup_step):
  """Returns the pre-training `ModelFn` for the Estimator (ALBERT's args).

  Args:
    albert_config: modeling.AlbertConfig.
    init_checkpoint: warm-start checkpoint or None (loaded by the ModelFn
      into the model it creates, as ALBERT's model_fn did).
    learning_rate, num_train_steps, num_warmup_steps: the schedule.
    use_tpu, use_one_hot_embeddings: bool.
    optimizer: "adamw" or "lamb".
    poly_power, start_warmup_step: ALBERT's schedule.
  """
  return task_lib.google_model_fn(
      pretraining.PretrainingTask, albert_config, init_checkpoint,
      learning_rate, num_train_steps, num_warmup_steps, use_tpu,
      use_one_hot_embeddings, optimizer,
      relation_name=pretraining.SENTENCE_ORDER, poly_power=poly_power,
      start_warmup_step=start_warmup_step)


def init_groups(albert_config, init_from_group0):
  """ALBERT's number of groups the warm start fills (run_pretraining's
  num_of_initialize_group): 1, or with --init_from_group0 every group (every
  layer with net_structure_type > 0)."""
  if not init_from_group0:
    return 1
  if getattr(albert_config, "net_structure_type", 0) > 0:
    return albert_config.num_hidden_layers
  return albert_config.num_hidden_groups


def main(_):
  logging.set_verbosity(logging.INFO)

  if not FLAGS.do_train and not FLAGS.do_eval:
    raise validation.UsageError(
        "At least one of --do_train or --do_eval must be True.")
  if FLAGS.masked_lm_budget:
    raise validation.UsageError(
        "--masked_lm_budget=%s: masking in the input pipeline by a budget is "
        "not implemented in ALBERT's run_pretraining either (its model then "
        "reads masked_lm_positions, which that input leaves out); use 0 "
        "(records masked by albert.create_pretraining_data)" %
        FLAGS.masked_lm_budget)

  family, albert_config = encoders.load_config(FLAGS.albert_config_file,
                                               "albert")
  pretraining.check_max_seq_length(albert_config, FLAGS.max_seq_length,
                                   FLAGS.albert_config_file)

  # The strategy first: multi-worker and TPU set-up precede other TF work.
  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)
  tf.io.gfile.makedirs(FLAGS.output_dir)

  records = pretraining_data.prepare_records(
      FLAGS.input_file, FLAGS.eval_input_file, FLAGS.max_seq_length,
      FLAGS.max_predictions_per_seq, albert_config.vocab_size, FLAGS.do_train,
      FLAGS.do_eval)
  settings = task_lib.settings_from_flags(FLAGS)
  task = pretraining.PretrainingTask(
      settings, encoders.EncoderSpec(family, albert_config),
      max_seq_length=FLAGS.max_seq_length,
      max_predictions_per_seq=FLAGS.max_predictions_per_seq,
      use_one_hot_embeddings=FLAGS.use_tpu,
      relation_name=pretraining.SENTENCE_ORDER,
      restore_fn=functools.partial(
          modeling.init_from_checkpoint,
          num_of_group=init_groups(albert_config, FLAGS.init_from_group0)),
      poly_power=FLAGS.poly_power, start_warmup_step=FLAGS.start_warmup_step,
      **records)
  # Training through the driver; ALBERT's evaluation follows the checkpoints.
  train_settings = copy.copy(settings)
  train_settings.do_eval = False
  estimator = task_lib.run(task, train_settings, run_config)
  if FLAGS.do_eval and run_config.is_chief:
    pretraining.evaluate_checkpoints(task, estimator, task.eval_input(),
                                     FLAGS.output_dir, FLAGS.num_train_steps)


if __name__ == "__main__":
  task_lib.app_main(main, ["input_file", "albert_config_file", "output_dir"])
