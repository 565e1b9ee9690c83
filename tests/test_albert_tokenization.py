# coding=utf-8
"""albert/tokenization.py against the outputs of ALBERT's own tokenizer.

* Every case of tests/fixtures/albert/tokenization/cases.jsonl (ALBERT's
  preprocess_text, SentencePiece FullTokenizer raw / lower / cased,
  encode_ids, and the WordPiece path) and ALBERT's load_vocab on
  vocab_load_quirks.txt.
* Random text and vocabularies (hypothesis) against
  tests/literal_albert_tokenization.py, ALBERT's code written plainly.
* The batch API (encode_batch / tokenize_batch_ids) against one text at a
  time, and bad input.
"""

import json
import os
import unicodedata

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest
import sentencepiece as spm

from albert import tokenization
from conftest import fixture_path
import literal_albert_tokenization as literal

SPM_MODEL = fixture_path("albert", "spm_tiny.model")
WORDPIECE_VOCAB = fixture_path("vocab_uncased.txt")
QUIRKS = fixture_path("albert", "tokenization", "vocab_load_quirks.txt")
HYPOTHESIS = settings(max_examples=150, deadline=None)

with open(fixture_path("albert", "tokenization", "cases.jsonl"),
          encoding="utf-8") as _f:
  CASES = [json.loads(line) for line in _f]

SPM = tokenization.FullTokenizer(None, do_lower_case=True,
                                 spm_model_file=SPM_MODEL)
WORDPIECE = {
    "lower": tokenization.FullTokenizer(WORDPIECE_VOCAB, do_lower_case=True),
    "cased": tokenization.FullTokenizer(WORDPIECE_VOCAB, do_lower_case=False)}
RAW_SP = spm.SentencePieceProcessor(model_file=SPM_MODEL)


def test_there_are_157_cases():
  assert len(CASES) == 157


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["id"]))
def test_preprocess_text_is_alberts(case):
  text = case["text"]
  expected = case["preprocess"]
  assert tokenization.preprocess_text(text, lower=True) == expected["lower"]
  assert tokenization.preprocess_text(text, lower=False) == expected["cased"]
  assert tokenization.preprocess_text(
      text, remove_space=False, lower=False) == expected["keep_space"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["id"]))
def test_sentencepiece_tokenizer_is_alberts(case):
  inputs = {"spm_raw": case["text"], "spm_lower": case["preprocess"]["lower"],
            "spm_cased": case["preprocess"]["cased"]}
  for key, text in inputs.items():
    expected = case[key]
    pieces = SPM.tokenize(text)
    assert pieces == expected["pieces"], key
    assert SPM.convert_tokens_to_ids(pieces) == expected["ids"], key
    assert SPM.convert_ids_to_tokens(expected["ids"]) == [
        RAW_SP.IdToPiece(i) for i in expected["ids"]]
    # Where the digit-comma rule changed something, SentencePiece alone
    # gives the recorded pieces (so the rule, not the model, differs).
    assert RAW_SP.EncodeAsPieces(text) == expected.get(
        "sentencepiece", expected["pieces"]), key
  assert tokenization.encode_ids(
      SPM.sp_model, case["preprocess"]["lower"]) == case["encode_ids_lower"]
  assert tokenization.encode_pieces(
      SPM.sp_model, case["preprocess"]["lower"]) == case["spm_lower"]["pieces"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["id"]))
def test_wordpiece_path_is_alberts(case):
  for casing, tokenizer in WORDPIECE.items():
    expected = case["wordpiece"][casing]
    tokens = tokenizer.tokenize(case["text"])
    assert tokens == expected["tokens"], casing
    assert tokenizer.convert_tokens_to_ids(tokens) == expected["ids"], casing


def test_digit_comma_rule_keeps_the_leading_underline():
  # The documented Python 3 behaviour of ALBERT's rule.
  assert SPM.tokenize("1,000,000") == ["▁", "▁", "1", ",", "0", "00", ",",
                                       "0", "00"]
  assert SPM.tokenize("f(1, 2)") == ["▁", "f", "(", "▁", "1", ",", "▁", "2",
                                     ")"]
  assert tokenization.SPIECE_UNDERLINE == b"\xe2\x96\x81"


def test_sentencepiece_tokenize_does_not_lower_case():
  assert SPM.tokenize("The")[0] == "▁The"
  assert SPM.tokenize("the")[0] == "▁the"


def test_special_tokens_and_vocab_of_the_spm_model():
  assert SPM.vocab["<pad>"] == 0 and SPM.vocab["<unk>"] == 1
  assert [SPM.vocab[t] for t in (SPM.cls_token, SPM.sep_token,
                                 SPM.mask_token)] == [2, 3, 4]
  assert len(SPM.vocab) == 1000
  assert SPM.inv_vocab[13] == "▁"
  assert WORDPIECE["lower"].cls_token == "[CLS]"
  assert tokenization.FullTokenizer.from_scratch(
      None, True, SPM_MODEL).tokenize("a b") == SPM.tokenize("a b")


def test_load_vocab_quirks_are_alberts():
  with open(fixture_path("albert", "tokenization", "vocab_load_quirks.json"),
            encoding="utf-8") as f:
    expected = json.load(f)
  vocab = tokenization.load_vocab(QUIRKS)
  assert [[token, index] for token, index in vocab.items()] == (
      expected["load_vocab"])
  tokenizer = tokenization.FullTokenizer(QUIRKS, do_lower_case=True)
  for case in expected["tokenize"]:
    tokens = tokenizer.tokenize(case["text"])
    assert tokens == case["tokens"]
    assert tokenizer.convert_tokens_to_ids(tokens) == case["ids"]
  ids, lengths = tokenizer.tokenize_batch_ids(
      [case["text"] for case in expected["tokenize"]], num_workers=1)
  assert ids.tolist() == sum((c["ids"] for c in expected["tokenize"]), [])
  assert lengths.tolist() == [len(c["ids"]) for c in expected["tokenize"]]


