# coding=utf-8
"""ALBERT's SQuAD 1.1 and 2.0 as tasks: google-research/albert's
run_squad_v1.py and run_squad_v2.py on the shared driver.

What ALBERT does differently from Google's run_squad (tasks/squad.py):

* data: albert/squad_utils.py (SentencePiece pieces aligned to the
  context's characters, `p_mask`), with ALBERT's feature caches: a
  `--train_feature_file` or `--predict_feature_file` that exists is read
  instead of converting the SQuAD file again; the eval features themselves
  go to `--predict_feature_left_file` (a pickle of the InputFeatures list,
  ALBERT's format, so caches written by ALBERT's scripts are read too);
* SQuAD 1.1 (`AlbertSquadTask`): Google's span head (`cls/squad`), whose
  logits ALBERT calls `start_log_prob` / `end_log_prob`; ALBERT's
  post-processing (`accumulate_predictions_v1`, `write_predictions_v1`) and
  the official SQuAD 1.1 metrics;
* SQuAD 2.0 (`AlbertSquadV2Task`): heads.SquadV2Head (start beam, end beams
  given each start, answerability logit) and heads.squad_v2_loss; ALBERT's
  `accumulate_predictions_v2` and `evaluate_v2` (the predictions are written
  with the null threshold that maximises F1 on the predict file's answers);
* do_predict scores every checkpoint of the run (newer than the best so
  far), keeps the best F1 as `<output_dir>/model.ckpt-best`, and ends with
  the best checkpoint's predictions and ALBERT's `eval_results.txt` lines.

Beyond ALBERT: the model's results are accumulated into the candidate spans
as they stream out of the model (no list of results is held); cached feature
files must match `--max_seq_length`; a predict file without answers (a test
set) gets predictions without metrics (SQuAD 2.0: "" where the answerability
logit reaches `--null_score_diff_threshold`); do_predict without a trained
checkpoint predicts with `--init_checkpoint`; user errors name the flag.
"""

import os
import pickle
import re
import time

from absl import flags
from absl import logging
import tensorflow as tf

from albert import squad_utils
import checkpoints
import encoders
import estimator_lib
import export_lib
import heads
import io_lib
import modeling
import squad_evaluate
import task_lib
from tasks import squad
import validation

# The shared fine-tuning flags ALBERT's two SQuAD scripts have.
SHARED_FLAG_NAMES = (
    "vocab_file", "output_dir", "init_checkpoint", "do_lower_case",
    "max_seq_length", "do_train", "do_predict", "train_batch_size",
    "predict_batch_size", "learning_rate", "num_train_epochs",
    "warmup_proportion", "save_checkpoints_steps", "iterations_per_loop")

# The checkpoint ALBERT's do_predict keeps: the best F1 so far.
BEST_CHECKPOINT = "model.ckpt-best"
_KEY_NAME = "f1"  # ALBERT's key_name


def _define_files():
  """ALBERT's model and data file flags (both scripts)."""
  define = estimator_lib.define_flag
  define(flags.DEFINE_string, "albert_config_file", None,
         "The config json file corresponding to the pre-trained ALBERT "
         "model. This specifies the model architecture.")
  define(flags.DEFINE_string, "spm_model_file", None,
         "The model file for sentence piece tokenization.")
  define(flags.DEFINE_string, "train_file", None,
         "SQuAD json for training. E.g., train-v1.1.json")
  define(flags.DEFINE_string, "predict_file", None,
         "SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json")
  define(flags.DEFINE_string, "train_feature_file", None,
         "training feature file. If it exists, it is read instead of "
         "--train_file's features (default: <output_dir>/train.tf_record, "
         "written every run).")
  define(flags.DEFINE_string, "predict_feature_file", None,
         "Location of predict features. If it doesn't exist, it will be "
         "written. If it does exist, it will be read.")
  define(flags.DEFINE_string, "predict_feature_left_file", None,
         "Location of predict features not passed to TPU. If it doesn't "
         "exist, it will be written. If it does exist, it will be read.")
  define(flags.DEFINE_string, "albert_hub_module_handle", None,
         "If set, the ALBERT hub module to use (not supported yet).")


