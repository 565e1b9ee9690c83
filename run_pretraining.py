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
loop (strategies, TPUs, checkpoints, mixed precision, XLA, accumulation) is
estimator_lib.py.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

import estimator_lib
import io_lib
import modeling


estimator_lib.define_flag(flags.DEFINE_string, "bert_config_file", None,
    "The config json file corresponding to the pre-trained BERT model. "
    "This specifies the model architecture.")

estimator_lib.define_flag(flags.DEFINE_string, "input_file", None,
    "Input TF example files (can be a glob or comma separated).")

estimator_lib.define_flag(flags.DEFINE_string, "output_dir", None,
    "The output directory where the model checkpoints will be written.")

estimator_lib.define_flag(flags.DEFINE_string, "init_checkpoint", None,
    "Initial checkpoint (usually from a pre-trained BERT model).")

estimator_lib.define_flag(flags.DEFINE_integer, "max_seq_length", 128,
    "The maximum total input sequence length after WordPiece tokenization. "
    "Sequences longer than this will be truncated, and sequences shorter "
    "than this will be padded. Must match data generation.")

estimator_lib.define_flag(flags.DEFINE_integer, "max_predictions_per_seq", 20,
    "Maximum number of masked LM predictions per sequence. "
    "Must match data generation.")

estimator_lib.define_flag(flags.DEFINE_bool, "do_train", False,
    "Whether to run training.")

estimator_lib.define_flag(flags.DEFINE_bool, "do_eval", False,
    "Whether to run eval on the dev set.")

estimator_lib.define_flag(flags.DEFINE_integer, "train_batch_size", 32,
    "Total batch size for training.")

estimator_lib.define_flag(flags.DEFINE_integer, "eval_batch_size", 8,
    "Total batch size for eval.")

estimator_lib.define_flag(flags.DEFINE_float, "learning_rate", 5e-5,
    "The initial learning rate for Adam.")

estimator_lib.define_flag(flags.DEFINE_integer, "num_train_steps", 100000,
    "Number of training steps.")

estimator_lib.define_flag(flags.DEFINE_integer, "num_warmup_steps", 10000,
    "Number of warmup steps.")

estimator_lib.define_flag(flags.DEFINE_integer, "save_checkpoints_steps", 1000,
    "How often to save the model checkpoint.")

estimator_lib.define_flag(flags.DEFINE_integer, "iterations_per_loop", 1000,
    "How many steps to make in each estimator call.")

estimator_lib.define_flag(flags.DEFINE_integer, "max_eval_steps", 100,
    "Maximum number of eval steps.")

estimator_lib.define_flags()

FLAGS = flags.FLAGS

# The record schema of create_pretraining_data.py: name -> (length flag, dtype).
RECORD_FEATURES = (
    ("input_ids", "max_seq_length", tf.int64),
    ("input_mask", "max_seq_length", tf.int64),
    ("segment_ids", "max_seq_length", tf.int64),
    ("masked_lm_positions", "max_predictions_per_seq", tf.int64),
    ("masked_lm_ids", "max_predictions_per_seq", tf.int64),
    ("masked_lm_weights", "max_predictions_per_seq", tf.float32),
    ("next_sentence_labels", None, tf.int64),
)


# ------------------------------------------------------------------- data


def expand_input_files(input_file):
  """Google's `--input_file`: comma-separated globs -> list of files.

  Raises:
    ValueError: a pattern matches no file (naming it).
  """
  return io_lib.expand_globs(input_file, "--input_file")


def _first_record_lengths(input_file):
  """Feature name -> length in the first record of `input_file`."""
  for raw in tf.data.TFRecordDataset(input_file).take(1):
    example = tf.train.Example.FromString(raw.numpy())
    lengths = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      lengths[name] = len(getattr(feature, kind).value) if kind else 0
    return lengths
  raise ValueError("%s holds no records." % input_file)


