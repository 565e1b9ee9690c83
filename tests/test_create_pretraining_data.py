# coding=utf-8
"""Tests of create_pretraining_data.py.

Reference: TFRecord files written by Google's own script (fixtures copied from
shared/reference/pretraining_data, see tests/fixtures/README.md), compared
byte for byte. Oracle: tests/literal_pretraining_data.py, Google's algorithm
written plainly from BEHAVIOUR.md, on random corpora and flags.
"""

import collections
import filecmp
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

import create_pretraining_data as cpd
from conftest import fixture_path
import harness
import literal_pretraining_data as literal
import pretraining_data_kernels as kernels
import tf_example
import tokenization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = fixture_path("pretraining_data")
VOCAB = fixture_path("vocab_uncased.txt")
CASES = {c["name"]: c for c in json.load(
    open(os.path.join(DATA, "cases.json"), encoding="utf-8"))["cases"]}


def sha256(path):
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def read_records(path):
  """Parses a TFRecord file of tf.train.Example into dicts of lists."""
  records = []
  for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
    example = tf.train.Example.FromString(raw)
    record = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      record[name] = list(getattr(feature, kind).value)
    records.append(record)
  return records


def first_difference(expected_path, actual_path, vocab_file=VOCAB,
                     feature_names=cpd.FEATURE_NAMES):
  """A readable description of the first record that differs, or None.

  Args:
    expected_path: TFRecord file.
    actual_path: TFRecord file.
    vocab_file: a WordPiece vocabulary to show the records' tokens with, or
      None.
    feature_names: the features compared, in the order they are checked.
  """
  expected = read_records(expected_path)
  actual = read_records(actual_path)
  for index, (e, a) in enumerate(zip(expected, actual)):
    for name in feature_names:
      if e.get(name) != a.get(name):
        message = "record %d differs in %s:\n expected %s\n actual   %s" % (
            index, name, e.get(name), a.get(name))
        if vocab_file:
          inv_vocab = {v: k for k, v in
                       tokenization.load_vocab(vocab_file).items()}
          def tokens(record):
            n = sum(record["input_mask"])
            return " ".join(inv_vocab[i] for i in record["input_ids"][:n])
          message += "\n expected tokens: %s\n actual tokens:   %s" % (
              tokens(e), tokens(a))
        return message
  if len(expected) != len(actual):
    return "%d records expected, %d written" % (len(expected), len(actual))
  return None


def run_case(case, out_dir, **overrides):
  """Runs the fast script on a reference case; returns the output paths."""
  outputs = [os.path.join(out_dir, os.path.basename(o["path"]))
             for o in case["output_files"]]
  inputs = [os.path.join(DATA, i["path"]) for i in case["input_files"]]
  kwargs = dict(case["effective_flags"], log_examples=False, progress=False)
  kwargs.update(overrides)
  cpd.run(inputs, outputs, VOCAB, **kwargs)
  return outputs


