# coding=utf-8
"""Sentence (pair) classification as a Task: records, model, metrics, outputs.

Google's run_classifier.py conversion (`convert_single_example`, TFRecords
byte for byte), its classifier head and its eval_results.txt /
test_results.tsv, plus multi-label and regression (`task_type`), richer
metrics and SavedModel export. The data readers are in
classification_data.py; the runners (run_classifier.py,
run_classifier_with_tfhub.py) choose an encoder (a family from the registry
or a TF Hub module) and hand this task to task_lib.run.

What differs between the task types (how a label is stored, read back,
padded and scored) is in one table, LABEL_KINDS; the head's loss and outputs
are heads.classifier_outputs.
"""

import os

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

import estimator_lib
import export_lib
import heads
import io_lib
import task_lib
import text_inputs
import tf_example
import validation
from tasks import classification_data
from tasks.classification_data import check_labels
from tasks.classification_data import InputFeatures
from tasks.classification_data import PaddingInputExample

CLASSIFICATION = heads.CLASSIFICATION
MULTI_LABEL = heads.MULTI_LABEL
REGRESSION = heads.REGRESSION


def define_flags():
  """The classification task's own flags (both classifier runners)."""
  define = estimator_lib.define_flag
  define(flags.DEFINE_string, "data_dir", None,
         "The input data dir. Should contain the .tsv files (or other data "
         "files) for the task.")
  define(flags.DEFINE_string, "task_name", None,
         "The name of the task to train: cola, mnli, mrpc, xnli, sts-b, or "
         "tsv / csv / jsonl for your own data (see --text_a_column and "
         "friends).")
  _define_user_data_flags(define)
  task_lib.define_model_selection_flags(
      "eval_accuracy, eval_micro_f1 for --multi_label, eval_pearson for "
      "regression",
      "the fine-tuned classifier (serving signature: input_ids, input_mask, "
      "segment_ids -> probabilities)")


def _define_user_data_flags(define):
  """The flags of --task_name=tsv|csv|jsonl."""
  define(flags.DEFINE_string, "text_a_column", None,
         "User data: column of the first text: a 0-based index (negative "
         "counts from the end), a header name (with --has_header) or a JSON "
         "key. Default: 0 for tsv/csv, \"text\" for jsonl.")
  define(flags.DEFINE_string, "text_b_column", None,
         "User data: column of the optional second text (same forms as "
         "--text_a_column). Default: none (single sentences).")
  define(flags.DEFINE_string, "label_column", None,
         "User data: column of the label (same forms as --text_a_column). "
         "Default: the last column (-1) for tsv/csv, \"label\" for jsonl. "
         "Not read for the test split.")
  define(flags.DEFINE_bool, "has_header", False,
         "User data (tsv/csv): the first line of every file is a header "
         "naming the columns; it is skipped.")
  define(flags.DEFINE_string, "label_file", None,
         "User data: a file with one label per line, giving the label order "
         "(column order of test_results.tsv). Default: the sorted labels of "
         "the training file.")
  for split in ("train", "dev", "test"):
    define(flags.DEFINE_string, "%s_file" % split, None,
           "User data: %s file name in --data_dir (default %s.<task_name>)."
           % ("training" if split == "train" else split, split))
  define(flags.DEFINE_bool, "multi_label", False,
         "User data: each example has any number of labels (sigmoid outputs, "
         "binary cross-entropy). The label column holds the labels joined by "
         "--multi_label_separator (a JSON list in jsonl).")
  define(flags.DEFINE_string, "multi_label_separator", ",",
         "Separator between the labels of one multi-label example.")
  define(flags.DEFINE_float, "multi_label_threshold", 0.5,
         "A label is predicted when its probability is at least this value.")