def check_input_files(input_files, max_seq_length, max_predictions_per_seq,
                      vocab_size=None):
  """Checks that the records were made with the same lengths as the flags.

  Google's parser fails with an obscure shape error on a mismatch. This reads
  the sidecar JSON written by create_pretraining_data.py (`F.json`) where there
  is one, else the first record of the file.

  Args:
    input_files: list of TFRecord files.
    max_seq_length: the `--max_seq_length` flag.
    max_predictions_per_seq: the `--max_predictions_per_seq` flag.
    vocab_size: the model's vocab_size, or None (checked against the sidecar).

  Raises:
    ValueError: naming the file, the feature or flag, and both lengths.
  """
  wanted = {"max_seq_length": max_seq_length,
            "max_predictions_per_seq": max_predictions_per_seq}
  for input_file in input_files:
    sidecar = input_file + ".json"
    if tf.io.gfile.exists(sidecar):
      with tf.io.gfile.GFile(sidecar) as f:
        meta = json.load(f)
      for flag, value in wanted.items():
        if flag in meta and int(meta[flag]) != value:
          raise ValueError(
              "%s was written with %s=%d (see %s) but --%s=%d; both must be "
              "equal." % (input_file, flag, meta[flag], sidecar, flag, value))
      if vocab_size and meta.get("vocab_size", 0) > vocab_size:
        raise ValueError(
            "%s was written with a vocabulary of %d tokens (see %s) but "
            "bert_config's vocab_size is %d." % (input_file, meta["vocab_size"],
                                                 sidecar, vocab_size))
      continue
    lengths = _first_record_lengths(input_file)
    for name, flag, _ in RECORD_FEATURES:
      if name not in lengths:
        raise ValueError("%s: the first record has no feature %r (is it a "
                         "pretraining record file?)" % (input_file, name))
      expected = wanted[flag] if flag else 1
      if lengths[name] != expected:
        raise ValueError(
            "%s: feature %s has length %d in the first record but --%s=%d; "
            "they must be equal (records from create_pretraining_data.py with "
            "the same flag)." % (input_file, name, lengths[name], flag or
                                 "next_sentence_labels length", expected))


def input_fn_builder(input_files,
                     max_seq_length,
                     max_predictions_per_seq,
                     is_training,
                     num_cpu_threads=4):
  """Creates an `input_fn` closure for the Estimator (Google's pipeline).

  Training: file list -> repeat -> shuffle(files) -> interleave(TFRecordDataset,
  min(num_cpu_threads, files)) -> shuffle(100) -> batch(drop_remainder). With
  `params["seed"]` the shuffles are seeded and the interleave deterministic,
  so the order is a function of the seed. Eval: the files in order, repeated.

  Args:
    input_files: list of TFRecord files.
    max_seq_length: int.
    max_predictions_per_seq: int.
    is_training: bool.
    num_cpu_threads: int, interleave cycle length (and parallel parsing).

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts: input_ids, input_mask,
    segment_ids [B, max_seq_length] int32; masked_lm_positions, masked_lm_ids
    [B, max_predictions_per_seq] int32; masked_lm_weights [B, P] float32;
    next_sentence_labels [B, 1] int32.
  """
  lengths = {"max_seq_length": max_seq_length,
             "max_predictions_per_seq": max_predictions_per_seq, None: 1}
  name_to_features = {
      name: tf.io.FixedLenFeature([lengths[flag]], dtype)
      for name, flag, dtype in RECORD_FEATURES
  }

  def input_fn(params):
    """The actual input function."""
    batch_size = params["batch_size"]
    seed = params.get("seed")
    context = params.get("input_context")
    files = list(input_files)
    if is_training:
      d = tf.data.Dataset.from_tensor_slices(tf.constant(files))
      if context and len(files) >= context.num_input_pipelines:
        d = d.shard(context.num_input_pipelines, context.input_pipeline_id)
        context = None
      d = d.repeat()
      d = d.shuffle(buffer_size=len(files), seed=seed)
      cycle_length = min(num_cpu_threads, len(files))
      d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length,
                       num_parallel_calls=cycle_length,
                       deterministic=seed is not None)
      if context:
        d = d.shard(context.num_input_pipelines, context.input_pipeline_id)
      d = d.shuffle(buffer_size=100, seed=seed)
    else:
      d = tf.data.TFRecordDataset(files)
      if context:
        d = d.shard(context.num_input_pipelines, context.input_pipeline_id)
      # A fixed number of eval steps: never run out of data (as Google).
      d = d.repeat()
    d = d.batch(batch_size, drop_remainder=True)
    d = d.map(lambda r: estimator_lib.decode_records(r, name_to_features),
              num_parallel_calls=tf.data.AUTOTUNE)
    return d.prefetch(tf.data.AUTOTUNE)

  return input_fn


# ------------------------------------------------------------------- model


