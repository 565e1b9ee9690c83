# coding=utf-8
"""Create masked LM/next sentence masked_lm TF examples for BERT.

Writes the same TFRecord files as Google's create_pretraining_data.py, byte for
byte, for the same input, vocabulary and flags. It is faster and leaner:
tokenization runs on several processes, instances are kept as a few numpy
arrays of token ids (not lists of strings), and records are encoded and framed
in batches with numpy, so TensorFlow is not even imported.

Exactness rests on two things. First, every random choice is Google's: the
draws Python's `random.Random(random_seed)` would make (`random()`,
`randint()`, `shuffle()`), computed here from the same Mersenne Twister
output (see `WordStream`), in Google's order. Second, each tf.train.Example is
serialized by hand with the seven features in Google's order, which makes the
output identical from run to run (Google's own script, under protobuf's default
upb backend, orders the features differently in every process).
"""

import array
import collections
import glob
import hashlib
import json
import math
import multiprocessing
import os
import queue
import random
import sys
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np

import tf_example
import tokenization

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
    "Processes that tokenize the input and encode the records (default: all "
    "cores). The output does not depend on it.")

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids",
                 "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                 "next_sentence_labels")

# Text read per tokenize_batch call: large enough to keep the workers busy,
# small enough to bound the memory of the lines in flight.
_READ_BLOCK_BYTES = 4 << 20
# Instances moved from Python lists into numpy arrays (and handed to the
# encoding process) at a time.
_INSTANCE_BLOCK = 8192
# Records copied to the outputs per batch.
_WRITE_BATCH = 4096
# Words kept ahead of every instance; Python would need more only with a
# probability far below 2**-1000 (each draw is rejected with p < 1/2).
_WORD_MARGIN = 4096


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


