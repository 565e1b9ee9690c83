# coding=utf-8
"""ALBERT's per-instance work for albert/create_pretraining_data.py (numba).

ALBERT's create_instances_from_document (sentence-order pairs) and its
n-gram masking, and the features of its records, on token ids, built on the
steps it shares with BERT's kernels (pretraining_data_kernels: target
length, sentence_pair, truncation, the 80/10/10 replacement, fill_pair,
fill_masked_lm). The random
draws are ALBERT's: Python's `random.Random(random_seed)` (shuffles,
`random()`, `randint()`) and numpy's legacy global generator (the n-gram
length `np.random.choice(ngrams, p=pvals)`), both Mersenne Twisters drawn
from with pretraining_data_kernels' primitives: numpy's choice with `p` is one
double from its MT19937 (the same 53-bit recipe as Python's random()) looked
up in the cumulative probabilities with searchsorted(side="right").

Like pretraining_data_kernels (whose conventions hold here), the functions run
as plain Python without numba. numba's disk cache does not notice changes of
the shared kernels these call: delete __pycache__ after changing
pretraining_data_kernels.py's random draws or shared steps.
"""

import numpy as np

from pretraining_data_kernels import draw_random
from pretraining_data_kernels import fill_masked_lm
from pretraining_data_kernels import fill_pair
from pretraining_data_kernels import insert_sorted
from pretraining_data_kernels import kernel
from pretraining_data_kernels import pair_tokens
from pretraining_data_kernels import put_row
from pretraining_data_kernels import replacement
from pretraining_data_kernels import sentence_pair
from pretraining_data_kernels import shuffle
from pretraining_data_kernels import target_length
from pretraining_data_kernels import truncate_pair


@kernel
def choose_ngram(np_mt, np_pos, cdf):
  """numpy's legacy `choice(arange(1, len(cdf) + 1), p=p)`, one draw.

  Args:
    np_mt: uint32 [624] numpy's MT19937 state words.
    np_pos: int64 [1] its position.
    cdf: float64 [ngram] p.cumsum() / p.cumsum()[-1], as numpy computes it.

  Returns:
    the n-gram length, 1 + the number of cdf entries <= a uniform double.
  """
  u = draw_random(np_mt, np_pos)
  n = 0
  while n < len(cdf) and cdf[n] <= u:
    n += 1
  return n + 1


@kernel
def candidate_groups(tokens, starts, length, whole_words, cls_id, sep_id,
                     cand, group_starts):
  """ALBERT's cand_indexes: the maskable positions, grouped into words.

  Every token but [CLS] and [SEP] is a candidate; with whole_words a token
  that does not start a word joins the group before it (even across the
  [SEP] between A and B, as in ALBERT's code).

  Args:
    tokens: int [>= length] the instance's ids.
    starts: uint8 [>= length] whether each token starts a word.
    length: number of tokens.
    whole_words: bool, ALBERT's do_whole_word_mask.
    cls_id: id of [CLS].
    sep_id: id of [SEP].
    cand: int64 [>= length] out: candidate positions in order.
    group_starts: int64 [>= length + 1] out: group g is candidates
      cand[group_starts[g]:group_starts[g + 1]].

  Returns:
    the number of groups.
  """
  num_candidates = 0
  num_groups = 0
  for i in range(length):
    if tokens[i] == cls_id or tokens[i] == sep_id:
      continue
    if not (whole_words and num_groups > 0 and not starts[i]):
      group_starts[num_groups] = num_candidates
      num_groups += 1
    cand[num_candidates] = i
    num_candidates += 1
  group_starts[num_groups] = num_candidates
  return num_groups


@kernel
def pick_ngram(np_mt, np_pos, cdf, cand, group_starts, num_groups, group,
               used, num_to_predict, taken):
  """Draws an n-gram starting at `group`, shortened until it fits.

  ALBERT draws n, then tries the n-gram, (n-1)-gram, ... 1-gram (groups
  group .. group + n - 1, cut at the last group) until `used` plus its size
  is at most num_to_predict; it skips the group if even the 1-gram does not
  fit, or if a position of the n-gram is already taken.

  Args:
    np_mt, np_pos: numpy's generator (see choose_ngram).
    cdf: float64 [ngram], see choose_ngram.
    cand, group_starts, num_groups: see candidate_groups.
    group: the group the n-gram starts at.
    used: positions chosen so far.
    num_to_predict: most positions to choose.
    taken: int64 [length] non-zero at positions chosen before.

  Returns:
    (first, end): the n-gram is candidates first .. end - 1; (-1, -1) if
    skipped.
  """
  n = choose_ngram(np_mt, np_pos, cdf)
  end_group = min(group + n, num_groups)
  while (used + group_starts[end_group] - group_starts[group] > num_to_predict
         and n > 1):
    n -= 1
    end_group = min(group + n, num_groups)
  first, end = group_starts[group], group_starts[end_group]
  if used + end - first > num_to_predict:
    return -1, -1
  for r in range(first, end):
    if taken[cand[r]]:
      return -1, -1
  return first, end


