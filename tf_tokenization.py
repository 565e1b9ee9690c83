# coding=utf-8
"""Google's BERT tokenizer in core TensorFlow ops, for SavedModels.

`BertTextTokenizer(vocab_file, do_lower_case)` maps a batch of strings to the
ids of `tokenization.FullTokenizer` (Google's BasicTokenizer + WordPiece),
token for token, with TensorFlow ops only (no tensorflow_text), so that the
preprocessing model of `export_lib.export_preprocessor` loads wherever
TensorFlow does. tensorflow_text's BertTokenizer, which TF Hub's own
preprocessors use, differs from Google's on 38 of the 503 text cases of the
tokenization reference (its own normalisation tables and whitespace rules);
this one reproduces all of them.

How Google's steps become tensor ops:
* Characters are looked up in range tables built at construction from this
  Python's Unicode database (the one Google's tokenizer consults): removed
  (NUL, U+FFFD, categories Cc/Cf but tab, newline, return), separator
  (str.split()'s whitespace), CJK, punctuation (ASCII symbols or P*), and the
  two properties str.lower() uses for the Greek final sigma.
* Lower-casing and accent stripping (lower(), NFD, drop category Mn) are one
  per-character table from a code point to 0..n code points; capital sigma
  becomes final sigma where str.lower() would make it so (a cased letter
  before it, none after, skipping case-ignorable characters, within the
  word).
* Words are the runs between separators; CJK characters (from the text) and
  punctuation (after lower-casing) are words of their own.
* WordPiece: every substring of every word up to the longest vocabulary entry
  is looked up at once in a hash table; a loop over piece positions then
  walks all words in parallel, greedy longest match first; a word with a
  stretch no piece covers, or over max_input_chars_per_word characters,
  becomes [UNK].
"""

import collections
import functools
import unicodedata

import numpy as np
import tensorflow as tf

import tokenization

# Character class bits (see _character_classes).
REMOVED = 1
SEPARATOR = 2
CJK = 4
PUNCTUATION = 8
CASED = 16  # str.lower()'s "cased" and not "case-ignorable"
IGNORABLE = 32  # str.lower()'s "case-ignorable"

_CAPITAL_SIGMA = 0x3A3
_FINAL_SIGMA = 0x3C2
_MAX_CODE_POINT = 0x110000

CharacterTables = collections.namedtuple(
    "CharacterTables", ["starts", "classes", "map_keys", "map_splits",
                        "map_values"])


def _bulk_final_sigma(chars, before):
  """Whether str.lower() makes Σ final after `before` + each char.

  One str.lower() call over all probes joined by spaces (neither cased nor
  case-ignorable, so each probe's context ends at them).

  Args:
    chars: list of one-character str (no whitespace).
    before: "1" (neither cased nor ignorable) or "A" (cased).

  Returns:
    bool numpy [len(chars)].
  """
  probes = " ".join(before + c + "\u03a3" for c in chars).lower().split(" ")
  return np.array([p[-1] == "\u03c2" for p in probes], bool)


def _character_classes():
  """(uint8 [0x110000] class bits, list of every character)."""
  chars = [chr(c) for c in range(_MAX_CODE_POINT)]
  categories = np.array(list(map(unicodedata.category, chars)))
  classes = np.zeros(_MAX_CODE_POINT, np.uint8)
  removed = np.isin(categories, ["Cc", "Cf"])
  removed[[ord(c) for c in tokenization._SPACE_CONTROLS]] = False  # pylint: disable=protected-access
  removed[[0, 0xFFFD]] = True
  separator = np.array(list(map(str.isspace, chars))) & ~removed
  punctuation = np.char.startswith(categories, "P")
  for low, high in tokenization._ASCII_PUNCTUATION_RANGES:  # pylint: disable=protected-access
    punctuation[low:high + 1] = True
  classes[punctuation] |= PUNCTUATION
  for low, high in tokenization._CJK_RANGES:  # pylint: disable=protected-access
    classes[low:high + 1] |= CJK
  # str.lower()'s properties: Σ after "1" + c is final iff c is cased (and
  # not ignorable); after "A" + c iff c is cased or case-ignorable.
  probed = np.flatnonzero(~removed & ~separator)
  probe_chars = [chars[i] for i in probed]
  cased = _bulk_final_sigma(probe_chars, "1")
  either = _bulk_final_sigma(probe_chars, "A")
  classes[probed[cased]] |= CASED
  classes[probed[either & ~cased]] |= IGNORABLE
  classes[separator] = SEPARATOR
  classes[removed] = REMOVED
  return classes, chars


