"""Tests of crf.py against brute-force enumeration of all tag paths."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import crf


def path_score(emissions, transitions, path):
  """Score of one path over [n, T] emissions (the CRF's definition)."""
  score = sum(emissions[t, tag] for t, tag in enumerate(path))
  score += sum(transitions[a, b] for a, b in zip(path[:-1], path[1:]))
  return score


def brute_force(emissions, transitions):
  """(log-partition, best path) of [n, T] emissions by enumeration."""
  num_tags = transitions.shape[0]
  if len(emissions) == 0:
    return 0.0, ()
  paths = list(itertools.product(range(num_tags), repeat=len(emissions)))
  scores = np.array([path_score(emissions, transitions, p) for p in paths])
  top = scores.max()
  return top + np.log(np.exp(scores - top).sum()), paths[int(scores.argmax())]


def random_case(seed, batch, seq_length, num_tags):
  rng = np.random.default_rng(seed)
  emissions = rng.normal(size=(batch, seq_length, num_tags)) * 2
  transitions = rng.normal(size=(num_tags, num_tags))
  tags = rng.integers(0, num_tags, size=(batch, seq_length))
  return emissions, transitions, tags


# Rows: words with gaps (later pieces), a full row, an empty row (a window
# inside one long word), one word, and padding at the end.
MASK = np.array([[0, 1, 0, 1, 1, 0, 0],
                 [1, 1, 1, 1, 1, 1, 1],
                 [0, 0, 0, 0, 0, 0, 0],
                 [0, 0, 1, 0, 0, 0, 0],
                 [1, 0, 0, 1, 0, 0, 0]], bool)


def test_log_norm_matches_enumeration():
  emissions, transitions, _ = random_case(0, 4, 5, 3)
  lengths = np.array([5, 1, 3, 4], np.int32)
  got = crf.crf_log_norm(tf.constant(emissions), tf.constant(lengths),
                         tf.constant(transitions)).numpy()
  for b, n in enumerate(lengths):
    assert got[b] == pytest.approx(
        brute_force(emissions[b, :n], transitions)[0], abs=1e-9)


def test_masked_log_likelihood_matches_enumeration():
  emissions, transitions, tags = random_case(1, 5, 7, 3)
  got = crf.crf_log_likelihood(tf.constant(emissions), tf.constant(tags),
                               MASK, tf.constant(transitions)).numpy()
  for b in range(len(MASK)):
    kept = emissions[b][MASK[b]]
    log_norm, _ = brute_force(kept, transitions)
    gold = path_score(kept, transitions, tuple(tags[b][MASK[b]]))
    expected = gold - log_norm if len(kept) else 0.0
    assert got[b] == pytest.approx(expected, abs=1e-9), b


def test_likelihoods_of_all_paths_sum_to_one():
  emissions, transitions, _ = random_case(2, 1, 4, 3)
  mask = np.array([[1, 0, 1, 1]], bool)
  total = 0.0
  for path in itertools.product(range(3), repeat=3):
    tags = np.zeros((1, 4), np.int64)
    tags[0, [0, 2, 3]] = path
    total += np.exp(crf.crf_log_likelihood(
        tf.constant(emissions), tf.constant(tags), mask,
        tf.constant(transitions)).numpy()[0])
  assert total == pytest.approx(1.0, abs=1e-9)


def test_decode_matches_enumeration():
  for seed in range(3):
    emissions, transitions, _ = random_case(10 + seed, 5, 7, 4)
    decoded = crf.crf_decode(tf.constant(emissions), MASK,
                             tf.constant(transitions)).numpy()
    for b in range(len(MASK)):
      _, best = brute_force(emissions[b][MASK[b]], transitions)
      assert tuple(decoded[b][MASK[b]]) == best, (seed, b)
      assert (decoded[b][~MASK[b]] == -1).all()


def test_viterbi_score_is_the_best_path_score():
  emissions, transitions, _ = random_case(4, 3, 4, 3)
  lengths = np.array([4, 2, 1], np.int32)
  tags, best = crf.viterbi(tf.constant(emissions), tf.constant(lengths),
                           tf.constant(transitions))
  for b, n in enumerate(lengths):
    path = tuple(tags.numpy()[b, :n])
    assert path == brute_force(emissions[b, :n], transitions)[1]
    assert best.numpy()[b] == pytest.approx(
        path_score(emissions[b, :n], transitions, path))


def test_strong_transitions_override_emissions():
  # Emissions prefer tag 1 everywhere; 1 -> 1 is forbidden (-100), so the
  # best path alternates. Hand-checked: 1 0 1 scores 2+0+2 - 0 = 4 beats
  # any path with 1 1.
  emissions = np.array([[[0.0, 2.0], [0.0, 2.0], [0.0, 2.0]]])
  transitions = np.array([[0.0, 0.0], [0.0, -100.0]])
  decoded = crf.crf_decode(tf.constant(emissions), np.ones((1, 3), bool),
                           tf.constant(transitions)).numpy()
  assert decoded.tolist() == [[1, 0, 1]]


def test_gradient_matches_finite_differences():
  emissions, transitions, tags = random_case(5, 5, 7, 3)

  @tf.function
  def loss(emissions, transitions):
    return -tf.reduce_sum(crf.crf_log_likelihood(
        emissions, tf.constant(tags), MASK, transitions))

  theoretical, numerical = tf.test.compute_gradient(
      loss, [tf.constant(emissions), tf.constant(transitions)], delta=1e-6)
  for t, n in zip(theoretical, numerical):
    np.testing.assert_allclose(t, n, atol=1e-6)
  # Masked-out positions get no gradient.
  grad = np.asarray(theoretical[0]).reshape(emissions.shape)
  assert np.abs(grad[~MASK]).max() == 0.0


def test_compact_and_expand():
  values = tf.constant([[10, 11, 12, 13], [20, 21, 22, 23]])
  mask = tf.constant([[0, 1, 0, 1], [1, 1, 1, 0]])
  compacted, lengths = crf.compact(values, mask)
  assert lengths.numpy().tolist() == [2, 3]
  assert compacted.numpy()[0, :2].tolist() == [11, 13]
  assert compacted.numpy()[1, :3].tolist() == [20, 21, 22]
  assert crf.expand(compacted, mask, -1).numpy().tolist() == [
      [-1, 11, -1, 13], [20, 21, 22, -1]]


def test_module_variable_name_and_checkpoint(tmp_path):
  model = crf.CRF(5)
  assert model.transitions.name == "crf/transitions:0"
  assert model.transitions.shape == (5, 5)
  assert crf.CRF(3, scope="ner/crf").transitions.name == (
      "ner/crf/transitions:0")
  model.transitions.assign(np.arange(25, dtype=np.float32).reshape(5, 5))
  prefix = str(tmp_path / "model.ckpt")
  checkpoints.save_checkpoint([model.transitions], prefix)
  reader = tf.train.load_checkpoint(prefix)
  np.testing.assert_array_equal(reader.get_tensor("crf/transitions"),
                                model.transitions.numpy())


def test_module_casts_half_precision_logits():
  emissions, transitions, tags = random_case(6, 5, 7, 3)
  model = crf.CRF(3)
  model.transitions.assign(transitions.astype(np.float32))
  logits = tf.constant(emissions, tf.float16)
  got = model.log_likelihood(logits, tags, MASK)
  assert got.dtype == tf.float32
  expected = crf.crf_log_likelihood(tf.cast(logits, tf.float64), tags, MASK,
                                    tf.constant(transitions))
  np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


class _Decoder(tf.Module):
  """A SavedModel-able module decoding [B, S, T] logits."""

  def __init__(self, model):
    super().__init__()
    self.crf = model

  @tf.function(input_signature=[
      tf.TensorSpec([None, None, 4], tf.float32),
      tf.TensorSpec([None, None], tf.int32)])
  def decode(self, logits, mask):
    return self.crf.decode(logits, mask)


def test_decode_in_saved_model_and_xla(tmp_path):
  emissions, transitions, _ = random_case(7, 5, 7, 4)
  model = crf.CRF(4)
  model.transitions.assign(transitions.astype(np.float32))
  logits = tf.constant(emissions, tf.float32)
  mask = tf.constant(MASK, tf.int32)
  eager = model.decode(logits, mask).numpy()
  path = str(tmp_path / "saved")
  tf.saved_model.save(_Decoder(model), path)
  loaded = tf.saved_model.load(path)
  np.testing.assert_array_equal(loaded.decode(logits, mask).numpy(), eager)
  compiled = tf.function(model.decode, jit_compile=True)
  np.testing.assert_array_equal(compiled(logits, mask).numpy(), eager)
  # A batch of one row with a single position (scan over zero steps).
  one = loaded.decode(logits[:1, :1], tf.ones([1, 1], tf.int32)).numpy()
  assert one.tolist() == [[int(np.argmax(emissions[0, 0]))]]
