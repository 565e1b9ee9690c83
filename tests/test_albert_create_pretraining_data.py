# coding=utf-8
"""Tests of albert/create_pretraining_data.py.

Reference: TFRecord files written by ALBERT's own script with numpy's global
generator seeded (tests/fixtures/albert/pretraining_data, see
tests/fixtures/README.md), compared byte for byte. Oracle:
tests/literal_albert_pretraining_data.py, ALBERT's algorithm written plainly,
on random corpora and flags.
"""

import json
import os
import random
import shutil
import subprocess
import sys

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from albert import create_pretraining_data as acpd
from albert import pretraining_data_kernels as albert_kernels
from conftest import ROOT, fixture_path
import create_pretraining_data as cpd
import literal_albert_pretraining_data as literal
import test_create_pretraining_data
from test_create_pretraining_data import read_records
from test_create_pretraining_data import sha256
import tokenization

DATA = fixture_path("albert", "pretraining_data")
INPUTS = fixture_path("pretraining_data")
SPM_MODEL = fixture_path("albert", "spm_tiny.model")
SPM_VOCAB = fixture_path("albert", "spm_tiny.vocab")
WORDPIECE_VOCAB = fixture_path("vocab_uncased.txt")
CASES = {c["name"]: c for c in json.load(
    open(os.path.join(DATA, "cases.json"), encoding="utf-8"))["cases"]}


def case_files(case):
  """(inputs, vocab_file, spm_model_file) of a reference case."""
  inputs = [os.path.join(INPUTS, i["path"]) for i in case["input_files"]]
  if "spm_model_file" in case["command"]:
    return inputs, SPM_VOCAB, SPM_MODEL
  return inputs, WORDPIECE_VOCAB, None


def run_case(case, out_dir, **overrides):
  """Runs albert/create_pretraining_data.run on a case; returns outputs."""
  outputs = [os.path.join(out_dir, os.path.basename(o["path"]))
             for o in case["output_files"]]
  inputs, vocab, spm_model = case_files(case)
  kwargs = dict(case["effective_flags"], log_examples=False, progress=False)
  kwargs.update(overrides)
  acpd.run(inputs, outputs, vocab, spm_model_file=spm_model, **kwargs)
  return outputs


