# coding=utf-8
"""The task heads on top of an encoder, with Google's variable names.

Each head reads only what every encoder family returns (`pooled_output`
[B, H], `sequence_output` [B, S, H], `embedding_table` [V, E]), so a head
works on BERT and on ALBERT alike:

* `ClassifierHead`: `output_weights` [C, H], `output_bias` [C] (no scope, as
  Google's run_classifier); `classifier_outputs` gives the loss and the
  outputs of a classification, multi-label or regression task.
* `SpanHead`: `cls/squad/output_weights` [2, H], `cls/squad/output_bias` [2]
  (SQuAD start / end logits); `span_loss`.
* `MaskedLMHead`: `cls/predictions/transform/dense` [H, E],
  `cls/predictions/transform/LayerNorm` [E], `cls/predictions/output_bias`
  [V], the output layer tied to the [V, E] word embeddings; E is read from
  the embedding table, so E != H (ALBERT) works; `masked_lm_output`.
* `SentenceRelationHead`: `cls/seq_relationship/output_weights` [2, H] and
  `output_bias` [2]: BERT's next-sentence prediction and ALBERT's sentence
  order prediction; `sentence_relation_output`.

* `classifier_model_outputs`: ALBERT's classifier results (loss,
  per-example loss, probabilities, logits, predictions).
* `SquadV2Head`: ALBERT's SQuAD 2.0 head (`start_logits/dense`,
  `end_logits/{dense_0,LayerNorm,dense_1}`, `answer_class/{dense_0,dense_1}`):
  start and end beams with an answerability logit; `squad_v2_loss`.

* `TokenClassificationHead`: `cls/ner/output_weights` [T, H],
  `cls/ner/output_bias` [T]: a tag's logits at every position (NER);
  `token_classification_loss`.
"""

import collections

import tensorflow as tf

import modeling

# The kinds of classifier task (run_classifier's --task_name / --multi_label).
CLASSIFICATION = "classification"
MULTI_LABEL = "multi_label"
REGRESSION = "regression"
TASK_TYPES = (CLASSIFICATION, MULTI_LABEL, REGRESSION)


def _scoped(scope, name):
  return "%s/%s" % (scope, name) if scope else name


class ClassifierHead(tf.Module):
  """Google's classifier layer over the pooled output: logits [B, C]."""

  def __init__(self, num_labels, hidden_size, dropout_prob=0.1,
               initializer_range=0.02, scope=""):
    """Creates `output_weights` [num_labels, hidden_size] and `output_bias`.

    Args:
      num_labels: number of outputs (1 for regression).
      hidden_size: width of the pooled output.
      dropout_prob: dropout on the pooled output in training (Google's
        keep_prob 0.9).
      initializer_range: stddev of the truncated normal weights (Google
        hard-codes 0.02, whatever the config says).
      scope: variable scope ("" for Google's top-level names).
    """
    super().__init__(name=None)
    self.dropout_prob = dropout_prob
    self.output_weights = tf.Variable(
        modeling.create_initializer(initializer_range)(
            [num_labels, hidden_size]),
        name=_scoped(scope, "output_weights"))
    self.output_bias = tf.Variable(tf.zeros([num_labels]),
                                   name=_scoped(scope, "output_bias"))

  def __call__(self, pooled_output, training=False):
    """Logits of the pooled output.

    Args:
      pooled_output: float32 [batch_size, hidden_size].
      training: apply dropout.

    Returns:
      float32 [batch_size, num_labels].
    """
    if training:
      pooled_output = modeling.dropout(pooled_output, self.dropout_prob)
    logits = tf.matmul(pooled_output, self.output_weights, transpose_b=True)
    return tf.nn.bias_add(logits, self.output_bias)


def classifier_probabilities(logits, task_type=CLASSIFICATION):
  """The outputs a classifier reports for its logits.

  Args:
    logits: float32 [batch_size, num_labels].
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.

  Returns:
    softmax [batch_size, num_labels] (classification), sigmoid
    [batch_size, num_labels] (multi-label) or the score [batch_size]
    (regression).
  """
  if task_type == REGRESSION:
    return logits[:, 0]
  if task_type == MULTI_LABEL:
    return tf.sigmoid(logits)
  return tf.nn.softmax(logits, axis=-1)


