# coding=utf-8
"""albert/squad_utils.py against the outputs of ALBERT's own code.

Reference: tests/fixtures/albert/squad/ (ALBERT's read_squad_examples,
convert_examples_to_features, FeatureWriter and v1/v2 post-processing,
google-research/albert b772393, on tests/fixtures/squad/squad-v*.json with
spm_tiny.model; provenance in tests/fixtures/README.md). Beyond the
reference: other texts against a literal reading of ALBERT's alignment
(tests/literal_albert_squad.py), answers across windows, Unicode, errors.
"""

import collections
import gzip
import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import literal_albert_squad
from test_albert_classifier_data import canonical_sha256
import run_squad
from albert import squad_utils
from albert import tokenization

SETTINGS = dict(max_seq_length=64, doc_stride=32, max_query_length=16)
N_BEST, MAX_ANSWER, N_TOP = 5, 10, 3
VERSIONS = ["v2.0", "v1.1"]
SPLITS = [(v, s) for v in VERSIONS for s in ("train", "eval")]


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(
      None, do_lower_case=True,
      spm_model_file=fixture_path("albert", "spm_tiny.model"))


def _read(*parts):
  """Text of a fixture file (gunzipped when it ends in .gz)."""
  path = fixture_path("albert", "squad", *parts)
  if path.endswith(".gz"):
    with gzip.open(path, "rt", encoding="utf-8") as f:
      return f.read()
  with open(path, encoding="utf-8") as f:
    return f.read()


def _jsonl(*parts):
  return [json.loads(line) for line in _read(*parts).splitlines()]


def _summary():
  return json.loads(_read("summary.json"))


def _input_file(version):
  return fixture_path("squad", "squad-%s.json" % version)


def _features(tokenizer, examples, is_training, do_lower_case=True,
              **settings):
  features = []
  kwargs = dict(SETTINGS, **settings)
  squad_utils.convert_examples_to_features(
      examples, tokenizer, kwargs["max_seq_length"], kwargs["doc_stride"],
      kwargs["max_query_length"], is_training, features.append, do_lower_case)
  return features


@pytest.fixture(scope="module")
def data(tokenizer):
  """(examples, features) per (version, split)."""
  out = {}
  for version, split in SPLITS:
    examples = squad_utils.read_squad_examples(_input_file(version),
                                               split == "train")
    out[version, split] = (examples, _features(tokenizer, examples,
                                               split == "train"))
  return out


@pytest.mark.parametrize("version,split", SPLITS)
def test_examples_equal_alberts(data, version, split):
  examples, _ = data[version, split]
  ours = [dict(qas_id=e.qas_id, question_text=e.question_text,
               orig_answer_text=e.orig_answer_text,
               start_position=e.start_position, is_impossible=e.is_impossible)
          for e in examples]
  assert ours == _jsonl(version, "examples_%s.jsonl.gz" % split)


def _as_json(feature):
  """A feature as the reference's jsonl writes it."""
  row = dict(vars(feature))
  row["token_is_max_context"] = [
      [k, v] for k, v in feature.token_is_max_context.items()]
  return row


@pytest.mark.parametrize("version,split", SPLITS)
def test_features_equal_alberts(data, version, split):
  """Every field of every window: alignment maps, pieces, ids, p_mask."""
  _, features = data[version, split]
  reference = _jsonl(version, "features_%s.jsonl.gz" % split)
  assert len(features) == len(reference) == _summary()["versions"][version][
      split]["num_features"]
  for feature, want in zip(features, reference):
    got = _as_json(feature)
    for key in want:
      assert got[key] == want[key], (feature.unique_id, key)


@pytest.mark.parametrize("version,split", SPLITS)
def test_records_equal_alberts(data, tmp_path, version, split):
  """FeatureWriter: the reference's record digests; the reader reads them."""
  _, features = data[version, split]
  path = str(tmp_path / "records.tf_record")
  writer = squad_utils.FeatureWriter(path, is_training=split == "train")
  for feature in features:
    writer.process_feature(feature)
  writer.close()
  assert writer.num_features == len(features)
  want = _summary()["versions"][version][split]
  assert canonical_sha256(path, str(tmp_path / "c")) == want[
      "record_canonical_sha256"]
  # (The reference's raw record_sha256 is not comparable: ALBERT's writer ran
  # on protobuf's default backend, whose map order varies.)
  input_fn = squad_utils.input_fn_builder(
      path, 64, is_training=False, drop_remainder=False, use_tpu=False,
      bsz=1000, is_v2=True)
  batch = next(iter(input_fn({})))
  assert batch["unique_ids"].dtype == tf.int64
  np.testing.assert_array_equal(batch["p_mask"],
                                [f.p_mask for f in features])
  np.testing.assert_array_equal(batch["unique_ids"],
                                [f.unique_id for f in features])


