# coding=utf-8
"""The Task seam and the one driver of every runner.

A `Task` is an `estimator_lib.ModelFn` (model, loss, metrics, predictions)
plus its data: its examples, records and input functions, its evaluation and
its output writers (Model Garden's `official/nlp/tasks`: a task owns model,
loss, inputs and metrics). `run(task, settings, run_config)` is what every
runner's main did by hand: the training schedule, the Estimator with the warm
start (`--init_checkpoint`, restored by the Estimator, weights only),
do_train (optionally evaluating every N steps and keeping the best
checkpoint), do_eval, do_predict and the SavedModel export.

The flags every fine-tuning runner shares are defined once here
(`define_finetuning_flags`, defaults per script); `settings_from_flags`
reads them in main into a `RunSettings` passed down as an argument.
"""

import collections
import os

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

import checkpoints
import encoders
import estimator_lib
import optimization

# name -> (absl DEFINE function, default, help). The defaults are Google's
# run_classifier's; a script passes its own to define_finetuning_flags.
SHARED_FLAGS = collections.OrderedDict([
    ("encoder_family", (
        flags.DEFINE_string, "auto",
        "The model family of the config file: auto (detected from the file) "
        "or a registered family (bert).")),
    ("bert_config_file", (
        flags.DEFINE_string, None,
        "The config json file corresponding to the pre-trained BERT model. "
        "This specifies the model architecture.")),
    ("vocab_file", (
        flags.DEFINE_string, None,
        "The vocabulary file that the BERT model was trained on.")),
    ("output_dir", (
        flags.DEFINE_string, None,
        "The output directory where the model checkpoints will be written.")),
    ("init_checkpoint", (
        flags.DEFINE_string, None,
        "Initial checkpoint (usually from a pre-trained BERT model).")),
    ("do_lower_case", (
        flags.DEFINE_bool, True,
        "Whether to lower case the input text. Should be True for uncased "
        "models and False for cased models.")),
    ("max_seq_length", (
        flags.DEFINE_integer, 128,
        "The maximum total input sequence length after WordPiece "
        "tokenization. Sequences longer than this will be truncated, and "
        "sequences shorter than this will be padded.")),
    ("do_train", (flags.DEFINE_bool, False, "Whether to run training.")),
    ("do_eval", (flags.DEFINE_bool, False,
                 "Whether to run eval on the dev set.")),
    ("do_predict", (
        flags.DEFINE_bool, False,
        "Whether to run the model in inference mode on the test set.")),
    ("train_batch_size", (flags.DEFINE_integer, 32,
                          "Total batch size for training.")),
    ("eval_batch_size", (flags.DEFINE_integer, 8,
                         "Total batch size for eval.")),
    ("predict_batch_size", (flags.DEFINE_integer, 8,
                            "Total batch size for predict.")),
    ("learning_rate", (flags.DEFINE_float, 5e-5,
                       "The initial learning rate for Adam.")),
    ("num_train_epochs", (flags.DEFINE_float, 3.0,
                          "Total number of training epochs to perform.")),
    ("warmup_proportion", (
        flags.DEFINE_float, 0.1,
        "Proportion of training to perform linear learning rate warmup for. "
        "E.g., 0.1 = 10% of training.")),
    ("save_checkpoints_steps", (flags.DEFINE_integer, 1000,
                                "How often to save the model checkpoint.")),
    ("iterations_per_loop", (flags.DEFINE_integer, 1000,
                             "How many steps to make in each estimator "
                             "call.")),
])


def define_shared_flags(names, **defaults):
  """Defines the named SHARED_FLAGS (and estimator_lib's runtime flags).

  A flag another script already defined keeps that definition (see
  estimator_lib.define_flag).

  Args:
    names: names of SHARED_FLAGS the script has.
    **defaults: the script's defaults, e.g. max_seq_length=384.

  Raises:
    ValueError: an unknown name.
  """
  unknown = sorted((set(names) | set(defaults)) - set(SHARED_FLAGS))
  if unknown:
    raise ValueError("Not a shared flag: %s" % ", ".join(unknown))
  for name in names:
    define, default, help_text = SHARED_FLAGS[name]
    estimator_lib.define_flag(define, name, defaults.get(name, default),
                              help_text)
  # Google's use_tpu, tpu_name, tpu_zone, gcp_project, master, num_tpu_cores
  # and the new runtime flags (distribution, precision, seed, ...).
  estimator_lib.define_flags()