@functools.lru_cache(maxsize=None)
def character_tables():
  """The range and mapping tables (built once per process, about 2 s).

  Returns:
    CharacterTables: `starts` (int32 [R], the first code point of each range
    of equal class bits) and `classes` (int32 [R]); `map_keys` (int32 [K],
    sorted code points that lower-casing and accent stripping change),
    `map_splits` (int32 [K + 1]) and `map_values` (int32): key i becomes
    map_values[map_splits[i]:map_splits[i + 1]] (possibly nothing).
  """
  classes, chars = _character_classes()
  starts = np.concatenate([[0], np.flatnonzero(np.diff(classes)) + 1])
  # Google's do_lower_case steps (lower, NFD, drop Mn) on every character at
  # once: NUL (removed, combining class 0) keeps them apart.
  kept_code_points = np.flatnonzero((classes & (REMOVED | SEPARATOR)) == 0)
  kept = [chars[i] for i in kept_code_points.tolist()]
  marks = {ord(c): None for c in chars if unicodedata.category(c) == "Mn"}
  mapped = unicodedata.normalize(
      "NFD", "\0".join(kept).lower()).translate(marks).split("\0")
  keys, splits, values = [], [0], []
  for char, result in zip(kept, mapped):
    if result != char:
      keys.append(ord(char))
      values.extend(map(ord, result))
      splits.append(len(values))
  return CharacterTables(
      starts=starts.astype(np.int32),
      classes=classes[starts].astype(np.int32),
      map_keys=np.array(keys, np.int32),
      map_splits=np.array(splits, np.int32),
      map_values=np.array(values, np.int32))


def _shift_right(x, fill):
  """x[i - 1] at position i, `fill` at position 0 (1-D)."""
  return tf.concat([tf.fill([1], fill), x[:-1]], axis=0)


