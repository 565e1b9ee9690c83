# coding=utf-8
"""Tests of tasks/pretraining_data.py: the record layouts of
create_pretraining_data.py's sidecars, the checks against the flags, and the
input pipeline of each layout, dynamic masking included (its statistics
through the pipeline, new masks per epoch, exact resume, fixed evaluation
masks)."""

import collections
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import create_pretraining_data as cpd
import dynamic_masking
from tasks import pretraining_data as pd
import tokenization
import validation

VOCAB_FILE = fixture_path("vocab_uncased.txt")
VOCAB = tokenization.load_vocab(VOCAB_FILE)
SAMPLE = fixture_path("pretraining_data", "sample_text.txt")
A_BASE = fixture_path("pretraining_data", "a_base.tfrecord")
SEQ, PRED = 64, 10
LAYOUTS = [(True, "static"), (False, "static"), (True, "dynamic"),
           (False, "dynamic")]


def write_records(directory, nsp, masking, name=None, whole_words=False,
                  eval_documents=None):
  """create_pretraining_data on sample_text; returns the output path(s)."""
  name = name or "%s_%s" % ("nsp" if nsp else "mlm", masking)
  output = os.path.join(str(directory), name + ".tfrecord")
  evaluation = None
  if eval_documents:
    evaluation = [os.path.join(str(directory), name + "_eval.tfrecord")]
  cpd.run([SAMPLE], [output], VOCAB_FILE, max_seq_length=SEQ,
          max_predictions_per_seq=PRED, dupe_factor=1 if masking == "dynamic"
          else 2, masking=masking, next_sentence_prediction=nsp,
          do_whole_word_mask=whole_words, log_examples=False, progress=False,
          eval_output_files=evaluation, eval_documents=eval_documents)
  return (output, evaluation[0]) if evaluation else output


@pytest.fixture(scope="module")
def records(tmp_path_factory):
  """The four layouts' files, keyed by (nsp, masking)."""
  directory = tmp_path_factory.mktemp("records")
  return {layout: write_records(directory, *layout) for layout in LAYOUTS}


def read_examples(path):
  """The records of a file as dicts name -> list."""
  examples = []
  for raw in tf.data.TFRecordDataset(path):
    features = tf.train.Example.FromString(raw.numpy()).features.feature
    examples.append({name: list(getattr(f, f.WhichOneof("kind")).value)
                     for name, f in features.items()})
  return examples


def batches(layout, path, is_training, count, batch_size=8, seed=3,
            whole_words=None):
  """`count` batches of the pipeline over `path`, as numpy dicts."""
  layout = pd.resolve_layout(layout, do_whole_word_mask=whole_words)
  masker = None
  if layout.masking == "dynamic":
    masker = pd.wordpiece_masker(VOCAB_FILE, layout, PRED, len(VOCAB))
  input_fn = pd.input_fn_builder([path], SEQ, PRED, is_training,
                                 layout=layout, masker=masker)
  dataset = input_fn({"batch_size": batch_size, "seed": seed})
  return [{k: v.numpy() for k, v in b.items()}
          for b in dataset.take(count)]


# ------------------------------------------------------------------ layouts


@pytest.mark.parametrize("nsp,masking", LAYOUTS)
def test_layout_of_each_kind_of_records(records, nsp, masking):
  path = records[(nsp, masking)]
  layout = pd.check_input_files([path], SEQ, PRED, len(VOCAB))
  assert (layout.next_sentence_prediction, layout.masking) == (nsp, masking)
  assert layout.source == path + ".json"
  # The reader's table agrees with the writer's, and with the records.
  assert layout.feature_names() == cpd.record_features(nsp, masking)
  assert sorted(read_examples(path)[0]) == sorted(layout.feature_names())
  # Without the sidecar the first record tells the same.
  copy = path + ".bare"
  shutil.copy(path, copy)
  bare = pd.check_input_files([copy], SEQ, PRED)
  assert bare.feature_names() == layout.feature_names()
  assert bare.source == copy


