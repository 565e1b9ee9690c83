# coding=utf-8
"""Run BERT on SQuAD 1.1 and SQuAD 2.0.

Google's run_squad.py (google-research/bert eedf571) for TensorFlow 2: the same
flags, examples, windowed features, TFRecords, model head and prediction files
(byte for byte). On top: prediction is streamed (features go to the record
file as they are made, results are turned into answers as they arrive), the
official SQuAD metrics are computed when the predict file has answers, and a
SQuAD 2.0 question whose n-best holds only the null answer is answered "" where
Google's code crashes.

This script is the command line: its flags, the encoder from the registry
(encoders.py), the SQuAD task (tasks/squad.py) and the driver (task_lib.run).
Google's importable names stay here.
"""

from absl import flags
from absl import logging
import tensorflow as tf

import encoders
import estimator_lib
import heads
import task_lib
import tokenization
import validation
from tasks import squad
# Google's names, from where they live now.
from tasks.squad import convert_examples_to_features
from tasks.squad import FeatureWriter
from tasks.squad import input_fn_builder
from tasks.squad import InputFeatures
from tasks.squad import load_squad_json
from tasks.squad import RawResult
from tasks.squad import shuffle_train_examples
from tasks.squad import SquadExample
from tasks.squad import SquadFormatError
from tasks.squad import write_squad_metrics

FLAGS = flags.FLAGS

# bert_config_file, vocab_file, output_dir, init_checkpoint, do_lower_case,
# max_seq_length, do_train/do_predict, batch sizes, learning_rate,
# num_train_epochs, warmup_proportion, save_checkpoints_steps,
# iterations_per_loop, Google's TPU flags and the runtime flags.
task_lib.define_finetuning_flags(omit=("do_eval", "eval_batch_size"),
                                 max_seq_length=384)

estimator_lib.define_flag(flags.DEFINE_string, "train_file", None,
        "SQuAD json for training. E.g., train-v1.1.json")

estimator_lib.define_flag(flags.DEFINE_string, "predict_file", None,
        "SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json")

estimator_lib.define_flag(
    flags.DEFINE_integer, "doc_stride", 128,
    "When splitting up a long document into chunks, how much stride to "
    "take between chunks.")

estimator_lib.define_flag(
    flags.DEFINE_integer, "max_query_length", 64,
    "The maximum number of tokens for the question. Questions longer than "
    "this will be truncated to this length.")

estimator_lib.define_flag(
    flags.DEFINE_integer, "n_best_size", 20,
    "The total number of n-best predictions to generate in the "
    "nbest_predictions.json output file.")

estimator_lib.define_flag(
    flags.DEFINE_integer, "max_answer_length", 30,
    "The maximum length of an answer that can be generated. This is needed "
    "because the start and end predictions are not conditioned on one "
    "another.")

estimator_lib.define_flag(
    flags.DEFINE_bool, "verbose_logging", False,
    "If true, all of the warnings related to data processing will be printed. "
    "A number of warnings are expected for a normal SQuAD evaluation.")

estimator_lib.define_flag(flags.DEFINE_bool, "version_2_with_negative", False,
        "If true, the SQuAD examples contain some that do not have an answer.")

estimator_lib.define_flag(
    flags.DEFINE_float, "null_score_diff_threshold", 0.0,
    "If null_score - best_non_null is greater than the threshold predict "
    "null.")


compute_span_loss = heads.span_loss


def _flag_value(name, value):
  """`value` unless None, else the current value of flag `name`.

  Google's library functions read some global flags; ours take them as
  keyword arguments that default to the flag, which also works when the
  command line was never parsed (library use): then the flag default counts.
  """
  if value is not None:
    return value
  return FLAGS[name].value


def read_squad_examples(input_file, is_training, version_2_with_negative=None):
  """Read a SQuAD json file into a list of SquadExample (Google's name).

  `version_2_with_negative` defaults to the flag; see
  tasks.squad.read_squad_examples.
  """
  return squad.read_squad_examples(
      input_file, is_training,
      _flag_value("version_2_with_negative", version_2_with_negative))


def write_predictions(all_examples, all_features, all_results, n_best_size,
                      max_answer_length, do_lower_case, output_prediction_file,
                      output_nbest_file, output_null_log_odds_file,
                      version_2_with_negative=None,
                      null_score_diff_threshold=None, verbose_logging=None):
  """Write final predictions to the json file and log-odds of null if needed.

  The last three arguments default to the flags of the same names; see
  tasks.squad.write_predictions.
  """
  return squad.write_predictions(
      all_examples, all_features, all_results, n_best_size,
      max_answer_length, do_lower_case, output_prediction_file,
      output_nbest_file, output_null_log_odds_file,
      _flag_value("version_2_with_negative", version_2_with_negative),
      _flag_value("null_score_diff_threshold", null_score_diff_threshold),
      _flag_value("verbose_logging", verbose_logging))


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=None):
  """Project the tokenized prediction back to the original text.

  `verbose_logging` defaults to the flag; see tasks.squad.get_final_text.
  """
  return squad.get_final_text(pred_text, orig_text, do_lower_case,
                              _flag_value("verbose_logging", verbose_logging))