def define_finetuning_flags(omit=(), **defaults):
  """Defines every shared flag but `omit` (a fine-tuning runner's set).

  Args:
    omit: names of SHARED_FLAGS the script does not have (Google's run_squad
      has no do_eval, for example).
    **defaults: the script's defaults, e.g. max_seq_length=384.
  """
  define_shared_flags([name for name in SHARED_FLAGS if name not in omit],
                      **defaults)


class RunSettings(object):
  """What the driver needs from the flags, read once in main."""

  FIELDS = collections.OrderedDict([
      ("output_dir", None), ("init_checkpoint", None), ("do_train", False),
      ("do_eval", False), ("do_predict", False), ("train_batch_size", 32),
      ("eval_batch_size", 8), ("predict_batch_size", 8),
      ("learning_rate", 5e-5), ("num_train_epochs", 3.0),
      ("warmup_proportion", 0.1), ("num_train_steps", None),
      ("num_warmup_steps", None), ("max_eval_steps", None),
      ("use_tpu", False), ("optimizer", "adamw"), ("eval_every_steps", 0),
      ("keep_best_metric", None), ("export_dir", None),
  ])

  def __init__(self, **values):
    """Args: **values: any of FIELDS (the rest take the defaults there)."""
    unknown = sorted(set(values) - set(self.FIELDS))
    if unknown:
      raise ValueError("Unknown settings: %s" % ", ".join(unknown))
    for name, default in self.FIELDS.items():
      setattr(self, name, values.get(name, default))


def settings_from_flags(flag_values):
  """A RunSettings of the parsed flags a script has (others: defaults)."""
  return RunSettings(**{name: getattr(flag_values, name)
                        for name in RunSettings.FIELDS if name in flag_values})


def epoch_schedule(num_examples, train_batch_size, num_train_epochs,
                   warmup_proportion):
  """Google's derived quantities: (num_train_steps, num_warmup_steps).

  num_train_steps = int(examples / train_batch_size * num_train_epochs),
  num_warmup_steps = int(num_train_steps * warmup_proportion).
  """
  num_train_steps = int(num_examples / train_batch_size * num_train_epochs)
  return num_train_steps, int(num_train_steps * warmup_proportion)


def create_encoder(encoder_spec, params, use_one_hot_embeddings=False):
  """A ModelFn's encoder: `encoder_spec` at the loop's compute dtype.

  Args:
    encoder_spec: encoders.EncoderSpec (or a hub encoder spec).
    params: the ModelFn's params (`compute_dtype`, float32 when absent).
    use_one_hot_embeddings: one-hot embedding lookups (Google: on TPUs).
  """
  return encoder_spec.create(
      compute_dtype=params.get("compute_dtype", tf.float32),
      use_one_hot_embeddings=use_one_hot_embeddings)


class TaskModel(tf.Module):
  """An encoder plus a task's heads: what a Task's create_model returns."""

  def __init__(self, encoder, name=None):
    """Holds `encoder` (encoders.py's contract); subclasses add heads.

    Variables are listed by attribute name: `encoder` sorts before the heads'
    attributes (`head`, `masked_lm`, ...), so the encoder's come first in
    checkpoints and in the optimizer's order, as Google's graph had them.
    """
    super().__init__(name=name)
    self.encoder = encoder

  @property
  def bert(self):
    """The encoder (its name in Google-style code)."""
    return self.encoder


