# coding=utf-8
"""Tests of create_pretraining_data.py's domain-pretraining options.

--input_format=lines/jsonl, held-out documents (--eval_output_file),
masked-LM-only records (--next_sentence_prediction=False) and dynamic
masking (--masking=dynamic). Oracle: tests/literal_pretraining_data.py, the
same algorithms written plainly on lists of strings; the held-out choice is
recomputed here with Python integers.
"""

import json
import os
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest
import tensorflow as tf

import create_pretraining_data as cpd
from conftest import fixture_path
import harness
import literal_pretraining_data as literal
import sentence_split
from test_create_pretraining_data import first_difference
from test_create_pretraining_data import read_records
from test_create_pretraining_data import sha256
from test_create_pretraining_data import write_vocab
import tf_example
import tokenization

VOCAB = fixture_path("vocab_uncased.txt")
SAMPLE = fixture_path("pretraining_data", "sample_text.txt")
MASKED = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")

# Documents of a few sentences each, with the cases the splitter must get
# right, one document per line.
DOCUMENTS = [
    "Mr. Smith paid $3.50 for tea. He said \"Thanks.\" Then he left.",
    "The U.S. Army base is near Jan. 12th street. It opened in 1999. Wait... "
    "what? Nobody knows.",
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u6211\u4eec\u53bb\u516c\u56ed"
    "\u5427\uff01\u4f60\u53bb\u5417\uff1f",
    "Short one.",
    "J. R. R. Tolkien wrote many books. They sold well! Really? Yes.",
    "A line without any stop at all",
] * 3


def mix64(value):
  """splitmix64's finalizer on Python integers."""
  value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
  value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) % 2**64
  return value ^ (value >> 31)


def expected_held_out(num_documents, seed, count):
  """The held-out documents by the documented rule, with Python integers."""
  base = mix64(seed % 2**64)
  keys = [mix64((base + d) % 2**64) for d in range(num_documents)]
  return sorted(sorted(range(num_documents), key=keys.__getitem__)[:count])


def run(inputs, outputs, vocab=VOCAB, **kwargs):
  kwargs.setdefault("num_workers", 1)
  return cpd.run(inputs, outputs, vocab, log_examples=False, progress=False,
                 **kwargs)


def write_lines(path, lines):
  path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
  return str(path)


def as_sentences_file(path, documents):
  """Google's format: the documents' sentences, a blank line between."""
  return write_lines(path, [
      line for document in documents
      for line in sentence_split.split_sentences(document) + [""]])


# Input formats.


def test_lines_and_jsonl_equal_sentences_format(tmp_path):
  lines = write_lines(tmp_path / "docs.txt", DOCUMENTS)
  jsonl = write_lines(tmp_path / "docs.jsonl", [
      json.dumps({"id": i, "body": d}) for i, d in enumerate(DOCUMENTS)])
  sentences = as_sentences_file(tmp_path / "sentences.txt", DOCUMENTS)
  outputs = {}
  for name, path, options in [
      ("lines", lines, dict(input_format="lines")),
      ("jsonl", jsonl, dict(input_format="jsonl", text_key="body")),
      ("sentences", sentences, {})]:
    outputs[name] = str(tmp_path / (name + ".tfrecord"))
    run([path], [outputs[name]], dupe_factor=2, **options)
  assert sha256(outputs["lines"]) == sha256(outputs["sentences"])
  assert sha256(outputs["jsonl"]) == sha256(outputs["sentences"])
  with open(outputs["jsonl"] + ".json") as f:
    sidecar = json.load(f)
  assert sidecar["input_format"] == "jsonl" and sidecar["text_key"] == "body"
  assert sidecar["documents"] == len(DOCUMENTS)


def test_jsonl_text_with_paragraphs_is_one_document(tmp_path):
  text = "First paragraph. Two sentences.\n\nSecond paragraph"
  jsonl = write_lines(tmp_path / "d.jsonl", [json.dumps({"text": text}),
                                             "", json.dumps({"text": "x y"})])
  tokenizer = tokenization.FullTokenizer(VOCAB)
  corpus = cpd.read_corpus([jsonl], tokenizer, 1, input_format="jsonl")
  assert corpus.num_documents == 2
  assert corpus.document_starts.tolist() == [0, 3, 4]


@pytest.mark.parametrize("line,message", [
    ("{\"text\": \"fine\"", r"bad\.jsonl, line 3 is not valid JSON"),
    ("[\"text\"]", r"bad\.jsonl, line 3 has no 'text' key .*a JSON list"),
    ("{\"body\": \"x\"}", r"bad\.jsonl, line 3 has no 'text' key .*\['body'\]"),
    ("{\"text\": 5}", r"bad\.jsonl, line 3: 'text' is a JSON int, not a "
                      "string")])