# Random text and vocabularies against the literal reading of ALBERT's code.

_CHARS = (list("abcXYZ019 ,.&(") + ["1,", "2, ", "&&", "\u0301", "\u0308",
                                     "é", "ﬁ", "²", "٣", "\u00a0", "\u2028",
                                     "\x85", "\t", "İ", "日", "½", "\u00a8",
                                     "€", "–", "\x00"])
random_text = st.lists(st.sampled_from(_CHARS), max_size=40).map("".join)


@HYPOTHESIS
@given(text=random_text | st.text(max_size=30), remove_space=st.booleans(),
       lower=st.booleans())
def test_preprocess_text_matches_literal(text, remove_space, lower):
  assert tokenization.preprocess_text(text, remove_space, lower) == (
      literal.preprocess_text(text, remove_space, lower))


@HYPOTHESIS
@given(text=random_text)
def test_encode_pieces_matches_literal(text):
  text = tokenization.preprocess_text(text, lower=True)
  pieces = SPM.tokenize(text)
  assert pieces == literal.encode_pieces(SPM.sp_model, text)
  assert tokenization.encode_ids(SPM.sp_model, text) == [
      SPM.sp_model.PieceToId(p) for p in pieces]


def _check_batch(tokenizer, texts, num_workers):
  """encode_batch equals tokenizing each text, unknown pieces included."""
  batch = tokenizer.encode_batch(texts, num_workers=num_workers)
  expected_ids = []
  unknown = []
  for text in texts:
    tokens = tokenizer.tokenize(text)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    unknown.extend((len(expected_ids) + k, t) for k, (t, i) in enumerate(
        zip(tokens, ids)) if t != tokenizer.inv_vocab[i])
    expected_ids.extend(ids)
  assert batch.ids.tolist() == expected_ids
  assert batch.lengths.tolist() == [len(tokenizer.tokenize(t)) for t in texts]
  assert list(zip(batch.unknown_positions.tolist(),
                  batch.unknown_pieces)) == unknown
  ids, lengths = tokenizer.tokenize_batch_ids(texts, num_workers=num_workers)
  assert ids.tolist() == expected_ids
  assert lengths.tolist() == batch.lengths.tolist()


@HYPOTHESIS
@given(texts=st.lists(random_text, max_size=8),
       num_workers=st.sampled_from([None, 1, 2]))
def test_batch_encoding_matches_one_text_at_a_time(texts, num_workers):
  _check_batch(SPM, [tokenization.preprocess_text(t) for t in texts],
               num_workers)


def test_batch_encoding_of_every_case():
  for key in ("lower", "cased"):
    texts = [c["preprocess"][key] for c in CASES]
    _check_batch(SPM, texts, 2)
    _check_batch(WORDPIECE[key], [c["text"] for c in CASES], 1)
  batch = SPM.encode_batch(["a&&b", "1,000"])
  assert batch.unknown_pieces == ["&&"]
  assert batch.ids[batch.unknown_positions].tolist() == [1]


@HYPOTHESIS
@given(lines=st.lists(st.sampled_from(
    ["the", "cat", "##s", "the", " ", "", "  \t", "on\t-3.5", "mat 17",
     "x y z", "\u00a0", "[UNK]", "é"]), min_size=1, max_size=15),
       trailing_newline=st.booleans(), crlf=st.booleans())
def test_load_vocab_matches_literal(tmp_path_factory, lines, trailing_newline,
                                    crlf):
  path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
  newline = "\r\n" if crlf else "\n"
  content = newline.join(lines) + (newline if trailing_newline else "")
  path.write_bytes(content.encode("utf-8"))
  # What tf.gfile's readline returns: every "\r" dropped, lines ending at
  # "\n" (kept), nothing after the last newline.
  parts = content.replace("\r", "").split("\n")
  read = [part + "\n" for part in parts[:-1]] + [p for p in parts[-1:] if p]
  if not read:  # ALBERT returns an empty vocab; we name the file instead
    with pytest.raises(ValueError, match="is empty"):
      tokenization.load_vocab(str(path))
    return
  assert tokenization.load_vocab(str(path)) == literal.load_vocab_lines(read)


# Bad input.


def test_missing_spm_model_is_named(tmp_path):
  with pytest.raises(ValueError, match="--spm_model_file .*missing.model"):
    tokenization.FullTokenizer(None, spm_model_file=str(
        tmp_path / "missing.model"))


def test_file_that_is_not_a_model_is_named(tmp_path):
  path = tmp_path / "vocab.model"
  path.write_text("the\ncat\n")
  with pytest.raises(ValueError, match="vocab.model is not a SentencePiece"):
    tokenization.FullTokenizer(None, spm_model_file=str(path))


def test_vocab_line_that_is_not_utf8_is_named(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_bytes(b"[PAD]\n[UNK]\nca\xfft\n")
  with pytest.raises(ValueError, match="vocab.txt, line 3 is not UTF-8"):
    tokenization.load_vocab(str(path))


def test_preprocess_text_accepts_bytes():
  assert tokenization.preprocess_text("  Café \u2028 x ".encode("utf-8"),
                                      lower=True) == "cafe x"
  assert unicodedata.combining("\u0301")
