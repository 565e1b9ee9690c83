# coding=utf-8
"""Masks drawn in the input pipeline (dynamic masking), by Google's rule.

create_pretraining_data.py --masking=dynamic writes each sequence once,
unmasked (input_ids, input_mask, segment_ids and, with next-sentence
prediction, next_sentence_labels). The training input pipeline then masks
every example anew with DynamicMasker, by the rule of Google's
create_masked_lm_predictions:

* the candidates are the tokens of the sequence except [CLS] and [SEP]
  (and the padding after input_mask);
* with whole-word masking, a WordPiece that continues a word (`##...`)
  joins the group of the candidate before it (also across a [SEP], as in
  Google's code); otherwise each candidate is a group of its own;
* num_to_predict = min(max_predictions_per_seq,
  max(1, round(length * masked_lm_prob))), length counting [CLS] and [SEP],
  rounded half to even as Python's round;
* the groups are taken in a random order, each while it fits in
  num_to_predict (a group that does not fit is skipped, later smaller ones
  may still fit);
* each chosen position becomes [MASK] (80%), stays (10%) or becomes a random
  id of the vocabulary (10%).

The draws are a function of a key only: a mask is reproducible anywhere. An
example's key is splitmix64 of (seed, stream, position); its random numbers
are the splitmix64 sequence from that key (64-bit counter-based hashing,
computed with uint64 tensor ops, so a whole batch is masked by one small
graph of vectorized ops: TensorFlow's stateless Philox ops take one key per
call and would need a loop over the examples). Training keys come from
(seed, position of the example in the training stream), so each epoch,
whose examples sit at new positions, sees new masks, and a run resumed at a
step sees the masks the uninterrupted run saw. Evaluation keys come from
(seed, index of the example in the evaluation set) in a stream of their
own: two evaluations of a checkpoint see the same masks. Several input
pipelines (tf.distribute) use several streams.

Which pieces continue a word is a boolean table over the ids
(continuation_table: the vocabulary's tokens that start with "##", the
test Google's code applies to the token strings), passed to DynamicMasker;
a SentencePiece vocabulary gives the complement of its word-start pieces.

The outputs are Google's record features: input_ids (masked),
masked_lm_positions, masked_lm_ids, masked_lm_weights (padded to
max_predictions_per_seq), the other features passed through.
"""

import numpy as np
import tensorflow as tf

# Streams of keys: training positions and evaluation indices never share a
# key.
TRAIN_STREAM = 0x6d61736b  # "mask"
EVAL_STREAM = 0x6576616c  # "eval"
# splitmix64's constants.
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
# Random numbers drawn per position: the group order, the kind of
# replacement, keep-or-random, the random word.
_DRAWS = 4


def continuation_table(vocab):
  """Which ids continue a word: the tokens starting with "##".

  Args:
    vocab: mapping token -> id (tokenization.load_vocab's), or the list of
      tokens in id order.

  Returns:
    bool numpy array [vocabulary size].
  """
  if not hasattr(vocab, "items"):
    vocab = {token: index for index, token in enumerate(vocab)}
  table = np.zeros(max(vocab.values()) + 1, dtype=bool)
  for token, index in vocab.items():
    table[index] = token.startswith("##")
  return table


def _u64(value):
  """A uint64 constant or tensor (Python ints taken modulo 2**64)."""
  if isinstance(value, int):
    return tf.constant(value % 2**64, tf.uint64)
  value = tf.convert_to_tensor(value)
  if value.dtype == tf.uint64:
    return value
  return tf.bitcast(tf.cast(value, tf.int64), tf.uint64)


def mix64(x):
  """splitmix64's finalizer, elementwise (wrapping uint64 arithmetic).

  Args:
    x: uint64 Tensor of any shape.

  Returns:
    uint64 Tensor of the same shape.
  """
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u64(30))) * _u64(
      _MIX1)
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u64(27))) * _u64(
      _MIX2)
  return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u64(31)))


def example_key(seed, position, evaluation=False, stream=0):
  """The keys of examples' masks.

  Args:
    seed: int or int scalar tensor, the run's --seed.
    position: int64 scalar or Tensor of any shape: the examples' positions
      in the training stream (counting across epochs), or their indices in
      the evaluation set.
    evaluation: bool, use the evaluation stream.
    stream: int or int scalar tensor, the input pipeline (0 with one).

  Returns:
    int64 Tensor of the shape of `position` (the bits of a uint64 key).
  """
  base = mix64(_u64(seed) + _u64(_GOLDEN))
  base = mix64(base + _u64(EVAL_STREAM if evaluation else TRAIN_STREAM))
  base = mix64(base + _u64(stream) * _u64(_GOLDEN))
  key = mix64(base + _u64(position) * _u64(_GOLDEN))
  return tf.bitcast(key, tf.int64)