def define_flags(version_2_with_negative):
  """Defines the flags of ALBERT's run_squad_v1 / run_squad_v2.

  ALBERT's names, help and defaults (max_seq_length 384, doc_stride 128,
  ...); the shared runtime flags (precision, distribution, ...) come with
  task_lib.define_shared_flags.

  Args:
    version_2_with_negative: run_squad_v2's flags (start_n_top, end_n_top,
      dropout_prob, null_score_diff_threshold), else run_squad_v1's
      (use_einsum, export_dir).
  """
  task_lib.define_shared_flags(SHARED_FLAG_NAMES, max_seq_length=384)
  _define_files()
  define = estimator_lib.define_flag
  define(flags.DEFINE_integer, "doc_stride", 128,
         "When splitting up a long document into chunks, how much stride to "
         "take between chunks.")
  define(flags.DEFINE_integer, "max_query_length", 64,
         "The maximum number of tokens for the question. Questions longer "
         "than this will be truncated to this length.")
  define(flags.DEFINE_integer, "n_best_size", 20,
         "The total number of n-best predictions to generate in the "
         "nbest_predictions.json output file.")
  define(flags.DEFINE_integer, "max_answer_length", 30,
         "The maximum length of an answer that can be generated. This is "
         "needed because the start and end predictions are not conditioned "
         "on one another.")
  if version_2_with_negative:
    define(flags.DEFINE_integer, "start_n_top", 5,
           "beam size for the start positions.")
    define(flags.DEFINE_integer, "end_n_top", 5,
           "beam size for the end positions.")
    define(flags.DEFINE_float, "dropout_prob", 0.1, "dropout probability.")
    define(flags.DEFINE_float, "null_score_diff_threshold", 0.0,
           "Only for a --predict_file without answers (a test set): predict "
           "\"\" when a question's null_odds.json score (its answerability "
           "logit) is >= this. With answers, the threshold that maximises F1 "
           "is used, as ALBERT's evaluate_v2.")
  else:
    define(flags.DEFINE_bool, "use_einsum", True,
           "Whether to use tf.einsum or tf.reshape+tf.matmul for dense "
           "layers (the same products here; accepted for ALBERT's command "
           "lines).")
    define(flags.DEFINE_string, "export_dir", None,
           "The directory where the exported SavedModel will be stored.")


def load_albert_config(config_file):
  """ALBERT's config of `--albert_config_file`; a BERT config is refused.

  Args:
    config_file: path of albert_config.json.

  Returns:
    albert.modeling.AlbertConfig.

  Raises:
    validation.UsageError: one line naming the file (missing, not JSON, bad
      fields, or BERT's config: it has none of ALBERT's keys).
  """
  return encoders.get_family("albert").load_config(
      config_file, flag_name="albert_config_file")


def _check_actions(flag_values, version_2_with_negative):
  """do_train / do_predict (/ export_dir) and their input files."""
  can_export = not version_2_with_negative and flag_values.export_dir
  if not (flag_values.do_train or flag_values.do_predict or can_export):
    raise validation.UsageError(
        "At least one of --do_train or --do_predict%s must be True." %
        ("" if version_2_with_negative else " (or --export_dir)"))
  if flag_values.do_train:
    validation.check_input_file("train_file", flag_values.train_file)
  if flag_values.do_predict:
    validation.check_input_file("predict_file", flag_values.predict_file)
  validation.check_input_file("spm_model_file", flag_values.spm_model_file)
  if flag_values.vocab_file:
    validation.check_input_file("vocab_file", flag_values.vocab_file)
  validation.check_output_dir("output_dir", flag_values.output_dir)
  if flag_values.albert_hub_module_handle:
    raise validation.UsageError(
        "--albert_hub_module_handle: ALBERT's TF Hub modules are not read "
        "yet; pass the module's weights as --init_checkpoint=<module "
        "dir>/variables/variables")


def check_flags(flag_values, albert_config, version_2_with_negative):
  """ALBERT's validate_flags_or_throw, and the values it did not check.

  Args:
    flag_values: the parsed absl flags of run_squad_v1 / run_squad_v2.
    albert_config: the AlbertConfig.
    version_2_with_negative: run_squad_v2.

  Raises:
    validation.UsageError: naming the flag and the allowed values.
  """
  _check_actions(flag_values, version_2_with_negative)
  max_seq_length = flag_values.max_seq_length
  if max_seq_length > albert_config.max_position_embeddings:
    raise validation.UsageError(
        "Cannot use sequence length %d (--max_seq_length) because the ALBERT "
        "model was only trained up to sequence length %d" %
        (max_seq_length, albert_config.max_position_embeddings))
  validation.check_int("max_query_length", flag_values.max_query_length, 1)
  if max_seq_length <= flag_values.max_query_length + 3:
    raise validation.UsageError(
        "The max_seq_length (%d) must be greater than max_query_length "
        "(%d) + 3" % (max_seq_length, flag_values.max_query_length))
  for name in ("doc_stride", "n_best_size", "max_answer_length"):
    validation.check_int(name, flag_values[name].value, 1)
  if version_2_with_negative:
    for name in ("start_n_top", "end_n_top"):
      validation.check_int(name, flag_values[name].value, 1, max_seq_length,
                           note="at most --max_seq_length")
    validation.check_float("dropout_prob", flag_values.dropout_prob, 0, 1,
                           max_exclusive=True)
    validation.check_float("null_score_diff_threshold",
                           flag_values.null_score_diff_threshold)