def test_old_sidecar_is_googles_layout(tmp_path):
  copy = str(tmp_path / "old.tfrecord")
  shutil.copy(A_BASE, copy)
  with open(copy + ".json", "w") as f:
    json.dump({"max_seq_length": 128, "max_predictions_per_seq": 20}, f)
  layout = pd.check_input_files([copy], 128, 20)
  assert (layout.next_sentence_prediction, layout.masking) == (True, "static")
  assert layout.feature_names() == tuple(n for n, _, _ in pd.RECORD_FEATURES)


def test_files_of_two_layouts_are_refused(records):
  static, dynamic = records[(False, "static")], records[(False, "dynamic")]
  with pytest.raises(validation.DataError) as e:
    pd.check_input_files([static, dynamic], SEQ, PRED)
  message = str(e.value)
  assert static in message and dynamic in message
  assert "static masking" in message and "dynamic masking" in message


def test_flags_narrow_the_layout_or_are_refused(records):
  nsp_static = pd.files_layout([records[(True, "static")]])
  mlm_dynamic = pd.files_layout([records[(False, "dynamic")]])
  narrowed = pd.resolve_layout(nsp_static, next_sentence_prediction=False)
  assert narrowed.feature_names() == cpd.record_features(False, "static")
  with pytest.raises(validation.UsageError,
                     match=r"--next_sentence_prediction=True but "
                     r"--input_file holds masked-LM-only records"):
    pd.resolve_layout(mlm_dynamic, next_sentence_prediction=True)
  with pytest.raises(validation.UsageError, match=r"--masking=dynamic but "
                     r"--input_file holds records masked when they were"):
    pd.resolve_layout(nsp_static, masking="dynamic")
  with pytest.raises(validation.UsageError,
                     match=r"--masked_lm_prob=0.2 applies to dynamic"):
    pd.resolve_layout(nsp_static, masked_lm_prob=0.2)
  with pytest.raises(validation.UsageError, match=r"--masked_lm_prob=1.5"):
    pd.resolve_layout(mlm_dynamic, masked_lm_prob=1.5)
  changed = pd.resolve_layout(mlm_dynamic, masked_lm_prob=0.3,
                              do_whole_word_mask=True)
  assert (changed.masked_lm_prob, changed.do_whole_word_mask) == (0.3, True)


def test_lengths_are_checked_against_the_sidecar(records):
  path = records[(False, "dynamic")]
  with pytest.raises(validation.UsageError,
                     match=r"max_predictions_per_seq=10 .*json.* "
                     r"--max_predictions_per_seq=20"):
    pd.check_input_files([path], SEQ, 20)
  with pytest.raises(validation.UsageError, match="vocab_size is 99"):
    pd.check_input_files([path], SEQ, PRED, vocab_size=99)


# ------------------------------------------------------------ the pipeline


@pytest.mark.parametrize("nsp,masking", LAYOUTS)
def test_pipeline_gives_googles_features_for_each_layout(records, nsp,
                                                         masking):
  path = records[(nsp, masking)]
  layout = pd.files_layout([path])
  batch = batches(layout, path, is_training=False, count=1)[0]
  wanted = ["input_ids", "input_mask", "segment_ids", "masked_lm_positions",
            "masked_lm_ids", "masked_lm_weights"]
  assert sorted(batch) == sorted(wanted + ["next_sentence_labels"] * nsp)
  assert batch["masked_lm_positions"].shape == (8, PRED)
  first = read_examples(path)[0]
  if masking == "static":
    for name in first:
      np.testing.assert_array_equal(batch[name][0], first[name], name)
    return
  # Dynamic: the originals come back from the masked ids and the labels.
  restored = batch["input_ids"][0].copy()
  real = batch["masked_lm_weights"][0] > 0
  restored[batch["masked_lm_positions"][0][real]] = (
      batch["masked_lm_ids"][0][real])
  np.testing.assert_array_equal(restored, first["input_ids"])
  assert (batch["input_ids"][0] != first["input_ids"]).any()


def assert_same_batches(first, second):
  """Two lists of numpy batches are equal, feature by feature."""
  assert len(first) == len(second)
  for a, b in zip(first, second):
    assert sorted(a) == sorted(b)
    for name in a:
      np.testing.assert_array_equal(a[name], b[name], name)