def first_difference(expected_path, actual_path):
  """The first differing record and feature (ALBERT's), or None."""
  return test_create_pretraining_data.first_difference(
      expected_path, actual_path, None, acpd.FEATURE_NAMES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_case_is_byte_identical(name, tmp_path):
  case = CASES[name]
  outputs = run_case(case, str(tmp_path))
  for path, expected in zip(outputs, case["output_files"]):
    assert expected["num_instances"] == len(read_records(path))
  test_create_pretraining_data.assert_reference_bytes(
      outputs, case["output_files"], DATA, first_difference)


@pytest.mark.parametrize("name", sorted(CASES))
def test_literal_oracle_matches_reference(name, tmp_path):
  case = CASES[name]
  outputs = [str(tmp_path / os.path.basename(o["path"]))
             for o in case["output_files"]]
  inputs, vocab, spm_model = case_files(case)
  literal.run(inputs, outputs, vocab, spm_model, **case["effective_flags"])
  for path, expected in zip(outputs, case["output_files"]):
    assert sha256(path) == expected["sha256"], path


def test_records_have_albert_features_in_order(tmp_path):
  path = run_case(CASES["d_spm_perm_multi"], str(tmp_path))[0]
  raw = next(tf.data.TFRecordDataset(path).as_numpy_iterator())
  names = [name.encode() for name in acpd.FEATURE_NAMES]
  offsets = [raw.index(name) for name in names]
  assert offsets == sorted(offsets)
  record = read_records(path)[0]
  assert len(record["masked_lm_positions"]) == 20  # doubled by permutation
  assert len(record["token_boundary"]) == 64


def test_num_workers_1_and_2_write_identical_files(tmp_path, monkeypatch):
  monkeypatch.setattr(cpd, "_DOCUMENT_BLOCK", 3)
  monkeypatch.setattr(cpd, "_WRITE_BATCH", 5)
  for name in ("d_spm_perm_multi", "c_wordpiece_nsp"):
    monkeypatch.setattr(tokenization, "_PARALLEL_MIN_CHARS", 0)
    case = CASES[name]
    for workers in (1, 2):
      out = tmp_path / ("%s%d" % (name, workers))
      out.mkdir()
      for path, expected in zip(run_case(case, str(out), num_workers=workers),
                                case["output_files"]):
        assert sha256(path) == expected["sha256"]


def test_script_runs_as_albert_command_line(tmp_path):
  case = CASES["a_spm_sop"]
  work = tmp_path / "work"
  work.mkdir()
  for name in ("sample_text.txt",):
    shutil.copy(os.path.join(INPUTS, name), work)
  shutil.copy(SPM_MODEL, work)
  shutil.copy(SPM_VOCAB, work)
  argv = case["command"].split()[3:]  # after "python -m module"
  result = subprocess.run(
      [sys.executable, "-m", "albert.create_pretraining_data"] + argv,
      cwd=str(work), capture_output=True, text=True,
      env=dict(os.environ, PYTHONPATH=ROOT))
  assert result.returncode == 0, result.stderr[-2000:]
  assert sha256(str(work / "a_spm_sop.tfrecord")) == (
      case["output_files"][0]["sha256"])
  assert "*** Example ***" in result.stderr
  with open(str(work / "a_spm_sop.tfrecord.json")) as f:
    sidecar = json.load(f)
  assert sidecar["num_instances"] == 44 and sidecar["ngram"] == 3
  assert sidecar["spm_model_sha256"] == sha256(SPM_MODEL)


def test_flags_and_defaults_are_alberts():
  script = ("import sys; sys.path.insert(0, %r)\n"
            "from albert import create_pretraining_data as m\n"
            "import json\n"
            "m.define_flags()\n"
            "print(json.dumps({n: m.FLAGS[n].default for n in m._FLAG_NAMES}))"
            % ROOT)
  result = subprocess.run([sys.executable, "-c", script], check=True,
                          capture_output=True, text=True)
  defaults = json.loads(result.stdout.strip().splitlines()[-1])
  assert defaults == {
      "input_file": None, "output_file": None, "vocab_file": None,
      "spm_model_file": None, "input_file_mode": "r", "do_lower_case": True,
      "do_whole_word_mask": True, "do_permutation": False,
      "favor_shorter_ngram": True, "random_next_sentence": False,
      "max_seq_length": 512, "ngram": 3, "max_predictions_per_seq": 20,
      "random_seed": 12345, "dupe_factor": 40, "masked_lm_prob": 0.15,
      "short_seq_prob": 0.1, "num_workers": None}


def test_kernels_run_as_plain_python_without_numba(tmp_path):
  case = CASES["d_spm_perm_multi"]
  script = (
      "import sys; sys.path[:0] = [%r, %r]\n"
      "import test_albert_create_pretraining_data as t\n"
      "t.run_case(t.CASES['d_spm_perm_multi'], %r)\n" % (
          ROOT, os.path.join(ROOT, "tests"), str(tmp_path)))
  subprocess.run([sys.executable, "-c", script], check=True,
                 env=dict(os.environ, NUMBA_DISABLE_JIT="1"))
  for o in case["output_files"]:
    assert sha256(str(tmp_path / o["path"])) == o["sha256"]


# The draws of numpy's legacy generator.


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ngram=st.integers(1, 6),
       favor_shorter=st.booleans(), draws=st.integers(1, 700))
def test_choose_ngram_is_numpys_choice(seed, ngram, favor_shorter, draws):
  pvals = 1. / np.arange(1, ngram + 1)
  pvals /= pvals.sum(keepdims=True)
  if not favor_shorter:
    pvals = pvals[::-1]
  expected_state = np.random.RandomState(seed)
  expected = [expected_state.choice(np.arange(1, ngram + 1), p=pvals /
                                    pvals.sum(keepdims=True))
              for _ in range(draws)]
  generator = albert_kernels.NumpyMersenneTwister.from_seed(seed)
  cdf = albert_kernels.ngram_cdf(ngram, favor_shorter)
  assert [albert_kernels.choose_ngram(generator.mt, generator.pos, cdf)
          for _ in range(draws)] == expected
  state = expected_state.get_state()
  assert generator.mt.tolist() == state[1].tolist()
  assert generator.pos[0] == state[2]


def test_numpy_generator_syncs_with_the_global_one():
  np.random.seed(5)
  np.random.random_sample(3)
  expected = np.random.random_sample()
  np.random.seed(5)
  generator = albert_kernels.NumpyMersenneTwister.from_global()
  for _ in range(3):
    albert_kernels.choose_ngram(generator.mt, generator.pos,
                                np.array([0.5, 1.0]))
  generator.sync_global()
  assert np.random.random_sample() == expected


# Random corpora and flags against the literal implementation.

_SPM_WORDS = ["the", "The", "cat", "sat", "on", "mat", "1,000", "f(1,", "2)",
              "a&&b", "&", "café", "naïve", "x²,", "٣,", "dog.", "–", "€5",
              "running", "\u0301", "İstanbul", "日本", "(x)", "\"q\""]
_WP_WORDS = ["the", "cat", "sat", "on", "mat", "unbelievable", "dog",
             "running", "fast", ".", ",", "a", "bigger", "house", "zebra"]
