# coding=utf-8
"""ALBERT's tokenization: SentencePiece, or WordPiece with ALBERT's vocab.

The public names and their behaviour are those of google-research/albert's
tokenization.py (commit b772393) run on Python 3:

* `preprocess_text`: whitespace runs to one space, NFKD, combining characters
  dropped, optionally lower-cased.
* `encode_pieces` / `encode_ids`: SentencePiece pieces with ALBERT's
  digit-comma rule. A piece ending in `<digit>,` (e.g. `1,`, which a model
  trained with `--split_by_number=false` has) is encoded again without the
  comma and without U+2581, and `,` is appended. ALBERT then means to drop the
  U+2581 that the second encoding puts in front, but its test compares a
  `str` piece with the bytes `SPIECE_UNDERLINE`, which is never equal on
  Python 3, so the U+2581 stays: `1,000,000` gives `▁ ▁ 1 , 0 00 , 0 00`
  (SentencePiece alone: `▁ 1, 0 00 , 0 00`). The reference outputs of
  ALBERT's code pin this, and so does this module. (Hugging Face's
  AlbertTokenizer drops that U+2581, so its pieces differ here.)
* `load_vocab`: ALBERT's reading of a vocab file, which differs from BERT's:
  a token listed twice keeps its first id, ids count the distinct tokens in
  order (not the lines), a line is cut to its first whitespace-separated
  field (`token<TAB>score` files work) and a blank line is the token " ".
* `FullTokenizer(vocab_file, do_lower_case, spm_model_file)`: SentencePiece
  when `spm_model_file` is given (then `tokenize` neither lower-cases nor
  calls `preprocess_text`: ALBERT's callers do that), else BERT's WordPiece
  tokenizer (the repository's tokenization.py) over ALBERT's `load_vocab`.

Beyond ALBERT: `tokenize_batch_ids` / `encode_batch` encode many texts at
once (SentencePiece's own threads, or tokenization.py's worker processes),
for create_pretraining_data; the tokenizer names its special tokens
(`cls_token`, `sep_token`, `mask_token`) for the shared input packer.
"""

import collections
import functools
import itertools
import re
import unicodedata

import numpy as np

import tokenization as bert_tokenization
import validation

# ALBERT's constant: the UTF-8 bytes of U+2581 (bytes, as in ALBERT; see the
# digit-comma rule in the module docstring for why that matters).
SPIECE_UNDERLINE = u"▁".encode("utf-8")
_UNDERLINE = u"▁"

# Functions ALBERT's module has with the same behaviour as BERT's.
convert_to_unicode = bert_tokenization.convert_to_unicode
printable_text = bert_tokenization.printable_text
convert_by_vocab = bert_tokenization.convert_by_vocab
convert_tokens_to_ids = bert_tokenization.convert_tokens_to_ids
convert_ids_to_tokens = bert_tokenization.convert_ids_to_tokens
whitespace_tokenize = bert_tokenization.whitespace_tokenize
BasicTokenizer = bert_tokenization.BasicTokenizer
WordpieceTokenizer = bert_tokenization.WordpieceTokenizer

EncodedBatch = collections.namedtuple(
    "EncodedBatch", ["ids", "lengths", "unknown_positions", "unknown_pieces"])


@functools.lru_cache(maxsize=None)
def _combining_pattern():
  """A regex matching one character with a non-zero combining class.

  Built once per process from this Python's unicodedata (about 0.3 s), so
  that dropping combining characters is one re.sub, not a Python loop.
  """
  ranges = bert_tokenization._code_point_ranges(  # pylint: disable=protected-access
      lambda c: unicodedata.combining(chr(c)) != 0)
  return re.compile(bert_tokenization._char_class(ranges))  # pylint: disable=protected-access


def preprocess_text(inputs, remove_space=True, lower=False):
  """ALBERT's text normalisation before SentencePiece.

  Args:
    inputs: str (bytes are decoded as UTF-8, invalid bytes dropped; ALBERT
      fails on bytes under Python 3).
    remove_space: bool, strip the text and turn each run of whitespace
      (Python's str.split(), e.g. U+0085 and U+2028 too) into one space.
    lower: bool, lower-case at the end (str.lower(): "İ" gives "i̇").

  Returns:
    str: NFKD-normalised, without combining characters (any character with a
    non-zero canonical combining class).
  """
  outputs = convert_to_unicode(inputs)
  if remove_space:
    outputs = " ".join(outputs.strip().split())
  if not outputs.isascii():  # ASCII is its own NFKD, without combining marks
    outputs = unicodedata.normalize("NFKD", outputs)
    outputs = _combining_pattern().sub("", outputs)
  if lower:
    outputs = outputs.lower()
  return outputs


