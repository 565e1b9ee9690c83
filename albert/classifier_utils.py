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
"""ALBERT's classifier_utils.py: GLUE processors and classifier records.

ALBERT's processors read `<data_dir>/<TASK>/<split>.tsv` (MNLI, MRPC, CoLA,
SST-2, STS-B, QQP, QNLI, RTE, WNLI; MNLI's matched and mismatched files;
`<data_dir>/diagnostic/diagnostic.tsv` for AX) and pass every text, label and
most guids through `process_text`: `preprocess_text(text, lower=
do_lower_case)` with SentencePiece (`use_spm`), the text unchanged with
WordPiece. The records are BERT's (`input_ids`, `input_mask`, `segment_ids`,
`label_ids`, `is_real_example`, in that order) with a float `label_ids` for
STS-B; they are written by the shared classifier code, byte for byte as
ALBERT's writer.

ALBERT's model: `create_model` returns ALBERT's (loss, per_example_loss,
probabilities, logits, predictions) (`heads.classifier_model_outputs`), and
`model_fn_builder` the ModelFn of `AlbertClassificationTask`: the shared
classification task with ALBERT's schedule (`train_step`, `warmup_step`),
predictions (`probabilities`, `predictions`) and evaluation keys
(`eval_accuracy`, `eval_loss`; CoLA also `matthew_corr`; STS-B `pearson`,
`MSE`, `eval_loss`).

Beyond ALBERT: a row too short for its columns is an error naming the file
and line (ALBERT: IndexError), a split without examples is an error, records
are written under a temporary name and renamed, and `PROCESSORS` also maps
"ax".
"""

import os

import tensorflow as tf

import encoders
import estimator_lib
import heads
import task_lib
from albert import tokenization
from tasks import classification
from tasks import classification_data

# Classes ALBERT's module has, with the same fields.
InputExample = classification_data.InputExample
PaddingInputExample = classification_data.PaddingInputExample
# ALBERT's in-memory input_fn_builder(features, seq_length, is_training,
# drop_remainder) "still used by the Colab", with BERT's arguments.
input_fn_builder = classification.input_fn_builder


class InputFeatures(classification_data.InputFeatures):
  """A single set of features of data (ALBERT's fields)."""

  def __init__(self,
               input_ids,
               input_mask,
               segment_ids,
               label_id,
               guid=None,
               example_id=None,
               is_real_example=True):
    """Constructs an InputFeatures.

    Args:
      input_ids: list of int [max_seq_length].
      input_mask: list of 0/1 [max_seq_length].
      segment_ids: list of 0/1 [max_seq_length].
      label_id: int label index, or float (STS-B).
      guid: unused by ALBERT's code (kept for its callers).
      example_id: unused by ALBERT's code (kept for its callers).
      is_real_example: False for the padding of a TPU batch.
    """
    super(InputFeatures, self).__init__(input_ids, input_mask, segment_ids,
                                        label_id, is_real_example)
    self.guid = guid
    self.example_id = example_id


def _task_files(folder, dev=("dev.tsv", "dev"), test=("test.tsv", "test")):
  """`split_files` of a task: split -> (path under data_dir, set_type).

  Args:
    folder: the task's folder under data_dir, e.g. "MRPC".
    dev: (file name, set_type the examples are made with) of the dev split.
    test: the same for the test split.

  Returns:
    dict "train"/"dev"/"test" -> (path, set_type).
  """
  return {"train": (os.path.join(folder, "train.tsv"), "train"),
          "dev": (os.path.join(folder, dev[0]), dev[1]),
          "test": (os.path.join(folder, test[0]), test[1])}


