# coding=utf-8
"""BERT fine-tuning runner: sentence (pair) classification.

Google's run_classifier.py (eedf571) for TensorFlow 2: the same flags, the same
processors (XNLI, MNLI, MRPC, CoLA), the same TFRecords and the same
eval_results.txt / test_results.tsv. New: user data without a processor
(--task_name=tsv|csv|jsonl), multi-label classification (--multi_label),
regression (--task_name=sts-b), richer metrics, evaluation during training with
best-checkpoint keeping (--eval_every_steps) and SavedModel export
(--export_dir).
"""

import collections
import csv
import json
import os

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

import checkpoints
import estimator_lib
import export_lib
import io_lib
import modeling
import optimization
import text_inputs
import tf_example
import tokenization

FLAGS = flags.FLAGS


## Required parameters
estimator_lib.define_flag(flags.DEFINE_string, "data_dir", None,
    "The input data dir. Should contain the .tsv files (or other data files) "
    "for the task.")

estimator_lib.define_flag(flags.DEFINE_string, "bert_config_file", None,
    "The config json file corresponding to the pre-trained BERT model. "
    "This specifies the model architecture.")

estimator_lib.define_flag(flags.DEFINE_string, "task_name", None,
    "The name of the task to train: cola, mnli, mrpc, xnli, sts-b, or tsv / "
    "csv / jsonl for your own data (see --text_a_column and friends).")

estimator_lib.define_flag(flags.DEFINE_string, "vocab_file", None,
                    "The vocabulary file that the BERT model was trained on.")

estimator_lib.define_flag(flags.DEFINE_string, "output_dir", None,
    "The output directory where the model checkpoints will be written.")

## Other parameters

estimator_lib.define_flag(flags.DEFINE_string, "init_checkpoint", None,
    "Initial checkpoint (usually from a pre-trained BERT model).")

estimator_lib.define_flag(flags.DEFINE_bool, "do_lower_case", True,
    "Whether to lower case the input text. Should be True for uncased "
    "models and False for cased models.")

estimator_lib.define_flag(flags.DEFINE_integer, "max_seq_length", 128,
    "The maximum total input sequence length after WordPiece tokenization. "
    "Sequences longer than this will be truncated, and sequences shorter "
    "than this will be padded.")

estimator_lib.define_flag(flags.DEFINE_bool, "do_train", False, "Whether to run training.")

estimator_lib.define_flag(flags.DEFINE_bool, "do_eval", False, "Whether to run eval on the dev set.")

estimator_lib.define_flag(flags.DEFINE_bool, "do_predict", False,
    "Whether to run the model in inference mode on the test set.")

estimator_lib.define_flag(flags.DEFINE_integer, "train_batch_size", 32, "Total batch size for training.")

estimator_lib.define_flag(flags.DEFINE_integer, "eval_batch_size", 8, "Total batch size for eval.")

estimator_lib.define_flag(flags.DEFINE_integer, "predict_batch_size", 8, "Total batch size for predict.")

estimator_lib.define_flag(flags.DEFINE_float, "learning_rate", 5e-5, "The initial learning rate for Adam.")

estimator_lib.define_flag(flags.DEFINE_float, "num_train_epochs", 3.0,
                   "Total number of training epochs to perform.")

estimator_lib.define_flag(flags.DEFINE_float, "warmup_proportion", 0.1,
    "Proportion of training to perform linear learning rate warmup for. "
    "E.g., 0.1 = 10% of training.")

estimator_lib.define_flag(flags.DEFINE_integer, "save_checkpoints_steps", 1000,
                     "How often to save the model checkpoint.")

estimator_lib.define_flag(flags.DEFINE_integer, "iterations_per_loop", 1000,
                     "How many steps to make in each estimator call.")

# Google's use_tpu, tpu_name, tpu_zone, gcp_project, master, num_tpu_cores and
# the shared runtime flags (distribution, precision, seed, ...).
estimator_lib.define_flags()

## User data (--task_name=tsv|csv|jsonl)

estimator_lib.define_flag(flags.DEFINE_string, "text_a_column", None,
    "User data: column of the first text: a 0-based index (negative counts "
    "from the end), a header name (with --has_header) or a JSON key. "
    "Default: 0 for tsv/csv, \"text\" for jsonl.")

estimator_lib.define_flag(flags.DEFINE_string, "text_b_column", None,
    "User data: column of the optional second text (same forms as "
    "--text_a_column). Default: none (single sentences).")

estimator_lib.define_flag(flags.DEFINE_string, "label_column", None,
    "User data: column of the label (same forms as --text_a_column). "
    "Default: the last column (-1) for tsv/csv, \"label\" for jsonl. Not read "
    "for the test split.")

estimator_lib.define_flag(flags.DEFINE_bool, "has_header", False,
    "User data (tsv/csv): the first line of every file is a header naming "
    "the columns; it is skipped.")

estimator_lib.define_flag(flags.DEFINE_string, "label_file", None,
    "User data: a file with one label per line, giving the label order "
    "(column order of test_results.tsv). Default: the sorted labels of the "
    "training file.")

estimator_lib.define_flag(flags.DEFINE_string, "train_file", None,
                    "User data: training file name in --data_dir "
                    "(default train.<task_name>).")

estimator_lib.define_flag(flags.DEFINE_string, "dev_file", None,
                    "User data: dev file name in --data_dir "
                    "(default dev.<task_name>).")

estimator_lib.define_flag(flags.DEFINE_string, "test_file", None,
                    "User data: test file name in --data_dir "
                    "(default test.<task_name>).")

estimator_lib.define_flag(flags.DEFINE_bool, "multi_label", False,
    "User data: each example has any number of labels (sigmoid outputs, "
    "binary cross-entropy). The label column holds the labels joined by "
    "--multi_label_separator (a JSON list in jsonl).")