def random_words(keys, length):
  """Each key's first `length * _DRAWS` splitmix64 outputs.

  Args:
    keys: int64 [batch_size] (example_key).
    length: int, positions per example.

  Returns:
    uint64 [batch_size, length, _DRAWS].
  """
  counters = tf.range(1, length * _DRAWS + 1, dtype=tf.int64)
  words = mix64(_u64(keys)[:, None] + _u64(counters)[None, :] * _u64(_GOLDEN))
  return tf.reshape(words, [-1, length, _DRAWS])


def _unit_float(words):
  """uint64 -> float64 uniform in [0, 1) (the top 53 bits)."""
  return tf.cast(tf.bitwise.right_shift(words, _u64(11)), tf.float64) * (
      2.0 ** -53)


def greedy_walk(ordered_sizes, num_to_predict):
  """Google's walk: visit the groups in order, take each one that fits.

  Google's loop visits group after group, stops when num_to_predict
  positions are taken and skips a group that would overshoot. Here each
  round takes, at once, the longest run of the groups still to visit whose
  sizes fit in the room left (a group larger than the room left is skipped
  now and at every later visit, as the room only shrinks), up to the first
  group that overshoots, which is skipped. Each round shrinks the room, so a
  batch needs a few rounds instead of a step per group (one round without
  whole-word masking, where every group has one piece).

  Args:
    ordered_sizes: int32 [batch_size, seq_length] group sizes in the random
      order (0: no group).
    num_to_predict: int32 [batch_size].

  Returns:
    bool [batch_size, seq_length], whether the k-th group of the order is
    taken.
  """
  index = tf.range(tf.shape(ordered_sizes)[1])[None, :]
  end = tf.shape(ordered_sizes)[1]

  def round_(room, first_unvisited, taken):
    """One round: room [B], first unvisited group [B], taken [B, S]."""
    fits = ((index >= first_unvisited[:, None]) & (ordered_sizes > 0) &
            (ordered_sizes <= room[:, None]))
    total = tf.cumsum(tf.where(fits, ordered_sizes, 0), axis=1)
    overshoot = tf.reduce_min(
        tf.where(fits & (total > room[:, None]), index, end), axis=1)
    take = fits & (index < overshoot[:, None])
    room -= tf.reduce_sum(tf.where(take, ordered_sizes, 0), axis=1)
    return room, overshoot + 1, taken | take

  _, _, taken = tf.while_loop(
      lambda room, first_unvisited, _: tf.reduce_any(first_unvisited <= end),
      round_, [num_to_predict, tf.zeros_like(num_to_predict),
               tf.zeros_like(ordered_sizes, tf.bool)])
  return taken


