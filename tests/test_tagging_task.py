# coding=utf-8
"""tasks/tagging.py and heads.TokenClassificationHead on tiny models: the
head and its loss against numpy, the records through the task (the
first-piece rule), the CRF loss through the task against enumeration of all
tag paths, decoding, variable names, the data directory's checks."""

import itertools
import logging as std_logging

import numpy as np
import pytest
import tensorflow as tf

from albert import tokenization as albert_tokenization
from conftest import fixture_path
import harness
import heads
import tokenization
import validation
from tasks import tagging
from tasks import tagging_data


def _write(directory, name, text):
  path = directory / name
  path.write_text(text, encoding="utf-8")
  return str(path)


# ------------------------------------------------------------------ head


def test_head_names_shapes_and_logits():
  tf.random.set_seed(0)
  head = heads.TokenClassificationHead(5, 8)
  assert [v.name for v in head.trainable_variables] == [
      "cls/ner/output_bias:0", "cls/ner/output_weights:0"]
  assert head.output_weights.shape == (5, 8)
  head.output_bias.assign(np.arange(5, dtype=np.float32))
  x = np.random.RandomState(1).randn(2, 3, 8).astype(np.float32)
  expected = x @ head.output_weights.numpy().T + np.arange(5)
  np.testing.assert_allclose(head(tf.constant(x)), expected, rtol=1e-5,
                             atol=1e-5)
  # Dropout only in training.
  assert np.abs(head(tf.constant(x), training=True) - expected).max() > 1e-3
  top_level = heads.TokenClassificationHead(2, 4, scope="")
  assert sorted(v.name for v in top_level.variables) == [
      "output_bias:0", "output_weights:0"]


def test_token_loss_against_numpy():
  rng = np.random.RandomState(2)
  logits = rng.randn(2, 4, 3).astype(np.float32)
  label_ids = np.array([[-1, 2, 0, -1], [-1, 1, -1, -1]], np.int32)
  weights = np.array([[0, 1, 1, 0], [0, 1, 0, 0]], np.float32)
  loss, per_position = heads.token_classification_loss(logits, label_ids,
                                                       weights)
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  nll = [-log_probs[0, 1, 2], -log_probs[0, 2, 0], -log_probs[1, 1, 1]]
  np.testing.assert_allclose(loss, np.mean(nll), rtol=1e-5)
  assert per_position.numpy()[0, 0] == 0 and per_position.numpy()[1, 2] == 0
  # Logits at positions of weight 0 (later pieces, [CLS], padding) do not
  # count.
  changed = logits.copy()
  changed[:, 0] += 5.0
  changed[1, 2] -= 3.0
  np.testing.assert_allclose(
      heads.token_classification_loss(changed, label_ids, weights)[0], loss,
      rtol=1e-6)
  empty = heads.token_classification_loss(logits, label_ids,
                                          np.zeros_like(weights))[0]
  assert float(empty) == 0.0


# ------------------------------------------------------- data and records

# "Schwarzenegger" and "Johanson" are several WordPieces, "don't" is three
# (the basic tokenizer splits the apostrophe), U+FFFD is none.
SENTENCE = "EU rejects Schwarzenegger don't \ufffd Johanson".split()
TAGS = ["B-ORG", "O", "B-PER", "O", "O", "B-PER"]


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(harness.VOCAB, do_lower_case=True)


def _conll(words, tags):
  return "".join("%s %s\n" % pair for pair in zip(words, tags)) + "\n"


