# coding=utf-8
"""Masked-LM pre-training as a Task (Google's and ALBERT's run_pretraining).

Google's heads (`cls/predictions` tied to the word embeddings,
`cls/seq_relationship`), losses, metrics and eval_results.txt keys; ALBERT's
sentence-order prediction is the same head under other metric names. The
last encoder layer is computed only where the heads read
(`output_positions`). The records and their input functions are
tasks/pretraining_data.py; run_pretraining.py and albert/run_pretraining.py
are the command lines over this task.

Beyond Google's: masked-LM-only training (the next-sentence head and the
pooler, which only that head reads, are kept as they are: not trained,
still saved), `masked_lm_perplexity` in the evaluation, and a warm start
from a checkpoint whose vocabulary was smaller (learn_vocab.py
--extend_from): the old rows of the word embeddings and of the masked-LM
output bias are kept, the new rows start as the mean of the rows of their
pieces under the old vocabulary (or of all old rows).
"""

import functools
import os
import time

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

import checkpoints
import estimator_lib
import heads
import io_lib
import optimization
import task_lib
import tokenization
import validation
from tasks import pretraining_data
# The record names users import from here (and run_pretraining re-exports).
from tasks.pretraining_data import check_input_files  # pylint: disable=unused-import
from tasks.pretraining_data import input_fn_builder
from tasks.pretraining_data import RECORD_FEATURES  # pylint: disable=unused-import

# The metric names of the sentence-relation head: BERT's next-sentence
# prediction, ALBERT's sentence-order prediction (labels in both cases in
# the records' next_sentence_labels).
NEXT_SENTENCE = "next_sentence"
SENTENCE_ORDER = "sentence_order"


class PretrainingModel(task_lib.TaskModel):
  """An encoder plus the two pre-training heads (all of Google's variables)."""

  def __init__(self, encoder, compute_dtype=tf.float32,
               next_sentence_prediction=True):
    """Creates the heads on `encoder`.

    Args:
      encoder: an encoder of a registered family (the output layer is tied to
        its [V, E] word embeddings, `get_embedding_table()`).
      compute_dtype: dtype of the heads' matrix multiplications.
      next_sentence_prediction: train the sentence-relation head. When False
        the head (and the pooler, which only it reads) is created but not
        trained: a warm start loads it, checkpoints keep it unchanged.
    """
    super().__init__(encoder, name="bert_pretraining")
    config = encoder.config
    self.config = config
    self.compute_dtype = tf.as_dtype(compute_dtype)
    self.next_sentence_prediction = next_sentence_prediction
    # Variables in attribute order: encoder, masked_lm, next_sentence.
    self.masked_lm = heads.MaskedLMHead.tied_to(
        encoder.get_embedding_table(), config.hidden_size, config.hidden_act,
        config.initializer_range)
    self.next_sentence = heads.SentenceRelationHead(config.hidden_size,
                                                    config.initializer_range)

  @property
  def bert_config(self):
    """The encoder's config."""
    return self.config

  def frozen_variables(self):
    """Variables kept as they are: with masked-LM only, the
    sentence-relation head and the pooler (no loss reads them)."""
    if self.next_sentence_prediction:
      return []
    pooler = [v for v in self.encoder.variables
              if "/pooler/" in checkpoints.variable_name(v)]
    return pooler + list(self.next_sentence.variables)

  @property
  def trainable_variables(self):
    """The variables the optimizer updates (not the frozen ones)."""
    frozen = set(v.ref() for v in self.frozen_variables())
    return tuple(v for v in super().trainable_variables
                 if v.ref() not in frozen)

  def warm_start_variables(self):
    """What --init_checkpoint loads: the trained and the frozen weights."""
    return list(self.trainable_variables) + self.frozen_variables()

  def __call__(self, features, training):
    """Runs the encoder and the heads on a batch of pretraining features.

    Args:
      features: dict as produced by input_fn_builder's input_fn
        (next_sentence_labels only with next-sentence prediction).
      training: bool, dropout on.

    Returns:
      dict: total_loss (scalar), masked_lm_loss, masked_lm_example_loss
      [B*P], masked_lm_log_probs [B*P, V]; with next-sentence prediction
      also next_sentence_loss, next_sentence_example_loss [B],
      next_sentence_log_probs [B, 2].
    """
    # The heads read the last layer only at the masked positions (and the
    # pooler at position 0): the encoder computes that layer at those rows
    # only.
    outputs = self.encoder(features["input_ids"],
                           input_mask=features["input_mask"],
                           token_type_ids=features["segment_ids"],
                           training=training,
                           output_positions=features["masked_lm_positions"])
    (masked_lm_loss, masked_lm_example_loss,
     masked_lm_log_probs) = heads.masked_lm_output(
         self.masked_lm, outputs.sequence_output, outputs.embedding_table,
         features["masked_lm_ids"], features["masked_lm_weights"],
         compute_dtype=self.compute_dtype)
    out = {
        "total_loss": masked_lm_loss,
        "masked_lm_loss": masked_lm_loss,
        "masked_lm_example_loss": masked_lm_example_loss,
        "masked_lm_log_probs": masked_lm_log_probs,
    }
    if self.next_sentence_prediction:
      (out["next_sentence_loss"], out["next_sentence_example_loss"],
       out["next_sentence_log_probs"]) = heads.sentence_relation_output(
           self.next_sentence, outputs.pooled_output,
           features["next_sentence_labels"])
      out["total_loss"] += out["next_sentence_loss"]
    return out