@kernel
def mask_ngrams(mt, pos, np_mt, np_pos, cdf, tokens, cand, group_starts,
                num_groups, order, num_to_predict, taken, random_word_ids,
                mask_id, positions, ids):
  """ALBERT's masking loop: n-grams in `order`, 80/10/10 replacement.

  Args:
    mt, pos: Python's generator (pretraining_data_kernels.MersenneTwister).
    np_mt, np_pos: numpy's generator.
    cdf: see choose_ngram.
    tokens: int [length] the instance's ids.
    cand, group_starts, num_groups: see candidate_groups.
    order: int64 [num_groups] the shuffled ngram_indexes.
    num_to_predict: most positions to mask.
    taken: int64 [length] zeros; out: 1 at masked positions.
    random_word_ids: int [n] ids of ALBERT's vocab_words.
    mask_id: id of [MASK].
    positions: int [>= num_to_predict] out: masked positions, sorted.
    ids: int [>= num_to_predict] out: the id written at each.

  Returns:
    the number of masked positions.
  """
  count = 0
  for k in range(num_groups):
    if count >= num_to_predict:
      break
    first, end = pick_ngram(np_mt, np_pos, cdf, cand, group_starts,
                            num_groups, order[k], count, num_to_predict, taken)
    for r in range(first, end):
      position = cand[r]
      taken[position] = 1
      insert_sorted(positions, ids, count, position, replacement(
          mt, pos, tokens[position], random_word_ids, mask_id))
      count += 1
  return count


@kernel
def permute_ngrams(mt, pos, np_mt, np_pos, cdf, tokens, length, cand,
                   group_starts, num_groups, order, num_to_predict, taken,
                   scratch, count, positions, ids):
  """ALBERT's do_permutation: more n-grams, their tokens shuffled.

  Selects untaken n-grams as mask_ngrams does (without replacing them),
  then each selected position (in increasing order) gets the original token
  of the selected position at the same index of a shuffled copy, and is
  predicted too.

  Args:
    mt, pos, np_mt, np_pos, cdf, tokens, cand, group_starts, num_groups,
      order, num_to_predict, positions, ids: see mask_ngrams.
    length: number of tokens.
    taken: int64 [length] 1 at masked positions; out: 2 at selected ones.
    scratch: int64 [>= 2 * length] work space.
    count: entries of positions / ids so far (the masked ones).

  Returns:
    the number of entries of positions / ids.
  """
  selected = 0
  for k in range(num_groups):
    if selected >= num_to_predict:
      break
    first, end = pick_ngram(np_mt, np_pos, cdf, cand, group_starts,
                            num_groups, order[k], selected, num_to_predict,
                            taken)
    for r in range(first, end):
      taken[cand[r]] = 2
    selected += end - first
  sources = scratch[:selected]
  targets = scratch[selected:2 * selected]
  j = 0
  for position in range(length):
    if taken[position] == 2:
      sources[j] = position
      targets[j] = position
      j += 1
  shuffle(mt, pos, targets, selected)
  for j in range(selected):
    insert_sorted(positions, ids, count, sources[j], tokens[targets[j]])
    count += 1
  return count