def test_records_carry_the_tag_on_the_first_piece(tmp_path, tokenizer):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  _write(data_dir, "train.txt", _conll(SENTENCE, TAGS) +
         _conll(["Peter", "Blackburn"], ["B-PER", "I-PER"]))
  data = tagging.TaggingData(str(data_dir)).load()
  assert data.label_list == ["O", "B-ORG", "B-PER", "I-PER"]
  assert data.scheme == "iob2"
  task = tagging.TaggingTask(
      task_lib_settings(tmp_path), None, len(data.label_list), data=data,
      tokenizer=tokenizer, max_seq_length=24, doc_stride=8)
  path, count = task.train_records()
  assert count == 2
  batch = next(iter(tagging.input_fn_builder(path, 24, False, False)(
      {"batch_size": 2})))
  # Independently: each word's pieces, the tag id on the first one only.
  label_ids, word_ids, pieces = [-1], [-1], ["[CLS]"]
  for index, (word, tag) in enumerate(zip(SENTENCE, TAGS)):
    word_pieces = tokenizer.tokenize(word)
    pieces += word_pieces
    first = [data.label_list.index(tag)] if word_pieces else []
    label_ids += first + [-1] * (len(word_pieces) - len(first))
    word_ids += [index] * len(word_pieces)
  pieces.append("[SEP]")
  label_ids.append(-1)
  word_ids.append(-1)
  # [CLS] eu rejects schwarz ##ene ##gger don ' t johan ##son [SEP]
  assert len(pieces) == 12
  padding = 24 - len(pieces)
  np.testing.assert_array_equal(batch["label_ids"][0],
                                label_ids + [-1] * padding)
  np.testing.assert_array_equal(batch["word_ids"][0], word_ids + [-1] * padding)
  np.testing.assert_array_equal(batch["label_weights"][0],
                                [float(i >= 0) for i in label_ids] +
                                [0.0] * padding)
  np.testing.assert_array_equal(
      batch["input_ids"][0],
      tokenizer.convert_tokens_to_ids(pieces) + [0] * padding)
  np.testing.assert_array_equal(batch["input_mask"][0],
                                [1] * len(pieces) + [0] * padding)
  np.testing.assert_array_equal(batch["sentence_index"][:, 0], [0, 1])


def task_lib_settings(tmp_path, **values):
  """RunSettings writing to tmp_path/out."""
  import task_lib  # pylint: disable=g-import-not-at-top
  (tmp_path / "out").mkdir(exist_ok=True)
  return task_lib.RunSettings(output_dir=str(tmp_path / "out"), **values)


def test_label_file_scheme_and_inconsistent_i_tag(tmp_path, caplog):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  _write(data_dir, "train.txt", "EU B-ORG\nsaid O\nBlackburn I-PER\n")
  with caplog.at_level(std_logging.WARNING):
    data = tagging.TaggingData(str(data_dir)).load()
  assert "train.txt:3: I-PER after O starts an entity" in caplog.text
  assert data.label_list == ["O", "B-ORG", "I-PER"]
  # Predicting without train.txt: the label file gives the tags, and an
  # E-/S- tag in it the scheme.
  (data_dir / "train.txt").unlink()
  _write(data_dir, "test.txt", "EU\nsaid\n")
  labels = _write(tmp_path, "labels.txt", "O\nS-ORG\nB-PER\nE-PER\n")
  data = tagging.TaggingData(str(data_dir), label_file=labels).load()
  assert (data.label_list, data.scheme) == (["O", "S-ORG", "B-PER", "E-PER"],
                                            "iobes")
  assert data.sentences("test")[0].tags is None
  with pytest.raises(validation.UsageError, match="--label_file"):
    tagging.TaggingData(str(data_dir)).load()
  with pytest.raises(validation.UsageError,
                     match=r"has no dev\.txt \(--do_eval reads it\)"):
    data.sentences("dev")


def test_jsonl_files_are_found_by_either_name(tmp_path):
  line = '{"tokens": ["EU", "said"], "tags": ["B-ORG", "O"]}\n'
  _write(tmp_path, "train.jsonl", line)
  _write(tmp_path, "dev.txt", line)
  data = tagging.TaggingData(str(tmp_path), "jsonl").load()
  assert data.path("train").endswith("train.jsonl")
  assert data.sentences("dev")[0].words == ["EU", "said"]


# ----------------------------------------------------------------- model


def _enumerated_nll(emissions, tags, transitions):
  """-log p(tags) of one chain by enumerating every tag path."""
  num_tags = transitions.shape[0]

  def score(path):
    return (sum(emissions[i, t] for i, t in enumerate(path)) +
            sum(transitions[a, b] for a, b in zip(path, path[1:])))

  scores = [score(path) for path in itertools.product(range(num_tags),
                                                      repeat=len(tags))]
  log_z = np.log(np.sum(np.exp(np.array(scores, np.float64))))
  return log_z - score(tags)