def processor_from_flags(flag_values):
  """The DataProcessor of the parsed --task_name and user-data flags."""
  options = {name: getattr(flag_values, name)
             for name in classification_data.USER_DATA_OPTIONS}
  return classification_data.processor_for_task(
      flag_values.task_name, data_dir=flag_values.data_dir,
      label_file=flag_values.label_file, multi_label=flag_values.multi_label,
      **options)


## What each task type does with its labels.


class SingleLabel(object):
  """One label per example: an index into the label list, softmax."""

  task_type = CLASSIFICATION
  best_metric = "eval_accuracy"

  def num_outputs(self, label_list):
    return len(label_list)

  def label_id(self, example, label_list):
    """The label of `example` as stored in the record (checked)."""
    check_labels(example.label, label_list, _where(example))
    return label_list.index(example.label)

  def padding_label_id(self, label_list):
    return 0

  def feature_spec(self, num_labels):
    """tf.io.FixedLenFeature of "label_ids"."""
    return tf.io.FixedLenFeature([], tf.int64)

  def metrics(self, probabilities, label_ids, label_list, threshold):
    """The metrics beside Google's (numpy)."""
    return classification_metrics(probabilities, label_ids, label_list)

  def graph_metrics(self, probabilities, label_ids, weights):
    """Google's eval_accuracy as (sum, count), weighted by is_real_example."""
    predictions = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    correct = tf.cast(tf.equal(predictions, tf.cast(label_ids, tf.int32)),
                      tf.float32)
    return {"eval_accuracy": (tf.reduce_sum(correct * weights),
                              tf.reduce_sum(weights))}


class MultiLabel(SingleLabel):
  """Any number of labels: a 0/1 vector over the label list, sigmoids."""

  task_type = MULTI_LABEL
  best_metric = "eval_micro_f1"

  def label_id(self, example, label_list):
    check_labels(example.label, label_list, _where(example))
    labels = set(example.label)
    return [1 if label in labels else 0 for label in label_list]

  def padding_label_id(self, label_list):
    return [0] * len(label_list)

  def feature_spec(self, num_labels):
    return tf.io.FixedLenFeature([num_labels], tf.int64)

  def metrics(self, probabilities, label_ids, label_list, threshold):
    return multi_label_metrics(probabilities, label_ids, label_list,
                               threshold)

  def graph_metrics(self, probabilities, label_ids, weights):
    return {}


class Regression(SingleLabel):
  """One float score: a single output, squared error."""

  task_type = REGRESSION
  best_metric = "eval_pearson"

  def num_outputs(self, label_list):
    return 1

  def label_id(self, example, label_list):
    return float(example.label)

  def padding_label_id(self, label_list):
    return 0.0

  def feature_spec(self, num_labels):
    return tf.io.FixedLenFeature([], tf.float32)

  def metrics(self, probabilities, label_ids, label_list, threshold):
    return regression_metrics(probabilities.reshape([-1]), label_ids)

  def graph_metrics(self, probabilities, label_ids, weights):
    return {}


LABEL_KINDS = {kind.task_type: kind
               for kind in (SingleLabel(), MultiLabel(), Regression())}


def label_kind(task_type):
  """The LABEL_KINDS entry of a task type."""
  if task_type not in LABEL_KINDS:
    raise ValueError("Unknown task_type %r (one of %s)" %
                     (task_type, ", ".join(heads.TASK_TYPES)))
  return LABEL_KINDS[task_type]


def _where(example):
  return getattr(example, "source", None) or "example %s" % example.guid


## Conversion to records (Google's bytes).


