# coding=utf-8
"""run_ner.main() end to end on tiny models: English CoNLL (softmax) and
Chinese characters (CRF) through training, evaluation, prediction and
export (SavedModel == predict), windows that cover every word, ALBERT, and
the errors refused before any work."""

import os
import random
import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2

from albert import tokenization as albert_tokenization
from conftest import fixture_path
import checkpoints
import encoders
import harness
from harness import read_eval_results
from harness import run_main
import run_ner
import tokenization
import validation
from tasks import tagging
from tasks import tagging_data
from tasks import tagging_metrics
from test_export import _graph_ops

PEOPLE = (("Peter", "Blackburn"), ("Anna", "Johanson"),
          ("Arnold", "Schwarzenegger"))
PLACES = ("London", "Paris", "Berlin")
FILLER = "the a of and in to said was is on".split()


def synthetic_sentences(count, seed, max_words=12):
  """(words, tags) of a toy NER set: two-word people, places, filler."""
  rng = random.Random(seed)
  sentences = []
  for _ in range(count):
    words, tags = [], []
    length = rng.randint(3, max_words)
    while len(words) < length:
      draw = rng.random()
      if draw < 0.15:
        words += list(rng.choice(PEOPLE))
        tags += ["B-PER", "I-PER"]
      elif draw < 0.3:
        words.append(rng.choice(PLACES))
        tags.append("B-LOC")
      else:
        words.append(rng.choice(FILLER))
        tags.append("O")
    sentences.append((words, tags))
  return sentences


def write_conll(path, sentences, with_tags=True):
  """A CoNLL-2003 style file (four columns, -DOCSTART-)."""
  lines = ["-DOCSTART- -X- -X- O", ""]
  for words, tags in sentences:
    for i, word in enumerate(words):
      lines.append("%s NN I-NP %s" % (word, tags[i]) if with_tags else word)
    lines.append("")
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def common_flags(tmp_path, data_dir, **extra):
  values = dict(
      data_dir=str(data_dir), vocab_file=harness.VOCAB,
      bert_config_file=harness.write_config(tmp_path),
      output_dir=str(tmp_path / "out"), max_seq_length=16, doc_stride=8,
      train_batch_size=8, eval_batch_size=8, predict_batch_size=8,
      learning_rate=1e-3, num_train_epochs=2.0, save_checkpoints_steps=1000,
      iterations_per_loop=1000, format="conll", tag_scheme="auto",
      use_crf=False, seed=1)
  values.update(extra)
  return values


def read_conlleval(path):
  """(words, gold, predicted) per sentence of a test_predictions.txt."""
  with open(path, encoding="utf-8") as f:
    blocks = f.read().split("\n\n")
  sentences = []
  for block in blocks:
    rows = [line.split(" ") for line in block.splitlines()]
    if rows:
      assert all(len(row) == 3 for row in rows), rows
      sentences.append(tuple(list(column) for column in zip(*rows)))
  return sentences


def records(path, max_seq_length):
  """Every record of a tagging record file, as one batch of numpy arrays."""
  input_fn = tagging.input_fn_builder(path, max_seq_length, False, False)
  return {k: v.numpy() for k, v in next(iter(input_fn(
      {"batch_size": 100000}))).items()}


def export_word_tags(loaded, features, sentences, label_list, tokenizer,
                     signature="tag_words"):
  """The exported model's tags of every word, and its raw outputs.

  Args:
    loaded: the loaded SavedModel.
    features: the records of the sentences (`records`).
    sentences: list of tagging_data.Sentence.
    label_list: the tags.
    tokenizer: the tokenizer of the records.
    signature: "tag_words" (word_mask: the first pieces) or
      "serving_default".
  """
  serve = loaded.signatures[signature]
  inputs = {k: tf.constant(features[k])
            for k in ("input_ids", "input_mask", "segment_ids")}
  if signature == "tag_words":
    inputs["word_mask"] = tf.constant(
        (features["label_ids"] >= 0).astype(np.int32))
  outputs = {k: v.numpy() for k, v in serve(**inputs).items()}
  windows = [{"sentence_index": features["sentence_index"][i],
              "word_ids": features["word_ids"][i],
              "label_weights": features["label_weights"][i],
              "tag_ids": outputs["tag_ids"][i]}
             for i in range(len(features["input_ids"]))]
  return (tagging_data.word_tags_from_predictions(sentences, windows,
                                                  label_list, tokenizer),
          outputs)


