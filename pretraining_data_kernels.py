# coding=utf-8
"""The per-instance work of create_pretraining_data.py, compiled by numba.

Plain Python on numpy arrays and ints: Google's random draws (CPython's
Mersenne Twister, `random()`, `_randbelow`, `shuffle`), masking, instance
making, the features of an instance, and tf.train.Example serialization with
TFRecord framing. numba compiles each function once and caches it on disk;
without numba they run as the Python they are written in: the same results,
about 75x slower (slower than Google's own script).

Every int is kept below 2**63 (the 32-bit generator words included), so the
code means the same compiled (int64) and run as Python.

No flags here: numba's on-disk cache imports the module that defines a kernel
by name, which must not be a script (its flags would be defined twice).
"""

import numpy as np

try:
  import numba  # pylint: disable=g-import-not-at-top
except ImportError:  # the kernels then run as plain Python
  numba = None


def kernel(function):
  """Compiles `function` with numba (cached on disk), if numba is there.

  Without numba's runtime (_nrt=False): the kernels allocate nothing (callers
  pass every buffer), and the runtime's atomic reference counts on the array
  arguments of each call made a generator word cost 20 ns instead of 1 ns.
  nogil: the record encoding runs on several threads.
  """
  if numba is None:
    return function
  return numba.njit(cache=True, nogil=True, _nrt=False)(function)


def inline_kernel(function):
  """A kernel that numba compiles into each kernel calling it.

  For the small steps the per-instance and per-record loops are split into
  for reading (and shared by BERT's and ALBERT's kernels): inline="always"
  copies them into the caller at numba's level, where a call per record
  cost up to 10% of the features' time. Called from Python, they run as
  any kernel.
  """
  if numba is None:
    return function
  return numba.njit(cache=True, nogil=True, _nrt=False,
                    inline="always")(function)


_MT_WORDS = 624  # Mersenne Twister state words
_MT_SHIFT = 397  # its middle word offset


@kernel
def twist_word(mt, k, next_k, middle_k):
  """Word k of the next state, from words k, next_k and middle_k."""
  y = (np.int64(mt[k]) & 0x80000000) | (np.int64(mt[next_k]) & 0x7FFFFFFF)
  word = np.int64(mt[middle_k]) ^ (y >> 1)
  if y & 1:
    word ^= 0x9908B0DF
  mt[k] = word


@kernel
def twist(mt):
  """Computes the next 624 state words in place (CPython's genrand_uint32).

  Word k is made from words k + 1 and k + 397 (modulo 624); the loops are
  split so no index needs a modulo.

  Args:
    mt: uint32 [624] the generator state.
  """
  for k in range(_MT_WORDS - _MT_SHIFT):
    twist_word(mt, k, k + 1, k + _MT_SHIFT)
  for k in range(_MT_WORDS - _MT_SHIFT, _MT_WORDS - 1):
    twist_word(mt, k, k + 1, k + _MT_SHIFT - _MT_WORDS)
  twist_word(mt, _MT_WORDS - 1, 0, _MT_SHIFT - 1)


@kernel
def next_word(mt, pos):
  """The generator's next 32-bit output.

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] index of the next state word (624: twist first).

  Returns:
    int in [0, 2**32).
  """
  i = pos[0]
  if i >= _MT_WORDS:
    twist(mt)
    i = 0
  pos[0] = i + 1
  y = np.int64(mt[i])
  y ^= y >> 11
  y ^= (y << 7) & 0x9D2C5680
  y ^= (y << 15) & 0xEFC60000
  y ^= y >> 18
  return y


@kernel
def draw_random(mt, pos):
  """random.Random.random(): 53 bits from two words.

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.

  Returns:
    float in [0, 1).
  """
  a = next_word(mt, pos) >> 5
  b = next_word(mt, pos) >> 6
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@kernel
def bit_length(n):
  """int.bit_length() of n >= 0."""
  k = 0
  while (n >> k) != 0:
    k += 1
  return k


