# coding=utf-8
"""Create masked LM/next sentence masked_lm TF examples for BERT.

Writes the same TFRecord files as Google's create_pretraining_data.py, byte for
byte, for the same input, vocabulary and flags. It is faster and leaner:
tokenization runs on several processes, instances are kept as a few numpy
arrays of token ids (not lists of strings), and the per-instance work (random
draws, masking, building and serializing the records) runs in small kernels
compiled by numba (pretraining_data_kernels.py), so TensorFlow is not even
imported.

Exactness rests on two things. First, every random choice is Google's: the
kernels make the draws Python's `random.Random(random_seed)` would make
(`random()`, `randint()`, `shuffle()`) from the same Mersenne Twister state,
with CPython's arithmetic, in Google's order. Second, each tf.train.Example
is serialized by hand with the seven features in Google's order, which makes
the output identical from run to run (Google's own script, under protobuf's
default upb backend, orders the features differently in every process).

Without numba the kernels run as the plain Python they are written in: the
same files, about 75x slower.

For continued (domain) pretraining, beyond Google's defaults: documents one
per line or JSON object (--input_format, cut into sentences by
sentence_split.py), whole documents held out into --eval_output_file,
masked-LM-only records packed from one document
(--next_sentence_prediction=False) and unmasked records written once for
masks drawn at training time (--masking=dynamic, dynamic_masking.py).
"""

import collections
import concurrent.futures
import glob
import hashlib
import json
import os
import random
import sys
import time

from absl import flags
from absl import logging
import numpy as np

import io_lib
import pretraining_data_kernels as kernels
import sentence_split
import tf_example
import tokenization
import validation

FLAGS = flags.FLAGS

flags.DEFINE_string("input_file", None,
                    "Input raw text file (or comma-separated list of files).")

flags.DEFINE_string(
    "output_file", None,
    "Output TF example file (or comma-separated list of files).")

flags.DEFINE_string("vocab_file", None,
                    "The vocabulary file that the BERT model was trained on.")

flags.DEFINE_bool(
    "do_lower_case", True,
    "Whether to lower case the input text. Should be True for uncased "
    "models and False for cased models.")

flags.DEFINE_bool(
    "do_whole_word_mask", False,
    "Whether to use whole word masking rather than per-WordPiece masking.")

flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")

flags.DEFINE_integer("max_predictions_per_seq", 20,
                     "Maximum number of masked LM predictions per sequence.")

flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")

flags.DEFINE_integer(
    "dupe_factor", 10,
    "Number of times to duplicate the input data (with different masks).")

flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")

flags.DEFINE_float(
    "short_seq_prob", 0.1,
    "Probability of creating sequences which are shorter than the "
    "maximum length.")

flags.DEFINE_integer(
    "num_workers", None,
    "Processes that tokenize the input, and threads that encode the records "
    "(default: all cores). The output does not depend on it.")

flags.DEFINE_enum(
    "input_format", "sentences", ["sentences", "lines", "jsonl"],
    "sentences: Google's, one sentence per line, a blank line between "
    "documents. lines: one document (or paragraph) per line, split into "
    "sentences by sentence_split.py. jsonl: one JSON object per line, the "
    "document's text under --text_key, split likewise.")

flags.DEFINE_string("text_key", "text",
                    "With --input_format=jsonl: the key of the text.")

flags.DEFINE_string(
    "eval_output_file", None,
    "Output file(s) of held-out documents (comma-separated like "
    "--output_file), written with the same flags; whole documents, chosen "
    "from --random_seed, none of them in --output_file.")

flags.DEFINE_float(
    "eval_fraction", None,
    "Share of the documents held out for --eval_output_file (default 0.01).")

flags.DEFINE_integer(
    "eval_documents", None,
    "Number of documents held out for --eval_output_file (instead of "
    "--eval_fraction).")

flags.DEFINE_bool(
    "next_sentence_prediction", True,
    "False: masked-LM-only records, each [CLS] A [SEP] with A contiguous "
    "sentences of one document up to max_seq_length, segment ids 0, no "
    "next_sentence_labels.")

flags.DEFINE_enum(
    "masking", "static", ["static", "dynamic"],
    "static: Google's, masks drawn here, dupe_factor copies. dynamic: each "
    "sequence written once, unmasked (no masked_lm_* features); the "
    "training input pipeline draws the masks (dynamic_masking.py).")

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids",
                 "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                 "next_sentence_labels")
# The float_list feature of the records (BERT's and ALBERT's); the others are
# int64_lists.
FLOAT_FEATURE = "masked_lm_weights"

# Text read per tokenize_batch call: large enough to keep the workers busy,
# small enough to bound the memory of the lines in flight.
_READ_BLOCK_BYTES = 4 << 20
# Documents handed to the instance kernel per call (between progress lines).
_DOCUMENT_BLOCK = 4096
# Records encoded and written per batch.
_WRITE_BATCH = 4096


class TrainingInstance(object):
  """A single training instance (sentence pair), as Google's."""

  def __init__(self, tokens, segment_ids, masked_lm_positions, masked_lm_labels,
               is_random_next):
    self.tokens = tokens
    self.segment_ids = segment_ids
    self.is_random_next = is_random_next
    self.masked_lm_positions = masked_lm_positions
    self.masked_lm_labels = masked_lm_labels

  def __str__(self):
    s = ""
    s += "tokens: %s\n" % (" ".join(
        [tokenization.printable_text(x) for x in self.tokens]))
    s += "segment_ids: %s\n" % (" ".join([str(x) for x in self.segment_ids]))
    s += "is_random_next: %s\n" % self.is_random_next
    s += "masked_lm_positions: %s\n" % (" ".join(
        [str(x) for x in self.masked_lm_positions]))
    s += "masked_lm_labels: %s\n" % (" ".join(
        [tokenization.printable_text(x) for x in self.masked_lm_labels]))
    s += "\n"
    return s

  def __repr__(self):
    return self.__str__()



class Vocabulary(object):
  """What masking and writing need from the vocabulary, as ids."""

  def __init__(self, vocab, source, random_words=None):
    """Builds the id tables.

    Args:
      vocab: mapping token -> id (tokenization.load_vocab's).
      source: where the vocabulary comes from (for messages).
      random_words: the tokens Google draws random replacements from
        (default: list(vocab.keys()), as Google's vocab_words).

    Raises:
      ValueError: [CLS], [SEP] or [MASK] is not in the vocabulary.
    """
    for token in ("[CLS]", "[SEP]", "[MASK]"):
      if token not in vocab:
        raise ValueError("Vocab file %s has no %s token, which every "
                         "instance needs" % (source, token))
    self.vocab = vocab
    self.cls_id = vocab["[CLS]"]
    self.sep_id = vocab["[SEP]"]
    self.mask_id = vocab["[MASK]"]
    # Google draws a replacement as vocab_words[randint(0, len(vocab) - 1)]
    # with vocab_words = list(vocab.keys()); with a token listed twice the
    # keys are fewer than the lines and the k-th key's id is its last line.
    if random_words is None:
      random_words = vocab.keys()
    self.random_word_ids = np.array([vocab[w] for w in random_words],
                                    dtype=np.int64)
    self.size = max(vocab.values()) + 1
    self.inv_vocab = {v: k for k, v in vocab.items()}
    self.is_subword = np.zeros(self.size, dtype=bool)
    for token, index in vocab.items():
      self.is_subword[index] = token.startswith("##")

  def tokens(self, ids):
    """Maps ids to token strings."""
    return [self.inv_vocab[int(i)] for i in ids]


class Corpus(object):
  """All sentences as token ids in one array, grouped into documents.

  Attributes:
    token_ids: 1-D uint16 or int32 array, the sentences one after the other.
    sentence_starts: int64 [sentences + 1], sentence s is
      token_ids[starts[s]:starts[s + 1]].
    document_starts: int64 [documents + 1], document d is sentences
      document_starts[d] .. document_starts[d + 1] - 1 (never empty).
  """

  def __init__(self, token_ids, sentence_starts, document_starts):
    self.token_ids = token_ids
    self.sentence_starts = sentence_starts
    self.document_starts = document_starts

  @property
  def num_documents(self):
    return len(self.document_starts) - 1


