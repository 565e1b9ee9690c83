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
"""Run masked LM/next sentence masked_lm pre-training for BERT (TensorFlow 2).

Google's flags, record format, heads, losses, metrics and eval_results.txt; the
task is tasks/pretraining.py, the loop (strategies, TPUs, checkpoints, mixed
precision, XLA, accumulation) estimator_lib.py, driven by task_lib.run.
Google's importable names stay here.
"""

from absl import flags
from absl import logging
import tensorflow as tf

import encoders
import estimator_lib
import heads
import io_lib
import task_lib
import validation
from tasks import pretraining
from tasks import pretraining_data
import validation
# Google's names (and ours that users import), from where they live now.
from tasks.pretraining_data import check_input_files  # pylint: disable=unused-import
from tasks.pretraining_data import input_fn_builder  # pylint: disable=unused-import
from tasks.pretraining_data import RECORD_FEATURES  # pylint: disable=unused-import

# bert_config_file, output_dir, init_checkpoint, max_seq_length,
# do_train/do_eval, batch sizes, learning_rate, save_checkpoints_steps,
# iterations_per_loop, Google's TPU flags and the runtime flags.
task_lib.define_shared_flags(
    ["encoder_family", "bert_config_file", "output_dir", "init_checkpoint",
     "max_seq_length", "do_train", "do_eval", "train_batch_size",
     "eval_batch_size", "learning_rate", "save_checkpoints_steps",
     "iterations_per_loop", "vocab_file"])

# input_file, max_predictions_per_seq, num_train_steps, num_warmup_steps,
# max_eval_steps, and (new) eval_input_file.
pretraining.define_flags(num_train_steps=100000, num_warmup_steps=10000)

# Beyond Google's: continued (domain) pretraining.
estimator_lib.define_flag(flags.DEFINE_bool, "next_sentence_prediction", None,
    "Train the next-sentence head. Default: when the records have "
    "next_sentence_labels (their F.json sidecar, else the first record). "
    "False trains masked-LM only (the head and the pooler are kept as the "
    "init checkpoint has them).")

estimator_lib.define_flag(flags.DEFINE_enum, "masking", None,
    ["static", "dynamic"],
    "How the records were masked (default: from their sidecar, else their "
    "features). dynamic: the input pipeline draws new masks for every "
    "example and epoch, keyed by --seed (needs --vocab_file).")

estimator_lib.define_flag(flags.DEFINE_float, "masked_lm_prob", None,
    "With dynamic masking: the masked share (default: the sidecar's, else "
    "0.15).")

estimator_lib.define_flag(flags.DEFINE_bool, "do_whole_word_mask", None,
    "With dynamic masking: mask whole words (default: the sidecar's, else "
    "False).")


FLAGS = flags.FLAGS

gather_indexes = heads.gather_indexes


def expand_input_files(input_file):
  """Google's `--input_file`: comma-separated globs -> list of files.

  Raises:
    ValueError: a pattern matches no file (naming it).
  """
  return io_lib.expand_globs(input_file, "--input_file")


class BertPretrainingModel(pretraining.PretrainingModel):
  """BertModel plus the two pre-training heads (all of Google's variables)."""

  def __init__(self, bert_config, use_one_hot_embeddings=False,
               compute_dtype=tf.float32):
    """Creates every variable.

    Args:
      bert_config: a config of a registered family (modeling.BertConfig).
      use_one_hot_embeddings: bool (TPUs).
      compute_dtype: dtype of the matrix multiplications.
    """
    super().__init__(
        encoders.EncoderSpec.from_config(bert_config).create(
            compute_dtype=compute_dtype,
            use_one_hot_embeddings=use_one_hot_embeddings),
        compute_dtype=compute_dtype)