def convert_single_example(ex_index, example, label_list, max_seq_length,
                           tokenizer, task_type=CLASSIFICATION):
  """Converts a single `InputExample` into a single `InputFeatures`.

  Args:
    ex_index: position of the example (the first 5 are logged).
    example: `InputExample` or `PaddingInputExample`.
    label_list: list of label strings (ids are positions in it).
    max_seq_length: length of the padded id lists.
    tokenizer: `tokenization.FullTokenizer`.
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.

  Returns:
    `InputFeatures` with input_ids/input_mask/segment_ids of length
    max_seq_length.
  """
  kind = label_kind(task_type)
  if isinstance(example, PaddingInputExample):
    return InputFeatures(
        input_ids=[0] * max_seq_length,
        input_mask=[0] * max_seq_length,
        segment_ids=[0] * max_seq_length,
        label_id=kind.padding_label_id(label_list),
        is_real_example=False)

  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = None
  if example.text_b:
    tokens_b = tokenizer.tokenize(example.text_b)
  packed = text_inputs.pack_inputs(tokenizer, tokens_a, tokens_b,
                                   max_seq_length)
  label_id = kind.label_id(example, label_list)
  if ex_index < 5:
    logging.info("*** Example ***")
    logging.info("guid: %s", example.guid)
    logging.info("tokens: %s", " ".join(packed.tokens))
    logging.info("input_ids: %s", " ".join(str(x) for x in packed.input_ids))
    logging.info("input_mask: %s",
                 " ".join(str(x) for x in packed.input_mask))
    logging.info("segment_ids: %s",
                 " ".join(str(x) for x in packed.segment_ids))
    logging.info("label: %s (id = %s)", example.label, label_id)

  return InputFeatures(
      input_ids=packed.input_ids,
      input_mask=packed.input_mask,
      segment_ids=packed.segment_ids,
      label_id=label_id,
      is_real_example=True)


def _serialize_features(feature):
  """Serialized tf.train.Example of one `InputFeatures`, as Google's bytes.

  Google adds input_ids, input_mask, segment_ids, label_ids, is_real_example
  to an OrderedDict and protobuf's Python backend writes the map entries in
  that order; the default upb backend orders them differently in every
  process. Writing the entries with tf_example makes equal features equal
  bytes, Google's bytes.

  Args:
    feature: `InputFeatures`; label_id int, list of ints or float.

  Returns:
    bytes.
  """
  label = feature.label_id
  is_float = isinstance(label, float)
  if not isinstance(label, list):
    label = [label]
  return tf_example.serialize_example([
      ("input_ids", feature.input_ids, False),
      ("input_mask", feature.input_mask, False),
      ("segment_ids", feature.segment_ids, False),
      ("label_ids", label, is_float),
      ("is_real_example", [int(feature.is_real_example)], False),
  ])


def file_based_convert_examples_to_features(examples,
                                            label_list,
                                            max_seq_length,
                                            tokenizer,
                                            output_file,
                                            task_type=CLASSIFICATION):
  """Convert a set of `InputExample`s to a TFRecord file.

  Features (in this order): input_ids, input_mask, segment_ids
  (int64 x max_seq_length), label_ids (int64 x 1; int64 x num_labels for
  multi-label; float x 1 for regression), is_real_example (int64 x 1).
  """

  with io_lib.atomic_path(output_file) as path:
    with tf.io.TFRecordWriter(path) as writer:
      for (ex_index, example) in enumerate(examples):
        if ex_index % 10000 == 0:
          logging.info("Writing example %d of %d", ex_index, len(examples))
        feature = convert_single_example(ex_index, example, label_list,
                                         max_seq_length, tokenizer, task_type)
        writer.write(_serialize_features(feature))


def file_based_input_fn_builder(input_file, seq_length, is_training,
                                drop_remainder, task_type=CLASSIFICATION,
                                num_labels=None):
  """Creates an `input_fn` closure reading a file of
  `file_based_convert_examples_to_features`.

  Args:
    input_file: TFRecord path.
    seq_length: max_seq_length the file was written with.
    is_training: repeat and shuffle (buffer 100), as Google's.
    drop_remainder: drop the last partial batch.
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.
    num_labels: label count (needed for MULTI_LABEL).

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts: input_ids, input_mask,
    segment_ids [batch_size, seq_length] int32, label_ids [batch_size] int32
    ([batch_size, num_labels] int32 multi-label; float32 regression),
    is_real_example [batch_size] int32.
  """

  name_to_features = {
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "label_ids": label_kind(task_type).feature_spec(num_labels),
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }

  return estimator_lib.record_input_fn_builder(
      input_file, name_to_features, is_training, drop_remainder)