class DataProcessor(classification_data.DataProcessor):
  """Base class of ALBERT's processors: `process_text` on every field.

  Subclasses set `labels` and `split_files` (see `_task_files`) and implement
  `_example_from_row(i, row, set_type, column)` as the shared
  DataProcessor documents; `get_train_examples(data_dir)` and friends read
  the files.
  """

  # The task's labels, in ALBERT's order (their ids are the positions).
  labels = None

  def __init__(self, use_spm, do_lower_case):
    """Constructs a DataProcessor.

    Args:
      use_spm: bool, the model uses SentencePiece: texts get
        `preprocess_text`.
      do_lower_case: bool, lower-case in `preprocess_text` (with
        SentencePiece; WordPiece's tokenizer lower-cases by itself).
    """
    super(DataProcessor, self).__init__()
    self.use_spm = use_spm
    self.do_lower_case = do_lower_case

  def get_labels(self):
    """The task's labels (ALBERT's lists; STS-B: [None])."""
    if self.labels is None:
      raise NotImplementedError()
    return list(self.labels)

  def process_text(self, text):
    """ALBERT's normalisation of one field of the data files.

    Args:
      text: str or bytes.

    Returns:
      str: `preprocess_text(text, lower=do_lower_case)` with SentencePiece,
      the text as unicode otherwise.
    """
    if self.use_spm:
      return tokenization.preprocess_text(text, lower=self.do_lower_case)
    return tokenization.convert_to_unicode(text)

  def _pair(self, guid, column, a, b, label):
    """InputExample(guid, text a, text b, label) with processed texts.

    Args:
      guid: the example's guid.
      column: the row's column(index) -> str.
      a: column index of text_a.
      b: column index of text_b, or None for single sentences.
      label: the label (already final).

    Returns:
      InputExample.
    """
    text_b = None if b is None else self.process_text(column(b))
    return InputExample(guid=guid, text_a=self.process_text(column(a)),
                        text_b=text_b, label=label)


class MnliProcessor(DataProcessor):
  """Processor for the MultiNLI data set (GLUE version)."""

  split_files = _task_files("MNLI", ("dev_matched.tsv", "dev_matched"),
                            ("test_matched.tsv", "test"))
  labels = ["contradiction", "entailment", "neutral"]

  def _example_from_row(self, i, row, set_type, column):
    """guid: the processed index column (ALBERT's GLUE submission id)."""
    if i == 0:
      return None
    label = ("contradiction" if set_type == "test" else
             self.process_text(column(-1)))
    return self._pair(self.process_text(column(0)), column, 8, 9, label)


class MisMnliProcessor(MnliProcessor):
  """Processor for the Mismatched MultiNLI data set (GLUE version)."""

  split_files = _task_files("MNLI", ("dev_mismatched.tsv", "dev"),
                            ("test_mismatched.tsv", "test"))


class MrpcProcessor(DataProcessor):
  """Processor for the MRPC data set (GLUE version)."""

  split_files = _task_files("MRPC")
  labels = ["0", "1"]

  def _example_from_row(self, i, row, set_type, column):
    """guid "<set_type>-<i>"; in test the id column, not processed."""
    if i == 0:
      return None
    if set_type == "test":
      return self._pair(column(0), column, 3, 4, "0")
    return self._pair("%s-%s" % (set_type, i), column, 3, 4,
                      self.process_text(column(0)))


class ColaProcessor(DataProcessor):
  """Processor for the CoLA data set (GLUE version)."""

  split_files = _task_files("CoLA")
  labels = ["0", "1"]

  def _example_from_row(self, i, row, set_type, column):
    """Only the test file has a header; its guid is the id column."""
    if set_type == "test":
      if i == 0:
        return None
      return self._pair(column(0), column, 1, None, "0")
    return self._pair("%s-%s" % (set_type, i), column, 3, None,
                      self.process_text(column(1)))


class Sst2Processor(DataProcessor):
  """Processor for the SST-2 data set (GLUE version)."""

  split_files = _task_files("SST-2")
  labels = ["0", "1"]

  def _example_from_row(self, i, row, set_type, column):
    """Train/dev: sentence, label; test: index, sentence."""
    if i == 0:
      return None
    if set_type == "test":
      return self._pair(self.process_text(column(0)), column, 1, None, "0")
    return self._pair("%s-%s" % (set_type, i), column, 0, None,
                      self.process_text(column(1)))


class StsbProcessor(DataProcessor):
  """Processor for the STS-B data set (GLUE version): a float score."""

  task_type = classification.REGRESSION
  split_files = _task_files("STS-B")
  labels = [None]  # one output, no label names

  def _example_from_row(self, i, row, set_type, column):
    """Score: float of the last column (0 in test)."""
    if i == 0:
      return None
    label = 0
    if set_type != "test":
      text = column(-1)
      try:
        label = float(text)
      except ValueError:
        raise ValueError("score %r is not a number" % text) from None
    return self._pair(self.process_text(column(0)), column, 7, 8, label)