def test_crf_loss_through_the_task_matches_enumeration():
  """The CRF chains the first pieces only ([CLS], later pieces, [SEP] and
  padding are skipped), one chain per window."""
  tf.random.set_seed(3)
  model = tagging.TaggingModel(harness.tiny_encoder(), 3, use_crf=True)
  rng = np.random.RandomState(4)
  transitions = rng.randn(3, 3).astype(np.float32)
  model.head_crf.transitions.assign(transitions)
  logits = rng.randn(2, 8, 3).astype(np.float32)
  label_ids = np.array([[-1, 2, -1, 0, 1, -1, 2, -1],
                        [-1, 1, 1, -1, -1, -1, -1, -1]], np.int32)
  total, count = model.loss_terms(tf.constant(logits), label_ids,
                                  np.zeros([2, 8], np.float32))
  expected = (_enumerated_nll(logits[0, [1, 3, 4, 6]], [2, 0, 1, 2],
                              transitions) +
              _enumerated_nll(logits[1, [1, 2]], [1, 1], transitions))
  np.testing.assert_allclose(total, expected, rtol=1e-5)
  assert float(count) == 2.0
  # Decoding: the best path over the same positions, -1 elsewhere.
  decoded = model.decode(tf.constant(logits), label_ids >= 0).numpy()
  words = [1, 3, 4, 6]
  best = max(itertools.product(range(3), repeat=4), key=lambda path: -(
      _enumerated_nll(logits[0, words], list(path), transitions)))
  np.testing.assert_array_equal(decoded[0, words], best)
  assert (decoded[0, [0, 2, 5, 7]] == -1).all()


def test_softmax_loss_terms_and_decode():
  tf.random.set_seed(5)
  model = tagging.TaggingModel(harness.tiny_encoder(), 4)
  rng = np.random.RandomState(6)
  logits = rng.randn(1, 5, 4).astype(np.float32)
  label_ids = np.array([[-1, 3, -1, 1, -1]], np.int32)
  weights = np.array([[0, 1, 0, 0, 0]], np.float32)  # word 2: other window
  total, count = model.loss_terms(tf.constant(logits), label_ids, weights)
  log_probs = logits[0, 1] - np.log(np.exp(logits[0, 1]).sum())
  np.testing.assert_allclose(total, -log_probs[3], rtol=1e-5)
  assert float(count) == 1.0
  decoded = model.decode(tf.constant(logits), label_ids >= 0).numpy()[0]
  assert decoded[1] == logits[0, 1].argmax()
  assert decoded[3] == logits[0, 3].argmax()
  assert list(decoded[[0, 2, 4]]) == [-1, -1, -1]


def test_variable_names_encoder_first_crf_last():
  model = tagging.TaggingModel(harness.tiny_encoder(), 4, use_crf=True)
  names = [v.name[:-2] for v in model.trainable_variables]
  assert names[-3:] == ["cls/ner/output_bias", "cls/ner/output_weights",
                        "cls/ner/crf/transitions"]
  assert all(n.startswith("bert/") for n in names[:-3])
  assert model.head_crf.transitions.shape == (4, 4)
  assert tagging.TaggingModel(harness.tiny_encoder(), 4).head_crf is None


def test_padding_feature_predicts_nothing(tokenizer):
  feature = tagging.padding_feature(6)
  sentence = tagging_data.Sentence(["EU"], ["B-ORG"], "x", [1])
  prediction = {"sentence_index": [0], "word_ids": feature.word_ids,
                "label_weights": feature.label_weights,
                "tag_ids": [1] * 6}
  window = tagging_data.sentence_features(sentence, 0, tokenizer,
                                          {"O": 0, "B-ORG": 1}, 6, 2)[0]
  real = {"sentence_index": [0], "word_ids": window.word_ids,
          "label_weights": window.label_weights, "tag_ids": [1] * 6}
  assert tagging.word_tags([sentence], [prediction, real], ["O", "B-ORG"],
                           tokenizer) == [["B-ORG"]]


def test_sentencepiece_word_start_alone_does_not_carry_the_tag():
  """ALBERT's SentencePiece splits "Hello" into a lone word-start mark and
  pieces, and so every Chinese character: the tag goes on the piece after
  the mark."""
  spm = albert_tokenization.FullTokenizer(
      None, do_lower_case=False,
      spm_model_file=fixture_path("albert", "spm_tiny.model"))
  words = ["Hello", "the", "\u4e2d"]
  pieces, piece_to_word, first = tagging_data.tokenize_words(spm, words)
  assert [spm.tokenize(w) for w in words] == [
      ["\u2581", "H", "el", "lo"], ["\u2581the"], ["\u2581", "\u4e2d"]]
  assert [pieces[i] for i in first] == ["H", "\u2581the", "\u4e2d"]
  assert piece_to_word == [0, 0, 0, 0, 1, 2, 2]
  sentence = tagging_data.Sentence(words, ["B-X", "O", "B-Y"], "x", [1] * 3)
  feature = tagging_data.sentence_features(
      sentence, 0, spm, {"O": 0, "B-X": 1, "B-Y": 2}, 12, 4)[0]
  assert feature.label_ids[:9] == [-1, -1, 1, -1, -1, 0, -1, 2, -1]
