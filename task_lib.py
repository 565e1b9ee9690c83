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

from absl import flags
from absl import logging
import tensorflow as tf

import checkpoints
import encoders
import estimator_lib
import io_lib
import locks
import optimization
import text_inputs
import validation

# name -> (absl DEFINE function, default, help). The defaults are Google's
# run_classifier's; a script passes its own to define_finetuning_flags.
SHARED_FLAGS = collections.OrderedDict([
    ("encoder_family", (
        flags.DEFINE_string, "auto",
        "The model family of the config file: auto (detected from the file) "
        "or a registered family (bert, albert).")),
    ("bert_config_file", (
        flags.DEFINE_string, None,
        "The config json file corresponding to the pre-trained BERT model. "
        "This specifies the model architecture.")),
    ("vocab_file", (
        flags.DEFINE_string, None,
        "The vocabulary file that the BERT model was trained on.")),
    ("spm_model_file", (
        flags.DEFINE_string, None,
        "The model file for sentence piece tokenization: ALBERT's tokenizer "
        "(with an ALBERT config; then --vocab_file is not needed).")),
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


def define_model_selection_flags(default_metric, exported):
  """--eval_every_steps, --keep_best_metric and --export_dir of a task.

  Args:
    default_metric: text naming the default key, e.g. "eval_f1".
    exported: what the SavedModel holds, e.g. "the fine-tuned tagger
      (serving signature: ...)".
  """
  define = estimator_lib.define_flag
  define(flags.DEFINE_integer, "eval_every_steps", 0,
         "With --do_train and --do_eval: evaluate on the dev set every N "
         "training steps and keep the best checkpoint in <output_dir>/best. "
         "0 = only at the end.")
  define(flags.DEFINE_string, "keep_best_metric", None,
         "Key of eval_results.txt that chooses the best checkpoint (higher is "
         "better, except for keys ending in \"loss\"). Default: %s." %
         default_metric)
  define(flags.DEFINE_string, "export_dir", None,
         "If set, write a SavedModel of %s here." % exported)


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
  * `evaluate(estimator, eval_input, checkpoint_path=None)` -> dict for
    eval_results.txt;
  * `run_evaluation(estimator, eval_input, is_chief)`: do_eval (evaluate and
    write eval_results.txt);
  * `predict(estimator)`: writes the prediction outputs;
  * `export(model, export_dir)`: a SavedModel of the trained model;
  * `after_training(estimator)`: what the task writes after training (none
    by default);
  * `prepare_output_dir()`: files written once the run's checks passed,
    before the records (none by default);
  * `default_best_metric()`: the eval key that picks the best checkpoint.
  """

  # Refuse a training run that rounds to zero steps (Google's run_squad
  # trained nothing and exited 0; TPUEstimator refused max_steps=0).
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
      validation.UsageError: less than one step (when `zero_steps_is_error`):
        a run that trains nothing is refused, as TPUEstimator did.
    """
    s = self.settings
    num_examples = self.num_train_examples()
    steps, warmup = epoch_schedule(num_examples, s.train_batch_size,
                                   s.num_train_epochs, s.warmup_proportion)
    if steps < 1 and self.zero_steps_is_error:
      note = self.train_examples_note()
      raise validation.UsageError(
          "Nothing to train: %d training examples / --train_batch_size=%d x "
          "--num_train_epochs=%s is less than one step%s" %
          (num_examples, s.train_batch_size, s.num_train_epochs,
           " (%s)" % note if note else ""))
    return steps, warmup

  def train_examples_note(self):
    """What the zero-steps error adds about the training examples (e.g. how
    many were skipped), or ""."""
    return ""

  def train_input_fn(self):
    raise NotImplementedError

  def eval_input(self):
    raise NotImplementedError

  def evaluate(self, estimator, eval_input, checkpoint_path=None):
    """Estimator.evaluate on the evaluation data.

    Args:
      estimator: the Estimator.
      eval_input: (input_fn, steps or None), from `eval_input()`.
      checkpoint_path: the checkpoint to evaluate (default: the newest in
        --output_dir, else the warm start).
    """
    input_fn, steps = eval_input
    return estimator.evaluate(input_fn=input_fn, steps=steps,
                              checkpoint_path=checkpoint_path)

  def run_evaluation(self, estimator, eval_input, is_chief):
    """do_eval: `evaluate`, then eval_results.txt in --output_dir (chief).

    A task with another policy (ALBERT's classifier evaluates every
    checkpoint and keeps the best) overrides this.

    Returns:
      The eval results.
    """
    result = self.evaluate(estimator, eval_input)
    if is_chief:
      logging.info("***** Eval results *****")
      estimator_lib.write_eval_results(
          os.path.join(self.settings.output_dir, "eval_results.txt"), result)
    return result

  def predict(self, estimator):
    raise NotImplementedError

  def export(self, model, export_dir):
    raise ValueError("This task has no SavedModel export.")

  def after_training(self, estimator):
    """Called by the driver after training, with the trained Estimator."""
    del estimator

  def prepare_output_dir(self):
    """Called by the driver once every check passed, before the task writes
    records or results (the classification task's label_list.txt): a run
    refused before then leaves nothing in --output_dir."""

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

  def warm_start(self, model, checkpoint_path, expected_names=None):
    return self.model_fn.warm_start(model, checkpoint_path, expected_names)

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


def encoder_variable_names(encoder_spec):
  """The checkpoint names of a spec's encoder, or None (a TF Hub module)."""
  family = getattr(encoder_spec, "family", None)
  if family is None:
    return None
  return family.variable_names(encoder_spec.config)


def make_estimator(task, settings, run_config):
  """The Estimator of a task: the batch size flags and the warm start.

  The warm start must restore every variable of the task's encoder
  (`checkpoints.check_warm_start`; the head may be missing).
  """
  return estimator_lib.Estimator(
      model_fn=task,
      config=run_config,
      train_batch_size=settings.train_batch_size,
      eval_batch_size=settings.eval_batch_size,
      predict_batch_size=settings.predict_batch_size,
      warm_start_from=settings.init_checkpoint,
      warm_start_variables=encoder_variable_names(task.encoder_spec))


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
  # Built under a temporary name and renamed: a kill or a full disk never
  # leaves a half-copied best/ (the previous best stays until then).
  with io_lib.atomic_dir(best_dir, replace_existing=True) as tmp_dir:
    tf.io.gfile.makedirs(tmp_dir)
    prefix = os.path.join(tmp_dir, os.path.basename(checkpoint_path))
    checkpoints.copy_checkpoint(checkpoint_path, prefix)
    checkpoints.write_state_file(tmp_dir, prefix, [prefix])
    estimator_lib.write_eval_results(
        os.path.join(tmp_dir, "eval_results.txt"), result)


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
      raise validation.UsageError(
          "--keep_best_metric=%s is not an eval result (%s)" %
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
    raise validation.UsageError(
        "--export_dir: no checkpoint in --output_dir=%s and no "
        "--init_checkpoint" % settings.output_dir)
  model = task.create_model({})
  checkpoints.restore(model, checkpoint_path, allow_missing=False, log=False)
  task.export(model, settings.export_dir)
  logging.info("Exported the model to %s", settings.export_dir)


# The flags naming a model config, in the order they are looked for.
CONFIG_FLAGS = ("bert_config_file", "albert_config_file")


def _flag(flag_values, name):
  """The value of flag `name`, or None when the script has no such flag."""
  return flag_values[name].value if name in flag_values else None


def check_run_flags(flag_values):
  """The driver's checks of a script's flags, before any work.

  Run by `app_main` after every flag was checked by name
  (`validation.check_flag_values`): the model config is read through its
  family's field table; --max_seq_length fits the model; the vocabulary
  fits the config; --init_checkpoint holds every variable of the encoder
  (another family, scope or format used to train from random weights).

  Args:
    flag_values: absl FLAGS (parsed).

  Raises:
    validation.UsageError: naming the flag, the file and what is expected.
  """
  config_flag = next((n for n in CONFIG_FLAGS if _flag(flag_values, n)),
                     None)
  if config_flag is None or _flag(flag_values, "bert_hub_module_handle"):
    return  # a TF Hub module brings its own config, vocabulary and weights
  family, config = encoders.load_config(
      _flag(flag_values, config_flag),
      _flag(flag_values, "encoder_family") or encoders.AUTO)
  # Checked when given: a script's default may not apply (export_lib uses it
  # only with --preprocessor_dir); runners check their own in main.
  max_seq_length = (_flag(flag_values, "max_seq_length")
                    if "max_seq_length" in flag_values and
                    flag_values["max_seq_length"].present else None)
  if max_seq_length and max_seq_length > config.max_position_embeddings:
    raise validation.UsageError(
        "--max_seq_length=%d: the model was trained up to sequence length %d "
        "(max_position_embeddings in --%s=%s)" % (
            max_seq_length, config.max_position_embeddings, config_flag,
            _flag(flag_values, config_flag)))
  check_vocabulary(flag_values, family, config)
  init_checkpoint = _flag(flag_values, "init_checkpoint")
  if init_checkpoint:
    checkpoints.check_init_checkpoint(
        init_checkpoint, family.variable_names(config),
        expected_shapes=family.key_shapes(config))


def check_vocabulary(flag_values, family, config):
  """The tokenizer's vocabulary fits the model's embedding table.

  A vocabulary larger than the config's vocab_size gives ids the embedding
  lookup cannot take (an op error on CPU, silent garbage on GPUs).

  Raises:
    validation.UsageError: naming the vocabulary, its size and the config's.
  """
  vocab_file = _flag(flag_values, "vocab_file")
  spm_model_file = _flag(flag_values, "spm_model_file")
  if not (vocab_file or spm_model_file):
    return
  tokenizer = family.create_tokenizer(
      vocab_file=vocab_file, spm_model_file=spm_model_file,
      do_lower_case=bool(_flag(flag_values, "do_lower_case")))
  flag = validation.flag_text("spm_model_file" if spm_model_file else
                              "vocab_file", spm_model_file or vocab_file)
  size = len(tokenizer.vocab)
  if size > config.vocab_size:
    raise validation.UsageError(
        "%s has %d tokens but the model's vocab_size is %d: the vocabulary "
        "is not the model's" % (flag, size, config.vocab_size))
  missing = [t for t in _special_tokens(tokenizer) if t not in tokenizer.vocab]
  if missing:
    tabs = any("\t" in t for t in list(tokenizer.vocab)[:100])
    raise validation.UsageError(
        "%s has no %s token%s" % (
            flag, " or ".join(missing),
            ": its lines hold tabs, as a SentencePiece .vocab file's do; "
            "give the model's WordPiece vocab.txt (ALBERT: --spm_model_file)"
            if tabs else ""))
  if size < config.vocab_size:
    logging.warning("%s has %d tokens but the model's vocab_size is %d: is it "
                    "the model's vocabulary?", flag, size, config.vocab_size)


def _special_tokens(tokenizer):
  """The tokens a tokenizer emits whatever the text: [CLS], [SEP] and, for
  WordPiece, its unknown token."""
  tokens = list(text_inputs.special_tokens(tokenizer))
  wordpiece = getattr(tokenizer, "wordpiece_tokenizer", None)
  if wordpiece is not None and getattr(tokenizer, "sp_model", None) is None:
    tokens.append(wordpiece.unk_token)
  return tokens


def app_main(main, required_flags):
  """A script's `if __name__ == "__main__":` body.

  Marks the required flags, then runs `main` through
  `validation.run_main`: flag errors and user errors as one line (status
  2), SIGTERM like Ctrl-C, every flag checked by name, then
  `check_run_flags`, then the outputs locked for the whole run.
  """
  for name in required_flags:
    flags.mark_flag_as_required(name)
  validation.run_main(main, checks=(check_run_flags,))


def check_settings(settings):
  """The driver's checks of a RunSettings (flags or code), before any work.

  Raises:
    validation.UsageError: nothing to do, or a value that cannot work
      (naming the flag, its value and the allowed range).
  """
  s = settings
  if not (s.do_train or s.do_eval or s.do_predict or s.export_dir):
    raise validation.UsageError(
        "Nothing to do: set --do_train, --do_eval, --do_predict or "
        "--export_dir")
  validation.check_output_dir("output_dir", s.output_dir)
  for name, used in (("train_batch_size", s.do_train),
                     ("eval_batch_size", s.do_eval),
                     ("predict_batch_size", s.do_predict)):
    if used:
      validation.check_int(name, getattr(s, name), minimum=1)
  if s.do_train:
    if s.num_train_steps is None:
      validation.check_float("learning_rate", s.learning_rate, minimum=0)
      validation.check_float("num_train_epochs", s.num_train_epochs,
                             minimum=0, min_exclusive=True)
      validation.check_float("warmup_proportion", s.warmup_proportion,
                             minimum=0, maximum=1)
    else:
      validation.check_schedule(s.learning_rate, s.num_train_steps,
                                s.num_warmup_steps)
  validation.check_int("max_eval_steps", s.max_eval_steps, minimum=1,
                       allow_none=True)
  validation.check_int("eval_every_steps", s.eval_every_steps, minimum=0,
                       allow_none=True, note="0 = only at the end")
  if s.export_dir:
    validation.check_export_dir("export_dir", s.export_dir)


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

  Raises:
    validation.UsageError: bad settings (`check_settings`), another live run
      in --output_dir (the chief holds its lock for the whole run), ...
  """
  check_settings(settings)
  check_batch_sizes(settings, run_config)
  owner = None
  if run_config.is_chief:  # re-entrant: app_main may hold it already
    owner = locks.lock_output_dir(settings.output_dir)
  try:
    return _run(task, settings, run_config)
  finally:
    if owner is not None:
      owner.release()


def check_batch_sizes(settings, run_config):
  """Before any work: each batch size splits over the replicas (and the
  training batch over the accumulation steps), as the Estimator needs.

  Raises:
    validation.UsageError: naming the flag, the replicas and the steps.
  """
  for name, used, divisor in (
      ("train_batch_size", settings.do_train,
       run_config.gradient_accumulation_steps),
      ("eval_batch_size", settings.do_eval, 1),
      ("predict_batch_size", settings.do_predict, 1)):
    size = getattr(settings, name)
    parts = run_config.num_replicas * divisor
    if used and size % parts:
      raise validation.UsageError(
          "--%s=%d: must be a multiple of %d (%d replicas x %d gradient "
          "accumulation steps)" % (name, size, parts, run_config.num_replicas,
                                   divisor))


def check_weights(task, settings, estimator):
  """Before any work: evaluation or prediction without training has weights.

  The Estimator refuses it too, but only after the task has written its
  records.

  Raises:
    validation.UsageError: no checkpoint in --output_dir, no
      --init_checkpoint and an encoder without weights of its own (a TF Hub
      module has its own).
  """
  if settings.do_train or settings.init_checkpoint:
    return
  if encoder_variable_names(task.encoder_spec) is None:
    return  # a TF Hub module: the weights come with it
  if estimator.latest_checkpoint():
    return
  raise estimator_lib.no_weights_error(
      "eval" if settings.do_eval else "predict", settings.output_dir)


def _run(task, settings, run_config):
  """`run` after its checks, holding the lock of --output_dir."""
  estimator = make_estimator(task, settings, run_config)
  check_weights(task, settings, estimator)
  if settings.do_train:
    task.set_schedule(*task.training_schedule())
  task.prepare_output_dir()
  eval_input = task.eval_input() if settings.do_eval else None
  if settings.do_train:
    train(task, estimator, settings, eval_input)
    task.after_training(estimator)
  if settings.do_eval:
    task.run_evaluation(estimator, eval_input, run_config.is_chief)
  if settings.do_predict:
    task.predict(estimator)
  if settings.export_dir:
    export(task, estimator, settings)
  return estimator
