# coding=utf-8
"""The one input packer: `[CLS] A [SEP] (B [SEP])`, mask, segment ids, padding.

Every task builds its model inputs here: sentence (pair) classification,
feature extraction and SQuAD (the question as A, a window of the context as
B), and tagging. The special tokens come from the tokenizer
(`tokenizer.cls_token` / `sep_token` where it has them, else BERT's "[CLS]" /
"[SEP]"), so a SentencePiece vocabulary packs the same way. `tokenize_words`
WordPiece-splits pre-split words keeping the piece <-> word maps that SQuAD
and tagging need; `sliding_windows` cuts a long text into overlapping windows
(SQuAD's doc_stride) and `is_max_context` / `best_windows` say which window
predicts each piece.

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

Window = collections.namedtuple("Window", ["start", "length"])
Window.__doc__ = """A window of pieces: `length` pieces from index `start`."""

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


def sliding_windows(num_pieces, max_pieces, stride):
  """Overlapping windows over a text's pieces (Google's SQuAD doc spans).

  Args:
    num_pieces: number of pieces in the text.
    max_pieces: the longest window.
    stride: how far each window starts after the previous one; capped at
      the window length, so the windows cover every piece.

  Returns:
    list of Window(start, length); empty for no pieces.

  Raises:
    ValueError: max_pieces or stride below 1 (the windows would never end).
  """
  if max_pieces < 1 or stride < 1:
    raise ValueError("windows need max_pieces >= 1 and stride >= 1, got %d "
                     "and %d" % (max_pieces, stride))
  windows = []
  start = 0
  while start < num_pieces:
    length = min(num_pieces - start, max_pieces)
    windows.append(Window(start, length))
    if start + length == num_pieces:
      break
    start += min(length, stride)
  return windows


def _context_score(window, position):
  """min(pieces left, pieces right of `position` in `window`) + 0.01 * length.

  The small length term breaks ties towards longer windows, as Google's
  SQuAD code does.
  """
  end = window.start + window.length - 1
  return (min(position - window.start, end - position) +
          0.01 * window.length)


def is_max_context(windows, window_index, position):
  """Whether window `window_index` is the 'max context' one for a piece.

  A piece inside several windows belongs to the one where it has the most
  context (`_context_score`); the first such window on a tie. Google's
  `_check_is_max_context`.

  Args:
    windows: list of Window.
    window_index: the window asked about.
    position: the piece's index in the text.

  Returns:
    bool.
  """
  best_score = None
  best_index = None
  for index, window in enumerate(windows):
    if not window.start <= position < window.start + window.length:
      continue
    score = _context_score(window, position)
    if best_score is None or score > best_score:
      best_score = score
      best_index = index
  return window_index == best_index


def best_windows(windows, num_pieces):
  """The max-context window of every piece at once (`is_max_context`'s rule).

  Args:
    windows: list of Window from sliding_windows (covering every piece).
    num_pieces: number of pieces in the text.

  Returns:
    list of int [num_pieces], the best window index of each piece.
  """
  best = [-1] * num_pieces
  best_score = [None] * num_pieces
  for index, window in enumerate(windows):
    for position in range(window.start, window.start + window.length):
      score = _context_score(window, position)
      if best_score[position] is None or score > best_score[position]:
        best_score[position] = score
        best[position] = index
  return best
