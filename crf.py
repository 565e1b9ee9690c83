"""A linear-chain conditional random field over token logits.

The CRF scores a tag path y_1..y_n of a sequence with emissions E (the
token-classification logits) and a transition matrix A as
  sum_t E[t, y_t] + sum_{t>1} A[y_{t-1}, y_t],
its loss is the negative log-likelihood of the gold path (the log-partition
by the forward algorithm) and decoding is Viterbi's best path.

In a tagging window only some positions are words (the first piece of each
word; not [CLS], [SEP], later pieces or padding). The CRF runs over the
words alone: `compact` moves each row's masked positions to its front in
order, so that the chain links consecutive words, and `expand` puts decoded
tags back at their positions. Everything is core TensorFlow (argsort,
gather, scan, while loops), so it runs inside tf.function and SavedModels.
"""

import tensorflow as tf


class CRF(tf.Module):
  """The transition matrix of a linear-chain CRF and its loss / decoding."""

  def __init__(self, num_tags, scope="crf"):
    """Creates the variable `<scope>/transitions` [num_tags, num_tags].

    Args:
      num_tags: number of tags T.
      scope: checkpoint scope of the variable.
    """
    super().__init__(name=None)
    self.num_tags = num_tags
    # transitions[i, j] scores tag j right after tag i. Zeros: the chain
    # starts as a plain softmax tagger and learns its transitions.
    self.transitions = tf.Variable(tf.zeros([num_tags, num_tags]),
                                   name=scope + "/transitions")

  def log_likelihood(self, logits, tag_ids, mask):
    """Log-likelihood of the gold tags of the masked positions of each row.

    Args:
      logits: float [B, S, T] (any float dtype; computed in float32).
      tag_ids: int [B, S]; read at the masked positions only.
      mask: bool or int [B, S]: the positions the chain runs over.

    Returns:
      float32 [B] (0 for a row without positions).
    """
    return crf_log_likelihood(tf.cast(logits, tf.float32), tag_ids, mask,
                              self.transitions)

  def decode(self, logits, mask):
    """Viterbi tags of the masked positions, -1 elsewhere.

    Args:
      logits: float [B, S, T].
      mask: bool or int [B, S].

    Returns:
      int32 [B, S].
    """
    return crf_decode(tf.cast(logits, tf.float32), mask, self.transitions)


def compact(values, mask):
  """Moves each row's masked positions to its front, keeping their order.

  Args:
    values: [B, S] or [B, S, ...] tensor.
    mask: bool or int [B, S].

  Returns:
    (compacted values, same shape; lengths, int32 [B] = masked positions
    per row). Positions at and after a row's length hold its other values.
  """
  mask = tf.cast(mask, tf.bool)
  # A stable sort of 0 (kept) before 1 (dropped) keeps the kept order.
  order = tf.argsort(tf.cast(tf.logical_not(mask), tf.int32), axis=1,
                     stable=True)
  lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
  return tf.gather(values, order, batch_dims=1), lengths


def expand(compacted, mask, fill):
  """Inverse of compact for [B, S] values: back to the masked positions.

  Args:
    compacted: [B, S] tensor (valid up to each row's number of masked
      positions).
    mask: bool or int [B, S].
    fill: value for the positions outside the mask.

  Returns:
    [B, S] tensor.
  """
  mask = tf.cast(mask, tf.bool)
  index = tf.maximum(tf.cumsum(tf.cast(mask, tf.int32), axis=1) - 1, 0)
  values = tf.gather(compacted, index, batch_dims=1)
  return tf.where(mask, values, tf.cast(fill, values.dtype))


def _time_major(emissions):
  """[B, S, T] -> [S, B, T], and the step numbers int32 [S]."""
  return (tf.transpose(emissions, [1, 0, 2]),
          tf.range(tf.shape(emissions)[1]))


def crf_log_norm(emissions, lengths, transitions):
  """Log-partition of each row by the forward algorithm.

  Args:
    emissions: float [B, S, T] (S >= 1), row b valid in its first lengths[b]
      steps.
    lengths: int32 [B] (0 allowed).
    transitions: [T, T] (cast to the emissions' dtype).

  Returns:
    [B]: log of the sum over all tag paths of exp(score); 0 for length 0.
  """
  transitions = tf.cast(transitions, emissions.dtype)

  # Step 0 is inside the loop too: a loop over no steps (S = 1) has no
  # static element shape to stack in a graph.
  def forward(alpha, inputs):
    emission, step = inputs
    # alpha[b, i] + transitions[i, j], summed out over the previous tag i.
    new = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1)
    new = tf.where(step > 0, new, tf.zeros_like(new)) + emission
    return tf.where((step < lengths)[:, None], new, alpha)

  alpha = tf.foldl(forward, _time_major(emissions),
                   initializer=tf.zeros_like(emissions[:, 0]))
  log_norm = tf.reduce_logsumexp(alpha, axis=1)
  return tf.where(lengths > 0, log_norm, tf.zeros_like(log_norm))