def get_masked_lm_output(bert_config, input_tensor, output_weights, positions,
                         label_ids, label_weights, head,
                         compute_dtype=tf.float32):
  """Get loss and log probs for the masked LM (Google's name).

  Args:
    bert_config: the encoder's config (unused: the head knows its sizes).
    input_tensor: float32 [batch_size, seq_length, hidden_size], the sequence
      output; with `positions` None, [batch_size, max_predictions_per_seq,
      hidden_size], the sequence output already at the masked positions.
    output_weights: [vocab_size, embedding_size], the word embedding table
      (the output layer is tied to it).
    positions: int32 [batch_size, max_predictions_per_seq], or None (see
      `input_tensor`).
    label_ids: int32 [batch_size, max_predictions_per_seq].
    label_weights: float32 [batch_size, max_predictions_per_seq].
    head: heads.MaskedLMHead holding `cls/predictions/*` (TF2 functions
      cannot create variables, so they are passed in).
    compute_dtype: dtype of the two matrix multiplications.

  Returns:
    (loss scalar, per_example_loss [batch_size * P], log_probs
    [batch_size * P, vocab_size]), float32.
  """
  del bert_config
  if positions is not None:
    input_tensor = heads.gather_indexes(input_tensor, positions)
  return heads.masked_lm_output(head, input_tensor, output_weights, label_ids,
                                label_weights, compute_dtype)


def get_next_sentence_output(bert_config, input_tensor, labels, head):
  """Get loss and log probs for the next sentence prediction (Google's name).

  Args:
    bert_config: unused (Google's signature).
    input_tensor: float32 [batch_size, hidden_size], the pooled output.
    labels: int32 [batch_size] or [batch_size, 1]; 0 = is next, 1 = random.
    head: heads.SentenceRelationHead holding `cls/seq_relationship/*`.

  Returns:
    (loss scalar, per_example_loss [batch_size], log_probs [batch_size, 2]).
  """
  del bert_config
  return heads.sentence_relation_output(head, input_tensor, labels)


def model_fn_builder(bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer="adamw"):
  """Returns the pre-training `ModelFn` for the Estimator (Google's args).

  Args:
    bert_config: modeling.BertConfig.
    init_checkpoint: warm-start checkpoint or None; the ModelFn loads it into
      the model it creates, as Google's model_fn did.
    learning_rate: float, peak learning rate.
    num_train_steps: int.
    num_warmup_steps: int.
    use_tpu: bool.
    use_one_hot_embeddings: bool.
    optimizer: "adamw" or "lamb".
  """
  return task_lib.google_model_fn(
      pretraining.PretrainingTask, bert_config, init_checkpoint,
      learning_rate, num_train_steps, num_warmup_steps, use_tpu,
      use_one_hot_embeddings, optimizer)


def given(name):
  """A layout flag's value when given, else None (the records decide).

  create_pretraining_data.py defines flags of these names with other
  defaults; imported into one process (tests, notebooks), its definition may
  be the one FLAGS holds, so only a value set on the command line counts.
  """
  return FLAGS[name].value if FLAGS[name].present else None


def main(_):
  logging.set_verbosity(logging.INFO)

  if not FLAGS.do_train and not FLAGS.do_eval:
    raise validation.UsageError(
        "At least one of --do_train or --do_eval must be True.")

  family, bert_config = encoders.load_config(FLAGS.bert_config_file,
                                             FLAGS.encoder_family)
  pretraining.check_max_seq_length(bert_config, FLAGS.max_seq_length,
                                   FLAGS.bert_config_file)

  # The strategy first: multi-worker and TPU set-up precede other TF work.
  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)
  tf.io.gfile.makedirs(FLAGS.output_dir)

  records = pretraining_data.prepare_records(
      FLAGS.input_file, FLAGS.eval_input_file, FLAGS.max_seq_length,
      FLAGS.max_predictions_per_seq, bert_config.vocab_size, FLAGS.do_train,
      FLAGS.do_eval, given("next_sentence_prediction"), given("masking"),
      given("masked_lm_prob"), given("do_whole_word_mask"), FLAGS.vocab_file)
  task = pretraining.PretrainingTask(
      task_lib.settings_from_flags(FLAGS),
      encoders.EncoderSpec(family, bert_config),
      max_seq_length=FLAGS.max_seq_length,
      max_predictions_per_seq=FLAGS.max_predictions_per_seq,
      use_one_hot_embeddings=FLAGS.use_tpu, vocab_file=FLAGS.vocab_file,
      **records)
  task_lib.run(task, task.settings, run_config)


if __name__ == "__main__":
  task_lib.app_main(main, ["input_file", "bert_config_file", "output_dir"])