@kernel
def randbelow(mt, pos, n):
  """random.Random.randbelow(n): the top bits of words until one is < n.

  randint(a, b) is a + randbelow(b - a + 1).

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.
    n: int in [1, 2**32).

  Returns:
    int in [0, n).
  """
  shift = 32 - bit_length(n)
  r = next_word(mt, pos) >> shift
  while r >= n:
    r = next_word(mt, pos) >> shift
  return r


@kernel
def shuffle(mt, pos, values, count):
  """random.Random.shuffle(values[:count]), in place.

  Fisher-Yates from the end, each swap partner drawn as randbelow(i + 1);
  the bit length of the bound is tracked as the bound goes down.

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.
    values: 1-D array.
    count: int < 2**32, how many of the first values to shuffle.
  """
  bits = bit_length(count)
  for i in range(count - 1, 0, -1):
    if i + 1 < (1 << (bits - 1)):
      bits -= 1
    shift = 32 - bits
    j = next_word(mt, pos) >> shift
    while j > i:
      j = next_word(mt, pos) >> shift
    values[i], values[j] = values[j], values[i]


@inline_kernel
def candidate_token(token_ids, a_start, a_len, b_start, r):
  """The token of masking candidate r: A's tokens, then B's."""
  if r < a_len:
    return np.int64(token_ids[a_start + r])
  return np.int64(token_ids[b_start + r - a_len])


@inline_kernel
def word_groups(token_ids, a_start, a_len, b_start, b_len, whole_words,
                is_subword, starts):
  """Google's cand_indexes for `[CLS] A [SEP] B [SEP]`, as candidate groups.

  Each candidate (token of A, then of B) is a group of its own, or with
  `whole_words` a "##" piece joins the group before it (also across the
  [SEP] between A and B, as in Google's code).

  Args:
    token_ids, a_start, a_len, b_start, b_len: see mask.
    whole_words: bool, Google's do_whole_word_mask.
    is_subword: bool [vocabulary size], whether the token starts with "##".
    starts: int64 [>= a_len + b_len + 1] out: group g is candidates
      starts[g] .. starts[g + 1] - 1.

  Returns:
    the number of groups.
  """
  num_groups = 0
  for r in range(a_len + b_len):
    if r == 0 or not (whole_words and is_subword[
        candidate_token(token_ids, a_start, a_len, b_start, r)]):
      starts[num_groups] = r
      num_groups += 1
  starts[num_groups] = a_len + b_len
  return num_groups


@inline_kernel
def replacement(mt, pos, token, random_word_ids, mask_id):
  """The id written at a masked position (BERT's and ALBERT's rule).

  [MASK] 80% of the time, else the token itself half of the time, else a
  random word of the vocabulary.

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.
    token: the position's id.
    random_word_ids: int [n] the ids of the original's vocab_words.
    mask_id: id of [MASK].

  Returns:
    int64.
  """
  if draw_random(mt, pos) < 0.8:
    return np.int64(mask_id)
  if draw_random(mt, pos) < 0.5:
    return np.int64(token)
  return np.int64(random_word_ids[randbelow(mt, pos, len(random_word_ids))])


@inline_kernel
def insert_sorted(positions, ids, count, position, new_id):
  """Inserts (position, new_id) into the first `count` entries, sorted.

  The originals sort their predictions by position at the end.
  """
  j = count
  while j > 0 and positions[j - 1] > position:
    positions[j] = positions[j - 1]
    ids[j] = ids[j - 1]
    j -= 1
  positions[j] = position
  ids[j] = new_id