def pretraining_metrics(out, features, relation_name=NEXT_SENTENCE):
  """Google's metric_fn as (sum, count) pairs (weighted means).

  Args:
    out: the PretrainingModel's outputs on `features`.
    features: the batch.
    relation_name: prefix of the sentence-relation metrics ("next_sentence"
      as BERT's, "sentence_order" as ALBERT's); none without that head.

  Returns:
    dict name -> (sum, count) float32 scalars.
  """
  masked_lm_ids = tf.reshape(features["masked_lm_ids"], [-1])
  masked_lm_weights = tf.reshape(features["masked_lm_weights"], [-1])
  masked_lm_predictions = tf.argmax(out["masked_lm_log_probs"], axis=-1,
                                    output_type=tf.int32)
  correct = tf.cast(tf.equal(masked_lm_predictions, masked_lm_ids),
                    tf.float32)
  weight_sum = tf.reduce_sum(masked_lm_weights)
  metrics = {
      "masked_lm_accuracy": (tf.reduce_sum(correct * masked_lm_weights),
                             weight_sum),
      "masked_lm_loss": (tf.reduce_sum(out["masked_lm_example_loss"] *
                                       masked_lm_weights), weight_sum),
  }
  if "next_sentence_log_probs" not in out:
    return metrics
  labels = tf.reshape(features["next_sentence_labels"], [-1])
  predictions = tf.argmax(out["next_sentence_log_probs"], axis=-1,
                          output_type=tf.int32)
  relation_correct = tf.cast(tf.equal(predictions, labels), tf.float32)
  count = tf.cast(tf.size(labels), tf.float32)
  metrics[relation_name + "_accuracy"] = (tf.reduce_sum(relation_correct),
                                          count)
  metrics[relation_name + "_loss"] = (
      tf.reduce_sum(out["next_sentence_example_loss"]), count)
  return metrics


def define_flags(num_train_steps, num_warmup_steps):
  """The flags of both pre-training runners (Google's and ALBERT's help).

  Args:
    num_train_steps, num_warmup_steps: the runner's defaults (BERT's 100000
      and 10000, ALBERT's 125000 and 3125).
  """
  define = estimator_lib.define_flag
  define(flags.DEFINE_string, "input_file", None,
         "Input TF example files (can be a glob or comma separated).")
  define(flags.DEFINE_integer, "max_predictions_per_seq", 20,
         "Maximum number of masked LM predictions per sequence. "
         "Must match data generation.")
  define(flags.DEFINE_integer, "num_train_steps", num_train_steps,
         "Number of training steps.")
  define(flags.DEFINE_integer, "num_warmup_steps", num_warmup_steps,
         "Number of warmup steps.")
  define(flags.DEFINE_integer, "max_eval_steps", 100,
         "Maximum number of eval steps.")
  # Beyond Google's and ALBERT's.
  define(flags.DEFINE_string, "eval_input_file", None,
         "Held-out TF example files for --do_eval (globs or comma separated; "
         "e.g. create_pretraining_data.py --eval_output_file). Default: the "
         "--input_file files, as Google's.")