class DynamicMasker(object):
  """Google's masked-LM masking of a batch of examples, drawn from keys."""

  def __init__(self, vocab_size, cls_id, sep_id, mask_id,
               max_predictions_per_seq=20, masked_lm_prob=0.15,
               do_whole_word_mask=False, is_continuation=None):
    """Keeps the settings and the id tables.

    Args:
      vocab_size: random replacements are drawn from ids [0, vocab_size).
      cls_id: id of [CLS] (never masked).
      sep_id: id of [SEP] (never masked).
      mask_id: id of [MASK].
      max_predictions_per_seq: int.
      masked_lm_prob: float.
      do_whole_word_mask: bool.
      is_continuation: bool [vocab_size] (continuation_table), needed with
        do_whole_word_mask.

    Raises:
      ValueError: a setting cannot work.
    """
    if not 0.0 < masked_lm_prob < 1.0:
      raise ValueError("masked_lm_prob=%r must be strictly between 0 and 1" %
                       masked_lm_prob)
    if max_predictions_per_seq < 1:
      raise ValueError("max_predictions_per_seq=%d must be >= 1" %
                       max_predictions_per_seq)
    if do_whole_word_mask and is_continuation is None:
      raise ValueError("do_whole_word_mask needs the is_continuation table")
    self.vocab_size = int(vocab_size)
    self.mask_id = int(mask_id)
    self.max_predictions_per_seq = int(max_predictions_per_seq)
    self.masked_lm_prob = float(masked_lm_prob)
    self.do_whole_word_mask = bool(do_whole_word_mask)
    special = np.zeros(self.vocab_size, dtype=bool)
    special[[cls_id, sep_id]] = True
    self.special = tf.constant(special)
    if is_continuation is None:
      is_continuation = np.zeros(self.vocab_size, dtype=bool)
    self.is_continuation = tf.constant(np.asarray(is_continuation, bool))

  @classmethod
  def from_vocab(cls, vocab, **settings):
    """A masker for a WordPiece vocabulary.

    Args:
      vocab: mapping token -> id (tokenization.load_vocab's).
      **settings: max_predictions_per_seq, masked_lm_prob,
        do_whole_word_mask.

    Returns:
      DynamicMasker.
    """
    return cls(max(vocab.values()) + 1, vocab["[CLS]"], vocab["[SEP]"],
               vocab["[MASK]"], is_continuation=continuation_table(vocab),
               **settings)

  def num_to_predict(self, length):
    """Google's number of predictions for sequences of `length` tokens.

    Args:
      length: int32 Tensor (any shape), tokens including [CLS] and [SEP].

    Returns:
      int32 Tensor of the same shape.
    """
    # float64 and round-half-to-even: Python's round(length * prob).
    wanted = tf.cast(tf.round(tf.cast(length, tf.float64) *
                              self.masked_lm_prob), tf.int32)
    return tf.minimum(self.max_predictions_per_seq, tf.maximum(1, wanted))

  def groups(self, input_ids, length):
    """The candidates and their groups (whole words or single pieces).

    Args:
      input_ids: int32 [batch_size, seq_length].
      length: int32 [batch_size], the tokens before the padding.

    Returns:
      (candidate bool [batch_size, seq_length], group int32 [batch_size,
      seq_length] the group of each candidate (0, 1, ... in sequence order;
      meaningless elsewhere), sizes int32 [batch_size, seq_length] the
      number of candidates of each group, zero past the last group).
    """
    shape = tf.shape(input_ids)
    batch_size, seq_length = shape[0], shape[1]
    candidate = ((tf.range(seq_length)[None, :] < length[:, None]) &
                 ~tf.gather(self.special, input_ids))
    starts = candidate
    if self.do_whole_word_mask:
      first = candidate & (tf.cumsum(tf.cast(candidate, tf.int32), axis=1)
                           == 1)
      starts = candidate & (first | ~tf.gather(self.is_continuation,
                                               input_ids))
    group = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1
    rows = tf.range(batch_size)[:, None] * seq_length
    sizes = tf.math.unsorted_segment_sum(
        tf.cast(candidate, tf.int32), rows + tf.maximum(group, 0),
        batch_size * seq_length)
    return candidate, group, tf.reshape(sizes, shape)

  def choose(self, sizes, num_to_predict, order_words):
    """Which groups are masked: Google's greedy walk in a random order.

    Args:
      sizes: int32 [batch_size, seq_length] candidates per group (0: no such
        group).
      num_to_predict: int32 [batch_size].
      order_words: uint64 [batch_size, seq_length], random keys of the order.

    Returns:
      bool [batch_size, seq_length], whether group g is masked.
    """
    keys = tf.bitcast(tf.bitwise.right_shift(order_words, _u64(1)), tf.int64)
    # Groups that do not exist go last; ties (1 in 2**63) break by index.
    keys = tf.where(sizes > 0, keys, tf.int64.max)
    order = tf.argsort(keys, axis=1, stable=True)
    taken = greedy_walk(tf.gather(sizes, order, batch_dims=1),
                        num_to_predict)
    # Back from the order to the groups: taken_by_group[order[k]] = taken[k].
    rows = tf.broadcast_to(tf.range(tf.shape(order)[0])[:, None],
                           tf.shape(order))
    return tf.scatter_nd(tf.stack([rows, order], axis=-1),
                         tf.cast(taken, tf.int32), tf.shape(order)) > 0

  def mask_batch(self, features, keys):
    """Masks a batch of examples.

    Args:
      features: dict with input_ids and input_mask ([batch_size,
        seq_length], int32 or int64), and any other features (passed
        through).
      keys: int64 [batch_size] (example_key), one per example.

    Returns:
      dict: the features with input_ids masked, and masked_lm_positions,
      masked_lm_ids ([batch_size, max_predictions_per_seq], the dtype of
      input_ids) and masked_lm_weights (float32 [batch_size,
      max_predictions_per_seq]).
    """
    dtype = features["input_ids"].dtype
    input_ids = tf.cast(features["input_ids"], tf.int32)
    seq_length = input_ids.shape[1] or tf.shape(input_ids)[1]
    length = tf.reduce_sum(tf.cast(features["input_mask"], tf.int32), axis=1)
    words = random_words(keys, seq_length)
    candidate, group, sizes = self.groups(input_ids, length)
    taken = self.choose(sizes, self.num_to_predict(length), words[:, :, 0])
    chosen = candidate & tf.gather(taken, tf.maximum(group, 0), batch_dims=1)
    replacement = tf.where(
        _unit_float(words[:, :, 1]) < 0.8, self.mask_id,
        tf.where(_unit_float(words[:, :, 2]) < 0.5, input_ids,
                 tf.cast(words[:, :, 3] % _u64(self.vocab_size), tf.int32)))
    outputs = dict(features)
    outputs["input_ids"] = tf.cast(
        tf.where(chosen, replacement, input_ids), dtype)
    positions, weights = self._positions(chosen)
    outputs["masked_lm_positions"] = tf.cast(positions, dtype)
    outputs["masked_lm_ids"] = tf.cast(
        tf.gather(input_ids, positions, batch_dims=1) *
        tf.cast(weights, tf.int32), dtype)
    outputs["masked_lm_weights"] = weights
    return outputs

  def _positions(self, chosen):
    """The chosen positions in order, zero-padded (Google's arrays).

    Args:
      chosen: bool [batch_size, seq_length], at most max_predictions_per_seq
        per row.

    Returns:
      (positions int32 [batch_size, max_predictions_per_seq],
      weights float32 [batch_size, max_predictions_per_seq]).
    """
    seq_length = tf.shape(chosen)[1]
    index = tf.range(seq_length)[None, :]
    # Chosen positions first, in sequence order; padding rows if the
    # sequence is shorter than max_predictions_per_seq.
    order = tf.argsort(tf.where(chosen, index, index + seq_length), axis=1,
                       stable=True)
    order = tf.pad(order, [[0, 0], [0, tf.maximum(
        0, self.max_predictions_per_seq - seq_length)]])
    # A static [batch_size, max_predictions_per_seq] (the model's shape).
    order = tf.reshape(order[:, :self.max_predictions_per_seq],
                       [-1, self.max_predictions_per_seq])
    count = tf.reduce_sum(tf.cast(chosen, tf.int32), axis=1)
    real = tf.range(self.max_predictions_per_seq)[None, :] < count[:, None]
    return tf.where(real, order, 0), tf.cast(real, tf.float32)

  def __call__(self, features, key):
    """Masks one example (mask_batch on a batch of one).

    Args:
      features: dict with input_ids and input_mask ([seq_length], int32 or
        int64), and any other features (passed through).
      key: int64 scalar (example_key).

    Returns:
      dict: the features with input_ids masked, and masked_lm_positions,
      masked_lm_ids ([max_predictions_per_seq], the dtype of input_ids) and
      masked_lm_weights (float32 [max_predictions_per_seq]).
    """
    batch = {name: value[None] for name, value in features.items()}
    masked = self.mask_batch(batch, tf.reshape(key, [1]))
    return {name: value[0] for name, value in masked.items()}