def restored_model(output_dir, num_labels, use_crf=False, config=None):
  """The TaggingModel of output_dir's newest checkpoint."""
  config = config or harness.tiny_config()
  model = tagging.TaggingModel(
      encoders.EncoderSpec.from_config(config).create(), num_labels,
      use_crf)
  checkpoints.restore(model, tf.train.latest_checkpoint(output_dir))
  return model


def event_tags(directory):
  """Scalar tags of the TensorBoard event files in `directory`."""
  tags = set()
  for name in os.listdir(directory):
    if name.startswith("events.out.tfevents"):
      for raw in tf.data.TFRecordDataset(os.path.join(directory, name)):
        event = event_pb2.Event.FromString(raw.numpy())
        tags.update(value.tag for value in event.summary.value)
  return tags


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(harness.VOCAB, do_lower_case=True)


def test_english_conll_train_eval_predict_export(tmp_path, tokenizer):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  dev = synthetic_sentences(12, seed=2, max_words=20)
  write_conll(data_dir / "train.txt", synthetic_sentences(64, seed=1))
  write_conll(data_dir / "dev.txt", dev)
  write_conll(data_dir / "test.txt", dev)  # so test scores = dev scores
  export_dir = str(tmp_path / "export")
  run_main(run_ner.main, "--do_train", "--do_eval", "--do_predict",
           **common_flags(tmp_path, data_dir, export_dir=export_dir))
  out = tmp_path / "out"
  with open(str(out / "label_list.txt")) as f:
    label_list = f.read().split()
  assert label_list == ["O", "B-LOC", "B-PER", "I-PER"]
  results = read_eval_results(str(out / "eval_results.txt"))
  assert list(results) == sorted(results)
  for key in ("eval_f1", "eval_precision", "eval_recall", "eval_accuracy",
              "eval_f1_PER", "eval_f1_LOC", "eval_loss", "loss",
              "global_step"):
    assert key in results, key
  num_windows = len(records(str(out / "train.tf_record"), 16)["input_ids"])
  assert num_windows > 64  # long sentences are several windows
  assert results["global_step"] == str(int(num_windows / 8 * 2))
  # test_predictions.txt: every test word with its gold tag; conlleval's
  # scores of its columns are the eval results (test = dev).
  predicted = read_conlleval(str(out / "test_predictions.txt"))
  assert [(w, g) for w, g, _ in predicted] == dev
  scores = tagging_metrics.score_sentences([g for _, g, _ in predicted],
                                           [p for _, _, p in predicted])
  for name in ("f1", "precision", "recall", "accuracy", "f1_PER"):
    assert float(results["eval_" + name]) == pytest.approx(scores[name],
                                                           abs=1e-6)
  assert float(results["eval_accuracy"]) > 0.8  # learnt something
  assert {"eval_f1", "eval_precision", "eval_loss"} <= event_tags(
      str(out / "eval"))
  # The SavedModel gives the predicted tags of every word and the model's
  # probabilities; only core ops.
  features = records(str(out / "predict.tf_record"), 16)
  sentences = [tagging_data.Sentence(w, g, "test.txt", [0] * len(w))
               for w, g in dev]
  loaded = tf.saved_model.load(export_dir)
  tags, outputs = export_word_tags(loaded, features, sentences, label_list,
                                   tokenizer)
  assert tags == [p for _, _, p in predicted]
  model = restored_model(str(out), 4)
  logits = model(features["input_ids"], features["input_mask"],
                 features["segment_ids"])
  np.testing.assert_allclose(outputs["probabilities"],
                             tf.nn.softmax(logits), atol=1e-5)
  default, _ = export_word_tags(loaded, features, sentences, label_list,
                                tokenizer, signature="serving_default")
  assert default == tags  # softmax: every token is tagged on its own
  core = set(dir(tf.raw_ops))
  ops = _graph_ops(export_dir)
  assert ops <= core, sorted(ops - core)