class QqpProcessor(DataProcessor):
  """Processor for the QQP data set (GLUE version)."""

  split_files = _task_files("QQP")
  labels = ["0", "1"]

  def _example_from_row(self, i, row, set_type, column):
    """guid: the id column; train/dev rows without 6 columns are skipped."""
    if i == 0:
      return None
    guid = column(0)
    if set_type == "test":
      return self._pair(guid, column, 1, 2, "0")
    if len(row) < 6:
      # ALBERT skips them (IndexError): GLUE's QQP has a few broken lines.
      return None
    return self._pair(guid, column, 3, 4, self.process_text(column(5)))


class _IndexPairProcessor(DataProcessor):
  """QNLI, RTE, WNLI, AX: index, sentence 1, sentence 2 (, label)."""

  # The label of a test example (test files have no label column).
  test_label = None
  test_set_type = "test"

  def _example_from_row(self, i, row, set_type, column):
    """guid: the processed index column; label: the last column."""
    if i == 0:
      return None
    label = (self.test_label if set_type == self.test_set_type else
             self.process_text(column(-1)))
    return self._pair(self.process_text(column(0)), column, 1, 2, label)


class QnliProcessor(_IndexPairProcessor):
  """Processor for the QNLI data set (GLUE version)."""

  split_files = _task_files("QNLI", ("dev.tsv", "dev_matched"),
                            ("test.tsv", "test_matched"))
  test_label = "entailment"
  test_set_type = "test_matched"
  labels = ["entailment", "not_entailment"]


class RteProcessor(_IndexPairProcessor):
  """Processor for the RTE data set (GLUE version)."""

  split_files = _task_files("RTE")
  test_label = "entailment"
  labels = ["entailment", "not_entailment"]


class WnliProcessor(_IndexPairProcessor):
  """Processor for the WNLI data set (GLUE version)."""

  split_files = _task_files("WNLI")
  test_label = "0"
  labels = ["0", "1"]


class AXProcessor(_IndexPairProcessor):
  """Processor for the AX (GLUE diagnostic) data set: test only."""

  split_files = {"test": (os.path.join("diagnostic", "diagnostic.tsv"),
                          "test")}
  test_label = "contradiction"
  labels = ["contradiction", "entailment", "neutral"]


# ALBERT's run_classifier.py task names (plus "ax", whose processor ALBERT
# has but does not map).
PROCESSORS = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mismnli": MisMnliProcessor,
    "mrpc": MrpcProcessor,
    "rte": RteProcessor,
    "sst-2": Sst2Processor,
    "sts-b": StsbProcessor,
    "qqp": QqpProcessor,
    "qnli": QnliProcessor,
    "wnli": WnliProcessor,
    "ax": AXProcessor,
}


def _task_type(task_name):
  """The shared classifier's task type of an ALBERT task name."""
  if task_name == "sts-b":
    return classification.REGRESSION
  return classification.CLASSIFICATION


def convert_single_example(ex_index, example, label_list, max_seq_length,
                           tokenizer, task_name):
  """Converts a single `InputExample` into a single `InputFeatures`.

  `[CLS] A [SEP] (B [SEP])`, the longer text truncated first, zero padding,
  as BERT; the label is its index in `label_list`, or the float score for
  "sts-b".

  Args:
    ex_index: position of the example (the first 5 are logged).
    example: `InputExample` or `PaddingInputExample`.
    label_list: list of labels (`get_labels()`).
    max_seq_length: int, length of the padded id lists.
    tokenizer: albert.tokenization.FullTokenizer (its input is already
      `process_text`'ed).
    task_name: lower-case task name; "sts-b" means a float label.

  Returns:
    `InputFeatures` with lists of length max_seq_length.
  """
  feature = classification.convert_single_example(
      ex_index, example, label_list, max_seq_length, tokenizer,
      _task_type(task_name))
  return InputFeatures(feature.input_ids, feature.input_mask,
                       feature.segment_ids, feature.label_id,
                       is_real_example=feature.is_real_example)


def convert_examples_to_features(examples, label_list, max_seq_length,
                                 tokenizer, task_name):
  """Converts `InputExample`s to a list of `InputFeatures` (ALBERT's name).

  Args:
    examples: list of `InputExample`.
    label_list: list of labels.
    max_seq_length: int.
    tokenizer: see `convert_single_example`.
    task_name: see `convert_single_example`.

  Returns:
    list of `InputFeatures`.
  """
  return [convert_single_example(i, example, label_list, max_seq_length,
                                 tokenizer, task_name)
          for i, example in enumerate(examples)]


