# coding=utf-8
"""BERT fine-tuning runner with a TF Hub style encoder module.

Google's run_classifier_with_tfhub.py for TensorFlow 2.
--bert_hub_module_handle is a local directory or a URL / gs:// handle
(resolved by tensorflow_hub, so TFHUB_CACHE_DIR works offline) of any BERT
encoder module: Google's TF1 Hub modules, Model Garden's TF2 modules (dict or
list API) or the project's export (see hub_lib.py). Every run_classifier flag
is inherited, as in Google's script; vocab_file, do_lower_case,
bert_config_file and init_checkpoint are ignored (the tokenizer and the
weights come from the module). After training, the fine-tuned BERT encoder is
also written under Google's names to <output_dir>/google_model/ (see
hub_lib.write_google_model).

Google's quirks kept: --do_predict alone is rejected (one of --do_train /
--do_eval must be set), the tasks are cola, mnli and mrpc, and on a TPU the
last partial eval batch is dropped and the test set is cut to a multiple of
--predict_batch_size.
"""

import os

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

import estimator_lib
import hub_lib
import run_classifier

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "bert_hub_module_handle", None,
    "Handle for the BERT TF-Hub module: a local module directory or a URL / "
    "gs:// handle (TF1 Hub format, TF2 dict or list API; see hub_lib.py).")


class HubClassifier(tf.Module):
  """A loaded encoder module + run_classifier's ClassifierHead."""

  def __init__(self, bert_hub_module_handle, num_labels):
    """Loads the module and creates output_weights / output_bias.

    Args:
      bert_hub_module_handle: module directory or handle (hub_lib).
      num_labels: number of labels.
    """
    super().__init__(name=None)
    self.encoder = hub_lib.load_encoder(bert_hub_module_handle)
    hidden_size = self._pooled(tf.zeros([1, 2], tf.int32),
                               tf.ones([1, 2], tf.int32),
                               tf.zeros([1, 2], tf.int32), False).shape[-1]
    self.head = run_classifier.ClassifierHead(num_labels, hidden_size)

  def _pooled(self, input_ids, input_mask, segment_ids, training):
    """pooled_output [batch_size, hidden_size] of the module."""
    return self.encoder(input_ids, input_mask, segment_ids, training)[0]

  def __call__(self, input_ids, input_mask, segment_ids, training=False):
    """Logits [batch_size, num_labels] (int32 [batch_size, seq] inputs)."""
    pooled = self._pooled(tf.cast(input_ids, tf.int32),
                          tf.cast(input_mask, tf.int32),
                          tf.cast(segment_ids, tf.int32), training)
    return self.head(pooled, training=training)


def create_model(is_training, input_ids, input_mask, segment_ids, labels,
                 num_labels, bert_hub_module_handle, model=None):
  """Creates a classification model (Google's signature) and runs it once.

  Args:
    is_training: dropout on.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    labels: int32 [batch_size].
    num_labels: int.
    bert_hub_module_handle: module directory.
    model: (new) an existing HubClassifier to run instead of loading one.

  Returns:
    (loss, per_example_loss [batch_size], logits [batch_size, num_labels],
    probabilities [batch_size, num_labels]).
  """
  if model is None:
    model = HubClassifier(bert_hub_module_handle, num_labels)
  logits = model(input_ids, input_mask, segment_ids, training=is_training)
  per_example_loss, probabilities = run_classifier.head_outputs(logits, labels)
  return (tf.reduce_mean(per_example_loss), per_example_loss, logits,
          probabilities)


class HubModelFn(run_classifier.ClassifierModelFn):
  """run_classifier's ModelFn on a HubClassifier."""

  def __init__(self, num_labels, learning_rate, num_train_steps,
               num_warmup_steps, use_tpu, bert_hub_module_handle,
               optimizer="adamw"):
    super().__init__(None, num_labels, None, learning_rate, num_train_steps,
                     num_warmup_steps, use_tpu, False, optimizer=optimizer)
    self.bert_hub_module_handle = bert_hub_module_handle

  def create_model(self, params):
    return HubClassifier(self.bert_hub_module_handle, self.num_labels)


def model_fn_builder(num_labels, learning_rate, num_train_steps,
                     num_warmup_steps, use_tpu, bert_hub_module_handle,
                     optimizer="adamw"):
  """Returns the `estimator_lib.ModelFn` (Google's name and arguments)."""
  return HubModelFn(num_labels, learning_rate, num_train_steps,
                    num_warmup_steps, use_tpu, bert_hub_module_handle,
                    optimizer)


def create_tokenizer_from_hub_module(bert_hub_module_handle):
  """Get the vocab file and casing info from the Hub module."""
  return hub_lib.create_tokenizer(bert_hub_module_handle)