# ------------------------------------------------------- vocabulary growth


def new_token_pieces(vocab_file, old_size, new_size):
  """The ids, under the old vocabulary, of the pieces of each new token.

  The old vocabulary is the first `old_size` ids of `vocab_file` (a
  learn_vocab.py --extend_from vocabulary keeps the base's lines and
  appends). A new token's pieces are the WordPieces the old vocabulary
  makes of it (a leading "##" dropped).

  Args:
    vocab_file: the grown vocab.txt, or None.
    old_size: ids of the old vocabulary.
    new_size: ids of the model.

  Returns:
    list (one per new id) of lists of old ids; empty where the token is
    unknown or the old vocabulary maps it to [UNK].
  """
  if not vocab_file:
    return [[] for _ in range(old_size, new_size)]
  vocab = tokenization.load_vocab(vocab_file)
  id_to_token = {index: token for token, index in vocab.items()}
  base = {token: index for token, index in vocab.items() if index < old_size}
  wordpiece = tokenization.WordpieceTokenizer(vocab=base)
  pieces = []
  for index in range(old_size, new_size):
    token = id_to_token.get(index, "")
    text = token[2:] if token.startswith("##") else token
    token_pieces = wordpiece.tokenize(text)
    known = token_pieces and wordpiece.unk_token not in token_pieces
    pieces.append([base[p] for p in token_pieces] if known else [])
  return pieces


def grown_rows(old_rows, pieces):
  """The old rows followed by one new row per entry of `pieces`.

  Args:
    old_rows: float32 numpy [old_size, ...] (an embedding table or a bias).
    pieces: list of lists of old ids (new_token_pieces): a new row is the
      mean of those rows, or of all old rows when the list is empty.

  Returns:
    float32 numpy [old_size + len(pieces), ...].
  """
  mean = old_rows.mean(axis=0)
  new_rows = [old_rows[ids].mean(axis=0) if ids else mean for ids in pieces]
  if not new_rows:
    return old_rows
  return np.concatenate([old_rows, np.stack(new_rows).astype(old_rows.dtype)])


def vocabulary_growth(model, checkpoint_path):
  """Whether the init checkpoint's vocabulary is smaller than the model's.

  Args:
    model: PretrainingModel.
    checkpoint_path: --init_checkpoint.

  Returns:
    None, or the old vocabulary size.

  Raises:
    validation.UsageError: the checkpoint's vocabulary is larger.
  """
  table = model.encoder.get_embedding_table()
  name = checkpoints.variable_name(table)
  shapes = checkpoints.list_checkpoint_variables(checkpoint_path)
  key = checkpoints.checkpoint_key(name, shapes)
  if key is None:
    return None
  old_size, new_size = shapes[key][0], table.shape[0]
  if old_size > new_size:
    raise validation.UsageError(
        "%s: its %s has %d rows but the model config's vocab_size is %d; a "
        "vocabulary can grow (learn_vocab.py --extend_from), not shrink" %
        (validation.flag_text("init_checkpoint", checkpoint_path), key,
         old_size, new_size))
  return old_size if old_size < new_size else None