def crf_path_score(emissions, tags, lengths, transitions):
  """Score of one tag path per row.

  Args:
    emissions: float [B, S, T].
    tags: int [B, S]; values past a row's length are ignored (may be -1).
    lengths: int32 [B].
    transitions: [T, T].

  Returns:
    [B]: sum of the emissions of the path and of its transitions.
  """
  transitions = tf.cast(transitions, emissions.dtype)
  num_tags = tf.shape(transitions)[0]
  tags = tf.maximum(tf.cast(tags, tf.int32), 0)
  mask = tf.sequence_mask(lengths, tf.shape(emissions)[1], emissions.dtype)
  unary = tf.reduce_sum(
      tf.gather(emissions, tags, batch_dims=2) * mask, axis=1)
  pairs = tags[:, :-1] * num_tags + tags[:, 1:]
  binary = tf.reduce_sum(
      tf.gather(tf.reshape(transitions, [-1]), pairs) * mask[:, 1:], axis=1)
  return unary + binary


def viterbi(emissions, lengths, transitions):
  """Best tag path of each row (Viterbi).

  Args:
    emissions: float [B, S, T] (S >= 1).
    lengths: int32 [B].
    transitions: [T, T].

  Returns:
    (tags int32 [B, S], valid in each row's first lengths[b] steps; best
    path scores [B]).
  """
  transitions = tf.cast(transitions, emissions.dtype)
  zeros = tf.zeros_like(emissions[:, 0])
  identity = tf.broadcast_to(tf.range(tf.shape(zeros)[1]), tf.shape(zeros))

  def forward(carry, inputs):
    score, _ = carry
    emission, step = inputs
    candidates = score[:, :, None] + transitions[None]  # [B, from, to]
    best = tf.where(step > 0, tf.reduce_max(candidates, axis=1), zeros)
    # Step 0 and the steps past a row's length point each tag to itself
    # (past the length the score stays too), so backtracking from the last
    # step reaches the row's last real tag.
    active = tf.logical_and(step > 0, step < lengths)[:, None]
    pointers = tf.where(
        active, tf.argmax(candidates, axis=1, output_type=tf.int32),
        identity)
    return (tf.where((step < lengths)[:, None], best + emission, score),
            pointers)

  scores, pointers = tf.scan(forward, _time_major(emissions),
                             initializer=(zeros, identity))
  last_tags = tf.argmax(scores[-1], axis=1, output_type=tf.int32)
  # previous[k] = the tag at step k - 1 (previous[0]: the tag at step 0).
  previous = tf.scan(
      lambda tag, pointer: tf.gather(pointer, tag, batch_dims=1), pointers,
      initializer=last_tags, reverse=True)
  tags = tf.concat([previous[1:], last_tags[None]], axis=0)
  return tf.transpose(tags), tf.reduce_max(scores[-1], axis=1)


def crf_log_likelihood(logits, tag_ids, mask, transitions):
  """Log-likelihood of the gold tags at the masked positions of each row.

  Args:
    logits: float [B, S, T].
    tag_ids: int [B, S] (read at the masked positions).
    mask: bool or int [B, S]: the chain's positions (for tagging, the first
      pieces of the window's words: label_ids >= 0).
    transitions: [T, T].

  Returns:
    [B] log p(gold path); 0 for a row without masked positions. The loss is
    its negative.
  """
  emissions, lengths = compact(logits, mask)
  tags, _ = compact(tag_ids, mask)
  return (crf_path_score(emissions, tags, lengths, transitions) -
          crf_log_norm(emissions, lengths, transitions))


def crf_decode(logits, mask, transitions):
  """Viterbi tags over the masked positions of each row, -1 elsewhere.

  Args:
    logits: float [B, S, T].
    mask: bool or int [B, S].
    transitions: [T, T].

  Returns:
    int32 [B, S].
  """
  emissions, lengths = compact(logits, mask)
  tags, _ = viterbi(emissions, lengths, transitions)
  return expand(tags, mask, -1)
