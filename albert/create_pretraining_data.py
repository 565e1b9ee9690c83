# coding=utf-8
"""Create masked LM/sentence order TF examples for ALBERT.

Writes the same TFRecord files as google-research/albert's
create_pretraining_data.py, byte for byte, for the same input, tokenizer and
flags: SentencePiece (--spm_model_file) or WordPiece (--vocab_file) tokens,
sentence-order prediction (SOP) pairs, n-gram masking, the `token_boundary`
feature, and `--do_permutation`.

  python -m albert.create_pretraining_data --input_file=text.txt \\
    --output_file=out.tfrecord --vocab_file=30k-clean.vocab \\
    --spm_model_file=30k-clean.model

One fix, on purpose: ALBERT draws each n-gram length with numpy's global
generator and never seeds it, so its records change from run to run
whenever --ngram > 1. Here numpy's legacy generator starts from
`np.random.seed(--random_seed)`; ALBERT's script with that one line added
writes exactly these files (that is how the reference files were made).

It is built on create_pretraining_data.py (BERT's): the same reading
(tokenization in parallel, Google's line and document rules), writing
(atomic files, a JSON sidecar, progress), clear errors, and the per-instance
work in numba kernels (albert/pretraining_data_kernels.py) that make Python's
and numpy's random draws exactly as ALBERT's code does, in ALBERT's order.
"""

import collections
import random
import time

from absl import flags
from absl import logging
import numpy as np

from albert import pretraining_data_kernels as albert_kernels
from albert import tokenization
import create_pretraining_data as bert_data
import pretraining_data_kernels as kernels
import validation

FLAGS = flags.FLAGS

# The flags of ALBERT's script, in its order.
_FLAG_NAMES = ("input_file", "output_file", "vocab_file", "spm_model_file",
               "input_file_mode", "do_lower_case", "do_whole_word_mask",
               "do_permutation", "favor_shorter_ngram", "random_next_sentence",
               "max_seq_length", "ngram", "max_predictions_per_seq",
               "random_seed", "dupe_factor", "masked_lm_prob",
               "short_seq_prob", "num_workers")
# Those only ALBERT's script has; the others are BERT's script's (imported),
# with these defaults where they differ.
_ALBERT_FLAGS = ("spm_model_file", "input_file_mode", "do_permutation",
                 "favor_shorter_ngram", "random_next_sentence", "ngram")
_ALBERT_DEFAULTS = dict(do_whole_word_mask=True, max_seq_length=512,
                        dupe_factor=40)


def define_flags():
  """Defines ALBERT's flags (names, defaults and help as in ALBERT's script).

  Called only when run as a script: importing create_pretraining_data
  (BERT's, whose reading and writing this reuses) defines the flags the two
  scripts share, with BERT's defaults (e.g. --max_seq_length=128); ALBERT's
  defaults replace them here, and ALBERT's own flags are added. Importing
  this module leaves BERT's flags alone.
  """
  for name, default in _ALBERT_DEFAULTS.items():
    FLAGS.set_default(name, default)
  FLAGS["vocab_file"].help = (
      "The vocabulary file that the ALBERT model was trained on.")
  FLAGS["num_workers"].help = (
      "Threads (SentencePiece) or processes (WordPiece) that tokenize the "
      "input, and threads that encode the records (default: all cores). The "
      "output does not depend on it.")
  for name in _ALBERT_FLAGS:
    if name in FLAGS:
      delattr(FLAGS, name)
  flags.DEFINE_string("spm_model_file", None,
                      "The model file for sentence piece tokenization.")

  flags.DEFINE_string("input_file_mode", "r",
                      "The data format of the input file.")

  flags.DEFINE_bool(
      "do_permutation", False,
      "Whether to do the permutation training.")

  flags.DEFINE_bool(
      "favor_shorter_ngram", True,
      "Whether to set higher probabilities for sampling shorter ngrams.")

  flags.DEFINE_bool(
      "random_next_sentence", False,
      "Whether to use the sentence that's right before the current sentence "
      "as the negative sample for next sentence prection, rather than using "
      "sentences from other random documents.")

  flags.DEFINE_integer("ngram", 3, "Maximum number of ngrams to mask.")


# ALBERT's features, in ALBERT's order.
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "token_boundary",
                 "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                 "next_sentence_labels")

