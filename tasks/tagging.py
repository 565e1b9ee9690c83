# coding=utf-8
"""Token classification (NER) as a Task: data, records, model, metrics, outputs.

The shape is Model Garden's official/nlp/tasks/tagging.py (a task owns its
model, loss, inputs and metrics) on this project's seams:

* data: `TaggingData` finds train/dev/test in --data_dir, reads them with
  tagging_data.py (CoNLL, JSON lines, Chinese characters), and fixes the
  label list (--label_file, else the training file's tags, "O" first) and
  the tag scheme (given or detected);
* records: each sentence's words are WordPiece-split and cut into windows
  of max_seq_length (tagging_data.convert_sentences_to_features); the first
  piece of a word carries its tag, the other pieces are ignored in the loss
  and in decoding (label weight 0);
* model: `TaggingModel` = the registry's encoder + heads.
  TokenClassificationHead (`cls/ner/output_*`) [+ crf.CRF
  (`cls/ner/crf/transitions`) with use_crf];
* loss: the softmax cross-entropy of the first pieces weighted by
  label_weights (each word counted once), or the CRF's negative
  log-likelihood of each window's word chain;
* metrics: eval_loss and eval_accuracy in the graph (TensorBoard), then
  entity-level precision / recall / F1 by conlleval's rules
  (tagging_metrics.py) from a predict pass over dev, per type too;
* outputs: label_list.txt, eval_results.txt, test_predictions.txt in
  conlleval's input format, and a SavedModel (export_lib.export_tagger).
"""

import os

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

import crf
import estimator_lib
import export_lib
import heads
import io_lib
import task_lib
import validation
from tasks import tagging_data
from tasks import tagging_metrics

# Record files in --output_dir (the classifier's names).
RECORD_FILES = {"train": "train.tf_record", "dev": "eval.tf_record",
                "test": "predict.tf_record"}
PREDICTIONS_FILE = "test_predictions.txt"
LABEL_LIST_FILE = "label_list.txt"
NUM_LOGGED_FEATURES = 5
DEFAULT_DOC_STRIDE = 64
CRF_SCOPE = "cls/ner/crf"


def define_flags():
  """The tagging task's own flags (run_ner.py)."""
  define = estimator_lib.define_flag
  define(flags.DEFINE_string, "data_dir", None,
         "The input data dir: train.txt, dev.txt and test.txt (with "
         "--format=jsonl also train.jsonl, ...).")
  define(flags.DEFINE_enum, "format", "conll", list(tagging_data.FORMATS),
         "conll: a word per line, its tag in the last column, a blank line "
         "between sentences; jsonl: {\"tokens\": [...], \"tags\": [...]} per "
         "line; chars: Chinese characters, one per line with its tag, or "
         "text<TAB>tags lines.")
  define(flags.DEFINE_string, "tag_scheme", "auto",
         "auto (detected from train.txt), bio (= iob2), iob1, iob2 or iobes.")
  define(flags.DEFINE_string, "label_file", None,
         "A file with one tag per line: the label list and its order. "
         "Default: the tags of train.txt, O first, the others sorted.")
  define(flags.DEFINE_integer, "doc_stride", DEFAULT_DOC_STRIDE,
         "A sentence longer than max_seq_length - 2 WordPieces is cut into "
         "windows starting this many pieces apart; each word is predicted "
         "from the window where it has the most context.")
  define(flags.DEFINE_bool, "use_crf", False,
         "A linear-chain CRF over the tag logits of the words (loss by the "
         "forward algorithm, Viterbi decoding).")
  define(flags.DEFINE_string, "spm_model_file", None,
         "ALBERT: the SentencePiece model (instead of --vocab_file).")
  task_lib.define_model_selection_flags(
      "eval_f1",
      "the fine-tuned tagger (serving signature: input_ids, input_mask, "
      "segment_ids -> tag_ids, probabilities)")


# ------------------------------------------------------------------ data


def _exists(path):
  """Whether a local or scheme:// path exists."""
  if validation.is_remote(path):
    return tf.io.gfile.exists(path)
  return os.path.exists(path)


def detect_scheme_of_labels(label_list):
  """The scheme a label list implies: IOBES when it has E- or S- tags."""
  prefixes = {tagging_metrics.split_tag(tag)[0] for tag in label_list}
  return "iobes" if prefixes & {"E", "S"} else "iob2"