class BertTextTokenizer(tf.Module):
  """Google's FullTokenizer as TensorFlow ops (see the module docstring)."""

  def __init__(self, vocab_file, do_lower_case=True, unk_token="[UNK]",
               max_input_chars_per_word=200):
    """Builds the tables.

    Args:
      vocab_file: Google's vocab.txt (read as tokenization.load_vocab does).
      do_lower_case: bool, as FullTokenizer.
      unk_token: the token of words WordPiece cannot cover.
      max_input_chars_per_word: longer words become unk_token.
    """
    super().__init__(name=None)
    self.do_lower_case = bool(do_lower_case)
    self.max_input_chars_per_word = int(max_input_chars_per_word)
    vocab = tokenization.load_vocab(vocab_file)
    self.vocab = vocab
    self.unk_id = vocab[unk_token]
    self.max_piece_chars = max(len(t) for t in vocab)
    tables = character_tables()
    self._starts = tf.constant(tables.starts)
    self._classes = tf.constant(tables.classes)
    self._map_keys = tf.constant(tables.map_keys)
    self._map_splits = tf.constant(tables.map_splits)
    # A trailing 0 keeps the gather of unmapped characters in range.
    self._map_values = tf.constant(
        np.append(tables.map_values, 0).astype(np.int32))
    self._table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(vocab.keys())),
            tf.constant(list(vocab.values()), tf.int32)), default_value=-1)

  def _lookup_classes(self, code_points):
    """Class bits (int32 [N]) of code points (int32 [N])."""
    index = tf.searchsorted(self._starts, code_points, side="right") - 1
    return tf.gather(self._classes, index)

  def _final_sigmas(self, code_points, rows, classes):
    """Where a capital sigma lower-cases to the final sigma.

    str.lower(): a cased character before it and none after, skipping
    case-ignorable characters, within the word (separators are neither).

    Args:
      code_points, rows, classes: int [N]: the characters, their text's
        index and their class bits.

    Returns:
      bool [N].
    """
    size = tf.size(code_points, out_type=tf.int64)
    relevant = tf.equal(classes & IGNORABLE, 0)
    # The relevant positions plus a sentinel (row -1, not cased).
    positions = tf.concat([tf.where(relevant)[:, 0], [size]], axis=0)
    rows_ext = tf.concat([tf.cast(rows, tf.int64), [-1]], axis=0)
    cased_ext = tf.concat([tf.not_equal(classes & CASED, 0), [False]], axis=0)
    after = tf.cumsum(tf.cast(relevant, tf.int64))
    before = after - tf.cast(relevant, tf.int64)
    prev = tf.gather(positions, tf.maximum(before - 1, 0))
    prev_cased = ((before > 0) & tf.equal(tf.gather(rows_ext, prev),
                                          tf.cast(rows, tf.int64)) &
                  tf.gather(cased_ext, prev))
    nxt = tf.gather(positions, after)
    next_cased = (tf.equal(tf.gather(rows_ext, nxt), tf.cast(rows, tf.int64))
                  & tf.gather(cased_ext, nxt))
    return (tf.equal(code_points, _CAPITAL_SIGMA) & prev_cased &
            tf.logical_not(next_cased))

  def _lower_case(self, code_points, rows, classes):
    """Lower-cases and strips accents: each character -> 0..n characters.

    Args:
      code_points, rows, classes: int [N] (see _final_sigmas).

    Returns:
      (code_points, rows, classes) of the output characters; `classes` are
      those of the character each came from.
    """
    final = self._final_sigmas(code_points, rows, classes)
    last_key = tf.size(self._map_keys) - 1
    index = tf.minimum(tf.searchsorted(self._map_keys, code_points), last_key)
    hit = tf.equal(tf.gather(self._map_keys, index), code_points)
    start = tf.gather(self._map_splits, index)
    length = tf.where(hit, tf.gather(self._map_splits, index + 1) - start, 1)
    source = tf.repeat(tf.range(tf.size(code_points)), length)
    offset = tf.ragged.range(length).flat_values
    hit = tf.gather(hit, source)
    mapped = tf.where(
        hit, tf.gather(self._map_values,
                       tf.gather(start, source) + offset * tf.cast(hit, tf.int32)),
        tf.gather(code_points, source))
    mapped = tf.where(tf.gather(final, source), _FINAL_SIGMA, mapped)
    return mapped, tf.gather(rows, source), tf.gather(classes, source)

  def basic_tokenize_code_points(self, texts):
    """BasicTokenizer as code points.

    Args:
      texts: string [batch] (UTF-8; invalid bytes are dropped, as Google's
        convert_to_unicode does).

    Returns:
      int32 RaggedTensor [batch, (words), (characters)].
    """
    decoded = tf.strings.unicode_decode(texts, "UTF-8", errors="ignore")
    code_points = decoded.flat_values
    rows = decoded.value_rowids()
    classes = self._lookup_classes(code_points)
    keep = tf.equal(classes & REMOVED, 0)
    code_points = tf.boolean_mask(code_points, keep)
    rows = tf.boolean_mask(rows, keep)
    classes = tf.boolean_mask(classes, keep)
    if self.do_lower_case:
      code_points, rows, classes = self._lower_case(code_points, rows,
                                                    classes)
    separator = tf.not_equal(classes & SEPARATOR, 0)
    alone = (tf.not_equal(classes & CJK, 0) | tf.not_equal(
        self._lookup_classes(code_points) & PUNCTUATION, 0))
    starts = tf.logical_not(separator) & (
        tf.not_equal(rows, _shift_right(rows, tf.constant(-1, rows.dtype))) |
        _shift_right(separator, True) | alone | _shift_right(alone, False))
    word_of_char = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    chars = tf.logical_not(separator)
    words = tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(code_points, chars),
        tf.boolean_mask(word_of_char, chars),
        nrows=tf.reduce_sum(tf.cast(starts, tf.int64)))
    return tf.RaggedTensor.from_value_rowids(
        words, tf.boolean_mask(rows, starts),
        nrows=tf.shape(texts, out_type=tf.int64)[0])

  def basic_tokenize(self, texts):
    """BasicTokenizer: string RaggedTensor [batch, (words)]."""
    return tf.strings.unicode_encode(self.basic_tokenize_code_points(texts),
                                     "UTF-8")

  def _best_pieces(self, words, lengths):
    """The longest vocabulary piece at every character of every word.

    Args:
      words: string [W].
      lengths: int32 [W], their lengths in characters (0 for a word that is
        too long: it has no positions).

    Returns:
      (best_length, best_id), int32 [P] over the words' character positions
      in order (0 and -1 where no piece starts there).
    """
    word = tf.repeat(tf.range(tf.size(lengths)), lengths)
    start = tf.ragged.range(lengths).flat_values
    count = tf.minimum(tf.gather(lengths, word) - start, self.max_piece_chars)
    position = tf.repeat(tf.range(tf.size(count)), count)
    piece_length = tf.ragged.range(count).flat_values + 1
    piece_start = tf.gather(start, position)
    text = tf.strings.substr(tf.gather(words, tf.gather(word, position)),
                             piece_start, piece_length, unit="UTF8_CHAR")
    text = tf.where(piece_start > 0, tf.strings.join(["##", text]), text)
    ids = self._table.lookup(text)
    best_length = tf.maximum(tf.math.unsorted_segment_max(
        tf.where(ids >= 0, piece_length, 0), position, tf.size(count)), 0)
    first = tf.cumsum(count, exclusive=True)
    best_id = tf.where(
        best_length > 0,
        tf.gather(ids, tf.minimum(first + tf.maximum(best_length - 1, 0),
                                  tf.maximum(tf.size(ids) - 1, 0))), -1)
    return best_length, best_id

  def wordpiece(self, words):
    """WordPiece ids of basic tokens.

    Args:
      words: string [W].

    Returns:
      int32 RaggedTensor [W, (pieces)].
    """
    lengths = tf.strings.length(words, unit="UTF8_CHAR")
    too_long = lengths > self.max_input_chars_per_word
    lengths = tf.where(too_long, 0, lengths)
    best_length, best_id = self._best_pieces(words, lengths)
    # A sentinel position for finished words.
    best_length = tf.concat([best_length, [0]], axis=0)
    best_id = tf.concat([best_id, [-1]], axis=0)
    first = tf.cumsum(lengths, exclusive=True)
    sentinel = tf.size(best_length) - 1
    num_words = tf.size(words)
    ids = tf.TensorArray(tf.int32, size=1, dynamic_size=True)
    emitted = tf.TensorArray(tf.bool, size=1, dynamic_size=True)
    ids = ids.write(0, tf.fill([num_words], self.unk_id))
    emitted = emitted.write(0, tf.zeros([num_words], tf.bool))

    def step(i, position, active, failed, ids, emitted):
      """One piece of every active word: the longest at its position."""
      index = tf.where(active, first + position, sentinel)
      length = tf.gather(best_length, index)
      emit = active & (length > 0)
      ids = ids.write(i, tf.gather(best_id, index))
      emitted = emitted.write(i, emit)
      position += tf.where(emit, length, 0)
      return (i + 1, position, emit & (position < lengths),
              failed | (active & tf.equal(length, 0)), ids, emitted)

    _, _, _, failed, ids, emitted = tf.while_loop(
        lambda i, p, active, *_: tf.reduce_any(active), step,
        (tf.constant(1), tf.zeros_like(lengths), lengths > 0, too_long, ids,
         emitted))
    ids = tf.transpose(ids.stack())
    emitted = tf.transpose(emitted.stack())
    # Column 0 is [UNK], kept for the failed words only.
    emitted = tf.concat([failed[:, None],
                         emitted[:, 1:] & tf.logical_not(failed)[:, None]],
                        axis=1)
    return tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(ids, emitted),
        tf.reduce_sum(tf.cast(emitted, tf.int64), axis=1))

  def tokenize(self, texts):
    """FullTokenizer ids.

    Args:
      texts: string [batch].

    Returns:
      int32 RaggedTensor [batch, (words), (pieces)] (TF Hub's preprocessor
      layout: merge the last two dimensions for the token ids).
    """
    words = self.basic_tokenize(texts)
    pieces = self.wordpiece(words.flat_values)
    return tf.RaggedTensor.from_row_splits(pieces, words.row_splits)