# Characters in text<TAB>tags lines; the space gets a tag but no piece.
CHINESE = [("张三在北京工作", "B-PER I-PER O B-LOC I-LOC O O"),
           ("李四去上海", "B-PER I-PER O B-LOC I-LOC"),
           ("王五 在广州", "B-PER I-PER O O B-LOC I-LOC"),
           ("北京很大", "B-LOC I-LOC O O")]


def _chinese_lines(rows, repeat, with_tags=True):
  lines = []
  for i in range(repeat):
    for text, tags in rows:
      # A long sentence now and then: several windows.
      if i % 3 == 0:
        text, tags = text * 3, " ".join([tags] * 3)
      lines.append(text + ("\t" + tags if with_tags else ""))
  return "\n".join(lines) + "\n"


def test_chinese_chars_with_crf_train_eval_predict_export(tmp_path,
                                                         tokenizer):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  (data_dir / "train.txt").write_text(_chinese_lines(CHINESE, 6),
                                      encoding="utf-8")
  (data_dir / "dev.txt").write_text(_chinese_lines(CHINESE, 1),
                                    encoding="utf-8")
  (data_dir / "test.txt").write_text(_chinese_lines(CHINESE, 1, False),
                                     encoding="utf-8")
  export_dir = str(tmp_path / "export")
  run_main(run_ner.main, "--do_train", "--do_eval", "--do_predict",
           **common_flags(tmp_path, data_dir, format="chars", use_crf=True,
                          doc_stride=6, num_train_epochs=3.0,
                          learning_rate=2e-3, export_dir=export_dir))
  out = tmp_path / "out"
  results = read_eval_results(str(out / "eval_results.txt"))
  assert "eval_f1_LOC" in results and "eval_f1_PER" in results
  reader = tf.train.load_checkpoint(str(out))
  transitions = reader.get_tensor("cls/ner/crf/transitions")
  assert transitions.shape == (5, 5) and np.abs(transitions).max() > 0
  # Every character has its line, gold O (no tags in test.txt); the space
  # is written as "_" and, without a piece, predicted O.
  predicted = read_conlleval(str(out / "test_predictions.txt"))
  test = tagging_data.read_sentences(str(data_dir / "test.txt"), "chars")
  assert [w for w, _, _ in predicted] == [
      [tagging_metrics.conlleval_word(c) for c in s.words] for s in test]
  assert all(set(g) == {"O"} for _, g, _ in predicted)
  space = predicted[2][0].index("_")
  assert predicted[2][2][space] == "O"
  # Several windows per long sentence; the CRF's Viterbi path in the
  # SavedModel is predict's (each character is one piece: serving_default
  # chains the same positions as tag_words).
  features = records(str(out / "predict.tf_record"), 16)
  assert len(features["input_ids"]) > len(test)
  with open(str(out / "label_list.txt")) as f:
    label_list = f.read().split()
  loaded = tf.saved_model.load(export_dir)
  for signature in ("tag_words", "serving_default"):
    tags, _ = export_word_tags(loaded, features, test, label_list, tokenizer,
                               signature)
    assert tags == [p for _, _, p in predicted], signature