def pad_examples(examples, batch_size):
  """Google's TPU padding: appends PaddingInputExample()s to a batch multiple.

  Args:
    examples: list of `InputExample`.
    batch_size: the global eval/predict batch size.

  Returns:
    A new list whose length is a multiple of batch_size.
  """
  padded = list(examples)
  while len(padded) % batch_size != 0:
    padded.append(PaddingInputExample())
  return padded


def write_test_results(path, predictions, num_examples):
  """Writes Google's test_results.tsv: one line of probabilities per example.

  Args:
    path: output file (written under a temporary name, then renamed).
    predictions: iterable of dicts with "probabilities" ([num_labels] numpy
      float32; for regression the score), in input order, padding last.
    num_examples: number of real examples; later predictions (TPU padding)
      are dropped.

  Raises:
    ValueError: fewer predictions than real examples.
  """
  logging.info("***** Predict results *****")
  num_written_lines = 0
  with io_lib.atomic_output(path) as writer:
    for (i, prediction) in enumerate(predictions):
      if i >= num_examples:
        break
      probabilities = np.atleast_1d(prediction["probabilities"])
      writer.write("\t".join(str(p) for p in probabilities) + "\n")
      num_written_lines += 1
    if num_written_lines != num_examples:
      raise ValueError("%s: %d predictions for %d examples" %
                       (path, num_written_lines, num_examples))


## Metrics beside Google's (numpy, on the predictions of the eval set)


def _safe_divide(numerator, denominator):
  """numerator / denominator elementwise, 0 where the denominator is 0."""
  numerator = np.asarray(numerator, np.float64)
  denominator = np.asarray(denominator, np.float64)
  return np.divide(numerator, denominator,
                   out=np.zeros_like(numerator * denominator),
                   where=denominator != 0)


def _f1(true_positives, false_positives, false_negatives):
  """(precision, recall, f1) arrays from count arrays (0 where undefined)."""
  precision = _safe_divide(true_positives, true_positives + false_positives)
  recall = _safe_divide(true_positives, true_positives + false_negatives)
  f1 = _safe_divide(2 * precision * recall, precision + recall)
  return precision, recall, f1


def _key(label):
  """A label as a key part of eval_results.txt (no spaces or '=')."""
  return "".join("_" if c.isspace() or c == "=" else c for c in str(label))


def matthews_correlation(confusion):
  """Matthews correlation (multi-class R_K) of a confusion matrix.

  Args:
    confusion: [num_labels, num_labels] counts, rows = true, columns =
      predicted.

  Returns:
    float in [-1, 1]; 0 when undefined (one class only).
  """
  confusion = np.asarray(confusion, np.float64)
  total = confusion.sum()
  correct = np.trace(confusion)
  true_counts = confusion.sum(axis=1)
  predicted_counts = confusion.sum(axis=0)
  numerator = correct * total - np.dot(predicted_counts, true_counts)
  denominator = np.sqrt(
      (total**2 - np.dot(predicted_counts, predicted_counts)) *
      (total**2 - np.dot(true_counts, true_counts)))
  return float(numerator / denominator) if denominator else 0.0