class WordStream(object):
  """The draws of a `random.Random`, computed from its raw 32-bit words.

  CPython builds every draw Google uses from consecutive outputs of its
  Mersenne Twister: `random()` takes two words a, b and returns
  ((a >> 5) * 2**26 + (b >> 6)) / 2**53; `_randbelow(n)` takes the top
  n.bit_length() bits of one word and retries while the value is >= n;
  `randint(a, b)` is a + _randbelow(b - a + 1) and `shuffle` is Fisher-Yates
  with _randbelow(i + 1) for i = len - 1 .. 1. Fetching the words in bulk
  (from numpy's MT19937 set to the rng's state) and doing this arithmetic
  inline gives the same values without the per-call overhead.
  """

  def __init__(self, rng, block_words=1 << 16):
    """Wraps `rng`; call `sync()` before using `rng` directly again.

    Args:
      rng: a random.Random.
      block_words: words fetched at a time.
    """
    self._rng = rng
    self._block_words = block_words
    self._generator = np.random.MT19937()
    self._restart()
    self.fetch_seconds = 0.0  # time spent getting words from the generator

  def _restart(self):
    """Continues from the wrapped rng's current state."""
    self._start_state = self._rng.getstate()
    # numpy's MT19937 is the same generator (key and position as CPython's
    # state), and it hands out words faster than getrandbits.
    _, internal, _ = self._start_state
    self._generator.state = {
        "bit_generator": "MT19937",
        "state": {"key": np.array(internal[:-1], dtype=np.uint32),
                  "pos": internal[-1]}}
    self._consumed_before = 0
    self.words = []
    self.pos = 0

  def reserve(self, count):
    """Makes sure at least `count` unread words are buffered.

    Args:
      count: int.
    """
    if len(self.words) - self.pos >= count:
      return
    tick = time.perf_counter()
    fetch = max(self._block_words, count)
    self._consumed_before += self.pos
    self.words = (self.words[self.pos:] +
                  self._generator.random_raw(fetch).tolist())
    self.pos = 0
    self.fetch_seconds += time.perf_counter() - tick

  def consumed(self):
    """Number of words the draws so far have used."""
    return self._consumed_before + self.pos

  def sync(self):
    """Puts the wrapped rng where Python's own draws would have left it."""
    self._rng.setstate(self._start_state)
    remaining = self.consumed()
    while remaining:
      step = min(remaining, 1 << 20)
      self._rng.getrandbits(32 * step)
      remaining -= step
    self._restart()

  def random(self):
    """random.Random.random()."""
    self.reserve(2)
    words, p = self.words, self.pos
    self.pos = p + 2
    return ((words[p] >> 5) * 67108864.0 + (words[p + 1] >> 6)) * (
        1.0 / 9007199254740992.0)

  def randbelow(self, n):
    """random.Random._randbelow(n), n >= 1."""
    if n <= 0:
      raise ValueError("empty range for randrange()")
    k = n.bit_length()
    self.reserve(_WORD_MARGIN + (k + 31) // 32)
    words, p = self.words, self.pos
    if k <= 32:
      shift = 32 - k
      r = words[p] >> shift
      p += 1
      while r >= n:
        r = words[p] >> shift
        p += 1
    else:
      r = n
      while r >= n:  # getrandbits(k): full words, lowest first, last cut
        r = 0
        for i in range((k - 1) // 32 + 1):
          bits = min(32, k - 32 * i)
          r |= (words[p] >> (32 - bits)) << (32 * i)
          p += 1
    self.pos = p
    return r

  def randint(self, a, b):
    """random.Random.randint(a, b)."""
    return a + self.randbelow(b - a + 1)

  def shuffle(self, x):
    """random.Random.shuffle(x), in place.

    Args:
      x: a mutable sequence (list, array.array).
    """
    top = len(x)  # the bound of the next draw is top, then top - 1, ...
    while top >= 2:
      k = top.bit_length()
      if k > 32:
        j = self.randbelow(top)
        x[top - 1], x[j] = x[j], x[top - 1]
        top -= 1
        continue
      # Bounds with the same bit length use the same shift; a run of them is
      # done in one tight loop, in blocks so the buffer stays small.
      low = max(2, 1 << (k - 1), top - 65535)
      self.reserve(_WORD_MARGIN + 4 * (top - low + 1))
      words, p, shift = self.words, self.pos, 32 - k
      for i in range(top - 1, low - 2, -1):  # draw below i + 1, swap
        r = words[p] >> shift
        p += 1
        while r > i:
          r = words[p] >> shift
          p += 1
        x[i], x[r] = x[r], x[i]
      self.pos = p
      top = low - 1


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
    self.random_word_ids = [vocab[w] for w in random_words]
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
    token_ids: 1-D array, the sentences one after the other.
    sentence_starts: sequence of int, sentence s is
      token_ids[starts[s]:starts[s + 1]].
    document_starts: sequence of int, document d is sentences
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


def _decoded_lines(input_files):
  """Yields (path, list of lines) blocks of the inputs.

  Lines are split as Google's tf.gfile readline splits them: every "\\r" is
  deleted, also inside a line, and lines end at "\\n" only. The text is
  decoded strictly, as Google's reader does.

  Args:
    input_files: list of paths.

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
          text = data.decode("utf-8")
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


def read_corpus(input_files, tokenizer, num_workers=None, progress=None):
  """Reads and tokenizes the input files into documents, as Google does.

  A line whose strip() is empty ends the current document; any other line is
  tokenized and, if it gives at least one token, appended to the current
  document. A file boundary is not a document boundary. Empty documents are
  dropped.

  Args:
    input_files: list of paths.
    tokenizer: a tokenization.FullTokenizer.
    num_workers: tokenizing processes (None: all cores).
    progress: a _Progress or None.

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
  for path, lines in _decoded_lines(input_files):
    texts = []
    text_documents = []
    for line in lines:
      line = line.strip()
      if line:
        texts.append(line)
        text_documents.append(document)
      else:
        document += 1
    token_lists = tokenizer.tokenize_batch(texts, num_workers=num_workers)
    ids = []
    for tokens in token_lists:
      try:
        ids.extend(tokenizer.convert_tokens_to_ids(tokens))
      except KeyError as e:
        raise ValueError("%s: the tokenizer gave %s, which is not in the "
                         "vocabulary" % (path, e)) from e
    id_chunks.append(np.array(ids, dtype=id_dtype))
    lengths = np.array([len(tokens) for tokens in token_lists], np.int64)
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
  # array.array: compact, and its items are read fast from Python.
  return Corpus(token_ids, _int_array(sentence_starts),
                _int_array(document_starts))


def _int_array(values):
  """A numpy int array as array.array("q")."""
  result = array.array("q")
  result.frombytes(np.asarray(values, dtype=np.int64).tobytes())
  return result


class Instances(object):
  """Instances as flat arrays (one row per instance).

  An instance is `[CLS] A [SEP] B [SEP]` where A and B are contiguous runs
  of the corpus' token ids, plus its masked positions (in the order they were
  chosen) and what replaced each one (-1: the original token was kept).
  """

  # Column types: token offsets may pass 2**31, lengths may not.
  _COLUMNS = (("a_start", np.int64), ("a_len", np.int32),
              ("b_start", np.int64), ("b_len", np.int32),
              ("is_random_next", np.int8), ("num_masked", np.int32))

  def __init__(self, max_predictions_per_seq, on_flush=None):
    """Starts empty.

    Args:
      max_predictions_per_seq: int.
      on_flush: called with each new block of instance columns (a dict), in
        creation order, or None.
    """
    self.max_predictions = max_predictions_per_seq
    self._on_flush = on_flush
    self._rows = []  # one tuple of the _COLUMNS per instance
    self._positions = []
    self._replacements = []
    self._done = {name: [] for name, _ in self._COLUMNS}
    self._done["positions"] = []
    self._done["replacements"] = []
    self.count = 0

  def append(self, a_start, a_len, b_start, b_len, is_random_next, positions,
             replacements):
    """Adds one instance (the lists are padded here)."""
    pad = self.max_predictions - len(positions)
    self._rows.append((a_start, a_len, b_start, b_len, is_random_next,
                       len(positions)))
    self._positions += positions
    self._positions += [0] * pad
    self._replacements += replacements
    self._replacements += [-1] * pad
    self.count += 1
    if len(self._rows) >= _INSTANCE_BLOCK:
      self._flush()

  def _flush(self):
    """Moves the pending Python lists into numpy arrays (less memory)."""
    rows = np.array(self._rows, dtype=np.int64).reshape(-1, len(self._COLUMNS))
    for column, (name, dtype) in enumerate(self._COLUMNS):
      self._done[name].append(rows[:, column].astype(dtype))
    self._done["positions"].append(
        np.array(self._positions, dtype=np.int32).reshape(
            -1, self.max_predictions))
    self._done["replacements"].append(
        np.array(self._replacements, dtype=np.int32).reshape(
            -1, self.max_predictions))
    self._rows = []
    self._positions = []
    self._replacements = []
    if self._on_flush and len(rows):
      self._on_flush({name: parts[-1] for name, parts in self._done.items()})

  def arrays(self):
    """dict name -> array over all instances, in creation order."""
    self._flush()
    result = {}
    for name, parts in self._done.items():
      # One column at a time, so only one is ever held twice.
      result[name] = np.concatenate(parts)
      parts[:] = [result[name]]
    return result


class InstanceMaker(object):
  """Google's create_instances_from_document and masking, on token ids."""

  def __init__(self, corpus, order, vocabulary, max_seq_length,
               short_seq_prob, masked_lm_prob, max_predictions_per_seq,
               do_whole_word_mask, stream, on_flush=None):
    """Keeps the settings.

    Args:
      corpus: a Corpus (documents in file order).
      order: Google's shuffled document list: its k-th document is corpus
        document order[k].
      vocabulary: a Vocabulary.
      max_seq_length: int.
      short_seq_prob: float.
      masked_lm_prob: float.
      max_predictions_per_seq: int.
      do_whole_word_mask: bool.
      stream: a WordStream.
      on_flush: see Instances.
    """
    self.corpus = corpus
    self.order = order
    self.vocabulary = vocabulary
    self.max_num_tokens = max_seq_length - 3
    self.short_seq_prob = short_seq_prob
    self.masked_lm_prob = masked_lm_prob
    self.max_predictions_per_seq = max_predictions_per_seq
    self.do_whole_word_mask = do_whole_word_mask
    self.stream = stream
    self.instances = Instances(max_predictions_per_seq, on_flush)
    self.mask_seconds = 0.0
    self._identity = list(range(max_seq_length))

  def add_document(self, document_index):
    """Appends the instances of one document (Google's order of draws).

    Args:
      document_index: index into Google's shuffled document list.
    """
    stream = self.stream
    starts = self.corpus.sentence_starts
    document_starts = self.corpus.document_starts
    first = document_starts[self.order[document_index]]
    count = document_starts[self.order[document_index] + 1] - first
    max_num_tokens = self.max_num_tokens
    stream.reserve(_WORD_MARGIN)
    target_seq_length = max_num_tokens
    if stream.random() < self.short_seq_prob:
      target_seq_length = stream.randint(2, max_num_tokens)
    chunk_first = 0
    i = 0
    while i < count:
      current_length = starts[first + i + 1] - starts[first + chunk_first]
      if i == count - 1 or current_length >= target_seq_length:
        chunk_len = i - chunk_first + 1
        a_end = 1
        if chunk_len >= 2:
          a_end = stream.randint(1, chunk_len - 1)
        a_start = starts[first + chunk_first]
        a_len = starts[first + chunk_first + a_end] - a_start
        if chunk_len == 1 or stream.random() < 0.5:
          is_random_next = 1
          b_start, b_len = self._random_b(document_index,
                                          target_seq_length - a_len)
          i -= chunk_len - a_end  # "put back" the unused sentences
        else:
          is_random_next = 0
          b_start = a_start + a_len
          b_len = starts[first + i + 1] - b_start
        a_start, a_len, b_start, b_len = self._truncate(a_start, a_len,
                                                        b_start, b_len)
        tick = time.perf_counter()
        positions, replacements = self._mask(a_start, a_len, b_start, b_len)
        self.mask_seconds += time.perf_counter() - tick
        self.instances.append(a_start, a_len, b_start, b_len, is_random_next,
                              positions, replacements)
        chunk_first = i + 1
      i += 1

  def _random_b(self, document_index, target_b_length):
    """Sentences from a random other document, Google's way.

    Args:
      document_index: the current document.
      target_b_length: stop once B has at least this many tokens.

    Returns:
      (start, length) of B in the corpus' token ids.
    """
    stream = self.stream
    document_starts = self.corpus.document_starts
    starts = self.corpus.sentence_starts
    num_documents = len(document_starts) - 1
    for _ in range(10):
      random_document = stream.randint(0, num_documents - 1)
      if random_document != document_index:
        break
    first = document_starts[self.order[random_document]]
    last = document_starts[self.order[random_document] + 1]
    sentence = first + stream.randint(0, last - first - 1)
    b_start = starts[sentence]
    b_end = starts[sentence + 1]
    while b_end - b_start < target_b_length and sentence + 1 < last:
      sentence += 1
      b_end = starts[sentence + 1]
    return b_start, b_end - b_start

  def _truncate(self, a_start, a_len, b_start, b_len):
    """Google's truncate_seq_pair on (start, length) runs.

    Args:
      a_start: start of A.
      a_len: length of A.
      b_start: start of B.
      b_len: length of B.

    Returns:
      the truncated (a_start, a_len, b_start, b_len).
    """
    excess = a_len + b_len - self.max_num_tokens
    if excess <= 0:
      return a_start, a_len, b_start, b_len
    stream = self.stream
    stream.reserve(_WORD_MARGIN + 2 * excess)
    words, p = stream.words, stream.pos
    for _ in range(excess):
      # random() < 0.5 exactly when the first word's top bit is clear.
      front = words[p] < 0x80000000
      p += 2
      if a_len > b_len:
        a_len -= 1
        a_start += front
      else:
        b_len -= 1
        b_start += front
    stream.pos = p
    return a_start, a_len, b_start, b_len

  def _mask(self, a_start, a_len, b_start, b_len):
    """Google's create_masked_lm_predictions for `[CLS] A [SEP] B [SEP]`.

    Candidates are every position but [CLS] and the two [SEP]s; rank r of
    the candidates is position r + 1 in A and r + 2 in B.

    Args:
      a_start: start of A in the corpus' token ids.
      a_len: length of A.
      b_start: start of B.
      b_len: length of B.

    Returns:
      (positions, replacement ids or -1 to keep the token), in the order
      Google chose them.
    """
    stream = self.stream
    num_candidates = a_len + b_len
    num_to_predict = min(self.max_predictions_per_seq,
                         max(1, int(round((num_candidates + 3) *
                                          self.masked_lm_prob))))
    if self.do_whole_word_mask:
      groups = self._word_groups(a_start, a_len, b_start, b_len)
      order = list(range(len(groups) - 1))
      stream.shuffle(order)
      ranks = []
      for g in order:
        if len(ranks) >= num_to_predict:
          break
        size = groups[g + 1] - groups[g]
        if len(ranks) + size > num_to_predict:
          continue
        ranks.extend(range(groups[g], groups[g + 1]))
    else:
      order = self._identity[:num_candidates]
      stream.shuffle(order)
      ranks = order[:num_to_predict]
    positions = [r + 1 if r < a_len else r + 2 for r in ranks]
    return positions, self._replacements(len(ranks))

  def _word_groups(self, a_start, a_len, b_start, b_len):
    """Whole-word groups of candidate ranks, Google's way.

    A "##" piece joins the group before it; [CLS]/[SEP] are not candidates
    and do not close a group, so a "##" piece opening B joins A's last word.

    Returns:
      list of group boundaries: group g is ranks bounds[g] .. bounds[g+1]-1.
    """
    ids = self.corpus.token_ids
    pieces = np.concatenate([ids[a_start:a_start + a_len],
                             ids[b_start:b_start + b_len]])
    continues = self.vocabulary.is_subword[pieces]
    continues[0] = False
    bounds = np.flatnonzero(~continues).tolist()
    bounds.append(len(pieces))
    return bounds

  def _replacements(self, count):
    """Google's 80% [MASK] / 10% keep / 10% random word, `count` times.

    Returns:
      list of replacement ids, -1 meaning "keep the original token".
    """
    stream = self.stream
    vocabulary = self.vocabulary
    num_words = len(vocabulary.random_word_ids)
    mask_high, mask_bits, mask_low = _below(0.8)
    stream.reserve(_WORD_MARGIN + 8 * count)
    words, p = stream.words, stream.pos
    replacements = []
    for _ in range(count):
      w = words[p]
      if w < mask_high or (w >> 5 == mask_bits and
                           words[p + 1] >> 6 < mask_low):
        replacements.append(vocabulary.mask_id)
        p += 2
      elif words[p + 2] < 0x80000000:  # random() < 0.5
        replacements.append(-1)
        p += 4
      else:
        stream.pos = p + 4
        replacements.append(
            vocabulary.random_word_ids[stream.randbelow(num_words)])
        words, p = stream.words, stream.pos  # randbelow may refill
    stream.pos = p
    return replacements


def _below(probability):
  """How to test random() < probability on the two words a, b it uses.

  random() is ((a >> 5) * 2**26 + (b >> 6)) / 2**53, so it is below
  `probability` exactly when that integer is below ceil(probability * 2**53).
  Splitting the limit into its top 27 and low 26 bits, the test is
  a < high (decided by a alone, nearly always) or
  (a >> 5 == bits and (b >> 6) < low).

  Args:
    probability: float in [0, 1].

  Returns:
    (high, bits, low).
  """
  limit = math.ceil(probability * 9007199254740992.0)
  bits, low = limit >> 26, limit & ((1 << 26) - 1)
  return bits << 5, bits, low


def make_instances(corpus, vocabulary, max_seq_length, dupe_factor,
                   short_seq_prob, masked_lm_prob, max_predictions_per_seq,
                   do_whole_word_mask, stream, progress=None, on_flush=None,
                   seconds=None):
  """Google's create_training_instances after reading: every instance.

  Args:
    corpus: a Corpus in file order (shuffled here, as Google does).
    vocabulary: a Vocabulary.
    max_seq_length: int.
    dupe_factor: int.
    short_seq_prob: float.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    do_whole_word_mask: bool.
    stream: a WordStream.
    progress: a _Progress or None.
    on_flush: see Instances.
    seconds: a dict, or None; gets the time spent masking, fetching
      generator words and shuffling the final list of instances.

  Returns:
    (dict of instance arrays in creation order, permutation: the creation
    index of the instance written k-th).
  """
  order = list(range(corpus.num_documents))
  stream.shuffle(order)
  maker = InstanceMaker(corpus, order, vocabulary, max_seq_length,
                        short_seq_prob, masked_lm_prob,
                        max_predictions_per_seq, do_whole_word_mask, stream,
                        on_flush)
  num_documents = corpus.num_documents
  for dupe in range(dupe_factor):
    for document_index in range(num_documents):
      maker.add_document(document_index)
      if progress and document_index % 256 == 0:
        progress.update("pass %d/%d, %d instances" % (
            dupe + 1, dupe_factor, maker.instances.count),
                        dupe * num_documents + document_index + 1,
                        dupe_factor * num_documents)
  arrays = maker.instances.arrays()
  tick = time.perf_counter()
  permutation = _int_array(np.arange(maker.instances.count))  # 8 bytes each
  stream.shuffle(permutation)
  if seconds is not None:
    seconds["final_shuffle"] = time.perf_counter() - tick
    seconds["masking"] = maker.mask_seconds
    seconds["fetch_random_words"] = stream.fetch_seconds
  return arrays, np.frombuffer(permutation, dtype=np.int64)



def _varint_bytes(values):
  """Protobuf varints of non-negative ints, row by row.

  Args:
    values: [rows, n] array of ints in [0, 2**35).

  Returns:
    (flat uint8 array of every row's varints, one row after the other,
     [rows] array of the byte count of each row).
  """
  if values.size == 0 or values.max() < 0x80:  # one byte each
    return (values.astype(np.uint8).ravel(),
            np.full(len(values), values.shape[1], dtype=np.int64))
  values = values.astype(np.int64)
  flat = values.ravel()
  num_bytes = np.ones(flat.shape, dtype=np.int64)
  for j in range(1, 5):
    num_bytes += flat >= 1 << (7 * j)
  row_sizes = num_bytes.reshape(values.shape).sum(axis=1)
  ends = np.cumsum(num_bytes)
  starts = ends - num_bytes
  out = np.empty(int(ends[-1]), dtype=np.uint8)
  for j in range(int(num_bytes.max())):
    # Byte j of each value that has one: 7 bits, high bit if more follow.
    has = num_bytes > j
    byte = (flat[has] >> (7 * j)) & 0x7F
    out[starts[has] + j] = byte | ((num_bytes[has] > j + 1) << 7)
  return out, row_sizes


def _gather(source, offsets, lengths):
  """Concatenates, row by row, pieces of `source`.

  Args:
    source: 1-D uint8 array.
    offsets: [rows, pieces] start of each piece in `source`.
    lengths: [rows, pieces] length of each piece.

  Returns:
    (flat uint8 array: row 0's pieces in order, then row 1's, ...;
     [rows] array of each row's total length).
  """
  lengths = lengths.astype(np.int64)
  flat_lengths = lengths.ravel()
  out_starts = np.cumsum(flat_lengths) - flat_lengths
  index = np.repeat(offsets.ravel().astype(np.int64) - out_starts,
                    flat_lengths) + np.arange(flat_lengths.sum())
  return source[index], lengths.sum(axis=1)


class _Crc32c(object):
  """CRC-32C (Castagnoli) of many byte strings at once, with numpy.

  The CRC register run from zero is linear in the data, so the CRC of a
  string is the XOR of one table entry per byte, chosen by the byte's value
  and its distance from the end; the standard initial value and final XOR
  add a term that depends only on the length.
  """

  def __init__(self):
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
      table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78),
                       table >> 1).astype(np.uint32)
    self._table = table
    self._by_distance = table[None, :].copy()  # [distance, byte]
    self._ones = np.array([0xFFFFFFFF], dtype=np.uint32)  # by length

  def _zero_byte(self, register):
    return self._table[register & 0xFF] ^ (register >> 8)

  def _grow(self, length):
    while len(self._by_distance) < length:
      more = [self._by_distance[-1]]
      for _ in range(min(len(self._by_distance), 4096)):
        more.append(self._zero_byte(more[-1]))
      self._by_distance = np.concatenate([self._by_distance, more[1:]])
    while len(self._ones) <= length:
      more = [self._ones[-1:]]
      for _ in range(min(len(self._ones), 4096)):
        more.append(self._zero_byte(more[-1]))
      self._ones = np.concatenate([self._ones] + more[1:])

  def masked(self, data, lengths):
    """TFRecord's masked CRC-32C of each string.

    Args:
      data: flat uint8 array, the strings one after the other.
      lengths: [n] int array of string lengths (each >= 1).

    Returns:
      [n] uint32 array.
    """
    self._grow(int(lengths.max()) + 1)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    distance = np.repeat(ends - 1, lengths) - np.arange(len(data))
    terms = self._by_distance[distance, data]
    crc = np.bitwise_xor.reduceat(terms, starts) ^ self._ones[lengths]
    crc ^= np.uint32(0xFFFFFFFF)
    rotated = ((crc >> 15) | (crc << 17)).astype(np.uint64)
    return ((rotated + 0xA282EAD8) & 0xFFFFFFFF).astype(np.uint32)