MaskedLmInstance = collections.namedtuple("MaskedLmInstance",
                                          ["index", "label"])

# ALBERT's _is_start_piece_sp sets: "€" and "£" go in as bytes, so on
# Python 3 no str piece ever equals them.
_SPECIAL_PIECES = set(list('!"#$%&"()*+,-./:;?@[\\]^_`{|}~'))
_SPECIAL_PIECES.add(u"€".encode("utf-8"))
_SPECIAL_PIECES.add(u"£".encode("utf-8"))
_ENGLISH_CHARS = set(list("abcdefghijklmnopqrstuvwxyz"))


class TrainingInstance(bert_data.TrainingInstance):
  """A single training instance (sentence pair), as ALBERT's."""

  def __init__(self, tokens, segment_ids, masked_lm_positions,
               masked_lm_labels, is_random_next, token_boundary):
    super(TrainingInstance, self).__init__(
        tokens, segment_ids, masked_lm_positions, masked_lm_labels,
        is_random_next)
    self.token_boundary = token_boundary

  def __str__(self):
    return "".join([
        "tokens: %s\n" % " ".join(self.tokens),
        "segment_ids: %s\n" % " ".join(str(x) for x in self.segment_ids),
        "token_boundary: %s\n" % " ".join(
            str(x) for x in self.token_boundary),
        "is_random_next: %s\n" % self.is_random_next,
        "masked_lm_positions: %s\n" % " ".join(
            str(x) for x in self.masked_lm_positions),
        "masked_lm_labels: %s\n" % " ".join(self.masked_lm_labels), "\n"])


def _is_start_piece_sp(piece):
  """Whether a SentencePiece piece starts a word, by ALBERT's rule.

  True for pieces starting with U+2581 or "<", a single punctuation
  character of ALBERT's list, or any character that is not an (ASCII,
  after lower()) English letter or one of those punctuation characters.

  Args:
    piece: str.
  """
  return (piece.startswith(u"▁") or piece.startswith("<") or
          piece in _SPECIAL_PIECES or
          not all([c.lower() in _ENGLISH_CHARS.union(_SPECIAL_PIECES)
                   for c in piece]))


def _is_start_piece_bert(piece):
  """Whether a WordPiece token starts a word (it has no "##")."""
  return not piece.startswith("##")


def is_start_piece(piece, spm_model_file=None):
  """ALBERT's is_start_piece; spm_model_file None reads the flag as ALBERT.

  Args:
    piece: str.
    spm_model_file: whether pieces are SentencePiece's (None: the flag).
  """
  if spm_model_file is None:
    spm_model_file = (FLAGS.spm_model_file if "spm_model_file" in FLAGS and
                      FLAGS.is_parsed() else None)
  if spm_model_file:
    return _is_start_piece_sp(piece)
  return _is_start_piece_bert(piece)


def create_int_feature(values):
  """ALBERT's tf.train.Feature of int64 values (imports TensorFlow)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def create_float_feature(values):
  """ALBERT's tf.train.Feature of float values (imports TensorFlow)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


truncate_seq_pair = bert_data.truncate_seq_pair


def _flag(name, value, default):
  """value, else ALBERT's flag `name` when parsed, else ALBERT's default."""
  if value is not None:
    return value
  if name in FLAGS and FLAGS.is_parsed():
    return FLAGS[name].value
  return default