def grow_vocabulary(model, checkpoint_path, old_size, vocab_file=None):
  """Loads the grown tables: the old rows as they are, new rows as means.

  Args:
    model: PretrainingModel.
    checkpoint_path: --init_checkpoint (its tables have `old_size` rows).
    old_size: int.
    vocab_file: the grown vocabulary (the new tokens' pieces), or None.

  Returns:
    names of the model variables loaded.
  """
  table = model.encoder.get_embedding_table()
  bias = model.masked_lm.output_bias
  new_size = int(table.shape[0])
  olds = {}
  for var in (table, bias):
    olds[checkpoints.variable_name(var)] = tf.Variable(
        tf.zeros([old_size] + var.shape.as_list()[1:], var.dtype))
  result = checkpoints.restore(olds, checkpoint_path, allow_missing=True,
                               log=False)
  pieces = new_token_pieces(vocab_file, old_size, new_size)
  for var in (table, bias):
    name = checkpoints.variable_name(var)
    if name in result.loaded:
      var.assign(grown_rows(olds[name].numpy(), pieces))
  with_pieces = sum(1 for ids in pieces if ids)
  logging.info(
      "Vocabulary grown from %d to %d ids (%s): rows 0-%d of %s kept from "
      "the checkpoint; %d new rows set to the mean of the rows of their "
      "pieces under the old vocabulary, %d to the mean of all old rows%s.",
      old_size, new_size, checkpoint_path, old_size - 1,
      " and ".join(result.loaded), with_pieces, len(pieces) - with_pieces,
      "" if vocab_file else " (no --vocab_file: the new tokens are unknown)")
  return result.loaded


# ------------------------------------------------------------------- task


def initial_global_step(output_dir):
  """The step training resumes from: the newest checkpoint's, else 0."""
  path = checkpoints.latest_checkpoint(output_dir) if output_dir else None
  if not path:
    return 0
  reader = tf.train.load_checkpoint(path)
  if not reader.has_tensor("global_step"):
    return 0
  return int(reader.get_tensor("global_step"))


