# coding=utf-8
"""Tests of demo.py: corpus and task builders, stages, and the whole run."""

import json
import math
import os
import random
import subprocess
import sys

import pytest

from conftest import ROOT
import demo
import locks
import tokenization

DOCSTRING_SOURCE = '''
"""Tools for counting sheep. The module is small.

Example::

    count(sheep) + 1 if fences else None
"""


class Shepherd:
  """A shepherd keeps the flock. Call count() every evening.

  >>> Shepherd().count()
  3
  """

  def count(self):
    """Returns how many sheep came home tonight!"""


def helper():
  pass
'''


def test_docstrings_in_source_order():
  found = demo.docstrings(DOCSTRING_SOURCE)
  assert [d.split()[0] for d in found] == ["Tools", "A", "Returns"]
  assert demo.docstrings("def broken(:\n") == []


def test_split_sentences_drops_code_and_short_lines():
  sentences = []
  for text in demo.docstrings(DOCSTRING_SOURCE):
    sentences.extend(demo.split_sentences(text))
  assert sentences == [
      "Tools for counting sheep.",
      "The module is small.",
      "A shepherd keeps the flock.",
      "Call count() every evening.",
      "Returns how many sheep came home tonight!",
  ]
  wrapped = "First line of a\nsentence that wraps.  Then\tanother one here."
  assert demo.split_sentences(wrapped) == [
      "First line of a sentence that wraps.", "Then another one here."]
  assert demo.split_sentences("x = [1, 2, 3] + [4, 5, 6] * 7 // 8") == []


def test_corpus_text_layout():
  text = demo.corpus_text([["a b c d.", "e f g h."], ["i j k l."]])
  assert text == "a b c d.\ne f g h.\n\ni j k l.\n\n"


def test_build_documents_from_a_directory(tmp_path):
  package = tmp_path / "pkg"
  (package / "tests").mkdir(parents=True)
  (package / "a.py").write_text(DOCSTRING_SOURCE, encoding="utf-8")
  (package / "tests" / "test_a.py").write_text(DOCSTRING_SOURCE,
                                                encoding="utf-8")
  (package / "bad.py").write_bytes(b'"""caf\xe9 is not UTF-8."""\n')
  documents = demo.build_documents(10 ** 9, roots=[str(tmp_path)])
  pydoc_count = len(demo.pydoc_documents())
  assert pydoc_count > 50
  # pydoc's pages, then a.py once (tests/ and non-UTF-8 files are left out).
  assert len(documents) == pydoc_count + 1
  assert documents[-1][0] == "Tools for counting sheep."
  assert all(len(d) >= 2 for d in documents)
  assert all("\t" not in s and "\n" not in s for d in documents for s in d)


def test_sentence_pairs_are_balanced_and_correct():
  documents = [["doc%d sentence %d here." % (d, i) for i in range(6)]
               for d in range(5)]
  where = {s: (d, i) for d, doc in enumerate(documents)
           for i, s in enumerate(doc)}
  pairs = demo.sentence_pairs(documents, 20, random.Random(1))
  assert len(pairs) == 20
  assert sum(label == "1" for label, _, _ in pairs) == 10
  for label, a, b in pairs:
    (doc_a, i), (doc_b, j) = where[a], where[b]
    if label == "1":
      assert (doc_b, j) == (doc_a, i + 1)
    else:
      assert doc_b != doc_a
  assert pairs == demo.sentence_pairs(documents, 20, random.Random(1))
  with pytest.raises(ValueError, match="two or more documents"):
    demo.sentence_pairs(documents[:1], 5, random.Random(1))


