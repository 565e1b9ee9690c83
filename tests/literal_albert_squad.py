# coding=utf-8
"""ALBERT's SQuAD character alignment written plainly, as its code runs.

A literal reading of convert_examples_to_features in google-research/albert's
squad_utils.py (b772393) for the tests: a dense numpy matrix for the LCS
lengths, a dict of back pointers, preprocess_text called in every cell, and
the neighbour rule for unmatched positions. Slow; imports nothing from
albert/ (the text functions are literal_albert_tokenization's).
"""

import numpy as np

import literal_albert_tokenization as literal


def _lcs(paragraph_text, tok_cat_text, max_dist, do_lower_case):
  """(f, g) of ALBERT's banded LCS: dense lengths and a dict of pointers."""
  n, m = len(paragraph_text), len(tok_cat_text)
  f = np.zeros((max(n, 1), max(m, 1)), dtype=np.float32)
  g = {}
  for i in range(n):
    for j in range(i - max_dist, i + max_dist):
      if j >= m or j < 0:
        continue
      if i > 0:
        g[(i, j)] = 0
        f[i, j] = f[i - 1, j]
      if j > 0 and f[i, j - 1] > f[i, j]:
        g[(i, j)] = 1
        f[i, j] = f[i, j - 1]
      f_prev = f[i - 1, j - 1] if i > 0 and j > 0 else 0
      same = literal.preprocess_text(paragraph_text[i], lower=do_lower_case,
                                     remove_space=False) == tok_cat_text[j]
      if same and f_prev + 1 > f[i, j]:
        g[(i, j)] = 2
        f[i, j] = f_prev + 1
  return f, g


def _neighbour(index, pos, m=None, is_start=True):
  """ALBERT's _convert_index: the value at pos, or one from its neighbours."""
  if index[pos] is not None:
    return index[pos]
  rear = pos
  while rear < len(index) - 1 and index[rear] is None:
    rear += 1
  front = pos
  while front > 0 and index[front] is None:
    front -= 1
  if index[front] is None:
    if index[rear] >= 1:
      return 0 if is_start else index[rear] - 1
    return index[rear]
  if index[rear] is None:
    if m is not None and index[front] < m - 1:
      return index[front] + 1 if is_start else m - 1
    return index[front]
  if index[rear] > index[front] + 1:
    return index[front] + 1 if is_start else index[rear] - 1
  return index[rear] if is_start else index[front]


def align(sp_model, paragraph_text, do_lower_case):
  """ALBERT's piece -> character maps of a context, or None on a mismatch.

  Returns:
    (pieces, tok_start_to_orig_index, tok_end_to_orig_index,
    orig_to_chartok_index, chartok_to_tok_index) or None.
  """
  pieces = literal.encode_pieces(
      sp_model, literal.preprocess_text(paragraph_text, lower=do_lower_case))
  chartok_to_tok_index, starts, ends = [], [], []
  count = 0
  for i, piece in enumerate(pieces):
    text = piece.replace(u"\u2581", " ")
    chartok_to_tok_index.extend([i] * len(text))
    starts.append(count)
    count += len(text)
    ends.append(count - 1)
  tok_cat_text = "".join(pieces).replace(u"\u2581", " ")
  n, m = len(paragraph_text), len(tok_cat_text)
  max_dist = abs(n - m) + 5
  for _ in range(2):
    f, g = _lcs(paragraph_text, tok_cat_text, max_dist, do_lower_case)
    if f[n - 1, m - 1] > 0.8 * n:
      break
    max_dist *= 2
  orig_to_chartok = [None] * n
  chartok_to_orig = [None] * m
  i, j = n - 1, m - 1
  while i >= 0 and j >= 0 and (i, j) in g:
    if g[(i, j)] == 2:
      orig_to_chartok[i], chartok_to_orig[j] = j, i
      i, j = i - 1, j - 1
    elif g[(i, j)] == 1:
      j -= 1
    else:
      i -= 1
  if all(v is None for v in orig_to_chartok) or f[n - 1, m - 1] < 0.8 * n:
    return None
  return (pieces,
          [_neighbour(chartok_to_orig, s, n, True) for s in starts],
          [_neighbour(chartok_to_orig, e, n, False) for e in ends],
          orig_to_chartok, chartok_to_tok_index)