class MaskedLMHead(tf.Module):
  """Google's `cls/predictions` variables: transform dense, LayerNorm, bias."""

  def __init__(self, bert_config):
    super().__init__(name="cls_predictions")
    h = bert_config.hidden_size
    init = modeling.create_initializer(bert_config.initializer_range)
    scope = "cls/predictions/transform"
    self.transform = modeling.Dense(scope + "/dense", h, h, init)
    self.layer_norm = modeling.LayerNorm(scope + "/LayerNorm", h)
    self.output_bias = tf.Variable(tf.zeros([bert_config.vocab_size]),
                                   name="cls/predictions/output_bias")


class NextSentenceHead(tf.Module):
  """Google's `cls/seq_relationship` variables ([2, H] weights, [2] bias)."""

  def __init__(self, bert_config):
    super().__init__(name="cls_seq_relationship")
    init = modeling.create_initializer(bert_config.initializer_range)
    self.output_weights = tf.Variable(
        init([2, bert_config.hidden_size]),
        name="cls/seq_relationship/output_weights")
    self.output_bias = tf.Variable(tf.zeros([2]),
                                   name="cls/seq_relationship/output_bias")


class BertPretrainingModel(tf.Module):
  """BertModel plus the two pre-training heads (all of Google's variables)."""

  def __init__(self, bert_config, use_one_hot_embeddings=False,
               compute_dtype=tf.float32):
    """Creates every variable.

    Args:
      bert_config: modeling.BertConfig.
      use_one_hot_embeddings: bool (TPUs).
      compute_dtype: dtype of the matrix multiplications.
    """
    super().__init__(name="bert_pretraining")
    self.bert_config = bert_config
    self.compute_dtype = tf.as_dtype(compute_dtype)
    self.bert = modeling.BertModel(
        bert_config, use_one_hot_embeddings=use_one_hot_embeddings,
        compute_dtype=compute_dtype)
    self.masked_lm = MaskedLMHead(bert_config)
    self.next_sentence = NextSentenceHead(bert_config)

  def __call__(self, features, training):
    """Runs BERT and both heads on a batch of pretraining features.

    Args:
      features: dict as produced by input_fn_builder's input_fn.
      training: bool, dropout on.

    Returns:
      dict: total_loss (scalar), masked_lm_loss, masked_lm_example_loss
      [B*P], masked_lm_log_probs [B*P, V], next_sentence_loss,
      next_sentence_example_loss [B], next_sentence_log_probs [B, 2].
    """
    # The heads read the last layer only at the masked positions (and the
    # pooler at position 0): BertModel computes that layer at those rows only.
    outputs = self.bert(features["input_ids"],
                        input_mask=features["input_mask"],
                        token_type_ids=features["segment_ids"],
                        training=training,
                        output_positions=features["masked_lm_positions"])
    (masked_lm_loss, masked_lm_example_loss,
     masked_lm_log_probs) = get_masked_lm_output(
         self.bert_config, outputs.sequence_output, outputs.embedding_table,
         None, features["masked_lm_ids"], features["masked_lm_weights"],
         head=self.masked_lm, compute_dtype=self.compute_dtype)
    (next_sentence_loss, next_sentence_example_loss,
     next_sentence_log_probs) = get_next_sentence_output(
         self.bert_config, outputs.pooled_output,
         features["next_sentence_labels"], head=self.next_sentence)
    return {
        "total_loss": masked_lm_loss + next_sentence_loss,
        "masked_lm_loss": masked_lm_loss,
        "masked_lm_example_loss": masked_lm_example_loss,
        "masked_lm_log_probs": masked_lm_log_probs,
        "next_sentence_loss": next_sentence_loss,
        "next_sentence_example_loss": next_sentence_example_loss,
        "next_sentence_log_probs": next_sentence_log_probs,
    }


