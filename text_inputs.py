# coding=utf-8
"""The one input packer: `[CLS] A [SEP] (B [SEP])`, mask, segment ids, padding.

Every task builds its model inputs here: sentence (pair) classification,
feature extraction and SQuAD (the question as A, a window of the context as
B), and tagging. The special tokens come from the tokenizer
(`tokenizer.cls_token` / `sep_token` where it has them, else BERT's "[CLS]" /
"[SEP]"), so a SentencePiece vocabulary packs the same way. `tokenize_words`
WordPiece-splits pre-split words keeping the piece <-> word maps that SQuAD
and tagging need.

No TensorFlow: plain lists of ids, as Google's conversion code makes them.
"""

import collections

PackedInputs = collections.namedtuple(
    "PackedInputs", ["tokens", "input_ids", "input_mask", "segment_ids"])
PackedInputs.__doc__ = """One packed sequence.

  tokens: the tokens, [CLS] and [SEP] included, no padding.
  input_ids: int list [max_seq_length], zero-padded.
  input_mask: 1 for real tokens, 0 for padding [max_seq_length].
  segment_ids: 0 for [CLS] A [SEP], 1 for B [SEP], 0 for padding.
"""

WordPieces = collections.namedtuple(
    "WordPieces", ["pieces", "piece_to_word", "word_to_first_piece",
                   "word_starts"])
WordPieces.__doc__ = """The WordPieces of a list of words.

  pieces: every word's pieces, in order.
  piece_to_word: for each piece, the index of its word.
  word_to_first_piece: for each word, the index of its first piece, or -1 for
    a word with no pieces (e.g. only characters the tokenizer drops).
  word_starts: for each word, the number of pieces before it (Google's SQuAD
    `orig_to_tok_index`: for a word with no pieces, the next word's start).
"""


def special_tokens(tokenizer):
  """(cls, sep) tokens of `tokenizer`; BERT's "[CLS]", "[SEP]" by default."""
  return (getattr(tokenizer, "cls_token", None) or "[CLS]",
          getattr(tokenizer, "sep_token", None) or "[SEP]")


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Truncates a sequence pair in place to the maximum length (Google's rule).

  The longer sequence loses its last token until the pair fits: a token of a
  short sequence likely carries more information than one of a long sequence.

  Args:
    tokens_a: list, shortened in place.
    tokens_b: list, shortened in place.
    max_length: the largest len(tokens_a) + len(tokens_b).
  """
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def pack_inputs(tokenizer, tokens_a, tokens_b, max_seq_length):
  """Packs one or two token lists into fixed-length model inputs.

  The convention in BERT is:
  (a) For sequence pairs:
   tokens:   [CLS] is this jack ##son ##ville ? [SEP] no it is not . [SEP]
   type_ids: 0     0  0    0    0     0       0 0     1  1  1  1   1 1
  (b) For single sequences:
   tokens:   [CLS] the dog is hairy . [SEP]
   type_ids: 0     0   0   0  0     0 0

  Args:
    tokenizer: gives the special tokens and `convert_tokens_to_ids`.
    tokens_a: list of tokens (not changed).
    tokens_b: list of tokens, or None / empty for a single sequence (not
      changed).
    max_seq_length: the padded length. A pair longer than max_seq_length - 3
      is cut by `truncate_seq_pair`, a single sequence longer than
      max_seq_length - 2 loses its tail.

  Returns:
    PackedInputs.
  """
  cls, sep = special_tokens(tokenizer)
  tokens_a = list(tokens_a)
  tokens_b = list(tokens_b) if tokens_b else None
  if tokens_b:
    # Account for [CLS], [SEP], [SEP] with "- 3".
    truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
  elif len(tokens_a) > max_seq_length - 2:
    # Account for [CLS] and [SEP] with "- 2".
    tokens_a = tokens_a[0:(max_seq_length - 2)]
  tokens = [cls] + tokens_a + [sep]
  segment_ids = [0] * len(tokens)
  if tokens_b:
    tokens += tokens_b + [sep]
    segment_ids += [1] * (len(tokens_b) + 1)
  input_ids = list(tokenizer.convert_tokens_to_ids(tokens))
  # The mask has 1 for real tokens and 0 for padding tokens. Only real
  # tokens are attended to.
  input_mask = [1] * len(input_ids)
  padding = [0] * (max_seq_length - len(input_ids))
  return PackedInputs(tokens=tokens, input_ids=input_ids + padding,
                      input_mask=input_mask + padding,
                      segment_ids=segment_ids + padding)


def tokenize_words(tokenizer, words):
  """WordPiece-splits pre-split words, keeping the piece <-> word maps.

  Args:
    tokenizer: has `tokenize(text)`.
    words: list of str (SQuAD's whitespace words, CoNLL's tokens).

  Returns:
    WordPieces.
  """
  pieces = []
  piece_to_word = []
  word_to_first_piece = []
  word_starts = []
  for (i, word) in enumerate(words):
    word_starts.append(len(pieces))
    word_pieces = tokenizer.tokenize(word)
    word_to_first_piece.append(len(pieces) if word_pieces else -1)
    for piece in word_pieces:
      piece_to_word.append(i)
      pieces.append(piece)
  return WordPieces(pieces, piece_to_word, word_to_first_piece, word_starts)