def assert_reference_bytes(outputs, expected_files, data_dir,
                           describe=first_difference):
  """Fails naming the first differing record unless each output's sha256 is
  its reference file's.

  Args:
    outputs: paths written.
    expected_files: the cases.json entries of the reference files.
    data_dir: the directory of the reference files.
    describe: first_difference(expected path, actual path).
  """
  for path, expected in zip(outputs, expected_files):
    if sha256(path) != expected["sha256"]:
      pytest.fail(describe(os.path.join(data_dir, expected["path"]), path)
                  or "same records, different bytes in %s" % path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_case_is_byte_identical(name, tmp_path):
  case = CASES[name]
  assert_reference_bytes(run_case(case, str(tmp_path)), case["output_files"],
                         DATA)


@pytest.mark.parametrize("name", sorted(CASES))
def test_literal_oracle_matches_reference(name, tmp_path):
  # The oracle serializes with sorted keys, so its bytes are the canonical
  # form of Google's records.
  case = CASES[name]
  outputs = [str(tmp_path / os.path.basename(o["path"]))
             for o in case["output_files"]]
  literal.run([os.path.join(DATA, i["path"]) for i in case["input_files"]],
              outputs, VOCAB, **case["effective_flags"])
  for path, expected in zip(outputs, case["output_files"]):
    assert sha256(path) == expected["canonical_sha256"], path


def test_num_workers_1_and_2_write_identical_files(tmp_path, monkeypatch):
  # Make tokenize_batch use its worker processes even on this small input,
  # and make the instances in many blocks of documents.
  monkeypatch.setattr(tokenization, "_PARALLEL_MIN_CHARS", 0)
  monkeypatch.setattr(cpd, "_DOCUMENT_BLOCK", 7)
  monkeypatch.setattr(cpd, "_WRITE_BATCH", 5)
  case = CASES["d"]
  (tmp_path / "one").mkdir()
  (tmp_path / "two").mkdir()
  one = run_case(case, str(tmp_path / "one"), num_workers=1)
  two = run_case(case, str(tmp_path / "two"), num_workers=2)
  for a, b, expected in zip(one, two, case["output_files"]):
    assert sha256(a) == sha256(b) == expected["sha256"]


def test_main_globs_inputs_and_deals_round_robin(tmp_path):
  out1, out2 = tmp_path / "x.tfrecord", tmp_path / "y.tfrecord"
  argv = ["create_pretraining_data.py",
          "--input_file=%s" % os.path.join(DATA, "part*.txt"),
          "--output_file=%s,%s" % (out1, out2), "--vocab_file=%s" % VOCAB,
          "--dupe_factor=5", "--num_workers=1"]
  with flagsaver.flagsaver():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(argv)
    cpd.main(argv)
  expected = CASES["d"]["output_files"]
  assert sha256(out1) == expected[0]["sha256"]
  assert sha256(out2) == expected[1]["sha256"]


def test_script_runs_after_the_module_cached_its_kernels(tmp_path):
  # numba's disk cache imports the module that defined a kernel by name: run
  # in-process first (the cache is written under the module's name), then as
  # a script, which must not define its flags twice.
  case = CASES["a"]
  run_case(case, str(tmp_path))
  out = tmp_path / "script.tfrecord"
  subprocess.run(
      [sys.executable, os.path.join(ROOT, "create_pretraining_data.py"),
       "--input_file=%s" % os.path.join(DATA, case["input_files"][0]["path"]),
       "--output_file=%s" % out, "--vocab_file=%s" % VOCAB] + [
           "--%s=%s" % kv for kv in case["effective_flags"].items()],
      check=True, capture_output=True)
  assert sha256(str(out)) == case["output_files"][0]["sha256"]


def test_flags_and_defaults_are_googles():
  defaults = {"input_file": None, "output_file": None, "vocab_file": None,
              "do_lower_case": True, "do_whole_word_mask": False,
              "max_seq_length": 128, "max_predictions_per_seq": 20,
              "random_seed": 12345, "dupe_factor": 10,
              "masked_lm_prob": 0.15, "short_seq_prob": 0.1}
  for name, value in defaults.items():
    assert flags.FLAGS[name].default == value, name
  # The new flags keep Google's behaviour by default.
  new = {"input_format": "sentences", "eval_output_file": None,
         "next_sentence_prediction": True, "masking": "static"}
  for name, value in new.items():
    assert flags.FLAGS[name].default == value, name


def test_sidecar_records_the_flags(tmp_path):
  outputs = run_case(CASES["d"], str(tmp_path))
  with open(VOCAB, "rb") as f:
    vocab_digest = hashlib.sha256(f.read()).hexdigest()
  for path, expected in zip(outputs, CASES["d"]["output_files"]):
    with open(path + ".json") as f:
      sidecar = json.load(f)
    assert sidecar == {
        "max_seq_length": 128, "max_predictions_per_seq": 20,
        "vocab_sha256": vocab_digest, "vocab_size": 30522,
        "do_lower_case": True, "do_whole_word_mask": False,
        "random_seed": 12345, "dupe_factor": 5, "masked_lm_prob": 0.15,
        "short_seq_prob": 0.1, "num_instances": expected["num_instances"],
        "input_format": "sentences", "next_sentence_prediction": True,
        "masking": "static", "documents": sidecar["documents"]}
    assert sidecar["documents"] > 1
  assert sorted(os.listdir(tmp_path)) == sorted(
      [os.path.basename(p) for p in outputs] +
      [os.path.basename(p) + ".json" for p in outputs])


def test_a_base_fixture_is_googles_file():
  # run_pretraining's tests use this copy as real-text training records.
  assert sha256(os.path.join(DATA, "a_base.tfrecord")) == (
      CASES["a"]["output_files"][0]["sha256"])


# Bad input.


def test_glob_matching_nothing_is_named(tmp_path):
  pattern = str(tmp_path / "nothing*.txt")
  with pytest.raises(ValueError, match="nothing"):
    cpd.expand_input_files("%s,%s" % (os.path.join(DATA, "part1.txt"),
                                      pattern))


def test_missing_input_file_is_named(tmp_path):
  missing = str(tmp_path / "missing.txt")
  with pytest.raises(ValueError, match="missing.txt"):
    cpd.run([missing], [str(tmp_path / "out.tfrecord")], VOCAB,
            progress=False)


@pytest.mark.parametrize("text", [b"", b"\n\n  \n\xe3\x80\x80\n",
                                  b"\x00\x01\n\xe2\x80\x8b\n"])
def test_input_without_text_is_an_error_and_writes_nothing(tmp_path, text):
  source = tmp_path / "empty.txt"
  source.write_bytes(text)
  with pytest.raises(ValueError, match="no text"):
    cpd.run([str(source)], [str(tmp_path / "out.tfrecord")], VOCAB,
            progress=False)
  assert os.listdir(tmp_path) == ["empty.txt"]


@pytest.mark.parametrize("flag,value", [
    ("max_seq_length", 4), ("masked_lm_prob", 0.0), ("masked_lm_prob", 1.0),
    ("masked_lm_prob", -0.5), ("max_predictions_per_seq", 0),
    ("dupe_factor", 0), ("num_workers", 0)])
def test_bad_flag_values_are_named(tmp_path, flag, value):
  with pytest.raises(ValueError, match="--%s" % flag):
    cpd.run([os.path.join(DATA, "sample_text.txt")],
            [str(tmp_path / "out.tfrecord")], VOCAB, progress=False,
            **{flag: value})
  assert not os.listdir(tmp_path)


def test_missing_output_directory_is_named(tmp_path):
  with pytest.raises(ValueError, match="--output_file: .*nowhere"):
    cpd.run([os.path.join(DATA, "sample_text.txt")],
            [str(tmp_path / "nowhere" / "out.tfrecord")], VOCAB,
            progress=False)


def test_invalid_utf8_names_file_and_line(tmp_path):
  source = tmp_path / "bad.txt"
  source.write_bytes(b"A fine line.\r\nAnother one.\n\nThird \xff line.\n")
  with pytest.raises(ValueError, match=r"bad\.txt, line 4 "):
    cpd.run([str(source)], [str(tmp_path / "out.tfrecord")], VOCAB,
            progress=False)
  assert os.listdir(tmp_path) == ["bad.txt"]


# The random draws.


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**40), operations=st.lists(st.one_of(
    st.tuples(st.just("random"), st.just(0)),
    st.tuples(st.just("randint"), st.integers(1, 2**32 - 1)),
    st.tuples(st.just("randint"), st.integers(1, 40)),
    st.tuples(st.just("shuffle"), st.integers(0, 300))), max_size=30))