class RecordEncoder(object):
  """tf.train.Example records of instances, serialized as Google's are.

  Google adds the seven features to an OrderedDict; protobuf's Python
  backend writes the map entries in that order, each int64_list/float_list
  packed. Equal records then have equal bytes (protobuf's default upb
  backend would order the entries differently in every process).
  """

  def __init__(self, corpus, vocabulary, max_seq_length,
               max_predictions_per_seq):
    """Precomputes the fixed parts of every record.

    Args:
      corpus: the Corpus the instances refer to.
      vocabulary: a Vocabulary.
      max_seq_length: int.
      max_predictions_per_seq: int.
    """
    self.corpus = corpus
    self.vocabulary = vocabulary
    self.seq = max_seq_length
    self.preds = max_predictions_per_seq
    self.crc = _Crc32c()
    # A header for every payload length a feature can have; headers[f][n]
    # is (offset, length) in self.header_bytes.
    sizes = {"input_ids": range(max_seq_length, 5 * max_seq_length + 1),
             "masked_lm_positions": range(max_predictions_per_seq,
                                          5 * max_predictions_per_seq + 1),
             "masked_lm_ids": range(max_predictions_per_seq,
                                    5 * max_predictions_per_seq + 1),
             "input_mask": [max_seq_length], "segment_ids": [max_seq_length],
             "masked_lm_weights": [4 * max_predictions_per_seq],
             "next_sentence_labels": [1]}
    chunks = []
    offset = 0
    self.headers = {}
    for name in FEATURE_NAMES:
      offsets = np.zeros((max(sizes[name]) + 1, 2), dtype=np.int64)
      for n in sizes[name]:
        header = tf_example.feature_header(name, n, name == "masked_lm_weights")
        offsets[n] = (offset, len(header))
        chunks.append(header)
        offset += len(header)
      self.headers[name] = offsets
    self.header_bytes = np.frombuffer(b"".join(chunks), dtype=np.uint8)

  def features(self, arrays):
    """The seven features of a batch of instances, as int arrays.

    Args:
      arrays: dict of instance columns (see Instances) for the batch.

    Returns:
      dict name -> [batch, length] array (masked_lm_weights float32).
    """
    seq = self.seq
    vocabulary = self.vocabulary
    a_len = arrays["a_len"][:, None]
    b_len = arrays["b_len"][:, None]
    col = np.arange(seq)[None, :]
    in_a = (col >= 1) & (col <= a_len)
    in_b = (col >= a_len + 2) & (col < a_len + b_len + 2)
    source = np.where(in_a, arrays["a_start"][:, None] + col - 1,
                      arrays["b_start"][:, None] + col - a_len - 2)
    source = np.where(in_a | in_b, source, 0)
    token_ids = self.corpus.token_ids
    input_ids = np.where(in_a | in_b, token_ids[source].astype(np.int64), 0)
    rows = np.arange(len(a_len))
    input_ids[:, 0] = vocabulary.cls_id
    input_ids[rows, a_len[:, 0] + 1] = vocabulary.sep_id
    input_ids[rows, a_len[:, 0] + b_len[:, 0] + 2] = vocabulary.sep_id
    length = a_len + b_len + 3
    input_mask = (col < length).astype(np.int64)
    segment_ids = ((col >= a_len + 2) & (col < length)).astype(np.int64)
    # Google sorts the masked positions; padding sorts last.
    valid = np.arange(self.preds)[None, :] < arrays["num_masked"][:, None]
    positions = np.where(valid, arrays["positions"], seq)
    order = np.argsort(positions, axis=1, kind="stable")
    positions = np.take_along_axis(positions, order, axis=1)
    replacements = np.take_along_axis(arrays["replacements"], order, axis=1)
    safe_positions = np.where(valid, positions, 0)
    labels = np.where(valid, np.take_along_axis(input_ids, safe_positions,
                                                axis=1), 0)
    replaced = valid & (replacements >= 0)
    input_ids[np.nonzero(replaced)[0], positions[replaced]] = (
        replacements[replaced])
    return collections.OrderedDict([
        ("input_ids", input_ids),
        ("input_mask", input_mask),
        ("segment_ids", segment_ids),
        ("masked_lm_positions", np.where(valid, positions, 0)),
        ("masked_lm_ids", labels),
        ("masked_lm_weights", valid.astype(np.float32)),
        ("next_sentence_labels", arrays["is_random_next"][:, None]),
    ])

  def examples(self, features):
    """Serialized tf.train.Example records of a batch.

    Args:
      features: dict from `features`.

    Returns:
      (flat uint8 array of the records one after the other, [batch] lengths).
    """
    sources = [self.header_bytes]
    base = len(self.header_bytes)
    offsets = []
    lengths = []
    for name in FEATURE_NAMES:
      values = features[name]
      if name == "masked_lm_weights":
        payload = values.astype("<f4").view(np.uint8).reshape(-1)
        sizes = np.full(len(values), values.shape[1] * 4, dtype=np.int64)
      else:
        payload, sizes = _varint_bytes(values)
      header = self.headers[name][sizes]
      offsets += [header[:, 0], base + np.cumsum(sizes) - sizes]
      lengths += [header[:, 1], sizes]
      sources.append(payload)
      base += len(payload)
    offsets = np.stack(offsets, axis=1)
    lengths = np.stack(lengths, axis=1)
    body = lengths.sum(axis=1)
    # Example = field 1 (features) = the map entries.
    prefix, prefix_sizes = _varint_bytes(body[:, None])
    sources.append(np.full(len(body), 0x0A, dtype=np.uint8))
    tag_offsets = base + np.arange(len(body))
    base += len(body)
    sources.append(prefix)
    prefix_offsets = base + np.cumsum(prefix_sizes) - prefix_sizes
    offsets = np.concatenate([tag_offsets[:, None], prefix_offsets[:, None],
                              offsets], axis=1)
    lengths = np.concatenate([np.ones((len(body), 1), np.int64),
                              prefix_sizes[:, None], lengths], axis=1)
    return _gather(np.concatenate(sources), offsets, lengths)

  def tfrecords(self, records, lengths):
    """TFRecord framing: length, masked CRC of it, data, masked CRC of data.

    Args:
      records: flat uint8 array of the serialized records.
      lengths: [n] their lengths.

    Returns:
      bytes of the n framed records.
    """
    n = len(lengths)
    length_bytes = lengths.astype("<u8").view(np.uint8).reshape(-1)
    length_crc = self.crc.masked(length_bytes, np.full(n, 8))
    data_crc = self.crc.masked(records, lengths)
    heads = np.concatenate([length_bytes.reshape(n, 8),
                            length_crc.astype("<u4").view(np.uint8).reshape(
                                n, 4)], axis=1).reshape(-1)
    tails = data_crc.astype("<u4").view(np.uint8)
    source = np.concatenate([heads, records, tails])
    record_starts = np.cumsum(lengths) - lengths
    offsets = np.stack([12 * np.arange(n), len(heads) + record_starts,
                        len(heads) + len(records) + 4 * np.arange(n)], axis=1)
    sizes = np.stack([np.full(n, 12), lengths, np.full(n, 4)], axis=1)
    framed, _ = _gather(source, offsets, sizes)
    return framed.tobytes()