_WP_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat",
             "sat", "on", "mat", "un", "##believ", "##able", "dog", "run",
             "##ning", "fast", ".", ",", "a", "big", "##ger", "house", "the",
             "cat\t-2.5", "", "[unused0]"]


def _corpus_text(documents):
  return "\n\n".join("\n".join(d) for d in documents) + "\n"


flag_sets = st.fixed_dictionaries(dict(
    input_file_mode=st.sampled_from(["r", "rb"]),
    do_lower_case=st.booleans(), do_whole_word_mask=st.booleans(),
    do_permutation=st.booleans(), favor_shorter_ngram=st.booleans(),
    random_next_sentence=st.booleans(), max_seq_length=st.integers(5, 40),
    ngram=st.integers(1, 4), max_predictions_per_seq=st.integers(1, 8),
    random_seed=st.integers(0, 2**32 - 1), dupe_factor=st.integers(1, 3),
    masked_lm_prob=st.sampled_from([0.0, 0.1, 0.15, 0.5, 0.9, 1.0]),
    short_seq_prob=st.sampled_from([0.0, 0.1, 0.5, 1.0])))


@settings(max_examples=25, deadline=None)
@given(spm_model=st.booleans(), words=st.data(), flag_values=flag_sets,
       num_outputs=st.integers(1, 3))
def test_random_corpora_match_literal_implementation(
    tmp_path_factory, spm_model, words, flag_values, num_outputs):
  work = tmp_path_factory.mktemp("random")
  sentence = st.lists(st.sampled_from(_SPM_WORDS if spm_model else _WP_WORDS),
                      min_size=1, max_size=12).map(" ".join)
  documents = words.draw(st.lists(st.lists(sentence, min_size=1, max_size=6),
                                  min_size=1, max_size=6))
  source = work / "input.txt"
  source.write_text(_corpus_text(documents), encoding="utf-8")
  vocab = work / "vocab.txt"
  vocab.write_text("\n".join(_WP_VOCAB) + "\n", encoding="utf-8")
  spm = SPM_MODEL if spm_model else None
  fast = [str(work / ("fast%d" % i)) for i in range(num_outputs)]
  slow = [str(work / ("slow%d" % i)) for i in range(num_outputs)]
  acpd.run([str(source)], fast, str(vocab), spm_model_file=spm,
           num_workers=1, log_examples=False, progress=False, **flag_values)
  literal.run([str(source)], slow, str(vocab), spm, **flag_values)
  for f, s in zip(fast, slow):
    assert sha256(f) == sha256(s), first_difference(s, f)
  shutil.rmtree(work)


def test_unknown_piece_that_does_not_start_a_word(tmp_path):
  # "&&" is one unknown piece (<unk>'s id, whose own piece starts a word)
  # that by ALBERT's rule does not start a word: its text decides.
  source = tmp_path / "in.txt"
  source.write_text("a&&b c&&d\nx y z\n\nsecond doc here\n", encoding="utf-8")
  out = str(tmp_path / "out.tfrecord")
  acpd.run([str(source)], [out], SPM_VOCAB, spm_model_file=SPM_MODEL,
           max_seq_length=32, masked_lm_prob=0.0, dupe_factor=1,
           log_examples=False, progress=False)
  records = read_records(out)
  tokenizer = acpd.tokenization.FullTokenizer(None, True, SPM_MODEL)
  ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("a&&b"))
  unk = tokenizer.vocab["<unk>"]
  seen = 0
  for record in records:
    for token, boundary in zip(record["input_ids"], record["token_boundary"]):
      if token == unk:
        assert boundary == 0
        seen += 1
  assert unk in ids and seen


# Bad input.


@pytest.mark.parametrize("flag,value", [
    ("max_seq_length", 4), ("masked_lm_prob", -0.1), ("masked_lm_prob", 1.5),
    ("short_seq_prob", 2.0), ("max_predictions_per_seq", 0),
    ("dupe_factor", 0), ("ngram", 0), ("random_seed", -1),
    ("random_seed", 2**32), ("input_file_mode", "w"), ("num_workers", 0)])
def test_bad_flag_values_are_named(tmp_path, flag, value):
  with pytest.raises(ValueError, match="--%s" % flag):
    acpd.run([os.path.join(INPUTS, "sample_text.txt")],
             [str(tmp_path / "out.tfrecord")], SPM_VOCAB,
             spm_model_file=SPM_MODEL, progress=False, **{flag: value})
  assert not os.listdir(tmp_path)


