"""heads.py: Google's variable names and shapes, and the masked-LM head with
an embedding width E different from the hidden size H (ALBERT's case),
against an independent NumPy computation. The heads on BERT's own outputs are
checked against Google's in test_run_pretraining.py,
test_run_classifier_model.py and test_run_squad_main.py."""

import numpy as np
import tensorflow as tf

import checkpoints
import heads


def _names_and_shapes(module):
  return {checkpoints.variable_name(v): v.shape.as_list()
          for v in module.variables}


def test_google_names_and_shapes():
  assert _names_and_shapes(heads.ClassifierHead(3, 8)) == {
      "output_weights": [3, 8], "output_bias": [3]}
  assert _names_and_shapes(heads.ClassifierHead(3, 8, scope="x")) == {
      "x/output_weights": [3, 8], "x/output_bias": [3]}
  assert _names_and_shapes(heads.SpanHead(8)) == {
      "cls/squad/output_weights": [2, 8], "cls/squad/output_bias": [2]}
  assert _names_and_shapes(heads.SentenceRelationHead(8)) == {
      "cls/seq_relationship/output_weights": [2, 8],
      "cls/seq_relationship/output_bias": [2]}


def test_masked_lm_head_reads_the_embedding_width_from_the_table():
  table = tf.Variable(tf.zeros([10, 4]))  # V = 10, E = 4
  head = heads.MaskedLMHead.tied_to(table, hidden_size=8)
  assert _names_and_shapes(head) == {
      "cls/predictions/transform/dense/kernel": [8, 4],
      "cls/predictions/transform/dense/bias": [4],
      "cls/predictions/transform/LayerNorm/beta": [4],
      "cls/predictions/transform/LayerNorm/gamma": [4],
      "cls/predictions/output_bias": [10]}


def _gelu(x):
  return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def test_masked_lm_output_with_e_not_h_against_numpy():
  rng = np.random.RandomState(0)
  hidden, embedding, vocab = 8, 4, 10
  table = tf.Variable(rng.randn(vocab, embedding).astype(np.float32))
  head = heads.MaskedLMHead(hidden, embedding, vocab, "gelu", 0.5)
  head.layer_norm.gamma.assign(rng.rand(embedding).astype(np.float32) + 0.5)
  head.layer_norm.beta.assign(rng.randn(embedding).astype(np.float32))
  head.output_bias.assign(rng.randn(vocab).astype(np.float32))
  x = rng.randn(2, 3, hidden).astype(np.float32)
  label_ids = np.array([[1, 2, 0], [9, 4, 4]], np.int32)
  label_weights = np.array([[1, 1, 0], [1, 1, 1]], np.float32)
  loss, per_example, log_probs = heads.masked_lm_output(
      head, x, table, label_ids, label_weights)

  y = x.reshape(-1, hidden).astype(np.float64)
  y = _gelu(y @ head.transform.kernel.numpy() + head.transform.bias.numpy())
  mean = y.mean(-1, keepdims=True)
  var = ((y - mean)**2).mean(-1, keepdims=True)
  y = (y - mean) / np.sqrt(var + 1e-12) * head.layer_norm.gamma.numpy() + (
      head.layer_norm.beta.numpy())
  logits = y @ table.numpy().T + head.output_bias.numpy()
  want_log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  want_per_example = -want_log_probs[np.arange(6), label_ids.reshape(-1)]
  weights = label_weights.reshape(-1)
  np.testing.assert_allclose(log_probs, want_log_probs, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(per_example, want_per_example, rtol=1e-4,
                             atol=1e-5)
  np.testing.assert_allclose(
      loss, (weights * want_per_example).sum() / (weights.sum() + 1e-5),
      rtol=1e-5)


def test_classifier_outputs_per_task_type():
  logits = tf.constant([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
  loss, probs = heads.classifier_outputs(logits, np.array([2, 1]))
  p = np.exp(logits.numpy())
  p /= p.sum(-1, keepdims=True)
  np.testing.assert_allclose(probs, p, rtol=1e-6)
  np.testing.assert_allclose(loss, -np.log(p[[0, 1], [2, 1]]), rtol=1e-5)
  for task_type in heads.TASK_TYPES:
    _, outputs = heads.classifier_outputs(logits, np.zeros([2, 3]) if
                                          task_type == heads.MULTI_LABEL else
                                          np.zeros([2]), task_type)
    np.testing.assert_array_equal(
        outputs, heads.classifier_probabilities(logits, task_type))


def test_span_head_and_loss():
  head = heads.SpanHead(4)
  head.output_weights.assign([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
  head.output_bias.assign([0.5, -0.5])
  sequence = tf.reshape(tf.range(2 * 3 * 4, dtype=tf.float32), [2, 3, 4])
  start, end = head(sequence)
  np.testing.assert_allclose(start, sequence[:, :, 0] + 0.5)
  np.testing.assert_allclose(end, sequence[:, :, 1] - 0.5)
  logits = tf.constant([[0.0, 1.0, 2.0]])
  expected = -(2.0 - np.log(np.exp([0.0, 1.0, 2.0]).sum()))
  np.testing.assert_allclose(heads.span_loss(logits, [2]), expected,
                             rtol=1e-6)