def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng,
                                 do_whole_word_mask=None, ngram=None,
                                 favor_shorter_ngram=None, do_permutation=None,
                                 spm_model_file=None):
  """ALBERT's create_masked_lm_predictions, with ALBERT's draws.

  Draws from `rng` and from numpy's global generator exactly as ALBERT's
  function does and leaves both where ALBERT's leaves them. The keyword
  settings default to ALBERT's flags (read as ALBERT does when parsed).

  Args:
    tokens: list of str, `[CLS] ... [SEP] ...`.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    vocab_words: list of str, the random replacements.
    rng: random.Random.
    do_whole_word_mask, ngram, favor_shorter_ngram, do_permutation: ALBERT's
      flags (None: the flag, or ALBERT's default True, 3, True, False).
    spm_model_file: truthy for SentencePiece pieces (None: the flag).

  Returns:
    (output_tokens, masked_lm_positions, masked_lm_labels, token_boundary).
  """
  whole_words = _flag("do_whole_word_mask", do_whole_word_mask, True)
  permute = _flag("do_permutation", do_permutation, False)
  cdf = albert_kernels.ngram_cdf(_flag("ngram", ngram, 3), _flag(
      "favor_shorter_ngram", favor_shorter_ngram, True))
  spm = _flag("spm_model_file", spm_model_file, None)
  corpus, vocabulary = bert_data._string_corpus([[tokens]], vocab_words)  # pylint: disable=protected-access
  starts = np.array([is_start_piece(t, spm_model_file=spm or "") or
                     t in ("[CLS]", "[SEP]") for t in tokens], np.uint8)
  ids = np.array(corpus.token_ids, np.int64)
  width = 2 * max(1, len(tokens))
  positions, new_ids = np.zeros(width, np.int64), np.zeros(width, np.int64)
  num_to_predict = 0 if masked_lm_prob == 0 else min(
      max_predictions_per_seq,
      max(1, int(round(len(tokens) * masked_lm_prob))))
  generator = kernels.MersenneTwister(rng)
  numpy_generator = albert_kernels.NumpyMersenneTwister.from_global()
  count = albert_kernels.ngram_mask(
      generator.mt, generator.pos, numpy_generator.mt, numpy_generator.pos,
      ids, starts, len(tokens), num_to_predict, bool(whole_words),
      bool(permute), cdf, vocabulary.vocab["[CLS]"], vocabulary.vocab["[SEP]"],
      vocabulary.random_word_ids, vocabulary.mask_id,
      np.zeros(6 * len(tokens) + 1, np.int64), positions, new_ids)
  generator.sync(rng)
  numpy_generator.sync_global()
  output = list(tokens)
  for position, new_id in zip(positions[:count], new_ids[:count]):
    output[position] = vocabulary.inv_vocab[int(new_id)]
  return (output, positions[:count].tolist(),
          [tokens[p] for p in positions[:count]], starts.tolist())


class Vocabulary(bert_data.Vocabulary):
  """BERT's id tables plus whether each vocabulary entry starts a word."""

  def __init__(self, tokenizer, source):
    """Builds the tables from an albert.tokenization.FullTokenizer.

    Args:
      tokenizer: the tokenizer.
      source: where the vocabulary comes from (for messages).

    Raises:
      ValueError: [CLS], [SEP] or [MASK] is not in the vocabulary.
    """
    super(Vocabulary, self).__init__(tokenizer.vocab, source)
    self.spm = tokenizer.sp_model is not None
    is_start = _is_start_piece_sp if self.spm else _is_start_piece_bert
    self.is_start = np.zeros(self.size, np.uint8)
    for token, index in tokenizer.vocab.items():
      self.is_start[index] = is_start(token)

  def piece_is_start(self, piece):
    """Whether a piece that is not a vocabulary entry starts a word."""
    if self.spm:
      return _is_start_piece_sp(piece)
    return _is_start_piece_bert(piece)


class _StartRecorder(object):
  """The tokenizer for bert_data.read_corpus, noting each token's word start.

  read_corpus keeps every token of every text, in order, so the flags of
  the calls concatenated line up with the corpus' token_ids.
  """

  def __init__(self, tokenizer, vocabulary):
    self.vocab = tokenizer.vocab
    self._tokenizer = tokenizer
    self._vocabulary = vocabulary
    self.chunks = []

  def tokenize_batch_ids(self, texts, num_workers=None):
    """tokenize_batch_ids of the tokenizer; notes the tokens' start flags."""
    batch = self._tokenizer.encode_batch(texts, num_workers)
    starts = self._vocabulary.is_start[batch.ids]
    for position, piece in zip(batch.unknown_positions.tolist(),
                               batch.unknown_pieces):
      starts[position] = self._vocabulary.piece_is_start(piece)
    self.chunks.append(starts)
    return batch.ids, batch.lengths


