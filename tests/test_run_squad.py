"""run_squad.py data and prediction code against Google's own outputs.

The reference (tests/fixtures/squad, from shared/reference/squad) was made by
Google's run_squad.py on a small SQuAD 1.1 / 2.0 set with max_seq_length 64,
doc_stride 24, max_query_length 16, n_best_size 5, max_answer_length 10.
"""

import gzip
import json
import random

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import run_squad
import squad_evaluate
import tokenization

MAX_SEQ_LENGTH = 64
DOC_STRIDE = 24
MAX_QUERY_LENGTH = 16
N_BEST_SIZE = 5
MAX_ANSWER_LENGTH = 10

VERSIONS = {"v1.1": False, "v2.0": True}


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(
      fixture_path("vocab_uncased.txt"), do_lower_case=True)


def squad_file(version):
  return fixture_path("squad", "squad-%s.json" % version)


def read_jsonl(version, name):
  with gzip.open(fixture_path("squad", version, name + ".jsonl.gz"),
                 "rt", encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def read_examples(version, is_training):
  return run_squad.read_squad_examples(
      squad_file(version), is_training,
      version_2_with_negative=VERSIONS[version])


def convert(examples, tokenizer, is_training):
  features = []
  run_squad.convert_examples_to_features(examples, tokenizer, MAX_SEQ_LENGTH,
                                         DOC_STRIDE, MAX_QUERY_LENGTH,
                                         is_training, features.append)
  return features


def example_as_json(example):
  return {
      "qas_id": example.qas_id,
      "question_text": example.question_text,
      "doc_tokens": example.doc_tokens,
      "orig_answer_text": example.orig_answer_text,
      "start_position": example.start_position,
      "end_position": example.end_position,
      "is_impossible": example.is_impossible,
  }


def feature_as_json(feature, examples):
  # The reference writes the dicts' int keys as strings, in insertion order.
  return {
      "unique_id": feature.unique_id,
      "example_index": feature.example_index,
      "qas_id": examples[feature.example_index].qas_id,
      "doc_span_index": feature.doc_span_index,
      "tokens": feature.tokens,
      "token_to_orig_map": {
          str(k): v for k, v in feature.token_to_orig_map.items()
      },
      "token_is_max_context": {
          str(k): v for k, v in feature.token_is_max_context.items()
      },
      "input_ids": feature.input_ids,
      "input_mask": feature.input_mask,
      "segment_ids": feature.segment_ids,
      "start_position": feature.start_position,
      "end_position": feature.end_position,
      "is_impossible": feature.is_impossible,
  }


def load_results(version):
  """The stored fake logits as main() hands them over: Python floats."""
  data = np.load(fixture_path("squad", version, "all_results.npz"))
  return [
      run_squad.RawResult(
          unique_id=int(u),
          start_logits=[float(x) for x in s],
          end_logits=[float(x) for x in e])
      for u, s, e in zip(data["unique_ids"], data["start_logits"],
                         data["end_logits"])
  ]


def parse_records(path, is_training):
  names = ["unique_ids", "input_ids", "input_mask", "segment_ids"]
  if is_training:
    names += ["start_positions", "end_positions", "is_impossible"]
  records = []
  for raw in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(raw.numpy())
    feature = example.features.feature
    assert sorted(feature.keys()) == sorted(names)
    records.append({n: list(feature[n].int64_list.value) for n in names})
  return records


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_examples_and_features_match_google(version, mode, tokenizer):
  is_training = mode == "train"
  examples = read_examples(version, is_training)
  assert [example_as_json(e) for e in examples] == read_jsonl(
      version, "examples_" + mode)
  features = convert(examples, tokenizer, is_training)
  expected = read_jsonl(version, "features_" + mode)
  assert len(features) == len(expected)
  for feature, want in zip(features, expected):
    assert feature_as_json(feature, examples) == want


def test_training_drops_answer_not_found_in_context():
  # p7_q2's answer holds a U+00A0 that str.split() removes but SQuAD's
  # whitespace rule keeps inside a word: Google skips it in training only.
  train_ids = [e.qas_id for e in read_examples("v1.1", True)]
  eval_ids = [e.qas_id for e in read_examples("v1.1", False)]
  assert "p7_q2" not in train_ids
  assert "p7_q2" in eval_ids
  assert len(eval_ids) == len(train_ids) + 1


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_feature_writer_records_match_google(version, mode, tokenizer,
                                             tmp_path):
  is_training = mode == "train"
  examples = read_examples(version, is_training)
  path = str(tmp_path / "out.tf_record")
  writer = run_squad.FeatureWriter(path, is_training)
  run_squad.convert_examples_to_features(examples, tokenizer, MAX_SEQ_LENGTH,
                                         DOC_STRIDE, MAX_QUERY_LENGTH,
                                         is_training, writer.process_feature)
  writer.close()
  expected = parse_records(
      fixture_path("squad", version, mode + ".tf_record"), is_training)
  assert writer.num_features == len(expected)
  assert parse_records(path, is_training) == expected
  # Features in Google's order: the very bytes of Google's file.
  with open(path, "rb") as ours, open(
      fixture_path("squad", version, mode + ".tf_record"), "rb") as google:
    assert ours.read() == google.read()


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_main_training_records_shuffled_as_google(version, tokenizer,
                                                  tmp_path):
  examples = read_examples(version, True)
  run_squad.shuffle_train_examples(examples)
  path = str(tmp_path / "train.tf_record")
  writer = run_squad.FeatureWriter(path, True)
  run_squad.convert_examples_to_features(examples, tokenizer, MAX_SEQ_LENGTH,
                                         DOC_STRIDE, MAX_QUERY_LENGTH, True,
                                         writer.process_feature)
  writer.close()
  google_file = fixture_path("squad", version, "train_main_shuffled.tf_record")
  assert parse_records(path, True) == parse_records(google_file, True)
  with open(path, "rb") as ours, open(google_file, "rb") as google:
    assert ours.read() == google.read()


def write_predictions(version, threshold, tokenizer, out_dir, results=None):
  examples = read_examples(version, False)
  features = convert(examples, tokenizer, False)
  if results is None:
    results = load_results(version)
  return run_squad.write_predictions(
      examples, features, results, N_BEST_SIZE, MAX_ANSWER_LENGTH, True,
      str(out_dir / "predictions.json"),
      str(out_dir / "nbest_predictions.json"), str(out_dir / "null_odds.json"),
      version_2_with_negative=VERSIONS[version],
      null_score_diff_threshold=threshold)


def read_bytes(path):
  with open(path, "rb") as f:
    return f.read()


@pytest.mark.parametrize("version,threshold", [("v1.1", 0.0), ("v2.0", 0.0),
                                               ("v2.0", 1.5)])
def test_prediction_files_byte_identical(version, threshold, tokenizer,
                                         tmp_path):
  write_predictions(version, threshold, tokenizer, tmp_path)
  if version == "v1.1":
    ref_dir = fixture_path("squad", version)
    names = ["predictions.json", "nbest_predictions.json"]
    assert not (tmp_path / "null_odds.json").exists()
  else:
    # n-best and null odds do not depend on the threshold; one copy is kept.
    ref_dir = fixture_path("squad", version, "null_score_diff_threshold_0.0")
    names = ["nbest_predictions.json", "null_odds.json"]
    assert read_bytes(tmp_path / "predictions.json") == read_bytes(
        fixture_path("squad", version,
                     "null_score_diff_threshold_%s" % threshold,
                     "predictions.json"))
  for name in names:
    assert read_bytes(tmp_path / name) == read_bytes(ref_dir + "/" + name), name
  assert not list(tmp_path.glob("*.tmp"))


def test_numpy_float32_logits_give_the_same_predictions(tokenizer, tmp_path):
  # Estimator.predict yields float32 arrays; they must act as Google's floats.
  data = np.load(fixture_path("squad", "v2.0", "all_results.npz"))
  results = [
      run_squad.RawResult(int(u), s, e) for u, s, e in zip(
          data["unique_ids"], data["start_logits"], data["end_logits"])
  ]
  write_predictions("v2.0", 0.0, tokenizer, tmp_path, results)
  ref_dir = fixture_path("squad", "v2.0", "null_score_diff_threshold_0.0")
  for name in ["predictions.json", "nbest_predictions.json", "null_odds.json"]:
    assert read_bytes(tmp_path / name) == read_bytes(ref_dir + "/" + name)


def test_only_null_answer_predicts_empty_string(tokenizer, tmp_path):
  # Google's write_predictions crashes (AttributeError) when no non-null span
  # survives the filters; ours answers "" and goes on with the next question.
  examples = read_examples("v2.0", False)
  features = convert(examples, tokenizer, False)
  results = {r.unique_id: r for r in load_results("v2.0")}
  victim = examples[0].qas_id
  for feature in features:
    if feature.example_index != 0:
      continue
    # The best start and end logits all sit in the question: no valid span.
    start = np.full(MAX_SEQ_LENGTH, -5.0)
    end = np.full(MAX_SEQ_LENGTH, -5.0)
    question = [i for i in range(len(feature.tokens))
                if i not in feature.token_to_orig_map][:N_BEST_SIZE]
    start[question] = 3.0
    end[question] = 3.0
    results[feature.unique_id] = run_squad.RawResult(
        feature.unique_id, start.tolist(), end.tolist())
  predictions, null_odds = run_squad.write_predictions(
      examples, features, list(results.values()), N_BEST_SIZE,
      MAX_ANSWER_LENGTH, True, str(tmp_path / "predictions.json"),
      str(tmp_path / "nbest_predictions.json"),
      str(tmp_path / "null_odds.json"), version_2_with_negative=True,
      null_score_diff_threshold=0.0)
  assert predictions[victim] == ""
  with open(tmp_path / "nbest_predictions.json") as f:
    nbest = json.load(f)
  assert [entry["text"] for entry in nbest[victim]] == [""]
  assert nbest[victim][0]["probability"] == 1.0
  with open(tmp_path / "null_odds.json") as f:
    assert json.load(f)[victim] == 1000000.0
  # Every other question is answered as Google does.
  with open(fixture_path("squad", "v2.0", "null_score_diff_threshold_0.0",
                         "predictions.json")) as f:
    expected = json.load(f)
  del expected[victim]
  assert {k: v for k, v in predictions.items() if k != victim} == expected


def test_get_final_text():
  # The cases of Google's comments.
  assert run_squad.get_final_text("steve smith", "Steve Smith's",
                                  True) == "Steve Smith"
  # Alignment fails -> the whole original span.
  assert run_squad.get_final_text("xyz", "Steve Smith's", True) == (
      "Steve Smith's")
  # Accents stripped by lower-casing are restored from the original.
  assert run_squad.get_final_text("marc - andre", "Marc-André Lemburg.",
                                  True) == "Marc-André"
  # Part of a word when the prediction is (cased model keeps the case).
  assert run_squad.get_final_text("Smith", "(Smith)", False) == "Smith"


def test_empty_prediction_files(tmp_path):
  predictions, _ = run_squad.write_predictions(
      [], [], [], N_BEST_SIZE, MAX_ANSWER_LENGTH, True,
      str(tmp_path / "p.json"), str(tmp_path / "n.json"),
      str(tmp_path / "o.json"), version_2_with_negative=True)
  assert predictions == {}
  for name in ["p.json", "n.json", "o.json"]:
    assert (tmp_path / name).read_text() == json.dumps({}, indent=4) + "\n"


# Official metrics --------------------------------------------------------


def load_eval_expected():
  with open(fixture_path("squad", "eval_expected.json")) as f:
    return json.load(f)


def load_json(*parts):
  with open(fixture_path("squad", *parts), encoding="utf-8") as f:
    return json.load(f)


def test_v1_metrics_equal_official_script():
  expected = load_eval_expected()["1.1"]["result"]
  dataset = load_json("squad-v1.1.json")["data"]
  result = squad_evaluate.evaluate_v1(
      dataset, load_json("v1.1", "predictions.json"))
  assert set(result) == set(expected)
  for key, value in expected.items():
    assert result[key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize("threshold", ["0.0", "1.5"])
def test_v2_metrics_equal_official_script(threshold):
  expected = load_eval_expected()["v2.0"]["null_score_diff_threshold_" +
                                         threshold]
  dataset = load_json("squad-v2.0.json")["data"]
  predictions = load_json("v2.0", "null_score_diff_threshold_" + threshold,
                          "predictions.json")
  na_probs = load_json("v2.0", "null_score_diff_threshold_0.0",
                       "null_odds.json")
  for result, want in [
      (squad_evaluate.evaluate_v2(dataset, predictions), expected["result"]),
      (squad_evaluate.evaluate_v2(dataset, predictions, na_probs),
       expected["result_with_na_prob_file"])]:
    assert set(result) == set(want)
    for key, value in want.items():
      assert result[key] == pytest.approx(value, abs=1e-9), key


def test_metric_definitions_by_hand():
  assert squad_evaluate.normalize_answer(
      "  The Quick, brown-fox an apple!  ") == "quick brownfox apple"
  # "a" inside a word stays; only whole-word articles go.
  assert squad_evaluate.normalize_answer("Banana a") == "banana"
  assert squad_evaluate.exact_match_score("the Cat.", "cat") == 1
  # pred {brown, fox, jumps}, gold {quick, brown, fox}: P = R = 2/3.
  assert squad_evaluate.f1_score("brown fox jumps",
                                 "the quick brown fox") == pytest.approx(2 / 3)
  # Repeated tokens count with multiplicity: P = 1/2, R = 1, F1 = 2/3.
  assert squad_evaluate.f1_score("fox fox", "fox") == pytest.approx(2 / 3)
  assert squad_evaluate.f1_score("", "") == 0
  assert squad_evaluate.f1_score_v2("", "") == 1
  assert squad_evaluate.f1_score_v2("the", "") == 1
  assert squad_evaluate.f1_score_v2("cat", "") == 0
  dataset = [{"paragraphs": [{"context": "c", "qas": [
      {"id": "a", "answers": [{"text": "x y"}, {"text": "y"}]},
      {"id": "b", "answers": []},
  ]}]}]
  result = squad_evaluate.evaluate_v2(dataset, {"a": "y", "b": "zz"},
                                      {"a": 0.0, "b": 2.0})
  # a: best gold "y" -> 1/1; b: no-answer prob 2.0 > 1.0 counts as "" -> 1.
  assert result["exact"] == 100.0
  assert result["HasAns_total"] == 1 and result["NoAns_total"] == 1
  # Raw scores: a = 1, b = 0 ("zz" for an unanswerable question). Answering
  # "" from na_prob > 0.0 on gives b right and keeps a: 2 of 2.
  assert result["best_exact"] == 100.0
  assert result["best_exact_thresh"] == 0.0
  v1_dataset = [{"paragraphs": [{"qas": [
      {"id": "a", "answers": [{"text": "x y"}, {"text": "y"}]}]}]}]
  v1 = squad_evaluate.evaluate_v1(v1_dataset, {"a": "x"})
  # "x" vs "x y": P = 1, R = 1/2, F1 = 2/3; vs "y": 0.
  assert v1["exact_match"] == 0.0
  assert v1["f1"] == pytest.approx(100 * 2 / 3)


# Bad input ---------------------------------------------------------------


def write_text(tmp_path, text, name="bad.json"):
  path = tmp_path / name
  path.write_text(text, encoding="utf-8")
  return str(path)


@pytest.mark.parametrize("text,culprit", [
    ('{"version": "1.1"}', "'data'"),
    ('{"data": [{"title": "t"}]}', "data[0]"),
    ('{"data": [{"paragraphs": [{"context": "c"}]}]}', "'qas'"),
    ('{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q1"}]}]}]}',
     "data[0].paragraphs[0].qas[0]"),
    ('{"data": {"paragraphs": []}}', "data is an object"),
    ('[1, 2]', "not a JSON object"),
    ('{"data": [', "not valid JSON"),
    ('', "is empty"),
])
def test_not_squad_layout_names_file_and_field(tmp_path, text, culprit):
  path = write_text(tmp_path, text)
  with pytest.raises(ValueError) as info:
    run_squad.read_squad_examples(path, is_training=False)
  assert path in str(info.value)
  assert culprit in str(info.value)


def test_missing_file_is_named(tmp_path):
  path = str(tmp_path / "nope.json")
  with pytest.raises(ValueError, match="nope.json"):
    run_squad.read_squad_examples(path, is_training=False)


def test_v2_flag_on_v1_file_is_a_clear_error():
  with pytest.raises(ValueError, match="is_impossible.*SQuAD 1.1"):
    run_squad.read_squad_examples(squad_file("v1.1"), True,
                                  version_2_with_negative=True)


def test_training_question_without_one_answer(tmp_path):
  path = write_text(tmp_path, json.dumps({"data": [{"paragraphs": [{
      "context": "a b", "qas": [{"id": "q7", "question": "?", "answers": []}]
  }]}]}))
  with pytest.raises(ValueError, match="exactly 1 answer.*q7"):
    run_squad.read_squad_examples(path, is_training=True,
                                  version_2_with_negative=False)


def test_answer_not_in_context_is_skipped_with_warning(tmp_path, caplog):
  path = write_text(tmp_path, json.dumps({"data": [{"paragraphs": [{
      "context": "one two three",
      "qas": [
          {"id": "ok", "question": "?",
           "answers": [{"text": "two", "answer_start": 4}]},
          {"id": "wrong", "question": "?",
           "answers": [{"text": "four", "answer_start": 4}]},
          {"id": "outside", "question": "?",
           "answers": [{"text": "two", "answer_start": 99}]},
      ]}]}]}))
  with caplog.at_level("WARNING"):
    examples = run_squad.read_squad_examples(path, is_training=True,
                                             version_2_with_negative=False)
  assert [e.qas_id for e in examples] == ["ok"]
  assert "Could not find answer" in caplog.text
  assert "outside" in caplog.text


def test_question_on_an_empty_context_gets_no_window(tokenizer, tmp_path):
  # No document token -> no feature; Google predicts "empty" (v1.1) and
  # crashes on SQuAD 2.0, where ours answers "".
  path = write_text(tmp_path, json.dumps({"data": [{"paragraphs": [
      {"context": " ", "qas": [{"id": "blank", "question": "what?"}]},
      {"context": "one two", "qas": [{"id": "q", "question": "which?"}]},
  ]}]}))
  examples = run_squad.read_squad_examples(path, False)
  features = convert(examples, tokenizer, False)
  assert [f.example_index for f in features] == [1]
  results = [run_squad.RawResult(features[0].unique_id, [0.0] * 64,
                                 [0.0] * 64)]
  for v2, expected in [(False, "empty"), (True, "")]:
    predictions, null_odds = run_squad.write_predictions(
        examples, features, results, N_BEST_SIZE, MAX_ANSWER_LENGTH, True,
        str(tmp_path / "p.json"), str(tmp_path / "n.json"),
        str(tmp_path / "o.json"), version_2_with_negative=v2)
    assert predictions["blank"] == expected
    assert predictions["q"] in ("one", "one two", "two")
    if v2:
      assert null_odds["blank"] == 1000000.0


def test_squad_evaluate_command_line(capsys):
  v2_dir = fixture_path("squad", "v2.0", "null_score_diff_threshold_0.0")
  squad_evaluate.main([
      fixture_path("squad", "squad-v2.0.json"), v2_dir + "/predictions.json",
      "--na-prob-file", v2_dir + "/null_odds.json"])
  printed = json.loads(capsys.readouterr().out)
  expected = load_eval_expected()["v2.0"]["null_score_diff_threshold_0.0"]
  assert printed == pytest.approx(expected["result_with_na_prob_file"],
                                  abs=1e-9)
  squad_evaluate.main([fixture_path("squad", "squad-v1.1.json"),
                       fixture_path("squad", "v1.1", "predictions.json")])
  printed = json.loads(capsys.readouterr().out)
  assert printed == pytest.approx(load_eval_expected()["1.1"]["result"],
                                  abs=1e-9)