def main(_):
  logging.set_verbosity(logging.INFO)

  processors = {
      "cola": run_classifier.ColaProcessor,
      "mnli": run_classifier.MnliProcessor,
      "mrpc": run_classifier.MrpcProcessor,
  }

  if not FLAGS.do_train and not FLAGS.do_eval:
    raise ValueError("At least one of `do_train` or `do_eval` must be True.")

  # Resolving the handle (a download) may fail: before any output exists.
  tokenizer = create_tokenizer_from_hub_module(FLAGS.bert_hub_module_handle)

  tf.io.gfile.makedirs(FLAGS.output_dir)

  task_name = FLAGS.task_name.lower()

  if task_name not in processors:
    raise ValueError("Task not found: %s" % (task_name))

  processor = processors[task_name]()

  label_list = processor.get_labels()

  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)

  train_examples, num_train_steps, num_warmup_steps = (
      run_classifier.training_schedule(processor))

  model_fn = model_fn_builder(
      num_labels=len(label_list),
      learning_rate=FLAGS.learning_rate,
      num_train_steps=num_train_steps,
      num_warmup_steps=num_warmup_steps,
      use_tpu=FLAGS.use_tpu,
      bert_hub_module_handle=FLAGS.bert_hub_module_handle,
      optimizer=FLAGS.optimizer)

  estimator = run_classifier.make_estimator(model_fn, run_config)

  if FLAGS.do_train:
    train_features = run_classifier.convert_examples_to_features(
        train_examples, label_list, FLAGS.max_seq_length, tokenizer)
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", len(train_examples))
    logging.info("  Batch size = %d", FLAGS.train_batch_size)
    logging.info("  Num steps = %d", num_train_steps)
    train_input_fn = run_classifier.input_fn_builder(
        features=train_features,
        seq_length=FLAGS.max_seq_length,
        is_training=True,
        drop_remainder=True)
    estimator.train(input_fn=train_input_fn, max_steps=num_train_steps)
    encoder = estimator.model.encoder
    if encoder.bert_config is not None and run_config.is_chief:
      hub_lib.write_google_model(encoder, estimator.latest_checkpoint(),
                                 os.path.join(FLAGS.output_dir, "google_model"))

  if FLAGS.do_eval:
    eval_examples = processor.get_dev_examples(FLAGS.data_dir)
    eval_features = run_classifier.convert_examples_to_features(
        eval_examples, label_list, FLAGS.max_seq_length, tokenizer)

    logging.info("***** Running evaluation *****")
    logging.info("  Num examples = %d", len(eval_examples))
    logging.info("  Batch size = %d", FLAGS.eval_batch_size)

    # This tells the estimator to run through the entire set.
    eval_steps = None
    # However, if running eval on the TPU, you will need to specify the
    # number of steps.
    if FLAGS.use_tpu:
      # Eval will be slightly WRONG on the TPU because it will truncate
      # the last batch.
      eval_steps = int(len(eval_examples) / FLAGS.eval_batch_size)

    eval_drop_remainder = True if FLAGS.use_tpu else False
    eval_input_fn = run_classifier.input_fn_builder(
        features=eval_features,
        seq_length=FLAGS.max_seq_length,
        is_training=False,
        drop_remainder=eval_drop_remainder)

    result = estimator.evaluate(input_fn=eval_input_fn, steps=eval_steps)
    logging.info("***** Eval results *****")
    estimator_lib.write_eval_results(
        os.path.join(FLAGS.output_dir, "eval_results.txt"), result)

  if FLAGS.do_predict:
    predict_examples = processor.get_test_examples(FLAGS.data_dir)
    if FLAGS.use_tpu:
      # Discard batch remainder if running on TPU
      n = len(predict_examples)
      predict_examples = predict_examples[:(n - n % FLAGS.predict_batch_size)]

    predict_file = os.path.join(FLAGS.output_dir, "predict.tf_record")
    run_classifier.file_based_convert_examples_to_features(
        predict_examples, label_list, FLAGS.max_seq_length, tokenizer,
        predict_file)

    logging.info("***** Running prediction*****")
    logging.info("  Num examples = %d", len(predict_examples))
    logging.info("  Batch size = %d", FLAGS.predict_batch_size)

    predict_input_fn = run_classifier.file_based_input_fn_builder(
        input_file=predict_file,
        seq_length=FLAGS.max_seq_length,
        is_training=False,
        drop_remainder=FLAGS.use_tpu)

    result = estimator.predict(input_fn=predict_input_fn)
    run_classifier.write_test_results(
        os.path.join(FLAGS.output_dir, "test_results.tsv"), result,
        len(predict_examples))


if __name__ == "__main__":
  flags.mark_flag_as_required("data_dir")
  flags.mark_flag_as_required("task_name")
  flags.mark_flag_as_required("bert_hub_module_handle")
  flags.mark_flag_as_required("output_dir")
  app.run(main)