def read_corpus(input_files, tokenizer, vocabulary, do_lower_case,
                input_file_mode="r", num_workers=None, progress=None):
  """Reads and tokenizes the input files into documents, as ALBERT does.

  BERT's reading (bert_data.read_corpus), except that with SentencePiece a
  line is preprocess_text(line, lower=do_lower_case) instead of stripped,
  and a line that becomes empty ends the document.

  Args:
    input_files: list of paths.
    tokenizer: an albert.tokenization.FullTokenizer.
    vocabulary: the Vocabulary of the tokenizer.
    do_lower_case: bool.
    input_file_mode: "r" (strict UTF-8) or "rb" (invalid bytes dropped).
    num_workers: tokenizing threads or processes (None: all cores).
    progress: a bert_data._Progress or None.

  Returns:
    (corpus, token_starts): a bert_data.Corpus and uint8 [corpus tokens],
    whether each token starts a word (ALBERT's is_start_piece).
  """
  prepare_line = None
  if tokenizer.sp_model is not None:
    prepare_line = lambda line: tokenization.preprocess_text(  # pylint: disable=g-long-lambda
        line, lower=do_lower_case)
  recorder = _StartRecorder(tokenizer, vocabulary)
  corpus = bert_data.read_corpus(
      input_files, recorder, num_workers, progress, prepare_line=prepare_line,
      decode_errors="ignore" if input_file_mode == "rb" else "strict")
  token_starts = np.concatenate(recorder.chunks or [np.zeros(0, np.uint8)])
  return corpus, token_starts


class NgramInstanceMaker(object):
  """ALBERT's create_instances_from_document on ids (see the kernels).

  Instances are arrays as bert_data.InstanceMaker's (rows, positions, ids),
  rows[:, 4] being the sentence-order label; positions and ids are
  max_predictions_per_seq wide, twice that with do_permutation.
  """

  def __init__(self, corpus, token_starts, vocabulary, settings, generator,
               numpy_generator):
    """Keeps the settings.

    Args:
      corpus: a bert_data.Corpus.
      token_starts: uint8 [corpus tokens], see read_corpus.
      vocabulary: a Vocabulary.
      settings: dict of run()'s instance settings (max_seq_length,
        short_seq_prob, masked_lm_prob, max_predictions_per_seq,
        do_whole_word_mask, do_permutation, ngram, favor_shorter_ngram,
        random_next_sentence).
      generator: a kernels.MersenneTwister (Python's random draws).
      numpy_generator: an albert_kernels.NumpyMersenneTwister.
    """
    self.corpus = corpus
    self.token_starts = token_starts
    self.vocabulary = vocabulary
    self.settings = settings
    self.generator = generator
    self.numpy_generator = numpy_generator
    seq = settings["max_seq_length"]
    self.width = settings["max_predictions_per_seq"] * (
        1 + int(settings["do_permutation"]))
    self.num_to_predict = bert_data.num_to_predict_table(
        seq, settings["max_predictions_per_seq"], settings["masked_lm_prob"])
    if settings["masked_lm_prob"] == 0:
      self.num_to_predict[:] = 0  # ALBERT returns before any masking draw
    self.cdf = albert_kernels.ngram_cdf(settings["ngram"],
                                        settings["favor_shorter_ngram"])
    self.tokens = np.zeros(seq, np.int64)
    self.starts = np.zeros(seq, np.uint8)
    self.scratch = np.zeros(6 * seq + 1, np.int64)

  def make(self, order, first_document, end_document):
    """The instances of documents first..end-1 of the shuffled list.

    Args:
      order: int64 [documents] the shuffled document list.
      first_document: int.
      end_document: int.

    Returns:
      dict with "rows", "positions" and "ids".
    """
    document_starts = self.corpus.document_starts
    shuffled = order[first_document:end_document]
    capacity = int((document_starts[shuffled + 1] -
                    document_starts[shuffled]).sum())
    rows, positions, ids = bert_data.instance_buffers(
        capacity, self.width, self.settings["max_seq_length"],
        self.corpus.token_ids.dtype)
    s, v = self.settings, self.vocabulary
    count = albert_kernels.document_instances(
        self.generator.mt, self.generator.pos, self.numpy_generator.mt,
        self.numpy_generator.pos, self.corpus.token_ids, self.token_starts,
        self.corpus.sentence_starts, document_starts, order, first_document,
        end_document, s["max_seq_length"] - 3, s["short_seq_prob"],
        bool(s["random_next_sentence"]), self.num_to_predict,
        bool(s["do_whole_word_mask"]), bool(s["do_permutation"]), self.cdf,
        v.cls_id, v.sep_id, v.mask_id, v.random_word_ids, self.tokens,
        self.starts, self.scratch, rows, positions, ids)
    return bert_data.first_instances(count, rows, positions, ids)