class _Progress(object):
  """Progress lines on stderr, at most every few seconds, with an ETA."""

  every_seconds = 5.0

  def __init__(self, enabled):
    self._enabled = enabled
    self._start = time.time()
    self._last = 0.0

  def update(self, message, done=None, total=None):
    """Reports `message`, with percent and ETA when done/total are given.

    Args:
      message: str.
      done: units finished.
      total: units in all.
    """
    now = time.time()
    if not self._enabled or now - self._last < self.every_seconds:
      return
    self._last = now
    if done and total:
      eta = (now - self._start) * (total - done) / done
      message += " (%.1f%%, ETA %.0f s)" % (100.0 * done / total, eta)
    sys.stderr.write("[create_pretraining_data %.0f s] %s\n" %
                     (now - self._start, message))
    sys.stderr.flush()

  def restart(self):
    self._start = time.time()



def expand_input_files(input_file):
  """Google's input_file: a comma separated list, each element globbed.

  Args:
    input_file: the flag value.

  Returns:
    list of paths, in order.

  Raises:
    ValueError: an element matches no file.
  """
  input_files = []
  for pattern in input_file.split(","):
    matches = sorted(glob.glob(pattern))
    if not matches:
      raise ValueError("--input_file: %r matches no file" % pattern)
    input_files.extend(matches)
  return input_files


def logged_input_files(input_file):
  """expand_input_files, the paths logged as Google's main logs them."""
  input_files = expand_input_files(input_file)
  logging.info("*** Reading from input files ***")
  for path in input_files:
    logging.info("  %s", path)
  return input_files


def _decoded_lines(input_files, errors="strict"):
  """Yields (path, list of lines) blocks of the inputs.

  Lines are split as Google's tf.gfile readline splits them: every "\\r" is
  deleted, also inside a line, and lines end at "\\n" only. The text is
  decoded strictly, as Google's reader does.

  Args:
    input_files: list of paths.
    errors: "strict", or "ignore" to drop invalid UTF-8 bytes (ALBERT's
      --input_file_mode=rb).

  Raises:
    ValueError: a file is missing or is not UTF-8 (naming file and line).
  """
  for path in input_files:
    try:
      reader = open(path, "rb")
    except OSError as e:
      raise ValueError("Cannot read input file %s: %s" % (path, e)) from e
    with reader:
      line_number = 1
      rest = b""
      while True:
        block = reader.read(_READ_BLOCK_BYTES)
        if not block:
          data, rest = rest, b""
        else:
          data = rest + block
          cut = data.rfind(b"\n") + 1
          data, rest = data[:cut], data[cut:]
        data = data.replace(b"\r", b"")
        try:
          text = data.decode("utf-8", errors)
        except UnicodeDecodeError as e:
          line = line_number + data.count(b"\n", 0, e.start)
          column = e.start - data.rfind(b"\n", 0, e.start)
          raise ValueError(
              "Input file %s, line %d is not valid UTF-8 (byte %d of the "
              "line, after deleting \\r, is 0x%02x: %s)" % (
                  path, line, column, data[e.start], e.reason)) from e
        lines = text.split("\n")
        if lines[-1] == "":
          lines.pop()  # nothing after the last newline
        if lines:
          yield path, lines
        line_number += len(lines)
        if not block:
          break


def _numbered_blocks(input_files, decode_errors="strict"):
  """Yields (path, number of the block's first line, lines) of the inputs.

  Args:
    input_files: list of paths.
    decode_errors: see _decoded_lines.
  """
  for path in input_files:
    line_number = 1
    for _, lines in _decoded_lines([path], decode_errors):
      yield path, line_number, lines
      line_number += len(lines)


def _json_text(line, text_key, path, line_number):
  """The text under `text_key` of one JSON-lines line.

  Args:
    line: str, one JSON object.
    text_key: the key of the text.
    path: the file (for messages).
    line_number: the line (for messages).

  Returns:
    str.

  Raises:
    ValueError: naming the file and line.
  """
  try:
    record = json.loads(line)
  except ValueError as e:
    raise ValueError("Input file %s, line %d is not valid JSON (%s)" %
                     (path, line_number, e)) from e
  if not isinstance(record, dict) or text_key not in record:
    raise ValueError(
        "Input file %s, line %d has no %r key (--text_key); it holds %s" % (
            path, line_number, text_key,
            "the keys %s" % sorted(record)[:10] if isinstance(record, dict)
            else "a JSON %s" % type(record).__name__))
  text = record[text_key]
  if not isinstance(text, str):
    raise ValueError("Input file %s, line %d: %r is a JSON %s, not a string" %
                     (path, line_number, text_key, type(text).__name__))
  return text


def document_sentences(lines, document, input_format, path="", first_line=1,
                       text_key="text", prepare_line=None):
  """The sentences of a block of input lines, and their documents.

  Args:
    lines: list of str, a block of one input file.
    document: the index of the current document (Google's format: the one
      the first line continues).
    input_format: "sentences" (a blank line ends a document), "lines" (a
      line is a document) or "jsonl" (a line is a JSON document).
    path: the file (for messages).
    first_line: the number of the block's first line (for messages).
    text_key: the key of the text in a JSON line.
    prepare_line: function str -> str applied to each sentence instead of
      Google's str.strip() (ALBERT: preprocess_text); in Google's format an
      empty result ends the document.

  Returns:
    (sentences, their document indices, the document index after the
    block). Document indices only grow; documents without sentences are
    simply not there.

  Raises:
    ValueError: a JSON line is not an object with a string under text_key.
  """
  texts = []
  text_documents = []
  for offset, line in enumerate(lines):
    if input_format == "sentences":
      line = line.strip() if prepare_line is None else prepare_line(line)
      if line:
        texts.append(line)
        text_documents.append(document)
      else:
        document += 1
      continue
    if not line.strip():
      continue
    if input_format == "jsonl":
      sentences = sentence_split.split_sentences(
          _json_text(line, text_key, path, first_line + offset))
    else:
      sentences = sentence_split.split_line(line)
    if prepare_line is not None:
      sentences = [s for s in map(prepare_line, sentences) if s]
    texts.extend(sentences)
    text_documents.extend([document] * len(sentences))
    document += 1
  return texts, text_documents, document