def classifier_outputs(logits, labels, task_type=CLASSIFICATION):
  """Loss and outputs of a classifier head for each task type.

  Args:
    logits: float32 [batch_size, num_labels].
    labels: [batch_size] int (classification), [batch_size, num_labels] 0/1
      (multi-label) or [batch_size] float (regression).
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION.

  Returns:
    (per_example_loss [batch_size], `classifier_probabilities`): softmax
    cross-entropy (Google's), mean binary cross-entropy over the labels
    (multi-label) or the squared error (regression).
  """
  probabilities = classifier_probabilities(logits, task_type)
  if task_type == REGRESSION:
    return tf.square(probabilities - tf.cast(labels, tf.float32)), probabilities
  if task_type == MULTI_LABEL:
    per_label = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.float32), logits=logits)
    return tf.reduce_mean(per_label, axis=-1), probabilities
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  one_hot_labels = tf.one_hot(labels, depth=logits.shape[-1], dtype=tf.float32)
  per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
  return per_example_loss, probabilities


ClassifierOutputs = collections.namedtuple(
    "ClassifierOutputs", ["loss", "per_example_loss", "probabilities",
                          "logits", "predictions"])
ClassifierOutputs.__doc__ = """ALBERT's classifier results (classifier_utils.
create_model's tuple), float32 unless said:

  loss: scalar, the mean of per_example_loss.
  per_example_loss: [batch_size].
  probabilities: [batch_size, num_labels] softmax (classification) or sigmoid
    (multi-label); for regression the [batch_size, 1] logits (ALBERT's STS-B).
  logits: [batch_size, num_labels]; for regression the [batch_size] scores.
  predictions: int32 [batch_size] argmax (classification), int32
    [batch_size, num_labels] probabilities > 0.5 (multi-label), or the
    [batch_size] scores (regression).
"""


def classifier_model_outputs(logits, labels, task_type=CLASSIFICATION):
  """ALBERT's classifier results for the logits of a `ClassifierHead`.

  ALBERT's `create_model` returns (loss, per_example_loss, probabilities,
  logits, predictions) where Google's BERT returns (loss, per_example_loss,
  logits, probabilities); the arithmetic is `classifier_outputs`'.

  Args:
    logits: float32 [batch_size, num_labels] (num_labels 1 for regression).
    labels: as `classifier_outputs`, or None (serving: loss and
      per_example_loss are then None).
    task_type: CLASSIFICATION, MULTI_LABEL or REGRESSION (ALBERT's "sts-b").

  Returns:
    ClassifierOutputs.
  """
  if labels is None:
    loss = per_example_loss = None
    probabilities = classifier_probabilities(logits, task_type)
  else:
    per_example_loss, probabilities = classifier_outputs(logits, labels,
                                                         task_type)
    loss = tf.reduce_mean(per_example_loss)
  if task_type == REGRESSION:
    # ALBERT: probabilities are the unsqueezed logits, logits and predictions
    # the squeezed scores.
    return ClassifierOutputs(loss, per_example_loss, logits, probabilities,
                             probabilities)
  if task_type == MULTI_LABEL:
    predictions = tf.cast(probabilities > 0.5, tf.int32)
  else:
    predictions = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
  return ClassifierOutputs(loss, per_example_loss, probabilities, logits,
                           predictions)