def file_based_convert_examples_to_features(
    examples, label_list, max_seq_length, tokenizer, output_file, task_name):
  """Writes the records of `examples` to the TFRecord file `output_file`.

  Features in ALBERT's order: input_ids, input_mask, segment_ids (int64 x
  max_seq_length), label_ids (int64 x 1; float x 1 for "sts-b"),
  is_real_example (int64 x 1).

  Args:
    examples: list of `InputExample` (or `PaddingInputExample`).
    label_list: list of labels.
    max_seq_length: int.
    tokenizer: see `convert_single_example`.
    output_file: path of the TFRecord file.
    task_name: see `convert_single_example`.
  """
  classification.file_based_convert_examples_to_features(
      examples, label_list, max_seq_length, tokenizer, output_file,
      _task_type(task_name))


def file_based_input_fn_builder(input_file, seq_length, is_training,
                                drop_remainder, task_name, use_tpu, bsz,
                                multiple=1):
  """An input_fn over a file of `file_based_convert_examples_to_features`.

  Args:
    input_file: TFRecord path.
    seq_length: max_seq_length of the records.
    is_training: repeat and shuffle (buffer 100).
    drop_remainder: drop the last partial batch.
    task_name: "sts-b" reads a float label.
    use_tpu: ignored (the batch size comes from params when it is there).
    bsz: batch size used when params has no "batch_size".
    multiple: records hold `multiple` sequences each (ALBERT's RACE).

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts input_ids, input_mask,
    segment_ids [batch, seq_length * multiple] int32, label_ids [batch]
    (int32, float32 for STS-B), is_real_example [batch] int32.
  """
  del use_tpu  # See the docstring.
  label_type = tf.float32 if task_name == "sts-b" else tf.int64
  ids = tf.io.FixedLenFeature([seq_length * multiple], tf.int64)
  name_to_features = {
      "input_ids": ids, "input_mask": ids, "segment_ids": ids,
      "label_ids": tf.io.FixedLenFeature([], label_type),
      "is_real_example": tf.io.FixedLenFeature([], tf.int64),
  }
  read = estimator_lib.record_input_fn_builder(
      input_file, name_to_features, is_training, drop_remainder)

  def input_fn(params):
    """The actual input function."""
    return read(dict({"batch_size": bsz}, **params))

  return input_fn


## ALBERT's model_fn


def best_metric(task_name):
  """The eval key ALBERT's run_classifier picks the best checkpoint by."""
  if task_name == "sts-b":
    return "pearson"
  if task_name == "cola":
    return "matthew_corr"
  return "eval_accuracy"