def _ends_with_digit_comma(piece):
  """Whether ALBERT's digit-comma rule applies to a piece (str)."""
  return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


def encode_pieces(sp_model, text, return_unicode=True, sample=False):
  """SentencePiece pieces of `text` with ALBERT's digit-comma rule.

  Args:
    sp_model: a sentencepiece.SentencePieceProcessor.
    text: str (or UTF-8 bytes).
    return_unicode: ignored on Python 3 (pieces are str), as in ALBERT.
    sample: draw one segmentation (SentencePiece's sampling, nbest 64,
      alpha 0.1) instead of the best one.

  Returns:
    list of str pieces (see the module docstring for the rule).
  """
  del return_unicode  # only meaningful on Python 2
  if sample:
    pieces = sp_model.SampleEncodeAsPieces(text, 64, 0.1)
  else:
    pieces = sp_model.EncodeAsPieces(text)
  new_pieces = []
  for piece in pieces:
    piece = printable_text(piece)
    if _ends_with_digit_comma(piece):
      # ALBERT would drop a leading U+2581 of the first new piece here, but
      # its str-vs-bytes test is never true on Python 3: it stays.
      new_pieces.extend(sp_model.EncodeAsPieces(
          piece[:-1].replace(_UNDERLINE, "")))
      new_pieces.append(piece[-1])
    else:
      new_pieces.append(piece)
  return new_pieces


def encode_ids(sp_model, text, sample=False):
  """The ids of encode_pieces(sp_model, text, sample=sample) (list of int)."""
  return [sp_model.PieceToId(piece)
          for piece in encode_pieces(sp_model, text, sample=sample)]


def load_vocab(vocab_file):
  """ALBERT's reading of a vocabulary file (not BERT's).

  Each line (read as tf.gfile's readline gives it, see
  tokenization.read_vocab_lines) gives the token `line.strip().split()[0]`,
  or " " if the line is blank. A token gets the next free id the first time
  it is seen; later lines with the same token are ignored, so ids are
  consecutive even with repeats, and `token<TAB>score` lines (SentencePiece
  .vocab files) give the token.

  Args:
    vocab_file: path of the vocabulary file (local, or any tf.io.gfile URL).

  Returns:
    collections.OrderedDict mapping token (str) -> id (int).

  Raises:
    ValueError: the file cannot be read, is not UTF-8, or holds no line.
  """
  vocab = collections.OrderedDict()
  for line in bert_tokenization.read_vocab_lines(vocab_file):
    token = line.strip().split()[0] if line.strip() else " "
    if token not in vocab:
      vocab[token] = len(vocab)
  return vocab


def load_spm_model(spm_model_file):
  """Loads a SentencePiece model from a local path or tf.io.gfile URL.

  Args:
    spm_model_file: path of the .model file.

  Returns:
    sentencepiece.SentencePieceProcessor.

  Raises:
    ValueError: the file cannot be read or is not a SentencePiece model.
  """
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  try:
    proto = bert_tokenization._read_bytes(spm_model_file)  # pylint: disable=protected-access
  except (OSError, IOError) as e:
    raise validation.DataError("Cannot read --spm_model_file %s: %s" %
                     (spm_model_file, e)) from e
  sp_model = spm.SentencePieceProcessor()
  try:
    sp_model.LoadFromSerializedProto(proto)
  except (RuntimeError, OSError, TypeError) as e:
    raise validation.DataError("--spm_model_file %s is not a SentencePiece model: %s" %
                     (spm_model_file, e)) from e
  return sp_model


