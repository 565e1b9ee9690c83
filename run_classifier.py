# coding=utf-8
"""BERT fine-tuning runner: sentence (pair) classification.

Google's run_classifier.py (eedf571) for TensorFlow 2: the same flags, the same
processors (XNLI, MNLI, MRPC, CoLA), the same TFRecords and the same
eval_results.txt / test_results.tsv. New: user data without a processor
(--task_name=tsv|csv|jsonl), multi-label classification (--multi_label),
regression (--task_name=sts-b), richer metrics, evaluation during training with
best-checkpoint keeping (--eval_every_steps), SavedModel export (--export_dir)
and every registered encoder family: an ALBERT config (detected from the file)
with --spm_model_file fine-tunes ALBERT on the same data.

This script is the command line: its flags, the encoder from the registry
(encoders.py), the classification task (tasks/classification.py) and the
driver (task_lib.run). Google's importable names stay here.
"""

from absl import flags
from absl import logging
import tensorflow as tf

import encoders
import estimator_lib
import heads
import task_lib
import text_inputs
import tokenization
import validation
from tasks import classification
# Google's names (and ours that users import), from where they live now.
from tasks.classification import ClassifierModel
from tasks.classification import classification_metrics
from tasks.classification import convert_examples_to_features
from tasks.classification import convert_single_example
from tasks.classification import file_based_convert_examples_to_features
from tasks.classification import file_based_input_fn_builder
from tasks.classification import input_fn_builder
from tasks.classification import matthews_correlation
from tasks.classification import metrics_from_predictions
from tasks.classification import multi_label_metrics
from tasks.classification import pad_examples
from tasks.classification import regression_metrics
from tasks.classification import write_test_results
from tasks.classification_data import check_labels
from tasks.classification_data import ColaProcessor
from tasks.classification_data import DataProcessor
from tasks.classification_data import InputExample
from tasks.classification_data import InputFeatures
from tasks.classification_data import labels_of_examples
from tasks.classification_data import MnliProcessor
from tasks.classification_data import MrpcProcessor
from tasks.classification_data import PaddingInputExample
from tasks.classification_data import PROCESSORS
from tasks.classification_data import read_label_file
from tasks.classification_data import StsbProcessor
from tasks.classification_data import USER_DATA_FORMATS
from tasks.classification_data import UserDataProcessor
from tasks.classification_data import write_label_list
from tasks.classification_data import XnliProcessor

FLAGS = flags.FLAGS

# bert_config_file, vocab_file, output_dir, init_checkpoint, do_lower_case,
# max_seq_length, do_train/do_eval/do_predict, batch sizes, learning_rate,
# num_train_epochs, warmup_proportion, save_checkpoints_steps,
# iterations_per_loop, Google's TPU flags and the runtime flags.
task_lib.define_finetuning_flags()
# data_dir, task_name, the user-data flags, eval_every_steps,
# keep_best_metric, export_dir.
classification.define_flags()

CLASSIFICATION = heads.CLASSIFICATION
MULTI_LABEL = heads.MULTI_LABEL
REGRESSION = heads.REGRESSION
ClassifierHead = heads.ClassifierHead
head_outputs = heads.classifier_outputs
_truncate_seq_pair = text_inputs.truncate_seq_pair


class BertClassifier(ClassifierModel):
  """BertModel + ClassifierHead; every variable has its Google name."""

  def __init__(self, bert_config, num_labels, use_one_hot_embeddings=False,
               compute_dtype=tf.float32):
    """Creates the variables.

    Args:
      bert_config: a config of a registered family (`modeling.BertConfig`).
      num_labels: number of outputs (1 for regression).
      use_one_hot_embeddings: one-hot embedding lookup (TPUs).
      compute_dtype: dtype of the encoder's matrix multiplications.
    """
    super().__init__(
        encoders.EncoderSpec.from_config(bert_config).create(
            compute_dtype=compute_dtype,
            use_one_hot_embeddings=use_one_hot_embeddings), num_labels)


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids,
                 labels, num_labels, use_one_hot_embeddings, model=None,
                 task_type=CLASSIFICATION):
  """Creates a classification model (Google's signature) and runs it once.

  Args:
    bert_config: `modeling.BertConfig`.
    is_training: dropout on.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    labels: see `heads.classifier_outputs`.
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
  return classification.classify(model, is_training, input_ids, input_mask,
                                 segment_ids, labels, task_type)


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, task_type=CLASSIFICATION,
                     optimizer="adamw"):
  """Returns the `estimator_lib.ModelFn` of the classifier (Google's name).

  Args:
    bert_config: `modeling.BertConfig`.
    num_labels: number of labels (1 for regression).
    init_checkpoint: warm-start checkpoint (weights only) or None; the
      ModelFn loads it into the model it creates, as Google's model_fn did.
    learning_rate: peak learning rate.
    num_train_steps, num_warmup_steps: the schedule (None when not training).
    use_tpu: passed to create_optimizer (ignored there, as documented).
    use_one_hot_embeddings: one-hot embedding lookup (Google: on TPUs).
    task_type: (new) CLASSIFICATION, MULTI_LABEL or REGRESSION.
    optimizer: (new) "adamw" or "lamb".
  """
  return task_lib.google_model_fn(
      classification.ClassificationTask, bert_config, init_checkpoint,
      learning_rate, num_train_steps, num_warmup_steps, use_tpu,
      use_one_hot_embeddings, optimizer, num_labels=num_labels,
      task_type=task_type)


def main(_):
  logging.set_verbosity(logging.INFO)

  tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case,
                                                FLAGS.init_checkpoint)

  if not FLAGS.do_train and not FLAGS.do_eval and not FLAGS.do_predict:
    raise validation.UsageError(
        "At least one of `do_train`, `do_eval` or `do_predict' must be True.")

  family, bert_config = encoders.load_config(FLAGS.bert_config_file,
                                             FLAGS.encoder_family)

  if FLAGS.max_seq_length > bert_config.max_position_embeddings:
    raise validation.UsageError(
        "Cannot use sequence length %d because the BERT model "
        "was only trained up to sequence length %d" %
        (FLAGS.max_seq_length, bert_config.max_position_embeddings))

  # The family's tokenizer for raw text (an ALBERT config takes
  # --spm_model_file and gets ALBERT's preprocess_text).
  tokenizer = family.create_text_tokenizer(
      vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
      spm_model_file=FLAGS.spm_model_file)

  processor = classification.processor_from_flags(FLAGS)
  label_list = processor.get_labels()
  task_type = processor.task_type

  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)
  task = classification.ClassificationTask(
      task_lib.settings_from_flags(FLAGS),
      encoders.EncoderSpec(family, bert_config),
      num_labels=classification.label_kind(task_type).num_outputs(label_list),
      task_type=task_type, use_one_hot_embeddings=FLAGS.use_tpu,
      processor=processor, label_list=label_list, tokenizer=tokenizer,
      data_dir=FLAGS.data_dir, max_seq_length=FLAGS.max_seq_length,
      multi_label_threshold=FLAGS.multi_label_threshold)
  task_lib.run(task, task.settings, run_config)


if __name__ == "__main__":
  # --vocab_file is required by the family's tokenizer (BERT's; ALBERT's
  # takes --spm_model_file instead).
  task_lib.app_main(main, ["data_dir", "task_name", "bert_config_file",
                           "output_dir"])
