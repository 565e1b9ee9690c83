# coding=utf-8
"""Tests of albert/learn_spm.py: ALBERT's spm_train flags and id layout."""

import os
import subprocess
import sys

import numpy as np
from pydoc_data import topics
import pytest
from sentencepiece import sentencepiece_model_pb2

from albert import create_pretraining_data as acpd
from albert import learn_spm
from albert import tokenization
from conftest import ROOT

ALBERT_LAYOUT = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "(", ")", "\"",
                 "-", ".", "–", "£", "€"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  """Python's help topics as text, one paragraph per document."""
  path = tmp_path_factory.mktemp("spm") / "topics.txt"
  path.write_text("\n\n".join(topics.topics.values()), encoding="utf-8")
  return str(path)


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory):
  prefix = str(tmp_path_factory.mktemp("model") / "albert")
  return learn_spm.learn_spm([corpus], prefix, vocab_size=600, num_threads=1)


def test_model_has_alberts_id_layout(model):
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=model)
  assert [tokenizer.inv_vocab[i] for i in range(len(ALBERT_LAYOUT))] == (
      ALBERT_LAYOUT)
  assert len(tokenizer.vocab) == 600
  assert os.path.exists(model[:-len(".model")] + ".vocab")


def test_model_records_alberts_spm_train_flags(model):
  proto = sentencepiece_model_pb2.ModelProto()
  with open(model, "rb") as f:
    proto.ParseFromString(f.read())
  spec = proto.trainer_spec
  assert spec.model_type == sentencepiece_model_pb2.TrainerSpec.UNIGRAM
  assert (spec.pad_id, spec.unk_id, spec.bos_id, spec.eos_id) == (0, 1, -1, -1)
  assert list(spec.control_symbols) == ["[CLS]", "[SEP]", "[MASK]"]
  assert list(spec.user_defined_symbols) == ALBERT_LAYOUT[5:]
  assert spec.shuffle_input_sentence
  assert spec.input_sentence_size == 10000000
  assert spec.character_coverage == np.float32(0.99995)
  assert spec.vocab_size == 600


def test_model_tokenizes_lower_cased_text_and_makes_records(model, corpus,
                                                            tmp_path):
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=model)
  text = tokenization.preprocess_text("The Class Statement (see below).",
                                      lower=True)
  pieces = tokenizer.tokenize(text)
  assert "".join(pieces).replace("▁", " ").strip() == text
  assert tokenizer.vocab["<unk>"] not in tokenizer.convert_tokens_to_ids(
      pieces)
  out = str(tmp_path / "out.tfrecord")
  stats = acpd.run([corpus], [out], None, spm_model_file=model,
                   max_seq_length=64, dupe_factor=1, log_examples=False,
                   progress=False)
  assert stats["num_instances"] > 100


def test_same_seed_same_model(corpus, model, tmp_path):
  again = learn_spm.learn_spm([corpus], str(tmp_path / "again"),
                              vocab_size=600, num_threads=1)
  first, second = (sentencepiece_model_pb2.ModelProto() for _ in range(2))
  with open(model, "rb") as a, open(again, "rb") as b:
    first.ParseFromString(a.read())
    second.ParseFromString(b.read())
  assert second.trainer_spec.model_prefix == str(tmp_path / "again")
  second.trainer_spec.model_prefix = first.trainer_spec.model_prefix
  assert first.SerializeToString() == second.SerializeToString()


def test_bad_settings_are_named(corpus, tmp_path):
  with pytest.raises(ValueError, match="--vocab_size=10 must be > 13"):
    learn_spm.learn_spm([corpus], str(tmp_path / "m"), vocab_size=10)
  with pytest.raises(ValueError, match="--model_prefix: .*nowhere"):
    learn_spm.learn_spm([corpus], str(tmp_path / "nowhere" / "m"))
  with pytest.raises(ValueError, match="--vocab_size=100000: SentencePiece"):
    learn_spm.learn_spm([corpus], str(tmp_path / "m"), vocab_size=100000,
                        num_threads=1)
  assert not os.listdir(tmp_path)


def test_script_writes_the_model(corpus, tmp_path):
  prefix = str(tmp_path / "cli")
  subprocess.run([sys.executable, "-m", "albert.learn_spm",
                  "--input_file=%s" % corpus, "--model_prefix=%s" % prefix,
                  "--vocab_size=500", "--num_threads=1"], cwd=ROOT,
                 check=True, capture_output=True)
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=prefix +
                                         ".model")
  assert len(tokenizer.vocab) == 500 and tokenizer.vocab["[MASK]"] == 4