class PretrainingTask(task_lib.Task):
  """The pre-training model_fn (what Google's `model_fn` computed per mode)
  and its records."""

  def __init__(self, settings, encoder_spec, input_files=None,
               max_seq_length=128, max_predictions_per_seq=20,
               use_one_hot_embeddings=False, train_records=None,
               eval_records=None, next_sentence_prediction=True,
               relation_name=NEXT_SENTENCE, vocab_file=None, restore_fn=None,
               poly_power=1.0, start_warmup_step=0):
    """Creates the task.

    Args:
      settings: task_lib.RunSettings (num_train_steps, num_warmup_steps and
        max_eval_steps are the schedule and the evaluation length).
      encoder_spec: encoders.EncoderSpec.
      input_files: list of TFRecord files of Google's layout (or give
        train_records).
      max_seq_length, max_predictions_per_seq: the records' lengths.
      use_one_hot_embeddings: one-hot embedding lookups (TPUs).
      train_records, eval_records: pretraining_data.RecordSet
        (pretraining_data.prepare_records); eval_records None: the training
        records, as Google's.
      next_sentence_prediction: train the sentence-relation head (else
        masked-LM only; see PretrainingModel).
      relation_name: its metrics' prefix (NEXT_SENTENCE or SENTENCE_ORDER).
      vocab_file: the vocabulary, to start the new rows of a grown
        vocabulary from their pieces (else from the mean of the old rows).
      restore_fn: restore_fn(variables, checkpoint) -> RestoreResult, how
        the warm start reads names (default checkpoints.restore; ALBERT's
        --init_from_group0 passes its own).
      poly_power, start_warmup_step: ALBERT's schedule (BERT's: 1.0, 0).
    """
    super().__init__(settings, encoder_spec, use_one_hot_embeddings)
    if train_records is None and input_files is not None:
      train_records = pretraining_data.RecordSet(
          input_files, pretraining_data.GOOGLE_LAYOUT, None)
    self.train_records = train_records
    self.eval_records = eval_records or train_records
    self.input_files = train_records.files if train_records else None
    self.max_seq_length = max_seq_length
    self.max_predictions_per_seq = max_predictions_per_seq
    self.next_sentence_prediction = next_sentence_prediction
    self.relation_name = relation_name
    self.vocab_file = vocab_file
    self.restore_fn = restore_fn or functools.partial(
        checkpoints.restore, allow_missing=True, log=True)
    self.poly_power = poly_power
    self.start_warmup_step = start_warmup_step

  def create_model(self, params):
    """The encoder and both heads (the sentence head frozen without NSP)."""
    return PretrainingModel(self.create_encoder(params),
                            params.get("compute_dtype", tf.float32),
                            self.next_sentence_prediction)

  def train_loss(self, model, features, params):
    """Google's total loss (masked LM, plus the sentence relation)."""
    return model(features, training=params["mode"] == "train")["total_loss"]

  def eval_metrics(self, model, features, params):
    """Google's (or ALBERT's) metric_fn as (sum, count) pairs."""
    return pretraining_metrics(model(features, training=False), features,
                               self.relation_name)

  def predictions(self, model, features, params):
    """masked_lm_log_probs [B, P, V] (and next_sentence_log_probs [B, 2])."""
    out = model(features, training=False)
    batch_size = tf.shape(features["input_ids"])[0]
    predictions = {"masked_lm_log_probs": tf.reshape(
        out["masked_lm_log_probs"],
        [batch_size, -1, model.masked_lm.vocab_size])}
    if "next_sentence_log_probs" in out:
      predictions["next_sentence_log_probs"] = out["next_sentence_log_probs"]
    return predictions

  def warm_start(self, model, checkpoint_path, expected_names=None):
    """--init_checkpoint: the weights (frozen heads included) it holds.

    A checkpoint with a smaller vocabulary (learn_vocab.py --extend_from)
    gives the old rows of the word embeddings and of the masked-LM output
    bias; the new rows start from means (grow_vocabulary, which logs it).

    Args:
      model: the pre-training model.
      checkpoint_path: --init_checkpoint.
      expected_names: the encoder's names the checkpoint must restore, or
        None (see estimator_lib.ModelFn.warm_start).

    Returns:
      checkpoints.RestoreResult.
    """
    logging.info("Warm start (weights only) from %s", checkpoint_path)
    old_size = vocabulary_growth(model, checkpoint_path)
    variables = model.warm_start_variables()
    grown = []
    if old_size is not None:
      grown = grow_vocabulary(model, checkpoint_path, old_size,
                              self.vocab_file)
      variables = [v for v in variables
                   if checkpoints.variable_name(v) not in grown]
    result = self.restore_fn(variables, checkpoint_path)
    # The grown tables were read: they are loaded, not unused, entries.
    result = result._replace(
        loaded=list(result.loaded) + list(grown),
        unused=[n for n in result.unused
                if all(checkpoints.checkpoint_key(g, {n}) is None
                       for g in grown)])
    estimator_lib.check_warm_start(result, checkpoint_path, expected_names)
    return result

  def training_schedule(self):
    """Google's --num_train_steps and --num_warmup_steps.

    Raises:
      validation.UsageError: ALBERT's --start_warmup_step lies after the
        step training starts from (ALBERT trains those steps with negative
        learning rates; optimization.py refuses them).
    """
    steps, warmup = self.settings.num_train_steps, self.settings.num_warmup_steps
    if warmup and self.start_warmup_step > 0:
      start = initial_global_step(self.settings.output_dir)
      if start < self.start_warmup_step:
        raise validation.UsageError(
            "--start_warmup_step=%d: training would start at global step %d "
            "(the newest checkpoint in --output_dir, else 0), before the "
            "warmup starts, where ALBERT's learning rate is negative; resume "
            "from a checkpoint at step >= %d or lower --start_warmup_step" %
            (self.start_warmup_step, start, self.start_warmup_step))
    return steps, warmup

  def create_optimizer(self, params):
    """Google's optimizer and schedule, with ALBERT's poly_power and warmup
    start."""
    settings = self.settings
    return optimization.create_optimizer(
        None, settings.learning_rate, self.num_train_steps,
        self.num_warmup_steps, settings.use_tpu, optimizer=settings.optimizer,
        poly_power=self.poly_power, start_warmup_step=self.start_warmup_step)

  def _input_fn(self, records, is_training):
    """The input_fn of a RecordSet (its layout and masker)."""
    return input_fn_builder(
        records.files, self.max_seq_length, self.max_predictions_per_seq,
        is_training, layout=records.layout, masker=records.masker)

  def train_input_fn(self):
    """The training records' input_fn (Google's pipeline)."""
    logging.info("***** Running training *****")
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    return self._input_fn(self.train_records, True)

  def eval_input(self):
    """--eval_input_file (default: the training files, as Google's),
    --max_eval_steps batches."""
    logging.info("***** Running evaluation *****")
    logging.info("  Batch size = %d", self.settings.eval_batch_size)
    return self._input_fn(self.eval_records, False), self.settings.max_eval_steps

  def evaluate(self, estimator, eval_input, checkpoint_path=None):
    """Google's metrics plus masked_lm_perplexity, exp(masked_lm_loss).

    Args:
      estimator: the Estimator.
      eval_input: (input_fn, steps).
      checkpoint_path: a checkpoint, or None for the newest (else the warm
        start).

    Returns:
      dict for eval_results.txt.
    """
    input_fn, steps = eval_input
    result = estimator.evaluate(input_fn=input_fn, steps=steps,
                                checkpoint_path=checkpoint_path)
    with np.errstate(over="ignore"):
      result["masked_lm_perplexity"] = np.float32(
          np.exp(np.float64(result["masked_lm_loss"])))
    return result

  def default_best_metric(self):
    """ALBERT's key_name (and --keep_best_metric's default here)."""
    return "masked_lm_accuracy"