@kernel
def ngram_mask(mt, pos, np_mt, np_pos, tokens, starts, length,
               num_to_predict, whole_words, do_permutation, cdf, cls_id,
               sep_id, random_word_ids, mask_id, scratch, positions, ids):
  """ALBERT's create_masked_lm_predictions on one instance.

  Args:
    mt, pos: Python's generator.
    np_mt, np_pos: numpy's generator.
    tokens: int [>= length] `[CLS] A [SEP] B [SEP]` as ids.
    starts: uint8 [>= length] whether each token starts a word.
    length: number of tokens.
    num_to_predict: ALBERT's min(max_predictions_per_seq, max(1,
      round(length * masked_lm_prob))); 0 for masked_lm_prob == 0, where
      ALBERT returns before any draw.
    whole_words: bool, do_whole_word_mask.
    do_permutation: bool.
    cdf: see choose_ngram.
    cls_id, sep_id: ids of [CLS] and [SEP] (never candidates).
    random_word_ids, mask_id: see mask_ngrams.
    scratch: int64 [>= 6 * length + 1] work space.
    positions: int [>= 2 * num_to_predict] out: sorted predicted positions.
    ids: int [>= 2 * num_to_predict] out: the id written at each.

  Returns:
    the number of predicted positions.
  """
  cand = scratch[:length]
  group_starts = scratch[length:2 * length + 1]
  order = scratch[2 * length + 1:3 * length + 1]
  taken = scratch[3 * length + 1:4 * length + 1]
  num_groups = candidate_groups(tokens, starts, length, whole_words, cls_id,
                                sep_id, cand, group_starts)
  if num_to_predict == 0:
    return 0
  for g in range(num_groups):
    order[g] = g
  for t in range(length):
    taken[t] = 0
  shuffle(mt, pos, order, num_groups)
  count = mask_ngrams(mt, pos, np_mt, np_pos, cdf, tokens, cand,
                      group_starts, num_groups, order, num_to_predict, taken,
                      random_word_ids, mask_id, positions, ids)
  shuffle(mt, pos, order, num_groups)
  if do_permutation:
    count = permute_ngrams(mt, pos, np_mt, np_pos, cdf, tokens, length, cand,
                           group_starts, num_groups, order, num_to_predict,
                           taken, scratch[4 * length + 1:], count, positions,
                           ids)
  return count


@kernel
def instance_tokens(token_ids, token_starts, a_start, a_len, b_start, b_len,
                    cls_id, sep_id, tokens, starts):
  """Writes `[CLS] A [SEP] B [SEP]` and the word-start flags; returns length.

  Args:
    token_ids: [corpus tokens] the corpus.
    token_starts: uint8 [corpus tokens] whether each token starts a word.
    a_start, a_len, b_start, b_len: A and B as runs of token_ids.
    cls_id, sep_id: ids of [CLS] and [SEP].
    tokens: int64 [>= a_len + b_len + 3] out.
    starts: uint8 [>= a_len + b_len + 3] out (1 for [CLS] and [SEP]).
  """
  # One pass over both arrays: pair_tokens once for each made the draws 2%
  # slower.
  tokens[0] = cls_id
  starts[0] = 1
  for r in range(a_len):
    tokens[1 + r] = token_ids[a_start + r]
    starts[1 + r] = token_starts[a_start + r]
  tokens[a_len + 1] = sep_id
  starts[a_len + 1] = 1
  for r in range(b_len):
    tokens[a_len + 2 + r] = token_ids[b_start + r]
    starts[a_len + 2 + r] = token_starts[b_start + r]
  tokens[a_len + b_len + 2] = sep_id
  starts[a_len + b_len + 2] = 1
  return a_len + b_len + 3


@kernel
def document_instances(mt, pos, np_mt, np_pos, token_ids, token_starts,
                       sentence_starts, document_starts, order,
                       first_document, end_document, max_num_tokens,
                       short_seq_prob, random_next_sentence, num_to_predict,
                       whole_words, do_permutation, cdf, cls_id, sep_id,
                       mask_id, random_word_ids, tokens, starts, scratch, rows,
                       positions, ids):
  """ALBERT's create_instances_from_document for a run of documents.

  The walk over the documents is BERT's (pretraining_data_kernels.
  document_instances, which says why it is not shared), with ALBERT's pairs
  (sentence order) and its n-gram masking of the assembled instance.

  Args:
    mt, pos: Python's generator (pretraining_data_kernels.MersenneTwister).
    np_mt, np_pos: numpy's generator (NumpyMersenneTwister).
    token_ids: [corpus tokens] the sentences one after the other.
    token_starts: uint8 [corpus tokens] whether each token starts a word.
    sentence_starts: int64 [sentences + 1], see the BERT kernel.
    document_starts: int64 [documents + 1], see the BERT kernel.
    order: int64 [documents] the shuffled document list.
    first_document, end_document: the indexes into `order` to do.
    max_num_tokens: max_seq_length - 3.
    short_seq_prob: float.
    random_next_sentence: bool (False: sentence order prediction).
    num_to_predict: int [max_seq_length + 1] predictions by length (all 0
      for masked_lm_prob == 0).
    whole_words, do_permutation, cdf, cls_id, sep_id, mask_id,
      random_word_ids: see ngram_mask.
    tokens: int64 [max_seq_length], starts: uint8 [max_seq_length] and
      scratch: int64 [6 * max_seq_length + 1]: work space.
    rows: int64 [capacity, 6] out: a_start, a_len, b_start, b_len, label,
      number of predictions of each instance.
    positions, ids: int [capacity, predictions] out, see ngram_mask.

  Returns:
    the number of instances written.
  """
  count = 0
  for document_index in range(first_document, end_document):
    first = document_starts[order[document_index]]
    num_sentences = document_starts[order[document_index] + 1] - first
    target = target_length(mt, pos, max_num_tokens, short_seq_prob)
    chunk_first = 0
    i = 0
    while i < num_sentences:
      if (i == num_sentences - 1 or sentence_starts[first + i + 1] -
          sentence_starts[first + chunk_first] >= target):
        a_start, a_len, b_start, b_len, label, put_back = sentence_pair(
            mt, pos, sentence_starts, document_starts, order, document_index,
            first, chunk_first, i, target, random_next_sentence)
        i -= put_back
        a_start, a_len, b_start, b_len = truncate_pair(
            mt, pos, a_start, a_len, b_start, b_len, max_num_tokens)
        length = instance_tokens(token_ids, token_starts, a_start, a_len,
                                 b_start, b_len, cls_id, sep_id, tokens,
                                 starts)
        put_row(rows, count, a_start, a_len, b_start, b_len, label)
        rows[count, 5] = ngram_mask(
            mt, pos, np_mt, np_pos, tokens, starts, length,
            num_to_predict[length], whole_words, do_permutation, cdf, cls_id,
            sep_id, random_word_ids, mask_id, scratch, positions[count],
            ids[count])
        count += 1
        chunk_first = i + 1
      i += 1
  return count