def classification_metrics(probabilities, label_ids, label_list):
  """Per-class precision/recall/F1, macro F1 and Matthews correlation.

  Args:
    probabilities: [num_examples, num_labels] (real examples only).
    label_ids: [num_examples] int.
    label_list: list of label strings.

  Returns:
    dict key -> numpy float32: eval_precision_<label>, eval_recall_<label>,
    eval_f1_<label>, eval_macro_f1, eval_matthews_corr.
  """
  num_labels = len(label_list)
  predicted = np.argmax(probabilities, axis=-1)
  confusion = np.zeros([num_labels, num_labels], np.int64)
  np.add.at(confusion, (np.asarray(label_ids), predicted), 1)
  true_positives = np.diag(confusion)
  precision, recall, f1 = _f1(true_positives,
                              confusion.sum(axis=0) - true_positives,
                              confusion.sum(axis=1) - true_positives)
  result = {}
  for i, label in enumerate(label_list):
    result["eval_precision_%s" % _key(label)] = precision[i]
    result["eval_recall_%s" % _key(label)] = recall[i]
    result["eval_f1_%s" % _key(label)] = f1[i]
  result["eval_macro_f1"] = np.mean(f1)
  result["eval_matthews_corr"] = matthews_correlation(confusion)
  return {k: np.float32(v) for k, v in result.items()}


def multi_label_metrics(probabilities, label_ids, label_list, threshold):
  """Micro/macro F1, subset accuracy and per-label P/R/F1 of a multi-label set.

  Args:
    probabilities: [num_examples, num_labels] sigmoid outputs.
    label_ids: [num_examples, num_labels] 0/1.
    label_list: list of label strings.
    threshold: a label is predicted when its probability >= threshold.

  Returns:
    dict key -> numpy float32: eval_micro_f1, eval_macro_f1,
    eval_subset_accuracy, eval_precision_<label>, eval_recall_<label>,
    eval_f1_<label>.
  """
  predicted = np.asarray(probabilities) >= threshold
  truth = np.asarray(label_ids).astype(bool)
  true_positives = np.sum(predicted & truth, axis=0)
  false_positives = np.sum(predicted & ~truth, axis=0)
  false_negatives = np.sum(~predicted & truth, axis=0)
  precision, recall, f1 = _f1(true_positives, false_positives, false_negatives)
  _, _, micro_f1 = _f1(true_positives.sum(), false_positives.sum(),
                       false_negatives.sum())
  result = {
      "eval_micro_f1": micro_f1,
      "eval_macro_f1": np.mean(f1),
      "eval_subset_accuracy": np.mean(np.all(predicted == truth, axis=1)),
  }
  for i, label in enumerate(label_list):
    result["eval_precision_%s" % _key(label)] = precision[i]
    result["eval_recall_%s" % _key(label)] = recall[i]
    result["eval_f1_%s" % _key(label)] = f1[i]
  return {k: np.float32(v) for k, v in result.items()}


def _average_ranks(values):
  """Ranks 1..n of `values`, ties sharing their average rank."""
  values = np.asarray(values, np.float64)
  order = np.argsort(values, kind="mergesort")
  ranks = np.empty(len(values), np.float64)
  sorted_values = values[order]
  start = 0
  for end in range(1, len(values) + 1):
    if end == len(values) or sorted_values[end] != sorted_values[start]:
      ranks[order[start:end]] = (start + end + 1) / 2.0
      start = end
  return ranks


def _pearson(x, y):
  x = np.asarray(x, np.float64) - np.mean(x)
  y = np.asarray(y, np.float64) - np.mean(y)
  denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
  return float(np.dot(x, y) / denominator) if denominator else 0.0


def regression_metrics(predictions, labels):
  """Pearson and Spearman correlations of predictions with the gold scores.

  Args:
    predictions: [num_examples] predicted scores.
    labels: [num_examples] gold scores.

  Returns:
    dict: eval_pearson, eval_spearman (numpy float32; 0 when undefined).
  """
  return {
      "eval_pearson": np.float32(_pearson(predictions, labels)),
      "eval_spearman": np.float32(
          _pearson(_average_ranks(predictions), _average_ranks(labels))),
  }


