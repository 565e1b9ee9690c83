# coding=utf-8
"""Tests of dynamic_masking.py: Google's masking rule, drawn from keys.

The rule is checked statistically against Google's own draws, made by
create_pretraining_data's kernel (kernels.mask, byte-identical to Google's
script on its reference outputs) with Python's random.Random, and by exact
counts where the rule is deterministic.
"""

import random

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import dynamic_masking as dm
import pretraining_data_kernels as kernels
import tokenization

VOCAB = tokenization.load_vocab(fixture_path("vocab_uncased.txt"))
CLS, SEP, MASK = VOCAB["[CLS]"], VOCAB["[SEP]"], VOCAB["[MASK]"]
# [CLS] A [SEP] B [SEP] with words of one to three pieces; a "##" piece
# right after the first [SEP] (Google's grouping joins it across the [SEP]).
A = ["the", "em", "##bed", "##ding", "dog", "runs", "fast", "and", "far"]
B = ["##s", "a", "token", "##ization", "house", "is", "here", "today"]
TOKENS = ["[CLS]"] + A + ["[SEP]"] + B + ["[SEP]"]
SEQ = 32


def example(tokens=TOKENS, seq_length=SEQ):
  ids = [VOCAB[t] for t in tokens]
  return {"input_ids": tf.constant(ids + [0] * (seq_length - len(ids)),
                                   tf.int64),
          "input_mask": tf.constant([1] * len(ids) +
                                    [0] * (seq_length - len(ids)), tf.int64),
          "segment_ids": tf.zeros([seq_length], tf.int64)}


def masked_many(masker, count, evaluation=False, first_position=0,
                features=None):
  """Masks `count` copies of one example; returns numpy arrays by name."""
  dataset = tf.data.Dataset.from_tensors(features or example()).repeat(count)
  batches = dm.mask_dataset(dataset, masker, seed=7, evaluation=evaluation,
                            first_position=first_position).batch(count)
  return {k: v.numpy() for k, v in next(iter(batches)).items()}


def google_masks(tokens, masked_lm_prob, max_predictions, whole_words,
                 count, seed=0):
  """Google's masked positions of `tokens`, `count` times (kernels.mask)."""
  ids = np.array([VOCAB[t] for t in tokens], np.int64)
  a_len = tokens.index("[SEP]") - 1
  b_len = len(tokens) - a_len - 3
  is_subword = dm.continuation_table(VOCAB)
  generator = kernels.MersenneTwister(random.Random(seed))
  num_to_predict = min(max_predictions,
                       max(1, int(round(len(tokens) * masked_lm_prob))))
  masks = np.zeros((count, len(tokens)), bool)
  for row in range(count):
    positions = np.zeros(max_predictions, np.int64)
    n = kernels.mask(generator.mt, generator.pos, ids, 1, a_len, a_len + 2,
                     b_len, num_to_predict, whole_words, is_subword,
                     np.arange(len(VOCAB), dtype=np.int64), MASK,
                     np.zeros(2 * len(tokens) + 1, np.int64), positions,
                     np.zeros(max_predictions, np.int64))
    masks[row, positions[:n]] = True
  return masks


def position_masks(outputs, seq_length=SEQ):
  """bool [examples, seq_length]: the masked positions of each output."""
  masks = np.zeros((len(outputs["input_ids"]), seq_length), bool)
  for row, (positions, weights) in enumerate(zip(
      outputs["masked_lm_positions"], outputs["masked_lm_weights"])):
    masks[row, positions[weights > 0]] = True
  return masks


@pytest.mark.parametrize("whole_words", [False, True])
def test_positions_follow_googles_rule(whole_words):
  # Each position's masking frequency over 3000 draws equals that of
  # Google's draws within 4.5 standard deviations; with whole words the
  # greedy walk's skips make the frequencies uneven, so this checks it.
  count = 3000
  masker = dm.DynamicMasker.from_vocab(VOCAB, max_predictions_per_seq=4,
                                       masked_lm_prob=0.2,
                                       do_whole_word_mask=whole_words)
  ours = position_masks(masked_many(masker, count))[:, :len(TOKENS)]
  google = google_masks(TOKENS, 0.2, 4, whole_words, count)
  p = (ours.mean(0) + google.mean(0)) / 2
  tolerance = 4.5 * np.sqrt(2 * p * (1 - p) / count) + 1e-9
  assert np.all(np.abs(ours.mean(0) - google.mean(0)) <= tolerance)
  # [CLS] and [SEP] never.
  for index in (0, len(A) + 1, len(TOKENS) - 1):
    assert not ours[:, index].any()
  # Mean number of masked positions: round(19 * 0.2) = 4 without whole
  # words; fewer with them (a group that does not fit is skipped).
  if whole_words:
    assert ours.sum(1).mean() == pytest.approx(google.sum(1).mean(), abs=0.1)
    assert ours.sum(1).max() == 4
  else:
    assert (ours.sum(1) == 4).all()