class FullTokenizer(object):
  """ALBERT's end-to-end tokenizer: SentencePiece, or WordPiece.

  Attributes:
    vocab: dict token -> id (SentencePiece: every piece of the model).
    inv_vocab: dict id -> token.
    sp_model: the SentencePieceProcessor, or None on the WordPiece path.
    basic_tokenizer, wordpiece_tokenizer: the WordPiece path's stages (absent
      with SentencePiece, as in ALBERT).
    cls_token, sep_token, mask_token: the special tokens ("[CLS]", "[SEP]",
      "[MASK]" in ALBERT's models), for input packers.
  """

  cls_token = "[CLS]"
  sep_token = "[SEP]"
  mask_token = "[MASK]"

  def __init__(self, vocab_file, do_lower_case=True, spm_model_file=None):
    """Loads the SentencePiece model, or the vocabulary.

    Args:
      vocab_file: WordPiece vocabulary (read by ALBERT's load_vocab); unused
        when spm_model_file is given.
      do_lower_case: bool, lower-case and strip accents on the WordPiece path;
        SentencePiece ignores it (ALBERT's callers lower-case the text with
        preprocess_text first).
      spm_model_file: SentencePiece model file, or None for WordPiece.

    Raises:
      ValueError: a file cannot be read or has the wrong format.
    """
    self.vocab = None
    self.sp_model = None
    self._wordpiece = None
    if spm_model_file:
      self.sp_model = load_spm_model(spm_model_file)
      self.vocab = {self.sp_model.IdToPiece(i): i
                    for i in range(self.sp_model.GetPieceSize())}
      # Ids after which encode_pieces differs from SentencePiece's ids, or
      # whose piece is not the text's (an unknown piece's text is its own).
      self._needs_pieces = np.array(
          [_ends_with_digit_comma(self.sp_model.IdToPiece(i)) or
           self.sp_model.IsUnknown(i) for i in range(len(self.vocab))], bool)
    else:
      self.vocab = load_vocab(vocab_file)
      self._wordpiece = bert_tokenization.FullTokenizer(
          vocab_file, do_lower_case=do_lower_case, vocab=self.vocab)
      self.basic_tokenizer = self._wordpiece.basic_tokenizer
      self.wordpiece_tokenizer = self._wordpiece.wordpiece_tokenizer
    self.inv_vocab = {v: k for k, v in self.vocab.items()}

  @classmethod
  def from_scratch(cls, vocab_file, do_lower_case, spm_model_file):
    """ALBERT's alternative constructor: the same as FullTokenizer(...)."""
    return cls(vocab_file, do_lower_case, spm_model_file)

  def tokenize(self, text):
    """Splits `text` into pieces (SentencePiece) or word pieces.

    Args:
      text: str or UTF-8 bytes; with SentencePiece, already preprocess_text'ed
        as ALBERT's scripts do.

    Returns:
      list of str.
    """
    if self.sp_model:
      return encode_pieces(self.sp_model, text, return_unicode=False)
    return self._wordpiece.tokenize(text)

  def convert_tokens_to_ids(self, tokens):
    """Maps tokens to ids (SentencePiece: unknown pieces give <unk>'s id)."""
    if self.sp_model:
      return [self.sp_model.PieceToId(printable_text(token))
              for token in tokens]
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    """Maps ids to tokens (KeyError or IndexError on an unknown id)."""
    if self.sp_model:
      return [self.sp_model.IdToPiece(int(id_)) for id_ in ids]
    return convert_by_vocab(self.inv_vocab, ids)

  def tokenize_batch_ids(self, texts, num_workers=None):
    """Ids of many texts at once: [convert_tokens_to_ids(tokenize(t))].

    Args:
      texts: iterable of str (see tokenize).
      num_workers: threads (SentencePiece) or processes (WordPiece, see
        tokenization.FullTokenizer.tokenize_batch); None: all cores.

    Returns:
      (ids, lengths): int32 [all tokens], the ids of every text one after the
      other, and int64 [len(texts)], each text's number of tokens.
    """
    return tuple(self.encode_batch(texts, num_workers)[:2])

  def encode_batch(self, texts, num_workers=None):
    """tokenize_batch_ids, also naming the pieces that are no vocab entry.

    SentencePiece turns a run of characters it does not know into one
    piece, the text itself, with <unk>'s id; ALBERT's data script looks at
    that text (e.g. whether a piece starts a word), so it is reported.

    Args:
      texts: iterable of str (see tokenize).
      num_workers: as in tokenize_batch_ids.

    Returns:
      EncodedBatch(ids, lengths, unknown_positions, unknown_pieces): ids and
      lengths as tokenize_batch_ids, int64 [k] the indexes into ids of the
      pieces that are not the vocabulary's piece of their id, and the list
      of those k pieces.
    """
    if not self.sp_model:
      ids, lengths = self._wordpiece.tokenize_batch_ids(texts, num_workers)
      return EncodedBatch(ids, lengths, np.zeros(0, np.int64), [])
    texts = [convert_to_unicode(text) for text in texts]
    if num_workers is None:
      num_workers = bert_tokenization._available_cores()  # pylint: disable=protected-access
    id_lists = self.sp_model.Encode(texts, out_type=int,
                                    num_threads=num_workers)
    ids, lengths = _flatten(id_lists)
    if not len(ids) or not self._needs_pieces[ids].any():
      return EncodedBatch(ids, lengths, np.zeros(0, np.int64), [])
    return self._encode_with_pieces(texts, id_lists, ids, lengths)

  def _encode_with_pieces(self, texts, id_lists, ids, lengths):
    """encode_batch for a batch where some texts need encode_pieces.

    Args:
      texts: list of str.
      id_lists: SentencePiece's ids of each text (changed in place).
      ids: int32 [all tokens] those ids flattened.
      lengths: int64 [len(texts)].

    Returns:
      EncodedBatch.
    """
    text_of_token = np.repeat(np.arange(len(texts)), lengths)
    redo = np.unique(text_of_token[self._needs_pieces[ids]])
    unknown = {}  # text index -> [(index in the text, piece)]
    for index in redo.tolist():
      pieces = encode_pieces(self.sp_model, texts[index])
      id_lists[index] = [self.sp_model.PieceToId(p) for p in pieces]
      unknown[index] = [(k, p) for k, (p, i) in enumerate(
          zip(pieces, id_lists[index])) if p != self.sp_model.IdToPiece(i)]
    ids, lengths = _flatten(id_lists)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positions = [int(starts[index]) + k for index in sorted(unknown)
                 for k, _ in unknown[index]]
    pieces = [p for index in sorted(unknown) for _, p in unknown[index]]
    return EncodedBatch(ids, lengths, np.array(positions, np.int64), pieces)

  def close(self):
    """Stops the WordPiece path's worker processes, if any are running."""
    if self._wordpiece is not None:
      self._wordpiece.close()