def read_corpus(input_files, tokenizer, num_workers=None, progress=None,
                prepare_line=None, decode_errors="strict",
                input_format="sentences", text_key="text"):
  """Reads and tokenizes the input files into documents, as Google does.

  A line whose strip() is empty ends the current document; any other line is
  tokenized and, if it gives at least one token, appended to the current
  document. A file boundary is not a document boundary. Empty documents are
  dropped. With input_format "lines" or "jsonl", each line is a document
  instead, cut into sentences (see document_sentences).

  Args:
    input_files: list of paths.
    tokenizer: a tokenization.FullTokenizer.
    num_workers: tokenizing processes (None: all cores).
    progress: a _Progress or None.
    prepare_line: function str -> str applied to each line instead of
      Google's str.strip() (ALBERT: preprocess_text); an empty result ends
      the document.
    decode_errors: see _decoded_lines.
    input_format: "sentences", "lines" or "jsonl".
    text_key: the key of the text in JSON lines.

  Returns:
    a Corpus.
  """
  vocab = tokenizer.vocab
  id_dtype = np.uint16 if max(vocab.values()) < 1 << 16 else np.int32
  id_chunks = []
  length_chunks = []
  document_chunks = []
  document = 0
  bytes_read = 0
  total_bytes = sum(os.path.getsize(p) for p in input_files
                    if os.path.exists(p))
  for path, first_line, lines in _numbered_blocks(input_files,
                                                   decode_errors):
    texts, text_documents, document = document_sentences(
        lines, document, input_format, path, first_line, text_key,
        prepare_line)
    try:
      ids, lengths = tokenizer.tokenize_batch_ids(texts,
                                                  num_workers=num_workers)
    except KeyError as e:
      raise ValueError("%s: the tokenizer gave %s, which is not in the "
                       "vocabulary" % (path, e)) from e
    id_chunks.append(ids.astype(id_dtype))
    kept = lengths > 0  # a line without tokens does not end the document
    length_chunks.append(lengths[kept])
    document_chunks.append(np.array(text_documents, np.int64)[kept])
    bytes_read += sum(len(t) for t in lines) + len(lines)
    if progress:
      progress.update("read %s: %d documents so far" % (path, document + 1),
                      bytes_read, total_bytes)
  token_ids = (np.concatenate(id_chunks) if id_chunks
               else np.zeros(0, id_dtype))
  lengths = np.concatenate(length_chunks or [np.zeros(0, np.int64)])
  documents = np.concatenate(document_chunks or [np.zeros(0, np.int64)])
  sentence_starts = np.concatenate([[0], np.cumsum(lengths)])
  document_starts = np.concatenate(
      [[0], np.flatnonzero(np.diff(documents)) + 1, [len(documents)]])
  if not len(documents):
    document_starts = document_starts[1:]
  return Corpus(token_ids, sentence_starts.astype(np.int64),
                document_starts.astype(np.int64))