class AlbertClassificationTask(classification.ClassificationTask):
  """ALBERT's classifier model_fn as a Task (the shared classification task).

  The model is the encoder + Google's classifier head (`output_weights`,
  `output_bias`: ALBERT's names); the differences are ALBERT's:
  * the schedule is --train_step / --warmup_step (`settings.num_train_steps`,
    `settings.num_warmup_steps`), not epochs;
  * predictions are `probabilities` and `predictions` (argmax, or the score
    for STS-B, whose probabilities are the [batch, 1] logits);
  * evaluation adds ALBERT's keys: `matthew_corr` (CoLA), `pearson` and `MSE`
    (STS-B), and the best checkpoint is chosen by `best_metric(task_name)`.
  """

  def __init__(self, settings, encoder_spec, num_labels, task_name,
               use_one_hot_embeddings=False, **data):
    """Creates the task.

    Args:
      settings: task_lib.RunSettings (num_train_steps / num_warmup_steps are
        ALBERT's train_step / warmup_step).
      encoder_spec: encoders.EncoderSpec (or a hub encoder spec).
      num_labels: len(label_list) (1 for STS-B).
      task_name: ALBERT's lower-case task name ("sts-b" is a regression).
      use_one_hot_embeddings: one-hot embedding lookups (TPUs).
      **data: processor, label_list, tokenizer, data_dir, max_seq_length (see
        ClassificationTask).
    """
    super(AlbertClassificationTask, self).__init__(
        settings, encoder_spec, num_labels, task_type=_task_type(task_name),
        use_one_hot_embeddings=use_one_hot_embeddings, **data)
    self.task_name = task_name

  def training_schedule(self):
    """ALBERT's schedule: (train_step, warmup_step) as given."""
    return self.settings.num_train_steps, self.settings.num_warmup_steps

  def predictions(self, model, features, params):
    """ALBERT's `probabilities` and `predictions` (+ what the metrics read)."""
    logits = model(features["input_ids"], features["input_mask"],
                   features["segment_ids"], training=False)
    outputs = heads.classifier_model_outputs(logits, features["label_ids"],
                                             self.task_type)
    is_real_example = features.get("is_real_example")
    if is_real_example is None:
      is_real_example = tf.ones_like(outputs.per_example_loss)
    return {"probabilities": outputs.probabilities,
            "predictions": outputs.predictions,
            "label_ids": features["label_ids"],
            "is_real_example": tf.cast(is_real_example, tf.float32)}

  def evaluate(self, estimator, eval_input, checkpoint_path=None):
    """The shared keys plus ALBERT's names of the task's metric."""
    result = super(AlbertClassificationTask, self).evaluate(
        estimator, eval_input, checkpoint_path)
    if self.task_name == "cola":
      result["matthew_corr"] = result["eval_matthews_corr"]
    elif self.task_name == "sts-b":
      # ALBERT's weighted mean squared error is its eval_loss.
      result["pearson"] = result["eval_pearson"]
      result["MSE"] = result["eval_loss"]
    return result

  def default_best_metric(self):
    """ALBERT's metric of the task (`best_metric`)."""
    return best_metric(self.task_name)


def create_model(albert_config, is_training, input_ids, input_mask,
                 segment_ids, labels, num_labels, use_one_hot_embeddings,
                 task_name, hub_module, model=None):
  """Creates a classification model (ALBERT's signature) and runs it once.

  Args:
    albert_config: `modeling.AlbertConfig` (None with `hub_module`).
    is_training: dropout on.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    labels: int32 [batch_size] (float32 for "sts-b").
    num_labels: int (1 for "sts-b").
    use_one_hot_embeddings: one-hot embedding lookup.
    task_name: lower-case task name.
    hub_module: a TF Hub module handle to take the encoder from, or None.
    model: (new) an existing classification.ClassifierModel to run.

  Returns:
    (loss, per_example_loss [batch_size], probabilities, logits,
    predictions) as ALBERT's (see heads.ClassifierOutputs).
  """
  if model is None:
    spec = (encoders.hub_encoder(hub_module) if hub_module else
            encoders.EncoderSpec.from_config(albert_config))
    model = classification.ClassifierModel(
        spec.create(use_one_hot_embeddings=use_one_hot_embeddings),
        num_labels)
  logits = model(input_ids, input_mask, segment_ids, training=is_training)
  return tuple(heads.classifier_model_outputs(logits, labels,
                                              _task_type(task_name)))


def model_fn_builder(albert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, task_name, hub_module=None,
                     optimizer="adamw"):
  """Returns the `estimator_lib.ModelFn` of ALBERT's classifier.

  Args:
    albert_config: `modeling.AlbertConfig` (None with `hub_module`).
    num_labels: number of labels.
    init_checkpoint: warm start (weights only) loaded by the ModelFn into the
      model it creates, as ALBERT's model_fn did; or None.
    learning_rate, num_train_steps, num_warmup_steps, use_tpu: ALBERT's
      create_optimizer arguments.
    use_one_hot_embeddings: one-hot embedding lookup.
    task_name: lower-case task name.
    hub_module: a TF Hub module handle to take the encoder from, or None.
    optimizer: "adamw" or "lamb".
  """
  if not hub_module:
    return task_lib.google_model_fn(
        AlbertClassificationTask, albert_config, init_checkpoint,
        learning_rate, num_train_steps, num_warmup_steps, use_tpu,
        use_one_hot_embeddings, optimizer, num_labels=num_labels,
        task_name=task_name)
  task = AlbertClassificationTask(
      task_lib.RunSettings(learning_rate=learning_rate, use_tpu=use_tpu,
                           optimizer=optimizer),
      encoders.hub_encoder(hub_module), num_labels, task_name,
      use_one_hot_embeddings)
  task.set_schedule(num_train_steps, num_warmup_steps)
  return task_lib.with_warm_start(task, init_checkpoint)