class TokenClassificationHead(ClassifierHead):
  """Tag logits at every position of the sequence output (NER, tagging).

  The classifier's layer (dropout, then `output_weights` [T, H] and
  `output_bias` [T]) applied at each position. Google never shipped a
  tagging head; the names follow its SQuAD head (`cls/squad/...`):
  `cls/ner/output_weights`, `cls/ner/output_bias`. Under a scope of their
  own they cannot be taken for a classifier's top-level `output_weights`
  when a tagging checkpoint warm-starts run_classifier (or the reverse), and
  a pretraining checkpoint has nothing under `cls/ner/`, so the warm start
  leaves the head fresh.
  """

  def __init__(self, num_labels, hidden_size, dropout_prob=0.1,
               initializer_range=0.02, scope="cls/ner"):
    """Creates `<scope>/output_weights` [num_labels, hidden_size], `_bias`.

    Args:
      num_labels: number of tags T.
      hidden_size: width H of the sequence output.
      dropout_prob: dropout on the sequence output in training (as the
        classifier's 0.1).
      initializer_range: stddev of the truncated normal weights (0.02, as
        Google's heads).
      scope: variable scope ("" for top-level names, as some BERT NER forks
        have them).
    """
    super().__init__(num_labels, hidden_size, dropout_prob,
                     initializer_range, scope)
    self.num_labels = num_labels

  def __call__(self, sequence_output, training=False):
    """Logits of every position.

    Args:
      sequence_output: float32 [batch_size, seq_length, hidden_size].
      training: apply dropout.

    Returns:
      float32 [batch_size, seq_length, num_labels].
    """
    batch_size, seq_length, hidden_size = modeling.get_shape_list(
        sequence_output, expected_rank=3)
    matrix = tf.reshape(tf.cast(sequence_output, tf.float32),
                        [batch_size * seq_length, hidden_size])
    logits = super().__call__(matrix, training=training)
    return tf.reshape(logits, [batch_size, seq_length, self.num_labels])


def token_classification_loss(logits, label_ids, label_weights):
  """Weighted softmax cross-entropy of the tags (Model Garden's tagging loss).

  Args:
    logits: float32 [batch_size, seq_length, num_labels].
    label_ids: int [batch_size, seq_length]; read where the weight is
      positive (may be -1 elsewhere).
    label_weights: float [batch_size, seq_length]: 1.0 at the positions that
      count (the first piece of each word), 0.0 elsewhere.

  Returns:
    (loss: float32 scalar, sum(weight * nll) / sum(weight), 0 when every
    weight is 0; per_position_loss: float32 [batch_size, seq_length], the
    negative log-likelihood, 0 where the weight is 0).
  """
  label_weights = tf.cast(label_weights, tf.float32)
  log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
  labels = tf.maximum(tf.cast(label_ids, tf.int32), 0)
  nll = -tf.gather(log_probs, labels, batch_dims=2)
  per_position_loss = tf.where(label_weights > 0, nll, tf.zeros_like(nll))
  loss = tf.math.divide_no_nan(
      tf.reduce_sum(per_position_loss * label_weights),
      tf.reduce_sum(label_weights))
  return loss, per_position_loss


class SpanHead(tf.Module):
  """Google's SQuAD head: start and end logits of every position."""

  def __init__(self, hidden_size, initializer_range=0.02, scope="cls/squad"):
    """Creates `cls/squad/output_weights` [2, hidden_size], `output_bias` [2].

    Args:
      hidden_size: width of the sequence output.
      initializer_range: stddev (Google hard-codes 0.02).
      scope: variable scope.
    """
    super().__init__(name=None)
    self.output_weights = tf.Variable(
        modeling.create_initializer(initializer_range)([2, hidden_size]),
        name=scope + "/output_weights")
    self.output_bias = tf.Variable(tf.zeros([2]), name=scope + "/output_bias")

  def __call__(self, sequence_output):
    """Start and end logits.

    Args:
      sequence_output: float32 [batch_size, seq_length, hidden_size].

    Returns:
      (start_logits, end_logits): float32 [batch_size, seq_length] each; the
      question and padding positions are not masked (Google's behaviour).
    """
    batch_size, seq_length, hidden_size = modeling.get_shape_list(
        sequence_output, expected_rank=3)
    matrix = tf.reshape(sequence_output, [batch_size * seq_length, hidden_size])
    logits = tf.matmul(matrix, self.output_weights, transpose_b=True)
    logits = tf.nn.bias_add(logits, self.output_bias)
    logits = tf.reshape(logits, [batch_size, seq_length, 2])
    return logits[:, :, 0], logits[:, :, 1]