class TaggingData(object):
  """The splits of a data directory, their label list and tag scheme.

  The training file (when present) is read once: it gives the label list
  (unless a label file does) and the detected scheme. Dev and test are read
  when asked for and checked against both (file:line errors for unknown
  tags and tags outside the scheme; warnings for I- tags that start an
  entity).
  """

  def __init__(self, data_dir, file_format="conll", tag_scheme="auto",
               label_file=None):
    """Args: the flags of the same names (tag_scheme None = "auto")."""
    self.data_dir = data_dir
    self.file_format = file_format
    self.tag_scheme = tag_scheme or "auto"
    self.label_file = label_file
    self.label_list = None
    self.scheme = None
    self._sentences = {}

  def path(self, split):
    """The file of `split` ("train", "dev", "test"), or None.

    `<split>.txt`; with --format=jsonl `<split>.jsonl` first.
    """
    names = [split + ".txt"]
    if self.file_format == "jsonl":
      names.insert(0, split + ".jsonl")
    for name in names:
      path = os.path.join(self.data_dir, name)
      if _exists(path):
        return path
    return None

  def require(self, split, flag):
    """The file of `split`; a UsageError naming --data_dir and `flag`."""
    path = self.path(split)
    if path is None:
      raise validation.UsageError(
          "--data_dir=%s has no %s.txt%s (%s reads it)" % (
              self.data_dir, split,
              " or %s.jsonl" % split if self.file_format == "jsonl" else "",
              flag))
    return path

  def load(self):
    """Reads the training file (if any) and fixes label list and scheme.

    Returns:
      self.

    Raises:
      validation.UsageError: neither a training file nor --label_file;
      validation.DataError: naming file:line (see tagging_data).
    """
    if self.label_list is not None:
      return self
    train_path = self.path("train")
    train = []
    if train_path:
      train = tagging_data.read_sentences(train_path, self.file_format,
                                          has_tags=True)
    if self.label_file:
      labels = tagging_data.read_label_file(
          validation.check_input_file("label_file", self.label_file))
    elif train:
      labels = tagging_data.label_list_from_sentences(train)
    else:
      raise validation.UsageError(
          "--data_dir=%s has no train.txt to take the tags from: give them "
          "with --label_file (the label_list.txt of the run that trained "
          "the model)" % self.data_dir)
    if train or self.tag_scheme.lower() != "auto":
      scheme = tagging_data.resolve_scheme(self.tag_scheme, train)
    else:
      scheme = detect_scheme_of_labels(labels)
    tagging_data.check_sentences(train, labels, scheme)
    self.label_list, self.scheme = labels, scheme
    if train:
      self._sentences["train"] = train
    return self

  def sentences(self, split):
    """The checked sentences of a split (test: tags optional), read once.

    Raises:
      validation.UsageError: the split's file is missing;
      validation.DataError: naming file:line.
    """
    self.load()
    if split not in self._sentences:
      flag = {"train": "--do_train", "dev": "--do_eval",
              "test": "--do_predict"}[split]
      self._sentences[split] = tagging_data.read_split(
          self.require(split, flag), self.file_format, self.label_list,
          self.scheme, has_tags=True if split != "test" else None)
    return self._sentences[split]


# --------------------------------------------------------------- records


def padding_feature(max_seq_length):
  """A feature that predicts nothing (TPU batches are padded with it)."""
  zeros = [0] * max_seq_length
  return tagging_data.TaggingFeature(
      sentence_index=0, window_index=0, tokens=[], input_ids=zeros,
      input_mask=zeros, segment_ids=zeros, label_ids=[-1] * max_seq_length,
      label_weights=[0.0] * max_seq_length, word_ids=[-1] * max_seq_length)