def _take(arrays, index):
  """Rows `index` of every instance column."""
  return {name: values[index] for name, values in arrays.items()}


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


def _temporary_name(path):
  return "%s.tmp-%d" % (path, os.getpid())


def _stage_batch(encoder, item, out, seconds):
  """Encodes and frames one batch of records and appends them to `out`.

  Args:
    encoder: a RecordEncoder.
    item: ("instances", instance columns) or ("features", feature dict).
    out: a binary file.
    seconds: dict of time spent by stage, updated.

  Returns:
    [batch] array of the framed records' sizes.
  """
  kind, batch = item
  tick = time.perf_counter()
  features = encoder.features(batch) if kind == "instances" else batch
  seconds["features"] += time.perf_counter() - tick
  tick = time.perf_counter()
  records, lengths = encoder.examples(features)
  seconds["serialize"] += time.perf_counter() - tick
  tick = time.perf_counter()
  framed = encoder.tfrecords(records, lengths)
  seconds["frame"] += time.perf_counter() - tick
  out.write(framed)
  return lengths + 16  # TFRecord adds 8 + 4 + 4 bytes


def _staging_process(encoder, path, inbox, outbox):
  """The body of the staging process: batches from inbox until None."""
  try:
    seconds = collections.OrderedDict(
        (k, 0.0) for k in ("features", "serialize", "frame"))
    sizes = []
    with open(path, "wb") as out:
      for item in iter(inbox.get, None):
        sizes.append(_stage_batch(encoder, item, out, seconds))
    outbox.put(("done", (np.concatenate(sizes) if sizes else
                         np.zeros(0, np.int64)), seconds))
  except BaseException as e:  # pylint: disable=broad-except
    outbox.put(("error", "%s: %s" % (type(e).__name__, e), None))