def get_masked_lm_output(bert_config, input_tensor, output_weights, positions,
                         label_ids, label_weights, head,
                         compute_dtype=tf.float32):
  """Get loss and log probs for the masked LM.

  Args:
    bert_config: modeling.BertConfig.
    input_tensor: float32 [batch_size, seq_length, hidden_size], the sequence
      output; with `positions` None, [batch_size, max_predictions_per_seq,
      hidden_size], the sequence output already at the masked positions.
    output_weights: [vocab_size, hidden_size], the word embedding table (the
      output layer is tied to it).
    positions: int32 [batch_size, max_predictions_per_seq], or None (see
      `input_tensor`).
    label_ids: int32 [batch_size, max_predictions_per_seq].
    label_weights: float32 [batch_size, max_predictions_per_seq].
    head: MaskedLMHead holding `cls/predictions/*` (TF2 functions cannot create
      variables, so they are passed in).
    compute_dtype: dtype of the two matrix multiplications.

  Returns:
    (loss scalar, per_example_loss [batch_size * P], log_probs
    [batch_size * P, vocab_size]), float32.
  """
  if positions is None:
    input_tensor = tf.reshape(input_tensor, [-1, bert_config.hidden_size])
  else:
    input_tensor = gather_indexes(input_tensor, positions)
  act = modeling.get_activation(bert_config.hidden_act)
  input_tensor = head.transform(input_tensor, compute_dtype)
  if act is not None:
    input_tensor = act(input_tensor)
  input_tensor = head.layer_norm(input_tensor)

  logits = tf.matmul(tf.cast(input_tensor, compute_dtype),
                     tf.cast(output_weights, compute_dtype), transpose_b=True)
  logits = tf.cast(logits, tf.float32) + head.output_bias
  log_probs = tf.nn.log_softmax(logits, axis=-1)

  label_ids = tf.reshape(label_ids, [-1])
  label_weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
  one_hot_labels = tf.one_hot(label_ids, depth=bert_config.vocab_size,
                              dtype=tf.float32)

  # The padding predictions (weight 0) still have a loss; the weights remove
  # them from the mean. 1e-5 keeps an all-padding batch finite (Google's).
  per_example_loss = -tf.reduce_sum(log_probs * one_hot_labels, axis=[-1])
  numerator = tf.reduce_sum(label_weights * per_example_loss)
  denominator = tf.reduce_sum(label_weights) + 1e-5
  loss = numerator / denominator
  return loss, per_example_loss, log_probs


def get_next_sentence_output(bert_config, input_tensor, labels, head):
  """Get loss and log probs for the next sentence prediction.

  Args:
    bert_config: modeling.BertConfig (unused, Google's signature).
    input_tensor: float32 [batch_size, hidden_size], the pooled output.
    labels: int32 [batch_size] or [batch_size, 1]; 0 = is next, 1 = random.
    head: NextSentenceHead holding `cls/seq_relationship/*`.

  Returns:
    (loss scalar, per_example_loss [batch_size], log_probs [batch_size, 2]).
  """
  del bert_config
  logits = tf.matmul(tf.cast(input_tensor, tf.float32), head.output_weights,
                     transpose_b=True)
  logits = logits + head.output_bias
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  labels = tf.reshape(labels, [-1])
  one_hot_labels = tf.one_hot(labels, depth=2, dtype=tf.float32)
  per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
  loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, log_probs


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at the specific positions over a minibatch.

  Args:
    sequence_tensor: [batch_size, seq_length, width].
    positions: int32 [batch_size, num_positions].

  Returns:
    [batch_size * num_positions, width].
  """
  sequence_shape = modeling.get_shape_list(sequence_tensor, expected_rank=3)
  batch_size, seq_length, width = sequence_shape
  flat_sequence_tensor = tf.reshape(sequence_tensor,
                                    [batch_size * seq_length, width])
  return tf.gather(flat_sequence_tensor,
                   modeling.flat_positions(positions, seq_length))


class PretrainingModelFn(estimator_lib.BertModelFn):
  """The pre-training model_fn: what Google's `model_fn` computed per mode."""

  def create_model(self, params):
    return BertPretrainingModel(
        self.bert_config, use_one_hot_embeddings=self.use_one_hot_embeddings,
        compute_dtype=params.get("compute_dtype", tf.float32))

  def train_loss(self, model, features, params):
    return model(features, training=params["mode"] == "train")["total_loss"]

  def eval_metrics(self, model, features, params):
    """Google's metric_fn as (sum, count) pairs (weighted means)."""
    out = model(features, training=False)
    masked_lm_ids = tf.reshape(features["masked_lm_ids"], [-1])
    masked_lm_weights = tf.reshape(features["masked_lm_weights"], [-1])
    masked_lm_predictions = tf.argmax(out["masked_lm_log_probs"], axis=-1,
                                      output_type=tf.int32)
    correct = tf.cast(tf.equal(masked_lm_predictions, masked_lm_ids),
                      tf.float32)
    weight_sum = tf.reduce_sum(masked_lm_weights)
    labels = tf.reshape(features["next_sentence_labels"], [-1])
    next_sentence_predictions = tf.argmax(out["next_sentence_log_probs"],
                                          axis=-1, output_type=tf.int32)
    nsp_correct = tf.cast(tf.equal(next_sentence_predictions, labels),
                          tf.float32)
    count = tf.cast(tf.size(labels), tf.float32)
    return {
        "masked_lm_accuracy": (tf.reduce_sum(correct * masked_lm_weights),
                               weight_sum),
        "masked_lm_loss": (tf.reduce_sum(out["masked_lm_example_loss"] *
                                         masked_lm_weights), weight_sum),
        "next_sentence_accuracy": (tf.reduce_sum(nsp_correct), count),
        "next_sentence_loss": (tf.reduce_sum(out["next_sentence_example_loss"]),
                               count),
    }

  def predictions(self, model, features, params):
    out = model(features, training=False)
    batch_size = tf.shape(features["input_ids"])[0]
    return {
        "masked_lm_log_probs": tf.reshape(
            out["masked_lm_log_probs"],
            [batch_size, -1, self.bert_config.vocab_size]),
        "next_sentence_log_probs": out["next_sentence_log_probs"],
    }


