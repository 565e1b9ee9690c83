# coding=utf-8
"""Masked-LM + next-sentence pre-training as a Task (Google's run_pretraining).

Google's record format (create_pretraining_data.py), heads (`cls/predictions`
tied to the word embeddings, `cls/seq_relationship`), losses, metrics and
eval_results.txt keys. The last encoder layer is computed only where the heads
read (`output_positions`). run_pretraining.py is the command line over this
task.
"""

import json

from absl import logging
import tensorflow as tf

import estimator_lib
import heads
import task_lib
import validation

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


def _first_record_lengths(input_file):
  """Feature name -> length in the first record of `input_file`."""
  for raw in tf.data.TFRecordDataset(input_file).take(1):
    example = tf.train.Example.FromString(raw.numpy())
    lengths = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      lengths[name] = len(getattr(feature, kind).value) if kind else 0
    return lengths
  raise validation.DataError("%s holds no records." % input_file)


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
    validation.DataError: naming the file, the feature or flag, and both
      lengths; or a file that is missing, empty, damaged or not TFRecords
      (`estimator_lib.check_record_files`).
  """
  estimator_lib.check_record_files(input_files)
  wanted = {"max_seq_length": max_seq_length,
            "max_predictions_per_seq": max_predictions_per_seq}
  for input_file in input_files:
    sidecar = input_file + ".json"
    if tf.io.gfile.exists(sidecar):
      with tf.io.gfile.GFile(sidecar) as f:
        try:
          meta = json.load(f)
        except ValueError as e:
          raise validation.DataError("%s (the sidecar of %s) is not valid "
                                     "JSON: %s" % (sidecar, input_file, e))
      for flag, value in wanted.items():
        if flag in meta and int(meta[flag]) != value:
          raise validation.DataError(
              "%s was written with %s=%d (see %s) but --%s=%d; both must be "
              "equal." % (input_file, flag, meta[flag], sidecar, flag, value))
      if vocab_size and meta.get("vocab_size", 0) > vocab_size:
        raise validation.DataError(
            "%s was written with a vocabulary of %d tokens (see %s) but "
            "bert_config's vocab_size is %d." % (input_file, meta["vocab_size"],
                                                 sidecar, vocab_size))
      continue
    lengths = _first_record_lengths(input_file)
    for name, flag, _ in RECORD_FEATURES:
      if name not in lengths:
        raise validation.DataError("%s: the first record has no feature %r "
                                   "(is it a "
                         "pretraining record file?)" % (input_file, name))
      expected = wanted[flag] if flag else 1
      if lengths[name] != expected:
        raise validation.DataError(
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

  # The loop names the damaged file of a DataLossError.
  input_fn.input_files = list(input_files)
  return input_fn


# ------------------------------------------------------------------- model


class PretrainingModel(task_lib.TaskModel):
  """An encoder plus the two pre-training heads (all of Google's variables)."""

  def __init__(self, encoder, compute_dtype=tf.float32):
    """Creates the heads on `encoder`.

    Args:
      encoder: an encoder of a registered family (the output layer is tied to
        its [V, E] word embeddings, `get_embedding_table()`).
      compute_dtype: dtype of the heads' matrix multiplications.
    """
    super().__init__(encoder, name="bert_pretraining")
    config = encoder.config
    self.config = config
    self.compute_dtype = tf.as_dtype(compute_dtype)
    # Variables in attribute order: encoder, masked_lm, next_sentence.
    self.masked_lm = heads.MaskedLMHead.tied_to(
        encoder.get_embedding_table(), config.hidden_size, config.hidden_act,
        config.initializer_range)
    self.next_sentence = heads.SentenceRelationHead(config.hidden_size,
                                                    config.initializer_range)

  @property
  def bert_config(self):
    """The encoder's config."""
    return self.config

  def __call__(self, features, training):
    """Runs the encoder and both heads on a batch of pretraining features.

    Args:
      features: dict as produced by input_fn_builder's input_fn.
      training: bool, dropout on.

    Returns:
      dict: total_loss (scalar), masked_lm_loss, masked_lm_example_loss
      [B*P], masked_lm_log_probs [B*P, V], next_sentence_loss,
      next_sentence_example_loss [B], next_sentence_log_probs [B, 2].
    """
    # The heads read the last layer only at the masked positions (and the
    # pooler at position 0): the encoder computes that layer at those rows
    # only.
    outputs = self.encoder(features["input_ids"],
                           input_mask=features["input_mask"],
                           token_type_ids=features["segment_ids"],
                           training=training,
                           output_positions=features["masked_lm_positions"])
    (masked_lm_loss, masked_lm_example_loss,
     masked_lm_log_probs) = heads.masked_lm_output(
         self.masked_lm, outputs.sequence_output, outputs.embedding_table,
         features["masked_lm_ids"], features["masked_lm_weights"],
         compute_dtype=self.compute_dtype)
    (next_sentence_loss, next_sentence_example_loss,
     next_sentence_log_probs) = heads.sentence_relation_output(
         self.next_sentence, outputs.pooled_output,
         features["next_sentence_labels"])
    return {
        "total_loss": masked_lm_loss + next_sentence_loss,
        "masked_lm_loss": masked_lm_loss,
        "masked_lm_example_loss": masked_lm_example_loss,
        "masked_lm_log_probs": masked_lm_log_probs,
        "next_sentence_loss": next_sentence_loss,
        "next_sentence_example_loss": next_sentence_example_loss,
        "next_sentence_log_probs": next_sentence_log_probs,
    }


def pretraining_metrics(out, features):
  """Google's metric_fn as (sum, count) pairs (weighted means).

  Args:
    out: the PretrainingModel's outputs on `features`.
    features: the batch.

  Returns:
    dict name -> (sum, count) float32 scalars.
  """
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


class PretrainingTask(task_lib.Task):
  """The pre-training model_fn (what Google's `model_fn` computed per mode)
  and its records."""

  def __init__(self, settings, encoder_spec, input_files=None,
               max_seq_length=128, max_predictions_per_seq=20,
               use_one_hot_embeddings=False):
    """Creates the task.

    Args:
      settings: task_lib.RunSettings (num_train_steps, num_warmup_steps and
        max_eval_steps are the schedule and the evaluation length).
      encoder_spec: encoders.EncoderSpec.
      input_files: list of TFRecord files (create_pretraining_data.py's).
      max_seq_length, max_predictions_per_seq: the records' lengths.
      use_one_hot_embeddings: one-hot embedding lookups (TPUs).
    """
    super().__init__(settings, encoder_spec, use_one_hot_embeddings)
    self.input_files = input_files
    self.max_seq_length = max_seq_length
    self.max_predictions_per_seq = max_predictions_per_seq

  def create_model(self, params):
    return PretrainingModel(self.create_encoder(params),
                            params.get("compute_dtype", tf.float32))

  def train_loss(self, model, features, params):
    return model(features, training=params["mode"] == "train")["total_loss"]

  def eval_metrics(self, model, features, params):
    return pretraining_metrics(model(features, training=False), features)

  def predictions(self, model, features, params):
    out = model(features, training=False)
    batch_size = tf.shape(features["input_ids"])[0]
    return {
        "masked_lm_log_probs": tf.reshape(
            out["masked_lm_log_probs"],
            [batch_size, -1, model.masked_lm.vocab_size]),
        "next_sentence_log_probs": out["next_sentence_log_probs"],
    }

  def training_schedule(self):
    """Google's --num_train_steps and --num_warmup_steps."""
    return self.settings.num_train_steps, self.settings.num_warmup_steps

  def _input_fn(self, is_training):
    return input_fn_builder(
        input_files=self.input_files, max_seq_length=self.max_seq_length,
        max_predictions_per_seq=self.max_predictions_per_seq,
        is_training=is_training)

  def train_input_fn(self):
    logging.info("***** Running training *****")
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    return self._input_fn(True)

  def eval_input(self):
    """The training files, --max_eval_steps batches (as Google's)."""
    logging.info("***** Running evaluation *****")
    logging.info("  Batch size = %d", self.settings.eval_batch_size)
    return self._input_fn(False), self.settings.max_eval_steps