class SquadV2Model(task_lib.TaskModel):
  """An encoder + heads.SquadV2Head (ALBERT's create_v2_model)."""

  def __init__(self, encoder, start_n_top=5, end_n_top=5, dropout_prob=0.1,
               compute_dtype=tf.float32):
    """Creates the head on `encoder` (encoders.py's contract).

    Args:
      encoder: the encoder (its config has hidden_size, initializer_range).
      start_n_top: start beam at inference.
      end_n_top: end beam per start at inference.
      dropout_prob: dropout on the answerability layer in training.
      compute_dtype: dtype of the head's matrix multiplications.
    """
    super().__init__(encoder)
    config = encoder.config
    self.head = heads.SquadV2Head(
        config.hidden_size, getattr(config, "initializer_range", 0.02),
        start_n_top, end_n_top, dropout_prob, compute_dtype)

  def __call__(self, input_ids, input_mask, segment_ids, p_mask,
               training=False, start_positions=None):
    """ALBERT's create_v2_model outputs.

    Args:
      input_ids, input_mask, segment_ids, p_mask: int32 [batch_size,
        seq_length] (p_mask 1 where no answer may be).
      training: ALBERT's is_training: dropout, and end logits from the true
        start (`start_positions`, int32 [batch_size]) instead of the beams.

    Returns:
      dict: in training start_log_probs, end_log_probs [batch_size,
      seq_length]; else start_top_log_probs, start_top_index [batch_size,
      start_n_top], end_top_log_probs, end_top_index [batch_size,
      start_n_top * end_n_top]; and cls_logits [batch_size].
    """
    sequence_output = self.encoder(input_ids, input_mask=input_mask,
                                   token_type_ids=segment_ids,
                                   training=training).sequence_output
    return self.head(sequence_output, p_mask, training=training,
                     start_positions=start_positions)


def _records_length(path, flag_name):
  """Sequence length of the first record of a cached feature file.

  Args:
    path: a FeatureWriter file.
    flag_name: its flag, for errors.

  Returns:
    int, the length of its input_ids.

  Raises:
    validation.UsageError: the file is empty or not SQuAD features.
  """
  for record in tf.data.TFRecordDataset(path).take(1):
    example = tf.train.Example.FromString(record.numpy())
    values = example.features.feature.get("input_ids")
    if values is None or "p_mask" not in example.features.feature:
      raise validation.UsageError(
          "--%s=%s does not hold ALBERT's SQuAD features (no input_ids or "
          "p_mask); delete it to have it written again" % (flag_name, path))
    return len(values.int64_list.value)
  raise validation.UsageError("--%s=%s is empty; delete it to have it written "
                              "again" % (flag_name, path))


def _check_cached_length(length, max_seq_length, flag_name, path):
  """Refuses a feature cache written with another --max_seq_length."""
  if length != max_seq_length:
    raise validation.UsageError(
        "--%s=%s holds features of sequence length %d, not --max_seq_length="
        "%d; delete it (and the other feature caches) to have it written "
        "again" % (flag_name, path, length, max_seq_length))