def model_fn_builder(bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer="adamw"):
  """Returns the pre-training `ModelFn` for the Estimator (Google's args).

  Args:
    bert_config: modeling.BertConfig.
    init_checkpoint: warm-start checkpoint or None.
    learning_rate: float, peak learning rate.
    num_train_steps: int.
    num_warmup_steps: int.
    use_tpu: bool.
    use_one_hot_embeddings: bool.
    optimizer: "adamw" or "lamb".
  """
  return PretrainingModelFn(bert_config, init_checkpoint, learning_rate,
                            num_train_steps, num_warmup_steps, use_tpu,
                            use_one_hot_embeddings, optimizer)


# ------------------------------------------------------------------- main


def main(_):
  logging.set_verbosity(logging.INFO)

  if not FLAGS.do_train and not FLAGS.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")

  bert_config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
  if FLAGS.max_seq_length > bert_config.max_position_embeddings:
    raise ValueError(
        "Cannot use sequence length %d because the BERT model was only trained "
        "up to sequence length %d (--max_seq_length, %s)" %
        (FLAGS.max_seq_length, bert_config.max_position_embeddings,
         FLAGS.bert_config_file))

  # The strategy first: multi-worker and TPU set-up precede other TF work.
  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)
  tf.io.gfile.makedirs(FLAGS.output_dir)

  input_files = expand_input_files(FLAGS.input_file)
  logging.info("*** Input Files ***")
  for input_file in input_files:
    logging.info("  %s", input_file)
  check_input_files(input_files, FLAGS.max_seq_length,
                    FLAGS.max_predictions_per_seq, bert_config.vocab_size)

  model_fn = model_fn_builder(
      bert_config=bert_config,
      init_checkpoint=FLAGS.init_checkpoint,
      learning_rate=FLAGS.learning_rate,
      num_train_steps=FLAGS.num_train_steps,
      num_warmup_steps=FLAGS.num_warmup_steps,
      use_tpu=FLAGS.use_tpu,
      use_one_hot_embeddings=FLAGS.use_tpu,
      optimizer=FLAGS.optimizer)

  estimator = estimator_lib.Estimator(
      model_fn, run_config,
      train_batch_size=FLAGS.train_batch_size,
      eval_batch_size=FLAGS.eval_batch_size)

  if FLAGS.do_train:
    logging.info("***** Running training *****")
    logging.info("  Batch size = %d", FLAGS.train_batch_size)
    train_input_fn = input_fn_builder(
        input_files=input_files,
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        is_training=True)
    estimator.train(input_fn=train_input_fn, max_steps=FLAGS.num_train_steps)

  if FLAGS.do_eval:
    logging.info("***** Running evaluation *****")
    logging.info("  Batch size = %d", FLAGS.eval_batch_size)
    eval_input_fn = input_fn_builder(
        input_files=input_files,
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        is_training=False)
    result = estimator.evaluate(input_fn=eval_input_fn,
                                steps=FLAGS.max_eval_steps)
    if run_config.is_chief:
      output_eval_file = os.path.join(FLAGS.output_dir, "eval_results.txt")
      logging.info("***** Eval results *****")
      estimator_lib.write_eval_results(output_eval_file, result)


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("bert_config_file")
  flags.mark_flag_as_required("output_dir")
  app.run(main)