estimator_lib.define_flag(flags.DEFINE_string, "multi_label_separator", ",",
                    "Separator between the labels of one multi-label example.")

estimator_lib.define_flag(flags.DEFINE_float, "multi_label_threshold", 0.5,
    "A label is predicted when its probability is at least this value.")

## Evaluation during training and export

estimator_lib.define_flag(flags.DEFINE_integer, "eval_every_steps", 0,
    "With --do_train and --do_eval: evaluate on the dev set every N training "
    "steps and keep the best checkpoint in <output_dir>/best. 0 = only at the "
    "end.")

estimator_lib.define_flag(flags.DEFINE_string, "keep_best_metric", None,
    "Key of eval_results.txt that chooses the best checkpoint (higher is "
    "better, except for keys ending in \"loss\"). Default: eval_accuracy, "
    "eval_micro_f1 for --multi_label, eval_pearson for regression.")

estimator_lib.define_flag(flags.DEFINE_string, "export_dir", None,
    "If set, write a SavedModel of the fine-tuned classifier here (serving "
    "signature: input_ids, input_mask, segment_ids -> probabilities).")

CLASSIFICATION = "classification"
MULTI_LABEL = "multi_label"
REGRESSION = "regression"


class InputExample(object):
  """A single training/test example for simple sequence classification."""

  def __init__(self, guid, text_a, text_b=None, label=None, source=None):
    """Constructs a InputExample.

    Args:
      guid: Unique id for the example.
      text_a: string. The untokenized text of the first sequence. For single
        sequence tasks, only this sequence must be specified.
      text_b: (Optional) string. The untokenized text of the second sequence.
        Only must be specified for sequence pair tasks.
      label: (Optional) the label of the example: a string (classification),
        a list of strings (multi-label) or a float (regression). This should
        be specified for train and dev examples, but not for test examples.
      source: (Optional) "file:line" the example was read from, for errors.
    """
    self.guid = guid
    self.text_a = text_a
    self.text_b = text_b
    self.label = label
    self.source = source


class PaddingInputExample(object):
  """Fake example so the num input examples is a multiple of the batch size.

  When running eval/predict on the TPU, we need to pad the number of examples
  to be a multiple of the batch size, because the TPU requires a fixed batch
  size. The alternative is to drop the last batch, which is bad because it
  means the entire output data won't be generated.

  We use this class instead of `None` because treating `None` as padding
  batches could cause silent errors.
  """


class InputFeatures(object):
  """A single set of features of data."""

  def __init__(self,
               input_ids,
               input_mask,
               segment_ids,
               label_id,
               is_real_example=True):
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.label_id = label_id
    self.is_real_example = is_real_example


def _read_rows(input_file, delimiter="\t", quotechar=None):
  """Yields (line_number, row) of a delimited text file.

  Args:
    input_file: path (anything tf.io.gfile opens).
    delimiter: column separator.
    quotechar: None reads quotes as ordinary characters (Google's TSV
      reading); '"' reads CSV quoting.

  Yields:
    (1-based line number where the row starts, list of column strings).

  Raises:
    FileNotFoundError: naming the file.
  """
  if not tf.io.gfile.exists(input_file):
    raise FileNotFoundError("%s: no such file" % input_file)
  with tf.io.gfile.GFile(input_file, "r") as f:
    kwargs = {"quotechar": quotechar}
    if quotechar is None:
      kwargs["quoting"] = csv.QUOTE_NONE
    reader = csv.reader(f, delimiter=delimiter, **kwargs)
    line_number = 1
    for row in reader:
      yield line_number, row
      line_number = reader.line_num + 1


def _column(row, index):
  """Returns row[index] as unicode, or a ValueError saying the row is short."""
  if index >= len(row) or index < -len(row):
    raise ValueError("expected at least %d columns, found %d" %
                     (index + 1 if index >= 0 else -index, len(row)))
  return tokenization.convert_to_unicode(row[index])


def _require_examples(examples, input_file):
  """Raises when a split yielded no example (it would train on nothing)."""
  if not examples:
    raise ValueError("%s: no examples in this file" % input_file)
  return examples


class DataProcessor(object):
  """Base class for data converters for sequence classification data sets."""

  # CLASSIFICATION, MULTI_LABEL or REGRESSION.
  task_type = CLASSIFICATION

  # Subclasses reading one file per split: set type -> (path in data_dir,
  # the set_type their examples are made with).
  split_files = {}

  def get_train_examples(self, data_dir):
    """Gets a collection of `InputExample`s for the train set."""
    return self._split_examples(data_dir, "train")

  def get_dev_examples(self, data_dir):
    """Gets a collection of `InputExample`s for the dev set."""
    return self._split_examples(data_dir, "dev")

  def get_test_examples(self, data_dir):
    """Gets a collection of `InputExample`s for prediction."""
    return self._split_examples(data_dir, "test")

  def _split_examples(self, data_dir, split):
    """The examples of `split_files[split]`; NotImplementedError without."""
    if split not in self.split_files:
      raise NotImplementedError()
    path, set_type = self.split_files[split]
    return self._create_examples_from_file(os.path.join(data_dir, path),
                                           set_type)

  def get_labels(self):
    """Gets the list of labels for this data set."""
    raise NotImplementedError()

  @classmethod
  def _read_tsv(cls, input_file, quotechar=None):
    """Reads a tab separated value file (list of rows, as Google's)."""
    return [row for _, row in _read_rows(input_file, "\t", quotechar)]

  def _create_examples_from_file(self, input_file, set_type):
    """Reads `input_file` and returns its examples via `_example_from_row`."""
    examples = []
    for i, (line_number, row) in enumerate(_read_rows(input_file)):
      source = "%s:%d" % (input_file, line_number)
      try:
        example = self._example_from_row(
            i, row, set_type, lambda index, r=row: _column(r, index))
      except ValueError as e:
        raise ValueError("%s: %s" % (source, e)) from None
      if example is not None:
        example.source = source
        examples.append(example)
    return _require_examples(examples, input_file)

  def _example_from_row(self, i, row, set_type, column):
    """One `InputExample` from row number `i` (0 = first line), or None.

    Args:
      i: 0-based row number in the file (Google's enumerate index).
      row: list of column strings.
      set_type: "train", "dev", "test" (or Google's "dev_matched").
      column: column(index) -> unicode text; raises ValueError when the row
        is too short (the caller adds the file and line to every ValueError).
    """
    raise NotImplementedError()