def metrics_from_predictions(predictions, task_type, label_list,
                             multi_label_threshold=0.5):
  """The metrics beside Google's from the eval set's predictions.

  Args:
    predictions: iterable of dicts with "probabilities", "label_ids" and
      "is_real_example" (the ModelFn's predictions on the eval file).
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.
    label_list: list of label strings.
    multi_label_threshold: decision threshold for MULTI_LABEL.

  Returns:
    dict key -> numpy float32 (padding examples left out).
  """
  predictions = [p for p in predictions if p["is_real_example"]]
  if not predictions:
    return {}
  probabilities = np.stack([p["probabilities"] for p in predictions])
  label_ids = np.stack([p["label_ids"] for p in predictions])
  return label_kind(task_type).metrics(probabilities, label_ids, label_list,
                                       multi_label_threshold)


## In-memory features (Google's Colab path and the TF Hub runner)


# This function is not used by this file but is still used by the Colab and
# people who depend on it.
def input_fn_builder(features, seq_length, is_training, drop_remainder):
  """Creates an `input_fn` over in-memory `InputFeatures` (Google's name).

  Args:
    features: list of `InputFeatures`.
    seq_length: max_seq_length.
    is_training: repeat and shuffle (buffer 100).
    drop_remainder: drop the last partial batch.

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts input_ids, input_mask,
    segment_ids [batch_size, seq_length] int32 and label_ids, is_real_example.
  """
  def column(name, dtype):
    values = [getattr(f, name) for f in features]
    if name == "is_real_example":
      values = [int(v) for v in values]
    return tf.constant(values, dtype=dtype)

  def input_fn(params):
    """The actual input function."""
    batch_size = params["batch_size"]
    labels = [f.label_id for f in features]
    label_dtype = tf.float32 if labels and isinstance(labels[0],
                                                      float) else tf.int32
    d = tf.data.Dataset.from_tensor_slices({
        "input_ids": tf.reshape(column("input_ids", tf.int32),
                                [-1, seq_length]),
        "input_mask": tf.reshape(column("input_mask", tf.int32),
                                 [-1, seq_length]),
        "segment_ids": tf.reshape(column("segment_ids", tf.int32),
                                  [-1, seq_length]),
        "label_ids": column("label_id", label_dtype),
        "is_real_example": column("is_real_example", tf.int32),
    })
    d = estimator_lib.shard_repeat_shuffle(d, params, is_training)
    return d.batch(batch_size=batch_size, drop_remainder=drop_remainder)

  return input_fn


# This function is not used by this file but is still used by the Colab and
# people who depend on it.
def convert_examples_to_features(examples, label_list, max_seq_length,
                                 tokenizer, task_type=CLASSIFICATION):
  """Convert a set of `InputExample`s to a list of `InputFeatures`."""

  features = []
  for (ex_index, example) in enumerate(examples):
    if ex_index % 10000 == 0:
      logging.info("Writing example %d of %d", ex_index, len(examples))

    feature = convert_single_example(ex_index, example, label_list,
                                     max_seq_length, tokenizer, task_type)

    features.append(feature)
  return features


## Model and task


class ClassifierModel(task_lib.TaskModel):
  """An encoder + heads.ClassifierHead; every variable has its Google name."""

  def __init__(self, encoder, num_labels):
    """Creates the head on `encoder`.

    Args:
      encoder: an encoder model (encoders.py's contract: the call API and
        `config.hidden_size`), e.g. a BertModel or a hub module.
      num_labels: number of outputs (1 for regression).
    """
    super().__init__(encoder)
    self.head = heads.ClassifierHead(num_labels, encoder.config.hidden_size)

  def __call__(self, input_ids, input_mask, segment_ids, training=False):
    """Logits.

    Args:
      input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
      training: dropout in the encoder and the head.

    Returns:
      float32 [batch_size, num_labels].
    """
    outputs = self.encoder(input_ids, input_mask=input_mask,
                           token_type_ids=segment_ids, training=training)
    return self.head(outputs.pooled_output, training=training)