class RecordStager(object):
  """Serialized, framed records in creation order, in a staging file.

  Records are encoded as instances are made, in a second process when
  `parallel` (it works while this one goes on drawing instances, which is
  sequential); the final writer then copies them in Google's shuffled order.
  """

  def __init__(self, encoder, path, parallel):
    """Opens the staging file (and starts the process).

    Args:
      encoder: a RecordEncoder.
      path: the staging file, removed by close().
      parallel: encode in a forked process.
    """
    self.path = path
    self._encoder = encoder
    self._process = None
    self._seconds = collections.OrderedDict(
        (k, 0.0) for k in ("features", "serialize", "frame"))
    self._sizes = []
    if parallel and "fork" in multiprocessing.get_all_start_methods():
      context = multiprocessing.get_context("fork")
      self._inbox = context.Queue(maxsize=8)
      self._outbox = context.Queue()
      # fork hands the encoder and the corpus over without copying them.
      self._process = context.Process(
          target=_staging_process,
          args=(encoder, path, self._inbox, self._outbox), daemon=True)
      self._process.start()
      self._out = None
    else:
      self._out = open(path, "wb")

  def _check_alive(self):
    if not self._process.is_alive():
      raise RuntimeError("The record encoding process died (exit code %s)" %
                         self._process.exitcode)

  def add(self, kind, batch):
    """Encodes a batch: kind "instances" (columns) or "features"."""
    if self._process is None:
      self._sizes.append(_stage_batch(self._encoder, (kind, batch),
                                      self._out, self._seconds))
      return
    while True:
      try:
        self._inbox.put((kind, batch), timeout=1.0)
        return
      except queue.Full:
        self._check_alive()

  def finish(self):
    """Waits for every record; returns ([n] framed sizes, seconds)."""
    if self._process is None:
      self._out.close()
      sizes = (np.concatenate(self._sizes) if self._sizes
               else np.zeros(0, np.int64))
      return sizes, self._seconds
    self._inbox.put(None)
    while True:
      try:
        status, sizes, seconds = self._outbox.get(timeout=1.0)
        break
      except queue.Empty:
        self._check_alive()
    self._process.join()
    if status == "error":
      raise RuntimeError("Encoding the records failed: %s" % sizes)
    return sizes, seconds

  def close(self):
    """Stops the process if still running and removes the staging file."""
    if self._process is not None and self._process.is_alive():
      self._process.terminate()
      self._process.join()
    if self._out is not None:
      self._out.close()
    if os.path.exists(self.path):
      os.remove(self.path)