# train.tsv, dev.tsv, test.tsv; the examples' set_type is the split name.
GLUE_SPLIT_FILES = {"train": ("train.tsv", "train"), "dev": ("dev.tsv", "dev"),
                    "test": ("test.tsv", "test")}


class XnliProcessor(DataProcessor):
  """Processor for the XNLI data set."""

  def __init__(self):
    self.language = "zh"
    # No test split: get_test_examples raises NotImplementedError.
    self.split_files = {
        "train": (os.path.join("multinli", "multinli.train.%s.tsv" %
                               self.language), "train"),
        "dev": ("xnli.dev.tsv", "dev"),
    }

  def get_labels(self):
    """See base class."""
    return ["contradiction", "entailment", "neutral"]

  def _example_from_row(self, i, row, set_type, column):
    if i == 0:
      return None
    guid = "%s-%d" % (set_type, i)
    if set_type == "train":
      label = column(2)
      if label == "contradictory":
        label = "contradiction"
      return InputExample(guid, column(0), column(1), label)
    if column(0) != self.language:
      return None
    return InputExample(guid, column(6), column(7), column(1))


class MnliProcessor(DataProcessor):
  """Processor for the MultiNLI data set (GLUE version)."""

  split_files = {"train": ("train.tsv", "train"),
                 "dev": ("dev_matched.tsv", "dev_matched"),
                 "test": ("test_matched.tsv", "test")}

  def get_labels(self):
    """See base class."""
    return ["contradiction", "entailment", "neutral"]

  def _example_from_row(self, i, row, set_type, column):
    if i == 0:
      return None
    guid = "%s-%s" % (set_type, column(0))
    label = "contradiction" if set_type == "test" else column(-1)
    return InputExample(guid, column(8), column(9), label)


class MrpcProcessor(DataProcessor):
  """Processor for the MRPC data set (GLUE version)."""

  split_files = GLUE_SPLIT_FILES

  def get_labels(self):
    """See base class."""
    return ["0", "1"]

  def _example_from_row(self, i, row, set_type, column):
    if i == 0:
      return None
    label = "0" if set_type == "test" else column(0)
    return InputExample("%s-%s" % (set_type, i), column(3), column(4), label)


class ColaProcessor(DataProcessor):
  """Processor for the CoLA data set (GLUE version)."""

  split_files = GLUE_SPLIT_FILES

  def get_labels(self):
    """See base class."""
    return ["0", "1"]

  def _example_from_row(self, i, row, set_type, column):
    guid = "%s-%s" % (set_type, i)
    # Only the test set has a header.
    if set_type == "test":
      if i == 0:
        return None
      return InputExample(guid, column(1), None, "0")
    return InputExample(guid, column(3), None, column(1))


class StsbProcessor(DataProcessor):
  """Processor for the STS-B data set (GLUE version): regression on [0, 5].

  Files train.tsv, dev.tsv (10 columns, header; score in the last column)
  and test.tsv (9 columns, header, no score).
  """

  task_type = REGRESSION
  split_files = GLUE_SPLIT_FILES

  def get_labels(self):
    """See base class: one output, the score."""
    return ["score"]

  def _example_from_row(self, i, row, set_type, column):
    if i == 0:
      return None
    label = 0.0
    if set_type != "test":
      text = column(9)
      try:
        label = float(text)
      except ValueError:
        raise ValueError("score %r is not a number" % text) from None
    return InputExample("%s-%s" % (set_type, column(0)), column(7), column(8),
                        label)


def _parse_column_spec(spec, header, flag_name, input_file):
  """Resolves a column flag to an int index (delimited files).

  Args:
    spec: the flag value: "3", "-1" or a header name.
    header: list of column names, or None when the file has no header.
    flag_name: flag name for the error message.
    input_file: file name for the error message.

  Returns:
    int column index.
  """
  try:
    return int(spec)
  except ValueError:
    pass
  if header is None:
    raise ValueError(
        "--%s=%s is not a column number and --has_header is not set" %
        (flag_name, spec))
  if spec not in header:
    raise ValueError("--%s=%s: %s:1: no such column in the header %s" %
                     (flag_name, spec, input_file, header))
  return header.index(spec)