@kernel
def fill_features(rows, positions, ids, token_ids, token_starts, cls_id,
                  sep_id, input_ids, input_mask, segment_ids, token_boundary,
                  lm_positions, lm_ids, lm_weights, next_sentence_labels):
  """ALBERT's eight features of instances (outputs must come zero-filled).

  Args:
    rows, positions, ids: instances, see document_instances.
    token_ids, token_starts: the corpus the rows refer to.
    cls_id, sep_id: ids of [CLS] and [SEP].
    input_ids, input_mask, segment_ids, token_boundary: int64
      [n, max_seq_length] out; token_boundary is 1 at [CLS], [SEP] and
      tokens that start a word.
    lm_positions, lm_ids: int64 [n, predictions] out (lm_ids: the original
      tokens).
    lm_weights: float32 [n, predictions] out.
    next_sentence_labels: int64 [n, 1] out: the SOP (or random-B) label.
  """
  for n in range(rows.shape[0]):
    length = fill_pair(rows, n, token_ids, cls_id, sep_id, input_ids,
                       input_mask, segment_ids)
    pair_tokens(token_starts, rows[n, 0], rows[n, 1], rows[n, 2], rows[n, 3],
                1, 1, token_boundary, n)
    for t in range(length):
      if input_ids[n, t] == cls_id or input_ids[n, t] == sep_id:
        token_boundary[n, t] = 1
    fill_masked_lm(rows, positions, ids, n, input_ids, lm_positions, lm_ids,
                   lm_weights)
    next_sentence_labels[n, 0] = rows[n, 4]


class NumpyMersenneTwister(object):
  """numpy's legacy MT19937 state as the arrays the kernels draw from.

  Attributes:
    mt: uint32 [624] the state words.
    pos: int64 [1] the position.
  """

  def __init__(self, state):
    """Copies a RandomState.get_state() tuple ('MT19937', keys, pos, ...)."""
    self._state = state
    self.mt = np.array(state[1], dtype=np.uint32)
    self.pos = np.array([state[2]], dtype=np.int64)

  @classmethod
  def from_seed(cls, seed):
    """The state np.random.seed(seed) gives (seed in [0, 2**32))."""
    return cls(np.random.RandomState(seed).get_state())

  @classmethod
  def from_global(cls):
    """The current state of numpy's global generator."""
    return cls(np.random.get_state())

  def sync_global(self):
    """Puts numpy's global generator where its own draws would have left it."""
    np.random.set_state(("MT19937", self.mt.copy(), int(self.pos[0])) +
                        tuple(self._state[3:]))


def ngram_cdf(ngram, favor_shorter_ngram):
  """The cumulative n-gram probabilities numpy's choice uses in ALBERT.

  ALBERT's p is 1/n normalised (reversed unless favor_shorter_ngram), then
  normalised again; numpy's choice takes p.cumsum() / p.cumsum()[-1]. The
  same float64 operations give the same bits.

  Args:
    ngram: the largest n-gram (>= 1).
    favor_shorter_ngram: bool.

  Returns:
    float64 [ngram].
  """
  pvals = 1. / np.arange(1, ngram + 1)
  pvals /= pvals.sum(keepdims=True)
  if not favor_shorter_ngram:
    pvals = pvals[::-1]
  p = pvals[:ngram] / pvals[:ngram].sum(keepdims=True)
  cdf = np.asarray(p, dtype=np.float64).cumsum()
  cdf /= cdf[-1]
  return cdf