def write_records(stager_path, sizes, order, output_files, settings=None,
                  progress=None):
  """Copies staged records to the output files, round-robin, atomically.

  Args:
    stager_path: the staging file (framed records in creation order).
    sizes: [n] framed size of each staged record.
    order: creation indices in output order; record k goes to output
      k % len(output_files), as in Google's loop.
    output_files: list of paths.
    settings: dict written into a JSON sidecar next to each output (with the
      file's num_instances added), or None for no sidecar.
    progress: a _Progress or None.

  Returns:
    seconds spent.
  """
  tick = time.perf_counter()
  offsets = (np.cumsum(sizes) - sizes).tolist()
  sizes = sizes.tolist()
  num_outputs = len(output_files)
  total = len(order)
  writers = []
  try:
    for path in output_files:
      writers.append(open(_temporary_name(path), "wb"))
    with open(stager_path, "rb") as staged:
      descriptor = staged.fileno()
      for begin in range(0, total, _WRITE_BATCH):
        batch = order[begin:begin + _WRITE_BATCH].tolist()
        for j in range(num_outputs):
          chunk = batch[(j - begin) % num_outputs::num_outputs]
          writers[j].write(b"".join([os.pread(descriptor, sizes[k], offsets[k])
                                     for k in chunk]))
        if progress:
          done = begin + len(batch)
          progress.update("wrote %d of %d instances" % (done, total), done,
                          total)
    for writer in writers:
      writer.close()
    if settings is not None:
      for j, path in enumerate(output_files):
        sidecar = dict(settings)
        sidecar["num_instances"] = len(range(j, total, num_outputs))
        with open(_temporary_name(sidecar_path(path)), "w") as f:
          json.dump(sidecar, f, indent=2, sort_keys=True)
          f.write("\n")
    for path in output_files:
      os.replace(_temporary_name(path), path)
      if settings is not None:
        os.replace(_temporary_name(sidecar_path(path)), sidecar_path(path))
  finally:  # after an error, leave no partial file behind
    for writer in writers:
      writer.close()
    for path in output_files:
      for leftover in (_temporary_name(path),
                       _temporary_name(sidecar_path(path))):
        if os.path.exists(leftover):
          os.remove(leftover)
  logging.info("Wrote %d total instances", total)
  return time.perf_counter() - tick