class UserDataProcessor(DataProcessor):
  """Your own data as TSV, CSV or JSON lines, without writing a processor.

  Each example is one line (jsonl: one JSON object per line) of
  train.<fmt>, dev.<fmt>, test.<fmt> in data_dir (names can be changed).
  Columns are chosen by index, header name or JSON key. The label list is
  given (label_file) or the sorted labels of the training set.
  """

  def __init__(self,
               file_format,
               text_a_column=None,
               text_b_column=None,
               label_column=None,
               has_header=False,
               labels=None,
               multi_label=False,
               multi_label_separator=",",
               train_file=None,
               dev_file=None,
               test_file=None,
               data_dir=None):
    """Constructs a UserDataProcessor.

    Args:
      file_format: "tsv", "csv" or "jsonl".
      text_a_column: column / key of text_a (default 0 or "text").
      text_b_column: column / key of text_b, or None (single sentences).
      label_column: column / key of the label (default -1 or "label").
      has_header: tsv/csv files start with a header line.
      labels: list of label strings, or None to take the training set's.
      multi_label: labels are lists (separator-joined strings or JSON lists).
      multi_label_separator: separator for multi-label strings.
      train_file, dev_file, test_file: file names in data_dir.
      data_dir: where the training file is, to infer the labels.
    """
    if file_format not in ("tsv", "csv", "jsonl"):
      raise ValueError("Unknown user data format %r (tsv, csv, jsonl)" %
                       file_format)
    self.file_format = file_format
    is_json = file_format == "jsonl"
    self.text_a_column = text_a_column or ("text" if is_json else "0")
    self.text_b_column = text_b_column
    self.label_column = label_column or ("label" if is_json else "-1")
    self.has_header = has_header
    self.labels = list(labels) if labels is not None else None
    self.multi_label = multi_label
    self.multi_label_separator = multi_label_separator
    self.task_type = MULTI_LABEL if multi_label else CLASSIFICATION
    self.file_names = {
        "train": train_file or "train." + file_format,
        "dev": dev_file or "dev." + file_format,
        "test": test_file or "test." + file_format,
    }
    self.data_dir = data_dir

  def get_labels(self):
    """See base class: the given labels, else the training set's, sorted."""
    if self.labels is None:
      if self.data_dir is None:
        raise ValueError("The label list is unknown: pass --label_file")
      self.labels = labels_of_examples(
          self._split_examples(self.data_dir, "train"))
    return self.labels

  def _split_examples(self, data_dir, set_type):
    """Examples of one split, labels checked against a given label list."""
    input_file = os.path.join(data_dir, self.file_names[set_type])
    if self.file_format == "jsonl":
      examples = self._read_jsonl(input_file, set_type)
    else:
      examples = self._read_delimited(input_file, set_type)
    return _require_examples(examples, input_file)

  def _split_labels(self, text):
    """Label string -> label (str), or list of labels for multi-label."""
    if not self.multi_label:
      return text
    return [l.strip() for l in text.split(self.multi_label_separator)
            if l.strip()]

  def _dummy_label(self):
    return [] if self.multi_label else self.get_labels()[0]

  def _column_specs(self, set_type):
    """Dict field name -> column flag value of the fields read in a split."""
    specs = {"text_a": self.text_a_column, "text_b": self.text_b_column}
    # Test files need no label column (Google uses a dummy label).
    if set_type != "test":
      specs["label"] = self.label_column
    return {name: spec for name, spec in specs.items() if spec is not None}

  def _read_delimited(self, input_file, set_type):
    delimiter, quotechar = (("\t", None) if self.file_format == "tsv" else
                            (",", '"'))
    examples = []
    columns = None
    for line_number, row in _read_rows(input_file, delimiter, quotechar):
      if columns is None:
        header = row if self.has_header else None
        columns = {
            name: _parse_column_spec(spec, header, name + "_column",
                                     input_file)
            for name, spec in self._column_specs(set_type).items()
        }
        if self.has_header:
          continue
      if not row or row == [""]:
        continue
      source = "%s:%d" % (input_file, line_number)
      try:
        values = {name: _column(row, index) for name, index in columns.items()}
      except ValueError as e:
        raise ValueError("%s: %s" % (source, e)) from None
      examples.append(
          self._make_example(set_type, len(examples), values, source))
    return examples

  def _read_jsonl(self, input_file, set_type):
    if not tf.io.gfile.exists(input_file):
      raise FileNotFoundError("%s: no such file" % input_file)
    examples = []
    with tf.io.gfile.GFile(input_file, "r") as f:
      for line_number, line in enumerate(f, start=1):
        if not line.strip():
          continue
        source = "%s:%d" % (input_file, line_number)
        try:
          obj = json.loads(line)
        except ValueError as e:
          raise ValueError("%s: not a JSON object: %s" % (source, e)) from None
        if not isinstance(obj, dict):
          raise ValueError("%s: not a JSON object" % source)
        keys = self._column_specs(set_type)
        values = {}
        for name, key in keys.items():
          if key not in obj:
            raise ValueError("%s: no key %r (--%s_column)" %
                             (source, key, name))
          value = obj[key]
          if name == "label" and isinstance(value, list):
            values[name] = [_json_text(v) for v in value]
          else:
            values[name] = _json_text(value)
        examples.append(
            self._make_example(set_type, len(examples), values, source))
    return examples

  def _make_example(self, set_type, index, values, source):
    """InputExample from the column values of one line."""
    if "label" not in values:
      label = self._dummy_label()
    elif isinstance(values["label"], list):
      if not self.multi_label:
        raise ValueError("%s: the label is a list; pass --multi_label" %
                         source)
      label = values["label"]
    else:
      label = self._split_labels(values["label"])
    if self.labels is not None and set_type != "test":
      check_labels(label, self.labels, source)
    return InputExample(
        guid="%s-%d" % (set_type, index),
        text_a=values["text_a"],
        text_b=values.get("text_b"),
        label=label,
        source=source)


def _json_text(value):
  """A JSON value as text: strings as they are, null as "", else JSON."""
  if value is None:
    return ""
  if isinstance(value, str):
    return value
  return json.dumps(value, ensure_ascii=False)


def labels_of_examples(examples):
  """Sorted distinct labels of `examples` (lists are flattened)."""
  labels = set()
  for example in examples:
    if isinstance(example.label, list):
      labels.update(example.label)
    else:
      labels.add(example.label)
  return sorted(labels)


def check_labels(label, label_list, source):
  """Raises ValueError naming `source` when a label is not in `label_list`."""
  for one in (label if isinstance(label, list) else [label]):
    if one not in label_list:
      raise ValueError("%s: unknown label %r (labels: %s)" %
                       (source, one, ", ".join(label_list)))