class RecordEncoder(bert_data.RecordEncoder):
  """ALBERT's tf.train.Example records, features in ALBERT's order."""

  def __init__(self, corpus, token_starts, vocabulary, max_seq_length,
               num_predictions):
    """Precomputes the map-entry headers.

    Args:
      corpus: the bert_data.Corpus the instances refer to.
      token_starts: uint8 [corpus tokens].
      vocabulary: a Vocabulary.
      max_seq_length: int.
      num_predictions: width of the masked-LM features.
    """
    super(RecordEncoder, self).__init__(corpus, vocabulary, max_seq_length,
                                        num_predictions, FEATURE_NAMES)
    self.token_starts = token_starts

  def features(self, arrays, index):
    """The eight features of some instances.

    Args:
      arrays: instance arrays (see NgramInstanceMaker).
      index: int [n] the rows to take, in this order.

    Returns:
      OrderedDict name -> [n, length] array (masked_lm_weights float32, the
      others int64).
    """
    features = bert_data.empty_features(len(index), self.seq, self.preds,
                                        FEATURE_NAMES)
    albert_kernels.fill_features(
        arrays["rows"][index], arrays["positions"][index],
        arrays["ids"][index], self.corpus.token_ids, self.token_starts,
        self.vocabulary.cls_id, self.vocabulary.sep_id, *features.values())
    return features


def check_settings(settings, input_file_mode, random_seed, output_files,
                   num_workers):
  """Raises ValueError naming the flag when a value cannot work.

  Args:
    settings: dict of instance settings (see NgramInstanceMaker) with
      dupe_factor.
    input_file_mode: str.
    random_seed: int.
    output_files: list of paths.
    num_workers: int or None.
  """
  bert_data.check_settings(
      settings["max_seq_length"], settings["max_predictions_per_seq"],
      settings["masked_lm_prob"], settings["short_seq_prob"],
      settings["dupe_factor"], masking_optional=True)
  if settings["ngram"] < 1:
    raise ValueError("--ngram=%d must be >= 1" % settings["ngram"])
  if input_file_mode not in ("r", "rb"):
    raise ValueError("--input_file_mode=%r must be 'r' or 'rb'" %
                     input_file_mode)
  if not 0 <= random_seed < 1 << 32:
    raise ValueError("--random_seed=%d must be in [0, 2**32): it also seeds "
                     "numpy's legacy generator" % random_seed)
  bert_data.check_outputs(output_files, num_workers)


def _sidecar_settings(settings, vocab_file, spm_model_file, vocabulary,
                      do_lower_case, random_seed):
  """The settings written into each output's JSON sidecar."""
  sidecar = dict(settings, do_lower_case=bool(do_lower_case),
                 random_seed=random_seed, vocab_size=vocabulary.size)
  for name in ("do_whole_word_mask", "do_permutation", "favor_shorter_ngram",
               "random_next_sentence"):
    sidecar[name] = bool(sidecar[name])
  if spm_model_file:
    sidecar["spm_model_sha256"] = bert_data.vocab_sha256(spm_model_file)
  else:
    sidecar["vocab_sha256"] = bert_data.vocab_sha256(vocab_file)
  return sidecar


