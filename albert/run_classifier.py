# coding=utf-8
"""ALBERT finetuning on classification tasks.

google-research/albert's run_classifier.py (b772393) for TensorFlow 2, with
its flags, names and defaults (`--albert_config_file`, `--spm_model_file`,
`--train_step`, `--warmup_step`, `--cached_dir`, `--max_seq_length=512`, ...),
its processors and data layout (`<data_dir>/<TASK>/`, albert/
classifier_utils.py) and its output files:

* records `<cached_dir>/<task>_train.tf_record` and `<task>_eval.tf_record`
  (--cached_dir defaults to --output_dir), written only when absent, and
  `<output_dir>/predict.tf_record`;
* --do_eval evaluates every `model.ckpt-<step>` of --output_dir in step order
  and keeps the best by ALBERT's metric (`eval_accuracy`; CoLA
  `matthew_corr`; STS-B `pearson`): `eval_results.txt` (each checkpoint's
  `key = value` lines, `best = <best before it>` and a line of 50 `=`),
  `best_trial.txt` (`<step>:<best step>:<best value>`, so a rerun goes on
  where it stopped), checkpoints that are not the best removed once two
  newer ones exist, and the best renamed to `model.ckpt-best`;
* --do_predict predicts with `model.ckpt-best`: `test_results.tsv` (the
  probabilities) and `submit_results.tsv` (`index<TAB>prediction`: the guid
  and the predicted label, GLUE's submission format);
* --export_dir: a SavedModel of `model.ckpt-best` in `<export_dir>/<unix
  time>/` serving serialized tf.Examples (`probabilities`, `predictions`,
  and `threshold` with --threshold_to_export).

The script is its flags, the "albert" encoder family (or a TF Hub module,
--albert_hub_module_handle), ALBERT's classification task
(classifier_utils.AlbertClassificationTask) and the shared driver
(task_lib.run), so the runtime flags work here too: --precision, --use_xla,
--gradient_accumulation_steps, --distribution, --seed, ... Differences from
ALBERT's script are listed in README.md ("ALBERT").
"""

import math
import os
import re
import time

from absl import flags
from absl import logging
import tensorflow as tf

import checkpoints
import encoders
import estimator_lib
import export_lib
import hub_lib
import io_lib
import locks
import task_lib
import validation
from albert import classifier_utils
from tasks import classification

FLAGS = flags.FLAGS
_define = estimator_lib.define_flag

## Required parameters
_define(flags.DEFINE_string, "data_dir", None,
        "The input data dir. Should contain the .tsv files (or other data "
        "files) for the task.")
_define(flags.DEFINE_string, "albert_config_file", None,
        "The config json file corresponding to the pre-trained ALBERT model. "
        "This specifies the model architecture.")
_define(flags.DEFINE_string, "task_name", None,
        "The name of the task to train.")
_define(flags.DEFINE_string, "cached_dir", None,
        "Path to cached training and dev tfrecord file. The file will be "
        "generated if not exist.")

## Other parameters
_define(flags.DEFINE_string, "albert_hub_module_handle", None,
        "If set, the ALBERT hub module to use.")
_define(flags.DEFINE_integer, "train_step", 1000,
        "Total number of training steps to perform.")
_define(flags.DEFINE_integer, "warmup_step", 0,
        "number of steps to perform linear learning rate warmup for.")
_define(flags.DEFINE_string, "export_dir", None,
        "The directory where the exported SavedModel will be stored.")
_define(flags.DEFINE_float, "threshold_to_export", float("nan"),
        "The threshold value that should be used with the exported "
        "classifier. When specified, the threshold will be attached to the "
        "exported SavedModel, and served along with the predictions.")