def test_spm_model_without_special_pieces_is_named(tmp_path):
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  text = tmp_path / "text.txt"
  text.write_text("\n".join(["the cat sat on the mat %d" % i
                             for i in range(200)]), encoding="utf-8")
  spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(
      tmp_path / "plain"), vocab_size=30, minloglevel=2)
  with pytest.raises(ValueError, match=r"plain.model has no \[CLS\]"):
    acpd.run([str(text)], [str(tmp_path / "out.tfrecord")], None,
             spm_model_file=str(tmp_path / "plain.model"), progress=False)
  assert not os.path.exists(tmp_path / "out.tfrecord")


def test_invalid_utf8_is_named_in_r_mode_and_dropped_in_rb_mode(tmp_path):
  source = tmp_path / "bad.txt"
  source.write_bytes(b"A fine line.\nAnother one.\n\nThird \xff line.\n")
  out = str(tmp_path / "out.tfrecord")
  with pytest.raises(ValueError, match=r"bad\.txt, line 4 "):
    acpd.run([str(source)], [out], SPM_VOCAB, spm_model_file=SPM_MODEL,
             progress=False)
  acpd.run([str(source)], [out], SPM_VOCAB, spm_model_file=SPM_MODEL,
           input_file_mode="rb", dupe_factor=1, max_seq_length=32,
           progress=False, log_examples=False)
  assert read_records(out)


def test_main_reports_bad_input_as_a_message(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "albert.create_pretraining_data",
       "--input_file=%s" % (tmp_path / "none*.txt"),
       "--output_file=%s" % (tmp_path / "out.tfrecord"),
       "--vocab_file=%s" % SPM_VOCAB, "--spm_model_file=%s" % SPM_MODEL],
      cwd=ROOT, capture_output=True, text=True)
  assert result.returncode == 2
  assert result.stderr.endswith(
      "create_pretraining_data.py: error: --input_file=%s: matches no "
      "file\n" % (tmp_path / "none*.txt"))
  assert not os.listdir(str(tmp_path))


def test_progress_goes_to_stderr(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(cpd._Progress, "every_seconds", 0.0)  # pylint: disable=protected-access
  run_case(CASES["a_spm_sop"], str(tmp_path), progress=True)
  err = capsys.readouterr().err
  assert "documents" in err and "wrote 44 of 44 instances" in err


def test_run_leaves_the_callers_generators_alone(tmp_path):
  # The draws come from generators of their own, seeded as ALBERT's would
  # be: the caller's random and numpy global states do not change.
  random.seed(1)
  np.random.seed(1)
  state, np_state = random.getstate(), np.random.get_state()
  run_case(CASES["a_spm_sop"], str(tmp_path))
  assert random.getstate() == state
  assert np.random.get_state()[1].tolist() == np_state[1].tolist()
  assert np.random.get_state()[2] == np_state[2]


# ALBERT's importable function.


@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.sampled_from(
    ["▁the", "cat", "▁", "s", "&&", ",", "1", "▁(", "é", "the", "##s", "un",
     "##able", "[MASK]"]), min_size=1, max_size=25),
       split=st.integers(1, 24), seed=st.integers(0, 2**32 - 1),
       masked_lm_prob=st.sampled_from([0.0, 0.15, 0.5, 1.0]),
       max_predictions=st.integers(1, 8), whole_words=st.booleans(),
       ngram=st.integers(1, 4), favor_shorter=st.booleans(),
       permute=st.booleans(), use_spm=st.booleans())
def test_create_masked_lm_predictions_is_alberts(
    words, split, seed, masked_lm_prob, max_predictions, whole_words, ngram,
    favor_shorter, permute, use_spm):
  split = min(split, len(words))
  tokens = ["[CLS]"] + words[:split] + ["[SEP]"] + words[split:] + ["[SEP]"]
  vocab_words = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "cat", "▁the", "cat"]
  f = dict(do_whole_word_mask=whole_words, masked_lm_prob=masked_lm_prob,
           max_predictions_per_seq=max_predictions, ngram=ngram,
           favor_shorter_ngram=favor_shorter, do_permutation=permute)
  rng, expected_rng = random.Random(seed), random.Random(seed)
  np.random.seed(seed)
  expected = literal.masked_lm_predictions(tokens, vocab_words, expected_rng,
                                           f, use_spm)
  expected_np = np.random.get_state()
  np.random.seed(seed)
  ours = acpd.create_masked_lm_predictions(
      tokens, masked_lm_prob, max_predictions, vocab_words, rng,
      do_whole_word_mask=whole_words, ngram=ngram,
      favor_shorter_ngram=favor_shorter, do_permutation=permute,
      spm_model_file="x.model" if use_spm else "")
  assert ours == tuple(expected)
  assert rng.getstate() == expected_rng.getstate()
  assert np.random.get_state()[1].tolist() == expected_np[1].tolist()
  assert np.random.get_state()[2] == expected_np[2]