class TextTokenizer(FullTokenizer):
  """FullTokenizer for raw text: ALBERT's normalisation is done here.

  ALBERT's scripts call `preprocess_text(text, lower=do_lower_case)` before
  SentencePiece; readers shared with BERT (run_classifier.py's processors and
  user data, the TF Hub runner, extract_features.py) hand raw text to their
  tokenizer, so with SentencePiece this one preprocesses it first. The
  WordPiece path is FullTokenizer's (BERT's tokenizer lower-cases itself;
  ALBERT leaves the text as it is there).
  """

  def __init__(self, vocab_file, do_lower_case=True, spm_model_file=None):
    """As FullTokenizer; `do_lower_case` also lower-cases SentencePiece input.
    """
    super(TextTokenizer, self).__init__(vocab_file, do_lower_case,
                                        spm_model_file)
    self.do_lower_case = do_lower_case

  def preprocess(self, text):
    """The text as ALBERT's scripts pass it to FullTokenizer.tokenize."""
    if self.sp_model:
      return preprocess_text(text, lower=self.do_lower_case)
    return text

  def tokenize(self, text):
    """Pieces of raw `text` (str or UTF-8 bytes)."""
    return super(TextTokenizer, self).tokenize(self.preprocess(text))

  def encode_batch(self, texts, num_workers=None):
    """FullTokenizer.encode_batch of the preprocessed texts."""
    return super(TextTokenizer, self).encode_batch(
        [self.preprocess(text) for text in texts], num_workers)


def _flatten(id_lists):
  """(int32 [all ids], int64 [len(id_lists)] lengths) of lists of ids."""
  lengths = np.fromiter(map(len, id_lists), dtype=np.int64,
                        count=len(id_lists))
  ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int32,
                    count=int(lengths.sum()))
  return ids, lengths
