# coding=utf-8
"""WordPiece tokenization, token for token the same as Google's BERT tokenizer.

The public names and their behaviour are those of google-research/bert's
tokenization.py (commit eedf571). The work is organised differently so that
large inputs go fast:

* Text-wide steps (dropping control characters, spacing CJK characters,
  splitting on whitespace) are single regular-expression or `str` calls.
* Everything Google does after the whitespace split (lower-casing, accent
  stripping, punctuation splitting, WordPiece) depends only on the
  whitespace-free chunk, so its result is memoised per chunk: a repeated word
  costs one dict lookup.
* `FullTokenizer.tokenize_batch` spreads a large batch over processes.

Beyond Google, `never_split` names tokens (e.g. "[MASK]") that are kept whole
wherever they occur in the text; it is off by default.

Unicode categories, `str.lower()` and NFD come from the running Python's
`unicodedata`, as in Google's code.
"""

import array
import atexit
import collections
import functools
import itertools
import multiprocessing
import os
import re
import unicodedata
import weakref

from absl import logging
import numpy as np

import validation

# Code point ranges (inclusive) that BasicTokenizer surrounds with spaces: the
# CJK Unified Ideographs blocks and extensions A-E plus the compatibility
# ideographs. Kana, Hangul and later extensions are deliberately not included.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

# Every printable ASCII character that is neither a letter, a digit nor a
# space splits words, although "$", "^", "`" etc. are not Unicode punctuation.
_ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))

# Tab, newline and carriage return are category Cc but count as spaces.
_SPACE_CONTROLS = frozenset("\t\n\r")
_SPACES = frozenset(" \t\n\r")

# Memoised chunks per memo (see _memoised_concat), about 230 bytes each: the
# bound keeps memory near 30 MB a memo on corpora with an open-ended
# vocabulary, while the most frequent chunks, nearly all of the text, hit.
_MEMO_LIMIT = 1 << 17

# tokenize_batch uses worker processes only above this many characters: below
# it, starting processes costs more than it saves.
_PARALLEL_MIN_CHARS = 1 << 20
_BATCHES_PER_WORKER = 4

# The ASCII case of _patterns().word_or_punctuation, which is three times
# faster on the short ASCII words that make up most English text.
_ASCII_PUNCTUATION = "".join(
    re.escape(chr(c)) for low, high in _ASCII_PUNCTUATION_RANGES
    for c in range(low, high + 1))
_ASCII_WORD_OR_PUNCTUATION = re.compile(
    "[%s]|[^%s]+" % (_ASCII_PUNCTUATION, _ASCII_PUNCTUATION))