def original_ids(batch):
  """The unmasked input_ids of each row (labels put back)."""
  ids = batch["input_ids"].copy()
  for row in range(len(ids)):
    real = batch["masked_lm_weights"][row] > 0
    ids[row, batch["masked_lm_positions"][row][real]] = (
        batch["masked_lm_ids"][row][real])
  return ids


def test_dynamic_masks_follow_googles_rule_through_the_pipeline(records):
  """Counts, 80/10/10 and the labels on 60 batches of real records."""
  path = records[(False, "dynamic")]
  originals = {tuple(e["input_ids"]) for e in read_examples(path)}
  kinds = collections.Counter()
  for batch in batches(pd.files_layout([path]), path, True, 60):
    restored = original_ids(batch)
    for row in range(len(restored)):
      assert tuple(restored[row]) in originals
      length = int(batch["input_mask"][row].sum())
      count = int(batch["masked_lm_weights"][row].sum())
      assert count == min(PRED, max(1, int(round(length * 0.15))))
      positions = batch["masked_lm_positions"][row][:count]
      assert (np.diff(positions) > 0).all() and positions.min() > 0
      for new, old in zip(batch["input_ids"][row][positions],
                          restored[row][positions]):
        kinds["mask" if new == VOCAB["[MASK]"] else
              "keep" if new == old else "random"] += 1
  total = sum(kinds.values())
  assert total > 3000
  assert kinds["mask"] / total == pytest.approx(0.8, abs=0.03)
  assert kinds["keep"] / total == pytest.approx(0.1, abs=0.02)
  assert kinds["random"] / total == pytest.approx(0.1, abs=0.02)


def test_whole_word_masking_through_the_pipeline(records):
  """--do_whole_word_mask (or the sidecar's) masks words whole."""
  path = records[(False, "dynamic")]
  continues = dynamic_masking.continuation_table(VOCAB)
  split_words = 0
  for batch in batches(pd.files_layout([path]), path, True, 20,
                       whole_words=True):
    restored = original_ids(batch)
    for row in range(len(restored)):
      masked = np.zeros(SEQ, bool)
      real = batch["masked_lm_weights"][row] > 0
      masked[batch["masked_lm_positions"][row][real]] = True
      for position in range(2, SEQ):
        if continues[restored[row][position]]:
          # A piece continuing a word is masked with the piece before it.
          assert masked[position] == masked[position - 1]
          split_words += masked[position]
  assert split_words > 20


def test_dynamic_masks_change_per_epoch_and_resume_exactly(records):
  """Training masks are a function of the seed and the position: the same
  stream again, a resumed stream (skipped batches) equal to its tail, new
  masks when a record comes back in a later epoch."""
  path = records[(False, "dynamic")]
  layout = pd.files_layout([path])
  first = batches(layout, path, True, 40)
  assert_same_batches(first, batches(layout, path, True, 40))
  masker = pd.wordpiece_masker(VOCAB_FILE, layout, PRED)
  input_fn = pd.input_fn_builder([path], SEQ, PRED, True, layout=layout,
                                 masker=masker)
  resumed = input_fn({"batch_size": 8, "seed": 3}).skip(25).take(15)
  for a, b in zip(first[25:], resumed):
    np.testing.assert_array_equal(a["input_ids"], b["input_ids"].numpy())
  # 320 examples over a file of fewer records: each seen in several epochs.
  masks = collections.defaultdict(set)
  for batch in first:
    for row, ids in enumerate(original_ids(batch)):
      masks[tuple(ids)].add(tuple(batch["masked_lm_positions"][row]))
  seen_twice = [m for m in masks.values() if len(m) > 1]
  assert len(seen_twice) > 0.5 * len(masks)
  # Another seed: other masks.
  other = batches(layout, path, True, 1, seed=4)[0]
  assert (other["masked_lm_positions"] !=
          first[0]["masked_lm_positions"]).any()