def read_label_file(label_file):
  """Label list from a file with one label per line (blank lines skipped)."""
  if not tf.io.gfile.exists(label_file):
    raise FileNotFoundError("%s: no such file (--label_file)" % label_file)
  with tf.io.gfile.GFile(label_file, "r") as f:
    labels = [line.strip() for line in f if line.strip()]
  if not labels:
    raise ValueError("%s: no labels in --label_file" % label_file)
  if len(set(labels)) != len(labels):
    raise ValueError("%s: a label is listed twice" % label_file)
  return labels


def write_label_list(path, label_list):
  """Writes one label per line (read back by --label_file)."""
  io_lib.write_text(path, "".join(label + "\n" for label in label_list))


# Google's name for the pair truncation rule.
_truncate_seq_pair = text_inputs.truncate_seq_pair


def _label_id(example, label_list, task_type):
  """The label of `example` as stored in the record.

  Returns:
    int index in label_list (classification), list of 0/1 of length
    len(label_list) (multi-label) or float (regression).
  """
  if task_type == REGRESSION:
    return float(example.label)
  where = getattr(example, "source", None) or "example %s" % example.guid
  check_labels(example.label, label_list, where)
  if task_type == MULTI_LABEL:
    labels = set(example.label)
    return [1 if label in labels else 0 for label in label_list]
  return label_list.index(example.label)


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
  if isinstance(example, PaddingInputExample):
    if task_type == MULTI_LABEL:
      label_id = [0] * len(label_list)
    elif task_type == REGRESSION:
      label_id = 0.0
    else:
      label_id = 0
    return InputFeatures(
        input_ids=[0] * max_seq_length,
        input_mask=[0] * max_seq_length,
        segment_ids=[0] * max_seq_length,
        label_id=label_id,
        is_real_example=False)

  tokens_b = None
  if example.text_b:
    tokens_b = tokenizer.tokenize(example.text_b)
  packed = text_inputs.pack_inputs(tokenizer, tokenizer.tokenize(example.text_a),
                                   tokens_b, max_seq_length)
  tokens, input_ids = packed.tokens, packed.input_ids
  input_mask, segment_ids = packed.input_mask, packed.segment_ids

  label_id = _label_id(example, label_list, task_type)
  if ex_index < 5:
    logging.info("*** Example ***")
    logging.info("guid: %s", example.guid)
    logging.info("tokens: %s", " ".join(tokens))
    logging.info("input_ids: %s", " ".join(str(x) for x in input_ids))
    logging.info("input_mask: %s", " ".join(str(x) for x in input_mask))
    logging.info("segment_ids: %s", " ".join(str(x) for x in segment_ids))
    logging.info("label: %s (id = %s)", example.label, label_id)

  return InputFeatures(
      input_ids=input_ids,
      input_mask=input_mask,
      segment_ids=segment_ids,
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


def _label_feature_spec(task_type, num_labels):
  """tf.io.FixedLenFeature of "label_ids" for a task type."""
  if task_type == MULTI_LABEL:
    return tf.io.FixedLenFeature([num_labels], tf.int64)
  if task_type == REGRESSION:
    return tf.io.FixedLenFeature([], tf.float32)
  return tf.io.FixedLenFeature([], tf.int64)


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
      "label_ids": _label_feature_spec(task_type, num_labels),
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
  if task_type == REGRESSION:
    return regression_metrics(probabilities.reshape([-1]), label_ids)
  if task_type == MULTI_LABEL:
    return multi_label_metrics(probabilities, label_ids, label_list,
                               multi_label_threshold)
  return classification_metrics(probabilities, label_ids, label_list)


## Model


class ClassifierHead(tf.Module):
  """Google's classifier layer: `output_weights`, `output_bias` (no scope)."""

  def __init__(self, num_labels, hidden_size):
    """Creates output_weights [num_labels, hidden_size] (truncated normal,
    stddev 0.02 as Google hard-codes) and output_bias [num_labels] (zeros)."""
    super().__init__(name=None)
    self.output_weights = tf.Variable(
        modeling.create_initializer(0.02)([num_labels, hidden_size]),
        name="output_weights")
    self.output_bias = tf.Variable(tf.zeros([num_labels]), name="output_bias")

  def __call__(self, pooled_output, training=False):
    """Logits of the pooled output.

    Args:
      pooled_output: float32 [batch_size, hidden_size].
      training: apply dropout 0.1 (Google's keep_prob 0.9).

    Returns:
      float32 [batch_size, num_labels].
    """
    if training:
      pooled_output = modeling.dropout(pooled_output, 0.1)
    logits = tf.matmul(pooled_output, self.output_weights, transpose_b=True)
    return tf.nn.bias_add(logits, self.output_bias)


class BertClassifier(tf.Module):
  """BertModel + ClassifierHead; every variable has its Google name."""

  def __init__(self, bert_config, num_labels, use_one_hot_embeddings=False,
               compute_dtype=tf.float32):
    """Creates the variables.

    Args:
      bert_config: `modeling.BertConfig`.
      num_labels: number of outputs (1 for regression).
      use_one_hot_embeddings: one-hot embedding lookup (TPUs).
      compute_dtype: dtype of the encoder's matrix multiplications.
    """
    super().__init__(name=None)
    self.bert = modeling.BertModel(
        bert_config, use_one_hot_embeddings=use_one_hot_embeddings,
        compute_dtype=compute_dtype)
    self.head = ClassifierHead(num_labels, bert_config.hidden_size)

  def __call__(self, input_ids, input_mask, segment_ids, training=False):
    """Logits.

    Args:
      input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
      training: dropout in the encoder and the head.

    Returns:
      float32 [batch_size, num_labels].
    """
    outputs = self.bert(input_ids, input_mask=input_mask,
                        token_type_ids=segment_ids, training=training)
    return self.head(outputs.pooled_output, training=training)


def head_outputs(logits, labels, task_type=CLASSIFICATION):
  """Loss and outputs of the head for each task type.

  Args:
    logits: float32 [batch_size, num_labels].
    labels: [batch_size] int (classification), [batch_size, num_labels] 0/1
      (multi-label) or [batch_size] float (regression).
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.

  Returns:
    (per_example_loss [batch_size], probabilities): softmax [batch_size,
    num_labels] (Google's), sigmoid [batch_size, num_labels] (multi-label,
    loss = mean binary cross-entropy over labels) or the score [batch_size]
    (regression, loss = squared error).
  """
  if task_type == REGRESSION:
    predictions = logits[:, 0]
    return tf.square(predictions - tf.cast(labels, tf.float32)), predictions
  if task_type == MULTI_LABEL:
    per_label = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.float32), logits=logits)
    return tf.reduce_mean(per_label, axis=-1), tf.sigmoid(logits)
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  one_hot_labels = tf.one_hot(labels, depth=logits.shape[-1], dtype=tf.float32)
  per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
  return per_example_loss, tf.nn.softmax(logits, axis=-1)


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids,
                 labels, num_labels, use_one_hot_embeddings, model=None,
                 task_type=CLASSIFICATION):
  """Creates a classification model (Google's signature) and runs it once.

  Args:
    bert_config: `modeling.BertConfig`.
    is_training: dropout on.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    labels: see `head_outputs`.
    num_labels: int.
    use_one_hot_embeddings: one-hot embedding lookup.
    model: (new) an existing `BertClassifier` to run instead of creating one.
    task_type: (new) CLASSIFICATION, MULTI_LABEL or REGRESSION.

  Returns:
    (loss scalar, per_example_loss [batch_size], logits [batch_size,
    num_labels], probabilities), as Google's.
  """
  if model is None:
    model = BertClassifier(bert_config, num_labels, use_one_hot_embeddings)
  logits = model(input_ids, input_mask, segment_ids, training=is_training)
  per_example_loss, probabilities = head_outputs(logits, labels, task_type)
  loss = tf.reduce_mean(per_example_loss)
  return (loss, per_example_loss, logits, probabilities)