# ------------------------------------------------------ ALBERT's evaluation


def results_text(result):
  """One evaluation's `key = value` lines, keys sorted (Google's format)."""
  return "".join("%s = %s\n" % (key, str(result[key]))
                 for key in sorted(result))


def evaluate_checkpoints(task, estimator, eval_input, output_dir,
                         num_train_steps, best_metric="masked_lm_accuracy",
                         poll_seconds=1.0):
  """ALBERT's --do_eval: follows the checkpoints until the last step.

  As ALBERT's run_pretraining: the newest checkpoint of output_dir is
  evaluated until one of step >= num_train_steps has been (so an evaluation
  job may run beside a training job); each evaluation's `key = value` lines
  are appended to eval_results.txt; a checkpoint whose `best_metric` beats
  the best so far (starting from 0) is copied to `model.ckpt-best`. ALBERT
  re-evaluates the newest checkpoint in a loop and writes its "saved ..."
  lines into eval_results.txt; here each checkpoint is evaluated once and
  the copies are logged, so the file stays `key = value` lines. Without a
  checkpoint in output_dir, an --init_checkpoint is evaluated once.

  Args:
    task: the PretrainingTask.
    estimator: its Estimator.
    eval_input: (input_fn, steps).
    output_dir: --output_dir.
    num_train_steps: --num_train_steps.
    best_metric: ALBERT's key_name.
    poll_seconds: the wait between looks for a new checkpoint.

  Returns:
    the last evaluation's results.
  """
  text, best, evaluated, result = "", 0.0, None, None
  while result is None or result["global_step"] < num_train_steps:
    path = estimator.latest_checkpoint()
    # No checkpoint yet but an --init_checkpoint: its baseline, once.
    baseline = path is None and result is None and bool(
        task.settings.init_checkpoint)
    if not baseline and (path is None or path == evaluated):
      logging.info("No new checkpoint yet. Sleeping.")
      time.sleep(poll_seconds)
      continue
    result = task.evaluate(estimator, eval_input, checkpoint_path=path)
    evaluated = path
    logging.info("***** Eval results of %s *****", path or
                 task.settings.init_checkpoint)
    text += results_text(result)
    for line in results_text(result).splitlines():
      logging.info("  %s", line)
    io_lib.write_text(os.path.join(output_dir, "eval_results.txt"), text)
    if baseline:
      break
    if result[best_metric] > best:
      best = result[best_metric]
      for source, target in checkpoints.copy_checkpoint(
          path, path.rsplit("-", 1)[0] + "-best"):
        logging.info("saved %s to %s", source, target)
  return result


def check_max_seq_length(config, max_seq_length, config_file):
  """Google's check: the model has position embeddings for the length.

  Raises:
    validation.UsageError: naming --max_seq_length and the config file.
  """
  if max_seq_length > config.max_position_embeddings:
    raise validation.UsageError(
        "Cannot use sequence length %d because the model was only trained "
        "up to sequence length %d (--max_seq_length, %s)" %
        (max_seq_length, config.max_position_embeddings, config_file))