def _load_eval_features(path, num_examples, max_seq_length):
  """ALBERT's pickled eval features, checked against the predict file.

  Args:
    path: --predict_feature_left_file (ALBERT's pickle of the list of
      squad_utils.InputFeatures).
    num_examples: questions in --predict_file.
    max_seq_length: --max_seq_length.

  Returns:
    list of InputFeatures.

  Raises:
    validation.UsageError: not a list of features of these questions.
  """
  logging.info("Loading eval features from %s", path)
  with tf.io.gfile.GFile(path, "rb") as f:
    try:
      features = pickle.load(f)
    except Exception as e:  # pylint: disable=broad-except
      raise validation.UsageError(
          "--predict_feature_left_file=%s cannot be read as ALBERT's pickled "
          "features (%s: %s)" % (path, type(e).__name__, e)) from None
  if not isinstance(features, list) or not all(
      hasattr(f, "example_index") and hasattr(f, "tok_start_to_orig_index")
      for f in features):
    raise validation.UsageError(
        "--predict_feature_left_file=%s is not ALBERT's list of SQuAD "
        "InputFeatures" % path)
  if features:
    _check_cached_length(len(features[0].input_ids), max_seq_length,
                         "predict_feature_left_file", path)
  largest = max((f.example_index for f in features), default=-1)
  if largest >= num_examples:
    raise validation.UsageError(
        "--predict_feature_left_file=%s has features of question %d, but "
        "--predict_file has %d questions: it was made from another file; "
        "delete it and --predict_feature_file" % (path, largest,
                                                   num_examples))
  return features


def _write_features(examples, path, is_training, settings, output_fn=None):
  """Converts `examples` and writes their records to `path` (atomically).

  Args:
    examples: list of squad_utils.SquadExample.
    path: the record file.
    is_training: training features (answer positions).
    settings: dict tokenizer, max_seq_length, doc_stride, max_query_length,
      do_lower_case.
    output_fn: also called with each InputFeatures, or None.

  Returns:
    the number of features.
  """
  if os.path.dirname(path):
    tf.io.gfile.makedirs(os.path.dirname(path))
  writer = squad_utils.FeatureWriter(filename=path, is_training=is_training)

  def process(feature):
    """Writes one feature (and hands it to output_fn)."""
    writer.process_feature(feature)
    if output_fn is not None:
      output_fn(feature)

  try:
    squad_utils.convert_examples_to_features(
        examples=examples, is_training=is_training, output_fn=process,
        **settings)
  except BaseException:
    writer.abort()
    raise
  writer.close()
  return writer.num_features


def _run_checkpoints(output_dir):
  """The run's checkpoints `model.ckpt-<step>` in output_dir, by step.

  Returns:
    list of (step, prefix), ascending.
  """
  found = []
  for path in tf.io.gfile.glob(os.path.join(output_dir, "model.ckpt-*.index")):
    match = re.match(r"^model\.ckpt-(\d+)\.index$", os.path.basename(path))
    if match:
      found.append((int(match.group(1)), path[:-len(".index")]))
  return sorted(found)


def _checkpoint_step(checkpoint_path):
  """The global_step stored in a checkpoint (0 when it has none)."""
  reader = tf.train.load_checkpoint(checkpoint_path)
  if not reader.has_tensor("global_step"):
    return 0
  return int(reader.get_tensor("global_step"))


class _EvalResults(object):
  """ALBERT's eval_results.txt, rewritten (atomically) as it grows."""

  def __init__(self, path):
    self.path = path
    self.text = ""

  def add(self, text):
    """Appends `text` and rewrites the file."""
    self.text += text
    io_lib.write_text(self.path, self.text)

  def add_result(self, result):
    """ALBERT's `key = value` lines of a result, keys sorted (and logged)."""
    logging.info("***** Eval results *****")
    for key in sorted(result):
      logging.info("  %s = %s", key, str(result[key]))
    self.add("".join("%s = %s\n" % (key, str(result[key]))
                     for key in sorted(result)))


def evaluate_checkpoints(output_dir, get_result):
  """ALBERT's do_predict: every checkpoint of the run, the best kept.

  As ALBERT's run_squad_v1 / v2: the best checkpoint so far
  (`model.ckpt-best`), if any, is scored first; then each `model.ckpt-<step>`
  with a larger step, in order, adding its metrics to eval_results.txt and
  copying it to model.ckpt-best when its F1 is higher; then the best is
  scored once more (its predictions are the final files). Unlike ALBERT,
  nothing is deleted and nothing is waited for (ALBERT polls for the
  checkpoints of a trainer running elsewhere); without any checkpoint the
  initial weights (--init_checkpoint) are scored.

  Args:
    output_dir: the run's directory.
    get_result: function(checkpoint prefix or None) -> metrics dict with
      "f1"; it writes that checkpoint's prediction files.

  Returns:
    the final metrics.
  """
  best = os.path.join(output_dir, BEST_CHECKPOINT)
  results = _EvalResults(os.path.join(output_dir, "eval_results.txt"))
  global_step, best_perf, best_result = -1, -1, None
  if tf.io.gfile.exists(best + ".index"):
    best_result, global_step = get_result(best), _checkpoint_step(best)
    best_perf = best_result[_KEY_NAME]
  files_hold_best = best_result is not None
  for step, path in _run_checkpoints(output_dir):
    if step <= global_step:
      continue
    result, global_step = get_result(path), _checkpoint_step(path)
    results.add_result(result)
    files_hold_best = result[_KEY_NAME] > best_perf
    if files_hold_best:
      best_perf, best_result = result[_KEY_NAME], result
      results.add("".join("saved %s to %s\n" % pair
                          for pair in checkpoints.copy_checkpoint(path, best)))
    results.add("best %s = %s\n%s\n" % (_KEY_NAME, best_perf, "=" * 50))
  if best_result is None:
    result = get_result(None)
    results.add_result(result)
    return result
  if not files_hold_best:
    # The files hold a later, worse checkpoint's predictions: ALBERT's final
    # pass rewrites them from the best.
    best_result = get_result(best)
  results.add_result(best_result)
  results.add("best perf happened at step: %d" % _checkpoint_step(best))
  return best_result