class ClassifierModelFn(estimator_lib.BertModelFn):
  """Fine-tuning, evaluation and prediction of a BertClassifier."""

  def __init__(self, bert_config, num_labels, init_checkpoint, learning_rate,
               num_train_steps, num_warmup_steps, use_tpu,
               use_one_hot_embeddings, task_type=CLASSIFICATION,
               optimizer="adamw"):
    super().__init__(bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer)
    self.num_labels = num_labels
    self.task_type = task_type

  def create_model(self, params):
    return BertClassifier(
        self.bert_config, self.num_labels, self.use_one_hot_embeddings,
        compute_dtype=params.get("compute_dtype", tf.float32))

  def _run(self, model, features, params):
    """(per_example_loss, probabilities, is_real_example float32)."""
    logits = model(features["input_ids"], features["input_mask"],
                   features["segment_ids"],
                   training=params.get("mode") == "train")
    per_example_loss, probabilities = head_outputs(
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
    total_weight = tf.reduce_sum(weights)
    metrics = {"eval_loss": (tf.reduce_sum(per_example_loss * weights),
                             total_weight)}
    if self.task_type == CLASSIFICATION:
      predictions = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
      correct = tf.cast(
          tf.equal(predictions, tf.cast(features["label_ids"], tf.int32)),
          tf.float32)
      metrics["eval_accuracy"] = (tf.reduce_sum(correct * weights),
                                  total_weight)
    return metrics

  def predictions(self, model, features, params):
    _, probabilities, weights = self._run(model, features, params)
    return {"probabilities": probabilities,
            "label_ids": features["label_ids"],
            "is_real_example": weights}


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, task_type=CLASSIFICATION,
                     optimizer="adamw"):
  """Returns the `estimator_lib.ModelFn` of the classifier (Google's name).

  Args:
    bert_config: `modeling.BertConfig`.
    num_labels: number of labels (1 for regression).
    init_checkpoint: warm-start checkpoint (weights only) or None.
    learning_rate: peak learning rate.
    num_train_steps, num_warmup_steps: the schedule (None when not training).
    use_tpu: passed to create_optimizer (ignored there, as documented).
    use_one_hot_embeddings: one-hot embedding lookup (Google: on TPUs).
    task_type: (new) CLASSIFICATION, MULTI_LABEL or REGRESSION.
    optimizer: (new) "adamw" or "lamb".
  """
  return ClassifierModelFn(bert_config, num_labels, init_checkpoint,
                           learning_rate, num_train_steps, num_warmup_steps,
                           use_tpu, use_one_hot_embeddings, task_type,
                           optimizer)


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


## main

PROCESSORS = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mrpc": MrpcProcessor,
    "xnli": XnliProcessor,
    "sts-b": StsbProcessor,
    "stsb": StsbProcessor,
}
USER_DATA_FORMATS = ("tsv", "csv", "jsonl")


def processor_from_flags(task_name):
  """The DataProcessor for --task_name (Google's tasks or user data)."""
  task_name = task_name.lower()
  if task_name in USER_DATA_FORMATS:
    labels = read_label_file(FLAGS.label_file) if FLAGS.label_file else None
    return UserDataProcessor(
        task_name,
        text_a_column=FLAGS.text_a_column,
        text_b_column=FLAGS.text_b_column,
        label_column=FLAGS.label_column,
        has_header=FLAGS.has_header,
        labels=labels,
        multi_label=FLAGS.multi_label,
        multi_label_separator=FLAGS.multi_label_separator,
        train_file=FLAGS.train_file,
        dev_file=FLAGS.dev_file,
        test_file=FLAGS.test_file,
        data_dir=FLAGS.data_dir)
  if task_name not in PROCESSORS:
    raise ValueError("Task not found: %s (known: %s, or %s for your own data)"
                     % (task_name, ", ".join(sorted(PROCESSORS)),
                        "/".join(USER_DATA_FORMATS)))
  if FLAGS.multi_label:
    raise ValueError("--multi_label needs --task_name=tsv, csv or jsonl")
  return PROCESSORS[task_name]()