def test_mrpc_files_read_by_googles_processor(tmp_path):
  import run_classifier  # pylint: disable=g-import-not-at-top
  pairs = [("1", "A first \"quoted\" one.", "B follows it."),
           ("0", "Another sentence here.", "Unrelated text there.")]
  for name, rows in (("train.tsv", demo.mrpc_rows(pairs)),
                     ("dev.tsv", demo.mrpc_rows(pairs)),
                     ("test.tsv", demo.mrpc_rows(pairs, test=True))):
    (tmp_path / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
  processor = run_classifier.MrpcProcessor()
  train = processor.get_train_examples(str(tmp_path))
  assert [(e.label, e.text_a, e.text_b) for e in train] == pairs
  test = processor.get_test_examples(str(tmp_path))
  assert [(e.text_a, e.text_b) for e in test] == [p[1:] for p in pairs]


def test_stages_skip_resume_and_missing_scripts(tmp_path):
  calls = []

  def body(directory):
    calls.append(os.path.basename(directory))
    with open(os.path.join(directory, "out.txt"), "w") as f:
      f.write("done")

  stages = demo.Stages(str(tmp_path))
  assert stages.run("one", [], body) == str(tmp_path / "one")
  assert calls == ["one.partial"]
  assert os.listdir(tmp_path / "one") == ["out.txt"]
  assert not os.path.exists(tmp_path / "one.partial")
  # A finished stage is not run again.
  assert demo.Stages(str(tmp_path)).run("one", [], body) == str(tmp_path /
                                                                "one")
  assert calls == ["one.partial"]
  # A missing script skips the stage and those that need it.
  stages = demo.Stages(str(tmp_path))
  assert stages.run("two", ["no_such_script.py"], body) is None
  assert stages.run("three", [], body, needs=["two"]) is None
  assert [n for n, _ in stages.skipped] == ["two", "three"]
  assert "no_such_script.py not available" in stages.skipped[0][1]
  assert not os.path.exists(tmp_path / "two")

  # A failed stage stays .partial (to resume), the final name never appears.
  def failing(directory):
    raise RuntimeError("boom")

  with pytest.raises(RuntimeError):
    demo.Stages(str(tmp_path)).run("four", [], failing)
  assert os.path.isdir(tmp_path / "four.partial")
  assert not os.path.exists(tmp_path / "four")


def test_output_dir_checks(tmp_path):
  stranger = tmp_path / "home"
  stranger.mkdir()
  (stranger / "precious.txt").write_text("keep me")
  with pytest.raises(ValueError, match="not a demo output"):
    demo.prepare_output_dir(str(stranger), "small", clean=True)
  assert (stranger / "precious.txt").exists()

  out = tmp_path / "out"
  demo.prepare_output_dir(str(out), "small", clean=False)
  (out / "corpus").mkdir()
  with pytest.raises(ValueError, match="--size=small run"):
    demo.prepare_output_dir(str(out), "default", clean=False)
  demo.prepare_output_dir(str(out), "default", clean=True)
  assert os.listdir(out) == [demo.SETTINGS_FILE]
  # The run's own lock (taken before main) is not content, and --clean
  # keeps it.
  fresh = tmp_path / "fresh"
  with locks.lock_output_dir(str(fresh)):
    demo.prepare_output_dir(str(fresh), "small", clean=False)
    (fresh / "corpus").mkdir()
    demo.prepare_output_dir(str(fresh), "default", clean=True)
    assert sorted(os.listdir(fresh)) == [".lock", demo.SETTINGS_FILE]


def test_test_accuracy_and_baseline(tmp_path):
  results = tmp_path / "test_results.tsv"
  results.write_text("0.9\t0.1\n0.2\t0.8\n0.6\t0.4\n0.3\t0.7\n")
  labels = tmp_path / "labels.txt"
  labels.write_text("0\n1\n1\n1\n")
  assert demo.test_accuracy(str(results), str(labels)) == (0.75, 0.75, 4)
  labels.write_text("0\n1\n")
  with pytest.raises(ValueError, match="4 lines"):
    demo.test_accuracy(str(results), str(labels))


def read_results(path):
  with open(path) as f:
    return dict(line.rstrip("\n").split(" = ") for line in f if " = " in line)


def tsv_rows(path):
  with open(path, encoding="utf-8") as f:
    return [line.rstrip("\n").split("\t") for line in f][1:]


def test_whole_demo_small(tmp_path):
  """The bundled run at --size=small, then a re-run that redoes nothing."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  out = tmp_path / "demo"
  command = [sys.executable, os.path.join(ROOT, "demo.py"), "--size=small",
             "--output_dir=" + str(out)]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  size = demo.SIZES["small"]
  assert "SKIPPED" not in result.stdout
  # Each command line is printed so that it can be copied.
  for script in ("learn_vocab.py", "create_pretraining_data.py",
                 "run_pretraining.py", "run_classifier.py",
                 "extract_features.py"):
    assert " %s \\\n" % script in result.stdout
  assert sorted(os.listdir(out)) == [
      "corpus", "demo_settings.json", "features", "finetune", "pretrain",
      "pretraining_data", "summary.txt", "vocab"]

  # Corpus: a sentence per line, documents of two or more sentences.
  with open(out / "corpus" / "corpus.txt", encoding="utf-8") as f:
    documents = f.read().split("\n\n")
  assert documents[-1] == "" and len(documents) > 20
  assert all(len(d.split("\n")) >= 2 for d in documents[:-1])

  # Task: MRPC layout, balanced labels, labels of test.tsv kept aside.
  train = tsv_rows(out / "corpus" / "task" / "train.tsv")
  assert len(train) == size["task_train_pairs"]
  assert all(len(row) == 5 for row in train)
  assert abs(sum(row[0] == "1" for row in train) - len(train) / 2) <= 1
  test = tsv_rows(out / "corpus" / "task" / "test.tsv")
  with open(out / "corpus" / "task" / "test_labels.txt") as f:
    test_labels = f.read().split()
  assert len(test) == len(test_labels) > 50

  # Vocab: Google's layout, loads with FullTokenizer.
  tokenizer = tokenization.FullTokenizer(
      str(out / "vocab" / "vocab.txt"), do_lower_case=True)
  assert len(tokenizer.vocab) == size["vocab_size"]
  assert tokenizer.vocab["[UNK]"] == 100 and tokenizer.vocab["[PAD]"] == 0

  # Pretraining records with the sizes asked for.
  record_file = out / "pretraining_data" / "pretraining.tfrecord"
  with open(str(record_file) + ".json") as f:
    sidecar = json.load(f)
  assert sidecar["max_seq_length"] == size["max_seq_length"]
  assert sidecar["vocab_size"] == size["vocab_size"]
  first = tf.train.Example.FromString(
      next(iter(tf.data.TFRecordDataset(str(record_file)))).numpy())
  feature = first.features.feature
  assert len(feature["input_ids"].int64_list.value) == size["max_seq_length"]
  assert max(feature["input_ids"].int64_list.value) < size["vocab_size"]

  # Pretraining: checkpoint and Google's eval keys; the masked-LM loss is
  # below that of a uniform guess over the vocabulary (the model learned).
  assert os.path.exists(out / "pretrain" / (
      "model.ckpt-%d.index" % size["pretrain_steps"]))
  results = read_results(out / "pretrain" / "eval_results.txt")
  assert sorted(results) == ["global_step", "loss", "masked_lm_accuracy",
                             "masked_lm_loss", "masked_lm_perplexity",
                             "next_sentence_accuracy", "next_sentence_loss"]
  assert int(results["global_step"]) == size["pretrain_steps"]
  assert float(results["masked_lm_loss"]) < math.log(size["vocab_size"])

  # Fine-tuning: Google's step count formula, eval results, one line of two
  # probabilities per test pair.
  results = read_results(out / "finetune" / "eval_results.txt")
  assert int(results["global_step"]) == int(
      len(train) / size["finetune_batch_size"] * size["finetune_epochs"])
  assert 0.0 <= float(results["eval_accuracy"]) <= 1.0
  with open(out / "finetune" / "test_results.tsv") as f:
    probabilities = [[float(p) for p in line.split("\t")] for line in f]
  assert len(probabilities) == len(test)
  assert all(len(p) == 2 and abs(sum(p) - 1.0) < 1e-4 for p in probabilities)

  # Features: one JSON line per input line, layers -1 and -2 of hidden size.
  with open(out / "corpus" / "features_input.txt", encoding="utf-8") as f:
    inputs = f.read().splitlines()
  with open(out / "features" / "features.jsonl") as f:
    features = [json.loads(line) for line in f]
  assert len(features) == len(inputs) == demo.NUM_FEATURE_EXAMPLES
  token = features[0]["features"][0]
  assert token["token"] == "[CLS]"
  assert [layer["index"] for layer in token["layers"]] == [-1, -2]
  assert len(token["layers"][0]["values"]) == size["hidden_size"]

  with open(out / "summary.txt") as f:
    summary = f.read()
  assert "majority-class baseline" in summary
  assert "masked_lm_accuracy = " in summary

  # A re-run finds every stage complete and changes nothing.
  mtime = os.path.getmtime(out / "vocab" / "vocab.txt")
  again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stdout.count("complete from an earlier run") == 6
  assert os.path.getmtime(out / "vocab" / "vocab.txt") == mtime


def test_whole_demo_small_albert(tmp_path):
  """--model=albert: ALBERT's scripts (python -m albert.*) from raw text to a
  fine-tuned classifier and features, on the same corpus."""
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  out = tmp_path / "demo"
  command = [sys.executable, os.path.join(ROOT, "demo.py"), "--model=albert",
             "--size=small", "--output_dir=" + str(out)]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  size = dict(demo.SIZES["small"], **demo.ALBERT_SIZES["small"])
  assert "SKIPPED" not in result.stdout
  for module in ("albert.learn_spm", "albert.create_pretraining_data",
                 "albert.run_pretraining", "albert.run_classifier"):
    assert " -m %s \\\n" % module in result.stdout
  assert " extract_features.py \\\n" in result.stdout

  # ALBERT's SentencePiece model, with its special pieces first.
  sp = spm.SentencePieceProcessor(
      model_file=str(out / "vocab" / "30k-clean.model"))
  assert sp.get_piece_size() == size["vocab_size"]
  assert [sp.id_to_piece(i) for i in range(5)] == [
      "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]

  # ALBERT's eight record features, ids within the SentencePiece model.
  record_file = out / "pretraining_data" / "pretraining.tfrecord"
  first = tf.train.Example.FromString(
      next(iter(tf.data.TFRecordDataset(str(record_file)))).numpy())
  feature = first.features.feature
  assert "token_boundary" in feature
  assert len(feature["input_ids"].int64_list.value) == size["max_seq_length"]
  assert max(feature["input_ids"].int64_list.value) < size["vocab_size"]

  # Pretraining: ALBERT's names (E < H, one shared group) and its eval keys;
  # the masked-LM loss is below that of a uniform guess.
  prefix = str(out / "pretrain" / ("model.ckpt-%d" % size["pretrain_steps"]))
  shapes = dict(tf.train.list_variables(prefix))
  assert shapes["bert/embeddings/word_embeddings"] == [
      size["vocab_size"], size["embedding_size"]]
  assert shapes["bert/encoder/embedding_hidden_mapping_in/kernel"] == [
      size["embedding_size"], size["hidden_size"]]
  assert not any("layer_1" in n or "group_1" in n for n in shapes)
  results = read_results(out / "pretrain" / "eval_results.txt")
  assert int(results["global_step"]) == size["pretrain_steps"]
  assert "sentence_order_accuracy" in results
  assert float(results["masked_lm_loss"]) < math.log(size["vocab_size"])

  # Fine-tuning with ALBERT's runner: --train_step from the epochs, ALBERT's
  # eval blocks, one line of two probabilities per test pair.
  results = read_results(out / "finetune" / "eval_results.txt")
  assert int(results["global_step"]) == int(
      size["task_train_pairs"] / size["finetune_batch_size"] *
      size["finetune_epochs"])
  assert 0.0 <= float(results["eval_accuracy"]) <= 1.0
  test = tsv_rows(out / "corpus" / "task" / "test.tsv")
  with open(out / "finetune" / "test_results.tsv") as f:
    probabilities = [[float(p) for p in line.split("\t")] for line in f]
  assert len(probabilities) == len(test)
  assert all(len(p) == 2 and abs(sum(p) - 1.0) < 1e-4 for p in probabilities)

  # Features of the ALBERT checkpoint: hidden size H, not E.
  with open(out / "features" / "features.jsonl") as f:
    features = [json.loads(line) for line in f]
  assert len(features) == demo.NUM_FEATURE_EXAMPLES
  token = features[0]["features"][0]
  assert token["token"] == "[CLS]"
  assert len(token["layers"][0]["values"]) == size["hidden_size"]
  with open(out / "summary.txt") as f:
    summary = f.read()
  assert summary.startswith("=" * 72 + "\nALBERT demo summary")
  assert "sentence_order_accuracy = " in summary

  # The directory remembers its model: a BERT run there is refused.
  again = subprocess.run(command[:2] + ["--size=small",
                                        "--output_dir=" + str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert again.returncode == 2
  assert "holds a --model=albert run" in again.stderr