def run(input_files, output_files, vocab_file, spm_model_file=None,
        input_file_mode="r", do_lower_case=True, do_whole_word_mask=True,
        do_permutation=False, favor_shorter_ngram=True,
        random_next_sentence=False, max_seq_length=512, ngram=3,
        max_predictions_per_seq=20, random_seed=12345, dupe_factor=40,
        masked_lm_prob=0.15, short_seq_prob=0.1, num_workers=None,
        log_examples=True, progress=True):
  """The whole script: read, make instances, write records and sidecars.

  Args:
    input_files: list of input paths (already expanded).
    output_files: list of output paths (instances dealt round-robin).
    vocab_file: WordPiece vocabulary (unused with spm_model_file, as in
      ALBERT).
    spm_model_file: SentencePiece model, or None for WordPiece.
    input_file_mode, do_lower_case, do_whole_word_mask, do_permutation,
      favor_shorter_ngram, random_next_sentence, max_seq_length, ngram,
      max_predictions_per_seq, random_seed, dupe_factor, masked_lm_prob,
      short_seq_prob: ALBERT's flags.
    num_workers: tokenizing threads or processes and encoding threads.
    log_examples: log the first 20 instances as ALBERT does.
    progress: report progress on stderr.

  Returns:
    dict with num_instances and seconds (a breakdown by stage).

  Raises:
    ValueError: bad flags, unreadable or unusable input.
  """
  settings = dict(
      max_seq_length=max_seq_length, short_seq_prob=short_seq_prob,
      masked_lm_prob=masked_lm_prob,
      max_predictions_per_seq=max_predictions_per_seq,
      do_whole_word_mask=do_whole_word_mask, do_permutation=do_permutation,
      ngram=ngram, favor_shorter_ngram=favor_shorter_ngram,
      random_next_sentence=random_next_sentence, dupe_factor=dupe_factor)
  check_settings(settings, input_file_mode, random_seed, output_files,
                 num_workers)
  reporter = bert_data._Progress(progress)  # pylint: disable=protected-access
  seconds = collections.OrderedDict()
  tick = time.perf_counter()
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case,
                                         spm_model_file)
  vocabulary = Vocabulary(tokenizer, spm_model_file or vocab_file)
  try:
    corpus, token_starts = read_corpus(input_files, tokenizer, vocabulary,
                                       do_lower_case, input_file_mode,
                                       num_workers, reporter)
  finally:
    tokenizer.close()
  bert_data.check_corpus(corpus, input_files)
  seconds["read_and_tokenize"] = time.perf_counter() - tick
  return _make_and_write(corpus, token_starts, vocabulary, settings,
                         random_seed, output_files, num_workers, reporter,
                         log_examples, seconds,
                         _sidecar_settings(settings, vocab_file,
                                           spm_model_file, vocabulary,
                                           do_lower_case, random_seed))


def _make_and_write(corpus, token_starts, vocabulary, settings, random_seed,
                    output_files, num_workers, reporter, log_examples,
                    seconds, sidecar):
  """run() after reading: the instances, then the records.

  Args:
    corpus, token_starts: see read_corpus.
    vocabulary: a Vocabulary.
    settings: see NgramInstanceMaker (with dupe_factor).
    random_seed: int, seeds Python's and numpy's generators.
    output_files: list of paths.
    num_workers: encoding threads (None: all cores).
    reporter: a bert_data._Progress.
    log_examples: bool.
    seconds: OrderedDict of stage timings, added to.
    sidecar: dict for the JSON sidecars.

  Returns:
    dict with num_instances and seconds.
  """
  generator = kernels.MersenneTwister(random.Random(random_seed))
  maker = NgramInstanceMaker(
      corpus, token_starts, vocabulary, settings, generator,
      albert_kernels.NumpyMersenneTwister.from_seed(random_seed))
  encoder = RecordEncoder(corpus, token_starts, vocabulary,
                          settings["max_seq_length"], maker.width)
  count, write_seconds = bert_data.make_and_write(
      maker, encoder, settings["dupe_factor"], output_files, sidecar,
      reporter, log_examples, num_workers, log_count=True)
  seconds.update(write_seconds)
  return dict(num_instances=count, seconds=seconds)


def main(_):
  logging.set_verbosity(logging.INFO)
  try:
    input_files = bert_data.logged_input_files(FLAGS.input_file)
    run(input_files, FLAGS.output_file.split(","), FLAGS.vocab_file,
        spm_model_file=FLAGS.spm_model_file,
        input_file_mode=FLAGS.input_file_mode,
        do_lower_case=FLAGS.do_lower_case,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        do_permutation=FLAGS.do_permutation,
        favor_shorter_ngram=FLAGS.favor_shorter_ngram,
        random_next_sentence=FLAGS.random_next_sentence,
        max_seq_length=FLAGS.max_seq_length, ngram=FLAGS.ngram,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        random_seed=FLAGS.random_seed, dupe_factor=FLAGS.dupe_factor,
        masked_lm_prob=FLAGS.masked_lm_prob,
        short_seq_prob=FLAGS.short_seq_prob, num_workers=FLAGS.num_workers)
  except validation.UsageError:
    raise
  except ValueError as e:  # bad flags or input: the message says which
    raise validation.UsageError(str(e)) from e


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  flags.mark_flag_as_required("vocab_file")
  validation.run_main(main)