def test_whole_words_are_masked_together():
  masker = dm.DynamicMasker.from_vocab(VOCAB, max_predictions_per_seq=8,
                                       masked_lm_prob=0.3,
                                       do_whole_word_mask=True)
  masks = position_masks(masked_many(masker, 500))
  # em ##bed ##ding = positions 2-4; "far" (9) [SEP] "##s" (11) one
  # group across the [SEP]; token ##ization = 13-14.
  for group in ([2, 3, 4], [9, 11], [13, 14]):
    assert (masks[:, group].all(1) | ~masks[:, group].any(1)).all()
    assert masks[:, group].all(1).any()


def test_replacements_are_80_10_10_and_labels_are_the_originals():
  count = 2000
  masker = dm.DynamicMasker.from_vocab(VOCAB, max_predictions_per_seq=5,
                                       masked_lm_prob=0.25)
  outputs = masked_many(masker, count)
  original = example()["input_ids"].numpy()
  kinds = []
  for row in range(count):
    weights = outputs["masked_lm_weights"][row]
    positions = outputs["masked_lm_positions"][row]
    assert weights.tolist() == [1.0] * 5  # round(19 * 0.25) = 5
    assert (np.diff(positions) > 0).all()
    assert outputs["masked_lm_ids"][row].tolist() == original[
        positions].tolist()
    unmasked = np.ones(SEQ, bool)
    unmasked[positions] = False
    assert (outputs["input_ids"][row][unmasked] == original[unmasked]).all()
    for new, old in zip(outputs["input_ids"][row][positions],
                        original[positions]):
      kinds.append("mask" if new == MASK else "keep" if new == old else
                   "random")
  shares = {k: kinds.count(k) / len(kinds) for k in ("mask", "keep",
                                                      "random")}
  assert shares["mask"] == pytest.approx(0.8, abs=0.03)
  assert shares["keep"] == pytest.approx(0.1, abs=0.025)
  assert shares["random"] == pytest.approx(0.1, abs=0.025)
  # Random replacements spread over the whole vocabulary.
  randoms = [new for row in range(count) for new, old in zip(
      outputs["input_ids"][row][outputs["masked_lm_positions"][row]],
      original[outputs["masked_lm_positions"][row]])
             if new not in (MASK, old)]
  assert len(set(randoms)) > 0.9 * len(randoms)
  assert max(randoms) > 25000 and min(randoms) < 5000


@pytest.mark.parametrize("prob", [0.15, 0.25, 0.35])
def test_num_to_predict_is_pythons_round(prob):
  masker = dm.DynamicMasker(100, 1, 2, 3, max_predictions_per_seq=20,
                            masked_lm_prob=prob)
  got = [int(masker.num_to_predict(tf.constant(n))) for n in range(1, 129)]
  assert got == [min(20, max(1, int(round(n * prob)))) for n in range(1, 129)]


def test_short_and_padded_sequences():
  # [CLS] a [SEP]: one prediction; the padding is never masked.
  masker = dm.DynamicMasker.from_vocab(VOCAB, max_predictions_per_seq=3)
  outputs = masked_many(masker, 50, features=example(
      ["[CLS]", "dog", "[SEP]"], 8))
  assert (outputs["masked_lm_positions"][:, 0] == 1).all()
  assert (outputs["masked_lm_weights"] == [1.0, 0.0, 0.0]).all()
  assert (outputs["masked_lm_positions"][:, 1:] == 0).all()
  assert (outputs["input_ids"][:, 3:] == 0).all()
  assert outputs["segment_ids"].shape == (50, 8)  # passed through
  assert outputs["masked_lm_ids"].dtype == np.int64


def test_masks_are_a_function_of_seed_stream_and_position():
  masker = dm.DynamicMasker.from_vocab(VOCAB, do_whole_word_mask=True)
  first = masked_many(masker, 40)
  again = masked_many(masker, 40)
  assert all((first[k] == again[k]).all() for k in first)
  # A run resumed at example 25 sees what the uninterrupted one saw there.
  resumed = masked_many(masker, 15, first_position=25)
  assert all((resumed[k] == first[k][25:]).all() for k in first)
  # The next epoch (later positions) and another seed give other masks.
  epoch2 = masked_many(masker, 40, first_position=40)
  assert (epoch2["masked_lm_positions"] != first["masked_lm_positions"]).any(
      1).mean() > 0.9
  key = dm.example_key(8, 3)
  assert not np.array_equal(key.numpy(), dm.example_key(7, 3).numpy())
  # Masks differ from example to example within an epoch, too.
  assert len({tuple(p) for p in first["masked_lm_positions"]}) > 30