def test_bad_jsonl_names_file_and_line(tmp_path, line, message):
  bad = write_lines(tmp_path / "bad.jsonl", ["{\"text\": \"One.\"}", "", line])
  with pytest.raises(ValueError, match=message):
    run([bad], [str(tmp_path / "out.tfrecord")], input_format="jsonl")
  assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]


# Held-out documents.


def documents_of(records):
  """The token-id sequences (A, no [CLS]/[SEP]) of unmasked MLM-only records.
  """
  return {tuple(r["input_ids"][1:sum(r["input_mask"]) - 1]) for r in records}


def test_held_out_documents_are_disjoint_deterministic_and_seeded(tmp_path):
  # One sentence per document, each short enough for one record: the
  # records of a split are then its documents.
  source = write_lines(tmp_path / "docs.txt", [
      "document number %d is about %s." % (i, word)
      for i, word in enumerate(["tea", "cats", "rain", "maps"] * 10)])
  seen = {}
  for seed in (1, 1, 2):
    out = tmp_path / ("train%d" % len(seen))
    evaluation = tmp_path / ("eval%d" % len(seen))
    result = run([source], [str(out)], eval_output_files=[str(evaluation)],
                 eval_documents=7, random_seed=seed, input_format="lines",
                 masking="dynamic", next_sentence_prediction=False)
    train = documents_of(read_records(str(out)))
    held = documents_of(read_records(str(evaluation)))
    assert len(train) == 33 and len(held) == 7 and not train & held
    assert result["held_out_documents"].tolist() == expected_held_out(
        40, seed, 7)
    seen[len(seen)] = (held, sha256(str(out)), sha256(str(evaluation)))
    for path, split, count in ((out, "train", 33), (evaluation, "eval", 7)):
      with open(str(path) + ".json") as f:
        sidecar = json.load(f)
      assert (sidecar["split"], sidecar["documents"],
              sidecar["held_out_documents"]) == (split, count, 7)
  assert seen[0] == seen[1]  # same seed, same files
  assert seen[0][0] != seen[2][0]  # another seed, other documents


@pytest.mark.parametrize("fraction,documents,expected", [
    (0.01, 500, 5), (0.1, 25, 2), (0.001, 100, 1), (None, 1000, 10)])
def test_eval_fraction_rounds_and_holds_out_at_least_one(fraction, documents,
                                                        expected):
  held = cpd.held_out_documents(documents, 7, eval_fraction=fraction)
  assert held.tolist() == expected_held_out(documents, 7, expected)


@settings(max_examples=12, deadline=None)
@given(documents=st.lists(st.lists(st.lists(st.sampled_from(
    ["the", "cat", "sat", "unbelievable", "running", ".", "zebra"]),
                                            min_size=1, max_size=9).map(
                                                " ".join),
                                   min_size=1, max_size=4),
                          min_size=2, max_size=7),
       seed=st.integers(-2**40, 2**40), data=st.data(),
       next_sentence_prediction=st.booleans(),
       masking=st.sampled_from(["static", "dynamic"]),
       do_whole_word_mask=st.booleans(), max_seq_length=st.integers(5, 24))
def test_splits_match_literal_implementation(
    tmp_path_factory, documents, seed, data, next_sentence_prediction,
    masking, do_whole_word_mask, max_seq_length):
  # Each split is the literal algorithm run on its documents alone, with the
  # same seed and flags.
  work = tmp_path_factory.mktemp("split")
  vocab = work / "vocab.txt"
  write_vocab(vocab, False)
  source = write_lines(work / "in.txt", [
      line for document in documents for line in document + [""]])
  count = data.draw(st.integers(1, len(documents) - 1))
  flags_ = dict(random_seed=seed, dupe_factor=2, max_seq_length=max_seq_length,
                max_predictions_per_seq=4, do_whole_word_mask=do_whole_word_mask)
  options = dict(next_sentence_prediction=next_sentence_prediction,
                 masking=masking)
  run([source], [str(work / "train")], str(vocab),
      eval_output_files=[str(work / "eval")], eval_documents=count,
      **flags_, **options)
  held = expected_held_out(len(documents), seed, count)
  kept = [d for d in range(len(documents)) if d not in held]
  for name, indices in (("train", kept), ("eval", held)):
    literal.run([source], [str(work / ("literal_" + name))], str(vocab),
                documents=indices, **flags_, **options)
    assert read_records(str(work / name)) == read_records(
        str(work / ("literal_" + name))), first_difference(
            str(work / ("literal_" + name)), str(work / name), str(vocab))


