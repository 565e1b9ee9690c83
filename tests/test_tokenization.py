# coding=utf-8
"""tokenization.py against Google's outputs, its unit tests and a literal port.

* Every case of tests/fixtures/tokenization/cases.jsonl (outputs of Google's
  tokenizer, both casings, bytes cases given as bytes) and every code point of
  char_classes.jsonl.
* Google's tokenization_test.py golden values (BEHAVIOUR.md 7.1).
* Random text (hypothesis) against tests/literal_tokenizer.py, a slow literal
  reading of BEHAVIOUR.md 6.1-6.2.
* The batch API, never_split, and bad input.
"""

import json
import logging
import multiprocessing
import pickle
import unicodedata

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from conftest import fixture_path
import literal_tokenizer as literal
import tokenization

VOCAB_FILE = fixture_path("vocab_uncased.txt")
CASING = {"lower": True, "cased": False}
HYPOTHESIS = settings(max_examples=150, deadline=None)


def _read_jsonl(name):
  with open(fixture_path("tokenization", name), encoding="utf-8") as f:
    return [json.loads(line) for line in f]


CASES = _read_jsonl("cases.jsonl")
CHAR_CLASSES = _read_jsonl("char_classes.jsonl")


def _literal_vocab():
  with open(VOCAB_FILE, encoding="utf-8") as f:
    lines = f.read().split("\n")
  if lines[-1] == "":
    lines.pop()
  return literal.load_vocab_lines(lines)


LITERAL_VOCAB = _literal_vocab()
FULL = {lower: tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=lower)
        for lower in (True, False)}
BASIC = {lower: tokenization.BasicTokenizer(do_lower_case=lower)
         for lower in (True, False)}


def _case_input(case):
  if case["text"] is None:
    return bytes.fromhex(case["text_bytes_hex"])
  return case["text"]


# ---------------------------------------------------------------- Google's data


@pytest.mark.parametrize("casing", sorted(CASING))
@pytest.mark.parametrize(
    "case", CASES, ids=["%d-%s" % (c["id"], c["category"]) for c in CASES])
def test_google_reference_case(case, casing):
  lower = CASING[casing]
  want = case[casing]
  text = _case_input(case)
  note = "case %d (%s): %s" % (case["id"], case["category"], case["note"])
  assert BASIC[lower].tokenize(text) == want["basic"], note
  tokens = FULL[lower].tokenize(text)
  assert tokens == want["full"], note
  assert FULL[lower].convert_tokens_to_ids(tokens) == want["ids"], note
  assert FULL[lower].convert_ids_to_tokens(want["ids"]) == want["full"], note
  # With empty memos, and through the batch API, too.
  fresh = FULL[lower]
  fresh._memo.clear()
  fresh.wordpiece_tokenizer._memo.clear()
  assert fresh.tokenize_batch([text, text]) == [want["full"]] * 2, note


def test_reference_cases_cover_every_category():
  categories = {c["category"] for c in CASES}
  assert {"bytes", "cjk", "control", "long", "accents",
          "sample_text_span"} <= categories
  assert len(CASES) == 519


@pytest.mark.parametrize(
    "row", CHAR_CLASSES, ids=[r["codepoint"] for r in CHAR_CLASSES])
def test_google_char_classes(row):
  char = row["char"]
  assert tokenization._is_whitespace(char) == row["_is_whitespace"]
  assert tokenization._is_control(char) == row["_is_control"]
  assert tokenization._is_punctuation(char) == row["_is_punctuation"]
  assert (tokenization.BasicTokenizer()._is_chinese_char(ord(char)) ==
          row["_is_chinese_char"])
  removed = BASIC[True]._clean_text(char) == ""
  assert removed == row["removed_by_clean_text"]
  assert bool(tokenization._patterns().removed.match(char)) == removed