# ---------------------------------------------------------------- ALBERT

# Python's str.split() whitespace: RE2's \s is ASCII only.
_PY_WHITESPACE = (r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}"
                  r"\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}"
                  r"\x{3000}]+")


def _combining_class_regex():
  """An RE2 class of the characters with a non-zero combining class.

  Built from this Python's unicodedata, which ALBERT's preprocess_text
  consults (`unicodedata.combining`).
  """
  ranges = tokenization._code_point_ranges(  # pylint: disable=protected-access
      lambda c: unicodedata.combining(chr(c)) != 0)
  return "[%s]" % "".join(r"\x{%x}-\x{%x}" % (lo, hi) for lo, hi in ranges)


def import_tensorflow_text():
  """tensorflow_text, whose SentencePiece ops ALBERT's preprocessor needs.

  Raises:
    ImportError: naming the package to install.
  """
  try:
    import tensorflow_text  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        "ALBERT's preprocessing model needs tensorflow-text (SentencePiece as "
        "TensorFlow ops): pip install 'tensorflow-text>=2.21.1,<2.22' (%s)" %
        e) from e
  return tensorflow_text


class AlbertTextTokenizer(tf.Module):
  """ALBERT's preprocess_text + encode_ids as TensorFlow ops.

  The steps of albert/tokenization.py on a batch of strings: Python's
  whitespace runs become one space and the ends are stripped; NFKD
  (tensorflow_text's normalize_utf8); characters with a non-zero combining
  class are dropped; str.lower() when do_lower_case (tf.strings.lower, run
  between NUL characters, where it would stop); then SentencePiece with
  ALBERT's digit-comma rule (a piece ending in a digit and a comma is
  re-encoded without its U+2581 and the comma appended, as ALBERT's code
  runs on Python 3).
  """

  def __init__(self, spm_model_file, do_lower_case=True):
    """Args: the SentencePiece model file; bool, ALBERT's lower=."""
    super().__init__(name=None)
    tf_text = import_tensorflow_text()
    self._normalize = tf_text.normalize_utf8
    self.do_lower_case = bool(do_lower_case)
    with tf.io.gfile.GFile(spm_model_file, "rb") as f:
      model = f.read()
    self._pieces = tf_text.SentencepieceTokenizer(model=model,
                                                  out_type=tf.string)
    self._combining = _combining_class_regex()
    self.vocab_size = int(self._pieces.vocab_size())
    self.special_ids = {name: int(self._pieces.string_to_id(name))
                        for name in ("[CLS]", "[SEP]", "[MASK]")}

  def preprocess(self, texts):
    """ALBERT's preprocess_text: string [batch] -> string [batch]."""
    texts = tf.strings.regex_replace(texts, _PY_WHITESPACE, " ")
    texts = tf.strings.regex_replace(texts, "^ | $", "")
    texts = self._normalize(texts, "NFKD")
    texts = tf.strings.regex_replace(texts, self._combining, "")
    if self.do_lower_case:
      # tf.strings.lower stops at a NUL (and a separator attribute cannot
      # hold one): lower the parts between NULs, end each with a NUL, join,
      # drop the last.
      parts = tf.strings.split(texts, "\x00")
      parts = tf.ragged.map_flat_values(
          lambda p: tf.strings.join([tf.strings.lower(p, encoding="utf-8"),
                                     tf.constant("\x00")]), parts)
      texts = tf.strings.reduce_join(parts, axis=-1)
      lengths = tf.strings.length(texts) - 1
      texts = tf.strings.substr(texts, tf.zeros_like(lengths), lengths)
    return texts

  def encode_pieces(self, texts):
    """ALBERT's encode_pieces of preprocessed texts.

    Args:
      texts: string [batch], preprocessed.

    Returns:
      string RaggedTensor [batch, (pieces)].
    """
    pieces = self._pieces.tokenize(texts)
    flat = pieces.flat_values
    rule = tf.strings.regex_full_match(flat, r".*\p{Nd},")
    stems = tf.strings.regex_replace(
        tf.strings.regex_replace(flat, ",$", ""), "\u2581", "")
    # Each piece becomes a row: its re-encoding plus "," where the rule
    # applies, else itself.
    again = self._pieces.tokenize(tf.where(rule, stems, ""))
    again = tf.concat([again, tf.fill([tf.size(flat), 1], ",")], axis=1)
    keep_again = tf.ragged.boolean_mask(
        again, tf.logical_and(tf.ones_like(again, tf.bool), rule[:, None]))
    itself = tf.ragged.boolean_mask(flat[:, None],
                                    tf.logical_not(rule)[:, None])
    rows = tf.concat([keep_again, itself], axis=1)
    return pieces.with_flat_values(rows).merge_dims(1, 2)

  def tokenize(self, texts):
    """string [batch] -> int32 RaggedTensor [batch, (pieces)] of ids."""
    pieces = self.encode_pieces(self.preprocess(texts))
    ids = tf.ragged.map_flat_values(self._pieces.string_to_id, pieces)
    # int64 row splits, as the WordPiece tokenizer's (one packing signature).
    return ids.with_row_splits_dtype(tf.int64)