class Task(estimator_lib.ModelFn):
  """A ModelFn plus its data, outputs and schedule (subclass it).

  The ModelFn half (create_model, train_loss, eval_metrics, predictions) is
  estimator_lib's contract; create_optimizer is Google's optimizer with the
  schedule the driver set. The data half:

  * `training_schedule()` -> (num_train_steps, num_warmup_steps);
  * `train_input_fn()` -> input_fn of the training data (writing its records);
  * `eval_input()` -> (input_fn, steps or None) of the evaluation data;
  * `evaluate(estimator, eval_input)` -> dict for eval_results.txt;
  * `predict(estimator)`: writes the prediction outputs;
  * `export(model, export_dir)`: a SavedModel of the trained model;
  * `after_training(estimator)`: what the task writes after training (none
    by default);
  * `default_best_metric()`: the eval key that picks the best checkpoint.
  """

  # Refuse a training run that rounds to zero steps (Google's run_squad
  # trains nothing instead; its task says so).
  zero_steps_is_error = True

  def __init__(self, settings, encoder_spec=None,
               use_one_hot_embeddings=False):
    """Creates the task.

    Args:
      settings: RunSettings.
      encoder_spec: encoders.EncoderSpec the model's encoder comes from.
      use_one_hot_embeddings: one-hot embedding lookups (Google: on TPUs).
    """
    self.settings = settings
    self.encoder_spec = encoder_spec
    self.use_one_hot_embeddings = use_one_hot_embeddings
    self.num_train_steps = None
    self.num_warmup_steps = None

  def create_encoder(self, params):
    """The encoder of create_model (see `create_encoder`)."""
    return create_encoder(self.encoder_spec, params,
                          self.use_one_hot_embeddings)

  def set_schedule(self, num_train_steps, num_warmup_steps):
    """The schedule of create_optimizer (set by the driver)."""
    self.num_train_steps = num_train_steps
    self.num_warmup_steps = num_warmup_steps

  def create_optimizer(self, params):
    """Google's optimizer and schedule (optimization.create_optimizer)."""
    settings = self.settings
    return optimization.create_optimizer(
        None, settings.learning_rate, self.num_train_steps,
        self.num_warmup_steps, settings.use_tpu,
        optimizer=settings.optimizer)

  def num_train_examples(self):
    """Number of training examples (the epoch schedule counts them)."""
    raise NotImplementedError

  def training_schedule(self):
    """(num_train_steps, num_warmup_steps) of the epochs asked for.

    Raises:
      ValueError: less than one step (when `zero_steps_is_error`).
    """
    s = self.settings
    num_examples = self.num_train_examples()
    steps, warmup = epoch_schedule(num_examples, s.train_batch_size,
                                   s.num_train_epochs, s.warmup_proportion)
    if steps < 1 and self.zero_steps_is_error:
      raise ValueError(
          "%d training examples / --train_batch_size=%d * "
          "--num_train_epochs=%s is less than one step" %
          (num_examples, s.train_batch_size, s.num_train_epochs))
    return steps, warmup

  def train_input_fn(self):
    raise NotImplementedError

  def eval_input(self):
    raise NotImplementedError

  def evaluate(self, estimator, eval_input):
    """Estimator.evaluate on the evaluation data."""
    input_fn, steps = eval_input
    return estimator.evaluate(input_fn=input_fn, steps=steps)

  def predict(self, estimator):
    raise NotImplementedError

  def export(self, model, export_dir):
    raise ValueError("This task has no SavedModel export.")

  def after_training(self, estimator):
    """Called by the driver after training, with the trained Estimator."""
    del estimator

  def default_best_metric(self):
    return "eval_accuracy"


class WarmStartedModelFn(estimator_lib.ModelFn):
  """A ModelFn that warm-starts its model itself, as Google's model_fn did.

  For Google's `model_fn_builder(..., init_checkpoint, ...)` names, whose
  callers hand the result to an Estimator of their own; the driver instead
  passes the checkpoint to the Estimator (`warm_start_from`).
  """

  def __init__(self, model_fn, init_checkpoint):
    """Args: model_fn: the ModelFn; init_checkpoint: its warm start."""
    self.model_fn = model_fn
    self.init_checkpoint = init_checkpoint

  def create_model(self, params):
    model = self.model_fn.create_model(params)
    self.model_fn.warm_start(model, self.init_checkpoint)
    return model

  def warm_start(self, model, checkpoint_path):
    return self.model_fn.warm_start(model, checkpoint_path)

  def create_optimizer(self, params):
    return self.model_fn.create_optimizer(params)

  def train_loss(self, model, features, params):
    return self.model_fn.train_loss(model, features, params)

  def eval_metrics(self, model, features, params):
    return self.model_fn.eval_metrics(model, features, params)

  def predictions(self, model, features, params):
    return self.model_fn.predictions(model, features, params)


def with_warm_start(model_fn, init_checkpoint):
  """`model_fn`, warm-starting from `init_checkpoint` when one is given."""
  if not init_checkpoint:
    return model_fn
  return WarmStartedModelFn(model_fn, init_checkpoint)