def test_fast_character_classes_match_literal_on_every_code_point():
  patterns = tokenization._patterns()
  for code_point in range(0x110000):
    char = chr(code_point)
    removed = code_point in (0, 0xFFFD) or literal.is_control(char)
    assert bool(patterns.removed.match(char)) == removed, hex(code_point)
    assert bool(patterns.cjk.match(char)) == literal.is_cjk(code_point)
    punctuation = literal.is_punctuation(char)
    assert (patterns.word_or_punctuation.match(char + char).end() ==
            (1 if punctuation else 2)), hex(code_point)
    # The fast path leaves whitespace to str.split() and re's \s (chunk),
    # which must cover it; chunk also isolates every CJK character.
    if literal.is_whitespace(char):
      assert char.isspace(), hex(code_point)
    chunk = patterns.chunk.match(char + char)
    if char.isspace():
      assert chunk is None, hex(code_point)
    else:
      assert chunk.end() == (1 if literal.is_cjk(code_point) else 2)
    assert bool(patterns.mark.match(char)) == (
        unicodedata.category(char) == "Mn"), hex(code_point)


def test_bytes_cases_are_given_as_bytes():
  bytes_cases = [c for c in CASES if c["text"] is None]
  assert len(bytes_cases) == 13
  for case in bytes_cases:
    data = bytes.fromhex(case["text_bytes_hex"])
    assert FULL[True].tokenize(data) == case["lower"]["full"]


# ------------------------------------------ Google's unit tests (BEHAVIOUR 7.1)

VOCAB_A = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un",
           "runn", "##ing", ","]


def _write_vocab(tmp_path, lines, name="vocab.txt"):
  path = tmp_path / name
  path.write_bytes(b"".join(
      (line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n"
      for line in lines))
  return str(path)


def test_google_full_tokenizer(tmp_path):
  tokenizer = tokenization.FullTokenizer(_write_vocab(tmp_path, VOCAB_A))
  tokens = tokenizer.tokenize(u"UNwant\u00E9d,running")
  assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]


def test_google_basic_tokenizer():
  assert tokenization.BasicTokenizer().tokenize(u"ah\u535A\u63A8zz") == [
      "ah", u"\u535A", u"\u63A8", "zz"]
  lower = tokenization.BasicTokenizer(do_lower_case=True)
  assert lower.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
      "hello", "!", "how", "are", "you", "?"]
  assert lower.tokenize(u"H\u00E9llo") == ["hello"]
  cased = tokenization.BasicTokenizer(do_lower_case=False)
  assert cased.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
      "HeLLo", "!", "how", "Are", "yoU", "?"]


def test_google_wordpiece_tokenizer():
  vocab = {token: i for i, token in enumerate(VOCAB_A[:-1])}
  tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
  assert tokenizer.tokenize("") == []
  assert tokenizer.tokenize("unwanted running") == [
      "un", "##want", "##ed", "runn", "##ing"]
  assert tokenizer.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]
  assert tokenization.convert_tokens_to_ids(
      vocab, ["un", "##want", "##ed", "runn", "##ing"]) == [7, 4, 5, 8, 9]


def test_google_character_predicates():
  for char in (" ", "\t", "\r", "\n", u"\u00A0"):
    assert tokenization._is_whitespace(char)
  for char in ("A", "-"):
    assert not tokenization._is_whitespace(char)
  assert tokenization._is_control(u"\u0005")
  for char in ("A", " ", "\t", "\r", u"\U0001F4A9"):
    assert not tokenization._is_control(char)
  for char in ("-", "$", u"\u0060", "."):
    assert tokenization._is_punctuation(char)
  for char in ("A", " "):
    assert not tokenization._is_punctuation(char)


# ------------------------------------------- random text against the literal


def _chars(*ranges):
  return [chr(c) for low, high in ranges for c in range(low, high + 1)]


CJK_EDGES = [chr(c) for low, high in literal.CJK_RANGES
             for c in (low - 1, low, low + 1, high - 1, high, high + 1)]
CJK = CJK_EDGES + list(u"\u4e2d\u6587\u5b57\u535a\u63a8\u3042\u30a2\ud55c"
                       u"\u3105\u2e80\U00030000\U00031350")
ACCENTS = list(u"\u00e9\u00c9\u00fc\u00f1\u00c5\u0130\u03a3\u03c3\u00df"
               u"\ufb01\u1fef\u212a\u212b\u1e9e\u01c5\u0149") + _chars(
                   (0x300, 0x36F), (0x483, 0x489), (0x1AB0, 0x1AB4))