def _v2_results():
  return [squad_utils.RawResultV2(**row)
          for row in _jsonl("v2.0", "fake_results.jsonl.gz")]


def _v2_accumulated(data):
  examples, features = data["v2.0", "eval"]
  result_dict, cls_dict = {}, {}
  squad_utils.accumulate_predictions_v2(
      result_dict, cls_dict, examples, features, _v2_results(), N_BEST,
      MAX_ANSWER, N_TOP, N_TOP)
  return examples, features, result_dict, cls_dict


def _output_files(tmp_path):
  return [str(tmp_path / name) for name in
          ("predictions.json", "nbest_predictions.json", "null_odds.json")]


def _assert_files_equal(paths, folder):
  for path, name in zip(paths, ("predictions.json",
                                "nbest_predictions.json.gz",
                                "null_odds.json")):
    with open(path, encoding="utf-8") as f:
      assert f.read() == _read(*folder + (name,)), name


@pytest.mark.parametrize("threshold,folder", [(None, "threshold_none"),
                                              (0.0, "threshold_0.0")])
def test_v2_prediction_files_equal_alberts(data, tmp_path, threshold, folder):
  examples, features, result_dict, cls_dict = _v2_accumulated(data)
  paths = _output_files(tmp_path)
  predictions, null_odds = squad_utils.write_predictions_v2(
      result_dict, cls_dict, examples, features, _v2_results(), N_BEST,
      MAX_ANSWER, *paths, null_score_diff_threshold=threshold)
  _assert_files_equal(paths, ("v2.0", folder))
  assert list(predictions) == [e.qas_id for e in examples]
  assert json.loads(_read("v2.0", folder, "null_odds.json")) == null_odds


def test_evaluate_v2_equals_alberts(data, tmp_path):
  """The best-F1 threshold, the rewritten files and the metrics."""
  examples, features, result_dict, cls_dict = _v2_accumulated(data)
  paths = _output_files(tmp_path)
  result = squad_utils.evaluate_v2(
      result_dict, cls_dict, run_squad.load_squad_json(_input_file("v2.0")),
      examples, features, _v2_results(), N_BEST, MAX_ANSWER, *paths)
  assert result == _summary()["versions"]["v2.0"]["evaluate_v2"]
  assert list(result) == ["exact", "f1", "total", "null_score_diff_threshold"]
  _assert_files_equal(paths, ("v2.0", "evaluate_v2"))


def test_v1_predictions_equal_alberts(data, tmp_path):
  examples, features = data["v1.1", "eval"]
  npz = np.load(fixture_path("albert", "squad", "v1.1", "fake_results.npz"))
  results = [squad_utils.raw_result_v1(
      {"unique_ids": u, "start_log_prob": s, "end_log_prob": e})
             for u, s, e in zip(npz["unique_id"], npz["start_log_prob"],
                                npz["end_log_prob"])]
  assert isinstance(results[0].start_log_prob[0], float)
  result_dict = {}
  squad_utils.accumulate_predictions_v1(result_dict, examples, features,
                                        results, N_BEST, MAX_ANSWER)
  paths = _output_files(tmp_path)[:2]
  predictions = squad_utils.write_predictions_v1(
      result_dict, examples, features, results, N_BEST, MAX_ANSWER, *paths)
  _assert_files_equal(paths, ("v1.1",))
  metrics = squad_utils.evaluate_v1(
      run_squad.load_squad_json(_input_file("v1.1")), predictions)
  assert metrics == _summary()["versions"]["v1.1"]["evaluate_v1"]


# Beyond the reference files.

_TEXTS = [
    # Accents, a ligature (NFKD: 2 characters), full-width letters, CJK,
    # an emoji, dotted capital I, the digit-comma rule, runs of whitespace.
    "Café  déjà vu: ﬁne ＡＢＣ text, 東京 and 🙂!\tİstanbul had 1,000,000 "
    "people\n\nin 1,5 cases (Ø, ß, Æ).",
    "Plain ASCII text with `code`, 'quotes' and \"double quotes\" -- and "
    "dashes – too. The function f(1, 2) returns 3.",
    "  Leading and trailing spaces, then\u2028a line separator and \u00a0a "
    "no-break space.  ",
    # Long: many windows, and |n - m| large enough to matter.
    " ".join("Paragraph sentence number %d mentions Zürich and ﬂour." % i
             for i in range(12)),
]


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("text", _TEXTS)
def test_alignment_equals_literal_albert(tokenizer, text, do_lower_case):
  ours = squad_utils.align_paragraph(tokenizer.sp_model, text, do_lower_case)
  literal = literal_albert_squad.align(tokenizer.sp_model, text,
                                       do_lower_case)
  assert literal is not None
  pieces, starts, ends, orig_to_chartok, chartok_to_tok = literal
  assert ours.piece_ids == [tokenizer.sp_model.PieceToId(p) for p in pieces]
  assert ours.tok_start_to_orig_index == starts
  assert ours.tok_end_to_orig_index == ends
  assert ours.orig_to_chartok_index == orig_to_chartok
  assert ours.chartok_to_tok_index == chartok_to_tok