def google_model_fn(task_class, bert_config, init_checkpoint, learning_rate,
                    num_train_steps, num_warmup_steps, use_tpu,
                    use_one_hot_embeddings, optimizer="adamw", **task_args):
  """What Google's `model_fn_builder(...)` names return: a task's ModelFn.

  Args:
    task_class: the Task subclass.
    bert_config: a config of a registered encoder family.
    init_checkpoint: warm start (weights only), loaded by the ModelFn into the
      model it creates, as Google's model_fn did; or None.
    learning_rate, num_train_steps, num_warmup_steps, use_tpu: Google's
      create_optimizer arguments (the schedule may be None when not
      training).
    use_one_hot_embeddings: one-hot embedding lookups.
    optimizer: "adamw" or "lamb".
    **task_args: more arguments of `task_class`.

  Returns:
    an estimator_lib.ModelFn.
  """
  task = task_class(
      RunSettings(learning_rate=learning_rate, use_tpu=use_tpu,
                  optimizer=optimizer),
      encoders.EncoderSpec.from_config(bert_config),
      use_one_hot_embeddings=use_one_hot_embeddings, **task_args)
  task.set_schedule(num_train_steps, num_warmup_steps)
  return with_warm_start(task, init_checkpoint)


def make_estimator(task, settings, run_config):
  """The Estimator of a task: the batch size flags and the warm start."""
  return estimator_lib.Estimator(
      model_fn=task,
      config=run_config,
      train_batch_size=settings.train_batch_size,
      eval_batch_size=settings.eval_batch_size,
      predict_batch_size=settings.predict_batch_size,
      warm_start_from=settings.init_checkpoint)


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


def train(task, estimator, settings, eval_input=None):
  """Trains; with --eval_every_steps evaluates and keeps the best.

  Args:
    task: the Task (its schedule set).
    estimator: its Estimator.
    settings: RunSettings.
    eval_input: (input_fn, steps) of the evaluation data, or None.

  Returns:
    The eval result of the last evaluation during training, or None.
  """
  train_input_fn = task.train_input_fn()
  num_train_steps = task.num_train_steps
  every = settings.eval_every_steps if eval_input is not None else 0
  if not every or every <= 0:
    estimator.train(input_fn=train_input_fn, max_steps=num_train_steps)
    return None
  metric = settings.keep_best_metric or task.default_best_metric()
  best = None
  result = None
  step = 0
  while step < num_train_steps:
    step = min(step + every, num_train_steps)
    estimator.train(input_fn=train_input_fn, max_steps=step)
    result = task.evaluate(estimator, eval_input)
    if metric not in result:
      raise ValueError("--keep_best_metric=%s is not an eval result (%s)" %
                       (metric, ", ".join(sorted(result))))
    logging.info("step %d: %s = %s", step, metric, result[metric])
    if is_better(metric, result[metric], best):
      best = result[metric]
      keep_best_checkpoint(estimator.latest_checkpoint(),
                           os.path.join(settings.output_dir, "best"), result)
  return result


def export(task, estimator, settings):
  """Writes the task's SavedModel of the newest checkpoint (else the warm
  start) to --export_dir."""
  checkpoint_path = estimator.latest_checkpoint() or settings.init_checkpoint
  if not checkpoint_path:
    raise ValueError("--export_dir: no checkpoint in --output_dir=%s and no "
                     "--init_checkpoint" % settings.output_dir)
  model = task.create_model({})
  checkpoints.restore(model, checkpoint_path, allow_missing=False, log=False)
  task.export(model, settings.export_dir)
  logging.info("Exported the model to %s", settings.export_dir)


def app_main(main, required_flags):
  """A script's `if __name__ == "__main__":` body: required flags, app.run."""
  for name in required_flags:
    flags.mark_flag_as_required(name)
  app.run(main)


def run(task, settings, run_config):
  """do_train / do_eval / do_predict / export of `task`, as Google's mains.

  The order is Google's: the schedule (reading the training examples), the
  evaluation data, training, evaluation (eval_results.txt, written by the
  chief), prediction, export.

  Args:
    task: a Task.
    settings: RunSettings.
    run_config: estimator_lib.RunConfig (made first in main).

  Returns:
    The Estimator (its model trained and restored).
  """
  estimator = make_estimator(task, settings, run_config)
  if settings.do_train:
    task.set_schedule(*task.training_schedule())
  eval_input = task.eval_input() if settings.do_eval else None
  if settings.do_train:
    train(task, estimator, settings, eval_input)
    task.after_training(estimator)
  if settings.do_eval:
    result = task.evaluate(estimator, eval_input)
    if run_config.is_chief:
      logging.info("***** Eval results *****")
      estimator_lib.write_eval_results(
          os.path.join(settings.output_dir, "eval_results.txt"), result)
  if settings.do_predict:
    task.predict(estimator)
  if settings.export_dir:
    export(task, estimator, settings)
  return estimator