CONTROLS = _chars((0, 0x1F), (0x7F, 0x9F)) + list(
    u"\u00ad\u0600\u061c\u06dd\u180e\u200b\u200c\u200d\u200e\u200f\u202a"
    u"\u2060\u2066\ufeff\ufff9\ufffd\U000110bd\U0001d173\U000e0001\U000e0020")
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace() or
              literal.is_whitespace(chr(c))]
PUNCTUATION = [chr(c) for c in range(33, 127) if not chr(c).isalnum()] + list(
    u"\u00a1\u00bf\u00ab\u00bb\u2014\u2018\u2019\u201c\u3002\uff0c\u055d"
    u"\u2026\u00b7\u0f14\U00010100") + list(u"\u20ac\u00a9\u00b1\u2211\u00a8")
LETTERS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
VOCAB_WORDS = [t for t in list(LITERAL_VOCAB)[1000:30000:37]
               if not t.startswith("[")]

word_chars = st.sampled_from(CJK + ACCENTS + CONTROLS + PUNCTUATION + LETTERS)
words = st.one_of(
    st.text(word_chars, max_size=12),
    st.sampled_from(VOCAB_WORDS).map(str.upper),
    st.sampled_from(VOCAB_WORDS),
    st.lists(st.sampled_from(VOCAB_WORDS + LETTERS), min_size=1,
             max_size=6).map("".join),
    # Words around the 200-character limit, letters or accented letters.
    st.tuples(st.integers(195, 205), st.sampled_from(
        ["a", "e\u0301", "\u00e9", "ab", "un"])).map(
            lambda n_piece: (n_piece[1] * 205)[:n_piece[0]]),
    st.text(max_size=8),  # any Unicode (hypothesis leaves out surrogates)
)
texts = st.lists(st.tuples(words, st.text(st.sampled_from(WHITESPACE),
                                          max_size=3)),
                 max_size=12).map(lambda pairs: "".join(a + b for a, b in pairs))


@HYPOTHESIS
@given(text=texts, lower=st.booleans())
def test_basic_tokenizer_matches_literal(text, lower):
  assert BASIC[lower].tokenize(text) == literal.basic_tokenize(text, lower)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(texts, st.binary(max_size=60)), lower=st.booleans())
def test_full_tokenizer_matches_literal(text, lower):
  # Random bytes are mostly not UTF-8: Google decodes them ignoring errors.
  want = literal.full_tokenize(text, LITERAL_VOCAB, lower)
  assert FULL[lower].tokenize(text) == want


@HYPOTHESIS
@given(text=texts)
def test_googles_private_steps_match_literal(text):
  basic = BASIC[True]
  assert basic._clean_text(text) == literal.clean_text(text)
  assert basic._tokenize_chinese_chars(text) == literal.space_cjk(text)
  for word in text.split():
    assert basic._run_strip_accents(word) == literal.strip_accents(word)
    assert basic._run_split_on_punc(word) == literal.split_punctuation(word)


@HYPOTHESIS
@given(word=words)
def test_wordpiece_matches_literal(word):
  tokenizer = FULL[True].wordpiece_tokenizer
  assert tokenizer.tokenize(word) == literal.wordpiece_tokenize(
      word, LITERAL_VOCAB)


def test_long_words_around_the_limit():
  tokenizer = FULL[True]
  for length in range(195, 206):
    for word in ("a" * length, ("ab" * length)[:length], "\u00e9" * length):
      want = literal.full_tokenize(word, LITERAL_VOCAB)
      assert tokenizer.tokenize(word) == want, length
      assert (want == ["[UNK]"]) == (length > 200), length


def test_empty_and_blank_input():
  for text in ("", " ", "\t\n\r", "\u200b\x00\ufffd", "\u3000\u2028", b""):
    assert FULL[True].tokenize(text) == []
    assert BASIC[False].tokenize(text) == []
    assert literal.full_tokenize(text, LITERAL_VOCAB) == []


