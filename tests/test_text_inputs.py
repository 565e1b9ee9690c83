"""text_inputs.py: the one packer against the three packers it replaced.

The references below are the packing parts of Google's run_classifier.py
`convert_single_example`, extract_features.py `convert_examples_to_features`
and run_squad.py `convert_examples_to_features` (eedf571), written out as they
were; the packer must give the same tokens, ids, mask and segment ids on
random single sequences and pairs of every length relation, truncation
included.
"""

import random

import pytest

from conftest import fixture_path
import text_inputs
import tokenization


class ToyTokenizer(object):
  """Token i is "t<i>"; [CLS] = 101, [SEP] = 102, as in BERT's vocabularies."""

  def convert_tokens_to_ids(self, tokens):
    special = {"[CLS]": 101, "[SEP]": 102, "<s>": 1, "</s>": 2}
    return [special[t] if t in special else int(t[1:]) for t in tokens]


def google_truncate(tokens_a, tokens_b, max_length):
  while True:
    total_length = len(tokens_a) + len(tokens_b)
    if total_length <= max_length:
      break
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def google_classifier_pack(tokens_a, tokens_b, max_seq_length, tokenizer):
  """run_classifier.convert_single_example's packing (and extract_features',
  which differs only in naming segment_ids input_type_ids)."""
  if tokens_b:
    google_truncate(tokens_a, tokens_b, max_seq_length - 3)
  else:
    if len(tokens_a) > max_seq_length - 2:
      tokens_a = tokens_a[0:(max_seq_length - 2)]
  tokens = []
  segment_ids = []
  tokens.append("[CLS]")
  segment_ids.append(0)
  for token in tokens_a:
    tokens.append(token)
    segment_ids.append(0)
  tokens.append("[SEP]")
  segment_ids.append(0)
  if tokens_b:
    for token in tokens_b:
      tokens.append(token)
      segment_ids.append(1)
    tokens.append("[SEP]")
    segment_ids.append(1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  input_mask = [1] * len(input_ids)
  while len(input_ids) < max_seq_length:
    input_ids.append(0)
    input_mask.append(0)
    segment_ids.append(0)
  return tokens, input_ids, input_mask, segment_ids


def google_squad_pack(query_tokens, doc_window, max_seq_length, tokenizer):
  """run_squad.convert_examples_to_features's packing of one window."""
  tokens = []
  segment_ids = []
  tokens.append("[CLS]")
  segment_ids.append(0)
  for token in query_tokens:
    tokens.append(token)
    segment_ids.append(0)
  tokens.append("[SEP]")
  segment_ids.append(0)
  for token in doc_window:
    tokens.append(token)
    segment_ids.append(1)
  tokens.append("[SEP]")
  segment_ids.append(1)
  input_ids = tokenizer.convert_tokens_to_ids(tokens)
  input_mask = [1] * len(input_ids)
  while len(input_ids) < max_seq_length:
    input_ids.append(0)
    input_mask.append(0)
    segment_ids.append(0)
  return tokens, input_ids, input_mask, segment_ids


def random_tokens(rng, n):
  return ["t%d" % rng.randint(1, 30000) for _ in range(n)]


def test_classifier_and_extract_features_packing():
  rng = random.Random(0)
  tokenizer = ToyTokenizer()
  for _ in range(3000):
    max_seq_length = rng.randint(5, 24)
    tokens_a = random_tokens(rng, rng.randint(0, 30))
    tokens_b = rng.choice([None, [], random_tokens(rng, rng.randint(0, 30))])
    a, b = list(tokens_a), tokens_b and list(tokens_b)
    packed = text_inputs.pack_inputs(tokenizer, tokens_a, tokens_b,
                                     max_seq_length)
    # The caller's lists are left alone (Google's truncated them in place).
    assert (tokens_a, tokens_b) == (a, b)
    assert tuple(packed) == google_classifier_pack(a, b, max_seq_length,
                                                   tokenizer)
    assert len(packed.input_ids) == max_seq_length


def test_squad_window_packing():
  rng = random.Random(1)
  tokenizer = ToyTokenizer()
  for _ in range(2000):
    max_seq_length = rng.randint(8, 40)
    query = random_tokens(rng, rng.randint(0, max_seq_length - 4))
    window = random_tokens(rng, rng.randint(1, max_seq_length - 3 -
                                            len(query)))
    packed = text_inputs.pack_inputs(tokenizer, query, window, max_seq_length)
    assert tuple(packed) == google_squad_pack(query, window, max_seq_length,
                                              tokenizer)


def test_special_tokens_come_from_the_tokenizer():
  tokenizer = ToyTokenizer()
  tokenizer.cls_token, tokenizer.sep_token = "<s>", "</s>"
  packed = text_inputs.pack_inputs(tokenizer, ["t5"], ["t6"], 6)
  assert packed.tokens == ["<s>", "t5", "</s>", "t6", "</s>"]
  assert packed.input_ids == [1, 5, 2, 6, 2, 0]
  assert packed.segment_ids == [0, 0, 0, 1, 1, 0]
  assert packed.input_mask == [1, 1, 1, 1, 1, 0]


def test_truncate_seq_pair_is_googles_rule():
  rng = random.Random(2)
  for _ in range(500):
    a = random_tokens(rng, rng.randint(0, 20))
    b = random_tokens(rng, rng.randint(0, 20))
    limit = rng.randint(0, 30)
    ours_a, ours_b, ref_a, ref_b = list(a), list(b), list(a), list(b)
    text_inputs.truncate_seq_pair(ours_a, ours_b, limit)
    google_truncate(ref_a, ref_b, limit)
    assert (ours_a, ours_b) == (ref_a, ref_b)


def google_doc_tokens(tokenizer, doc_tokens):
  """run_squad's WordPiece split of a context's words."""
  tok_to_orig_index = []
  orig_to_tok_index = []
  all_doc_tokens = []
  for (i, token) in enumerate(doc_tokens):
    orig_to_tok_index.append(len(all_doc_tokens))
    sub_tokens = tokenizer.tokenize(token)
    for sub_token in sub_tokens:
      tok_to_orig_index.append(i)
      all_doc_tokens.append(sub_token)
  return tok_to_orig_index, orig_to_tok_index, all_doc_tokens


@pytest.mark.parametrize("words", [
    ["The", "jacksonville", "(1895-1943).", "\u200b", "caf\u00e9", ""],
    ["\u200b", "a"], ["unaffable", "\u00ad"], []])
def test_tokenize_words(words):
  tokenizer = tokenization.FullTokenizer(fixture_path("vocab_uncased.txt"))
  result = text_inputs.tokenize_words(tokenizer, words)
  tok_to_orig, orig_to_tok, pieces = google_doc_tokens(tokenizer, words)
  assert result.pieces == pieces
  assert result.piece_to_word == tok_to_orig
  assert result.word_starts == orig_to_tok
  for i, word in enumerate(words):
    if tokenizer.tokenize(word):
      assert pieces[result.word_to_first_piece[i]] == tokenizer.tokenize(
          word)[0]
      assert result.piece_to_word[result.word_to_first_piece[i]] == i
    else:
      assert result.word_to_first_piece[i] == -1


def test_windows_and_max_context_by_hand():
  # 10 pieces, windows of 4 starting every 2 pieces: [0-3] [2-5] [4-7]
  # [6-9]. Score = min(left, right) + 0.04; e.g. piece 3 scores 0.04 in
  # window 0 and 1.04 in window 1; piece 2 scores 1.04 in window 0 and
  # 0.04 in window 1.
  windows = text_inputs.sliding_windows(10, 4, 2)
  assert windows == [(0, 4), (2, 4), (4, 4), (6, 4)]
  assert text_inputs.best_windows(windows, 10) == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
  # 7 pieces, stride 3: [0-3] [3-6]. Piece 3 scores 0.04 in both: the first
  # window wins the tie.
  windows = text_inputs.sliding_windows(7, 4, 3)
  assert windows == [(0, 4), (3, 4)]
  assert text_inputs.best_windows(windows, 7) == [0, 0, 0, 0, 1, 1, 1]
  # A stride longer than the window is capped (no piece is skipped).
  assert text_inputs.sliding_windows(9, 4, 10) == [(0, 4), (4, 4), (8, 1)]
  assert text_inputs.sliding_windows(0, 4, 2) == []


@pytest.mark.parametrize("num_pieces,max_pieces,stride", [
    (10, 4, 2), (7, 4, 3), (23, 6, 1), (23, 6, 5), (50, 8, 3), (5, 8, 3)])
def test_best_windows_match_is_max_context(num_pieces, max_pieces, stride):
  """best_windows (all pieces at once, tagging) agrees with is_max_context
  (one piece and window at a time, Google's SQuAD rule)."""
  windows = text_inputs.sliding_windows(num_pieces, max_pieces, stride)
  best = text_inputs.best_windows(windows, num_pieces)
  for position in range(num_pieces):
    for index, window in enumerate(windows):
      if window.start <= position < window.start + window.length:
        assert text_inputs.is_max_context(windows, index, position) == (
            best[position] == index)



@pytest.mark.parametrize("max_pieces,stride", [(0, 2), (4, 0)])
def test_windows_that_would_never_end_are_refused(max_pieces, stride):
  with pytest.raises(ValueError, match="max_pieces >= 1 and stride >= 1"):
    text_inputs.sliding_windows(5, max_pieces, stride)
