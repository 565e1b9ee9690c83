# coding=utf-8
"""tf_tokenization.AlbertTextTokenizer (ALBERT's preprocess_text + encode_ids
as TensorFlow ops, for the ALBERT preprocessing model) against the reference
of ALBERT's own code: tests/fixtures/albert/tokenization/cases.jsonl
(preprocess_text lower / cased, encode_ids of the lower-cased text, from
google-research/albert run on TF 2.21; see test_albert_tokenization.py)."""

import json

import pytest
import tensorflow as tf

from albert import tokenization
from conftest import fixture_path
import tf_tokenization

SPM_MODEL = fixture_path("albert", "spm_tiny.model")
with open(fixture_path("albert", "tokenization", "cases.jsonl"),
          encoding="utf-8") as _f:
  CASES = [json.loads(line) for line in _f]
# tensorflow_text bundles its own SentencePiece, which breaks a tie between
# two segmentations of equal score the other way: "000,000" of case 9
# ("1,000,000") is "00 0 , 00 0" there and "0 00 , 0 00" in the sentencepiece
# package ALBERT's code uses.
TIE_CASES = {9}


@pytest.fixture(scope="module", params=[True, False], ids=["lower", "cased"])
def tokenizer(request):
  return tf_tokenization.AlbertTextTokenizer(SPM_MODEL, request.param)


def test_preprocess_text_is_alberts(tokenizer):
  key = "lower" if tokenizer.do_lower_case else "cased"
  got = tokenizer.preprocess(tf.constant([c["text"] for c in CASES])).numpy()
  mismatches = [c["id"] for c, text in zip(CASES, got)
                if text.decode("utf-8") != c["preprocess"][key]]
  assert not mismatches


def test_ids_are_alberts_encode_ids(tokenizer):
  """Equal to ALBERT's encode_ids(preprocess_text(text)) on every case but
  the SentencePiece tie, digit-comma rule included (cases 11-21)."""
  got = tokenizer.tokenize(tf.constant([c["text"] for c in CASES])).to_list()
  reference = tokenization.FullTokenizer(None, spm_model_file=SPM_MODEL)
  lower = tokenizer.do_lower_case
  mismatches = set()
  for case, ids in zip(CASES, got):
    expected = (case["encode_ids_lower"] if lower else tokenization.encode_ids(
        reference.sp_model, tokenization.preprocess_text(case["text"],
                                                          lower=False)))
    if ids != expected:
      mismatches.add(case["id"])
  assert mismatches == TIE_CASES
  # The tie: the same pieces, "0 00" against "00 0".
  tie = CASES[9]
  pieces = tokenizer.encode_pieces(tokenizer.preprocess(
      tf.constant([tie["text"]]))).to_list()[0]
  assert b"".join(pieces).decode("utf-8") == "".join(
      tokenization.encode_pieces(reference.sp_model,
                                 tokenization.preprocess_text(tie["text"])))


def test_special_ids_and_size(tokenizer):
  reference = tokenization.FullTokenizer(None, spm_model_file=SPM_MODEL)
  assert tokenizer.vocab_size == len(reference.vocab)
  for token, token_id in tokenizer.special_ids.items():
    assert reference.vocab[token] == token_id