def span_loss(logits, positions):
  """Mean cross-entropy of the true positions (Google's compute_loss).

  Args:
    logits: float32 [batch_size, seq_length].
    positions: int [batch_size].

  Returns:
    float32 scalar.
  """
  return position_loss(tf.nn.log_softmax(logits, axis=-1), positions)


def position_loss(log_probs, positions):
  """Mean negative log probability of the true positions.

  Args:
    log_probs: float32 [batch_size, seq_length].
    positions: int [batch_size].

  Returns:
    float32 scalar.
  """
  seq_length = modeling.get_shape_list(log_probs)[1]
  one_hot_positions = tf.one_hot(positions, depth=seq_length, dtype=tf.float32)
  return -tf.reduce_mean(tf.reduce_sum(one_hot_positions * log_probs, axis=-1))


class MaskedLMHead(tf.Module):
  """Google's `cls/predictions` variables: transform dense, LayerNorm, bias."""

  def __init__(self, hidden_size, embedding_size, vocab_size, hidden_act="gelu",
               initializer_range=0.02):
    """Creates the variables.

    Args:
      hidden_size: H, width of the encoder output.
      embedding_size: E, width of the word embeddings the output is tied to
        (H for BERT; see `tied_to`).
      vocab_size: V.
      hidden_act: activation after the transform (the config's).
      initializer_range: stddev of the transform kernel.
    """
    super().__init__(name="cls_predictions")
    self.hidden_size = hidden_size
    self.vocab_size = vocab_size
    self.act_fn = modeling.get_activation(hidden_act)
    init = modeling.create_initializer(initializer_range)
    scope = "cls/predictions/transform"
    # Attribute names fix the variables' order (checkpoints, optimizer).
    self.transform = modeling.Dense(scope + "/dense", hidden_size,
                                    embedding_size, init)
    self.layer_norm = modeling.LayerNorm(scope + "/LayerNorm", embedding_size)
    self.output_bias = tf.Variable(tf.zeros([vocab_size]),
                                   name="cls/predictions/output_bias")

  @classmethod
  def tied_to(cls, embedding_table, hidden_size, hidden_act="gelu",
              initializer_range=0.02):
    """A head for an encoder whose word embedding table is `embedding_table`.

    Args:
      embedding_table: the [V, E] word embedding variable; V and E are read
        from its shape.
      hidden_size, hidden_act, initializer_range: the encoder config's.
    """
    vocab_size, embedding_size = embedding_table.shape.as_list()
    return cls(hidden_size, embedding_size, vocab_size, hidden_act,
               initializer_range)


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at the specific positions over a minibatch.

  Args:
    sequence_tensor: [batch_size, seq_length, width].
    positions: int32 [batch_size, num_positions].

  Returns:
    [batch_size * num_positions, width].
  """
  sequence_shape = modeling.get_shape_list(sequence_tensor, expected_rank=3)
  batch_size, seq_length, width = sequence_shape
  flat_sequence_tensor = tf.reshape(sequence_tensor,
                                    [batch_size * seq_length, width])
  return tf.gather(flat_sequence_tensor,
                   modeling.flat_positions(positions, seq_length))


def masked_lm_output(head, input_tensor, embedding_table, label_ids,
                     label_weights, compute_dtype=tf.float32):
  """Loss and log probabilities of the masked LM (Google's formulas).

  Args:
    head: MaskedLMHead.
    input_tensor: float32 [batch_size, num_predictions, hidden_size] (or
      [batch_size * num_predictions, hidden_size]): the encoder output at the
      masked positions.
    embedding_table: [vocab_size, embedding_size], the word embeddings (the
      output layer is tied to them).
    label_ids: int32 [batch_size, num_predictions].
    label_weights: float32 [batch_size, num_predictions], 0 for padding.
    compute_dtype: dtype of the two matrix multiplications.

  Returns:
    (loss scalar, per_example_loss [batch_size * num_predictions], log_probs
    [batch_size * num_predictions, vocab_size]), float32.
  """
  input_tensor = tf.reshape(input_tensor, [-1, head.hidden_size])
  input_tensor = head.transform(input_tensor, compute_dtype)
  if head.act_fn is not None:
    input_tensor = head.act_fn(input_tensor)
  input_tensor = head.layer_norm(input_tensor)

  logits = tf.matmul(tf.cast(input_tensor, compute_dtype),
                     tf.cast(embedding_table, compute_dtype), transpose_b=True)
  logits = tf.cast(logits, tf.float32) + head.output_bias
  log_probs = tf.nn.log_softmax(logits, axis=-1)

  label_ids = tf.reshape(label_ids, [-1])
  label_weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
  one_hot_labels = tf.one_hot(label_ids, depth=head.vocab_size,
                              dtype=tf.float32)

  # The padding predictions (weight 0) still have a loss; the weights remove
  # them from the mean. 1e-5 keeps an all-padding batch finite (Google's).
  per_example_loss = -tf.reduce_sum(log_probs * one_hot_labels, axis=[-1])
  numerator = tf.reduce_sum(label_weights * per_example_loss)
  denominator = tf.reduce_sum(label_weights) + 1e-5
  loss = numerator / denominator
  return loss, per_example_loss, log_probs


class SentenceRelationHead(tf.Module):
  """Google's `cls/seq_relationship` variables ([2, H] weights, [2] bias).

  BERT's next-sentence prediction (label 0 = B follows A, 1 = random) and
  ALBERT's sentence-order prediction use the same head and names.
  """

  def __init__(self, hidden_size, initializer_range=0.02):
    super().__init__(name="cls_seq_relationship")
    init = modeling.create_initializer(initializer_range)
    self.output_weights = tf.Variable(
        init([2, hidden_size]), name="cls/seq_relationship/output_weights")
    self.output_bias = tf.Variable(tf.zeros([2]),
                                   name="cls/seq_relationship/output_bias")


def sentence_relation_output(head, pooled_output, labels):
  """Loss and log probabilities of the sentence relation (NSP / SOP).

  Args:
    head: SentenceRelationHead.
    pooled_output: float32 [batch_size, hidden_size].
    labels: int32 [batch_size] or [batch_size, 1].

  Returns:
    (loss scalar, per_example_loss [batch_size], log_probs [batch_size, 2]).
  """
  logits = tf.matmul(tf.cast(pooled_output, tf.float32), head.output_weights,
                     transpose_b=True)
  logits = logits + head.output_bias
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  labels = tf.reshape(labels, [-1])
  one_hot_labels = tf.one_hot(labels, depth=2, dtype=tf.float32)
  per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
  loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, log_probs


# Added to the logits of impossible positions (ALBERT's constant).
_IMPOSSIBLE = 1e30


def _mask_logits(logits, p_mask):
  """ALBERT's `logits * (1 - p_mask) - 1e30 * p_mask`.

  Args:
    logits: float32 [..., seq_length].
    p_mask: float32 [batch_size, seq_length] broadcastable to `logits`
      (1 = not an answer position).

  Returns:
    float32, the shape of `logits`.
  """
  return logits * (1.0 - p_mask) - _IMPOSSIBLE * p_mask


class SquadV2Head(tf.Module):
  """ALBERT's SQuAD 2.0 head (squad_utils.create_v2_model), ALBERT's names.

  Start logits from each position; end logits from each position joined with
  the start position's vector (the true start in training, each of the
  `start_n_top` best starts at inference: a beam); an answerability logit
  from the [CLS] vector joined with the start-probability-weighted vector.
  Variables: `start_logits/dense` [H, 1], `end_logits/dense_0` [2H, H],
  `end_logits/LayerNorm` [H], `end_logits/dense_1` [H, 1],
  `answer_class/dense_0` [2H, H], `answer_class/dense_1/kernel` [H, 1] (no
  bias).
  """

  def __init__(self, hidden_size, initializer_range=0.02, start_n_top=5,
               end_n_top=5, dropout_prob=0.1, compute_dtype=tf.float32):
    """Creates the variables.

    Args:
      hidden_size: H, width of the sequence output.
      initializer_range: stddev of the kernels (the config's, as ALBERT).
      start_n_top: beam of start positions at inference (ALBERT's flag, 5).
      end_n_top: end positions kept per start at inference (5).
      dropout_prob: dropout on the answerability hidden layer in training
        (ALBERT's --dropout_prob, 0.1).
      compute_dtype: dtype of the matrix multiplications.
    """
    super().__init__(name="squad_v2")
    self.hidden_size = hidden_size
    self.start_n_top = start_n_top
    self.end_n_top = end_n_top
    self.dropout_prob = dropout_prob
    self.compute_dtype = tf.as_dtype(compute_dtype)
    h = hidden_size
    init = modeling.create_initializer(initializer_range)
    self.start_dense = modeling.Dense("start_logits/dense", h, 1, init)
    self.end_dense_0 = modeling.Dense("end_logits/dense_0", 2 * h, h, init)
    self.end_layer_norm = modeling.LayerNorm("end_logits/LayerNorm", h)
    self.end_dense_1 = modeling.Dense("end_logits/dense_1", h, 1, init)
    self.answer_dense_0 = modeling.Dense("answer_class/dense_0", 2 * h, h,
                                         init)
    self.answer_kernel = tf.Variable(init([h, 1]),
                                     name="answer_class/dense_1/kernel")

  def _end_logits(self, features):
    """End logits of [position vector, start vector] pairs.

    Args:
      features: float32 [..., 2 * hidden_size].

    Returns:
      float32 [...]: dense_0 (tanh), LayerNorm, dense_1.
    """
    shape = modeling.get_shape_list(features)[:-1]
    x = tf.reshape(features, [-1, 2 * self.hidden_size])
    x = tf.tanh(tf.cast(self.end_dense_0(x, self.compute_dtype), tf.float32))
    x = self.end_layer_norm(x)
    x = tf.cast(self.end_dense_1(x, self.compute_dtype), tf.float32)
    return tf.reshape(x, shape)

  def _start_logits(self, sequence_output):
    """float32 [batch_size, seq_length] of sequence_output [B, S, H]."""
    batch_size, seq_length, _ = modeling.get_shape_list(sequence_output,
                                                        expected_rank=3)
    x = tf.reshape(sequence_output, [-1, self.hidden_size])
    x = tf.cast(self.start_dense(x, self.compute_dtype), tf.float32)
    return tf.reshape(x, [batch_size, seq_length])

  def _end_beams(self, sequence_output, start_log_probs, p_mask):
    """Inference: the end beams of the `start_n_top` best starts.

    Args:
      sequence_output: float32 [batch_size, seq_length, hidden_size].
      start_log_probs: float32 [batch_size, seq_length].
      p_mask: float32 [batch_size, seq_length].

    Returns:
      dict: start_top_log_probs, start_top_index [B, k1]; end_top_log_probs,
      end_top_index [B, k1 * k2], start-major (entry i * k2 + j: the j-th
      end of the i-th start).
    """
    k1, k2 = self.start_n_top, self.end_n_top
    seq_length = modeling.get_shape_list(sequence_output)[1]
    start_top_log_probs, start_top_index = tf.nn.top_k(start_log_probs, k=k1)
    # [B, k1, H] -> every position paired with every start: [B, k1, S, 2H].
    start_vectors = tf.gather(sequence_output, start_top_index, batch_dims=1)
    pairs = tf.concat(
        [tf.tile(sequence_output[:, None], [1, k1, 1, 1]),
         tf.tile(start_vectors[:, :, None], [1, 1, seq_length, 1])], axis=-1)
    end_logits = _mask_logits(self._end_logits(pairs), p_mask[:, None])
    end_log_probs = tf.nn.log_softmax(end_logits, axis=-1)
    end_top_log_probs, end_top_index = tf.nn.top_k(end_log_probs, k=k2)
    return {"start_top_log_probs": start_top_log_probs,
            "start_top_index": start_top_index,
            "end_top_log_probs": tf.reshape(end_top_log_probs, [-1, k1 * k2]),
            "end_top_index": tf.reshape(end_top_index, [-1, k1 * k2])}

  def _cls_logits(self, sequence_output, start_logits, training):
    """The answerability logit: float32 [batch_size].

    Args:
      sequence_output: float32 [batch_size, seq_length, hidden_size].
      start_logits: float32 [batch_size, seq_length], masked.
      training: dropout on the hidden layer.
    """
    start_p = tf.nn.softmax(start_logits, axis=-1)
    start_feature = tf.einsum("bsh,bs->bh", sequence_output, start_p)
    features = tf.concat([start_feature, sequence_output[:, 0]], axis=-1)
    hidden = tf.tanh(tf.cast(self.answer_dense_0(features, self.compute_dtype),
                             tf.float32))
    if training:
      hidden = modeling.dropout(hidden, self.dropout_prob)
    logits = tf.matmul(tf.cast(hidden, self.compute_dtype),
                       tf.cast(self.answer_kernel, self.compute_dtype))
    return tf.cast(logits[:, 0], tf.float32)

  def __call__(self, sequence_output, p_mask, training=False,
               start_positions=None):
    """ALBERT's create_v2_model outputs.

    Args:
      sequence_output: float32 [batch_size, seq_length, hidden_size].
      p_mask: int or float [batch_size, seq_length], 1 for positions that
        cannot be part of an answer (question, [SEP], padding).
      training: ALBERT's is_training: end logits from the true start
        (`start_positions`) and dropout; else the beams.
      start_positions: int [batch_size] (or [batch_size, 1]), training only.

    Returns:
      dict, ALBERT's keys: in training start_log_probs, end_log_probs
      [batch_size, seq_length]; else start_top_log_probs, start_top_index,
      end_top_log_probs, end_top_index (see `_end_beams`); and cls_logits
      [batch_size].
    """
    sequence_output = tf.cast(sequence_output, tf.float32)
    p_mask = tf.cast(p_mask, tf.float32)
    start_logits = _mask_logits(self._start_logits(sequence_output), p_mask)
    start_log_probs = tf.nn.log_softmax(start_logits, axis=-1)
    if training:
      if start_positions is None:
        raise ValueError("SquadV2Head in training needs start_positions.")
      start_vectors = tf.gather(sequence_output,
                                tf.reshape(start_positions, [-1]),
                                batch_dims=1)
      seq_length = modeling.get_shape_list(sequence_output)[1]
      pairs = tf.concat(
          [sequence_output,
           tf.tile(start_vectors[:, None], [1, seq_length, 1])], axis=-1)
      end_logits = _mask_logits(self._end_logits(pairs), p_mask)
      outputs = {"start_log_probs": start_log_probs,
                 "end_log_probs": tf.nn.log_softmax(end_logits, axis=-1)}
    else:
      outputs = self._end_beams(sequence_output, start_log_probs, p_mask)
    outputs["cls_logits"] = self._cls_logits(sequence_output, start_logits,
                                             training)
    return outputs


def squad_v2_loss(outputs, start_positions, end_positions, is_impossible):
  """ALBERT's SQuAD 2.0 training loss.

  `(start_loss + end_loss) / 2 + answerability_loss / 2`: the mean negative
  log probabilities of the true start and end, and the mean sigmoid
  cross-entropy of the cls logit against `is_impossible`.

  Args:
    outputs: SquadV2Head's training outputs (start_log_probs, end_log_probs,
      cls_logits).
    start_positions, end_positions: int [batch_size].
    is_impossible: int or float [batch_size] (or [batch_size, 1]), 1 for a
      question without an answer.

  Returns:
    float32 scalar.
  """
  start_loss = position_loss(outputs["start_log_probs"],
                             tf.reshape(start_positions, [-1]))
  end_loss = position_loss(outputs["end_log_probs"],
                           tf.reshape(end_positions, [-1]))
  answerability_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.cast(tf.reshape(is_impossible, [-1]), tf.float32),
      logits=outputs["cls_logits"]))
  return (start_loss + end_loss) * 0.5 + answerability_loss * 0.5
