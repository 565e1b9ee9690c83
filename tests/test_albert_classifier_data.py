"""albert/classifier_utils.py against the outputs of ALBERT's own code.

Reference: tests/fixtures/albert/classifier/ (ALBERT's processors and
file_based_convert_examples_to_features, google-research/albert b772393, run
on TF 2.21 with spm_tiny.model, use_spm=True, do_lower_case=True,
max_seq_length 32; provenance in tests/fixtures/README.md). The input files
are the BERT reference's (tests/fixtures/classifier/) in ALBERT's layout.
"""

import gzip
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
from albert import classifier_utils
from albert import tokenization

MAX_SEQ_LENGTH = 32
# Reference task -> (processor name, folder, {split: input file}).
TASKS = {
    "mrpc": ("mrpc", "MRPC", {"train": "train.tsv", "dev": "dev.tsv",
                              "test": "test.tsv"}),
    "cola": ("cola", "CoLA", {"train": "train.tsv", "dev": "dev.tsv",
                              "test": "test.tsv"}),
    "mnli": ("mnli", "MNLI", {"train": "train.tsv", "dev": "dev_matched.tsv",
                              "test": "test_matched.tsv"}),
    "stsb": ("sts-b", "STS-B", {"train": "train.tsv"}),
}
SPLITS = [(task, split) for task in TASKS for split in TASKS[task][2]]


def _summary():
  with open(fixture_path("albert", "classifier", "summary.json")) as f:
    return json.load(f)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """The reference's input files in ALBERT's layout <data_dir>/<TASK>/."""
  root = tmp_path_factory.mktemp("glue")
  for task, (_, folder, files) in TASKS.items():
    os.makedirs(root / folder)
    for name in files.values():
      source = (fixture_path("albert", "classifier", "stsb_train.tsv")
                if task == "stsb" else fixture_path("classifier", task, name))
      shutil.copy(source, root / folder / name)
  return str(root)


@pytest.fixture(scope="module")
def spm_tokenizer():
  return tokenization.FullTokenizer(
      None, do_lower_case=True,
      spm_model_file=fixture_path("albert", "spm_tiny.model"))


