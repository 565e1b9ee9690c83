# coding=utf-8
"""Tests of tasks/tagging_data.py: readers, schemes, labels, windows."""

import logging as std_logging

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
from tasks import tagging_data as td
import tokenization

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(fixture_path("vocab_uncased.txt"),
                                    do_lower_case=True)


def write(tmp_path, name, text, encoding="utf-8"):
  path = tmp_path / name
  path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
  return str(path)


class PieceTokenizer(object):
  """Word "ab3" -> 3 pieces ("ab", "##x", "##x"); "ab0" -> no piece."""

  def tokenize(self, word):
    count = int(word[-1])
    return [word[:-1]] + ["##x"] * (count - 1) if count else []

  def convert_tokens_to_ids(self, tokens):
    return [1000 + sum(map(ord, token)) for token in tokens]


# Readers.


def test_read_conll(tmp_path):
  path = write(tmp_path, "train.txt", CONLL)
  sentences = td.read_sentences(path, "conll", has_tags=True)
  assert [s.words for s in sentences] == [
      ["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"]]
  assert [s.tags for s in sentences] == [
      ["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]]
  assert sentences[0].lines == [3, 4, 5, 6, 7]
  assert sentences[1].where(1) == path + ":10"


def test_conll_crlf_bom_and_docstart_without_blank_line(tmp_path):
  text = "\ufeffEU B-ORG\r\n-DOCSTART- O\r\nPeter B-PER\r\n"
  sentences = td.read_sentences(write(tmp_path, "t.txt", text), "conll")
  assert [s.words for s in sentences] == [["EU"], ["Peter"]]
  assert [s.tags for s in sentences] == [["B-ORG"], ["B-PER"]]


def test_conll_line_without_tag(tmp_path):
  path = write(tmp_path, "train.txt", CONLL.replace("call NN I-NP O",
                                                    "call"))
  with pytest.raises(ValueError, match=r"train\.txt:6: no tag on this line"):
    td.read_sentences(path, "conll", has_tags=True)


def test_conll_test_file_without_tags(tmp_path):
  path = write(tmp_path, "test.txt", "EU\nrejects\n\nPeter\n")
  sentences = td.read_sentences(path, "conll", has_tags=None)
  assert [s.words for s in sentences] == [["EU", "rejects"], ["Peter"]]
  assert all(s.tags is None for s in sentences)
  mixed = write(tmp_path, "mixed.txt", "EU\nrejects O\n")
  with pytest.raises(ValueError, match=r"mixed\.txt:2: a tag on this line"):
    td.read_sentences(mixed, "conll", has_tags=None)
  # has_tags=False ignores tags.
  tagged = write(tmp_path, "tagged.txt", "EU B-ORG\n")
  assert td.read_sentences(tagged, "conll", has_tags=False)[0].tags is None


def test_empty_split_and_missing_file(tmp_path):
  path = write(tmp_path, "dev.txt", "-DOCSTART- -X- -X- O\n\n\n")
  with pytest.raises(ValueError, match=r"dev\.txt: no sentences"):
    td.read_sentences(path, "conll")
  with pytest.raises(FileNotFoundError, match="nothere.txt: no such file"):
    td.read_sentences(str(tmp_path / "nothere.txt"))


def test_invalid_utf8_names_the_line(tmp_path):
  path = write(tmp_path, "train.txt", b"EU B-ORG\n\nbad\xff O\n")
  with pytest.raises(ValueError, match=r"train\.txt:3: not valid UTF-8"):
    td.read_sentences(path)


def test_malformed_tag(tmp_path):
  path = write(tmp_path, "train.txt", "EU B-ORG\nrejects PER\n")
  with pytest.raises(ValueError, match=r"train\.txt:2: tag 'PER' is neither"):
    td.read_sentences(path)


def test_read_jsonl(tmp_path):
  path = write(tmp_path, "train.jsonl",
               '{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n\n'
               '{"tokens": ["北", "京"], "tags": ["B-LOC", "I-LOC"], '
               '"id": 7}\n')
  sentences = td.read_sentences(path, "jsonl", has_tags=True)
  assert [s.words for s in sentences] == [["EU", "rejects"], ["北", "京"]]
  assert sentences[1].tags == ["B-LOC", "I-LOC"]
  assert sentences[1].where(1) == path + ":3 (token 2)"


@pytest.mark.parametrize("line,message", [
    ('{"tokens": ["a", "b"], "tags": ["O"]}', "2 tokens but 1 tags"),
    ('{"tokens": ["a"]}', "no tag on this line"),
    ('["a"]', "expected {"),
    ('{"tokens": "a b", "tags": ["O"]}', "'tokens' must be a list"),
    ('{"tokens": [], "tags": []}', "no tokens"),
    ("{not json", "not a JSON object"),
])
def test_jsonl_errors(tmp_path, line, message):
  path = write(tmp_path, "train.jsonl", '{"tokens": ["x"], "tags": ["O"]}\n'
               + line + "\n")
  with pytest.raises(ValueError, match=r"train\.jsonl:2: " + message):
    td.read_sentences(path, "jsonl", has_tags=True)


def test_jsonl_test_file_without_tags(tmp_path):
  path = write(tmp_path, "test.jsonl", '{"tokens": ["EU", "rejects"]}\n')
  assert td.read_sentences(path, "jsonl")[0].tags is None


def test_chars_one_character_per_line(tmp_path):
  # Space and tab separators, an extra column, and an ideographic space
  # (a whitespace character) as a token.
  text = "我 O\n爱\tO\n北 ns B-LOC\n京 I-LOC\n\u3000 O\n\n上 B-LOC\n海 I-LOC\n"
  sentences = td.read_sentences(write(tmp_path, "train.txt", text), "chars",
                                has_tags=True)
  assert [s.words for s in sentences] == [
      ["我", "爱", "北", "京", "\u3000"], ["上", "海"]]
  assert sentences[0].tags == ["O", "O", "B-LOC", "I-LOC", "O"]
  assert sentences[1].lines == [7, 8]


def test_chars_one_sentence_per_line(tmp_path):
  text = ("我爱北京\tO O B-LOC I-LOC\n"
          "好\tO\n"  # one character: the other lines decide the layout
          "上海 浦东\tB-LOC I-LOC O B-LOC I-LOC\n")
  sentences = td.read_sentences(write(tmp_path, "train.txt", text), "chars",
                                has_tags=True)
  assert [s.words for s in sentences] == [
      list("我爱北京"), ["好"], ["上", "海", " ", "浦", "东"]]
  assert sentences[2].tags == ["B-LOC", "I-LOC", "O", "B-LOC", "I-LOC"]
  assert sentences[2].where(3).endswith("train.txt:3 (token 4)")


def test_chars_errors_and_test_files(tmp_path):
  path = write(tmp_path, "train.txt", "我爱北京\tO O B-LOC\n")
  with pytest.raises(ValueError, match=r"train\.txt:1: 4 characters but 3 "):
    td.read_sentences(path, "chars", has_tags=True)
  path = write(tmp_path, "dev.txt", "北 B-LOC\n京\n")
  with pytest.raises(ValueError, match=r"dev\.txt:2: no tag on this line"):
    td.read_sentences(path, "chars", has_tags=True)
  test = td.read_sentences(write(tmp_path, "test.txt", "我爱北京\n上海\n"),
                           "chars")
  assert [s.words for s in test] == [list("我爱北京"), list("上海")]
  assert test[0].tags is None
  test = td.read_sentences(write(tmp_path, "test2.txt", "北\n京\n\n海\n"),
                           "chars")
  assert [s.words for s in test] == [["北", "京"], ["海"]]


# Labels and schemes.


def test_label_list_from_training_file(tmp_path):
  sentences = td.read_sentences(write(tmp_path, "train.txt", CONLL))
  assert td.label_list_from_sentences(sentences) == [
      "O", "B-MISC", "B-ORG", "B-PER", "I-PER"]


def test_label_file(tmp_path):
  path = write(tmp_path, "labels.txt", "O\nB-PER\n\nI-PER\nB-LOC\n")
  assert td.read_label_file(path) == ["O", "B-PER", "I-PER", "B-LOC"]
  with pytest.raises(ValueError, match=r"twice\.txt:2: tag 'O' is listed "):
    td.read_label_file(write(tmp_path, "twice.txt", "O\nO\n"))
  with pytest.raises(ValueError, match=r"bad\.txt:1: tag 'PER' is neither"):
    td.read_label_file(write(tmp_path, "bad.txt", "PER\n"))
  with pytest.raises(ValueError, match=r"empty\.txt: no tags"):
    td.read_label_file(write(tmp_path, "empty.txt", "\n"))


def test_unknown_tag_in_dev(tmp_path):
  train = td.read_sentences(write(tmp_path, "train.txt", CONLL))
  labels = td.label_list_from_sentences(train)
  path = write(tmp_path, "dev.txt", "Paris B-LOC\n")
  with pytest.raises(ValueError, match=r"dev\.txt:1: unknown tag 'B-LOC'"):
    td.read_split(path, "conll", labels, "iob2")


def test_tag_outside_the_scheme(tmp_path):
  path = write(tmp_path, "train.txt", "EU S-ORG\n")
  with pytest.raises(ValueError, match=r"train\.txt:1: tag 'S-ORG' is not in "
                     "the IOB2 scheme"):
    td.read_split(path, "conll", ["O", "S-ORG"], "iob2")


def sentences_of(*tag_lists):
  return [td.Sentence(["w"] * len(tags), list(tags), "f.txt",
                      list(range(1, len(tags) + 1))) for tags in tag_lists]


def test_detect_scheme():
  # CoNLL-2003's original files are IOB1: entities start with I-, and B-
  # only separates two entities of the same type.
  assert td.detect_scheme(sentences_of(
      ["I-PER", "I-PER", "O", "I-LOC", "B-LOC"])) == "iob1"
  assert td.detect_scheme(sentences_of(["B-PER", "I-PER", "O", "B-LOC"],
                                       ["O"])) == "iob2"
  # An I- start among B- starts: IOB2 with an inconsistent tag.
  assert td.detect_scheme(sentences_of(["B-PER", "O", "I-LOC"])) == "iob2"
  assert td.detect_scheme(sentences_of(["S-PER", "O", "B-LOC",
                                        "E-LOC"])) == "iobes"
  assert td.resolve_scheme("BIO", []) == "iob2"
  assert td.resolve_scheme("auto", sentences_of(["S-PER"])) == "iobes"
  with pytest.raises(ValueError, match="--tag_scheme=io: unknown"):
    td.resolve_scheme("io", [])


def test_inconsistent_i_tag_warns_with_file_and_line(tmp_path, caplog):
  path = write(tmp_path, "train.txt",
               "EU B-ORG\nrejects O\nGerman I-MISC\ncall O\n\n"
               "Peter B-PER\nBlackburn I-LOC\n")
  labels = ["O", "B-ORG", "B-PER", "I-LOC", "I-MISC"]
  with caplog.at_level(std_logging.WARNING):
    sentences = td.read_split(path, "conll", labels, "iob2")
  assert len(sentences) == 2
  messages = [r.getMessage() for r in caplog.records]
  assert any(path + ":3: I-MISC after O starts an entity" in m
             for m in messages)
  assert any(path + ":7: I-LOC after B-PER starts an entity" in m
             for m in messages)
  # IOB1 allows an entity to start with I-.
  assert td.check_sentences(sentences, labels, "iob1") == []


def test_iobes_warnings():
  [sentence] = sentences_of(["B-PER", "O", "E-LOC", "S-ORG"])
  warnings = td.scheme_warnings(sentence, "iobes")
  assert len(warnings) == 2
  assert warnings[0].startswith("f.txt:1: B-PER is not followed by I-PER")
  assert warnings[1].startswith("f.txt:3: E-LOC after O starts an entity")
  [fine] = sentences_of(["B-PER", "I-PER", "E-PER", "S-LOC", "O"])
  assert td.scheme_warnings(fine, "iobes") == []


def test_many_warnings_are_counted(caplog):
  sentences = sentences_of(*(["I-PER"] for _ in range(25)))
  with caplog.at_level(std_logging.WARNING):
    warnings = td.check_sentences(sentences, ["O", "I-PER"], "iob2")
  assert len(warnings) == 25
  assert len(caplog.records) == td.MAX_LOGGED_WARNINGS + 1
  assert "15 more tags break the IOB2 scheme" in caplog.records[-1].getMessage()


# Windows.


def test_tokenize_words_maps(tokenizer):
  pieces, piece_to_word, word_to_first = td.tokenize_words(
      tokenizer, ["Huggingface", "\u200b", "U.S.", "北"])
  assert pieces == ["hugging", "##face", "u", ".", "s", ".", "北"]
  assert piece_to_word == [0, 0, 2, 2, 2, 2, 3]
  assert word_to_first == [0, -1, 2, 6]


def test_english_features(tokenizer):
  sentence = td.Sentence(["Huggingface", "rejects", "\u200b", "U.S.", "call"],
                         ["B-ORG", "O", "O", "B-LOC", "O"], "t.txt",
                         [1, 2, 3, 4, 5])
  labels = ["O", "B-LOC", "B-ORG"]
  [feature] = list(td.convert_sentences_to_features(
      [sentence], tokenizer, labels, max_seq_length=12, doc_stride=4))
  assert feature.tokens == ["[CLS]", "hugging", "##face", "rejects", "u", ".",
                            "s", ".", "call", "[SEP]"]
  assert feature.input_ids == tokenizer.convert_tokens_to_ids(
      feature.tokens) + [0, 0]
  assert feature.input_mask == [1] * 10 + [0, 0]
  assert feature.segment_ids == [0] * 12
  # The first piece carries the tag; other pieces, specials, padding: -1.
  assert feature.label_ids == [-1, 2, -1, 0, 1, -1, -1, -1, 0, -1, -1, -1]
  assert feature.label_weights == [0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0]
  assert feature.word_ids == [-1, 0, 0, 1, 3, 3, 3, 3, 4, -1, -1, -1]


def test_chinese_features_with_windows(tokenizer):
  # One piece per character ([UNK] for 爱, 门); 7 pieces, windows of 4
  # every 2: [0-3] [2-5] [4-6]; best windows 0 0 0 1 1 2 2.
  sentence = td.Sentence(list("我爱北京天安门"),
                         ["O", "O", "B-LOC", "I-LOC", "B-LOC", "I-LOC",
                          "I-LOC"], "t.txt", [1] * 7)
  features = list(td.convert_sentences_to_features(
      [sentence], tokenizer, ["O", "B-LOC", "I-LOC"], max_seq_length=6,
      doc_stride=2))
  assert [f.tokens for f in features] == [
      ["[CLS]", "我", "[UNK]", "北", "京", "[SEP]"],
      ["[CLS]", "北", "京", "天", "安", "[SEP]"],
      ["[CLS]", "天", "安", "[UNK]", "[SEP]"]]
  assert features[0].label_ids == [-1, 0, 0, 1, 2, -1]
  assert features[0].label_weights == [0, 1, 1, 1, 0, 0]
  assert features[1].label_weights == [0, 0, 1, 1, 0, 0]
  assert features[2].label_ids == [-1, 1, 2, 2, -1, -1]
  assert features[2].label_weights == [0, 0, 1, 1, 0, 0]
  assert features[2].input_mask == [1, 1, 1, 1, 1, 0]
  assert [f.sentence_index for f in features] == [0, 0, 0]
  assert [f.window_index for f in features] == [0, 1, 2]


def test_record_round_trip(tokenizer):
  sentence = td.Sentence(["Huggingface", "call"], ["B-ORG", "O"], "t.txt",
                         [1, 2])
  [feature] = td.sentence_features(sentence, 7, tokenizer,
                                   {"O": 0, "B-ORG": 1}, 8, 3)
  parsed = tf.io.parse_single_example(td.feature_record(feature),
                                      td.record_spec(8))
  assert set(parsed) == {name for name, _ in td.RECORD_FEATURES}
  for name in ("input_ids", "input_mask", "segment_ids", "label_ids",
               "word_ids"):
    assert parsed[name].numpy().tolist() == getattr(feature, name), name
  assert parsed["label_weights"].numpy().tolist() == feature.label_weights
  assert parsed["sentence_index"].numpy().tolist() == [7]
  example = tf.train.Example.FromString(td.feature_record(feature))
  assert example.features.feature["label_ids"].int64_list.value[0] == -1


def test_small_max_seq_length_and_stride_are_refused(tokenizer):
  with pytest.raises(ValueError, match="--max_seq_length=2"):
    list(td.convert_sentences_to_features([], tokenizer, ["O"], 2, 1))
  with pytest.raises(ValueError, match="--doc_stride=0"):
    list(td.convert_sentences_to_features([], tokenizer, ["O"], 8, 0))


def predictions_of(features, tag_ids_of):
  """Per-window predictions as a Task would return them."""
  return [{"sentence_index": np.array([f.sentence_index]),
           "word_ids": np.array(f.word_ids),
           "label_weights": np.array(f.label_weights, np.float32),
           "tag_ids": np.array(tag_ids_of(f))} for f in features]


def test_predictions_back_to_words(tokenizer):
  sentences = [
      td.Sentence(["Huggingface", "\u200b", "call"], None, "t.txt", [1, 2, 3]),
      td.Sentence(["\u200b"], None, "t.txt", [5]),  # no piece at all
      td.Sentence(list("我爱北京天安门"), None, "t.txt", [7] * 7)]
  labels = ["O", "B-LOC", "I-LOC"]
  features = list(td.convert_sentences_to_features(
      sentences, tokenizer, labels, max_seq_length=6, doc_stride=2))
  assert {f.sentence_index for f in features} == {0, 2}

  def tag_ids_of(feature):
    # Each window predicts its own index + 1 everywhere, so the result shows
    # which window each word was read from.
    return [min(feature.window_index + 1, 2)] * len(feature.word_ids)

  tags = td.word_tags_from_predictions(
      sentences, reversed(predictions_of(features, tag_ids_of)), labels,
      tokenizer)
  assert tags[0] == ["B-LOC", "O", "B-LOC"]
  assert tags[1] == ["O"]
  # Best windows 0 0 0 1 1 2 2 (see test_chinese_features_with_windows).
  assert tags[2] == ["B-LOC"] * 3 + ["I-LOC"] * 4


def test_missing_or_repeated_window_is_an_error(tokenizer):
  sentences = [td.Sentence(list("我爱北京天安门"), None, "t.txt", [3] * 7)]
  features = list(td.convert_sentences_to_features(
      sentences, tokenizer, ["O"], max_seq_length=6, doc_stride=2))
  predictions = predictions_of(features, lambda f: [0] * 6)
  with pytest.raises(ValueError, match=r"t\.txt:3 \(token 6\): word '安' "
                     "has no prediction"):
    td.word_tags_from_predictions(sentences, predictions[:2], ["O"],
                                  tokenizer)
  with pytest.raises(ValueError, match="is predicted twice"):
    td.word_tags_from_predictions(sentences, predictions + predictions[:1],
                                  ["O"], tokenizer)


words_strategy = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(["O", "B-X", "I-X"])),
    min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(words_strategy, st.integers(3, 12), st.integers(1, 12))
def test_every_word_is_predicted_once(word_specs, max_seq_length, stride):
  tokenizer = PieceTokenizer()
  words = ["w%d%d" % (i, count) for i, (count, _) in enumerate(word_specs)]
  tags = [tag for _, tag in word_specs]
  labels = ["O", "B-X", "I-X"]
  sentence = td.Sentence(words, tags, "t.txt", list(range(len(words))))
  features = list(td.convert_sentences_to_features(
      [sentence], tokenizer, labels, max_seq_length, stride))
  predicted_at = {}
  for feature in features:
    assert len(feature.input_ids) == max_seq_length
    for position, weight in enumerate(feature.label_weights):
      word = feature.word_ids[position]
      label = feature.label_ids[position]
      piece_index = feature.tokens[position] if position < len(
          feature.tokens) else None
      is_first = piece_index is not None and not piece_index.startswith("##")
      if word >= 0 and is_first:
        assert label == labels.index(tags[word])
      else:
        assert label == -1
      if weight:
        assert label >= 0
        assert word not in predicted_at
        predicted_at[word] = feature.window_index
  with_pieces = {i for i, (count, _) in enumerate(word_specs) if count}
  assert set(predicted_at) == with_pieces
  # Decoding with the gold ids gives the gold tags, "O" for pieceless words.
  result = td.word_tags_from_predictions(
      [sentence._replace(tags=None)],
      predictions_of(features, lambda f: [max(i, 0) for i in f.label_ids]),
      labels, tokenizer)
  assert result == [[tag if i in with_pieces else "O"
                     for i, tag in enumerate(tags)]]


def test_log_feature(tokenizer, caplog):
  sentence = td.Sentence(["Huggingface"], ["B-ORG"], "t.txt", [1])
  [feature] = td.sentence_features(sentence, 0, tokenizer, {"B-ORG": 0}, 6, 2)
  with caplog.at_level(std_logging.INFO, logger="absl"):
    td.log_feature(feature)
  messages = [r.getMessage() for r in caplog.records]
  assert "tokens: [CLS] hugging ##face [SEP]" in messages
  assert "label_ids: -1 0 -1 -1" in messages