def test_memo_limit_keeps_results(monkeypatch):
  monkeypatch.setattr(tokenization, "_MEMO_LIMIT", 4)
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  text = " ".join(c["text"] for c in CASES[219:252])
  for piece in (text, "a b a", "x y z w v u t", text):
    assert tokenizer.tokenize(piece) == literal.full_tokenize(
        piece, LITERAL_VOCAB)
    assert len(tokenizer._memo) <= 4


def test_tokens_added_to_vocab_are_noticed(tmp_path):
  tokenizer = tokenization.FullTokenizer(_write_vocab(tmp_path, VOCAB_A))
  assert tokenizer.tokenize("wantxy") == ["[UNK]"]
  tokenizer.vocab["##xy"] = len(tokenizer.vocab)
  assert tokenizer.tokenize("wantxy") == ["want", "##xy"]


# ------------------------------------------------------------------ batch API


def _batch_texts():
  texts = [_case_input(c) for c in CASES]
  return texts + [""] * 3 + [b"\xff", "\u4e2d\u6587 " * 50, "end"]


def test_tokenize_batch_in_processes_equals_tokenize(monkeypatch):
  monkeypatch.setattr(tokenization, "_PARALLEL_MIN_CHARS", 0)
  texts = _batch_texts()
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  want = [literal.full_tokenize(t, LITERAL_VOCAB) for t in texts]
  assert tokenizer.tokenize_batch(texts, num_workers=2) == want
  assert tokenizer.tokenize_batch(iter(texts)) == want
  assert tokenizer.tokenize_batch(texts, num_workers=1) == want
  assert tokenizer.tokenize_batch([]) == []
  # The workers stay up and warm between calls; close() stops them.
  pool = tokenizer._pool
  assert pool is not None
  assert tokenizer.tokenize_batch(texts[::-1], num_workers=2) == want[::-1]
  assert tokenizer._pool is pool
  # A vocabulary change starts new workers that see it.
  tokenizer.vocab["axyzzy"] = len(tokenizer.vocab)
  assert tokenizer.tokenize_batch(["axyzzy"] * 2, num_workers=2) == [
      ["axyzzy"]] * 2
  assert tokenizer._pool is not pool
  tokenizer.close()
  assert tokenizer._pool is None
  assert tokenizer.tokenize_batch(texts, num_workers=2) == want
  tokenizer.close()


@pytest.mark.parametrize("num_workers", [1, 2])
def test_tokenize_batch_ids_equals_ids_of_tokenize(monkeypatch, tmp_path,
                                                   num_workers):
  monkeypatch.setattr(tokenization, "_PARALLEL_MIN_CHARS", 0)
  texts = _batch_texts()
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  ids, lengths = tokenizer.tokenize_batch_ids(texts, num_workers=num_workers)
  want = [literal.full_tokenize(t, LITERAL_VOCAB) for t in texts]
  assert lengths.tolist() == [len(tokens) for tokens in want]
  assert ids.tolist() == [LITERAL_VOCAB[t] for tokens in want for t in tokens]
  tokenizer.close()
  # A token listed twice has the id of its last line, as in load_vocab; an
  # unk_token missing from the vocabulary is a KeyError, as in
  # convert_tokens_to_ids.
  tokenizer = tokenization.FullTokenizer(_write_vocab(
      tmp_path, ["[UNK]", "want", "##ed", "want", "un"]))
  ids, lengths = tokenizer.tokenize_batch_ids(["wanted un"] * 3,
                                              num_workers=num_workers)
  assert ids.tolist() == [3, 2, 4] * 3 and lengths.tolist() == [3] * 3
  tokenizer.wordpiece_tokenizer.unk_token = "[NOPE]"
  with pytest.raises(KeyError, match="NOPE"):
    tokenizer.tokenize_batch_ids(["wanted xyz"] * 3, num_workers=num_workers)
  tokenizer.close()