_CHECKPOINT_NAME_RE = re.compile(r"^.*?([A-Za-z0-9_-]+)/bert_model.ckpt")
_UNCASED_CHECKPOINTS = frozenset([
    "uncased_L-24_H-1024_A-16", "uncased_L-12_H-768_A-12",
    "multilingual_L-12_H-768_A-12", "chinese_L-12_H-768_A-12"
])
_CASED_CHECKPOINTS = frozenset([
    "cased_L-12_H-768_A-12", "cased_L-24_H-1024_A-16",
    "multi_cased_L-12_H-768_A-12"
])


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Raises if `do_lower_case` contradicts a released checkpoint's name.

  The casing of a model is not stored in bert_config.json, so, like Google,
  this only recognises the 2018 release names in a path ending in
  `<model name>/bert_model.ckpt`; any other path passes.

  Args:
    do_lower_case: bool, the casing the caller is about to use.
    init_checkpoint: str or None, the checkpoint path.

  Raises:
    ValueError: the checkpoint is a known cased model and `do_lower_case` is
      True, or a known uncased model and it is False.
  """
  if not init_checkpoint:
    return
  match = _CHECKPOINT_NAME_RE.match(init_checkpoint)
  if match is None:
    return
  model_name = match.group(1)
  if model_name in _UNCASED_CHECKPOINTS and not do_lower_case:
    kind, wanted = "lowercased", True
  elif model_name in _CASED_CHECKPOINTS and do_lower_case:
    kind, wanted = "cased", False
  else:
    return
  raise validation.UsageError(
      "--do_lower_case=%s does not match --init_checkpoint=%s: `%s` is a %s "
      "model, so pass --do_lower_case=%s to tokenize as it was pre-trained. "
      "If the checkpoint was renamed and this check is wrong, rename it or "
      "remove the check." % (not wanted, init_checkpoint, model_name, kind,
                             wanted))


def convert_to_unicode(text):
  """Returns `text` as str; bytes are decoded as UTF-8, invalid bytes dropped.

  Args:
    text: str or bytes.

  Returns:
    str.

  Raises:
    ValueError: `text` is neither str nor bytes.
  """
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % (type(text)))


def printable_text(text):
  """Returns `text` as a str fit for print() or logging (bytes: UTF-8).

  Args:
    text: str or bytes.
  """
  return convert_to_unicode(text)


def _read_bytes(path):
  """Returns the content of a local file, or of a tf.io.gfile URL."""
  if "://" in path:
    # Only remote paths (gs://, hdfs://, ...) need TensorFlow's file system;
    # importing it here keeps TensorFlow out of plain tokenization.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    try:
      with tf.io.gfile.GFile(path, "rb") as reader:
        return reader.read()
    except tf.errors.OpError as e:  # e.g. NotFoundError, not an OSError
      raise OSError(e.message) from e
  with open(path, "rb") as reader:
    return reader.read()


def read_vocab_lines(vocab_file):
  """The lines of a vocabulary file, as Google's tf.gfile readline gives them.

  Lines are split on "\\n" only, every "\\r" is dropped and the text is
  decoded as strict UTF-8; nothing after the last newline is no line. BERT's
  and ALBERT's load_vocab both read this way.

  Args:
    vocab_file: path of the vocabulary file (local, or any tf.io.gfile URL).

  Returns:
    list of str, without their newlines.

  Raises:
    ValueError: the file cannot be read, is not UTF-8, or holds no line.
  """
  try:
    data = _read_bytes(vocab_file)
  except (OSError, IOError) as e:
    raise validation.DataError("Cannot read vocab file %s: %s" % (vocab_file, e)) from e
  lines = data.replace(b"\r", b"").split(b"\n")
  if lines[-1] == b"":
    lines.pop()  # readline reports nothing after the last newline
  if not lines:
    raise validation.DataError("Vocab file %s is empty: it needs one token per line" %
                     vocab_file)
  decoded = []
  for index, line in enumerate(lines):
    try:
      decoded.append(line.decode("utf-8"))
    except UnicodeDecodeError as e:
      raise validation.DataError("Vocab file %s, line %d is not UTF-8: %s" %
                       (vocab_file, index + 1, e)) from e
  return decoded


def load_vocab(vocab_file):
  """Reads a vocabulary: one token per line, id = 0-based line number.

  Google reads the file with tf.gfile's readline (see read_vocab_lines); each
  line is then str.strip()ed. A token listed twice keeps the id of its later
  line (logged once).

  Args:
    vocab_file: path of the vocabulary file (local, or any tf.io.gfile URL).

  Returns:
    collections.OrderedDict mapping token (str) -> id (int).

  Raises:
    ValueError: the file cannot be read, is not UTF-8, or holds no line.
  """
  vocab = collections.OrderedDict()
  repeated = []
  for index, line in enumerate(read_vocab_lines(vocab_file)):
    token = line.strip()
    if token in vocab:
      repeated.append((token, vocab[token] + 1, index + 1))
    vocab[token] = index
  if repeated:
    logging.warning(
        "Vocab file %s lists %d token(s) more than once, e.g. %r on lines %d "
        "and %d; as in Google's code the later line gives the id.", vocab_file,
        len(repeated), *repeated[0])
  return vocab


def convert_by_vocab(vocab, items):
  """Maps each item through `vocab` (KeyError on an unknown item).

  Args:
    vocab: a mapping, token -> id or id -> token.
    items: iterable of keys of `vocab`.

  Returns:
    list of the mapped values.
  """
  return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
  """Maps tokens to ids with `vocab` (token -> id); KeyError if unknown."""
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  """Maps ids to tokens with `inv_vocab` (id -> token); KeyError if unknown."""
  return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
  """Splits `text` on Python whitespace (str.split()), dropping empty pieces.

  Args:
    text: str.

  Returns:
    list of str.
  """
  return text.split()


def _is_whitespace(char):
  """Whether BERT treats the one-character string `char` as a space.

  Space, tab, newline, carriage return, and Unicode category Zs.
  """
  return char in _SPACES or unicodedata.category(char) == "Zs"


def _is_control(char):
  """Whether BERT deletes `char` as a control: categories Cc and Cf.

  Tab, newline and carriage return are excluded: they are spaces.
  """
  if char in _SPACE_CONTROLS:
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
  """Whether `char` is a word of its own: ASCII symbols or categories P*."""
  return (_in_ranges(ord(char), _ASCII_PUNCTUATION_RANGES) or
          unicodedata.category(char).startswith("P"))


def _in_ranges(code_point, ranges):
  """Whether the int `code_point` lies in one of the inclusive ranges."""
  return any(low <= code_point <= high for low, high in ranges)


_ASTRAL = u"\U00010000-\U0010ffff"


def _ranges_text(ranges):
  """The inside of a regex character class for inclusive code point ranges."""
  parts = []
  for low, high in ranges:
    parts.append(re.escape(chr(low)))
    if high > low:
      parts.append("-" + re.escape(chr(high)))
  return "".join(parts)


def _char_class(ranges, negate=False, extra=""):
  """A regex matching one character in (negate: outside) the ranges.

  sre turns the code points below U+10000 of a class into a bitmap but tests
  the ones above one range at a time, for every character. So the ranges
  above U+FFFF form a second alternative that only such characters reach.

  Args:
    ranges: inclusive (low, high) code point ranges.
    negate: bool, match the characters outside the ranges instead.
    extra: more class items (e.g. "\\s"), inside the class for negate=False
      and excluded with the ranges for negate=True.

  Returns:
    str, a regex matching exactly one character.
  """
  bmp = _ranges_text([(low, min(high, 0xFFFF)) for low, high in ranges
                      if low <= 0xFFFF]) + extra
  astral = _ranges_text([(max(low, 0x10000), high) for low, high in ranges
                         if high > 0xFFFF])
  if negate:
    return "(?:[^%s%s]|(?=[%s])[^\x00-\uffff%s])" % (bmp, _ASTRAL, _ASTRAL,
                                                      astral)
  if not astral:
    return "[%s]" % bmp
  return "(?:[%s]|(?=[%s])[%s])" % (bmp, _ASTRAL, astral)


def _code_point_ranges(predicate):
  """Inclusive (low, high) ranges of the code points where predicate holds."""
  ranges = []
  for code_point in range(0x110000):
    if predicate(code_point):
      if ranges and ranges[-1][1] == code_point - 1:
        ranges[-1][1] = code_point
      else:
        ranges.append([code_point, code_point])
  return ranges


_Patterns = collections.namedtuple(
    "_Patterns", ["removed", "cjk", "mark", "word_or_punctuation", "chunk"])


@functools.lru_cache(maxsize=None)
def _patterns():
  """Compiles the character-class regexes from this Python's Unicode tables.

  Built once per process (about 0.3 s), by the first tokenizer: it scans
  every code point, so it is not done at import time.

  Returns:
    _Patterns of compiled regexes: `removed` (a character _clean_text drops),
    `cjk` (a CJK character), `mark` (an Mn character), `word_or_punctuation`
    (a punctuation character or a run of others), and `chunk` (a CJK
    character or a run of characters that are neither CJK nor whitespace;
    re's \\s is str.split()'s whitespace).
  """
  categories = [unicodedata.category(chr(c)) for c in range(0x110000)]
  # Tab, newline and carriage return stay: they are separators.
  removed = _code_point_ranges(
      lambda c: (c in (0, 0xFFFD) or categories[c] in ("Cc", "Cf") and
                 chr(c) not in _SPACE_CONTROLS))
  mark = _code_point_ranges(lambda c: categories[c] == "Mn")
  punctuation = _code_point_ranges(
      lambda c: (categories[c][0] == "P" or
                 c < 128 and _in_ranges(c, _ASCII_PUNCTUATION_RANGES)))
  cjk = sorted(_CJK_RANGES)
  return _Patterns(
      removed=re.compile(_char_class(removed)),
      cjk=re.compile(_char_class(cjk)),
      mark=re.compile(_char_class(mark)),
      word_or_punctuation=re.compile("%s|%s+" % (
          _char_class(punctuation), _char_class(punctuation, negate=True))),
      chunk=re.compile("%s|%s+" % (
          _char_class(cjk), _char_class(cjk, negate=True, extra="\\s"))))


def _memoised_concat(chunks, memo, compute):
  """Concatenates compute(chunk) for every chunk, memoising per chunk.

  The memo holds at most _MEMO_LIMIT chunks: it is emptied when a text could
  overflow it, so memory stays bounded on an open-ended vocabulary while the
  frequent words come straight back.

  Args:
    chunks: list of str.
    memo: dict chunk -> tuple of str, read and updated.
    compute: function str -> tuple of str.

  Returns:
    list of str.
  """
  try:  # the common case, all chunks seen before, without a Python loop
    return list(itertools.chain.from_iterable(map(memo.__getitem__, chunks)))
  except KeyError:
    pass
  if len(memo) + len(chunks) > _MEMO_LIMIT:
    memo.clear()
  tokens = []
  for chunk in chunks:
    pieces = memo.get(chunk)
    if pieces is None:
      pieces = compute(chunk)
      if len(memo) < _MEMO_LIMIT:
        memo[chunk] = pieces
    tokens.extend(pieces)
  return tokens


class FullTokenizer(object):
  """Basic tokenization followed by WordPiece: text -> vocabulary tokens."""

  def __init__(self, vocab_file, do_lower_case=True, never_split=None,
               vocab=None):
    """Reads the vocabulary and sets up both stages.

    Args:
      vocab_file: path of the vocabulary (see load_vocab).
      do_lower_case: bool, lower-case and strip accents (uncased models).
      never_split: optional iterable of tokens kept whole wherever they occur
        in the text (see BasicTokenizer); None, as Google, splits everything.
      vocab: optional mapping token -> id used instead of reading vocab_file
        (ALBERT's load_vocab reads the same file differently).
    """
    self.vocab = load_vocab(vocab_file) if vocab is None else vocab
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case,
                                          never_split=never_split)
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._memo = {}
    self._memo_vocab_size = len(self.vocab)
    self._pool = None  # tokenize_batch's workers, kept warm between calls
    self._pool_key = None
    self._pool_table = None
    self._pool_ids = None

  def __getstate__(self):
    state = self.__dict__.copy()
    state["_memo"] = {}  # worth rebuilding rather than shipping
    state["_pool"] = state["_pool_key"] = state["_pool_table"] = None
    state["_pool_ids"] = None
    return state

  def tokenize(self, text):
    """Splits `text` (str or UTF-8 bytes) into vocabulary tokens.

    Args:
      text: str or bytes.

    Returns:
      list of str, each a key of `self.vocab`.
    """
    if len(self.vocab) != self._memo_vocab_size:  # tokens added by the caller
      self._memo.clear()
      self._memo_vocab_size = len(self.vocab)
    return _memoised_concat(self.basic_tokenizer._chunks(text), self._memo,
                            self._chunk_pieces)

  def _chunk_pieces(self, chunk):
    """The word pieces of one whitespace-free chunk of cleaned text."""
    tokens = self.basic_tokenizer._chunk_tokens(chunk)
    if len(tokens) == 1:  # most chunks are one word
      return tuple(self.wordpiece_tokenizer._word_pieces(tokens[0]))
    return tuple(itertools.chain.from_iterable(
        map(self.wordpiece_tokenizer._word_pieces, tokens)))

  def tokenize_batch(self, texts, num_workers=None):
    """Tokenizes many texts, on several processes when the batch is large.

    Args:
      texts: iterable of str or bytes.
      num_workers: number of worker processes; None uses every core
        available to this process. Batches under about a million characters,
        num_workers=1, or a call from a daemon process (which may not have
        children) run in this process.

    This process only hands out the texts and collects the results: work of
    its own would hold the GIL that its pool's threads need to feed the
    workers, which then wait. The workers stay up between calls, so their
    memos stay warm;
    close() stops them (the end of the program does too): call it when done
    with a tokenizer that the program drops early. They start from this
    tokenizer as it is at their start: a later change of the vocabulary size
    or of unk_token starts new ones, other later changes are not seen.

    Returns:
      list of lists of str, equal to [self.tokenize(t) for t in texts].

    Raises:
      ValueError: num_workers is less than 1.
    """
    results = []
    for part in self._tokenized_parts(texts, num_workers):
      results.extend(_unpack_tokens(part, self._pool_table))
    return results

  def tokenize_batch_ids(self, texts, num_workers=None):
    """tokenize_batch, as ids: cheaper to hand back from the workers.

    Args:
      texts: iterable of str or bytes.
      num_workers: as in tokenize_batch.

    Returns:
      (ids, lengths): int32 [all tokens] the ids of every text's tokens, one
      text after the other, and int64 [len(texts)] each text's token count.

    Raises:
      ValueError: num_workers is less than 1.
      KeyError: a token is not in the vocabulary (only unk_token can be).
    """
    id_parts = []
    length_parts = []
    for part in self._tokenized_parts(texts, num_workers):
      if isinstance(part, list):  # token lists
        id_parts.append(np.fromiter(
            map(self.vocab.__getitem__, itertools.chain.from_iterable(part)),
            dtype=np.int32))
        length_parts.append(np.fromiter(map(len, part), dtype=np.int64))
        continue
      positions, lengths = part
      # Table positions to ids (not the same: a token listed twice in the
      # vocabulary file has the id of its last line).
      if self._pool_ids is None:
        self._pool_ids = np.array([self.vocab.get(t, -1)
                                   for t in self._pool_table], np.int32)
      ids = self._pool_ids[np.frombuffer(positions, dtype=np.int32)]
      if len(ids) and ids.min() < 0:
        raise KeyError(self.wordpiece_tokenizer.unk_token)
      id_parts.append(ids)
      length_parts.append(np.frombuffer(lengths, dtype=np.int32).astype(
          np.int64))
    return (np.concatenate(id_parts or [np.zeros(0, np.int32)]),
            np.concatenate(length_parts or [np.zeros(0, np.int64)]))

  def _tokenized_parts(self, texts, num_workers):
    """The texts tokenized, in order, in parts: here or by the workers.

    Args:
      texts: iterable of str or bytes.
      num_workers: see tokenize_batch.

    Yields:
      a list of token lists (tokenized in this process), or a worker's
      packed result (see _tokenize_in_worker).
    """
    texts = list(texts)
    if num_workers is None:
      num_workers = _available_cores()
    if num_workers < 1:
      raise ValueError("num_workers must be at least 1, got %r" % num_workers)
    num_chars = sum(map(len, texts))
    # A daemon process (e.g. a Pool worker itself) may not start children.
    if (num_workers == 1 or len(texts) < 2 or
        num_chars < _PARALLEL_MIN_CHARS or
        multiprocessing.current_process().daemon):
      yield [self.tokenize(text) for text in texts]
      return
    batches = _contiguous_batches(texts, num_workers * _BATCHES_PER_WORKER)
    pool = self._worker_pool(num_workers)
    yield from pool.imap(_tokenize_in_worker, batches)

  def _worker_pool(self, num_workers):
    """The process pool of tokenize_batch, started on first use.

    Args:
      num_workers: int, number of processes.

    Returns:
      multiprocessing.pool.Pool whose workers hold a copy of this tokenizer.
    """
    key = (num_workers, len(self.vocab), self.wordpiece_tokenizer.unk_token)
    if self._pool is not None and self._pool_key == key:
      return self._pool
    self.close()
    methods = multiprocessing.get_all_start_methods()
    # fork shares the vocabulary and the memo without pickling them.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # Every token is a vocabulary entry or unk_token: workers send back
    # positions in this table, which cost far less to unpickle than strings.
    self._pool_table = list(self.vocab) + [self.wordpiece_tokenizer.unk_token]
    self._pool = context.Pool(num_workers, initializer=_set_worker_tokenizer,
                              initargs=(self, self._pool_table))
    self._pool_key = key
    _TOKENIZERS_WITH_POOLS.add(self)
    return self._pool

  def close(self):
    """Stops the worker processes of tokenize_batch, if any are running."""
    if self._pool is not None:
      self._pool.terminate()
      self._pool.join()
      self._pool = self._pool_key = self._pool_table = None
      self._pool_ids = None

  def convert_tokens_to_ids(self, tokens):
    """Maps tokens to ids (KeyError on a token not in the vocabulary)."""
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    """Maps ids to tokens (KeyError on an unknown id)."""
    return convert_by_vocab(self.inv_vocab, ids)


# Pools left open are stopped at exit, before multiprocessing's own clean-up
# closes their pipes (after which a Pool's finaliser fails noisily).
_TOKENIZERS_WITH_POOLS = weakref.WeakSet()


@atexit.register
def _close_pools():
  for tokenizer in list(_TOKENIZERS_WITH_POOLS):
    tokenizer.close()


def _available_cores():
  """Number of CPU cores this process may run on."""
  if hasattr(os, "sched_getaffinity"):
    return max(1, len(os.sched_getaffinity(0)))
  return max(1, os.cpu_count() or 1)


def _contiguous_batches(texts, num_batches):
  """Cuts `texts` into up to `num_batches` runs of about equal length."""
  target = max(1, sum(map(len, texts)) // num_batches)
  batches, current, size = [], [], 0
  for text in texts:
    current.append(text)
    size += len(text)
    if size >= target:
      batches.append(current)
      current, size = [], 0
  if current:
    batches.append(current)
  return batches


_worker_tokenizer = None
_worker_positions = None
_worker_memo = None


def _set_worker_tokenizer(tokenizer, table):
  """Pool initializer: the tokenizer of this worker and the token table."""
  global _worker_tokenizer, _worker_positions, _worker_memo
  _worker_tokenizer = tokenizer
  _worker_positions = {token: i for i, token in enumerate(table)}
  _worker_memo = {}  # chunk -> tuple of table positions


def _chunk_positions(chunk):
  """The table positions of one chunk's word pieces (KeyError: not there)."""
  pieces = _worker_tokenizer._memo.get(chunk)  # pylint: disable=protected-access
  if pieces is None:
    pieces = _worker_tokenizer._chunk_pieces(chunk)  # pylint: disable=protected-access
  return tuple(map(_worker_positions.__getitem__, pieces))


def _tokenize_in_worker(texts):
  """Tokenizes a batch of texts in a worker process.

  The worker memoises each chunk's table positions (not its token strings),
  so a repeated word costs one lookup here too.

  Args:
    texts: list of str or bytes.

  Returns:
    (positions, lengths): int arrays, every token's position in the table of
    _set_worker_tokenizer and the number of tokens of each text; or, should
    a token be missing from the table, the list of token lists itself.
  """
  chunks_of = _worker_tokenizer.basic_tokenizer._chunks  # pylint: disable=protected-access
  positions = array.array("i")
  lengths = array.array("i")
  try:
    for text in texts:
      pieces = _memoised_concat(chunks_of(text), _worker_memo,
                                _chunk_positions)
      positions.extend(pieces)
      lengths.append(len(pieces))
  except KeyError:  # the caller changed the vocabulary or unk_token
    return [_worker_tokenizer.tokenize(text) for text in texts]
  return positions, lengths


def _unpack_tokens(packed, table):
  """The token lists of one _tokenize_in_worker result."""
  if isinstance(packed, list):
    return packed
  positions, lengths = packed
  tokens = list(map(table.__getitem__, positions))
  token_lists = []
  start = 0
  for length in lengths:
    token_lists.append(tokens[start:start + length])
    start += length
  return token_lists


def _split_chunks(text):
  """Splits cleaned text on whitespace and around every CJK character.

  Args:
    text: str, already cleaned.

  Returns:
    list of str: each CJK character alone, and the runs of other
    non-whitespace characters.
  """
  if text.isascii():
    return text.split()
  return _patterns().chunk.findall(text)


class BasicTokenizer(object):
  """Cleans text and splits it on whitespace and punctuation (and CJK)."""

  def __init__(self, do_lower_case=True, never_split=None):
    """Sets up the tokenizer.

    Args:
      do_lower_case: bool, lower-case and strip accents (NFD, then drop
        category Mn) before splitting on punctuation.
      never_split: optional iterable of tokens kept whole, neither lower-cased
        nor split, wherever they occur in the (cleaned) text, even inside a
        word: "a[MASK]." -> ["a", "[MASK]", "."]. Matching is case-sensitive;
        a longer token wins over a shorter one at the same place. None (the
        default) behaves as Google.

    Raises:
      ValueError: a never_split token is empty, holds whitespace, or holds a
        character the cleaning step deletes.
    """
    self.do_lower_case = do_lower_case
    self.never_split = frozenset(never_split or ())
    self._never_split_re = None
    patterns = _patterns()
    for token in self.never_split:
      if (not isinstance(token, str) or not token or
          any(c.isspace() for c in token) or patterns.removed.search(token)):
        raise ValueError(
            "never_split token %r must be a non-empty str without whitespace "
            "or control characters" % (token,))
    if self.never_split:
      by_length = sorted(self.never_split, key=lambda t: (-len(t), t))
      self._never_split_re = re.compile(
          "(%s)" % "|".join(map(re.escape, by_length)))
    self._memo = {}

  def __getstate__(self):
    state = self.__dict__.copy()
    state["_memo"] = {}
    return state

  def tokenize(self, text):
    """Splits `text` (str or UTF-8 bytes) into basic tokens.

    Args:
      text: str or bytes.

    Returns:
      list of str.
    """
    return _memoised_concat(self._chunks(text), self._memo,
                            self._chunk_token_tuple)

  def _chunk_token_tuple(self, chunk):
    """_chunk_tokens as a tuple, the form the memo keeps."""
    return tuple(self._chunk_tokens(chunk))

  def _chunks(self, text):
    """Cleans text, spaces CJK characters and splits it on whitespace.

    The whitespace-to-space mapping of Google's cleaning is skipped: every
    character it maps is already a separator for str.split().

    Args:
      text: str or bytes.

    Returns:
      list of whitespace-free str; never_split tokens come out as chunks of
      their own.
    """
    text = convert_to_unicode(text)
    # Printable ASCII (most English lines) has nothing to remove.
    if not (text.isascii() and text.isprintable()):
      text = _patterns().removed.sub("", text)
    if self._never_split_re is None:
      return _split_chunks(text)
    chunks = []
    for index, part in enumerate(self._never_split_re.split(text)):
      if index % 2:  # odd parts are the matched tokens
        chunks.append(part)
      else:
        chunks.extend(_split_chunks(part))
    return chunks

  def _chunk_tokens(self, chunk):
    """Google's per-token steps on one chunk: case, accents, punctuation.

    Args:
      chunk: whitespace-free str produced by _chunks.

    Returns:
      list of str.
    """
    if chunk in self.never_split:
      # Only a matched token can equal one: any occurrence in the text is
      # matched, so no other chunk contains it.
      return [chunk]
    if chunk.isascii() and chunk.isalnum():  # a plain word: nothing to split
      return [chunk.lower() if self.do_lower_case else chunk]
    if self.do_lower_case:
      chunk = self._run_strip_accents(chunk.lower())
    # Lower-casing and NFD never make whitespace today; re-splitting as Google
    # does keeps that an assumption-free match.
    return " ".join(self._run_split_on_punc(chunk)).split()

  def _run_strip_accents(self, text):
    """NFD-normalises `text` and drops its nonspacing marks (category Mn)."""
    if text.isascii():
      return text
    return _patterns().mark.sub("", unicodedata.normalize("NFD", text))

  def _run_split_on_punc(self, text):
    """Makes every punctuation character a piece of its own.

    Args:
      text: str.

    Returns:
      list of str: single punctuation characters and the runs between them.
    """
    if text.isascii():
      return _ASCII_WORD_OR_PUNCTUATION.findall(text)
    return _patterns().word_or_punctuation.findall(text)

  def _tokenize_chinese_chars(self, text):
    """Surrounds every CJK character of `text` with spaces.

    Kept, like _clean_text, for callers of Google's private methods;
    tokenize itself splits around CJK characters in _split_chunks.
    """
    if text.isascii():
      return text
    return _patterns().cjk.sub(r" \g<0> ", text)

  def _is_chinese_char(self, cp):
    """Whether the code point `cp` (int) is one of BERT's CJK characters."""
    return _in_ranges(cp, _CJK_RANGES)

  def _clean_text(self, text):
    """Drops NUL, U+FFFD and control characters; whitespace becomes " "."""
    text = _patterns().removed.sub("", text)
    return "".join(" " if _is_whitespace(c) else c for c in text)


class WordpieceTokenizer(object):
  """Greedy longest-match-first WordPiece over a fixed vocabulary."""

  def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
    """Sets up the tokenizer.

    Args:
      vocab: a mapping or set of tokens; pieces after the first of a word are
        looked up with a "##" prefix.
      unk_token: str, emitted for a word that cannot be covered by pieces.
      max_input_chars_per_word: int, longer words become unk_token.
    """
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    self._longest = None
    self._vocab_size = None
    self._memo = {}  # word -> pieces, for words not in the vocabulary

  def __getstate__(self):
    state = self.__dict__.copy()
    state["_memo"] = {}
    return state

  def tokenize(self, text):
    """Splits each whitespace-separated word of `text` into word pieces.

    Greedy longest match first: "unaffable" -> ["un", "##aff", "##able"]; a
    word with a stretch no piece covers becomes the single unk_token.

    Args:
      text: str or bytes, usually basic tokens.

    Returns:
      list of str.
    """
    pieces = []
    for word in whitespace_tokenize(convert_to_unicode(text)):
      pieces.extend(self._word_pieces(word))
    return pieces

  def _word_pieces(self, word):
    """The word pieces of one whitespace-free word (list of str)."""
    if len(word) > self.max_input_chars_per_word:
      return [self.unk_token]
    if word in self.vocab:
      return [word]
    if self._vocab_size != len(self.vocab):  # tokens added by the caller
      self._memo.clear()
      self._longest = max(map(len, self.vocab), default=0)
      self._vocab_size = len(self.vocab)
    pieces = self._memo.get(word)
    if pieces is None:
      pieces = tuple(self._greedy_pieces(word))
      if len(self._memo) >= _MEMO_LIMIT:
        self._memo.clear()
      self._memo[word] = pieces
    return pieces

  def _greedy_pieces(self, word):
    """Longest match first from the left; [unk_token] if a stretch fails.

    Args:
      word: str, at most max_input_chars_per_word characters.

    Returns:
      list of str.
    """
    pieces = []
    start = 0
    while start < len(word):
      prefix = "##" if start else ""
      # A candidate longer than every vocabulary entry cannot match.
      end = min(len(word), start + self._longest - len(prefix))
      while end > start:
        piece = prefix + word[start:end]
        if piece in self.vocab:
          break
        end -= 1
      else:
        return [self.unk_token]
      pieces.append(piece)
      start = end
    return pieces
