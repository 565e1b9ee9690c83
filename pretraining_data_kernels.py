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


@kernel
def mask(mt, pos, token_ids, a_start, a_len, b_start, b_len, num_to_predict,
          whole_words, is_subword, random_word_ids, mask_id, scratch,
          positions, ids):
  """Google's create_masked_lm_predictions for `[CLS] A [SEP] B [SEP]`.

  The candidates are the tokens of A, then of B ([CLS] and [SEP] are not
  candidates): candidate r is at position r + 1 in A and r + 2 in B. Each
  candidate is a group of its own, or with `whole_words` a "##" piece joins
  the group before it (also across the [SEP] between A and B, as in Google's
  code). The groups are shuffled and taken in that order while they fit in
  num_to_predict; each chosen position then becomes [MASK] (80%), stays
  (10%) or becomes a random word of the vocabulary (10%).

  Args:
    mt: uint32 [624] the generator state.
    pos: int64 [1] its position.
    token_ids: [corpus tokens] the corpus.
    a_start: start of A in token_ids.
    a_len: length of A (>= 1).
    b_start: start of B in token_ids.
    b_len: length of B (>= 1).
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
  num_candidates = a_len + b_len
  # Group g is candidates starts[g] .. starts[g + 1] - 1.
  starts = scratch[:num_candidates + 1]
  order = scratch[num_candidates + 1:]
  num_groups = 0
  for r in range(num_candidates):
    if r < a_len:
      token = np.int64(token_ids[a_start + r])
    else:
      token = np.int64(token_ids[b_start + r - a_len])
    if r == 0 or not (whole_words and is_subword[token]):
      starts[num_groups] = r
      num_groups += 1
  starts[num_groups] = num_candidates
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
      if r < a_len:
        position = r + 1
        token = np.int64(token_ids[a_start + r])
      else:
        position = r + 2
        token = np.int64(token_ids[b_start + r - a_len])
      if draw_random(mt, pos) < 0.8:
        new_id = np.int64(mask_id)
      elif draw_random(mt, pos) < 0.5:
        new_id = token
      else:
        new_id = np.int64(random_word_ids[
            randbelow(mt, pos, len(random_word_ids))])
      # Google sorts the predictions by position; insert in order.
      j = count
      while j > 0 and positions[j - 1] > position:
        positions[j] = positions[j - 1]
        ids[j] = ids[j - 1]
        j -= 1
      positions[j] = position
      ids[j] = new_id
      count += 1
  return count


@kernel
def document_instances(mt, pos, token_ids, sentence_starts, document_starts,
                    order, first_document, end_document, max_num_tokens,
                    short_seq_prob, num_to_predict, whole_words, is_subword,
                    random_word_ids, mask_id, scratch, rows, positions, ids):
  """Google's create_instances_from_document for a run of documents.

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
  num_documents = len(document_starts) - 1
  count = 0
  for document_index in range(first_document, end_document):
    first = document_starts[order[document_index]]
    num_sentences = document_starts[order[document_index] + 1] - first
    target_seq_length = max_num_tokens
    if draw_random(mt, pos) < short_seq_prob:
      target_seq_length = 2 + randbelow(mt, pos, max_num_tokens - 1)
    chunk_first = 0
    i = 0
    while i < num_sentences:
      chunk_start = sentence_starts[first + chunk_first]
      if (i == num_sentences - 1 or
          sentence_starts[first + i + 1] - chunk_start >= target_seq_length):
        chunk_len = i - chunk_first + 1
        a_end = 1
        if chunk_len >= 2:
          a_end = 1 + randbelow(mt, pos, chunk_len - 1)
        a_start = chunk_start
        a_len = sentence_starts[first + chunk_first + a_end] - a_start
        if chunk_len == 1 or draw_random(mt, pos) < 0.5:
          is_random_next = 1
          # B: sentences of a random other document, from a random one on.
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
          while (b_end - b_start < target_seq_length - a_len and
                 sentence + 1 < b_last):
            sentence += 1
            b_end = sentence_starts[sentence + 1]
          b_len = b_end - b_start
          i -= chunk_len - a_end  # "put back" the unused sentences
        else:
          is_random_next = 0
          b_start = a_start + a_len
          b_len = sentence_starts[first + i + 1] - b_start
        # truncate_seq_pair: a token off the front or back of the longer.
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
        num_masked = mask(
            mt, pos, token_ids, a_start, a_len, b_start, b_len,
            num_to_predict[a_len + b_len + 3], whole_words, is_subword,
            random_word_ids, mask_id, scratch, positions[count], ids[count])
        rows[count, 0] = a_start
        rows[count, 1] = a_len
        rows[count, 2] = b_start
        rows[count, 3] = b_len
        rows[count, 4] = is_random_next
        rows[count, 5] = num_masked
        count += 1
        chunk_first = i + 1
      i += 1
  return count


