# coding=utf-8
"""BERT fine-tuning runner with a TF Hub style encoder module.

Google's run_classifier_with_tfhub.py for TensorFlow 2.
--bert_hub_module_handle is a local directory or a URL / gs:// handle
(resolved by tensorflow_hub, so TFHUB_CACHE_DIR works offline) of any BERT
encoder module: Google's TF1 Hub modules, Model Garden's TF2 modules (dict or
list API) or the project's export (see hub_lib.py). Every run_classifier flag
is defined, as in Google's script; vocab_file, do_lower_case,
bert_config_file and init_checkpoint are ignored (the tokenizer and the
weights come from the module). After training, the fine-tuned BERT encoder is
also written under Google's names to <output_dir>/google_model/ (see
hub_lib.write_google_model).

It runs the classification task (tasks/classification.py) over the hub
encoder from the registry (encoders.hub_encoder), with the data path of
Google's script. Google's quirks kept: --do_predict alone is rejected (one of
--do_train / --do_eval must be set), the tasks are cola, mnli and mrpc, the
training and dev features are held in memory, and on a TPU the last partial
eval batch is dropped and the test set is cut to a multiple of
--predict_batch_size.
"""

import os

from absl import flags
from absl import logging
import tensorflow as tf

import encoders
import estimator_lib
import hub_lib
import task_lib
import validation
from tasks import classification
from tasks import classification_data

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "bert_hub_module_handle", None,
    "Handle for the BERT TF-Hub module: a local module directory or a URL / "
    "gs:// handle (TF1 Hub format, TF2 dict or list API; see hub_lib.py).")

# Every flag of run_classifier.py, as Google's script imports them.
task_lib.define_finetuning_flags()
classification.define_flags()

# Google's tasks of this script.
HUB_PROCESSORS = {
    "cola": classification_data.ColaProcessor,
    "mnli": classification_data.MnliProcessor,
    "mrpc": classification_data.MrpcProcessor,
}


class HubClassifier(classification.ClassifierModel):
  """A loaded encoder module + the ClassifierHead."""

  def __init__(self, bert_hub_module_handle, num_labels):
    """Loads the module and creates output_weights / output_bias.

    Args:
      bert_hub_module_handle: module directory or handle (hub_lib).
      num_labels: number of labels.
    """
    super().__init__(encoders.hub_encoder(bert_hub_module_handle).create(),
                     num_labels)


def create_model(is_training, input_ids, input_mask, segment_ids, labels,
                 num_labels, bert_hub_module_handle, model=None):
  """Creates a classification model (Google's signature) and runs it once.

  Args:
    is_training: dropout on.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    labels: int32 [batch_size].
    num_labels: int.
    bert_hub_module_handle: module directory or handle (hub_lib).
    model: (new) an existing HubClassifier to run instead of loading one.

  Returns:
    (loss, per_example_loss [batch_size], logits [batch_size, num_labels],
    probabilities [batch_size, num_labels]).
  """
  if model is None:
    model = HubClassifier(bert_hub_module_handle, num_labels)
  return classification.classify(model, is_training, input_ids, input_mask,
                                 segment_ids, labels)


def model_fn_builder(num_labels, learning_rate, num_train_steps,
                     num_warmup_steps, use_tpu, bert_hub_module_handle,
                     optimizer="adamw"):
  """Returns the `estimator_lib.ModelFn` (Google's name and arguments)."""
  task = classification.ClassificationTask(
      task_lib.RunSettings(learning_rate=learning_rate, use_tpu=use_tpu,
                           optimizer=optimizer),
      encoders.hub_encoder(bert_hub_module_handle), num_labels)
  task.set_schedule(num_train_steps, num_warmup_steps)
  return task


def create_tokenizer_from_hub_module(bert_hub_module_handle):
  """Get the vocab file and casing info from the Hub module."""
  return encoders.hub_encoder(bert_hub_module_handle).create_tokenizer()