def test_kernel_draws_are_pythons(seed, operations):
  expected_rng = random.Random(seed)
  rng = random.Random(seed)
  for half in (operations[::2], operations[1::2]):  # sync, then go on
    generator = kernels.MersenneTwister(rng)
    mt, pos = generator.mt, generator.pos
    for operation, argument in half:
      if operation == "random":
        assert kernels.draw_random(mt, pos) == expected_rng.random()
      elif operation == "randint":
        assert 3 + kernels.randbelow(mt, pos, argument) == expected_rng.randint(
            3, 3 + argument - 1)
      else:
        x = np.arange(argument + 2)
        y = list(range(argument))
        kernels.shuffle(mt, pos, x, argument)
        expected_rng.shuffle(y)
        assert x.tolist() == y + [argument, argument + 1]
    generator.sync(rng)
    assert rng.getstate() == expected_rng.getstate()


def test_kernel_long_shuffle_is_pythons():
  # Many twists of the state, and bounds of every bit length up to 17.
  x = np.arange(70000)
  y = list(range(70000))
  generator = kernels.MersenneTwister(random.Random(5))
  kernels.shuffle(generator.mt, generator.pos, x, len(x))
  random.Random(5).shuffle(y)
  assert x.tolist() == y


def test_crc32c_and_framing_read_back(tmp_path):
  def masked(raw):  # TFRecord's masking of a CRC
    return ((((raw >> 15) | (raw << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % 2**32
  # Known CRC-32C values: "123456789" and the test vectors of RFC 3720,
  # B.4 (32 bytes: zeros, 0xFF, 0..31), which take the 8-byte steps.
  tables = kernels.crc32c_tables()
  for data, raw in [(b"123456789", 0xE3069283), (bytes(32), 0x8A9136AA),
                    (b"\xff" * 32, 0x62A8AB43),
                    (bytes(range(32)), 0x46DD794E)]:
    padded = np.frombuffer(b"xyz" + data + b"w", dtype=np.uint8)
    assert kernels.masked_crc(tables, padded, 3, 3 + len(data)) == masked(raw)
  # Records framed by the encoder read back through TensorFlow's reader.
  vocabulary = cpd.Vocabulary(tokenization.load_vocab(VOCAB), VOCAB)
  encoder = cpd.RecordEncoder(None, vocabulary, 8, 3)
  features = collections.OrderedDict([
      ("input_ids", np.array([[101, 7592, 102, 2088, 30000, 102, 0, 0]])),
      ("input_mask", np.array([[1, 1, 1, 1, 1, 1, 0, 0]])),
      ("segment_ids", np.array([[0, 0, 0, 1, 1, 1, 0, 0]])),
      ("masked_lm_positions", np.array([[1, 4, 0]])),
      ("masked_lm_ids", np.array([[7592, 2000, 0]])),
      ("masked_lm_weights", np.array([[1.0, 1.0, 0.0]], np.float32)),
      ("next_sentence_labels", np.array([[1]]))])
  path = tmp_path / "x.tfrecord"
  path.write_bytes(encoder.records(features) * 2)
  records = read_records(str(path))
  assert len(records) == 2
  for name, values in features.items():
    assert records[0][name] == values[0].tolist(), name


@pytest.mark.parametrize("float_slot", [-1, 0, 2, 4])
def test_serialize_examples_matches_protobuf_bytes(tmp_path, float_slot):
  # Any feature order, the float feature anywhere or nowhere (-1): each
  # framed record reads back through TensorFlow as
  # tf_example.serialize_example's bytes.
  rng = np.random.RandomState(float_slot + 1)
  names = ["f%d" % i for i in range(5)]
  widths = [7, 3, 1, 5, 2]
  values = [rng.randint(0, 2**34, size=(3, w)) for w in widths]
  float_bytes = np.zeros((3, 0), np.uint8)
  if float_slot >= 0:
    values[float_slot] = rng.rand(3, widths[float_slot]).astype(np.float32)
    float_bytes = values[float_slot].view(np.uint8)
  headers, index = tf_example.feature_header_table(
      names, names[float_slot:float_slot + 1] if float_slot >= 0 else (),
      5 * max(widths))
  ints = tuple(np.ascontiguousarray(v, dtype=np.int64)
               for k, v in enumerate(values) if k != float_slot)
  out = np.empty(10000, np.uint8)
  size = kernels.serialize_examples(
      ints, float_slot, float_bytes, np.frombuffer(headers, np.uint8),
      np.array(index, np.int64), kernels.crc32c_tables(), out)
  path = tmp_path / "x.tfrecord"
  path.write_bytes(out[:size].tobytes())
  raw = list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
  assert len(raw) == 3
  for row, record in enumerate(raw):
    assert record == tf_example.serialize_example(
        [(name, v[row].tolist(), k == float_slot)
         for k, (name, v) in enumerate(zip(names, values))])


def test_kernels_run_as_plain_python_without_numba(tmp_path):
  # NUMBA_DISABLE_JIT runs the kernels as the Python they are written in,
  # which is what users without numba get: the same bytes.
  case = CASES["a"]
  script = (
      "import sys; sys.path[:0] = %r\n"
      "import create_pretraining_data as cpd, json\n"
      "cpd.run(%r, %r, %r, log_examples=False, progress=False, **%r)\n" % (
          [ROOT], [os.path.join(DATA, i["path"]) for i in case["input_files"]],
          [str(tmp_path / "out.tfrecord")], VOCAB,
          dict(case["effective_flags"])))
  subprocess.run([sys.executable, "-c", script], check=True,
                 env=dict(os.environ, NUMBA_DISABLE_JIT="1"))
  assert sha256(str(tmp_path / "out.tfrecord")) == (
      case["output_files"][0]["sha256"])


# Random corpora and flags against the literal implementation.

_WORDS = ["the", "cat", "sat", "on", "mat", "un", "##believ", "##able", "dog",
          "run", "##ning", "fast", ".", ",", "a", "big", "##ger", "house"]
_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_vocab(path, duplicates):
  """A small vocabulary, optionally listing some tokens twice."""
  lines = _SPECIALS + _WORDS + ["[unused0]"]
  if duplicates:
    # Google keeps the later line's id and lists each token once in
    # vocab_words, so random replacements map through both.
    lines = lines[:8] + ["cat", "[MASK]"] + lines[8:] + ["the"]
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_TEXT_WORDS = ["the", "cat", "sat", "on", "mat", "unbelievable", "dog",
               "running", "fast", ".", ",", "a", "bigger", "house", "zebra"]
sentence = st.lists(st.sampled_from(_TEXT_WORDS), min_size=1, max_size=14)
document = st.lists(sentence.map(" ".join), min_size=1, max_size=6)


@settings(max_examples=20, deadline=None)
@given(documents=st.lists(document, min_size=1, max_size=6),
       max_seq_length=st.integers(5, 40),
       max_predictions_per_seq=st.integers(1, 8),
       masked_lm_prob=st.floats(0.01, 0.99),
       short_seq_prob=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
       dupe_factor=st.integers(1, 3),
       random_seed=st.integers(0, 2**31),
       do_whole_word_mask=st.booleans(),
       do_lower_case=st.booleans(),
       duplicates=st.booleans(),
       num_outputs=st.integers(1, 3))
def test_random_corpora_match_literal_implementation(
    tmp_path_factory, documents, max_seq_length, max_predictions_per_seq,
    masked_lm_prob, short_seq_prob, dupe_factor, random_seed,
    do_whole_word_mask, do_lower_case, duplicates, num_outputs):
  work = tmp_path_factory.mktemp("random")
  vocab = work / "vocab.txt"
  write_vocab(vocab, duplicates)
  text = "\n\n".join("\n".join(d) for d in documents) + "\n"
  source = work / "input.txt"
  source.write_text(text, encoding="utf-8")
  settings_ = dict(do_lower_case=do_lower_case,
                   do_whole_word_mask=do_whole_word_mask,
                   max_seq_length=max_seq_length,
                   max_predictions_per_seq=max_predictions_per_seq,
                   random_seed=random_seed, dupe_factor=dupe_factor,
                   masked_lm_prob=masked_lm_prob,
                   short_seq_prob=short_seq_prob)
  fast = [str(work / ("fast%d" % i)) for i in range(num_outputs)]
  slow = [str(work / ("slow%d" % i)) for i in range(num_outputs)]
  cpd.run([str(source)], fast, str(vocab), num_workers=1, log_examples=False,
          progress=False, **settings_)
  literal.run([str(source)], slow, str(vocab), **settings_)
  for f, s in zip(fast, slow):
    assert read_records(f) == read_records(s), first_difference(
        s, f, str(vocab))
  shutil.rmtree(work)


# Google's importable functions.


def instance_fields(instance):
  if isinstance(instance, dict):
    return (instance["tokens"], instance["segment_ids"],
            instance["is_random_next"], instance["masked_lm_positions"],
            instance["masked_lm_labels"])
  return (instance.tokens, instance.segment_ids, instance.is_random_next,
          instance.masked_lm_positions, instance.masked_lm_labels)


@pytest.mark.parametrize("name", ["a", "g"])
def test_create_training_instances_is_googles(name):
  case = CASES[name]
  f = case["effective_flags"]
  tokenizer = tokenization.FullTokenizer(VOCAB, f["do_lower_case"])
  inputs = [os.path.join(DATA, i["path"]) for i in case["input_files"]]
  rng = random.Random(f["random_seed"])
  expected_rng = random.Random(f["random_seed"])
  ours = cpd.create_training_instances(
      inputs, tokenizer, f["max_seq_length"], f["dupe_factor"],
      f["short_seq_prob"], f["masked_lm_prob"], f["max_predictions_per_seq"],
      rng, do_whole_word_mask=f["do_whole_word_mask"])
  theirs = literal.create_instances(
      inputs, tokenizer, f["max_seq_length"], f["dupe_factor"],
      f["short_seq_prob"], f["masked_lm_prob"], f["max_predictions_per_seq"],
      f["do_whole_word_mask"], expected_rng)
  assert [instance_fields(i) for i in ours] == [
      instance_fields(i) for i in theirs]
  assert rng.getstate() == expected_rng.getstate()
  assert "tokens: [CLS]" in str(ours[0])


def test_write_instance_to_example_files_writes_googles_bytes(tmp_path):
  case = CASES["d"]
  f = case["effective_flags"]
  tokenizer = tokenization.FullTokenizer(VOCAB, True)
  theirs = literal.create_instances(
      [os.path.join(DATA, i["path"]) for i in case["input_files"]],
      tokenizer, f["max_seq_length"], f["dupe_factor"], f["short_seq_prob"],
      f["masked_lm_prob"], f["max_predictions_per_seq"], False,
      random.Random(f["random_seed"]))
  instances = [cpd.TrainingInstance(*instance_fields(i)[:2], *instance_fields(
      i)[3:], is_random_next=i["is_random_next"]) for i in theirs]
  outputs = [str(tmp_path / "1.tfrecord"), str(tmp_path / "2.tfrecord")]
  cpd.write_instance_to_example_files(instances, tokenizer, 128, 20, outputs)
  for path, expected in zip(outputs, case["output_files"]):
    assert sha256(path) == expected["sha256"]


@settings(max_examples=40, deadline=None)
@given(document_lists=st.lists(st.lists(st.lists(st.sampled_from(
    _WORDS), min_size=1, max_size=12), min_size=1, max_size=5), min_size=1,
                                max_size=4),
       data=st.data(), seed=st.integers(0, 2**31),
       max_seq_length=st.integers(5, 30), masked_lm_prob=st.floats(0.05, 0.9),
       short_seq_prob=st.sampled_from([0.0, 0.3, 1.0]),
       do_whole_word_mask=st.booleans())
def test_document_masking_and_truncation_functions_are_googles(
    document_lists, data, seed, max_seq_length, masked_lm_prob,
    short_seq_prob, do_whole_word_mask):
  vocab_words = _SPECIALS + _WORDS[:-3] + ["cat", "[unused1]"]
  index = data.draw(st.integers(0, len(document_lists) - 1))
  rng, expected_rng = random.Random(seed), random.Random(seed)
  ours = cpd.create_instances_from_document(
      document_lists, index, max_seq_length, short_seq_prob, masked_lm_prob,
      6, vocab_words, rng, do_whole_word_mask=do_whole_word_mask)
  theirs = literal.instances_from_document(
      document_lists, index, max_seq_length, short_seq_prob, masked_lm_prob,
      6, vocab_words, do_whole_word_mask, expected_rng)
  assert [instance_fields(i) for i in ours] == [
      instance_fields(i) for i in theirs]
  assert rng.getstate() == expected_rng.getstate()
  # Masking and truncation on their own.
  tokens = ["[CLS]"] + document_lists[0][0] + ["[SEP]"] + (
      document_lists[-1][-1]) + ["[SEP]"]
  assert cpd.create_masked_lm_predictions(
      tokens, masked_lm_prob, 5, vocab_words, rng,
      do_whole_word_mask) == literal.mask_tokens(
          tokens, masked_lm_prob, 5, vocab_words, do_whole_word_mask,
          expected_rng)
  a, b = list(document_lists[0][0]), list(document_lists[-1][-1])
  expected_a, expected_b = list(a), list(b)
  cpd.truncate_seq_pair(a, b, 4, rng)
  literal.truncate_seq_pair(expected_a, expected_b, 4, expected_rng)
  assert (a, b) == (expected_a, expected_b)
  assert rng.getstate() == expected_rng.getstate()


def test_masked_lm_predictions_needs_googles_layout():
  with pytest.raises(ValueError, match=r"\[CLS\] A \[SEP\] B \[SEP\]"):
    cpd.create_masked_lm_predictions(["[CLS]", "[SEP]", "a", "[SEP]"], 0.15,
                                     20, ["a"], random.Random(1))


def test_progress_goes_to_stderr(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(cpd._Progress, "every_seconds", 0.0)  # pylint: disable=protected-access
  run_case(CASES["a"], str(tmp_path), progress=True)
  err = capsys.readouterr().err
  assert "documents" in err and "ETA" in err
  assert "wrote 60 of 60 instances" in err


def test_first_20_instances_are_logged_as_googles(tmp_path, caplog):
  caplog.set_level("INFO", logger="absl")
  run_case(CASES["a"], str(tmp_path), log_examples=True)
  messages = [r.getMessage() for r in caplog.records]
  assert messages.count("*** Example ***") == 20
  inv_vocab = {v: k for k, v in tokenization.load_vocab(VOCAB).items()}
  first = read_records(os.path.join(DATA, "a_base.tfrecord"))[0]
  length = sum(first["input_mask"])
  start = messages.index("*** Example ***")
  assert messages[start + 1] == "tokens: " + " ".join(
      inv_vocab[i] for i in first["input_ids"][:length])
  assert messages[start + 2] == "input_ids: " + " ".join(
      str(i) for i in first["input_ids"])
  assert messages[start + 7] == "masked_lm_weights: " + " ".join(
      str(w) for w in first["masked_lm_weights"])
  assert "Wrote 60 total instances" in messages


def test_main_reports_bad_input_as_a_message(tmp_path):
  """A user error is one line naming the flag, exit status 2, no output."""
  result = harness.run_cli(
      cpd.main, checks=(), input_file=tmp_path / "none*.txt",
      output_file=tmp_path / "out.tfrecord", vocab_file=VOCAB)
  assert result.status == 2
  assert result.error == "prog: error: --input_file=%s: matches no file" % (
      tmp_path / "none*.txt")
  assert not os.listdir(tmp_path)


@pytest.mark.parametrize("spec,why", [
    ("{x},{x}", "{x} is named twice"),
    ("{x},", "name 2 of 2 is empty (a stray comma?)"),
    ("{d}", "is a directory; name a file (e.g. {d}/output)"),
])
def test_output_lists_are_refused_before_any_work(tmp_path, spec, why):
  """`X,X` over a good X used to leave an interleaved file, `A,` half the
  instances in A, a directory a traceback after all the work."""
  x = str(tmp_path / "x.tfrecord")
  shutil.copyfile(fixture_path("pretraining_data", "a_base.tfrecord"), x)
  (tmp_path / "d").mkdir()
  spec = spec.format(x=x, d=tmp_path / "d")
  result = harness.run_cli(cpd.main, checks=(), input_file=os.path.join(DATA, "sample_text.txt"),
                           output_file=spec, vocab_file=VOCAB)
  assert result.status == 2
  assert result.error == "prog: error: --output_file=%s: %s" % (
      spec, why.format(x=x, d=tmp_path / "d"))
  assert sorted(os.listdir(str(tmp_path))) == ["d", "x.tfrecord"]
  assert filecmp.cmp(x, fixture_path("pretraining_data", "a_base.tfrecord"),
                     shallow=False)
  result = harness.run_cli(cpd.main, checks=(), input_file=os.path.join(DATA, "sample_text.txt"),
                           output_file="", vocab_file=VOCAB)
  assert result.error == ("prog: error: --output_file is not set (a path is "
                          "needed)")


@pytest.mark.parametrize("num_workers", [1, 2])
def test_failure_while_encoding_leaves_no_file(tmp_path, monkeypatch,
                                               num_workers):
  def broken(self, features):
    raise ValueError("broken encoder")
  monkeypatch.setattr(cpd.RecordEncoder, "records", broken)
  with pytest.raises((ValueError, RuntimeError), match="broken encoder"):
    run_case(CASES["a"], str(tmp_path), num_workers=num_workers)
  assert not os.listdir(tmp_path)