class SquadModel(squad.SpanModel):
  """BertModel + the SQuAD span head (`cls/squad/output_weights`, `_bias`)."""

  def __init__(self, bert_config, use_one_hot_embeddings=False,
               compute_dtype=tf.float32):
    """Creates the variables.

    Args:
      bert_config: a config of a registered family (`modeling.BertConfig`).
      use_one_hot_embeddings: one-hot embedding lookup (TPUs).
      compute_dtype: dtype of the encoder's matrix multiplications.
    """
    super().__init__(encoders.EncoderSpec.from_config(bert_config).create(
        compute_dtype=compute_dtype,
        use_one_hot_embeddings=use_one_hot_embeddings))


def create_model(bert_config, is_training, input_ids, input_mask, segment_ids,
                 use_one_hot_embeddings):
  """Google's create_model: a new SquadModel run once on the inputs.

  Returns:
    (start_logits, end_logits) float32 [batch_size, seq_length].
  """
  model = SquadModel(bert_config, use_one_hot_embeddings)
  return model(input_ids, input_mask, segment_ids, training=is_training)


def model_fn_builder(bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer="adamw"):
  """Returns the `estimator_lib.ModelFn` of SQuAD (Google's name and args).

  Args:
    bert_config: `modeling.BertConfig`.
    init_checkpoint: warm-start checkpoint (weights only) or None; the
      ModelFn loads it into the model it creates, as Google's model_fn did.
    learning_rate: peak learning rate.
    num_train_steps, num_warmup_steps: the schedule (None when predicting).
    use_tpu: passed on to create_optimizer.
    use_one_hot_embeddings: one-hot embedding lookup.
    optimizer: "adamw" (Google's) or "lamb".
  """
  return task_lib.google_model_fn(
      squad.SquadTask, bert_config, init_checkpoint, learning_rate,
      num_train_steps, num_warmup_steps, use_tpu, use_one_hot_embeddings,
      optimizer)


def validate_flags_or_throw(bert_config):
  """Validate the input FLAGS or throw an exception naming the flag."""
  tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case,
                                                FLAGS.init_checkpoint)

  if not FLAGS.do_train and not FLAGS.do_predict:
    raise validation.UsageError("At least one of `do_train` or `do_predict` must be True.")

  if FLAGS.do_train:
    if not FLAGS.train_file:
      raise validation.UsageError(
          "If `do_train` is True, then `train_file` must be specified.")
  if FLAGS.do_predict:
    if not FLAGS.predict_file:
      raise validation.UsageError(
          "If `do_predict` is True, then `predict_file` must be specified.")

  if FLAGS.max_seq_length > bert_config.max_position_embeddings:
    raise validation.UsageError(
        "Cannot use sequence length %d because the BERT model "
        "was only trained up to sequence length %d" %
        (FLAGS.max_seq_length, bert_config.max_position_embeddings))

  if FLAGS.max_seq_length <= FLAGS.max_query_length + 3:
    raise validation.UsageError(
        "The max_seq_length (%d) must be greater than max_query_length "
        "(%d) + 3" % (FLAGS.max_seq_length, FLAGS.max_query_length))


def check_family(family):
  """run_squad.py's features and heads are BERT's; ALBERT has its own scripts.

  Args:
    family: the EncoderFamily of --bert_config_file (or --encoder_family).

  Raises:
    validation.UsageError: another family, naming ALBERT's SQuAD scripts.
  """
  if family.name == "bert":
    return
  raise validation.UsageError(
      "--bert_config_file=%s is %s %s config: run_squad.py fine-tunes BERT; "
      "for ALBERT use python -m albert.run_squad_v1 (SQuAD 1.1) or "
      "albert.run_squad_v2 (SQuAD 2.0) with --albert_config_file and "
      "--spm_model_file" % (FLAGS.bert_config_file,
                            "an" if family.name[0] in "aeiou" else "a",
                            family.name.upper()))


def main(_):
  logging.set_verbosity(logging.INFO)

  family, bert_config = encoders.load_config(FLAGS.bert_config_file,
                                             FLAGS.encoder_family)
  check_family(family)
  validate_flags_or_throw(bert_config)

  tf.io.gfile.makedirs(FLAGS.output_dir)

  tokenizer = family.create_tokenizer(vocab_file=FLAGS.vocab_file,
                                      do_lower_case=FLAGS.do_lower_case)

  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)

  task = squad.SquadTask(
      task_lib.settings_from_flags(FLAGS),
      encoders.EncoderSpec(family, bert_config), tokenizer=tokenizer,
      train_file=FLAGS.train_file, predict_file=FLAGS.predict_file,
      max_seq_length=FLAGS.max_seq_length, doc_stride=FLAGS.doc_stride,
      max_query_length=FLAGS.max_query_length, n_best_size=FLAGS.n_best_size,
      max_answer_length=FLAGS.max_answer_length,
      do_lower_case=FLAGS.do_lower_case,
      version_2_with_negative=FLAGS.version_2_with_negative,
      null_score_diff_threshold=FLAGS.null_score_diff_threshold,
      verbose_logging=FLAGS.verbose_logging,
      use_one_hot_embeddings=FLAGS.use_tpu)
  task_lib.run(task, task.settings, run_config)


if __name__ == "__main__":
  task_lib.app_main(main, ["vocab_file", "bert_config_file", "output_dir"])