def test_evaluation_masks_are_fixed_and_apart_from_training():
  masker = dm.DynamicMasker.from_vocab(VOCAB)
  one = masked_many(masker, 30, evaluation=True)
  two = masked_many(masker, 30, evaluation=True)
  train = masked_many(masker, 30)
  assert all((one[k] == two[k]).all() for k in one)
  assert (one["masked_lm_positions"] != train["masked_lm_positions"]).any(
      1).mean() > 0.8


def test_continuation_table_and_errors():
  table = dm.continuation_table(["[PAD]", "un", "##able", "#", "##"])
  assert table.tolist() == [False, False, True, False, True]
  assert dm.continuation_table(VOCAB).sum() == sum(
      t.startswith("##") for t in VOCAB)
  with pytest.raises(ValueError, match="masked_lm_prob"):
    dm.DynamicMasker(10, 1, 2, 3, masked_lm_prob=0.0)
  with pytest.raises(ValueError, match="max_predictions_per_seq"):
    dm.DynamicMasker(10, 1, 2, 3, max_predictions_per_seq=0)
  with pytest.raises(ValueError, match="is_continuation"):
    dm.DynamicMasker(10, 1, 2, 3, do_whole_word_mask=True)


def googles_walk(sizes, num_to_predict):
  """Google's loop over groups in order (create_masked_lm_predictions)."""
  taken, count = [False] * len(sizes), 0
  for k, size in enumerate(sizes):
    if size == 0:
      continue  # no such group
    if count >= num_to_predict:
      break
    if count + size > num_to_predict:
      continue
    taken[k] = True
    count += size
  return taken


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(1, 5), max_size=24),
                          st.integers(1, 20)), min_size=1, max_size=6))
def test_greedy_walk_is_googles_loop(rows):
  """The batched walk (a few rounds) takes exactly the groups Google's
  one-group-at-a-time loop takes, row by row."""
  width = 24
  sizes = np.array([s + [0] * (width - len(s)) for s, _ in rows], np.int32)
  counts = np.array([n for _, n in rows], np.int32)
  got = dm.greedy_walk(tf.constant(sizes), tf.constant(counts)).numpy()
  for row, (size_list, count) in enumerate(rows):
    want = googles_walk(list(sizes[row]), count)
    assert got[row].tolist() == want, (size_list, count)


def test_batches_are_masked_as_single_examples():
  """mask_batches (the pipeline's) gives each example the mask
  mask_dataset gives it at the same position."""
  masker = dm.DynamicMasker.from_vocab(VOCAB, max_predictions_per_seq=6,
                                       do_whole_word_mask=True)
  examples = [example(TOKENS), example(["[CLS]"] + B + ["[SEP]"]),
              example(["[CLS]", "dog", "[SEP]"])] * 4
  single = tf.data.Dataset.from_tensor_slices(
      {k: tf.stack([e[k] for e in examples]) for k in examples[0]})
  one = dm.mask_dataset(single, masker, seed=5, stream=1).batch(4)
  batched = dm.mask_batches(single.batch(4), masker, seed=5, batch_size=4,
                            stream=1)
  for a, b in zip(one, batched):
    for name in a:
      np.testing.assert_array_equal(a[name].numpy(), b[name].numpy(), name)
  assert batched.element_spec["masked_lm_positions"].shape == [4, 6]


def splitmix64_key(seed, stream, pipeline, position):
  """example_key with Python integers (splitmix64's finalizer)."""
  golden, mask = 0x9E3779B97F4A7C15, 2**64 - 1

  def mix(x):
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)

  base = mix((seed + golden) & mask)
  base = mix((base + stream) & mask)
  base = mix((base + pipeline * golden) & mask)
  key = mix((base + position * golden) & mask)
  return key - 2**64 if key >= 2**63 else key


def test_keys_are_splitmix64_of_seed_stream_pipeline_and_position():
  positions = [0, 1, 7, 2**40 + 3]
  got = dm.example_key(12345, tf.constant(positions, tf.int64),
                       evaluation=True, stream=2).numpy()
  assert got.tolist() == [splitmix64_key(12345, dm.EVAL_STREAM, 2, p)
                          for p in positions]
  assert int(dm.example_key(3, 9)) == splitmix64_key(3, dm.TRAIN_STREAM, 0, 9)
