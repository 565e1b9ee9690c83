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

The draws are stateless (Philox, tf.random.stateless_*): a mask is a
function of a key only. Training keys come from (seed, position of the
example in the training stream), so each epoch, whose examples sit at new
positions, sees new masks, and a run resumed at a step sees the masks the
uninterrupted run saw. Evaluation keys come from (seed, index of the example
in the evaluation set) in a stream of their own: two evaluations of a
checkpoint see the same masks.

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
_ALG = "philox"  # the same masks on every device (auto_select may differ)


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


def example_key(seed, position, evaluation=False):
  """The key of one example's mask.

  Args:
    seed: int or int64 scalar tensor, the run's --seed.
    position: int64 scalar, the example's position in the training stream
      (counting across epochs), or its index in the evaluation set.
    evaluation: bool, use the evaluation stream.

  Returns:
    int64 [2], a seed for tf.random.stateless_* ops.
  """
  base = tf.stack([tf.cast(seed, tf.int64), tf.constant(
      EVAL_STREAM if evaluation else TRAIN_STREAM, tf.int64)])
  return tf.random.experimental.stateless_fold_in(
      base, tf.cast(position, tf.int64), alg=_ALG)


class DynamicMasker(object):
  """Google's masked-LM masking of one example, drawn from a key."""

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
    """Google's number of predictions for a sequence of `length` tokens.

    Args:
      length: int32 scalar, tokens including [CLS] and [SEP].

    Returns:
      int32 scalar.
    """
    # float64 and round-half-to-even: Python's round(length * prob).
    wanted = tf.cast(tf.round(tf.cast(length, tf.float64) *
                              self.masked_lm_prob), tf.int32)
    return tf.minimum(self.max_predictions_per_seq, tf.maximum(1, wanted))

  def groups(self, input_ids, length):
    """The candidates and their groups (whole words or single pieces).

    Args:
      input_ids: int32 [seq_length].
      length: int32 scalar, the tokens before the padding.

    Returns:
      (candidate bool [seq_length], group int32 [seq_length] the group of
      each candidate (0, 1, ... in sequence order; meaningless elsewhere),
      sizes int32 [seq_length] the number of candidates of each group,
      zero past the last group).
    """
    seq_length = tf.shape(input_ids)[0]
    candidate = ((tf.range(seq_length) < length) &
                 ~tf.gather(self.special, input_ids))
    starts = candidate
    if self.do_whole_word_mask:
      first = candidate & (tf.cumsum(tf.cast(candidate, tf.int32)) == 1)
      starts = candidate & (first | ~tf.gather(self.is_continuation,
                                               input_ids))
    group = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    sizes = tf.math.unsorted_segment_sum(
        tf.cast(candidate, tf.int32), tf.maximum(group, 0), seq_length)
    return candidate, group, sizes

  def choose(self, sizes, num_to_predict, order_seed):
    """Which groups are masked: Google's greedy walk in a random order.

    Args:
      sizes: int32 [seq_length] candidates per group (0: no such group).
      num_to_predict: int32 scalar.
      order_seed: int64 [2] key of the random order.

    Returns:
      bool [seq_length], whether group g is masked.
    """
    seq_length = tf.shape(sizes)[0]
    keys = tf.random.stateless_uniform([seq_length], order_seed, minval=None,
                                       maxval=None, dtype=tf.int64, alg=_ALG)
    # Groups that do not exist go last; ties (1 in 2**64) break by index.
    keys = tf.where(sizes > 0, keys, tf.int64.max)
    order = tf.argsort(keys, stable=True)
    ordered_sizes = tf.gather(sizes, order)
    if self.do_whole_word_mask:
      taken = self._greedy(ordered_sizes, num_to_predict)
    else:  # every group has one piece: the first num_to_predict fit
      taken = (tf.range(seq_length) < num_to_predict) & (ordered_sizes > 0)
    return tf.gather(taken, tf.math.invert_permutation(order))

  def _greedy(self, ordered_sizes, num_to_predict):
    """Google's loop: take each group that fits, until the count is full.

    Args:
      ordered_sizes: int32 [seq_length] group sizes in the random order.
      num_to_predict: int32 scalar.

    Returns:
      bool [seq_length], whether the k-th group of the order is taken.
    """
    num_groups = tf.reduce_sum(tf.cast(ordered_sizes > 0, tf.int32))

    def body(k, count, taken):
      fits = count + ordered_sizes[k] <= num_to_predict
      count += tf.where(fits, ordered_sizes[k], 0)
      return k + 1, count, tf.tensor_scatter_nd_update(taken, [[k]], [fits])

    _, _, taken = tf.while_loop(
        lambda k, count, _: (k < num_groups) & (count < num_to_predict),
        body, [0, 0, tf.zeros_like(ordered_sizes, tf.bool)])
    return taken

  def __call__(self, features, key):
    """Masks one example.

    Args:
      features: dict with input_ids and input_mask ([seq_length], int32 or
        int64), and any other features (passed through).
      key: int64 [2] (example_key).

    Returns:
      dict: the features with input_ids masked, and masked_lm_positions,
      masked_lm_ids ([max_predictions_per_seq], the dtype of input_ids) and
      masked_lm_weights (float32 [max_predictions_per_seq]).
    """
    dtype = features["input_ids"].dtype
    input_ids = tf.cast(features["input_ids"], tf.int32)
    length = tf.reduce_sum(tf.cast(features["input_mask"], tf.int32))
    order_seed, kind_seed, keep_seed, word_seed = tf.unstack(
        tf.random.experimental.stateless_split(key, 4, alg=_ALG))
    candidate, group, sizes = self.groups(input_ids, length)
    taken = self.choose(sizes, self.num_to_predict(length), order_seed)
    chosen = candidate & tf.gather(taken, tf.maximum(group, 0))
    shape = tf.shape(input_ids)
    replacement = tf.where(
        tf.random.stateless_uniform(shape, kind_seed, alg=_ALG) < 0.8,
        self.mask_id,
        tf.where(tf.random.stateless_uniform(shape, keep_seed, alg=_ALG) <
                 0.5, input_ids,
                 tf.random.stateless_uniform(shape, word_seed, 0,
                                             self.vocab_size, tf.int32,
                                             alg=_ALG)))
    positions = tf.cast(tf.where(chosen)[:, 0], tf.int32)  # sorted

    def padded(values):  # Google's zero padding, with a static shape
      return tf.reshape(tf.pad(values, [[0, self.max_predictions_per_seq -
                                         tf.shape(values)[0]]]),
                        [self.max_predictions_per_seq])

    outputs = dict(features)
    outputs["input_ids"] = tf.cast(
        tf.where(chosen, replacement, input_ids), dtype)
    outputs["masked_lm_positions"] = tf.cast(padded(positions), dtype)
    outputs["masked_lm_ids"] = tf.cast(
        padded(tf.gather(input_ids, positions)), dtype)
    outputs["masked_lm_weights"] = padded(tf.ones_like(positions, tf.float32))
    return outputs


def mask_dataset(dataset, masker, seed, evaluation=False, first_position=0):
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

  Returns:
    tf.data.Dataset of masked feature dicts, in the same order.
  """
  def mask(position, features):
    return masker(features, example_key(seed, position, evaluation))

  return dataset.enumerate(first_position).map(
      mask, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