# vocab_file, spm_model_file, output_dir, init_checkpoint, do_lower_case,
# max_seq_length, do_train/do_eval/do_predict, batch sizes, learning_rate,
# save_checkpoints_steps, iterations_per_loop, and the runtime flags (use_tpu,
# tpu_name, ..., keep_checkpoint_max, optimizer, precision, ...).
task_lib.define_shared_flags(
    ["vocab_file", "spm_model_file", "output_dir", "init_checkpoint",
     "do_lower_case", "max_seq_length", "do_train", "do_eval", "do_predict",
     "train_batch_size", "eval_batch_size", "predict_batch_size",
     "learning_rate", "save_checkpoints_steps", "iterations_per_loop"],
    max_seq_length=512)

_CHECKPOINT = re.compile(r"^model\.ckpt-(\d+)\.index$")
BEST_CHECKPOINT = "model.ckpt-best"


def checkpoint_steps(output_dir):
  """Steps of the `model.ckpt-<step>` checkpoints in output_dir, sorted."""
  if not tf.io.gfile.isdir(output_dir):
    return []
  return sorted(int(m.group(1)) for m in map(
      _CHECKPOINT.match, tf.io.gfile.listdir(output_dir)) if m)


def read_best_trial(path):
  """ALBERT's best_trial.txt: (global_step, best step, best value).

  (-1, -1, -1) when there is no file: nothing was evaluated yet.

  Raises:
    validation.UsageError: the file is not `<int>:<int>:<float>`.
  """
  if not tf.io.gfile.exists(path):
    return -1, -1, -1
  with tf.io.gfile.GFile(path, "r") as f:
    text = f.read()
  try:
    step, best_step, value = text.split(":")
    return int(step), int(best_step), float(value)
  except ValueError:
    raise validation.UsageError(
        "%s is not ALBERT's best_trial.txt (<step>:<best step>:<best value>):"
        " %r; remove it to evaluate every checkpoint again" %
        (path, text)) from None


def rename_checkpoint(prefix, new_prefix):
  """Renames a checkpoint's files (index last), replacing new_prefix's."""
  checkpoints.delete_checkpoint(new_prefix)
  # The index names a complete checkpoint: it goes last.
  for path in sorted(tf.io.gfile.glob(prefix + ".*"),
                     key=lambda p: p.endswith(".index")):
    tf.io.gfile.rename(path, new_prefix + path[len(prefix):], overwrite=True)


def check_cached_records(path, max_seq_length):
  """Refuses a cached record file of another --max_seq_length.

  Raises:
    validation.UsageError: naming the file, its length and the flag.
  """
  first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
  if first is None:
    raise validation.DataError("%s holds no records; remove it (--cached_dir)"
                               % path)
  example = tf.train.Example.FromString(first.numpy())
  length = len(example.features.feature["input_ids"].int64_list.value)
  if length != max_seq_length:
    raise validation.UsageError(
        "--cached_dir: %s holds records of %d tokens, not --max_seq_length=%d;"
        " remove it or use another --cached_dir" % (path, length,
                                                    max_seq_length))


def write_submission(path, examples, predictions, label_list, task_name):
  """ALBERT's submit_results.tsv: `index<TAB>prediction`, a line per example.

  Args:
    path: output file (written under a temporary name, then renamed).
    examples: the real test examples (their guid is the index).
    predictions: dicts with "predictions" (a label index, or the STS-B
      score), at least one per example, in order.
    label_list: the task's labels.
    task_name: lower-case task name ("sts-b" writes the score).
  """
  lines = ["index\tprediction\n"]
  for example, prediction in zip(examples, predictions):
    if task_name != "sts-b":
      label = label_list[int(prediction["predictions"])]
    else:
      label = str(prediction["predictions"])
    lines.append("%s\t%s\n" % (example.guid, label))
  io_lib.write_text(path, "".join(lines))