@pytest.mark.parametrize("kwargs,message", [
    (dict(eval_fraction=0.0), "--eval_fraction=0.0 must be strictly"),
    (dict(eval_fraction=1.0), "--eval_fraction=1.0 must be strictly"),
    (dict(eval_documents=0), "--eval_documents=0 must be >= 1"),
    (dict(eval_documents=3), "--eval_documents=3 must be less than the 3 "
                             "documents"),
    (dict(eval_fraction=0.9), "--eval_fraction=0.9 holds out 3 of the 3"),
    (dict(eval_fraction=0.5, eval_documents=1), "one or the other"),
    (dict(eval_output_files=None, eval_documents=1),
     "--eval_documents=1 needs --eval_output_file"),
    (dict(input_format="csv"), "--input_format='csv' must be"),
    (dict(masking="sometimes"), "--masking='sometimes' must be")])
def test_bad_new_flag_values_are_named(tmp_path, kwargs, message):
  kwargs.setdefault("eval_output_files", [str(tmp_path / "eval.tfrecord")])
  with pytest.raises(ValueError, match=message):
    run([SAMPLE], [str(tmp_path / "out.tfrecord")], **kwargs)
  assert not os.listdir(tmp_path)


def test_eval_output_must_differ_from_output(tmp_path):
  out = str(tmp_path / "out.tfrecord")
  with pytest.raises(ValueError, match="--eval_output_file: .*out.tfrecord "
                                       "is also an --output_file"):
    run([SAMPLE], [out], eval_output_files=[out])


# Masked-LM-only and dynamic records.


@pytest.mark.parametrize("masking", ["static", "dynamic"])
def test_mlm_only_records_pack_one_document(tmp_path, masking):
  text = write_lines(tmp_path / "docs.txt", DOCUMENTS[:6])
  out = str(tmp_path / "mlm.tfrecord")
  run([text], [out], input_format="lines", max_seq_length=16,
      max_predictions_per_seq=3, next_sentence_prediction=False,
      masking=masking, dupe_factor=3, do_whole_word_mask=True)
  vocab = tokenization.load_vocab(VOCAB)
  tokenizer = tokenization.FullTokenizer(VOCAB)
  records = read_records(out)
  expected_names = ["input_ids", "input_mask", "segment_ids"] + (
      list(MASKED) if masking == "static" else [])
  tokens_by_record = []
  for record in records:
    assert sorted(record) == sorted(expected_names)
    length = sum(record["input_mask"])
    ids = record["input_ids"]
    assert record["input_mask"] == [1] * length + [0] * (16 - length)
    assert record["segment_ids"] == [0] * 16
    assert ids[0] == vocab["[CLS]"] and ids[length - 1] == vocab["[SEP]"]
    assert ids[length:] == [0] * (16 - length)
    original = list(ids)
    if masking == "static":
      count = int(sum(record["masked_lm_weights"]))
      positions = record["masked_lm_positions"][:count]
      assert 1 <= count <= 3 and positions == sorted(set(positions))
      assert all(1 <= p <= length - 2 for p in positions)
      for p, label in zip(positions, record["masked_lm_ids"]):
        original[p] = label
    middle = original[1:length - 1]
    assert vocab["[SEP]"] not in middle and vocab["[CLS]"] not in middle
    tokens_by_record.append(tuple(middle))
  # Each document's tokens are the concatenation of some records' A, cut
  # at sentence ends where they fit; every pass (dupe) holds them all.
  copies = 3 if masking == "static" else 1
  documents = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(d))
               for d in DOCUMENTS[:6]]
  assert sum(map(len, tokens_by_record)) == copies * sum(map(len, documents))
  remaining = list(tokens_by_record)
  for document in documents:
    position = 0
    while position < len(document):
      piece = max((r for r in remaining
                   if tuple(document[position:position + len(r)]) == r),
                  key=len)
      remaining.remove(piece)
      position += len(piece)
  if masking == "dynamic":
    assert not remaining