@kernel
def mask(mt, pos, token_ids, a_start, a_len, b_start, b_len, num_to_predict,
         whole_words, is_subword, random_word_ids, mask_id, scratch,
         positions, ids):
  """Google's create_masked_lm_predictions for `[CLS] A [SEP] B [SEP]`.

  The candidates are the tokens of A, then of B ([CLS] and [SEP] are not
  candidates): candidate r is at position r + 1 in A and r + 2 in B. They
  are grouped (word_groups); the groups are shuffled and taken in that
  order while they fit in num_to_predict; each chosen position then gets
  its replacement.

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.
    token_ids: [corpus tokens] the corpus.
    a_start: start of A in token_ids.
    a_len: length of A (>= 1).
    b_start: start of B in token_ids.
    b_len: length of B (0: the instance is `[CLS] A [SEP]`).
    num_to_predict: Google's min(max_predictions_per_seq,
      max(1, round(len(tokens) * masked_lm_prob))).
    whole_words: bool, Google's do_whole_word_mask.
    is_subword: bool [vocabulary size], whether the token starts with "##".
    random_word_ids: int [n] the ids of Google's vocab_words.
    mask_id: id of [MASK].
    scratch: int64 [>= 2 * (a_len + b_len) + 1] work space.
    positions: int [>= num_to_predict] out: the masked positions, sorted.
    ids: int [>= num_to_predict] out: the id that replaces each one.

  Returns:
    the number of masked positions.
  """
  if num_to_predict == 0:  # dynamic masking: no draws, no masks
    return 0
  starts = scratch[:a_len + b_len + 1]
  order = scratch[a_len + b_len + 1:]
  num_groups = word_groups(token_ids, a_start, a_len, b_start, b_len,
                           whole_words, is_subword, starts)
  for g in range(num_groups):
    order[g] = g
  shuffle(mt, pos, order, num_groups)
  count = 0
  for k in range(num_groups):
    if count >= num_to_predict:
      break
    g = order[k]
    if count + starts[g + 1] - starts[g] > num_to_predict:
      continue
    for r in range(starts[g], starts[g + 1]):
      new_id = replacement(
          mt, pos, candidate_token(token_ids, a_start, a_len, b_start, r),
          random_word_ids, mask_id)
      insert_sorted(positions, ids, count, r + 1 + (r >= a_len), new_id)
      count += 1
  return count


@inline_kernel
def target_length(mt, pos, max_num_tokens, short_seq_prob):
  """A document's target_seq_length (BERT's and ALBERT's draw).

  max_num_tokens, or with probability short_seq_prob randint(2,
  max_num_tokens).
  """
  if draw_random(mt, pos) < short_seq_prob:
    return 2 + randbelow(mt, pos, max_num_tokens - 1)
  return max_num_tokens


@kernel
def random_segment(mt, pos, sentence_starts, document_starts, order,
                   document_index, b_target):
  """B from a random other document (BERT's and ALBERT's draws).

  Ten tries at a document other than the current one, then a random
  sentence of it and the sentences after it until B has b_target
  tokens or the document ends.

  Args:
    mt, pos: the generator.
    sentence_starts, document_starts, order: see document_instances.
    document_index: the current document's index into `order`.
    b_target: B takes sentences until it has this many tokens.

  Returns:
    (b_start, b_len) in the corpus' token_ids.
  """
  num_documents = len(document_starts) - 1
  random_document = document_index
  for _ in range(10):
    random_document = randbelow(mt, pos, num_documents)
    if random_document != document_index:
      break
  b_first = document_starts[order[random_document]]
  b_last = document_starts[order[random_document] + 1]
  sentence = b_first + randbelow(mt, pos, b_last - b_first)
  b_start = sentence_starts[sentence]
  b_end = sentence_starts[sentence + 1]
  while b_end - b_start < b_target and sentence + 1 < b_last:
    sentence += 1
    b_end = sentence_starts[sentence + 1]
  return b_start, b_end - b_start