class AlbertSquadTask(squad.SquadTask):
  """ALBERT's SQuAD 1.1 (run_squad_v1): fine-tuning and do_predict.

  The model and loss are Google's span head and loss (squad.SquadTask's);
  the data, predictions and evaluation are ALBERT's (albert/squad_utils.py).
  """

  # SQuAD 2.0 (p_mask in the records, the v2 head): the subclass.
  is_v2 = False

  def __init__(self, settings, encoder_spec, tokenizer=None, train_file=None,
               predict_file=None, train_feature_file=None,
               predict_feature_file=None, predict_feature_left_file=None,
               max_seq_length=384, doc_stride=128, max_query_length=64,
               n_best_size=20, max_answer_length=30, do_lower_case=True,
               use_one_hot_embeddings=False):
    """Creates the task (the arguments are ALBERT's flags of the same names).

    Args:
      settings: task_lib.RunSettings.
      encoder_spec: encoders.EncoderSpec of the ALBERT config.
      tokenizer: ALBERT's FullTokenizer with a SentencePiece model (not
        needed for the model alone).
      train_feature_file, predict_feature_file, predict_feature_left_file:
        ALBERT's feature caches (read when they exist), or None: written to
        the output directory (train.tf_record, eval.tf_record) every run.
      Others: as squad.SquadTask.
    """
    super().__init__(
        settings, encoder_spec, tokenizer=tokenizer, train_file=train_file,
        predict_file=predict_file, max_seq_length=max_seq_length,
        doc_stride=doc_stride, max_query_length=max_query_length,
        n_best_size=n_best_size, max_answer_length=max_answer_length,
        do_lower_case=do_lower_case,
        version_2_with_negative=self.is_v2,
        use_one_hot_embeddings=use_one_hot_embeddings)
    self.train_feature_file = train_feature_file
    self.predict_feature_file = predict_feature_file
    self.predict_feature_left_file = predict_feature_left_file

  # ------------------------------------------------------------- model

  def predictions(self, model, features, params):
    """ALBERT's v1 prediction names (the values are the logits)."""
    start_logits, end_logits = model(features["input_ids"],
                                     features["input_mask"],
                                     features["segment_ids"], training=False)
    return {"unique_ids": features["unique_ids"],
            "start_log_prob": start_logits,
            "end_log_prob": end_logits}

  def export(self, model, export_dir):
    """ALBERT's --export_dir: <export_dir>/saved_model/<timestamp> (a serving
    SavedModel: input_ids, input_mask, segment_ids -> start_logits,
    end_logits) and <export_dir>/albert_model.tflite."""
    saved_model = os.path.join(export_dir, "saved_model",
                               str(int(time.time())))
    export_lib.export_span_model(model, saved_model)
    logging.info("Starting to export TFLite.")
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    with io_lib.atomic_output(os.path.join(export_dir, "albert_model.tflite"),
                              "wb") as f:
      f.write(converter.convert())

  # ------------------------------------------------------------- data

  def _feature_settings(self):
    """The arguments of squad_utils.convert_examples_to_features."""
    return dict(self.feature_args, tokenizer=self.tokenizer,
                do_lower_case=self.do_lower_case)

  def _input_fn(self, path, is_training, batch_size):
    """squad_utils.input_fn_builder over a feature file."""
    return squad_utils.input_fn_builder(
        input_file=path, seq_length=self.feature_args["max_seq_length"],
        is_training=is_training, drop_remainder=is_training,
        use_tpu=self.settings.use_tpu, bsz=batch_size, is_v2=self.is_v2)

  def train_examples(self):
    """The training questions, shuffled as ALBERT's main() does."""
    if self._train_examples is None:
      examples = squad_utils.read_squad_examples(self.train_file, True)
      if not examples:
        raise validation.UsageError("--train_file=%s has no question" %
                                    self.train_file)
      squad.shuffle_train_examples(examples)
      self._train_examples = examples
    return self._train_examples

  def _train_records(self, examples):
    """The training record file: ALBERT's cache, or written now.

    Returns:
      (path, number of features written or None when the cache was read).
    """
    path = self.train_feature_file
    max_seq_length = self.feature_args["max_seq_length"]
    if path and tf.io.gfile.exists(path):
      logging.info("Reading the training features of %s", path)
      _check_cached_length(_records_length(path, "train_feature_file"),
                           max_seq_length, "train_feature_file", path)
      return path, None
    path = path or os.path.join(self.settings.output_dir, "train.tf_record")
    return path, _write_features(examples, path, True,
                                 self._feature_settings())

  def train_input_fn(self):
    examples = self.train_examples()
    path, num_features = self._train_records(examples)
    logging.info("***** Running training *****")
    logging.info("  Num orig examples = %d", len(examples))
    if num_features is not None:
      logging.info("  Num split examples = %d", num_features)
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    logging.info("  Num steps = %d", self.num_train_steps)
    self._train_examples = None
    return self._input_fn(path, True, self.settings.train_batch_size)

  def eval_features(self, examples):
    """The predict features and their record file (ALBERT's caches).

    Both caches named and present: they are read. Otherwise the features
    are converted, written to the record file and, when named, pickled to
    --predict_feature_left_file.

    Args:
      examples: the predict file's squad_utils.SquadExample list.

    Returns:
      (list of InputFeatures, record file path).
    """
    record_file = self.predict_feature_file
    left_file = self.predict_feature_left_file
    max_seq_length = self.feature_args["max_seq_length"]
    if (record_file and left_file and tf.io.gfile.exists(record_file) and
        tf.io.gfile.exists(left_file)):
      features = _load_eval_features(left_file, len(examples), max_seq_length)
      _check_cached_length(_records_length(record_file,
                                           "predict_feature_file"),
                           max_seq_length, "predict_feature_file",
                           record_file)
      return features, record_file
    record_file = record_file or os.path.join(self.settings.output_dir,
                                              "eval.tf_record")
    features = []
    _write_features(examples, record_file, False, self._feature_settings(),
                    features.append)
    if left_file:
      if os.path.dirname(left_file):
        tf.io.gfile.makedirs(os.path.dirname(left_file))
      with io_lib.atomic_output(left_file, "wb") as f:
        pickle.dump(features, f)
    return features, record_file

  # ------------------------------------------------------- predictions

  def accumulate(self, predictions, examples, features):
    """Turns a stream of model predictions into ALBERT's result_dict.

    Args:
      predictions: iterator of Estimator.predict dicts (one per feature).
      examples: the predict examples.
      features: their InputFeatures.

    Returns:
      result_dict (squad_utils.accumulate_predictions_v1's).
    """
    result_dict = {i: {} for i in range(len(examples))}

    def add(feature, prediction):
      """Adds the candidate spans of one feature's prediction."""
      spans = result_dict[feature.example_index].setdefault(
          feature.unique_id, {})
      squad_utils.accumulate_feature_v1(
          spans, feature, squad_utils.raw_result_v1(prediction),
          self.n_best_size, self.max_answer_length)

    stream_results(predictions, features, add)
    return result_dict

  def output_file(self, name):
    """A prediction file in the output directory."""
    return os.path.join(self.settings.output_dir, name)

  def write_predictions(self, accumulated, dataset, examples, features):
    """predictions.json and nbest_predictions.json, and the metrics.

    Args:
      accumulated: what `accumulate` returned.
      dataset: the predict file's "data" list, or None (no metrics).
      examples, features: the predict examples and features.

    Returns:
      evaluate_v1's metrics (exact_match, f1), or None without `dataset`.
    """
    predictions = squad_utils.write_predictions_v1(
        accumulated, examples, features, None, self.n_best_size,
        self.max_answer_length, self.output_file("predictions.json"),
        self.output_file("nbest_predictions.json"))
    if dataset is None:
      return None
    return squad_utils.evaluate_v1(dataset, predictions)

  def scoring_data(self):
    """The predict file's "data" list when it can be scored, else None."""
    dataset = squad.load_squad_json(self.predict_file)
    if not squad_evaluate.has_gold_answers(dataset):
      logging.info("%s has no answers: predictions without metrics.",
                   self.predict_file)
      return None
    unanswerable = squad_evaluate.first_unanswerable(dataset)
    if not self.is_v2 and unanswerable is not None:
      logging.warning(
          "No metrics: question %s of %s has no answer, and SQuAD 1.1 "
          "metrics need one per question (SQuAD 2.0 data: use "
          "run_squad_v2).", unanswerable, self.predict_file)
      return None
    return dataset

  def predict(self, estimator):
    """ALBERT's do_predict: prediction files and eval_results.txt."""
    dataset = self.scoring_data()
    examples = squad_utils.read_squad_examples(self.predict_file, False)
    features, record_file = self.eval_features(examples)
    logging.info("***** Running predictions *****")
    logging.info("  Num orig examples = %d", len(examples))
    logging.info("  Num split examples = %d", len(features))
    logging.info("  Batch size = %d", self.settings.predict_batch_size)
    input_fn = self._input_fn(record_file, False,
                              self.settings.predict_batch_size)

    def get_result(checkpoint):
      """Predicts with `checkpoint` (None: the newest or the warm start),
      writes the prediction files, returns the metrics."""
      accumulated = self.accumulate(
          estimator.predict(input_fn, checkpoint_path=checkpoint), examples,
          features)
      return self.write_predictions(accumulated, dataset, examples, features)

    if dataset is None:
      get_result(None)
      return None
    return evaluate_checkpoints(self.settings.output_dir, get_result)