def write_records(sentences, tokenizer, label_list, max_seq_length,
                  doc_stride, path, pad_to=None):
  """Writes the windows of `sentences` as TFRecords (tagging_data's layout).

  Args:
    sentences: list of tagging_data.Sentence.
    tokenizer: the encoder family's tokenizer.
    label_list: list of tags (ids are positions).
    max_seq_length, doc_stride: the windows.
    path: output file (written under a temporary name, then renamed).
    pad_to: pad the record count to a multiple of this (TPU batches), or
      None.

  Returns:
    (number of records, number of them that are windows of sentences).
  """
  features = tagging_data.convert_sentences_to_features(
      sentences, tokenizer, label_list, max_seq_length, doc_stride)
  progress = io_lib.Progress(total=len(sentences), unit="sentences",
                             label=os.path.basename(path))
  count = 0
  with io_lib.atomic_path(path) as temporary:
    with tf.io.TFRecordWriter(temporary) as writer:
      for feature in features:
        if count < NUM_LOGGED_FEATURES:
          tagging_data.log_feature(feature)
        writer.write(tagging_data.feature_record(feature))
        count += 1
        progress.update(done=feature.sentence_index + 1)
      num_windows = count
      while pad_to and count % pad_to:
        writer.write(tagging_data.feature_record(
            padding_feature(max_seq_length)))
        count += 1
  return count, num_windows


def input_fn_builder(input_file, max_seq_length, is_training,
                     drop_remainder):
  """An input_fn over a write_records file.

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts: input_ids, input_mask,
    segment_ids, label_ids, word_ids int32 [batch_size, max_seq_length],
    label_weights float32 [batch_size, max_seq_length], sentence_index
    int32 [batch_size, 1].
  """
  return estimator_lib.record_input_fn_builder(
      input_file, tagging_data.record_spec(max_seq_length), is_training,
      drop_remainder)


# ----------------------------------------------------------------- model


class TaggingModel(task_lib.TaskModel):
  """An encoder + heads.TokenClassificationHead [+ crf.CRF]."""

  def __init__(self, encoder, num_labels, use_crf=False):
    """Creates the head (and the CRF) on `encoder` (encoders.py's contract).

    Args:
      encoder: an encoder model (BertModel, AlbertModel, a hub module).
      num_labels: number of tags.
      use_crf: add a CRF transition matrix `cls/ner/crf/transitions`.
    """
    super().__init__(encoder)
    self.head = heads.TokenClassificationHead(num_labels,
                                              encoder.config.hidden_size)
    # "head_crf" sorts after "encoder" and "head": variables keep the order
    # encoder, head, CRF in checkpoints and in the optimizer.
    self.head_crf = crf.CRF(num_labels, scope=CRF_SCOPE) if use_crf else None

  def __call__(self, input_ids, input_mask, segment_ids, training=False):
    """Tag logits.

    Args:
      input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
      training: dropout in the encoder and the head.

    Returns:
      float32 [batch_size, seq_length, num_labels].
    """
    outputs = self.encoder(input_ids, input_mask=input_mask,
                           token_type_ids=segment_ids, training=training)
    return self.head(outputs.sequence_output, training=training)

  def decode(self, logits, word_mask):
    """Predicted tag ids at the word positions, -1 elsewhere.

    Args:
      logits: float32 [batch_size, seq_length, num_labels].
      word_mask: bool or int [batch_size, seq_length]: the positions to tag
        (the first piece of each word); the CRF chains them in order.

    Returns:
      int32 [batch_size, seq_length]: argmax, or the CRF's Viterbi path.
    """
    if self.head_crf is not None:
      return self.head_crf.decode(logits, word_mask)
    tags = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.where(tf.cast(word_mask, tf.bool), tags, -tf.ones_like(tags))

  def loss_terms(self, logits, label_ids, label_weights):
    """The loss as (sum, count): mean = sum / count.

    Softmax: the cross-entropy at each word's first piece in the window
    that predicts it (label_weights), summed, and the number of such words.
    CRF: the negative log-likelihood of each window's chain of words
    (every first piece, label_ids >= 0), summed, and the number of windows
    with a word.

    Args:
      logits: float32 [batch_size, seq_length, num_labels].
      label_ids: int32 [batch_size, seq_length], -1 off the first pieces.
      label_weights: float32 [batch_size, seq_length].

    Returns:
      (float32 scalar, float32 scalar).
    """
    if self.head_crf is None:
      _, per_position = heads.token_classification_loss(logits, label_ids,
                                                        label_weights)
      weights = tf.cast(label_weights, tf.float32)
      return tf.reduce_sum(per_position * weights), tf.reduce_sum(weights)
    words = label_ids >= 0
    log_likelihood = self.head_crf.log_likelihood(logits, label_ids, words)
    has_words = tf.cast(tf.reduce_any(words, axis=1), tf.float32)
    return -tf.reduce_sum(log_likelihood), tf.reduce_sum(has_words)