@kernel
def sentence_pair(mt, pos, sentence_starts, document_starts, order,
                  document_index, first, chunk_first, i, target,
                  random_next_sentence):
  """A, B and the label of a chunk of sentences (BERT's NSP, ALBERT's SOP).

  A is the chunk's first randint(1, len - 1) sentences (all of a
  one-sentence chunk). A chunk of one sentence, or with
  random_next_sentence half of the others, gets B from a random document
  (label 1; the chunk's unused sentences are put back). Otherwise B is the
  rest of the chunk; for sentence-order prediction (random_next_sentence
  False, ALBERT) A and B are then swapped half of the time (label 1).

  Args:
    mt, pos: the generator.
    sentence_starts, document_starts, order: see document_instances.
    document_index: the document's index into `order`.
    first: its first sentence.
    chunk_first, i: the chunk is its sentences chunk_first .. i.
    target: the target length of the instance.
    random_next_sentence: bool (BERT: True).

  Returns:
    (a_start, a_len, b_start, b_len, label, put_back): runs of token_ids,
    and the number of sentences of the chunk left for the next instance.
  """
  chunk_len = i - chunk_first + 1
  a_end = 1
  if chunk_len >= 2:
    a_end = 1 + randbelow(mt, pos, chunk_len - 1)
  a_start = sentence_starts[first + chunk_first]
  a_len = sentence_starts[first + chunk_first + a_end] - a_start
  rest_start = a_start + a_len
  rest_len = sentence_starts[first + i + 1] - rest_start
  if chunk_len == 1 or (random_next_sentence and draw_random(mt, pos) < 0.5):
    b_start, b_len = random_segment(mt, pos, sentence_starts,
                                    document_starts, order, document_index,
                                    target - a_len)
    return a_start, a_len, b_start, b_len, 1, chunk_len - a_end
  if not random_next_sentence and draw_random(mt, pos) < 0.5:
    return rest_start, rest_len, a_start, a_len, 1, 0
  return a_start, a_len, rest_start, rest_len, 0, 0


@kernel
def truncate_pair(mt, pos, a_start, a_len, b_start, b_len, max_num_tokens):
  """truncate_seq_pair: a token off the front or back of the longer run.

  Returns:
    (a_start, a_len, b_start, b_len).
  """
  for _ in range(a_len + b_len - max_num_tokens):
    front = draw_random(mt, pos) < 0.5
    if a_len > b_len:
      a_len -= 1
      if front:
        a_start += 1
    else:
      b_len -= 1
      if front:
        b_start += 1
  return a_start, a_len, b_start, b_len


@inline_kernel
def put_row(rows, count, a_start, a_len, b_start, b_len, label):
  """Writes instance `count` into rows but its number of predictions.

  (Written before the masking call; that order measured a few percent
  faster.)
  """
  rows[count, 0] = a_start
  rows[count, 1] = a_len
  rows[count, 2] = b_start
  rows[count, 3] = b_len
  rows[count, 4] = label


