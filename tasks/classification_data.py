# coding=utf-8
"""The data readers of sentence (pair) classification.

Google's run_classifier.py processors (XNLI, MNLI, MRPC, CoLA; the same
columns, headers, labels and `quotechar=None` TSV reading), STS-B
(regression), and `UserDataProcessor` for TSV / CSV / JSON lines files
without a processor to write (multi-label included). Errors name the file and
line. `processor_for_task` picks one by --task_name.
"""

import csv
import json
import os

import tensorflow as tf

import heads
import io_lib
import tokenization
import validation

CLASSIFICATION = heads.CLASSIFICATION
MULTI_LABEL = heads.MULTI_LABEL
REGRESSION = heads.REGRESSION


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


def _without_bom(lines):
  """The lines of a file, the first without a UTF-8 byte order mark.

  Editors on Windows start UTF-8 files with U+FEFF; it is never data (it
  became part of the first label, "\ufeffneg").
  """
  first = True
  for line in lines:
    if first:
      line = line.lstrip(u"\ufeff")
      first = False
    yield line


def _read_rows(input_file, delimiter="\t", quotechar=None):
  """Yields (line_number, row) of a delimited text file.

  Args:
    input_file: path (anything tf.io.gfile opens).
    delimiter: column separator.
    quotechar: None reads quotes as ordinary characters (Google's TSV
      reading); '"' reads CSV quoting (strictly: a quote that is never
      closed is an error, not a row swallowing the rest of the file).

  Yields:
    (1-based line number where the row starts, list of column strings).

  Raises:
    validation.DataError: no such file, a byte sequence that is not UTF-8,
      or an unterminated quote (naming the file and line).
  """
  if not tf.io.gfile.exists(input_file):
    raise validation.MissingInputError("%s: no such file" % input_file)
  with tf.io.gfile.GFile(input_file, "r") as f:
    kwargs = {"quotechar": quotechar, "strict": True}
    if quotechar is None:
      kwargs["quoting"] = csv.QUOTE_NONE
    reader = csv.reader(_without_bom(f), delimiter=delimiter, **kwargs)
    line_number = 1
    try:
      for row in reader:
        yield line_number, row
        line_number = reader.line_num + 1
    except csv.Error as e:
      raise validation.DataError(
          "%s:%d: %s (a %s quote that is never closed merges the lines "
          "after it)" % (input_file, line_number, e, quotechar)) from None
    except UnicodeDecodeError as e:
      raise validation.DataError("%s:%d: not UTF-8 text (%s)" % (
          input_file, line_number, e)) from None


def _column(row, index):
  """Returns row[index] as unicode, or a ValueError saying the row is short."""
  if index >= len(row) or index < -len(row):
    raise validation.DataError("expected at least %d columns, found %d" %
                     (index + 1 if index >= 0 else -index, len(row)))
  return tokenization.convert_to_unicode(row[index])