class AlbertSquadV2Task(AlbertSquadTask):
  """ALBERT's SQuAD 2.0 (run_squad_v2): the v2 head, loss and evaluation."""

  is_v2 = True

  def __init__(self, settings, encoder_spec, start_n_top=5, end_n_top=5,
               dropout_prob=0.1, null_score_diff_threshold=0.0, **kwargs):
    """Creates the task.

    Args:
      settings, encoder_spec: as AlbertSquadTask.
      start_n_top, end_n_top: ALBERT's beams.
      dropout_prob: dropout on the answerability layer in training.
      null_score_diff_threshold: predict "" at or above it, for a predict
        file without answers (with answers ALBERT's best-F1 threshold).
      **kwargs: AlbertSquadTask's other arguments.
    """
    super().__init__(settings, encoder_spec, **kwargs)
    self.start_n_top = start_n_top
    self.end_n_top = end_n_top
    self.dropout_prob = dropout_prob
    self.null_score_diff_threshold = null_score_diff_threshold

  def create_model(self, params):
    return SquadV2Model(self.create_encoder(params), self.start_n_top,
                        self.end_n_top, self.dropout_prob,
                        params.get("compute_dtype", tf.float32))

  def train_loss(self, model, features, params):
    """ALBERT's v2 loss: span log-likelihoods and answerability / 2."""
    outputs = model(features["input_ids"], features["input_mask"],
                    features["segment_ids"], features["p_mask"],
                    training=True, start_positions=features["start_positions"])
    return heads.squad_v2_loss(outputs, features["start_positions"],
                               features["end_positions"],
                               features["is_impossible"])

  def predictions(self, model, features, params):
    outputs = model(features["input_ids"], features["input_mask"],
                    features["segment_ids"], features["p_mask"],
                    training=False)
    return dict(outputs, unique_ids=features["unique_ids"])

  def export(self, model, export_dir):
    raise validation.UsageError("--export_dir: run_squad_v2 has no SavedModel "
                                "export (as ALBERT's)")

  def accumulate(self, predictions, examples, features):
    """The stream of predictions as ALBERT's (result_dict, cls_dict)."""
    result_dict = {i: {} for i in range(len(examples))}
    null_scores = {}

    def add(feature, prediction):
      """Adds one feature's beams and answerability logit."""
      result = squad_utils.raw_result_v2(prediction)
      index = feature.example_index
      null_scores[index] = min(
          null_scores.get(index, squad_utils.NO_FEATURE_NULL_SCORE),
          result.cls_logits)
      squad_utils.accumulate_feature_v2(
          result_dict[index].setdefault(feature.unique_id, {}), feature,
          result, self.max_answer_length, self.start_n_top, self.end_n_top)

    stream_results(predictions, features, add)
    cls_dict = {i: [null_scores.get(i, squad_utils.NO_FEATURE_NULL_SCORE)]
                for i in range(len(examples))}
    return result_dict, cls_dict

  def write_predictions(self, accumulated, dataset, examples, features):
    """The three prediction files; with answers ALBERT's evaluate_v2.

    Returns:
      evaluate_v2's metrics (exact, f1, total, null_score_diff_threshold),
      or None without `dataset` (the files then use
      null_score_diff_threshold).
    """
    result_dict, cls_dict = accumulated
    files = [self.output_file(name) for name in
             ("predictions.json", "nbest_predictions.json", "null_odds.json")]
    if dataset is None:
      squad_utils.write_predictions_v2(
          result_dict, cls_dict, examples, features, None, self.n_best_size,
          self.max_answer_length, *files,
          null_score_diff_threshold=self.null_score_diff_threshold)
      return None
    return squad_utils.evaluate_v2(
        result_dict, cls_dict, dataset, examples, features, None,
        self.n_best_size, self.max_answer_length, *files)