# ---------------------------------------------------------------- scores


def word_tags(sentences, predictions, label_list, tokenizer):
  """Each word's predicted tag (tagging_data.word_tags_from_predictions)."""
  return tagging_data.word_tags_from_predictions(sentences, predictions,
                                                 label_list, tokenizer)


def eval_scores(sentences, predicted_tags, prefix="eval_"):
  """conlleval's scores of a tagged split, as eval_results.txt keys.

  Args:
    sentences: list of tagging_data.Sentence with gold tags.
    predicted_tags: list (per sentence) of lists of predicted tags.
    prefix: prepended to tagging_metrics' names.

  Returns:
    dict: <prefix>precision, recall, f1 (entity-level micro), accuracy
    (every word's tag), and precision_<TYPE>, recall_<TYPE>, f1_<TYPE>;
    numpy float32.
  """
  scores = tagging_metrics.score_sentences([s.tags for s in sentences],
                                           predicted_tags)
  return {prefix + _key(name): np.float32(value)
          for name, value in scores.items()}


def _key(name):
  """A metric name as a key of eval_results.txt (no spaces or '=')."""
  return "".join("_" if c.isspace() or c == "=" else c for c in name)


def write_predictions(path, sentences, predicted_tags):
  """test_predictions.txt: conlleval's `word gold predicted` lines.

  Args:
    path: output file (written under a temporary name, then renamed).
    sentences: list of tagging_data.Sentence (gold "O" without tags).
    predicted_tags: list (per sentence) of lists of tags.

  Returns:
    whether the file has gold tags (the test file had tags).
  """
  has_gold = bool(sentences) and sentences[0].tags is not None
  with io_lib.atomic_output(path) as f:
    tagging_metrics.write_conlleval(
        f, [s.words for s in sentences],
        [s.tags for s in sentences] if has_gold else None, predicted_tags)
  return has_gold


# ------------------------------------------------------------------ task