def test_mismatched_paragraph_gets_no_feature_as_in_albert(tokenizer):
  """Mostly ligatures: each becomes two characters, so under 80% align."""
  text = "ﬁﬂﬃ ﬁﬂ ﬃﬁ " * 6 + "ok"
  assert literal_albert_squad.align(tokenizer.sp_model, text, True) is None
  assert squad_utils.align_paragraph(tokenizer.sp_model, text, True) is None
  examples = [squad_utils.SquadExample("a", "What?", text),
              squad_utils.SquadExample("b", "What?", _TEXTS[1])]
  features = _features(tokenizer, examples, False)
  assert {f.example_index for f in features} == {1}
  assert features[0].unique_id == 1000000000


def test_second_pass_doubles_the_band(tokenizer, monkeypatch):
  """A context the first band cannot align: the doubled band does.

  Three ligatures make the pieces' text 6 characters longer early on and a
  run of 7 spaces (one after preprocess_text) 6 shorter near the end: the
  lengths nearly agree (band 6), but the middle is shifted by 6, outside it.
  """
  text = "ﬃ" * 3 + " middle plain text words" * 4 + " " * 7 + "end."
  bands = []
  kernel = squad_utils._banded_lcs

  def spy(orig, tok, max_dist, f, g):
    kernel(orig, tok, max_dist, f, g)
    bands.append(max_dist)

  monkeypatch.setattr(squad_utils, "_banded_lcs", spy)
  ours = squad_utils.align_paragraph(tokenizer.sp_model, text, True)
  assert bands == [6, 12]
  literal = literal_albert_squad.align(tokenizer.sp_model, text, True)
  assert ours.tok_start_to_orig_index == literal[1]
  assert ours.tok_end_to_orig_index == literal[2]
  assert ours.orig_to_chartok_index == literal[3]


def test_piece_maps_point_at_the_pieces_text(tokenizer):
  """For ASCII text each piece's characters are its original characters.

  (A lone U+2581 piece is a space that may align with nothing: ALBERT then
  gives it its neighbour's character, so only pieces with text count.)
  """
  text = _TEXTS[1]
  alignment = squad_utils.align_paragraph(tokenizer.sp_model, text, True)
  pieces = tokenizer.sp_model.IdToPiece(alignment.piece_ids)
  checked = 0
  for piece, start, end in zip(pieces, alignment.tok_start_to_orig_index,
                               alignment.tok_end_to_orig_index):
    piece_text = piece.replace(u"\u2581", " ").strip()
    if piece_text:
      assert text[start:end + 1].lower().strip() == piece_text, piece
      checked += 1
  assert checked > 0.8 * len(pieces)


def _straddling_example():
  """A training example whose answer crosses the first window's end."""
  context = " ".join("word%d" % i for i in range(40))
  answer = "word13 word14 word15"
  return squad_utils.SquadExample("q", "Which words?", context, answer,
                                  context.index(answer))


def test_answer_straddling_windows(tokenizer):
  """Only the window holding the whole answer has positions; they map back.

  The window that cuts the answer is impossible with positions 0, as ALBERT.
  """
  example = _straddling_example()
  features = _features(tokenizer, [example], True, max_seq_length=32,
                       doc_stride=8)
  assert len(features) > 3
  answered = [f for f in features if not f.is_impossible]
  assert answered and all(f.start_position > 0 for f in answered)
  offset = 2 + features[0].tokens[1:].index("[SEP]")
  cut = 0
  for feature in features:
    first = feature.tok_start_to_orig_index[0]
    last = feature.tok_end_to_orig_index[-1]
    start = example.start_position
    end = start + len(example.orig_answer_text) - 1
    if feature.is_impossible:
      assert (feature.start_position, feature.end_position) == (0, 0)
      assert not first <= start <= end <= last
      cut += first <= end and start <= last  # partly inside
      continue
    begin = feature.tok_start_to_orig_index[feature.start_position - offset]
    stop = feature.tok_end_to_orig_index[feature.end_position - offset]
    assert example.paragraph_text[begin:stop + 1] == example.orig_answer_text
  assert cut >= 1