def test_windows_cover_every_word(tmp_path, tokenizer):
  """Predict only: a long sentence in 12-token windows 3 pieces apart,
  multi-piece words and a word without pieces: one line per word."""
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  write_conll(data_dir / "train.txt", synthetic_sentences(4, seed=1))
  long_words = []
  for i in range(30):
    long_words += ["Schwarzenegger", "in", "\ufffd" if i == 7 else "Paris"]
  test = [long_words, ["Johanson", "said"], ["\ufffd"]]
  write_conll(data_dir / "test.txt", [(w, None) for w in test],
              with_tags=False)
  tf.random.set_seed(0)
  init = harness.save_checkpoint(
      tagging.TaggingModel(harness.tiny_encoder(), 4), tmp_path)
  run_main(run_ner.main, "--do_predict",
           **common_flags(tmp_path, data_dir, init_checkpoint=init,
                          max_seq_length=12, doc_stride=3))
  out = tmp_path / "out"
  predicted = read_conlleval(str(out / "test_predictions.txt"))
  assert [w for w, _, _ in predicted] == [
      [tagging_metrics.conlleval_word(w) for w in s] for s in test]
  assert all(set(g) == {"O"} for _, g, _ in predicted)
  assert predicted[0][2][23] == "O" and predicted[2][2] == ["O"]
  features = records(str(out / "predict.tf_record"), 12)
  windows = list(features["sentence_index"][:, 0])
  # 30 * (3 + 1 + 1) - 1 = 149 pieces in windows of 10 starting 3 apart:
  # 1 + ceil((149 - 10) / 3) windows.
  assert windows.count(0) == 48 and windows.count(1) == 1
  assert 2 not in windows  # no piece, no window; still a line


ISSUE_COMMAND = """python run_ner.py --data_dir=DIR --vocab_file=VOCAB \\
  --bert_config_file=CONFIG --init_checkpoint=CKPT --do_lower_case=True \\
  --max_seq_length=128 --train_batch_size=32 --learning_rate=5e-5 \\
  --num_train_epochs=3.0 --do_train --do_eval --do_predict --output_dir=OUT"""


def test_the_issues_command_line(tmp_path):
  """The command line of the issue, as a script (required flags, app)."""
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  for name, seed in (("train.txt", 1), ("dev.txt", 2), ("test.txt", 3)):
    write_conll(data_dir / name, synthetic_sentences(16, seed))
  model = harness.google_model_dir(tmp_path / "model",
                                   max_position_embeddings=128)
  out = tmp_path / "out"
  command = (ISSUE_COMMAND.replace("\\\n", " ").replace("DIR", str(data_dir))
             .replace("VOCAB", model["vocab_file"])
             .replace("CONFIG", model["bert_config_file"])
             .replace("CKPT", model["init_checkpoint"])
             .replace("OUT", str(out)))
  harness.run_script("run_ner.py", command.split()[2:])
  results = read_eval_results(str(out / "eval_results.txt"))
  assert results["global_step"] == "1"  # int(16 / 32 * 3.0)
  assert len(read_conlleval(str(out / "test_predictions.txt"))) == 16


def albert_model_dir(directory):
  """A tiny ALBERT over the SentencePiece fixture: config, checkpoint."""
  config = harness.tiny_albert_config(vocab_size=1000,
                                      max_position_embeddings=64)
  config_file = str(directory / "albert_config.json")
  with open(config_file, "w") as f:
    f.write(config.to_json_string())
  tf.random.set_seed(0)
  encoder = encoders.EncoderSpec.from_config(config).create()
  return config_file, harness.save_checkpoint(encoder, directory,
                                              "model.ckpt-best")