class TaggingTask(task_lib.Task):
  """Fine-tuning, evaluation, prediction and export of a tagger (NER)."""

  def __init__(self, settings, encoder_spec, num_labels, use_crf=False,
               use_one_hot_embeddings=False, data=None, tokenizer=None,
               max_seq_length=128, doc_stride=DEFAULT_DOC_STRIDE):
    """Creates the task.

    Args:
      settings: task_lib.RunSettings.
      encoder_spec: encoders.EncoderSpec (or a hub encoder spec).
      num_labels: number of tags (len(data.label_list)).
      use_crf: a CRF over the words' tag logits.
      use_one_hot_embeddings: one-hot embedding lookups (TPUs).
      data, tokenizer, max_seq_length, doc_stride: the data (a loaded
        TaggingData; not needed for the model alone).
    """
    super().__init__(settings, encoder_spec, use_one_hot_embeddings)
    self.num_labels = num_labels
    self.use_crf = use_crf
    self.data = data
    self.tokenizer = tokenizer
    self.max_seq_length = max_seq_length
    self.doc_stride = doc_stride
    self._train_records = None
    self._dev_sentences = None

  # ------------------------------------------------------------- model

  def create_model(self, params):
    return TaggingModel(self.create_encoder(params), self.num_labels,
                        self.use_crf)

  def _run(self, model, features, params):
    """(logits [B, S, T], loss sum, loss count) of a batch."""
    logits = model(features["input_ids"], features["input_mask"],
                   features["segment_ids"],
                   training=params.get("mode") == "train")
    total, count = model.loss_terms(logits, features["label_ids"],
                                    features["label_weights"])
    return logits, total, count

  def train_loss(self, model, features, params):
    _, total, count = self._run(model, features, params)
    return tf.math.divide_no_nan(total, count)

  def eval_metrics(self, model, features, params):
    """eval_loss and eval_accuracy (the words' tags: each word once)."""
    logits, total, count = self._run(model, features, params)
    label_ids = features["label_ids"]
    weights = tf.cast(features["label_weights"], tf.float32)
    predicted = model.decode(logits, label_ids >= 0)
    correct = tf.cast(tf.equal(predicted, label_ids), tf.float32) * weights
    return {"eval_loss": (total, count),
            "eval_accuracy": (tf.reduce_sum(correct),
                              tf.reduce_sum(weights))}

  def predictions(self, model, features, params):
    """Per window: tag_ids (at every word's first piece), probabilities,
    and the feature columns that map them back to words."""
    logits = model(features["input_ids"], features["input_mask"],
                   features["segment_ids"], training=False)
    return {"tag_ids": model.decode(logits, features["label_ids"] >= 0),
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label_ids": features["label_ids"],
            "label_weights": features["label_weights"],
            "word_ids": features["word_ids"],
            "sentence_index": features["sentence_index"]}

  # ------------------------------------------------------------- data

  def record_file(self, split, sentences, pad_to=None):
    """Writes a split's windows to output_dir; (path, records, windows)."""
    path = os.path.join(self.settings.output_dir, RECORD_FILES[split])
    num_records, num_windows = write_records(
        sentences, self.tokenizer, self.data.label_list,
        self.max_seq_length, self.doc_stride, path, pad_to)
    return path, num_records, num_windows

  def train_records(self):
    """(path, number of windows) of the training records (written once)."""
    if self._train_records is None:
      path, count, _ = self.record_file("train",
                                        self.data.sentences("train"))
      self._train_records = (path, count)
    return self._train_records

  def num_train_examples(self):
    # An epoch is one pass over the windows (a long sentence is several).
    return self.train_records()[1]

  def train_input_fn(self):
    path, count = self.train_records()
    logging.info("***** Running training *****")
    logging.info("  Num sentences = %d, windows = %d",
                 len(self.data.sentences("train")), count)
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    logging.info("  Num steps = %d", self.num_train_steps)
    return input_fn_builder(path, self.max_seq_length, True, True)

  def split_input(self, split, sentences, batch_size, title):
    """input_fn of a dev or test split; on a TPU padded to whole batches.

    Returns:
      (input_fn, number of records).
    """
    use_tpu = self.settings.use_tpu
    path, num_records, num_windows = self.record_file(
        split, sentences, batch_size if use_tpu else None)
    logging.info("***** %s *****", title)
    logging.info("  Num sentences = %d, windows = %d (+ %d padding)",
                 len(sentences), num_windows, num_records - num_windows)
    logging.info("  Batch size = %d", batch_size)
    return (input_fn_builder(path, self.max_seq_length, False, use_tpu),
            num_records)

  def eval_input(self):
    """The dev records (the number of steps is given on a TPU)."""
    self._dev_sentences = self.data.sentences("dev")
    batch_size = self.settings.eval_batch_size
    input_fn, num_records = self.split_input(
        "dev", self._dev_sentences, batch_size, "Running evaluation")
    steps = num_records // batch_size if self.settings.use_tpu else None
    return input_fn, steps

  def evaluate(self, estimator, eval_input):
    """The graph's eval_loss / eval_accuracy, then conlleval's scores of a
    predict pass (eval_accuracy becomes conlleval's: every word)."""
    input_fn, steps = eval_input
    result = estimator.evaluate(input_fn=input_fn, steps=steps)
    tags = word_tags(self._dev_sentences, estimator.predict(input_fn),
                     self.data.label_list, self.tokenizer)
    scores = eval_scores(self._dev_sentences, tags)
    result.update(scores)
    if estimator.config.is_chief and estimator.model_dir:
      # Next to the graph's metrics in TensorBoard (model_dir/eval).
      writer = tf.summary.create_file_writer(
          os.path.join(estimator.model_dir, "eval"))
      estimator_lib.write_scalars(writer, result["global_step"],
                                  {k: float(v) for k, v in scores.items()})
      writer.close()
    return result

  def predict(self, estimator):
    """test_predictions.txt (conlleval's format) for every test word."""
    sentences = self.data.sentences("test")
    input_fn, _ = self.split_input("test", sentences,
                                    self.settings.predict_batch_size,
                                    "Running prediction")
    tags = word_tags(sentences, estimator.predict(input_fn),
                     self.data.label_list, self.tokenizer)
    path = os.path.join(self.settings.output_dir, PREDICTIONS_FILE)
    if write_predictions(path, sentences, tags):
      for key, value in sorted(eval_scores(sentences, tags, "test_").items()):
        logging.info("  %s = %s", key, value)
    logging.info("Wrote %s (%d sentences)", path, len(sentences))

  def export(self, model, export_dir):
    export_lib.export_tagger(model, export_dir)

  def default_best_metric(self):
    return "eval_f1"