class RunClassifierTask(classifier_utils.AlbertClassificationTask):
  """ALBERT's classification task with run_classifier's files: the cached
  records, the evaluation of every checkpoint with the best kept as
  model.ckpt-best, and predictions from it (see the module docstring)."""

  def __init__(self, settings, encoder_spec, num_labels, task_name,
               cached_dir, **kwargs):
    """Args: as AlbertClassificationTask; cached_dir: the records' folder."""
    super(RunClassifierTask, self).__init__(settings, encoder_spec,
                                            num_labels, task_name, **kwargs)
    self.cached_dir = cached_dir

  def record_file(self, examples, name, pad_to=None):
    """<cached_dir>/<task>_train|eval.tf_record (written when absent) and
    <output_dir>/predict.tf_record (always written), as ALBERT's."""
    if name == "predict":
      return super(RunClassifierTask, self).record_file(examples, name,
                                                        pad_to)
    if pad_to:
      examples = classification.pad_examples(examples, pad_to)
    path = os.path.join(self.cached_dir,
                        "%s_%s.tf_record" % (self.task_name, name))
    if tf.io.gfile.exists(path):
      check_cached_records(path, self.max_seq_length)
      logging.info("Reading the cached records %s", path)
    else:
      tf.io.gfile.makedirs(self.cached_dir)
      classification.file_based_convert_examples_to_features(
          examples, self.label_list, self.max_seq_length, self.tokenizer,
          path, self.task_type)
    return path, len(examples)

  def best_checkpoint(self, estimator):
    """model.ckpt-best, else (with a warning) the newest checkpoint."""
    best = os.path.join(self.settings.output_dir, BEST_CHECKPOINT)
    if tf.io.gfile.exists(best + ".index"):
      return best
    newest = estimator.latest_checkpoint()
    logging.warning("No %s in %s (--do_eval writes it); using %s.",
                    BEST_CHECKPOINT, self.settings.output_dir,
                    newest or "--init_checkpoint")
    return newest

  def run_evaluation(self, estimator, eval_input, is_chief):
    """ALBERT's evaluation of every checkpoint (see evaluate_checkpoints).

    The chief holds the lock of --output_dir meanwhile: it removes and
    renames checkpoints, which a run training there must not see.
    """
    if not is_chief:
      return evaluate_checkpoints(self, estimator, eval_input, is_chief)
    with locks.OutputLock(self.settings.output_dir, "output_dir"):
      return evaluate_checkpoints(self, estimator, eval_input, is_chief)

  def predict(self, estimator):
    """test_results.tsv and submit_results.tsv from model.ckpt-best."""
    settings = self.settings
    examples = self.processor.get_test_examples(self.data_dir)
    input_fn, _ = self._split_input(examples, "predict",
                                    settings.predict_batch_size,
                                    "Running prediction")
    predictions = list(estimator.predict(
        input_fn=input_fn, checkpoint_path=self.best_checkpoint(estimator)))
    classification.write_test_results(
        os.path.join(settings.output_dir, "test_results.tsv"), predictions,
        len(examples))
    write_submission(os.path.join(settings.output_dir, "submit_results.tsv"),
                     examples, predictions, self.label_list, self.task_name)

  def export_best(self, estimator, export_dir, threshold=None):
    """ALBERT's export: model.ckpt-best as <export_dir>/<unix time>/.

    Returns:
      The SavedModel directory.
    """
    checkpoint = (self.best_checkpoint(estimator) or
                  self.settings.init_checkpoint)
    if not checkpoint:
      raise validation.UsageError(
          "--export_dir: no checkpoint in --output_dir=%s and no "
          "--init_checkpoint" % self.settings.output_dir)
    model = self.create_model({})
    checkpoints.restore(model, checkpoint, allow_missing=False, log=False)
    while True:  # a new folder per export, as Estimator.export_saved_model
      path = os.path.join(export_dir, str(int(time.time())))
      if not tf.io.gfile.exists(path):
        break
      time.sleep(1)
    export_lib.export_example_classifier(model, path, self.max_seq_length,
                                         self.task_type, threshold)
    logging.info("Model exported to %s.", path)
    return path