def default_best_metric(task_type):
  """The eval_results.txt key that picks the best checkpoint by default."""
  return {CLASSIFICATION: "eval_accuracy", MULTI_LABEL: "eval_micro_f1",
          REGRESSION: "eval_pearson"}[task_type]


def is_better(metric, value, best):
  """True when `value` of `metric` beats `best` (None = nothing yet)."""
  if best is None:
    return True
  return value < best if metric.endswith("loss") else value > best


def keep_best_checkpoint(checkpoint_path, best_dir, result):
  """Copies a checkpoint and its eval results to best_dir (replacing).

  Args:
    checkpoint_path: checkpoint prefix, e.g. output_dir/model.ckpt-100.
    best_dir: directory holding the best checkpoint only.
    result: the eval results of that checkpoint (written to
      best_dir/eval_results.txt).
  """
  if tf.io.gfile.exists(best_dir):
    tf.io.gfile.rmtree(best_dir)
  tf.io.gfile.makedirs(best_dir)
  prefix = os.path.join(best_dir, os.path.basename(checkpoint_path))
  for path in tf.io.gfile.glob(checkpoint_path + ".*"):
    tf.io.gfile.copy(path, prefix + path[len(checkpoint_path):],
                     overwrite=True)
  checkpoints.write_state_file(best_dir, prefix, [prefix])
  estimator_lib.write_eval_results(
      os.path.join(best_dir, "eval_results.txt"), result)


def export_classifier(model_fn, checkpoint_path, export_dir):
  """Writes a SavedModel of the fine-tuned classifier (see export_lib)."""
  model = model_fn.create_model({})
  checkpoints.restore(model, checkpoint_path, allow_missing=False, log=False)
  export_lib.export_classifier(model, export_dir, model_fn.task_type)
  logging.info("Exported the classifier to %s", export_dir)


def make_estimator(model_fn, run_config):
  """An estimator_lib.Estimator with the batch size flags (global sizes)."""
  return estimator_lib.Estimator(
      model_fn=model_fn,
      config=run_config,
      train_batch_size=FLAGS.train_batch_size,
      eval_batch_size=FLAGS.eval_batch_size,
      predict_batch_size=FLAGS.predict_batch_size)


def training_schedule(processor):
  """Google's derived quantities: (train_examples, num_train_steps,
  num_warmup_steps), all None without --do_train.

  num_train_steps = int(examples / train_batch_size * num_train_epochs),
  num_warmup_steps = int(num_train_steps * warmup_proportion).
  """
  if not FLAGS.do_train:
    return None, None, None
  train_examples = processor.get_train_examples(FLAGS.data_dir)
  num_train_steps = int(
      len(train_examples) / FLAGS.train_batch_size * FLAGS.num_train_epochs)
  num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
  if num_train_steps < 1:
    raise ValueError(
        "%d training examples / --train_batch_size=%d * --num_train_epochs=%s "
        "is less than one step" % (len(train_examples),
                                   FLAGS.train_batch_size,
                                   FLAGS.num_train_epochs))
  return train_examples, num_train_steps, num_warmup_steps


class Runner(object):
  """What main() does, step by step, on the parsed flags."""

  def __init__(self, processor, label_list, tokenizer, estimator, model_fn):
    self.processor = processor
    self.label_list = label_list
    self.tokenizer = tokenizer
    self.estimator = estimator
    self.model_fn = model_fn
    self.task_type = model_fn.task_type

  def record_file(self, examples, name, pad_to=None):
    """Converts examples to output_dir/<name>.tf_record (TPU: padded).

    Returns:
      (path, number of records).
    """
    if pad_to:
      examples = pad_examples(examples, pad_to)
    path = os.path.join(FLAGS.output_dir, "%s.tf_record" % name)
    file_based_convert_examples_to_features(
        examples, self.label_list, FLAGS.max_seq_length, self.tokenizer, path,
        self.task_type)
    return path, len(examples)

  def input_fn(self, path, is_training, drop_remainder):
    return file_based_input_fn_builder(
        input_file=path,
        seq_length=FLAGS.max_seq_length,
        is_training=is_training,
        drop_remainder=drop_remainder,
        task_type=self.task_type,
        num_labels=len(self.label_list))

  def evaluate(self, eval_input_fn, eval_steps):
    """Google's keys (evaluate()) plus the richer metrics (a predict pass)."""
    result = self.estimator.evaluate(input_fn=eval_input_fn, steps=eval_steps)
    result.update(
        metrics_from_predictions(
            self.estimator.predict(input_fn=eval_input_fn), self.task_type,
            self.label_list, FLAGS.multi_label_threshold))
    return result

  def train(self, train_file, num_train_steps, eval_input_fn, eval_steps):
    """Trains; with --eval_every_steps evaluates and keeps the best.

    Returns:
      The eval result of the last evaluation during training, or None.
    """
    train_input_fn = self.input_fn(train_file, True, True)
    every = FLAGS.eval_every_steps if eval_input_fn is not None else 0
    if every <= 0:
      self.estimator.train(input_fn=train_input_fn, max_steps=num_train_steps)
      return None
    metric = FLAGS.keep_best_metric or default_best_metric(self.task_type)
    best = None
    result = None
    step = 0
    while step < num_train_steps:
      step = min(step + every, num_train_steps)
      self.estimator.train(input_fn=train_input_fn, max_steps=step)
      result = self.evaluate(eval_input_fn, eval_steps)
      if metric not in result:
        raise ValueError("--keep_best_metric=%s is not an eval result (%s)" %
                         (metric, ", ".join(sorted(result))))
      logging.info("step %d: %s = %s", step, metric, result[metric])
      if is_better(metric, result[metric], best):
        best = result[metric]
        keep_best_checkpoint(self.estimator.latest_checkpoint(),
                             os.path.join(FLAGS.output_dir, "best"), result)
    return result