class HubClassificationTask(classification.ClassificationTask):
  """The classification task with the data path of Google's hub script."""

  def _input_fn(self, examples, is_training, drop_remainder):
    """An input_fn over the examples' features held in memory."""
    features = classification.convert_examples_to_features(
        examples, self.label_list, self.max_seq_length, self.tokenizer)
    return classification.input_fn_builder(
        features=features, seq_length=self.max_seq_length,
        is_training=is_training, drop_remainder=drop_remainder)

  def train_input_fn(self):
    examples = self.train_examples()
    input_fn = self._input_fn(examples, True, True)
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", len(examples))
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    logging.info("  Num steps = %d", self.num_train_steps)
    return input_fn

  def eval_input(self):
    settings = self.settings
    examples = self.processor.get_dev_examples(self.data_dir)
    input_fn = self._input_fn(examples, False, settings.use_tpu)
    logging.info("***** Running evaluation *****")
    logging.info("  Num examples = %d", len(examples))
    logging.info("  Batch size = %d", settings.eval_batch_size)
    # This tells the estimator to run through the entire set. However, if
    # running eval on the TPU, you will need to specify the number of steps.
    eval_steps = None
    if settings.use_tpu:
      # Eval will be slightly WRONG on the TPU because it will truncate
      # the last batch.
      eval_steps = int(len(examples) / settings.eval_batch_size)
    return input_fn, eval_steps

  def evaluate(self, estimator, eval_input):
    """Google's four keys only (no predict pass)."""
    return task_lib.Task.evaluate(self, estimator, eval_input)

  def after_training(self, estimator):
    """The fine-tuned encoder under Google's names: <output_dir>/google_model
    (modules whose variables map to Google's, see hub_lib)."""
    loaded = estimator.model.encoder.loaded
    if loaded.bert_config is not None and estimator.config.is_chief:
      hub_lib.write_google_model(
          loaded, estimator.latest_checkpoint(),
          os.path.join(self.settings.output_dir, "google_model"))

  def predict(self, estimator):
    settings = self.settings
    examples = self.processor.get_test_examples(self.data_dir)
    if settings.use_tpu:
      # Discard batch remainder if running on TPU
      n = len(examples)
      examples = examples[:(n - n % settings.predict_batch_size)]
    predict_file, _ = self.record_file(examples, "predict")
    logging.info("***** Running prediction*****")
    logging.info("  Num examples = %d", len(examples))
    logging.info("  Batch size = %d", settings.predict_batch_size)
    result = estimator.predict(
        input_fn=self.input_fn(predict_file, False, settings.use_tpu))
    classification.write_test_results(
        os.path.join(settings.output_dir, "test_results.tsv"), result,
        len(examples))


def main(_):
  logging.set_verbosity(logging.INFO)

  if not FLAGS.do_train and not FLAGS.do_eval:
    raise validation.UsageError("At least one of `do_train` or `do_eval` must be True.")

  # Resolving the handle (a download) may fail: before any output exists.
  encoder = encoders.hub_encoder(FLAGS.bert_hub_module_handle)
  tokenizer = encoder.create_tokenizer()

  tf.io.gfile.makedirs(FLAGS.output_dir)

  task_name = FLAGS.task_name.lower()
  if task_name not in HUB_PROCESSORS:
    raise validation.UsageError("Task not found: %s" % (task_name))
  processor = HUB_PROCESSORS[task_name]()
  label_list = processor.get_labels()

  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)
  settings = task_lib.settings_from_flags(FLAGS)
  # As Google's script: the weights come from the module; no evaluation
  # during training, no export.
  settings.init_checkpoint = None
  settings.eval_every_steps = 0
  settings.export_dir = None
  task = HubClassificationTask(
      settings, encoder, len(label_list), processor=processor,
      label_list=label_list, tokenizer=tokenizer, data_dir=FLAGS.data_dir,
      max_seq_length=FLAGS.max_seq_length)
  task_lib.run(task, settings, run_config)


if __name__ == "__main__":
  task_lib.app_main(main, ["data_dir", "task_name", "bert_hub_module_handle",
                           "output_dir"])