def _evaluate_one(task, estimator, eval_input, step, trial, metric):
  """Evaluates model.ckpt-<step>: (result, its eval_results.txt lines, the
  new (step, best step, best value))."""
  prefix = os.path.join(task.settings.output_dir, "model.ckpt-%d" % step)
  result = task.evaluate(estimator, eval_input, checkpoint_path=prefix)
  global_step, best_step, best = trial
  global_step = int(result["global_step"])
  logging.info("***** Eval results %s *****", prefix)
  lines = ["%s = %s\n" % (key, str(result[key])) for key in sorted(result)]
  for line in lines:
    logging.info("  %s", line.rstrip("\n"))
  lines.append("best = %s\n" % (best,))
  if result[metric] > best:
    best, best_step = result[metric], global_step
  lines.append("=" * 50 + "\n")
  return result, lines, (global_step, best_step, best)


def evaluate_checkpoints(task, estimator, eval_input, is_chief):
  """ALBERT's --do_eval: every checkpoint in step order, the best kept.

  Checkpoints after best_trial.txt's step are evaluated (each one's results
  appended to eval_results.txt, best_trial.txt rewritten); a checkpoint that
  is not the best is removed once two newer ones exist; the best is renamed
  to model.ckpt-best. Unlike ALBERT's loop, which polls for new checkpoints
  every minute until one of --train_step is evaluated, this evaluates those
  there are and returns. Only the chief writes, removes and renames.

  Returns:
    The last result evaluated, or None.

  Raises:
    validation.UsageError: there is nothing to evaluate.
  """
  output_dir = task.settings.output_dir
  trial_file = os.path.join(output_dir, "best_trial.txt")
  trial = read_best_trial(trial_file)
  steps = checkpoint_steps(output_dir)
  if not steps and trial[1] < 0:
    return _evaluate_warm_start(task, estimator, eval_input, is_chief)
  metric = task.default_best_metric()
  result, lines = None, []
  for i, step in enumerate(steps):
    if step > trial[0]:
      result, new_lines, trial = _evaluate_one(task, estimator, eval_input,
                                               step, trial, metric)
      lines += new_lines
      if is_chief:
        io_lib.write_text(os.path.join(output_dir, "eval_results.txt"),
                          "".join(lines))
        io_lib.write_text(trial_file, "%d:%d:%s" % trial)
    if is_chief and step != trial[1] and len(steps) - i - 1 > 1:
      logging.info("Removing model.ckpt-%d (not the best)", step)
      checkpoints.delete_checkpoint(
          os.path.join(output_dir, "model.ckpt-%d" % step))
  if steps and steps[-1] < task.settings.num_train_steps:
    logging.warning("The newest checkpoint is step %d < --train_step=%d "
                    "(ALBERT's loop would wait for more).", steps[-1],
                    task.settings.num_train_steps)
  best = os.path.join(output_dir, "model.ckpt-%d" % trial[1])
  if is_chief and tf.io.gfile.exists(best + ".index"):
    logging.info("saving %s to %s", best, BEST_CHECKPOINT)
    rename_checkpoint(best, os.path.join(output_dir, BEST_CHECKPOINT))
  return result


def _evaluate_warm_start(task, estimator, eval_input, is_chief):
  """--do_eval without a checkpoint in --output_dir: the --init_checkpoint.

  Raises:
    validation.UsageError: there is no --init_checkpoint either.
  """
  if not task.settings.init_checkpoint:
    raise validation.UsageError(
        "--do_eval: no checkpoint model.ckpt-<step> in --output_dir=%s to "
        "evaluate; train first (--do_train) or give --init_checkpoint" %
        task.settings.output_dir)
  result = task.evaluate(estimator, eval_input)
  if is_chief:
    lines = ["%s = %s\n" % (key, str(result[key])) for key in sorted(result)]
    io_lib.write_text(os.path.join(task.settings.output_dir,
                                   "eval_results.txt"),
                      "".join(lines + ["best = -1\n", "=" * 50 + "\n"]))
  return result