def main(_):
  logging.set_verbosity(logging.INFO)

  tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case,
                                                FLAGS.init_checkpoint)

  if not FLAGS.do_train and not FLAGS.do_eval and not FLAGS.do_predict:
    raise ValueError(
        "At least one of `do_train`, `do_eval` or `do_predict' must be True.")

  bert_config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)

  if FLAGS.max_seq_length > bert_config.max_position_embeddings:
    raise ValueError(
        "Cannot use sequence length %d because the BERT model "
        "was only trained up to sequence length %d" %
        (FLAGS.max_seq_length, bert_config.max_position_embeddings))

  tf.io.gfile.makedirs(FLAGS.output_dir)

  processor = processor_from_flags(FLAGS.task_name)
  label_list = processor.get_labels()
  task_type = processor.task_type
  if isinstance(processor, UserDataProcessor):
    # The column order of test_results.tsv.
    write_label_list(os.path.join(FLAGS.output_dir, "label_list.txt"),
                     label_list)

  tokenizer = tokenization.FullTokenizer(
      vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case)

  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)

  train_examples, num_train_steps, num_warmup_steps = training_schedule(
      processor)

  model_fn = model_fn_builder(
      bert_config=bert_config,
      num_labels=1 if task_type == REGRESSION else len(label_list),
      init_checkpoint=FLAGS.init_checkpoint,
      learning_rate=FLAGS.learning_rate,
      num_train_steps=num_train_steps,
      num_warmup_steps=num_warmup_steps,
      use_tpu=FLAGS.use_tpu,
      use_one_hot_embeddings=FLAGS.use_tpu,
      task_type=task_type,
      optimizer=FLAGS.optimizer)

  estimator = make_estimator(model_fn, run_config)
  runner = Runner(processor, label_list, tokenizer, estimator, model_fn)

  eval_input_fn = None
  eval_steps = None
  if FLAGS.do_eval:
    eval_examples = processor.get_dev_examples(FLAGS.data_dir)
    num_actual_eval_examples = len(eval_examples)
    # TPU requires a fixed batch size for all batches, therefore the number
    # of examples must be a multiple of the batch size, or else examples
    # will get dropped. So we pad with fake examples which are ignored
    # later on. These do NOT count towards the metric (weight 0.0).
    eval_file, num_eval_records = runner.record_file(
        eval_examples, "eval", FLAGS.eval_batch_size if FLAGS.use_tpu else None)
    logging.info("***** Running evaluation *****")
    logging.info("  Num examples = %d (%d actual, %d padding)",
                 num_eval_records, num_actual_eval_examples,
                 num_eval_records - num_actual_eval_examples)
    logging.info("  Batch size = %d", FLAGS.eval_batch_size)
    # This tells the estimator to run through the entire set; on the TPU
    # the number of steps is given.
    if FLAGS.use_tpu:
      eval_steps = num_eval_records // FLAGS.eval_batch_size
    eval_input_fn = runner.input_fn(eval_file, False, FLAGS.use_tpu)

  if FLAGS.do_train:
    train_file, _ = runner.record_file(train_examples, "train")
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", len(train_examples))
    logging.info("  Batch size = %d", FLAGS.train_batch_size)
    logging.info("  Num steps = %d", num_train_steps)
    runner.train(train_file, num_train_steps, eval_input_fn, eval_steps)

  if FLAGS.do_eval:
    result = runner.evaluate(eval_input_fn, eval_steps)
    logging.info("***** Eval results *****")
    estimator_lib.write_eval_results(
        os.path.join(FLAGS.output_dir, "eval_results.txt"), result)

  if FLAGS.do_predict:
    predict_examples = processor.get_test_examples(FLAGS.data_dir)
    num_actual_predict_examples = len(predict_examples)
    predict_file, num_predict_records = runner.record_file(
        predict_examples, "predict",
        FLAGS.predict_batch_size if FLAGS.use_tpu else None)
    logging.info("***** Running prediction*****")
    logging.info("  Num examples = %d (%d actual, %d padding)",
                 num_predict_records, num_actual_predict_examples,
                 num_predict_records - num_actual_predict_examples)
    logging.info("  Batch size = %d", FLAGS.predict_batch_size)
    result = estimator.predict(
        input_fn=runner.input_fn(predict_file, False, FLAGS.use_tpu))
    write_test_results(
        os.path.join(FLAGS.output_dir, "test_results.tsv"), result,
        num_actual_predict_examples)

  if FLAGS.export_dir:
    checkpoint_path = estimator.latest_checkpoint() or FLAGS.init_checkpoint
    if not checkpoint_path:
      raise ValueError("--export_dir: no checkpoint in --output_dir=%s and no "
                       "--init_checkpoint" % FLAGS.output_dir)
    export_classifier(model_fn, checkpoint_path, FLAGS.export_dir)


if __name__ == "__main__":
  flags.mark_flag_as_required("data_dir")
  flags.mark_flag_as_required("task_name")
  flags.mark_flag_as_required("vocab_file")
  flags.mark_flag_as_required("bert_config_file")
  flags.mark_flag_as_required("output_dir")
  app.run(main)