def check_settings(max_seq_length, max_predictions_per_seq, masked_lm_prob,
                   short_seq_prob, dupe_factor):
  """Raises ValueError naming the flag when a value cannot work.

  Args:
    max_seq_length: int.
    max_predictions_per_seq: int.
    masked_lm_prob: float.
    short_seq_prob: float.
    dupe_factor: int.
  """
  if max_seq_length < 5:
    raise ValueError(
        "--max_seq_length=%d is too small: an instance is [CLS] A [SEP] B "
        "[SEP] with at least one token in A and B, so it needs >= 5" %
        max_seq_length)
  if max_predictions_per_seq < 1:
    raise ValueError("--max_predictions_per_seq=%d must be >= 1" %
                     max_predictions_per_seq)
  if not 0.0 < masked_lm_prob < 1.0:
    raise ValueError("--masked_lm_prob=%r must be strictly between 0 and 1" %
                     masked_lm_prob)
  if not 0.0 <= short_seq_prob <= 1.0:
    raise ValueError("--short_seq_prob=%r must be between 0 and 1" %
                     short_seq_prob)
  if dupe_factor < 1:
    raise ValueError("--dupe_factor=%d must be >= 1" % dupe_factor)


def run(input_files, output_files, vocab_file, do_lower_case=True,
        do_whole_word_mask=False, max_seq_length=128,
        max_predictions_per_seq=20, random_seed=12345, dupe_factor=10,
        masked_lm_prob=0.15, short_seq_prob=0.1, num_workers=None,
        log_examples=True, progress=True):
  """The whole script: read, make instances, write records and sidecars.

  Args:
    input_files: list of input paths (already expanded).
    output_files: list of output paths.
    vocab_file: vocabulary path.
    do_lower_case: bool.
    do_whole_word_mask: bool.
    max_seq_length: int.
    max_predictions_per_seq: int.
    random_seed: int.
    dupe_factor: int.
    masked_lm_prob: float.
    short_seq_prob: float.
    num_workers: tokenizing processes (None: all cores).
    log_examples: log the first 20 instances as Google does.
    progress: report progress on stderr.

  Returns:
    dict with num_instances and seconds (a breakdown by stage).

  Raises:
    ValueError: bad flags, unreadable or unusable input.
  """
  check_settings(max_seq_length, max_predictions_per_seq, masked_lm_prob,
                 short_seq_prob, dupe_factor)
  if num_workers is not None and num_workers < 1:
    raise ValueError("--num_workers=%d must be >= 1" % num_workers)
  for output_file in output_files:
    directory = os.path.dirname(os.path.abspath(output_file))
    if not os.path.isdir(directory):
      raise ValueError("--output_file: the directory of %s does not exist" %
                       output_file)
  reporter = _Progress(progress)
  seconds = collections.OrderedDict()
  tick = time.perf_counter()
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                         do_lower_case=do_lower_case)
  vocabulary = Vocabulary(tokenizer.vocab, vocab_file)
  corpus = read_corpus(input_files, tokenizer, num_workers, reporter)
  if corpus.num_documents == 0:
    raise ValueError("The input files (%s) hold no text that gives tokens" %
                     ", ".join(input_files))
  seconds["read_and_tokenize"] = time.perf_counter() - tick
  tick = time.perf_counter()
  reporter.restart()
  if num_workers is None:
    num_workers = tokenization._available_cores()  # pylint: disable=protected-access
  encoder = RecordEncoder(corpus, vocabulary, max_seq_length,
                          max_predictions_per_seq)
  stager = RecordStager(encoder, _temporary_name(output_files[0]) +
                        ".records", parallel=num_workers > 1)
  draw_seconds = collections.OrderedDict()
  try:
    stream = WordStream(random.Random(random_seed))
    arrays, permutation = make_instances(
        corpus, vocabulary, max_seq_length, dupe_factor, short_seq_prob,
        masked_lm_prob, max_predictions_per_seq, do_whole_word_mask, stream,
        reporter, lambda block: stager.add("instances", block), draw_seconds)
    seconds["instances"] = time.perf_counter() - tick
    seconds.update(("  of which " + k, v) for k, v in draw_seconds.items())
    tick = time.perf_counter()
    sizes, stage_seconds = stager.finish()
    seconds["wait_for_encoding"] = time.perf_counter() - tick
    seconds.update(stage_seconds)
    settings = dict(
        max_seq_length=max_seq_length,
        max_predictions_per_seq=max_predictions_per_seq,
        vocab_sha256=vocab_sha256(vocab_file), vocab_size=vocabulary.size,
        do_lower_case=bool(do_lower_case),
        do_whole_word_mask=bool(do_whole_word_mask), random_seed=random_seed,
        dupe_factor=dupe_factor, masked_lm_prob=masked_lm_prob,
        short_seq_prob=short_seq_prob)
    logging.info("*** Writing to output files ***")
    for output_file in output_files:
      logging.info("  %s", output_file)
    if log_examples and len(permutation):
      first = encoder.features(_take(arrays, permutation[:20]))
      for row in range(len(first["input_ids"])):
        _log_example(vocabulary, first, row)
    reporter.restart()
    seconds["write"] = write_records(stager.path, sizes, permutation,
                                     output_files, settings, reporter)
  finally:
    stager.close()
  return dict(num_instances=len(permutation), seconds=seconds)


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
    features = encoder.features(_take(arrays, order[begin:begin +
                                                    _WRITE_BATCH]))
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
  corpus = Corpus(np.array(ids, dtype=np.int64), sentence_starts,
                  document_starts)
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
  stream = WordStream(rng)
  arrays, permutation = make_instances(
      corpus, vocabulary, max_seq_length, dupe_factor, short_seq_prob,
      masked_lm_prob, max_predictions_per_seq,
      _whole_word_mask_flag(do_whole_word_mask), stream)
  stream.sync()
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
  stream = WordStream(rng)
  maker = InstanceMaker(
      corpus, list(range(len(all_documents))), vocabulary, max_seq_length,
      short_seq_prob, masked_lm_prob, max_predictions_per_seq,
      _whole_word_mask_flag(do_whole_word_mask), stream)
  maker.add_document(document_index)
  stream.sync()
  encoder = RecordEncoder(corpus, vocabulary, max_seq_length,
                          max_predictions_per_seq)
  return _training_instances(maker.instances.arrays(),
                             np.arange(maker.instances.count), encoder)


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
  stream = WordStream(rng)
  maker = InstanceMaker(corpus, [0], vocabulary, len(tokens), 0.0,
                        masked_lm_prob, max_predictions_per_seq,
                        _whole_word_mask_flag(do_whole_word_mask), stream)
  positions, replacements = maker._mask(  # pylint: disable=protected-access
      0, len(a_tokens), len(a_tokens), len(b_tokens))
  stream.sync()
  output_tokens = list(tokens)
  for position, replacement in zip(positions, replacements):
    if replacement >= 0:
      output_tokens[position] = vocabulary.inv_vocab[replacement]
  positions = sorted(positions)
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
  n = len(instances)
  features = collections.OrderedDict(
      (name, np.zeros((n, max_seq_length), np.int64))
      for name in FEATURE_NAMES[:3])
  for name in FEATURE_NAMES[3:6]:
    features[name] = np.zeros((n, max_predictions_per_seq), np.int64)
  features["masked_lm_weights"] = features["masked_lm_weights"].astype(
      np.float32)
  features["next_sentence_labels"] = np.zeros((n, 1), np.int64)
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
  stager = RecordStager(encoder, _temporary_name(output_files[0]) +
                        ".records", parallel=False)
  try:
    for begin in range(0, len(instances), _WRITE_BATCH):
      stager.add("features", _instance_features(
          instances[begin:begin + _WRITE_BATCH], tokenizer.vocab,
          max_seq_length, max_predictions_per_seq))
    sizes, _ = stager.finish()
    first = _instance_features(instances[:20], tokenizer.vocab,
                               max_seq_length, max_predictions_per_seq)
    for row in range(len(first["input_ids"])):
      _log_example(vocabulary, first, row)
    write_records(stager.path, sizes, np.arange(len(instances)), output_files)
  finally:
    stager.close()


def main(_):
  logging.set_verbosity(logging.INFO)
  try:
    input_files = expand_input_files(FLAGS.input_file)
    logging.info("*** Reading from input files ***")
    for input_file in input_files:
      logging.info("  %s", input_file)
    run(input_files, FLAGS.output_file.split(","), FLAGS.vocab_file,
        do_lower_case=FLAGS.do_lower_case,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        random_seed=FLAGS.random_seed, dupe_factor=FLAGS.dupe_factor,
        masked_lm_prob=FLAGS.masked_lm_prob,
        short_seq_prob=FLAGS.short_seq_prob, num_workers=FLAGS.num_workers)
  except ValueError as e:  # bad flags or input: the message says which
    sys.exit("create_pretraining_data.py: error: %s" % e)


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  flags.mark_flag_as_required("vocab_file")
  app.run(main)