def test_dynamic_records_are_unmasked_and_written_once(tmp_path):
  static, dynamic = str(tmp_path / "s"), str(tmp_path / "d")
  run([SAMPLE], [static], dupe_factor=5)
  run([SAMPLE], [dynamic], dupe_factor=5, masking="dynamic")
  once = str(tmp_path / "once")
  run([SAMPLE], [once], dupe_factor=1, masking="dynamic")
  assert sha256(dynamic) == sha256(once)  # dupe_factor does not apply
  records = read_records(dynamic)
  mask_id = tokenization.load_vocab(VOCAB)["[MASK]"]
  assert records and all(mask_id not in r["input_ids"] for r in records)
  assert all(sorted(r) == ["input_ids", "input_mask",
                           "next_sentence_labels", "segment_ids"]
             for r in records)
  with open(dynamic + ".json") as f:
    sidecar = json.load(f)
  assert (sidecar["masking"], sidecar["dupe_factor"],
          sidecar["num_instances"]) == ("dynamic", 1, len(records))
  # Five passes over the documents make about five times the pairs.
  assert len(read_records(static)) > 3 * len(records)
  assert os.path.getsize(dynamic) < os.path.getsize(static) / 3
  # A and B are runs of the tokenized text, unchanged.
  tokenizer = tokenization.FullTokenizer(VOCAB)
  with open(SAMPLE, encoding="utf-8") as f:
    text = ",%s," % ",".join(str(i) for i in tokenizer.convert_tokens_to_ids(
        tokenizer.tokenize(f.read())))
  sep = tokenization.load_vocab(VOCAB)["[SEP]"]
  for record in records:
    ids = record["input_ids"][1:sum(record["input_mask"]) - 1]
    a, b = ids[:ids.index(sep)], ids[ids.index(sep) + 1:]
    for run_ in (a, b):
      assert ",%s," % ",".join(map(str, run_)) in text


@pytest.mark.parametrize("next_sentence_prediction,masking", [
    (True, "static"), (False, "static"), (True, "dynamic"),
    (False, "dynamic")])
def test_every_layout_is_protobufs_serialization(tmp_path,
                                                 next_sentence_prediction,
                                                 masking):
  # Each record holds exactly its layout's features, in the layout's order,
  # with the bytes of tf_example's protobuf writer for those features.
  out = str(tmp_path / "out.tfrecord")
  run([SAMPLE], [out], dupe_factor=1, max_seq_length=32,
      next_sentence_prediction=next_sentence_prediction, masking=masking)
  names = cpd.record_features(next_sentence_prediction, masking)
  raw_records = list(tf.data.TFRecordDataset(out).as_numpy_iterator())
  assert raw_records
  for raw, record in zip(raw_records, read_records(out)):
    assert raw == tf_example.serialize_example(
        [(name, record[name], name == "masked_lm_weights") for name in names])


def test_main_refuses_dupe_factor_with_dynamic_masking(tmp_path):
  result = harness.run_cli(
      cpd.main, "--masking=dynamic", "--dupe_factor=5", checks=(),
      input_file=SAMPLE, output_file=tmp_path / "out.tfrecord",
      vocab_file=VOCAB)
  assert result.status == 2
  assert result.error == (
      "prog: error: --dupe_factor=5 does nothing with --masking=dynamic: each "
      "sequence is written once and masked anew at training time")
  assert not os.listdir(tmp_path)


def test_main_writes_held_out_file(tmp_path):
  lines = write_lines(tmp_path / "docs.txt", DOCUMENTS)
  out, held = tmp_path / "out.tfrecord", tmp_path / "held.tfrecord"
  argv = ["create_pretraining_data.py", "--input_file=%s" % lines,
          "--output_file=%s" % out, "--vocab_file=%s" % VOCAB,
          "--input_format=lines", "--eval_output_file=%s" % held,
          "--eval_fraction=0.2", "--next_sentence_prediction=False",
          "--masking=dynamic", "--num_workers=1"]
  with flagsaver.flagsaver():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(argv)
    cpd.main(argv)
  with open(str(held) + ".json") as f:
    sidecar = json.load(f)
  assert (sidecar["split"], sidecar["held_out_documents"],
          sidecar["next_sentence_prediction"], sidecar["masking"]) == (
              "eval", 4, False, "dynamic")


def test_new_kernels_run_as_plain_python_without_numba(tmp_path):
  # What users without numba get: the same bytes.
  configs = [dict(next_sentence_prediction=False, dupe_factor=1),
             dict(masking="dynamic")]
  for k, config in enumerate(configs):
    run([SAMPLE], [str(tmp_path / ("jit%d" % k))], **config)
  script = (
      "import sys; sys.path[:0] = %r\n"
      "import create_pretraining_data as cpd\n"
      "for k, config in enumerate(%r):\n"
      "  cpd.run([%r], [%r + str(k)], %r, log_examples=False, "
      "progress=False, num_workers=1, **config)\n" % (
          [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))],
          configs, SAMPLE, str(tmp_path / "python"), VOCAB))
  subprocess.run([sys.executable, "-c", script], check=True,
                 env=dict(os.environ, NUMBA_DISABLE_JIT="1"))
  for k in range(len(configs)):
    assert sha256(str(tmp_path / ("python%d" % k))) == sha256(
        str(tmp_path / ("jit%d" % k)))