def test_straddling_answer_is_predicted_from_its_max_context_window(
    tokenizer, tmp_path):
  """v2 post-processing over several windows: the span found in one window
  (where its start has maximum context) comes back as the original text."""
  example = _straddling_example()
  example = squad_utils.SquadExample(example.qas_id, example.question_text,
                                     example.paragraph_text)
  features = _features(tokenizer, [example], False, max_seq_length=32,
                       doc_stride=8)
  target = "word13 word14 word15"
  results = []
  for feature in features:
    offset = feature.tokens.index("[SEP]") + 1
    text = lambda s, e, f=feature: example.paragraph_text[
        f.tok_start_to_orig_index[s]:f.tok_end_to_orig_index[e] + 1]
    spans = [(s, e) for s in range(len(feature.tok_start_to_orig_index))
             for e in range(s, len(feature.tok_end_to_orig_index))
             if text(s, e) == target and
             feature.token_is_max_context[s + offset]]
    start, end = (spans[0][0] + offset, spans[0][1] + offset) if spans else (
        0, 0)
    results.append(squad_utils.raw_result_v2({
        "unique_ids": np.int64(feature.unique_id),
        "start_top_log_probs": np.float32([-0.1, -2, -3]),
        "start_top_index": np.int32([start, 0, 0]),
        "end_top_log_probs": np.float32([-0.2] + [-5] * 8),
        "end_top_index": np.int32([end] + [0] * 8),
        "cls_logits": np.float32([3.0])}))
  assert sum(1 for r in results if r.start_top_index[0]) == 1
  result_dict, cls_dict = {}, {}
  squad_utils.accumulate_predictions_v2(result_dict, cls_dict, [example],
                                        features, results, N_BEST, 20, 3, 3)
  predictions, null_odds = squad_utils.write_predictions_v2(
      result_dict, cls_dict, [example], features, results, N_BEST, 20,
      *_output_files(tmp_path), null_score_diff_threshold=None)
  assert predictions == {"q": target}
  assert null_odds == {"q": 3.0}
  nbest = json.loads((tmp_path / "nbest_predictions.json").read_text())
  assert nbest["q"][0]["text"] == target
  assert abs(nbest["q"][0]["start_log_prob"] - float(np.float32(-0.1))) == 0


def test_unicode_answer_maps_to_original_characters(tokenizer):
  """Lower-cased, accent-stripped pieces still give the original answer."""
  context = "Die Stadt Zürich liegt am Zürichsee; ÉCOLE ﬁnale à Genève."
  answer = "Genève"
  example = squad_utils.SquadExample("u", "Wo?", context, answer,
                                     context.index(answer))
  (feature,) = _features(tokenizer, [example], True)
  offset = feature.tokens.index("[SEP]") + 1
  begin = feature.tok_start_to_orig_index[feature.start_position - offset]
  stop = feature.tok_end_to_orig_index[feature.end_position - offset]
  assert context[begin:stop + 1] == answer
  assert feature.p_mask[:offset] == [0] + [1] * (offset - 1)
  assert feature.p_mask[offset:feature.paragraph_len - 1] == [0] * (
      feature.paragraph_len - 1 - offset)


def test_paragraph_alignment_is_shared_by_its_questions(tokenizer,
                                                        monkeypatch):
  calls = collections.Counter()
  align = squad_utils.align_paragraph

  def counting(sp_model, text, lower):
    calls[text] += 1
    return align(sp_model, text, lower)

  monkeypatch.setattr(squad_utils, "align_paragraph", counting)
  examples = [squad_utils.SquadExample(str(i), "Q%d?" % i, _TEXTS[i // 3])
              for i in range(6)]
  features = _features(tokenizer, examples, False)
  assert sorted(calls.values()) == [1, 1]
  assert sorted({f.example_index for f in features}) == list(range(6))


def test_bad_input_is_refused(tokenizer, tmp_path):
  wordpiece = tokenization.FullTokenizer(fixture_path("vocab_uncased.txt"))
  with pytest.raises(ValueError, match="SentencePiece"):
    _features(wordpiece, [], False)
  with pytest.raises(ValueError, match="max_query_length"):
    _features(tokenizer, [], False, max_seq_length=19)
  bad = {"data": [{"paragraphs": [{"context": "short", "qas": [
      {"id": "x", "question": "?", "answers": [
          {"text": "far away", "answer_start": 3}]}]}]}]}
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(bad))
  with pytest.raises(run_squad.SquadFormatError,
                     match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\]"):
    squad_utils.read_squad_examples(str(path), is_training=True)
  examples = squad_utils.read_squad_examples(str(path), is_training=False)
  features = _features(tokenizer, examples, False)
  with pytest.raises(ValueError, match="unique_id 1000000000"):
    squad_utils.accumulate_predictions_v2({}, {}, examples, features, [], 5,
                                          10, 3, 3)