def test_evaluation_masks_are_fixed(records):
  path = records[(False, "dynamic")]
  layout = pd.files_layout([path])
  one = batches(layout, path, False, 5)
  assert_same_batches(one, batches(layout, path, False, 5))
  # Not the training masks of the same records.
  masker = pd.wordpiece_masker(VOCAB_FILE, layout, PRED)
  unshuffled = pd.input_fn_builder([path], SEQ, PRED, False, layout=layout,
                                   masker=masker)
  assert one[0]["masked_lm_positions"].tolist() == next(iter(unshuffled(
      {"batch_size": 8, "seed": 3})))["masked_lm_positions"].numpy().tolist()
  train_masker = dynamic_masking.mask_batches(
      tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in
                                    one[0].items()}), masker, 3, 8)
  assert (next(iter(train_masker))["masked_lm_positions"].numpy() !=
          one[0]["masked_lm_positions"]).any()


# ------------------------------------------------------- vocabulary, runs


def test_dynamic_masking_needs_the_records_vocabulary(records, tmp_path):
  layout = pd.files_layout([records[(False, "dynamic")]])
  with pytest.raises(validation.UsageError, match="--vocab_file is needed"):
    pd.wordpiece_masker(None, layout, PRED)
  other = str(tmp_path / "vocab.txt")
  with open(VOCAB_FILE) as f, open(other, "w") as g:
    g.write(f.read().replace("[unused0]", "domain"))
  with pytest.raises(validation.UsageError,
                     match=r"--vocab_file=.*vocab.txt is not the vocabulary "
                     r"the records were written with"):
    pd.wordpiece_masker(other, layout, PRED)
  with pytest.raises(validation.UsageError, match=r"has 30522 ids but the "
                     r"model config's vocab_size is 1000"):
    pd.wordpiece_masker(VOCAB_FILE, layout, PRED, vocab_size=1000)


def test_prepare_records_held_out_file_and_model_head(tmp_path):
  train, held_out = write_records(tmp_path, False, "dynamic", "split",
                                  eval_documents=1)
  got = pd.prepare_records(train, held_out, SEQ, PRED, len(VOCAB),
                           do_train=True, do_eval=True,
                           vocab_file=VOCAB_FILE)
  assert got["next_sentence_prediction"] is False
  assert got["train_records"].files == [train]
  assert got["eval_records"].files == [held_out]
  assert got["eval_records"].masker is not None
  # Without --eval_input_file: the training files, as Google's.
  same = pd.prepare_records(train, None, SEQ, PRED, do_train=True,
                            do_eval=True, vocab_file=VOCAB_FILE)
  assert same["eval_records"].files == [train]
  # A model trained with next-sentence labels, evaluated on MLM-only.
  nsp = write_records(tmp_path, True, "static", "nsp")
  with pytest.raises(validation.UsageError,
                     match=r"--eval_input_file holds masked-LM-only"):
    pd.prepare_records(nsp, held_out, SEQ, PRED, do_train=True,
                       do_eval=True, vocab_file=VOCAB_FILE)
  with pytest.raises(validation.UsageError, match=r"no file matches"):
    pd.prepare_records(str(tmp_path / "none*"), None, SEQ, PRED)


def test_permutation_records_need_the_doubled_length(tmp_path):
  """ALBERT's --do_permutation doubles the masked-LM arrays; the flag must
  give their length, as ALBERT's run_pretraining needs."""
  from albert import create_pretraining_data as albert_data  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / "perm.tfrecord")
  albert_data.run([SAMPLE], [output], None,
                  fixture_path("albert", "spm_tiny.model"),
                  do_permutation=True, max_seq_length=64,
                  max_predictions_per_seq=10, dupe_factor=1,
                  log_examples=False, progress=False)
  assert len(read_examples(output)[0]["masked_lm_positions"]) == 20
  with pytest.raises(validation.UsageError,
                     match=r"2 x 10 = 20 masked-LM slots; pass "
                     r"--max_predictions_per_seq=20"):
    pd.check_input_files([output], 64, 10)
  layout = pd.check_input_files([output], 64, 20)
  assert layout.feature_names() == tuple(n for n, _, _ in pd.RECORD_FEATURES)