@kernel
def document_instances(mt, pos, token_ids, sentence_starts, document_starts,
                       order, first_document, end_document, max_num_tokens,
                       short_seq_prob, num_to_predict, whole_words,
                       is_subword, random_word_ids, mask_id, scratch, rows,
                       positions, ids):
  """Google's create_instances_from_document for a run of documents.

  ALBERT's kernel walks the documents the same way, with its own masking
  between the draws. The walk is not shared: as a generator both kernels
  loop over, the draws were 5% slower, and a kernel taking the masking as a
  function argument misses numba's disk cache (it is compiled again in
  every process).

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.
    token_ids: [corpus tokens] the sentences one after the other.
    sentence_starts: int64 [sentences + 1]; sentence s is token_ids
      [sentence_starts[s]:sentence_starts[s + 1]].
    document_starts: int64 [documents + 1]; document d is sentences
      document_starts[d] .. document_starts[d + 1] - 1.
    order: int64 [documents] Google's shuffled document list: its k-th
      document is corpus document order[k].
    first_document: the first index into `order` to make instances of.
    end_document: one past the last.
    max_num_tokens: max_seq_length - 3.
    short_seq_prob: float.
    num_to_predict: int [max_seq_length + 1] predictions by instance length.
    whole_words: bool, Google's do_whole_word_mask.
    is_subword: bool [vocabulary size], see mask.
    random_word_ids: int [n], see mask.
    mask_id: id of [MASK].
    scratch: int64 [>= 2 * max_num_tokens + 1] work space.
    rows: int64 [capacity, 6] out: a_start, a_len, b_start, b_len,
      is_random_next, num_masked of each instance (A and B are runs of
      token_ids). Each document gives at most one instance per sentence.
    positions: int [capacity, max_predictions_per_seq] out, see mask.
    ids: int [capacity, max_predictions_per_seq] out, see mask.

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
            first, chunk_first, i, target, True)
        i -= put_back
        a_start, a_len, b_start, b_len = truncate_pair(
            mt, pos, a_start, a_len, b_start, b_len, max_num_tokens)
        put_row(rows, count, a_start, a_len, b_start, b_len, label)
        rows[count, 5] = mask(
            mt, pos, token_ids, a_start, a_len, b_start, b_len,
            num_to_predict[a_len + b_len + 3], whole_words, is_subword,
            random_word_ids, mask_id, scratch, positions[count], ids[count])
        count += 1
        chunk_first = i + 1
      i += 1
  return count


@kernel
def packed_instances(mt, pos, token_ids, sentence_starts, document_starts,
                     order, first_document, end_document, max_num_tokens,
                     num_to_predict, whole_words, is_subword, random_word_ids,
                     mask_id, scratch, rows, positions, ids):
  """Masked-LM-only instances `[CLS] A [SEP]`, A packed from one document.

  Each document is cut into runs of at most max_num_tokens tokens: a run
  takes whole sentences while they fit; a sentence longer than that on its
  own is cut, its rest starting the next run. No token is dropped. Then each
  run is masked as Google's (mask with an empty B).

  Args:
    mt, pos, token_ids, sentence_starts, document_starts, order,
      first_document, end_document, whole_words, is_subword,
      random_word_ids, mask_id, scratch, positions, ids: see
      document_instances.
    max_num_tokens: max_seq_length - 2.
    num_to_predict: int [max_seq_length + 1] predictions by instance length
      (zeros: no masking).
    rows: int64 [capacity, 6] out: a_start, a_len, 0, 0, 0, num_masked.
      A document of T tokens gives at most 2 * T // (max_num_tokens + 1) + 1
      instances (two consecutive runs hold more than max_num_tokens).

  Returns:
    the number of instances written.
  """
  count = 0
  for document_index in range(first_document, end_document):
    sentence = document_starts[order[document_index]]
    last = document_starts[order[document_index] + 1]
    start = sentence_starts[sentence]
    while start < sentence_starts[last]:
      end = start
      while (sentence < last and
             sentence_starts[sentence + 1] - start <= max_num_tokens):
        sentence += 1
        end = sentence_starts[sentence]
      if end == start:  # the sentence alone is too long: cut it
        end = start + max_num_tokens
      put_row(rows, count, start, end - start, 0, 0, 0)
      rows[count, 5] = mask(
          mt, pos, token_ids, start, end - start, 0, 0,
          num_to_predict[end - start + 2], whole_words, is_subword,
          random_word_ids, mask_id, scratch, positions[count], ids[count])
      count += 1
      start = end
  return count


@inline_kernel
def pair_tokens(source, a_start, a_len, b_start, b_len, cls_value, sep_value,
                out, n):
  """Writes `[CLS] A [SEP] B [SEP]` from two runs of `source` into out[n].

  Also for any per-token array laid out like the tokens (ALBERT's word
  starts); with b_len 0 the instance is `[CLS] A [SEP]`.

  Args:
    source: [corpus tokens] the corpus array.
    a_start, a_len, b_start, b_len: A and B as runs of it.
    cls_value, sep_value: what goes at [CLS] and at each [SEP].
    out: [records, >= a_len + b_len + 3] out.
    n: the row of `out` to write.

  Returns:
    the length written.
  """
  out[n, 0] = cls_value
  for r in range(a_len):
    out[n, 1 + r] = source[a_start + r]
  out[n, a_len + 1] = sep_value
  length = a_len + 2
  if b_len > 0:
    for r in range(b_len):
      out[n, a_len + 2 + r] = source[b_start + r]
    out[n, a_len + b_len + 2] = sep_value
    length = a_len + b_len + 3
  return length


@inline_kernel
def fill_pair(rows, n, token_ids, cls_id, sep_id, input_ids, input_mask,
              segment_ids):
  """input_ids, input_mask and segment_ids of instance n (zero-filled).

  Args:
    rows: int64 [records, 6] instances, see document_instances.
    n: the instance (and the row of the features) to fill.
    token_ids: [corpus tokens] the corpus the rows refer to.
    cls_id, sep_id: ids of [CLS] and [SEP].
    input_ids, input_mask, segment_ids: int64 [records, max_seq_length]
      out; segment 1 is B and its [SEP].

  Returns:
    the instance's length.
  """
  a_len = rows[n, 1]
  length = pair_tokens(token_ids, rows[n, 0], a_len, rows[n, 2], rows[n, 3],
                       cls_id, sep_id, input_ids, n)
  # The fastest loops measured: one with the segment test for pairs, none
  # for `[CLS] A [SEP]` (the test made those 25% slower).
  if rows[n, 3] == 0:
    for t in range(length):
      input_mask[n, t] = 1
    return length
  for t in range(length):
    input_mask[n, t] = 1
    if t >= a_len + 2:
      segment_ids[n, t] = 1
  return length


@inline_kernel
def fill_masked_lm(rows, positions, ids, n, input_ids, lm_positions, lm_ids,
                   lm_weights):
  """The masked-LM features of instance n; masks its input_ids.

  Args:
    rows: int64 [records, 6] instances (rows[n, 5] predictions).
    positions: int [records, predictions] the sorted masked positions.
    ids: int [records, predictions] the id written at each.
    n: the instance (and the row of the features) to fill.
    input_ids: int64 [records, max_seq_length] the tokens; out: masked.
    lm_positions: int64 [records, predictions] out (zero-filled).
    lm_ids: int64 [records, predictions] out: the original tokens.
    lm_weights: float32 [records, predictions] out: 1.0 for each
      prediction.
  """
  for k in range(rows[n, 5]):
    lm_positions[n, k] = positions[n, k]
    lm_ids[n, k] = input_ids[n, positions[n, k]]
    lm_weights[n, k] = 1.0
    input_ids[n, positions[n, k]] = ids[n, k]


@kernel
def fill_features(rows, positions, ids, token_ids, cls_id, sep_id,
                  input_ids, input_mask, segment_ids, lm_positions, lm_ids,
                  lm_weights, next_sentence_labels):
  """Google's features of instances (the outputs must come zero-filled).

  Also of masked-LM-only instances (b_len 0: `[CLS] A [SEP]`, segment ids
  and labels 0) and of unmasked ones (no predictions).

  Args:
    rows: int64 [n, 6] instances, see document_instances.
    positions: int [n, max_predictions_per_seq] sorted masked positions.
    ids: int [n, max_predictions_per_seq] the id written at each.
    token_ids: [corpus tokens] the corpus the rows refer to.
    cls_id: id of [CLS].
    sep_id: id of [SEP].
    input_ids: int64 [n, max_seq_length] out.
    input_mask: int64 [n, max_seq_length] out.
    segment_ids: int64 [n, max_seq_length] out.
    lm_positions: int64 [n, max_predictions_per_seq] out.
    lm_ids: int64 [n, max_predictions_per_seq] out: the original tokens.
    lm_weights: float32 [n, max_predictions_per_seq] out.
    next_sentence_labels: int64 [n, 1] out.
  """
  for n in range(rows.shape[0]):
    fill_pair(rows, n, token_ids, cls_id, sep_id, input_ids, input_mask,
              segment_ids)
    fill_masked_lm(rows, positions, ids, n, input_ids, lm_positions, lm_ids,
                   lm_weights)
    next_sentence_labels[n, 0] = rows[n, 4]


@kernel
def varint_size(value):
  """Bytes of the protobuf varint of an int in [0, 2**35)."""
  return (1 + (value >= 0x80) + (value >= 0x4000) + (value >= 0x200000) +
          (value >= 0x10000000))


@kernel
def put_varint(out, at, value):
  """Writes the varint of an int >= 0 at out[at]; returns the next index."""
  while value >= 0x80:
    out[at] = (value & 0x7F) | 0x80
    value >>= 7
    at += 1
  out[at] = value
  return at + 1


@kernel
def masked_crc(crc_tables, data, begin, end):
  """TFRecord's masked CRC-32C of data[begin:end].

  Eight bytes at a time ("slicing by 8"): table k gives the CRC of a byte
  followed by k zero bytes, so the eight lookups of a step are independent.

  Args:
    crc_tables: int64 [8, 256], see crc32c_tables.
    data: uint8 array.
    begin: first index.
    end: one past the last.

  Returns:
    int in [0, 2**32).
  """
  crc = 0xFFFFFFFF
  i = begin
  while i + 8 <= end:
    low = crc ^ (np.int64(data[i]) | (np.int64(data[i + 1]) << 8) |
                 (np.int64(data[i + 2]) << 16) | (np.int64(data[i + 3]) << 24))
    crc = (crc_tables[7, low & 0xFF] ^ crc_tables[6, (low >> 8) & 0xFF] ^
           crc_tables[5, (low >> 16) & 0xFF] ^ crc_tables[4, low >> 24] ^
           crc_tables[3, data[i + 4]] ^ crc_tables[2, data[i + 5]] ^
           crc_tables[1, data[i + 6]] ^ crc_tables[0, data[i + 7]])
    i += 8
  while i < end:
    crc = crc_tables[0, (crc ^ np.int64(data[i])) & 0xFF] ^ (crc >> 8)
    i += 1
  crc ^= 0xFFFFFFFF
  rotated = (crc >> 15) | ((crc << 17) & 0xFFFFFFFF)
  return (rotated + 0xA282EAD8) & 0xFFFFFFFF


@kernel
def put_uint(out, at, value, size):
  """Writes `size` little-endian bytes of value at out[at]; returns the end."""
  for b in range(size):
    out[at + b] = (value >> (8 * b)) & 0xFF
  return at + size


@kernel
def put_bytes(out, at, source, begin, size):
  """Copies source[begin:begin + size] to out[at]; returns the end."""
  for b in range(size):
    out[at + b] = source[begin + b]
  return at + size


@kernel
def put_entry(out, at, values, feature, headers, header_index):
  """Writes one int64_list map entry: its header, then packed varints.

  Args:
    out: uint8 buffer.
    at: where to write.
    values: int64 [length] the values (>= 0).
    feature: the feature's index among the record's features.
    headers: uint8 bytes of every header.
    header_index: int64 [features, max payload + 1, 2] (offset, length) in
      `headers` of a feature's header for a payload of that many bytes.

  Returns:
    the index after the entry.
  """
  payload = 0
  for v in values:
    payload += varint_size(v)
  at = put_bytes(out, at, headers, header_index[feature, payload, 0],
                 header_index[feature, payload, 1])
  for v in values:
    at = put_varint(out, at, v)
  return at


@kernel
def entry_size(values, feature, header_index):
  """Bytes put_entry writes for these values."""
  payload = 0
  for v in values:
    payload += varint_size(v)
  return header_index[feature, payload, 1] + payload


@kernel
def serialize_examples(int_features, float_slot, float_bytes, headers,
                       header_index, crc_tables, out):
  """Serializes rows of a feature layout as TFRecord-framed Examples.

  The one record writer of every layout (BERT's seven features, ALBERT's
  eight, the masked-LM-only and dynamic-masking ones): the int64_lists of
  `int_features` in order, with at most one packed float_list (every
  layout has masked_lm_weights or no float) at position `float_slot`;
  each int64_list packed, and each record framed as TFRecord does: length
  (8 bytes), its masked CRC, the Example, its masked CRC.

  Args:
    int_features: tuple of int64 [n, length] arrays (values >= 0).
    float_slot: the float feature's position among all features, or -1
      for none.
    float_bytes: uint8 [n, 4 * length] its float32 little-endian bytes
      ([n, 0] for none).
    headers: uint8 bytes of every map-entry header.
    header_index: see put_entry (features in the order written).
    crc_tables: int64 [8, 256], see masked_crc.
    out: uint8 buffer, large enough.

  Returns:
    the number of bytes written.
  """
  at = 0
  num_ints = len(int_features)
  has_float = float_slot >= 0
  float_size = float_bytes.shape[1]
  for n in range(int_features[0].shape[0]):
    body = 0
    if has_float:
      body += header_index[float_slot, float_size, 1] + float_size
    for f in range(num_ints):
      body += entry_size(int_features[f][n], f + (0 <= float_slot <= f),
                         header_index)
    length_at = at
    at = put_uint(out, at, 1 + varint_size(body) + body, 8)
    at = put_uint(out, at, masked_crc(crc_tables, out, length_at, at), 4)
    data_at = at
    out[at] = 0x0A  # Example.features
    at = put_varint(out, at + 1, body)
    for slot in range(num_ints + has_float):
      if slot == float_slot:
        at = put_bytes(out, at, headers, header_index[slot, float_size, 0],
                       header_index[slot, float_size, 1])
        at = put_bytes(out, at, float_bytes[n], 0, float_size)
      else:
        at = put_entry(out, at, int_features[slot - (0 <= float_slot < slot)][
            n], slot, headers, header_index)
    at = put_uint(out, at, masked_crc(crc_tables, out, data_at, at), 4)
  return at


class MersenneTwister(object):
  """The state of a random.Random, as the arrays the kernels draw from.

  CPython's random.Random is MT19937: 624 state words and a position. The
  kernels draw from these arrays exactly as CPython draws from its state, so
  `sync` can hand the advanced state back to the random.Random.

  Attributes:
    mt: uint32 [624] the state words.
    pos: int64 [1] the position.
  """

  def __init__(self, rng):
    """Copies the state of `rng` (a random.Random)."""
    self._version, internal, self._gauss_next = rng.getstate()
    self.mt = np.array(internal[:-1], dtype=np.uint32)
    self.pos = np.array([internal[-1]], dtype=np.int64)

  def sync(self, rng):
    """Puts `rng` where its own draws would have left it."""
    rng.setstate((self._version,
                  tuple(self.mt.tolist()) + (int(self.pos[0]),),
                  self._gauss_next))


def crc32c_tables():
  """CRC-32C (Castagnoli, reflected 0x82F63B78) tables for masked_crc.

  Returns:
    int64 [8, 256]: row 0 the byte table, row k the CRC register after a
    byte and k zero bytes.
  """
  tables = np.zeros((8, 256), np.int64)
  table = np.arange(256, dtype=np.int64)
  for _ in range(8):
    table = np.where(table & 1, (table >> 1) ^ 0x82F63B78, table >> 1)
  tables[0] = table
  for k in range(1, 8):
    tables[k] = (tables[k - 1] >> 8) ^ table[tables[k - 1] & 0xFF]
  return tables