@kernel
def fill_features(rows, positions, ids, token_ids, cls_id, sep_id,
                   input_ids, input_mask, segment_ids, lm_positions, lm_ids,
                   lm_weights, next_sentence_labels):
  """Google's features of instances (the outputs must come zero-filled).

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
    a_start, a_len, b_start, b_len = rows[n, 0], rows[n, 1], rows[n, 2], rows[
        n, 3]
    input_ids[n, 0] = cls_id
    for r in range(a_len):
      input_ids[n, 1 + r] = token_ids[a_start + r]
    input_ids[n, a_len + 1] = sep_id
    for r in range(b_len):
      input_ids[n, a_len + 2 + r] = token_ids[b_start + r]
    input_ids[n, a_len + b_len + 2] = sep_id
    for t in range(a_len + b_len + 3):
      input_mask[n, t] = 1
      if t >= a_len + 2:
        segment_ids[n, t] = 1
    for k in range(rows[n, 5]):
      lm_positions[n, k] = positions[n, k]
      lm_ids[n, k] = input_ids[n, positions[n, k]]
      lm_weights[n, k] = 1.0
    for k in range(rows[n, 5]):
      input_ids[n, positions[n, k]] = ids[n, k]
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
    feature: index of the feature in FEATURE_NAMES.
    headers: uint8 bytes of every header.
    header_index: int64 [7, max payload + 1, 2] (offset, length) in
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
def serialize_records(input_ids, input_mask, segment_ids, lm_positions, lm_ids,
                   weight_bytes, next_sentence_labels, headers, header_index,
                   crc_tables, out):
  """Serializes rows as tf.train.Example records in TFRecord framing.

  Each record is the features in FEATURE_NAMES order, int64_lists packed and
  masked_lm_weights a packed float_list, framed as TFRecord does: length
  (8 bytes), its masked CRC, the Example, its masked CRC.

  Args:
    input_ids, input_mask, segment_ids: int64 [n, max_seq_length].
    lm_positions, lm_ids: int64 [n, max_predictions_per_seq].
    weight_bytes: uint8 [n, 4 * max_predictions_per_seq] the float32
      little-endian bytes of masked_lm_weights.
    next_sentence_labels: int64 [n, 1].
    headers: uint8 bytes of every map-entry header.
    header_index: see put_entry.
    crc_tables: int64 [8, 256], see masked_crc.
    out: uint8 buffer, large enough.

  Returns:
    the number of bytes written.
  """
  return serialize_examples((input_ids, input_mask, segment_ids,
                             lm_positions, lm_ids, next_sentence_labels), 5,
                            weight_bytes, headers, header_index, crc_tables,
                            out)


@kernel
def serialize_examples(int_features, float_slot, float_bytes, headers,
                       header_index, crc_tables, out):
  """Serializes rows of any feature list as framed tf.train.Example records.

  The features are the int64_lists of `int_features` in order, with one
  packed float_list inserted at position `float_slot` (ALBERT's records have
  eight features; serialize_records is this for BERT's seven).

  Args:
    int_features: tuple of int64 [n, length] arrays (values >= 0).
    float_slot: the float feature's position among all features.
    float_bytes: uint8 [n, 4 * length] its float32 little-endian bytes.
    headers: uint8 bytes of every map-entry header.
    header_index: int64 [features, max payload + 1, 2] (offset, length) in
      `headers` of a feature's header for a payload of that many bytes.
    crc_tables: int64 [8, 256], see masked_crc.
    out: uint8 buffer, large enough.

  Returns:
    the number of bytes written.
  """
  at = 0
  num_features = len(int_features) + 1
  float_size = float_bytes.shape[1]
  for n in range(float_bytes.shape[0]):
    body = header_index[float_slot, float_size, 1] + float_size
    for f in range(len(int_features)):
      slot = f + (f >= float_slot)
      body += entry_size(int_features[f][n], slot, header_index)
    length_at = at
    at = put_uint(out, at, 1 + varint_size(body) + body, 8)
    at = put_uint(out, at, masked_crc(crc_tables, out, length_at, at), 4)
    data_at = at
    out[at] = 0x0A  # Example.features
    at = put_varint(out, at + 1, body)
    for slot in range(num_features):
      if slot == float_slot:
        at = put_bytes(out, at, headers, header_index[slot, float_size, 0],
                       header_index[slot, float_size, 1])
        at = put_bytes(out, at, float_bytes[n], 0, float_size)
      else:
        at = put_entry(out, at, int_features[slot - (slot > float_slot)][n],
                       slot, headers, header_index)
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