def _reference(task, split):
  path = fixture_path("albert", "classifier", "%s_%s.jsonl.gz" % (task, split))
  with gzip.open(path, "rt", encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def _examples(data_dir, task, split, use_spm=True, do_lower_case=True):
  processor = classifier_utils.PROCESSORS[TASKS[task][0]](
      use_spm=use_spm, do_lower_case=do_lower_case)
  return processor, getattr(processor, "get_%s_examples" % split)(data_dir)


def canonical_sha256(path, tmp_path):
  """sha256 of the file with every record re-serialized with sorted keys.

  ALBERT's reference wrote its records with protobuf's default backend, whose
  map order varies, so its raw digest is not reproducible; this digest
  depends only on the records' contents and order (the reference README's
  recipe).

  Args:
    path: TFRecord file.
    tmp_path: where to write the re-serialized copy.

  Returns:
    hex digest.
  """
  with tf.io.TFRecordWriter(tmp_path) as writer:
    for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
      writer.write(tf.train.Example.FromString(raw).SerializeToString(
          deterministic=True))
  with open(tmp_path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def _parse_records(path, task_name, seq_length=MAX_SEQ_LENGTH):
  """Every record of a classifier file as a dict of numpy arrays."""
  input_fn = classifier_utils.file_based_input_fn_builder(
      path, seq_length, False, False, task_name, False, 1000)
  batches = list(input_fn({}).as_numpy_iterator())
  assert len(batches) == 1
  return batches[0]


@pytest.mark.parametrize("task,split", SPLITS)
def test_examples_equal_alberts(data_dir, task, split):
  """guid, texts and label after process_text, as ALBERT's processors."""
  _, examples = _examples(data_dir, task, split)
  ours = [{"guid": e.guid, "text_a": e.text_a, "text_b": e.text_b,
           "label": e.label} for e in examples]
  want = [{k: r[k] for k in ("guid", "text_a", "text_b", "label")}
          for r in _reference(task, split)]
  assert ours == want
  assert len(ours) == _summary()["tasks"][TASKS[task][0]]["splits"][split][
      "num_examples"]


@pytest.mark.parametrize("task,split", SPLITS)
def test_records_equal_alberts(data_dir, spm_tokenizer, tmp_path, task, split):
  """ALBERT's records (canonical digest) and decoded features."""
  processor, examples = _examples(data_dir, task, split)
  labels = processor.get_labels()
  assert labels == _summary()["tasks"][TASKS[task][0]]["labels"]
  path = str(tmp_path / "records.tf_record")
  classifier_utils.file_based_convert_examples_to_features(
      examples, labels, MAX_SEQ_LENGTH, spm_tokenizer, path, TASKS[task][0])
  split_summary = _summary()["tasks"][TASKS[task][0]]["splits"][split]
  assert (canonical_sha256(path, str(tmp_path / "canonical")) ==
          split_summary["record_canonical_sha256"])
  records = _parse_records(path, TASKS[task][0])
  reference = _reference(task, split)
  for name in ("input_ids", "input_mask", "segment_ids", "is_real_example"):
    np.testing.assert_array_equal(records[name],
                                  [r[name] for r in reference], err_msg=name)
  want_labels = np.array([r["label_ids"] for r in reference])
  np.testing.assert_array_equal(records["label_ids"], want_labels)
  assert records["label_ids"].dtype == (
      np.float32 if task == "stsb" else np.int32)
  tokens = [spm_tokenizer.convert_ids_to_tokens(ids[mask == 1]) for ids, mask
            in zip(records["input_ids"], records["input_mask"])]
  assert tokens == [r["tokens"] for r in reference]


def test_in_memory_features_equal_the_records(data_dir, spm_tokenizer):
  processor, examples = _examples(data_dir, "stsb", "train")
  features = classifier_utils.convert_examples_to_features(
      examples, processor.get_labels(), MAX_SEQ_LENGTH, spm_tokenizer, "sts-b")
  reference = _reference("stsb", "train")
  assert [f.input_ids for f in features] == [r["input_ids"] for r in reference]
  # The record holds float32(label): the reference's value of each score.
  np.testing.assert_array_equal(
      np.float32([f.label_id for f in features]),
      np.float32([r["label_ids"] for r in reference]))
  assert all(isinstance(f.label_id, float) for f in features)
  assert features[0].guid is None and features[0].example_id is None
  padding = classifier_utils.convert_single_example(
      0, classifier_utils.PaddingInputExample(), [None], 8, spm_tokenizer,
      "sts-b")
  assert (padding.input_ids, padding.label_id, padding.is_real_example) == (
      [0] * 8, 0.0, False)


@pytest.mark.parametrize("task,split", [("mrpc", "train"), ("mrpc", "test"),
                                        ("cola", "dev"), ("mnli", "train")])
def test_wordpiece_path_gives_googles_bert_records(data_dir, tmp_path, task,
                                                   split):
  """use_spm=False + ALBERT's WordPiece tokenizer: Google BERT's records.

  Without SentencePiece, process_text leaves the text alone and ALBERT's
  FullTokenizer is BERT's, so the records are the BERT reference's (same
  files, vocabulary and max_seq_length 32).
  """
  processor, examples = _examples(data_dir, task, split, use_spm=False)
  tokenizer = tokenization.FullTokenizer(fixture_path("vocab_uncased.txt"),
                                         do_lower_case=True)
  path = str(tmp_path / "records.tf_record")
  classifier_utils.file_based_convert_examples_to_features(
      examples, processor.get_labels(), MAX_SEQ_LENGTH, tokenizer, path, task)
  with open(path, "rb") as a, open(
      fixture_path("classifier", task, "%s.tf_record" % split), "rb") as b:
    assert a.read() == b.read()
  # The texts keep their case: the tokenizer lower-cases.
  assert any(e.text_a != e.text_a.lower() for e in examples)


def _write_tsv(path, rows):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for row in rows:
      f.write("\t".join(row) + "\n")


def _all(processor, data_dir, splits=("train", "dev", "test")):
  """{split: [(guid, text_a, text_b, label)]}."""
  return {split: [(e.guid, e.text_a, e.text_b, e.label) for e in getattr(
      processor, "get_%s_examples" % split)(data_dir)] for split in splits}


def test_other_glue_processors_follow_alberts_columns(tmp_path):
  """SST-2, QQP, QNLI, RTE, WNLI, AX, mismatched MNLI on hand-made files.

  Expected values read off ALBERT's classifier_utils.py: which column is
  which, the guids (processed or not), the test labels, QQP skipping short
  rows, and process_text (whitespace runs, NFKD without accents, lower case).
  """
  d = str(tmp_path)
  _write_tsv(os.path.join(d, "SST-2", "train.tsv"),
             [["sentence", "label"], ["A  Café\u2028ride ", "1"]])
  _write_tsv(os.path.join(d, "SST-2", "dev.tsv"),
             [["sentence", "label"], ["Bad", "0"]])
  _write_tsv(os.path.join(d, "SST-2", "test.tsv"),
             [["index", "sentence"], ["7", "ÀB"]])
  got = _all(classifier_utils.Sst2Processor(True, True), d)
  assert got == {"train": [("train-1", "a cafe ride", None, "1")],
                 "dev": [("dev-1", "bad", None, "0")],
                 "test": [("7", "ab", None, "0")]}
  _write_tsv(os.path.join(d, "QQP", "train.tsv"),
             [["id", "qid1", "qid2", "q1", "q2", "dup"],
              ["10", "1", "2", "Why İt?", "How", "1"],
              ["11", "3", "4", "short row"],
              ["12", "5", "6", "Q", "R", "0"]])
  _write_tsv(os.path.join(d, "QQP", "dev.tsv"),
             [["id", "qid1", "qid2", "q1", "q2", "dup"],
              ["Id", "1", "2", "x", "y", "0"]])
  _write_tsv(os.path.join(d, "QQP", "test.tsv"),
             [["id", "q1", "q2"], ["T0", "Où?", "Ça"]])
  got = _all(classifier_utils.QqpProcessor(True, True), d)
  assert got == {"train": [("10", "why it?", "how", "1"),
                           ("12", "q", "r", "0")],
                 "dev": [("Id", "x", "y", "0")],
                 "test": [("T0", "ou?", "ca", "0")]}
  for name, processor, test_label, dev_guid in (
      ("QNLI", classifier_utils.QnliProcessor, "entailment", "d1"),
      ("RTE", classifier_utils.RteProcessor, "entailment", "d1"),
      ("WNLI", classifier_utils.WnliProcessor, "0", "d1")):
    label = "1" if name == "WNLI" else "not_entailment"
    _write_tsv(os.path.join(d, name, "train.tsv"),
               [["index", "s1", "s2", "label"], ["T1", "Ä", "B", label]])
    _write_tsv(os.path.join(d, name, "dev.tsv"),
               [["index", "s1", "s2", "label"], ["D1", "C", "D", label]])
    _write_tsv(os.path.join(d, name, "test.tsv"),
               [["index", "s1", "s2"], ["E1", "E", "F"]])
    got = _all(processor(True, True), d)
    assert got == {"train": [("t1", "a", "b", label)],
                   "dev": [(dev_guid, "c", "d", label)],
                   "test": [("e1", "e", "f", test_label)]}, name
    assert label in processor(True, True).get_labels()
  _write_tsv(os.path.join(d, "diagnostic", "diagnostic.tsv"),
             [["index", "s1", "s2"], ["0", "X", "Y"]])
  ax = classifier_utils.AXProcessor(True, False)
  assert _all(ax, d, ["test"]) == {"test": [("0", "X", "Y", "contradiction")]}
  with pytest.raises(NotImplementedError):
    ax.get_train_examples(d)
  mnli_row = ["5", "p", "q", "r", "s", "t", "u", "v", "Prémisse", "Hyp",
              "x", "neutral"]
  _write_tsv(os.path.join(d, "MNLI", "dev_mismatched.tsv"),
             [["h"] * 12, mnli_row])
  _write_tsv(os.path.join(d, "MNLI", "test_mismatched.tsv"),
             [["h"] * 10, mnli_row[:10]])
  mis = classifier_utils.MisMnliProcessor(True, True)
  assert _all(mis, d, ["dev", "test"]) == {
      "dev": [("5", "premisse", "hyp", "neutral")],
      "test": [("5", "premisse", "hyp", "contradiction")]}


def test_process_text_without_spm_keeps_the_text():
  processor = classifier_utils.MrpcProcessor(use_spm=False, do_lower_case=True)
  assert processor.process_text(b"Caf\xc3\xa9  X") == "Café  X"
  cased = classifier_utils.MrpcProcessor(use_spm=True, do_lower_case=False)
  assert cased.process_text(" Café  X ") == "Cafe X"


def test_short_row_names_file_and_line(tmp_path):
  _write_tsv(str(tmp_path / "MRPC" / "train.tsv"),
             [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
              ["1", "1", "2", "only a"]])
  with pytest.raises(ValueError, match=r"train\.tsv:2: expected at least 5"):
    classifier_utils.MrpcProcessor(True, True).get_train_examples(
        str(tmp_path))


def test_processors_map_alberts_task_names():
  assert sorted(classifier_utils.PROCESSORS) == sorted(
      ["cola", "mnli", "mismnli", "mrpc", "rte", "sst-2", "sts-b", "qqp",
       "qnli", "wnli", "ax"])
  assert classifier_utils.StsbProcessor(True, True).get_labels() == [None]


def test_input_fn_uses_bsz_and_multiple(tmp_path, spm_tokenizer):
  """ALBERT's reader: bsz when params has no batch size; RACE's multiple."""
  examples = [classifier_utils.InputExample("g%d" % i, "text %d" % i, None,
                                            "1") for i in range(5)]
  path = str(tmp_path / "r.tf_record")
  classifier_utils.file_based_convert_examples_to_features(
      examples, ["0", "1"], 8, spm_tokenizer, path, "cola")
  input_fn = classifier_utils.file_based_input_fn_builder(
      path, 4, False, True, "cola", False, bsz=2, multiple=2)
  batches = list(input_fn({}).as_numpy_iterator())
  assert [b["input_ids"].shape for b in batches] == [(2, 8), (2, 8)]
  assert batches[0]["label_ids"].tolist() == [1, 1]
  assert batches[0]["input_ids"].dtype == np.int32
  with_params = input_fn({"batch_size": 5})
  assert next(iter(with_params))["input_ids"].shape == (5, 8)