def stream_results(predictions, features, add):
  """Hands each prediction to `add` with its feature, as it arrives.

  Args:
    predictions: iterator of Estimator.predict dicts with "unique_ids".
    features: the InputFeatures predicted.
    add: function(feature, prediction).

  Raises:
    ValueError: a prediction of no feature, twice the same feature, or
      fewer predictions than features.
  """
  by_id = {feature.unique_id: feature for feature in features}
  done = set()
  progress = io_lib.Progress(len(features), "features")
  for prediction in predictions:
    unique_id = int(prediction["unique_ids"])
    if unique_id not in by_id or unique_id in done:
      raise ValueError("A model result for unique_id %d, %s: the predict "
                       "records do not match the features" %
                       (unique_id, "twice" if unique_id in done else
                        "which no feature has"))
    done.add(unique_id)
    add(by_id[unique_id], prediction)
    progress.add()
  if len(done) != len(features):
    raise ValueError("Prediction stopped after %d of %d features: the "
                     "predict records do not match the features" %
                     (len(done), len(features)))


# The task arguments that are ALBERT's flags of the same names.
_TASK_FLAGS = (
    "train_file", "predict_file", "train_feature_file",
    "predict_feature_file", "predict_feature_left_file", "max_seq_length",
    "doc_stride", "max_query_length", "n_best_size", "max_answer_length",
    "do_lower_case")