def classify(model, is_training, input_ids, input_mask, segment_ids, labels,
             task_type=CLASSIFICATION):
  """Google's create_model body: runs a ClassifierModel and its loss.

  Returns:
    (loss scalar, per_example_loss [batch_size], logits [batch_size,
    num_labels], probabilities), as Google's.
  """
  logits = model(input_ids, input_mask, segment_ids, training=is_training)
  per_example_loss, probabilities = heads.classifier_outputs(logits, labels,
                                                             task_type)
  loss = tf.reduce_mean(per_example_loss)
  return (loss, per_example_loss, logits, probabilities)


class ClassificationTask(task_lib.Task):
  """Fine-tuning, evaluation, prediction and export of a classifier."""

  def __init__(self, settings, encoder_spec, num_labels,
               task_type=CLASSIFICATION, use_one_hot_embeddings=False,
               processor=None, label_list=None, tokenizer=None, data_dir=None,
               max_seq_length=128, multi_label_threshold=0.5):
    """Creates the task.

    Args:
      settings: task_lib.RunSettings.
      encoder_spec: encoders.EncoderSpec (or a hub encoder spec).
      num_labels: number of outputs (1 for regression).
      task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.
      use_one_hot_embeddings: one-hot embedding lookups (Google: on TPUs).
      processor, label_list, tokenizer, data_dir, max_seq_length: the data
        (not needed for the model alone: Google's model_fn_builder).
      multi_label_threshold: decision threshold of multi-label metrics.
    """
    super().__init__(settings, encoder_spec, use_one_hot_embeddings)
    self.num_labels = num_labels
    self.task_type = task_type
    self.processor = processor
    self.label_list = label_list
    self.tokenizer = tokenizer
    self.data_dir = data_dir
    self.max_seq_length = max_seq_length
    self.multi_label_threshold = multi_label_threshold
    self._train_examples = None

  # ------------------------------------------------------------- model

  def create_model(self, params):
    return ClassifierModel(self.create_encoder(params), self.num_labels)

  def _run(self, model, features, params):
    """(per_example_loss, probabilities, is_real_example float32)."""
    logits = model(features["input_ids"], features["input_mask"],
                   features["segment_ids"],
                   training=params.get("mode") == "train")
    per_example_loss, probabilities = heads.classifier_outputs(
        logits, features["label_ids"], self.task_type)
    is_real_example = features.get("is_real_example")
    if is_real_example is None:
      is_real_example = tf.ones_like(per_example_loss)
    return per_example_loss, probabilities, tf.cast(is_real_example,
                                                    tf.float32)

  def train_loss(self, model, features, params):
    per_example_loss, _, _ = self._run(model, features, params)
    return tf.reduce_mean(per_example_loss)

  def eval_metrics(self, model, features, params):
    """Google's eval_accuracy and eval_loss, weighted by is_real_example."""
    per_example_loss, probabilities, weights = self._run(model, features,
                                                         params)
    metrics = {"eval_loss": (tf.reduce_sum(per_example_loss * weights),
                             tf.reduce_sum(weights))}
    metrics.update(label_kind(self.task_type).graph_metrics(
        probabilities, features["label_ids"], weights))
    return metrics

  def predictions(self, model, features, params):
    _, probabilities, weights = self._run(model, features, params)
    return {"probabilities": probabilities,
            "label_ids": features["label_ids"],
            "is_real_example": weights}

  # ------------------------------------------------------------- data

  def train_examples(self):
    """The training examples (read once)."""
    if self._train_examples is None:
      self._train_examples = self.processor.get_train_examples(self.data_dir)
    return self._train_examples

  def num_train_examples(self):
    return len(self.train_examples())

  def record_file(self, examples, name, pad_to=None):
    """Converts examples to output_dir/<name>.tf_record (TPU: padded).

    Returns:
      (path, number of records).
    """
    if pad_to:
      examples = pad_examples(examples, pad_to)
    path = os.path.join(self.settings.output_dir, "%s.tf_record" % name)
    file_based_convert_examples_to_features(
        examples, self.label_list, self.max_seq_length, self.tokenizer, path,
        self.task_type)
    return path, len(examples)

  def input_fn(self, path, is_training, drop_remainder):
    return file_based_input_fn_builder(
        input_file=path, seq_length=self.max_seq_length,
        is_training=is_training, drop_remainder=drop_remainder,
        task_type=self.task_type, num_labels=len(self.label_list))

  def prepare_output_dir(self):
    """label_list.txt for user data (the column order of test_results.tsv;
    read back with --label_file), written once the run's checks passed.

    Raises:
      validation.UsageError: --do_predict with a processor that has no test
        split (Google's XNLI), before anything is trained or written.
    """
    processor = self.processor
    if (self.settings.do_predict and processor is not None and
        not classification_data.has_split(processor, "test")):
      raise validation.UsageError(
          "--do_predict: %s has no test split" % type(processor).__name__)
    if isinstance(processor, classification_data.UserDataProcessor):
      classification_data.write_label_list(
          os.path.join(self.settings.output_dir, "label_list.txt"),
          self.label_list)

  def train_input_fn(self):
    examples = self.train_examples()
    train_file, _ = self.record_file(examples, "train")
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", len(examples))
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    logging.info("  Num steps = %d", self.num_train_steps)
    return self.input_fn(train_file, True, True)

  def _split_input(self, examples, name, batch_size, title):
    """Records of a dev or test split; on a TPU padded to whole batches.

    TPU requires a fixed batch size for all batches, therefore the number of
    examples must be a multiple of the batch size, or else examples will get
    dropped. So we pad with fake examples which are ignored later on. These
    do NOT count towards the metric (weight 0.0).

    Returns:
      (input_fn, number of records).
    """
    use_tpu = self.settings.use_tpu
    path, num_records = self.record_file(examples, name,
                                         batch_size if use_tpu else None)
    logging.info("***** %s *****", title)
    logging.info("  Num examples = %d (%d actual, %d padding)", num_records,
                 len(examples), num_records - len(examples))
    logging.info("  Batch size = %d", batch_size)
    return self.input_fn(path, False, use_tpu), num_records

  def eval_input(self):
    """The dev records; on the TPU the number of steps is given."""
    batch_size = self.settings.eval_batch_size
    input_fn, num_records = self._split_input(
        self.processor.get_dev_examples(self.data_dir), "eval", batch_size,
        "Running evaluation")
    # None tells the estimator to run through the entire set.
    eval_steps = num_records // batch_size if self.settings.use_tpu else None
    return input_fn, eval_steps

  def evaluate(self, estimator, eval_input, checkpoint_path=None):
    """Google's keys (evaluate()) plus the richer metrics (a predict pass)."""
    input_fn, steps = eval_input
    result = estimator.evaluate(input_fn=input_fn, steps=steps,
                                checkpoint_path=checkpoint_path)
    result.update(metrics_from_predictions(
        estimator.predict(input_fn=input_fn, checkpoint_path=checkpoint_path),
        self.task_type, self.label_list, self.multi_label_threshold))
    return result

  def predict(self, estimator):
    """test_results.tsv of the test split (TPU padding dropped)."""
    examples = self.processor.get_test_examples(self.data_dir)
    input_fn, _ = self._split_input(examples, "predict",
                                    self.settings.predict_batch_size,
                                    "Running prediction")
    write_test_results(
        os.path.join(self.settings.output_dir, "test_results.tsv"),
        estimator.predict(input_fn=input_fn), len(examples))

  def export(self, model, export_dir):
    export_lib.export_classifier(model, export_dir, self.task_type)

  def default_best_metric(self):
    return label_kind(self.task_type).best_metric