def _require_examples(examples, input_file):
  """Raises when a split yielded no example (it would train on nothing)."""
  if not examples:
    raise validation.DataError("%s: no examples in this file" % input_file)
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
        raise validation.DataError("%s: %s" % (source, e)) from None
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
    raise validation.UsageError(
        "--%s=%s is not a column number and --has_header is not set" %
        (flag_name, spec))
  if spec not in header:
    raise validation.UsageError("--%s=%s: %s:1: no such column in the header %s" %
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
        raise validation.UsageError(
            "The label list is unknown: pass --label_file")
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
    """Label string -> label (str), or list of labels for multi-label.

    Spaces around labels are dropped ("pos " is "pos", not a third class).
    """
    if not self.multi_label:
      return text.strip()
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
    """The examples of a TSV / CSV file.

    Every row must have as many columns as the file's first line (header or
    data): a missing tab used to make a sentence its own label, a trailing
    tab an extra empty column that became the label "".

    Raises:
      validation.DataError: naming the file and line.
    """
    delimiter, quotechar = (("\t", None) if self.file_format == "tsv" else
                            (",", '"'))
    examples = []
    columns = width = None
    for line_number, row in _read_rows(input_file, delimiter, quotechar):
      if columns is None:
        header = row if self.has_header else None
        columns = {
            name: _parse_column_spec(spec, header, name + "_column",
                                     input_file)
            for name, spec in self._column_specs(set_type).items()
        }
        width, first_line = len(row), line_number
        if self.has_header:
          continue
      if not row or row == [""]:
        continue
      source = "%s:%d" % (input_file, line_number)
      if len(row) != width:
        raise validation.DataError(
            "%s: %d column(s) where line %d has %d: a missing or extra %s?" %
            (source, len(row), first_line, width,
             "tab" if delimiter == "\t" else "comma or quote"))
      try:
        values = {name: _column(row, index) for name, index in columns.items()}
      except ValueError as e:
        raise validation.DataError("%s: %s" % (source, e)) from None
      examples.append(
          self._make_example(set_type, len(examples), values, source))
    return examples

  def _read_jsonl(self, input_file, set_type):
    if not tf.io.gfile.exists(input_file):
      raise validation.MissingInputError("%s: no such file" % input_file)
    examples = []
    with tf.io.gfile.GFile(input_file, "r") as f:
      for line_number, line in enumerate(_without_bom(f), start=1):
        if not line.strip():
          continue
        source = "%s:%d" % (input_file, line_number)
        try:
          obj = json.loads(line)
        except ValueError as e:
          raise validation.DataError("%s: not a JSON object: %s" %
                                     (source, e)) from None
        if not isinstance(obj, dict):
          raise validation.DataError("%s: not a JSON object" % source)
        keys = self._column_specs(set_type)
        values = {}
        for name, key in keys.items():
          if key not in obj:
            raise validation.DataError("%s: no key %r (--%s_column)" %
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
        raise validation.DataError("%s: the label is a list; pass "
                                   "--multi_label" % source)
      label = values["label"]
    else:
      label = self._split_labels(values["label"])
      if not self.multi_label and not label:
        raise validation.DataError("%s: the label is empty (--label_column="
                                   "%s)" % (source, self.label_column))
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


def has_split(processor, split):
  """Whether `processor` reads `split` ("train", "dev" or "test").

  Google's XNLI processor has no test split: --do_predict used to fail with
  a bare NotImplementedError after training.
  """
  base = DataProcessor
  getter = "get_%s_examples" % split
  cls = type(processor)
  return (getattr(cls, getter) is not getattr(base, getter) or
          cls._split_examples is not base._split_examples or  # pylint: disable=protected-access
          split in processor.split_files)


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
  """Raises DataError naming `source` when a label is not in `label_list`."""
  for one in (label if isinstance(label, list) else [label]):
    if one not in label_list:
      raise validation.DataError("%s: unknown label %r (labels: %s)" %
                       (source, one, ", ".join(label_list)))


def read_label_file(label_file):
  """Label list from a file with one label per line (blank lines skipped)."""
  if not tf.io.gfile.exists(label_file):
    raise validation.MissingInputError("%s: no such file (--label_file)" %
                               label_file)
  with tf.io.gfile.GFile(label_file, "r") as f:
    labels = [line.strip() for line in f if line.strip()]
  if not labels:
    raise validation.DataError("%s: no labels in --label_file" % label_file)
  if len(set(labels)) != len(labels):
    raise validation.DataError("%s: a label is listed twice" % label_file)
  return labels


# Files of an output directory that were made with its label_list.txt: the
# checkpoints' head rows and test_results.tsv's columns follow its order.
LABELLED_OUTPUTS = (("checkpoint", "checkpoints"),
                    ("test_results.tsv", "test results"))


def write_label_list(path, label_list):
  """Writes one label per line (read back by --label_file).

  label_list.txt describes the checkpoints and test_results.tsv beside it,
  so it is never replaced by other labels while they exist: a rerun with
  other data into a finished directory used to rewrite it beside the old
  test_results.tsv (whose columns then had the wrong names).

  Raises:
    validation.UsageError: `path` lists other labels and its directory
      holds checkpoints or test results made with them.
  """
  text = "".join(label + "\n" for label in label_list)
  if io_lib.exists(path):
    with io_lib.open_file(path) as f:
      old = f.read()
    if old == text:
      return
    directory = os.path.dirname(path)
    made = [what for name, what in LABELLED_OUTPUTS
            if io_lib.exists(os.path.join(directory, name))]
    if made:
      raise validation.UsageError(
          "%s lists the labels %s but these data have %s; the %s beside it "
          "were made with the old list: use a new --output_dir" % (
              path, validation.list_text(old.split()),
              validation.list_text(label_list), " and ".join(made)))
  io_lib.write_text(path, text)


PROCESSORS = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mrpc": MrpcProcessor,
    "xnli": XnliProcessor,
    "sts-b": StsbProcessor,
    "stsb": StsbProcessor,
}
USER_DATA_FORMATS = ("tsv", "csv", "jsonl")

# The UserDataProcessor options of the command line (flag name = argument).
USER_DATA_OPTIONS = ("text_a_column", "text_b_column", "label_column",
                     "has_header", "multi_label_separator", "train_file",
                     "dev_file", "test_file")


def processor_for_task(task_name, data_dir=None, label_file=None,
                       multi_label=False, **user_data_options):
  """The DataProcessor of --task_name (Google's tasks or user data).

  Args:
    task_name: cola, mnli, mrpc, xnli, sts-b, or tsv / csv / jsonl.
    data_dir: where the data files are (user data: to infer the labels).
    label_file: user data: the label list file, or None.
    multi_label: user data: several labels per example.
    **user_data_options: UserDataProcessor arguments (USER_DATA_OPTIONS).

  Raises:
    ValueError: an unknown task, or --multi_label with Google's tasks.
  """
  task_name = task_name.lower()
  if task_name in USER_DATA_FORMATS:
    labels = read_label_file(label_file) if label_file else None
    return UserDataProcessor(task_name, labels=labels, multi_label=multi_label,
                             data_dir=data_dir, **user_data_options)
  if task_name not in PROCESSORS:
    raise validation.UsageError("Task not found: %s (known: %s, or %s for your own data)"
                     % (task_name, ", ".join(sorted(PROCESSORS)),
                        "/".join(USER_DATA_FORMATS)))
  if multi_label:
    raise validation.UsageError(
        "--multi_label needs --task_name=tsv, csv or jsonl")
  return PROCESSORS[task_name]()