def test_tokenize_batch_large_input_uses_workers():
  # Above the threshold without patching: the real multi-process path.
  line = " ".join(c["text"] for c in CASES[219:252])
  texts = [line] * (tokenization._PARALLEL_MIN_CHARS // len(line) + 2)
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  result = tokenizer.tokenize_batch(texts, num_workers=2)
  tokenizer.close()
  assert result == [literal.full_tokenize(line, LITERAL_VOCAB)] * len(texts)


def _batch_in_daemon(texts):
  return FULL[True].tokenize_batch(texts, num_workers=2)


def test_tokenize_batch_inside_a_pool_worker(monkeypatch):
  monkeypatch.setattr(tokenization, "_PARALLEL_MIN_CHARS", 0)
  texts = _batch_texts()[:50]
  with multiprocessing.get_context("fork").Pool(1) as pool:
    result = pool.apply(_batch_in_daemon, (texts,))
  assert result == [literal.full_tokenize(t, LITERAL_VOCAB) for t in texts]


def test_tokenize_batch_rejects_zero_workers():
  with pytest.raises(ValueError, match="num_workers"):
    FULL[True].tokenize_batch(["a"], num_workers=0)


def test_tokenizer_pickles():
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE, never_split=["[MASK]"])
  tokenizer.tokenize("warm the memo [MASK]")
  copy = pickle.loads(pickle.dumps(tokenizer))
  assert copy._memo == {}
  assert copy.tokenize("a [MASK] b") == ["a", "[MASK]", "b"]


# ---------------------------------------------------------------- never_split


def test_never_split_off_by_default_is_googles():
  assert FULL[True].tokenize("the [MASK].") == ["the", "[", "mask", "]", "."]


def test_never_split_keeps_tokens_whole():
  tokenizer = tokenization.FullTokenizer(
      VOCAB_FILE, never_split=["[MASK]", "[SEP]"])
  assert tokenizer.tokenize("The [MASK] sat.[SEP]Next ([MASK])") == [
      "the", "[MASK]", "sat", ".", "[SEP]", "next", "(", "[MASK]", ")"]
  ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("[MASK]"))
  assert ids == [LITERAL_VOCAB["[MASK]"]]
  # Only the exact spelling is protected.
  assert tokenizer.tokenize("[mask]") == ["[", "mask", "]"]
  basic = tokenization.BasicTokenizer(do_lower_case=True,
                                      never_split=["ab", "abc", "\u00c9T\u00c9"])
  assert basic.tokenize("xABC xabcx \u00c9T\u00c9s") == [
      "xabc", "x", "abc", "x", "\u00c9T\u00c9", "s"]


def test_never_split_rejects_bad_tokens():
  for token in ("", "a b", "a\x00", "\u200b"):
    with pytest.raises(ValueError, match="never_split"):
      tokenization.BasicTokenizer(never_split=[token])


segments = st.text(st.sampled_from(
    [c for c in CJK + ACCENTS + CONTROLS + PUNCTUATION + LETTERS + WHITESPACE
     if c not in "[]"]), max_size=30)


MASK_KEEPING = {
    lower: tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=lower,
                                      never_split=["[MASK]"])
    for lower in (True, False)}


@HYPOTHESIS
@given(parts=st.lists(segments, min_size=1, max_size=5), lower=st.booleans())
def test_never_split_tokens_between_google_segments(parts, lower):
  tokenizer = MASK_KEEPING[lower]
  want = []
  for index, part in enumerate(parts):
    if index:
      want.append("[MASK]")
    want.extend(literal.full_tokenize(part, LITERAL_VOCAB, lower))
  assert tokenizer.tokenize("[MASK]".join(parts)) == want


# ------------------------------------------------------------------ bad input


def test_missing_vocab_names_the_path(tmp_path):
  path = str(tmp_path / "no_such_vocab.txt")
  with pytest.raises(ValueError, match="no_such_vocab.txt"):
    tokenization.FullTokenizer(path)
  with pytest.raises(ValueError, match=str(tmp_path)):
    tokenization.load_vocab(str(tmp_path))  # a directory


def test_vocab_urls_read_through_gfile(tmp_path):
  path = _write_vocab(tmp_path, VOCAB_A)
  assert tokenization.load_vocab("file://" + path) == {
      token: i for i, token in enumerate(VOCAB_A)}
  with pytest.raises(ValueError, match="file://.*missing.txt"):
    tokenization.load_vocab("file://" + str(tmp_path / "missing.txt"))