def _mix64(values):
  """splitmix64's finalizer: a bijection of uint64 values (wrapping)."""
  with np.errstate(over="ignore"):
    values = (values ^ (values >> np.uint64(30))) * np.uint64(
        0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(
        0x94D049BB133111EB)
  return values ^ (values >> np.uint64(31))


def held_out_documents(num_documents, random_seed, eval_fraction=None,
                       eval_documents=None):
  """The documents held out for evaluation, chosen from the seed.

  Document d gets the key mix(mix(seed) + d) (mix: splitmix64's finalizer,
  a bijection, so no two keys are equal); the documents with the smallest
  keys are held out. The choice depends only on the seed and the number of
  documents (not on Python's or numpy's generators, and it leaves Google's
  draws untouched); two seeds give unrelated choices.

  Args:
    num_documents: documents of the input (in input order).
    random_seed: int.
    eval_fraction: share of the documents to hold out (rounded, at least
      one), or None.
    eval_documents: number of documents to hold out, or None (then
      eval_fraction, default 0.01).

  Returns:
    int64 [k] the held-out document indices, sorted.

  Raises:
    ValueError: no document would be left for training.
  """
  if eval_documents is None:
    fraction = 0.01 if eval_fraction is None else eval_fraction
    count = max(1, int(round(fraction * num_documents)))
    if count >= num_documents:
      raise ValueError(
          "--eval_fraction=%r holds out %d of the %d documents of the input, "
          "which leaves none for training" % (fraction, count, num_documents))
  else:
    count = eval_documents
    if count >= num_documents:
      raise ValueError(
          "--eval_documents=%d must be less than the %d documents of the "
          "input (at least one must stay for training)" % (count,
                                                           num_documents))
  base = _mix64(np.array([random_seed % (1 << 64)], np.uint64))[0]
  with np.errstate(over="ignore"):
    keys = _mix64(np.arange(num_documents, dtype=np.uint64) + base)
  return np.sort(np.argpartition(keys, count - 1)[:count]).astype(np.int64)


def select_documents(corpus, keep):
  """A Corpus of some of the documents of `corpus`, in the same order.

  Args:
    corpus: a Corpus.
    keep: bool [documents].

  Returns:
    a Corpus (its own copy of the kept tokens).
  """
  sentences_per_document = np.diff(corpus.document_starts)
  sentence_lengths = np.diff(corpus.sentence_starts)
  kept_sentences = np.repeat(keep, sentences_per_document)
  token_ids = corpus.token_ids[np.repeat(kept_sentences, sentence_lengths)]
  sentence_starts = np.concatenate(
      [[0], np.cumsum(sentence_lengths[kept_sentences])])
  document_starts = np.concatenate(
      [[0], np.cumsum(sentences_per_document[keep])])
  return Corpus(token_ids, sentence_starts.astype(np.int64),
                document_starts.astype(np.int64))


def num_to_predict_table(max_seq_length, max_predictions_per_seq,
                         masked_lm_prob):
  """Google's number of masked positions for each instance length.

  Args:
    max_seq_length: int.
    max_predictions_per_seq: int.
    masked_lm_prob: float.

  Returns:
    int64 [max_seq_length + 1]: entry L is min(max_predictions_per_seq,
    max(1, int(round(L * masked_lm_prob)))), Python's round (half to even).
  """
  return np.array([min(max_predictions_per_seq,
                       max(1, int(round(length * masked_lm_prob))))
                   for length in range(max_seq_length + 1)], dtype=np.int64)


def instance_buffers(capacity, width, max_seq_length, id_dtype):
  """Uninitialized rows, positions and ids for `capacity` instances.

  Args:
    capacity: most instances the kernel may write.
    width: columns of positions and ids (most predictions).
    max_seq_length: int (positions are int16 below 2**15, to keep them
      small).
    id_dtype: the corpus' token id dtype.

  Returns:
    (rows int64 [capacity, 6], positions [capacity, width], ids [capacity,
    width]), see InstanceMaker.
  """
  position_dtype = np.int16 if max_seq_length < 1 << 15 else np.int32
  return (np.empty((capacity, 6), np.int64),
          np.empty((capacity, width), position_dtype),
          np.empty((capacity, width), id_dtype))


def first_instances(count, rows, positions, ids):
  """The `count` instances a kernel wrote, as copies (freeing the rest)."""
  return dict(rows=rows[:count].copy(), positions=positions[:count].copy(),
              ids=ids[:count].copy())


class InstanceMaker(object):
  """Google's create_instances_from_document and masking, on token ids.

  Instances are kept as three arrays: rows (int64 [n, 6]: a_start, a_len,
  b_start, b_len, is_random_next, num_masked; the instance is
  `[CLS] A [SEP] B [SEP]` with A and B runs of the corpus' token ids),
  positions and ids ([n, max_predictions_per_seq]: the sorted masked
  positions and the id written at each; see instance_buffers).
  """

  def __init__(self, corpus, vocabulary, max_seq_length, short_seq_prob,
               masked_lm_prob, max_predictions_per_seq, do_whole_word_mask,
               generator):
    """Keeps the settings.

    Args:
      corpus: a Corpus.
      vocabulary: a Vocabulary.
      max_seq_length: int.
      short_seq_prob: float.
      masked_lm_prob: float.
      max_predictions_per_seq: int.
      do_whole_word_mask: bool.
      generator: a kernels.MersenneTwister the draws come from.
    """
    self.corpus = corpus
    self.vocabulary = vocabulary
    self.max_num_tokens = max_seq_length - 3
    self.short_seq_prob = short_seq_prob
    self.max_predictions_per_seq = max_predictions_per_seq
    self.do_whole_word_mask = bool(do_whole_word_mask)
    self.generator = generator
    self.max_seq_length = max_seq_length
    self.num_to_predict = num_to_predict_table(
        max_seq_length, max_predictions_per_seq, masked_lm_prob)

  def make(self, order, first_document, end_document):
    """The instances of documents first..end-1 of Google's shuffled list.

    Args:
      order: int64 [documents] the shuffled list: its k-th document is corpus
        document order[k].
      first_document: int.
      end_document: int.

    Returns:
      dict with "rows", "positions" and "ids" (see the class).
    """
    document_starts = self.corpus.document_starts
    shuffled = order[first_document:end_document]
    # At most one instance per sentence.
    capacity = int((document_starts[shuffled + 1] -
                    document_starts[shuffled]).sum())
    rows, positions, ids = instance_buffers(
        capacity, self.max_predictions_per_seq, self.max_seq_length,
        self.corpus.token_ids.dtype)
    vocabulary = self.vocabulary
    count = kernels.document_instances(
        self.generator.mt, self.generator.pos, self.corpus.token_ids,
        self.corpus.sentence_starts, document_starts, order, first_document,
        end_document, self.max_num_tokens, self.short_seq_prob,
        self.num_to_predict, self.do_whole_word_mask, vocabulary.is_subword,
        vocabulary.random_word_ids, vocabulary.mask_id,
        np.empty(2 * self.max_num_tokens + 1, np.int64), rows, positions, ids)
    return first_instances(count, rows, positions, ids)

  def mask(self, a_start, a_len, b_start, b_len):
    """Masks one instance, see kernels.mask.

    Returns:
      (sorted masked positions, the id written at each), lists of int.
    """
    _, positions, ids = instance_buffers(1, self.max_predictions_per_seq,
                                         self.max_seq_length,
                                         self.corpus.token_ids.dtype)
    positions, ids = positions[0], ids[0]
    count = kernels.mask(
        self.generator.mt, self.generator.pos, self.corpus.token_ids, a_start,
        a_len, b_start, b_len, self.num_to_predict[a_len + b_len + 3],
        self.do_whole_word_mask, self.vocabulary.is_subword,
        self.vocabulary.random_word_ids, self.vocabulary.mask_id,
        np.empty(2 * (a_len + b_len) + 1, np.int64), positions, ids)
    return positions[:count].tolist(), ids[:count].tolist()


class PackedInstanceMaker(InstanceMaker):
  """Masked-LM-only instances `[CLS] A [SEP]`: kernels.packed_instances.

  A is packed with contiguous sentences of one document up to
  max_seq_length - 2 tokens (short_seq_prob does not apply: sequences are
  filled, as in masked-LM-only pretraining).
  """

  def __init__(self, corpus, vocabulary, max_seq_length, *args):
    """As InstanceMaker's, with room for one more token in A."""
    super().__init__(corpus, vocabulary, max_seq_length, *args)
    self.max_num_tokens = max_seq_length - 2

  def make(self, order, first_document, end_document):
    """The instances of documents first..end-1 of the shuffled list.

    Args:
      order: int64 [documents] the shuffled list.
      first_document: int.
      end_document: int.

    Returns:
      dict with "rows", "positions" and "ids" (see InstanceMaker).
    """
    corpus = self.corpus
    shuffled = order[first_document:end_document]
    tokens = (corpus.sentence_starts[corpus.document_starts[shuffled + 1]] -
              corpus.sentence_starts[corpus.document_starts[shuffled]])
    capacity = int((2 * tokens // (self.max_num_tokens + 1) + 1).sum())
    rows, positions, ids = instance_buffers(
        capacity, self.max_predictions_per_seq, self.max_seq_length,
        corpus.token_ids.dtype)
    vocabulary = self.vocabulary
    count = kernels.packed_instances(
        self.generator.mt, self.generator.pos, corpus.token_ids,
        corpus.sentence_starts, corpus.document_starts, order,
        first_document, end_document, self.max_num_tokens,
        self.num_to_predict, self.do_whole_word_mask, vocabulary.is_subword,
        vocabulary.random_word_ids, vocabulary.mask_id,
        np.empty(2 * self.max_num_tokens + 1, np.int64), rows, positions, ids)
    return first_instances(count, rows, positions, ids)


def make_instances(maker, dupe_factor, progress=None, seconds=None):
  """Google's create_training_instances after reading: every instance.

  Args:
    maker: what makes the instances of a run of documents of its corpus
      (an InstanceMaker, PackedInstanceMaker or ALBERT's
      NgramInstanceMaker), drawing from its generator (a
      kernels.MersenneTwister, advanced as Google's rng would be).
    dupe_factor: int.
    progress: a _Progress or None.
    seconds: a dict, or None; gets the time spent shuffling the final list.

  Returns:
    (dict of instance arrays in creation order (see InstanceMaker),
    permutation: int64 [n] the creation index of the instance written k-th).
  """
  generator = maker.generator
  num_documents = maker.corpus.num_documents
  order = np.arange(num_documents, dtype=np.int64)
  kernels.shuffle(generator.mt, generator.pos, order, num_documents)
  blocks = []
  count = 0
  for dupe in range(dupe_factor):
    for first in range(0, num_documents, _DOCUMENT_BLOCK):
      end = min(first + _DOCUMENT_BLOCK, num_documents)
      blocks.append(maker.make(order, first, end))
      count += len(blocks[-1]["rows"])
      if progress:
        progress.update("pass %d/%d, %d instances" % (
            dupe + 1, dupe_factor, count), dupe * num_documents + end,
                        dupe_factor * num_documents)
  arrays = {}
  for name in ("rows", "positions", "ids"):  # one at a time: less memory
    arrays[name] = np.concatenate([block.pop(name) for block in blocks])
  if count >= 1 << 32:
    raise ValueError("%d instances: more than the 2**32 - 1 this script "
                     "can shuffle; split the input" % count)
  tick = time.perf_counter()
  permutation = np.arange(count, dtype=np.int64)
  kernels.shuffle(generator.mt, generator.pos, permutation, count)
  if seconds is not None:
    seconds["final_shuffle"] = time.perf_counter() - tick
  return arrays, permutation


def empty_features(n, max_seq_length, max_predictions_per_seq,
                   feature_names=FEATURE_NAMES):
  """Zero-filled feature arrays of n records.

  Args:
    n: int.
    max_seq_length: int.
    max_predictions_per_seq: int.
    feature_names: the features (BERT's seven, or ALBERT's eight with
      token_boundary).

  Returns:
    OrderedDict name -> array in the order of `feature_names`: masked_lm_*
    [n, max_predictions_per_seq], next_sentence_labels [n, 1], the others
    (per token) [n, max_seq_length]; masked_lm_weights float32, the others
    int64.
  """
  features = collections.OrderedDict()
  for name in feature_names:
    width = max_seq_length
    if name.startswith("masked_lm_"):
      width = max_predictions_per_seq
    elif name == "next_sentence_labels":
      width = 1
    features[name] = np.zeros(
        (n, width), np.float32 if name == FLOAT_FEATURE else np.int64)
  return features


def record_features(next_sentence_prediction=True, masking="static"):
  """The features of each record, in the order they are written.

  Args:
    next_sentence_prediction: False for masked-LM-only records (no
      next_sentence_labels).
    masking: "static" (the masked_lm_* features) or "dynamic" (none: the
      training pipeline masks).

  Returns:
    tuple of names, a sub-sequence of FEATURE_NAMES.
  """
  names = ["input_ids", "input_mask", "segment_ids"]
  if masking == "static":
    names += ["masked_lm_positions", "masked_lm_ids", "masked_lm_weights"]
  if next_sentence_prediction:
    names.append("next_sentence_labels")
  return tuple(names)


class RecordEncoder(object):
  """tf.train.Example records of instances, serialized as Google's are.

  Google adds the seven features to an OrderedDict; protobuf's Python
  backend writes the map entries in that order, each int64_list/float_list
  packed. Equal records then have equal bytes (protobuf's default upb
  backend would order the entries differently in every process). Records
  of another layout (record_features; ALBERT's subclass) hold their features
  in their order, each encoded the same way.
  """

  def __init__(self, corpus, vocabulary, max_seq_length,
               max_predictions_per_seq, feature_names=FEATURE_NAMES):
    """Precomputes the map-entry header of every feature and payload size.

    Args:
      corpus: the Corpus the instances refer to (None: features only come
        from TrainingInstance objects).
      vocabulary: a Vocabulary.
      max_seq_length: int.
      max_predictions_per_seq: columns of the instances' masked positions
        (0 when nothing is masked).
      feature_names: the features written, in order (Google's seven, a
        sub-sequence of them from record_features, or ALBERT's eight).
    """
    self.corpus = corpus
    self.vocabulary = vocabulary
    self.seq = max_seq_length
    self.preds = max_predictions_per_seq
    self.feature_names = tuple(feature_names)
    self.crc_tables = kernels.crc32c_tables()
    # Varints of values below 2**35 take at most 5 bytes.
    headers, index = tf_example.feature_header_table(
        self.feature_names, (FLOAT_FEATURE,),
        5 * max(max_seq_length, max_predictions_per_seq))
    self.headers = np.frombuffer(headers, dtype=np.uint8)
    self.header_index = np.array(index, dtype=np.int64)

  def features(self, arrays, index):
    """The features of some instances.

    Args:
      arrays: instance arrays (see InstanceMaker).
      index: int [n] the rows to take, in this order.

    Returns:
      OrderedDict name -> [n, length] array of the written features, in
      their order (masked_lm_weights float32, the others int64).
    """
    every = empty_features(len(index), self.seq, self.preds)
    kernels.fill_features(arrays["rows"][index], arrays["positions"][index],
                          arrays["ids"][index], self.corpus.token_ids,
                          self.vocabulary.cls_id, self.vocabulary.sep_id,
                          *every.values())
    return collections.OrderedDict(
        (name, every[name]) for name in self.feature_names)

  def records(self, features):
    """Serialized, TFRecord-framed records of features.

    Args:
      features: mapping name -> [n, length] array holding at least the
        encoder's features (as `features` returns).

    Returns:
      bytes: the records one after the other.

    Raises:
      ValueError: a feature has a negative value.
    """
    ints = []
    float_slot = -1
    float_bytes = None
    # An upper bound of a framed record: framing and Example header, the
    # map-entry headers and the packed values.
    record_bound = 22 + int(self.header_index[:, :, 1].max()) * len(
        self.feature_names)
    for slot, name in enumerate(self.feature_names):
      if name == FLOAT_FEATURE:
        float_slot = slot
        float_bytes = np.ascontiguousarray(features[name],
                                           dtype="<f4").view(np.uint8)
        record_bound += float_bytes.shape[1]
        continue
      values = np.ascontiguousarray(features[name], dtype=np.int64)
      if values.size and values.min() < 0:
        raise ValueError("Feature %s has a negative value" % name)
      ints.append(values)
      record_bound += 5 * values.shape[1]
    n = len(ints[0])
    if float_bytes is None:
      float_bytes = np.zeros((n, 0), np.uint8)
    out = np.empty(n * record_bound, np.uint8)
    size = kernels.serialize_examples(tuple(ints), float_slot, float_bytes,
                                      self.headers, self.header_index,
                                      self.crc_tables, out)
    return out[:size].tobytes()


def _log_example(vocabulary, features, row):
  """Logs one record as Google does for its first 20 instances.

  Args:
    vocabulary: a Vocabulary.
    features: dict from RecordEncoder.features.
    row: the record's row in `features`.
  """
  length = int(features["input_mask"][row].sum())
  logging.info("*** Example ***")
  logging.info("tokens: %s", " ".join(
      vocabulary.tokens(features["input_ids"][row][:length])))
  for name, values in features.items():
    logging.info("%s: %s", name, " ".join(str(x) for x in values[row].tolist()))


def sidecar_path(output_file):
  """Path of the JSON file written next to `output_file`."""
  return output_file + ".json"


def vocab_sha256(vocab_file):
  """sha256 of the vocabulary file's bytes."""
  with open(vocab_file, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def _temporaries(output_files):
  """Dict path -> temporary path of every output and its sidecar.

  io_lib's unique names: the next run that locks an output removes those a
  killed run left.
  """
  paths = list(output_files) + [sidecar_path(p) for p in output_files]
  return {p: io_lib.temporary_name(p) for p in paths}


def _replace_with_sidecar(path, temporaries, with_sidecar):
  """Renames a finished output (and its sidecar) over the real names.

  The old sidecar goes first, so at no instant does a sidecar describe
  records it was not written with: a kill in between leaves records without
  a sidecar (read with the defaults), never new records beside an old one.

  Args:
    path: the output file.
    temporaries: dict final path -> temporary path.
    with_sidecar: whether a sidecar was written.
  """
  if with_sidecar and os.path.exists(sidecar_path(path)):
    os.remove(sidecar_path(path))
  os.replace(temporaries[path], path)
  if with_sidecar:
    os.replace(temporaries[sidecar_path(path)], sidecar_path(path))


def write_records(encode, order, output_files, settings=None, progress=None,
                  num_threads=1):
  """Writes the records to the output files, round-robin, atomically.

  Args:
    encode: function(int64 [n] rows) -> bytes of those rows' framed records,
      in that order.
    order: int64 [n] rows in output order; record k goes to output
      k % len(output_files), as in Google's loop.
    output_files: list of paths.
    settings: dict written into a JSON sidecar next to each output (with the
      file's num_instances added), or None for no sidecar.
    progress: a _Progress or None.
    num_threads: threads that call `encode` on parts of each batch (worth it
      when `encode` releases the GIL, as the kernels do).

  Returns:
    dict: CPU seconds spent in `encode` ("encode", summed over the threads)
    and wall seconds of the whole ("encode_and_write").
  """
  tick = time.perf_counter()
  encode_seconds = []

  def timed_encode(rows):
    start = time.thread_time()
    records = encode(rows)
    encode_seconds.append(time.thread_time() - start)
    return records

  num_outputs = len(output_files)
  total = len(order)
  writers = []
  temporaries = _temporaries(output_files)
  pool = concurrent.futures.ThreadPoolExecutor(num_threads)
  try:
    for path in output_files:
      writers.append(open(temporaries[path], "wb"))
    queued = []  # (output index, futures of its records), in output order
    for begin in range(0, total, _WRITE_BATCH):
      batch = order[begin:begin + _WRITE_BATCH]
      for j in range(num_outputs):
        chunk = batch[(j - begin) % num_outputs::num_outputs]
        queued.append((j, [pool.submit(timed_encode, part) for part in
                           np.array_split(chunk, num_threads) if len(part)]))
      # The previous batch is written while this one is encoded.
      while len(queued) > num_outputs:
        j, futures = queued.pop(0)
        writers[j].write(b"".join(f.result() for f in futures))
      if progress:
        done = begin + len(batch)
        progress.update("wrote %d of %d instances" % (done, total), done,
                        total)
    for j, futures in queued:
      writers[j].write(b"".join(f.result() for f in futures))
    for writer in writers:
      writer.close()
    if settings is not None:
      for j, path in enumerate(output_files):
        sidecar = dict(settings)
        sidecar["num_instances"] = len(range(j, total, num_outputs))
        with open(temporaries[sidecar_path(path)], "w") as f:
          json.dump(sidecar, f, indent=2, sort_keys=True)
          f.write("\n")
    for path in output_files:
      _replace_with_sidecar(path, temporaries, settings is not None)
  except OSError as e:  # disk full, permission denied: name the file
    raise validation.OutputError("Cannot write %s: %s" % (
        ", ".join(output_files), io_lib.error_reason(e))) from e
  finally:  # after an error, leave no partial file behind
    pool.shutdown(cancel_futures=True)
    for writer in writers:
      writer.close()
    for leftover in temporaries.values():
      if os.path.exists(leftover):
        os.remove(leftover)
  logging.info("Wrote %d total instances", total)
  return dict(encode=sum(encode_seconds),
              encode_and_write=time.perf_counter() - tick)


def check_settings(max_seq_length, max_predictions_per_seq, masked_lm_prob,
                   short_seq_prob, dupe_factor, masking_optional=False):
  """Raises ValueError naming the flag when a value cannot work.

  Args:
    max_seq_length: int.
    max_predictions_per_seq: int.
    masked_lm_prob: float.
    short_seq_prob: float.
    dupe_factor: int.
    masking_optional: masked_lm_prob may be 0 or 1 (ALBERT's script: 0
      masks nothing).
  """
  if max_seq_length < 5:
    raise ValueError(
        "--max_seq_length=%d is too small: an instance is [CLS] A [SEP] B "
        "[SEP] with at least one token in A and B, so it needs >= 5" %
        max_seq_length)
  if max_predictions_per_seq < 1:
    raise ValueError("--max_predictions_per_seq=%d must be >= 1" %
                     max_predictions_per_seq)
  if masking_optional and not 0.0 <= masked_lm_prob <= 1.0:
    raise ValueError("--masked_lm_prob=%r must be between 0 and 1" %
                     masked_lm_prob)
  if not masking_optional and not 0.0 < masked_lm_prob < 1.0:
    raise ValueError("--masked_lm_prob=%r must be strictly between 0 and 1" %
                     masked_lm_prob)
  if not 0.0 <= short_seq_prob <= 1.0:
    raise ValueError("--short_seq_prob=%r must be between 0 and 1" %
                     short_seq_prob)
  if dupe_factor < 1:
    raise ValueError("--dupe_factor=%d must be >= 1" % dupe_factor)


def check_domain_settings(input_format, masking, output_files,
                          eval_output_files, eval_fraction, eval_documents):
  """Raises ValueError naming the flag when a new flag's value cannot work.

  Args:
    input_format: "sentences", "lines" or "jsonl".
    masking: "static" or "dynamic".
    output_files: list of paths.
    eval_output_files: list of paths, or None.
    eval_fraction: float or None.
    eval_documents: int or None.
  """
  if input_format not in ("sentences", "lines", "jsonl"):
    raise ValueError("--input_format=%r must be sentences, lines or jsonl" %
                     input_format)
  if masking not in ("static", "dynamic"):
    raise ValueError("--masking=%r must be static or dynamic" % masking)
  if eval_fraction is not None and eval_documents is not None:
    raise ValueError("--eval_fraction and --eval_documents: give one or the "
                     "other, not both")
  if not eval_output_files:
    for name, value in (("eval_fraction", eval_fraction),
                        ("eval_documents", eval_documents)):
      if value is not None:
        raise ValueError("--%s=%r needs --eval_output_file" % (name, value))
    return
  if eval_fraction is not None and not 0.0 < eval_fraction < 1.0:
    raise ValueError("--eval_fraction=%r must be strictly between 0 and 1" %
                     eval_fraction)
  if eval_documents is not None and eval_documents < 1:
    raise ValueError("--eval_documents=%d must be >= 1" % eval_documents)
  both = set(map(os.path.abspath, output_files)) & set(
      map(os.path.abspath, eval_output_files))
  if both:
    raise ValueError("--eval_output_file: %s is also an --output_file" %
                     sorted(both)[0])


def check_outputs(output_files, num_workers):
  """Refuses missing output directories and a bad --num_workers.

  Args:
    output_files: list of paths (training and held-out).
    num_workers: int or None.
  """
  if num_workers is not None and num_workers < 1:
    raise ValueError("--num_workers=%d must be >= 1" % num_workers)
  for output_file in output_files:
    directory = os.path.dirname(os.path.abspath(output_file))
    if not os.path.isdir(directory):
      raise ValueError("--output_file: the directory of %s does not exist" %
                       output_file)
  if kernels.numba is None:
    logging.warning("numba is not installed: the instance and record kernels "
                    "run as plain Python, about 75x slower (slower than "
                    "Google's script). pip install numba")


def _read_input(input_files, vocab_file, do_lower_case, num_workers, reporter,
                input_format, text_key):
  """Reads the vocabulary and the corpus.

  Returns:
    (Vocabulary, Corpus).

  Raises:
    ValueError: the input holds no text that gives tokens.
  """
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                         do_lower_case=do_lower_case)
  vocabulary = Vocabulary(tokenizer.vocab, vocab_file)
  try:
    corpus = read_corpus(input_files, tokenizer, num_workers, reporter,
                         input_format=input_format, text_key=text_key)
  finally:
    tokenizer.close()  # the worker processes are not needed any more
  check_corpus(corpus, input_files)
  return vocabulary, corpus


def check_corpus(corpus, input_files):
  """Refuses a corpus without documents (naming the input files).

  Args:
    corpus: a Corpus.
    input_files: list of paths it was read from.

  Raises:
    ValueError: the input holds no text that gives tokens.
  """
  if corpus.num_documents == 0:
    raise ValueError("The input files (%s) hold no text that gives tokens" %
                     ", ".join(input_files))


def write_split(corpus, vocabulary, output_files, settings, reporter=None,
                log_examples=False, num_workers=None):
  """Makes the instances of a corpus and writes their records and sidecars.

  Args:
    corpus: a Corpus.
    vocabulary: a Vocabulary.
    output_files: list of paths.
    settings: the sidecar dict (max_seq_length, max_predictions_per_seq,
      do_whole_word_mask, random_seed, dupe_factor, masked_lm_prob,
      short_seq_prob, next_sentence_prediction, masking, ...).
    reporter: a _Progress or None.
    log_examples: log the first 20 instances as Google does.
    num_workers: encoding threads (None: all cores).

  Returns:
    (number of records, OrderedDict of seconds by stage).
  """
  static = settings["masking"] == "static"
  max_predictions = settings["max_predictions_per_seq"] if static else 0
  packed = not settings["next_sentence_prediction"]
  generator = kernels.MersenneTwister(random.Random(settings["random_seed"]))
  maker = (PackedInstanceMaker if packed else InstanceMaker)(
      corpus, vocabulary, settings["max_seq_length"],
      settings["short_seq_prob"], settings["masked_lm_prob"],
      max_predictions, settings["do_whole_word_mask"], generator)
  encoder = RecordEncoder(corpus, vocabulary, settings["max_seq_length"],
                          max_predictions,
                          record_features(not packed, settings["masking"]))
  return make_and_write(maker, encoder, settings["dupe_factor"], output_files,
                        settings, reporter, log_examples, num_workers)


def make_and_write(maker, encoder, dupe_factor, output_files, sidecar,
                   reporter=None, log_examples=False, num_workers=None,
                   log_count=False):
  """Makes every instance, then writes the records and their sidecars.

  What BERT's and ALBERT's scripts do after reading, each with its own
  instance maker and record encoder.

  Args:
    maker: the instance maker (see make_instances).
    encoder: a RecordEncoder (or ALBERT's) of the maker's instances.
    dupe_factor: int.
    output_files: list of paths.
    sidecar: the dict written next to each output (write_records).
    reporter: a _Progress or None.
    log_examples: log the first 20 instances as Google does.
    num_workers: encoding threads (None: all cores).
    log_count: log the number of instances first, as ALBERT's script does.

  Returns:
    (number of records, OrderedDict of seconds by stage).
  """
  seconds = collections.OrderedDict()
  tick = time.perf_counter()
  if reporter:
    reporter.restart()
  draw_seconds = collections.OrderedDict()
  arrays, permutation = make_instances(maker, dupe_factor, reporter,
                                       draw_seconds)
  seconds["draw_instances"] = time.perf_counter() - tick
  seconds.update(("  of which " + k, v) for k, v in draw_seconds.items())
  if log_count:
    logging.info("number of instances: %i", len(permutation))
  logging.info("*** Writing to output files ***")
  for output_file in output_files:
    logging.info("  %s", output_file)
  if log_examples and len(permutation):
    first = encoder.features(arrays, permutation[:20])
    for row in range(len(first["input_ids"])):
      _log_example(encoder.vocabulary, first, row)
  if reporter:
    reporter.restart()
  write_seconds = write_records(
      lambda index: encoder.records(encoder.features(arrays, index)),
      permutation, output_files, sidecar, reporter,
      num_threads=num_workers or tokenization._available_cores())  # pylint: disable=protected-access
  seconds["encode_and_write"] = write_seconds["encode_and_write"]
  seconds["  of which encoding (CPU s, all threads)"] = write_seconds["encode"]
  return len(permutation), seconds


def _held_out_splits(corpus, held_out, settings, output_files,
                     eval_output_files):
  """The training and held-out corpora, with their outputs and sidecars.

  Args:
    corpus: a Corpus.
    held_out: int64 [k] the held-out documents (held_out_documents).
    settings: the sidecar dict.
    output_files: list of paths.
    eval_output_files: list of paths.

  Returns:
    [(result key prefix, Corpus, output files, sidecar dict)] for the
    training and the held-out documents.
  """
  keep = np.zeros(corpus.num_documents, bool)
  keep[held_out] = True
  settings = dict(settings, held_out_documents=len(held_out))
  return [("", select_documents(corpus, ~keep), output_files,
           dict(settings, split="train")),
          ("eval_", select_documents(corpus, keep), eval_output_files,
           dict(settings, split="eval"))]


def run(input_files, output_files, vocab_file, do_lower_case=True,
        do_whole_word_mask=False, max_seq_length=128,
        max_predictions_per_seq=20, random_seed=12345, dupe_factor=10,
        masked_lm_prob=0.15, short_seq_prob=0.1, num_workers=None,
        log_examples=True, progress=True, input_format="sentences",
        text_key="text", eval_output_files=None, eval_fraction=None,
        eval_documents=None, next_sentence_prediction=True,
        masking="static"):
  """The whole script: read, make instances, write records and sidecars.

  Args:
    input_files: list of input paths (already expanded).
    output_files: list of output paths.
    vocab_file: vocabulary path.
    do_lower_case, do_whole_word_mask, max_seq_length,
    max_predictions_per_seq, random_seed, dupe_factor, masked_lm_prob,
    short_seq_prob: Google's flags (dupe_factor is 1 with dynamic masking).
    num_workers: tokenizing processes and encoding threads (None: all
      cores).
    log_examples: log the first 20 instances as Google does.
    progress: report progress on stderr.
    input_format, text_key, next_sentence_prediction, masking: the flags.
    eval_output_files: list of paths for held-out documents, or None.
    eval_fraction, eval_documents: how many documents to hold out.

  Returns:
    dict with num_instances, seconds (a breakdown by stage) and, with
    eval_output_files, eval_num_instances and held_out_documents (indices
    of the input's documents, in input order).

  Raises:
    ValueError: bad flags, unreadable or unusable input.
  """
  check_settings(max_seq_length, max_predictions_per_seq, masked_lm_prob,
                 short_seq_prob, dupe_factor)
  check_domain_settings(input_format, masking, output_files,
                        eval_output_files, eval_fraction, eval_documents)
  check_outputs(list(output_files) + list(eval_output_files or []),
                num_workers)
  reporter = _Progress(progress)
  tick = time.perf_counter()
  vocabulary, corpus = _read_input(input_files, vocab_file, do_lower_case,
                                   num_workers, reporter, input_format,
                                   text_key)
  seconds = collections.OrderedDict(
      read_and_tokenize=time.perf_counter() - tick)
  settings = dict(
      max_seq_length=max_seq_length,
      max_predictions_per_seq=max_predictions_per_seq,
      vocab_sha256=vocab_sha256(vocab_file), vocab_size=vocabulary.size,
      do_lower_case=bool(do_lower_case),
      do_whole_word_mask=bool(do_whole_word_mask), random_seed=random_seed,
      dupe_factor=dupe_factor if masking == "static" else 1,
      masked_lm_prob=masked_lm_prob, short_seq_prob=short_seq_prob,
      input_format=input_format,
      next_sentence_prediction=bool(next_sentence_prediction),
      masking=masking)
  if input_format == "jsonl":
    settings["text_key"] = text_key
  result = {}
  splits = [("", corpus, output_files, settings)]
  if eval_output_files:
    held_out = held_out_documents(corpus.num_documents, random_seed,
                                  eval_fraction, eval_documents)
    splits = _held_out_splits(corpus, held_out, settings, output_files,
                              eval_output_files)
    del corpus  # the two splits are copies
    result["held_out_documents"] = held_out
  for prefix, split_corpus, outputs, split_settings in splits:
    split_settings["documents"] = int(split_corpus.num_documents)
    count, split_seconds = write_split(
        split_corpus, vocabulary, outputs, split_settings, reporter,
        log_examples and not prefix, num_workers)
    result[prefix + "num_instances"] = count
    seconds.update((prefix + k, v) for k, v in split_seconds.items())
  result["seconds"] = seconds
  return result


# Google's functions, with Google's signatures, on top of the code above.


def _whole_word_mask_flag(do_whole_word_mask):
  """Google's functions read FLAGS.do_whole_word_mask; so do these."""
  if do_whole_word_mask is not None:
    return do_whole_word_mask
  return FLAGS.do_whole_word_mask if FLAGS.is_parsed() else False


def _training_instances(arrays, order, encoder):
  """TrainingInstance objects of instance arrays, rows taken in `order`."""
  vocabulary = encoder.vocabulary
  instances = []
  for begin in range(0, len(order), _WRITE_BATCH):
    features = encoder.features(arrays, order[begin:begin + _WRITE_BATCH])
    for row in range(len(features["input_ids"])):
      length = int(features["input_mask"][row].sum())
      num_masked = int(features["masked_lm_weights"][row].sum())
      instances.append(TrainingInstance(
          tokens=vocabulary.tokens(features["input_ids"][row][:length]),
          segment_ids=features["segment_ids"][row][:length].tolist(),
          masked_lm_positions=(
              features["masked_lm_positions"][row][:num_masked].tolist()),
          masked_lm_labels=vocabulary.tokens(
              features["masked_lm_ids"][row][:num_masked]),
          is_random_next=bool(features["next_sentence_labels"][row][0])))
  return instances


def _string_corpus(all_documents, vocab_words):
  """A Corpus and Vocabulary for documents given as lists of token strings.

  Ids are local: vocab_words first, then any other token met.

  Args:
    all_documents: list of documents, each a list of token lists.
    vocab_words: Google's list of replacement words.

  Returns:
    (Corpus, Vocabulary).
  """
  vocab = collections.OrderedDict()
  specials = ["[CLS]", "[SEP]", "[MASK]"]
  for token in list(vocab_words) + specials + [
      t for document in all_documents for sentence in document
      for t in sentence]:
    vocab.setdefault(token, len(vocab))
  ids = [vocab[t] for document in all_documents for sentence in document
         for t in sentence]
  sentence_starts = [0]
  document_starts = [0]
  for document in all_documents:
    for sentence in document:
      sentence_starts.append(sentence_starts[-1] + len(sentence))
    document_starts.append(document_starts[-1] + len(document))
  corpus = Corpus(np.array(ids, dtype=np.int32),
                  np.array(sentence_starts, dtype=np.int64),
                  np.array(document_starts, dtype=np.int64))
  return corpus, Vocabulary(vocab, "vocab_words", random_words=vocab_words)


def create_training_instances(input_files, tokenizer, max_seq_length,
                              dupe_factor, short_seq_prob, masked_lm_prob,
                              max_predictions_per_seq, rng,
                              do_whole_word_mask=None):
  """Create `TrainingInstance`s from raw text (Google's order and draws).

  Args:
    input_files: list of paths.
    tokenizer: a tokenization.FullTokenizer.
    max_seq_length: int.
    dupe_factor: int.
    short_seq_prob: float.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    rng: random.Random, left as Google's code leaves it.
    do_whole_word_mask: bool; None reads the flag, as Google does.

  Returns:
    list of TrainingInstance.
  """
  vocabulary = Vocabulary(tokenizer.vocab, "of the tokenizer")
  corpus = read_corpus(input_files, tokenizer)
  generator = kernels.MersenneTwister(rng)
  maker = InstanceMaker(corpus, vocabulary, max_seq_length, short_seq_prob,
                        masked_lm_prob, max_predictions_per_seq,
                        _whole_word_mask_flag(do_whole_word_mask), generator)
  arrays, permutation = make_instances(maker, dupe_factor)
  generator.sync(rng)
  encoder = RecordEncoder(corpus, vocabulary, max_seq_length,
                          max_predictions_per_seq)
  return _training_instances(arrays, permutation, encoder)


def create_instances_from_document(
    all_documents, document_index, max_seq_length, short_seq_prob,
    masked_lm_prob, max_predictions_per_seq, vocab_words, rng,
    do_whole_word_mask=None):
  """Creates `TrainingInstance`s for a single document (Google's draws).

  Args:
    all_documents: list of documents, each a list of token lists.
    document_index: the document.
    max_seq_length: int.
    short_seq_prob: float.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    vocab_words: replacement words, list(vocab.keys()) in Google's code.
    rng: random.Random, left as Google's code leaves it.
    do_whole_word_mask: bool; None reads the flag, as Google does.

  Returns:
    list of TrainingInstance.
  """
  corpus, vocabulary = _string_corpus(all_documents, vocab_words)
  generator = kernels.MersenneTwister(rng)
  maker = InstanceMaker(corpus, vocabulary, max_seq_length, short_seq_prob,
                        masked_lm_prob, max_predictions_per_seq,
                        _whole_word_mask_flag(do_whole_word_mask), generator)
  arrays = maker.make(np.arange(len(all_documents), dtype=np.int64),
                      document_index, document_index + 1)
  generator.sync(rng)
  encoder = RecordEncoder(corpus, vocabulary, max_seq_length,
                          max_predictions_per_seq)
  return _training_instances(arrays, np.arange(len(arrays["rows"])), encoder)


def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng,
                                 do_whole_word_mask=None):
  """Creates the predictions for the masked LM objective (Google's draws).

  Args:
    tokens: `[CLS] A [SEP] B [SEP]` as token strings (A, B non-empty).
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    vocab_words: replacement words, list(vocab.keys()) in Google's code.
    rng: random.Random, left as Google's code leaves it.
    do_whole_word_mask: bool; None reads the flag, as Google does.

  Returns:
    (output_tokens, masked_lm_positions, masked_lm_labels).

  Raises:
    ValueError: `tokens` is not [CLS] A [SEP] B [SEP].
  """
  separators = [i for i, t in enumerate(tokens) if t in ("[CLS]", "[SEP]")]
  if (len(separators) != 3 or tokens[0] != "[CLS]" or tokens[-1] != "[SEP]"
      or tokens[separators[1]] != "[SEP]" or
      not 1 < separators[1] < len(tokens) - 2):
    raise ValueError("tokens must be [CLS] A [SEP] B [SEP] with A and B "
                     "non-empty, got %r" % (tokens,))
  middle = separators[1]
  a_tokens, b_tokens = tokens[1:middle], tokens[middle + 1:-1]
  corpus, vocabulary = _string_corpus([[a_tokens, b_tokens]], vocab_words)
  generator = kernels.MersenneTwister(rng)
  maker = InstanceMaker(corpus, vocabulary, len(tokens), 0.0, masked_lm_prob,
                        max_predictions_per_seq,
                        _whole_word_mask_flag(do_whole_word_mask), generator)
  positions, ids = maker.mask(0, len(a_tokens), len(a_tokens), len(b_tokens))
  generator.sync(rng)
  output_tokens = list(tokens)
  for position, new_id in zip(positions, ids):
    output_tokens[position] = vocabulary.inv_vocab[new_id]
  return output_tokens, positions, [tokens[p] for p in positions]


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """Truncates a pair of sequences to a maximum sequence length (Google's).

  Args:
    tokens_a: list, changed in place.
    tokens_b: list, changed in place.
    max_num_tokens: int.
    rng: random.Random.
  """
  while len(tokens_a) + len(tokens_b) > max_num_tokens:
    trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
    # Sometimes the front, sometimes the back, to avoid biases.
    if rng.random() < 0.5:
      del trunc_tokens[0]
    else:
      trunc_tokens.pop()


def _instance_features(instances, vocab, max_seq_length,
                       max_predictions_per_seq):
  """Feature arrays of TrainingInstance objects (Google's padding).

  Args:
    instances: list of TrainingInstance.
    vocab: mapping token -> id.
    max_seq_length: int.
    max_predictions_per_seq: int.

  Returns:
    dict as RecordEncoder.features returns.

  Raises:
    ValueError: an instance is longer than the limits.
  """
  features = empty_features(len(instances), max_seq_length,
                            max_predictions_per_seq)
  for row, instance in enumerate(instances):
    length = len(instance.tokens)
    num_masked = len(instance.masked_lm_positions)
    if length > max_seq_length or num_masked > max_predictions_per_seq:
      raise ValueError("Instance %d has %d tokens and %d predictions; the "
                       "limits are %d and %d" % (row, length, num_masked,
                                                 max_seq_length,
                                                 max_predictions_per_seq))
    features["input_ids"][row, :length] = [vocab[t] for t in instance.tokens]
    features["input_mask"][row, :length] = 1
    features["segment_ids"][row, :length] = instance.segment_ids
    features["masked_lm_positions"][row, :num_masked] = (
        instance.masked_lm_positions)
    features["masked_lm_ids"][row, :num_masked] = [
        vocab[t] for t in instance.masked_lm_labels]
    features["masked_lm_weights"][row, :num_masked] = 1.0
    features["next_sentence_labels"][row, 0] = int(instance.is_random_next)
  return features




def write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                    max_predictions_per_seq, output_files):
  """Create TF example files from `TrainingInstance`s (Google's bytes).

  Args:
    instances: list of TrainingInstance.
    tokenizer: a tokenization.FullTokenizer.
    max_seq_length: int.
    max_predictions_per_seq: int.
    output_files: list of paths, written round-robin.
  """
  vocabulary = Vocabulary(tokenizer.vocab, "of the tokenizer")
  encoder = RecordEncoder(None, vocabulary, max_seq_length,
                          max_predictions_per_seq)
  first = _instance_features(instances[:20], tokenizer.vocab, max_seq_length,
                             max_predictions_per_seq)
  for row in range(len(first["input_ids"])):
    _log_example(vocabulary, first, row)
  write_records(
      lambda index: encoder.records(_instance_features(
          [instances[i] for i in index], tokenizer.vocab, max_seq_length,
          max_predictions_per_seq)),
      np.arange(len(instances)), output_files)


def main(_):
  logging.set_verbosity(logging.INFO)
  try:
    input_files = logged_input_files(FLAGS.input_file)
    if (FLAGS.masking == "dynamic" and FLAGS["dupe_factor"].present and
        FLAGS.dupe_factor != 1):
      raise ValueError(
          "--dupe_factor=%d does nothing with --masking=dynamic: each "
          "sequence is written once and masked anew at training time" %
          FLAGS.dupe_factor)
    run(input_files, FLAGS.output_file.split(","), FLAGS.vocab_file,
        do_lower_case=FLAGS.do_lower_case,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        random_seed=FLAGS.random_seed, dupe_factor=FLAGS.dupe_factor,
        masked_lm_prob=FLAGS.masked_lm_prob,
        short_seq_prob=FLAGS.short_seq_prob, num_workers=FLAGS.num_workers,
        input_format=FLAGS.input_format, text_key=FLAGS.text_key,
        eval_output_files=(FLAGS.eval_output_file.split(",")
                           if FLAGS.eval_output_file else None),
        eval_fraction=FLAGS.eval_fraction,
        eval_documents=FLAGS.eval_documents,
        next_sentence_prediction=FLAGS.next_sentence_prediction,
        masking=FLAGS.masking)
  except validation.UsageError:
    raise
  except ValueError as e:  # bad flags or input: the message says which
    raise validation.UsageError(str(e)) from e


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  flags.mark_flag_as_required("vocab_file")
  validation.run_main(main)