def _encoder_spec():
  """The encoder: a TF Hub module (--albert_hub_module_handle wins, as in
  ALBERT) or the ALBERT config; the config checks --max_seq_length."""
  spec = None
  if FLAGS.albert_config_file:
    family = encoders.get_family("albert")
    albert_config = family.load_config(FLAGS.albert_config_file,
                                      flag_name="albert_config_file")
    if FLAGS.max_seq_length > albert_config.max_position_embeddings:
      raise validation.UsageError(
          "Cannot use sequence length %d because the ALBERT model "
          "was only trained up to sequence length %d" %
          (FLAGS.max_seq_length, albert_config.max_position_embeddings))
    spec = encoders.EncoderSpec(family, albert_config)
  if FLAGS.albert_hub_module_handle:
    spec = encoders.hub_encoder(FLAGS.albert_hub_module_handle)
  return spec


def _tokenizer():
  """ALBERT's create_vocab: from the hub module, or from the flags."""
  family = encoders.get_family("albert")
  if FLAGS.albert_hub_module_handle:
    files = hub_lib.read_tokenizer_files(FLAGS.albert_hub_module_handle)
    return family.create_tokenizer(vocab_file=files.vocab_file,
                                   do_lower_case=files.do_lower_case,
                                   spm_model_file=files.spm_model_file)
  return family.create_tokenizer(vocab_file=FLAGS.vocab_file,
                                 do_lower_case=FLAGS.do_lower_case,
                                 spm_model_file=FLAGS.spm_model_file)


def _check_flags():
  """ALBERT's checks of the flags, and ours of the schedule."""
  if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict or
          FLAGS.export_dir):
    raise validation.UsageError(
        "At least one of `do_train`, `do_eval`, `do_predict' or `export_dir` "
        "must be True.")
  if not FLAGS.albert_config_file and not FLAGS.albert_hub_module_handle:
    raise validation.UsageError(
        "At least one of `--albert_config_file` and "
        "`--albert_hub_module_handle` must be set")
  if FLAGS.task_name.lower() not in classifier_utils.PROCESSORS:
    raise validation.UsageError("Task not found: %s" % FLAGS.task_name)
  if FLAGS.do_train:
    validation.check_int("train_step", FLAGS.train_step, minimum=1)
    validation.check_int("warmup_step", FLAGS.warmup_step, minimum=0)


def main(_):
  """ALBERT's run_classifier: train, evaluate every checkpoint, predict,
  export (see the module docstring)."""
  logging.set_verbosity(logging.INFO)
  _check_flags()
  encoder_spec = _encoder_spec()
  tokenizer = _tokenizer()
  task_name = FLAGS.task_name.lower()
  processor = classifier_utils.PROCESSORS[task_name](
      use_spm=bool(FLAGS.spm_model_file), do_lower_case=FLAGS.do_lower_case)
  label_list = processor.get_labels()

  # ALBERT keeps every checkpoint (its RunConfig has keep_checkpoint_max=0)
  # for the evaluation, which removes those that are not the best.
  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir,
                                                   keep_checkpoint_max=0)
  tf.io.gfile.makedirs(FLAGS.output_dir)
  settings = task_lib.settings_from_flags(FLAGS)
  settings.num_train_steps = FLAGS.train_step
  settings.num_warmup_steps = FLAGS.warmup_step
  # ALBERT's export (below) is of model.ckpt-best; no evaluation during
  # training (the shared --eval_every_steps).
  settings.export_dir = None
  settings.eval_every_steps = 0
  task = RunClassifierTask(
      settings, encoder_spec, len(label_list), task_name,
      FLAGS.cached_dir or FLAGS.output_dir,
      use_one_hot_embeddings=FLAGS.use_tpu, processor=processor,
      label_list=label_list, tokenizer=tokenizer, data_dir=FLAGS.data_dir,
      max_seq_length=FLAGS.max_seq_length)
  estimator = task_lib.run(task, settings, run_config)
  if FLAGS.export_dir:
    threshold = FLAGS.threshold_to_export
    task.export_best(estimator, FLAGS.export_dir,
                     None if math.isnan(threshold) else threshold)


if __name__ == "__main__":
  task_lib.app_main(main, ["data_dir", "task_name", "spm_model_file",
                           "output_dir"])