_V2_TASK_FLAGS = ("start_n_top", "end_n_top", "dropout_prob",
                  "null_score_diff_threshold")


def task_from_flags(flag_values, albert_config, version_2_with_negative):
  """The task of ALBERT's run_squad_v1 / run_squad_v2 command line.

  Args:
    flag_values: the parsed flags (checked by check_flags).
    albert_config: the AlbertConfig.
    version_2_with_negative: run_squad_v2.

  Returns:
    AlbertSquadTask or AlbertSquadV2Task.
  """
  family = encoders.get_family("albert")
  names = _TASK_FLAGS + (_V2_TASK_FLAGS if version_2_with_negative else ())
  kwargs = {name: flag_values[name].value for name in names}
  kwargs["tokenizer"] = family.create_tokenizer(
      vocab_file=flag_values.vocab_file,
      do_lower_case=flag_values.do_lower_case,
      spm_model_file=flag_values.spm_model_file)
  kwargs["use_one_hot_embeddings"] = flag_values.use_tpu
  task_class = AlbertSquadV2Task if version_2_with_negative else (
      AlbertSquadTask)
  return task_class(task_lib.settings_from_flags(flag_values),
                    encoders.EncoderSpec(family, albert_config), **kwargs)


def run_main(flag_values, version_2_with_negative):
  """The main() of run_squad_v1 / run_squad_v2, after ALBERT's validation.

  Args:
    flag_values: the parsed flags.
    version_2_with_negative: run_squad_v2.

  Returns:
    the Estimator (see task_lib.run).
  """
  run_config = estimator_lib.run_config_from_flags(flag_values,
                                                   flag_values.output_dir)
  albert_config = load_albert_config(flag_values.albert_config_file)
  check_flags(flag_values, albert_config, version_2_with_negative)
  tf.io.gfile.makedirs(flag_values.output_dir)
  task = task_from_flags(flag_values, albert_config, version_2_with_negative)
  return task_lib.run(task, task.settings, run_config)