def test_empty_vocab_is_an_error(tmp_path):
  path = tmp_path / "empty.txt"
  path.write_bytes(b"")
  with pytest.raises(ValueError, match="empty.txt is empty"):
    tokenization.load_vocab(str(path))


def test_non_utf8_vocab_names_the_line(tmp_path):
  path = _write_vocab(tmp_path, [b"a", b"b\xff"])
  with pytest.raises(ValueError, match="line 2 is not UTF-8"):
    tokenization.load_vocab(path)


def _google_load_vocab(path):
  """Google's load_vocab loop, reading through TensorFlow's gfile."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  vocab = {}
  index = 0
  with tf.io.gfile.GFile(path, "r") as reader:
    while True:
      line = reader.readline()
      if not line:
        return vocab
      vocab[line.strip()] = index
      index += 1


def test_vocab_lines_read_as_googles_gfile(tmp_path):
  # tf.gfile's readline drops every "\r"; lines are then str.strip()ed, and a
  # blank line inside the file is the token "".
  path = tmp_path / "vocab.txt"
  path.write_bytes(b"a\rb\n  c \t\n\nd\r\n\xe3\x80\x80f\xc2\xa0\ne")
  vocab = tokenization.load_vocab(str(path))
  assert list(vocab.items()) == [("ab", 0), ("c", 1), ("", 2), ("d", 3),
                                 ("f", 4), ("e", 5)]
  assert dict(vocab) == _google_load_vocab(str(path))


def test_duplicate_vocab_lines_later_wins_warned_once(tmp_path, caplog):
  path = _write_vocab(tmp_path, ["[UNK]", "a", "b", "a", "b", "c"])
  with caplog.at_level(logging.WARNING):
    vocab = tokenization.load_vocab(path)
  assert dict(vocab) == {"[UNK]": 0, "a": 3, "b": 4, "c": 5}
  assert dict(vocab) == literal.load_vocab_lines(
      ["[UNK]", "a", "b", "a", "b", "c"])
  warnings = [r for r in caplog.records if "more than once" in r.getMessage()]
  assert len(warnings) == 1
  assert "2 token(s)" in warnings[0].getMessage()


def test_invalid_utf8_text_is_decoded_ignoring_errors():
  data = b"caf\xc3\xa9 \xff\xfeok \xe4\xb8\xad\xe6"  # last char truncated
  assert FULL[True].tokenize(data) == FULL[True].tokenize(u"caf\u00e9 ok \u4e2d")
  assert FULL[True].tokenize(data) == literal.full_tokenize(
      data.decode("utf-8", "ignore"), LITERAL_VOCAB)
  assert tokenization.convert_to_unicode(data) == u"caf\u00e9 ok \u4e2d"
  assert tokenization.printable_text(data) == u"caf\u00e9 ok \u4e2d"
  with pytest.raises(ValueError, match="Unsupported string type"):
    tokenization.convert_to_unicode(12)


def test_unknown_token_or_id_raises_key_error():
  with pytest.raises(KeyError):
    FULL[True].convert_tokens_to_ids(["not-a-token-at-all"])
  with pytest.raises(KeyError):
    FULL[True].convert_ids_to_tokens([10 ** 6])


def test_validate_case_matches_checkpoint():
  check = tokenization.validate_case_matches_checkpoint
  with pytest.raises(ValueError, match="uncased_L-12_H-768_A-12"):
    check(False, "/m/uncased_L-12_H-768_A-12/bert_model.ckpt")
  with pytest.raises(ValueError, match="multi_cased_L-12_H-768_A-12"):
    check(True, "gs://b/multi_cased_L-12_H-768_A-12/bert_model.ckpt")
  check(True, "/m/uncased_L-12_H-768_A-12/bert_model.ckpt")
  check(False, "/m/cased_L-24_H-1024_A-16/bert_model.ckpt")
  check(False, "/m/my_uncased_model/bert_model.ckpt")
  check(True, None)
  check(True, "")