def test_albert_family(tmp_path):
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  write_conll(data_dir / "train.txt", synthetic_sentences(32, seed=1))
  write_conll(data_dir / "dev.txt", synthetic_sentences(6, seed=2))
  write_conll(data_dir / "test.txt", synthetic_sentences(6, seed=3))
  config_file, init = albert_model_dir(tmp_path)
  run_main(run_ner.main, "--do_train", "--do_eval", "--do_predict",
           **common_flags(tmp_path, data_dir, bert_config_file=config_file,
                          vocab_file="",
                          spm_model_file=fixture_path("albert",
                                                      "spm_tiny.model"),
                          init_checkpoint=init, num_train_epochs=1.0))
  out = tmp_path / "out"
  assert "eval_f1" in read_eval_results(str(out / "eval_results.txt"))
  names = {name for name, _ in tf.train.list_variables(str(out))}
  assert "cls/ner/output_weights" in names
  assert ("bert/encoder/transformer/group_0/inner_group_0/attention_1/self/"
          "query/kernel") in names
  predicted = read_conlleval(str(out / "test_predictions.txt"))
  assert [w for w, _, _ in predicted] == [w for w, _ in
                                          synthetic_sentences(6, seed=3)]
  # Words are normalised and lower-cased before SentencePiece, as ALBERT's
  # scripts do (--do_lower_case defaults to True).
  spm = albert_tokenization.FullTokenizer(
      None, spm_model_file=fixture_path("albert", "spm_tiny.model"))
  words = synthetic_sentences(6, seed=3)[0][0]
  pieces = [p for w in words for p in spm.tokenize(
      albert_tokenization.preprocess_text(w, lower=True))]
  expected = spm.convert_tokens_to_ids(["[CLS]"] + pieces[:14] + ["[SEP]"])
  record = next(iter(tf.data.TFRecordDataset(str(out / "predict.tf_record"))))
  example = tf.train.Example.FromString(record.numpy())
  input_ids = list(example.features.feature["input_ids"].int64_list.value)
  assert input_ids[:len(expected)] == expected


def test_model_fn_builder():
  model_fn = run_ner.model_fn_builder(harness.tiny_config(), 5, None, 1e-3,
                                      10, 1, False, False, use_crf=True)
  model = model_fn.create_model({})
  assert model.head.output_weights.shape == (5, 32)
  assert model.head_crf.transitions.name == "cls/ner/crf/transitions:0"


# ---------------------------------------------------------------- errors


def _error_case(tmp_path, train=None, dev=None, test=None, **flags):
  """Runs main on the given files; returns the exception it raises."""
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  for name, text in (("train.txt", train), ("dev.txt", dev),
                     ("test.txt", test)):
    if text is not None:
      (data_dir / name).write_text(text, encoding="utf-8")
  with pytest.raises(validation.UsageError) as info:
    run_main(run_ner.main, **common_flags(tmp_path, data_dir, **flags))
  # Refused before any work: no output directory.
  assert not (tmp_path / "out").exists()
  return str(info.value)


TRAIN = "EU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n"


@pytest.mark.parametrize("files, flags, message", [
    (dict(train="EU B-ORG\nrejects\n"), dict(do_train=True),
     r"train\.txt:2: no tag on this line"),
    (dict(train=TRAIN, dev="EU B-ORG\ncalls B-MISC\n"), dict(do_eval=True),
     r"dev\.txt:2: unknown tag 'B-MISC'"),
    (dict(train=TRAIN, dev="-DOCSTART- O\n\n"), dict(do_eval=True),
     r"dev\.txt: no sentences in this file"),
    (dict(train=TRAIN), dict(do_eval=True),
     r"has no dev\.txt \(--do_eval reads it\)"),
    (dict(test="EU\n"), dict(do_predict=True),
     r"no train\.txt to take the tags from: give them with --label_file"),
    (dict(train=TRAIN), dict(do_train=True, doc_stride=0),
     r"--doc_stride=0: must be >= 1"),
    (dict(train=TRAIN), dict(do_train=True, max_seq_length=100),
     r"--max_seq_length=100: must be between 3 and 64"),
    (dict(train=TRAIN), dict(do_train=True, tag_scheme="bilou"),
     r"--tag_scheme=bilou: unknown"),
    (dict(train=TRAIN), dict(), r"At least one of `do_train`"),
])
def test_errors_name_the_file_line_or_flag(tmp_path, files, flags, message):
  error = _error_case(tmp_path, **dict(files, **flags))
  assert "\n" not in error
  assert re.search(message, error), error