def mask_dataset(dataset, masker, seed, evaluation=False, first_position=0,
                 stream=0):
  """Masks every example of a dataset of unbatched examples.

  Args:
    dataset: tf.data.Dataset of feature dicts (one example each), in the
      order that fixes the positions (for training: after repeat and the
      seeded shuffle; resume by skipping the examples already seen and
      passing their number as first_position).
    masker: DynamicMasker.
    seed: int, the run's seed.
    evaluation: bool, evaluation keys (the same masks on every pass).
    first_position: position of the dataset's first example.
    stream: int, the input pipeline.

  Returns:
    tf.data.Dataset of masked feature dicts, in the same order.
  """
  def mask(position, features):
    """One example at its position."""
    return masker(features, example_key(seed, position, evaluation, stream))

  return dataset.enumerate(first_position).map(
      mask, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def mask_batches(dataset, masker, seed, batch_size, evaluation=False,
                 stream=0):
  """Masks a dataset of full batches, each example by its position.

  Equal to batching `mask_dataset`'s output: the example in row i of batch
  b has position b * batch_size + i.

  Args:
    dataset: tf.data.Dataset of feature dicts of [batch_size, ...] tensors
      (drop_remainder: every batch full), in the order that fixes the
      positions.
    masker: DynamicMasker.
    seed: int, the run's seed.
    batch_size: int, the rows of every batch.
    evaluation: bool, evaluation keys.
    stream: int or int scalar tensor, the input pipeline.

  Returns:
    tf.data.Dataset of masked batches, in the same order.
  """
  def mask(index, features):
    """Batch `index`: its rows' positions."""
    positions = index * batch_size + tf.range(batch_size, dtype=tf.int64)
    return masker.mask_batch(
        features, example_key(seed, positions, evaluation, stream))

  return dataset.enumerate().map(mask, num_parallel_calls=tf.data.AUTOTUNE,
                                 deterministic=True)
