"""run_squad.main(): a tiny train + predict run, and the streaming predictor."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import fixture_path
import checkpoints
import harness
import run_squad
import squad_evaluate
from tasks import squad
import tokenization
from test_run_squad import parse_records
from test_run_squad import read_examples


def run_main(tmp_path, version, *extra):
  config_file = harness.write_config(tmp_path)
  output_dir = tmp_path / "out"
  squad_file = fixture_path("squad", "squad-%s.json" % version)
  harness.run_main(
      run_squad.main,
      "--vocab_file=" + harness.VOCAB,
      "--bert_config_file=" + config_file,
      "--output_dir=" + str(output_dir),
      "--train_file=" + squad_file, "--predict_file=" + squad_file,
      "--max_seq_length=64", "--doc_stride=24", "--max_query_length=16",
      "--n_best_size=5", "--max_answer_length=10", "--train_batch_size=8",
      "--predict_batch_size=8", "--learning_rate=1e-3", "--seed=1", *extra)
  return output_dir


def test_train_and_predict_end_to_end(tmp_path):
  out = run_main(tmp_path, "v1.1", "--do_train", "--do_predict",
                 "--num_train_epochs=1")
  # The records main writes are Google's (train shuffled with its seed).
  assert parse_records(str(out / "train.tf_record"), True) == parse_records(
      fixture_path("squad", "v1.1", "train_main_shuffled.tf_record"), True)
  assert parse_records(str(out / "eval.tf_record"), False) == parse_records(
      fixture_path("squad", "v1.1", "eval.tf_record"), False)
  # 37 training questions / batch 8 * 1 epoch = 4 steps (Google counts
  # questions, not windows).
  checkpoint = tf.train.latest_checkpoint(str(out))
  assert checkpoint.endswith("model.ckpt-4")
  reader = tf.train.load_checkpoint(checkpoint)
  assert reader.get_tensor("cls/squad/output_weights").shape == (2, 32)
  assert reader.get_tensor("cls/squad/output_bias").shape == (2,)

  # The streamed predictions equal write_predictions over logits computed
  # here from the saved checkpoint.
  tokenizer = tokenization.FullTokenizer(harness.VOCAB)
  examples = read_examples("v1.1", False)
  features = []
  run_squad.convert_examples_to_features(examples, tokenizer, 64, 24, 16,
                                         False, features.append)
  model = run_squad.SquadModel(harness.tiny_config())
  checkpoints.restore(model.variables, checkpoint)
  results = []
  for i in range(0, len(features), 8):  # the predict batch size
    batch = features[i:i + 8]
    start, end = model(tf.constant([f.input_ids for f in batch]),
                       tf.constant([f.input_mask for f in batch]),
                       tf.constant([f.segment_ids for f in batch]))
    results += [run_squad.RawResult(f.unique_id, s, e)
                for f, s, e in zip(batch, start.numpy(), end.numpy())]
  ref = tmp_path / "ref"
  ref.mkdir()
  predictions, _ = run_squad.write_predictions(
      examples, features, results, 5, 10, True, str(ref / "predictions.json"),
      str(ref / "nbest_predictions.json"), str(ref / "null_odds.json"),
      version_2_with_negative=False)
  # The loop's compiled graph and this eager call differ in the last float
  # bits; texts and their order must agree.
  assert (out / "predictions.json").read_bytes() == (
      ref / "predictions.json").read_bytes()
  with open(out / "nbest_predictions.json") as f:
    nbest = json.load(f)
  with open(ref / "nbest_predictions.json") as f:
    nbest_ref = json.load(f)
  assert list(nbest) == list(nbest_ref)
  for qid, entries in nbest.items():
    assert [e["text"] for e in entries] == [e["text"] for e in nbest_ref[qid]]
    for key in ["probability", "start_logit", "end_logit"]:
      np.testing.assert_allclose([e[key] for e in entries],
                                 [e[key] for e in nbest_ref[qid]],
                                 rtol=1e-4, atol=1e-5)
  assert not (out / "null_odds.json").exists()

  # Metrics of the predictions, in Google's eval_results.txt format.
  with open(fixture_path("squad", "squad-v1.1.json")) as f:
    expected = squad_evaluate.evaluate_v1(json.load(f)["data"], predictions)
  lines = (out / "eval_results.txt").read_text().splitlines()
  assert lines == ["exact_match = %s" % expected["exact_match"],
                   "f1 = %s" % expected["f1"]]


def test_predict_v2_writes_null_odds_and_v2_metrics(tmp_path):
  # Predicting needs weights: an untrained encoder's checkpoint.
  init = harness.save_checkpoint(harness.tiny_encoder(), str(tmp_path / "init"),
                                 "bert_model.ckpt")
  # Flags spelled as in Google's README.
  out = run_main(tmp_path, "v2.0", "--do_train=False", "--do_predict=True",
                 "--version_2_with_negative=True",
                 "--null_score_diff_threshold=-1", "--init_checkpoint=" + init)
  with open(out / "predictions.json") as f:
    predictions = json.load(f)
  with open(out / "null_odds.json") as f:
    null_odds = json.load(f)
  assert list(predictions) == list(null_odds)
  assert len(predictions) == 47
  for qid, text in predictions.items():
    assert (text == "") == (null_odds[qid] > -1)
  keys = [line.split(" = ")[0]
          for line in (out / "eval_results.txt").read_text().splitlines()]
  assert keys == sorted([
      "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
      "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact",
      "best_exact_thresh", "best_f1", "best_f1_thresh"])


def test_no_metrics_without_answers(tmp_path):
  dataset = {"data": [{"paragraphs": [{"context": "one two three", "qas": [
      {"id": "q1", "question": "which?"}]}]}]}
  path = tmp_path / "test.json"
  path.write_text(json.dumps(dataset))
  assert run_squad.write_squad_metrics(str(path), {"q1": "two"}, {},
                                       str(tmp_path / "eval_results.txt"),
                                       False) is None
  assert not (tmp_path / "eval_results.txt").exists()


def test_v1_metrics_of_v2_data_are_skipped_with_a_warning(tmp_path, caplog):
  # Without --version_2_with_negative, unanswerable questions cannot be
  # scored with the SQuAD 1.1 metrics.
  with open(fixture_path("squad", "v2.0", "null_score_diff_threshold_0.0",
                         "predictions.json")) as f:
    predictions = json.load(f)
  with caplog.at_level("WARNING"):
    assert run_squad.write_squad_metrics(
        fixture_path("squad", "squad-v2.0.json"), predictions, {},
        str(tmp_path / "eval_results.txt"), False) is None
  assert "p1_n1" in caplog.text and "--version_2_with_negative" in caplog.text
  assert not (tmp_path / "eval_results.txt").exists()


def test_flag_validation_names_the_flag(tmp_path):
  with pytest.raises(ValueError, match="max_query_length"):
    run_main(tmp_path, "v1.1", "--do_predict", "--max_query_length=61")
  with pytest.raises(ValueError, match="predict_file"):
    run_main(tmp_path, "v1.1", "--do_predict", "--predict_file=")
  with pytest.raises(ValueError, match="do_train.*do_predict"):
    run_main(tmp_path, "v1.1")


def test_an_albert_config_is_sent_to_albert_squad_scripts(tmp_path):
  """BERT's SQuAD features and heads are not ALBERT's (p_mask, its v2 head):
  an ALBERT config is refused by name before any work."""
  config_file = str(tmp_path / "albert_config.json")
  with open(config_file, "w") as f:
    f.write(harness.tiny_albert_config(vocab_size=100000).to_json_string())
  with pytest.raises(ValueError) as info:
    run_main(tmp_path, "v1.1", "--do_predict",
             "--bert_config_file=" + config_file)
  message = str(info.value)
  assert message.startswith("--bert_config_file=%s is an ALBERT config" %
                            config_file), message
  assert "albert.run_squad_v1" in message and "albert.run_squad_v2" in message
  assert not (tmp_path / "out").exists()


class CountingPredictions(object):
  """An Estimator.predict stand-in that counts what has been consumed."""

  def __init__(self, features, order=None):
    self.rows = [{
        "unique_ids": np.int64(f.unique_id),
        "start_logits": np.linspace(-1, 1, 64, dtype=np.float32),
        "end_logits": np.linspace(1, -1, 64, dtype=np.float32),
    } for f in features]
    if order is not None:
      self.rows = [self.rows[i] for i in order]
    self.consumed = 0

  def __iter__(self):
    for row in self.rows:
      self.consumed += 1
      yield row


def eval_features(version):
  """(examples, a function making their eval features afresh)."""
  examples = read_examples(version, False)
  tokenizer = tokenization.FullTokenizer(harness.VOCAB)
  return examples, lambda: squad._iter_features(
      examples, tokenizer, 64, 24, 16, False, log_examples=0)


def test_results_are_consumed_as_a_stream():
  examples, make_features = eval_features("v1.1")
  features = list(make_features())
  stream = CountingPredictions(features)
  groups = squad._group_results(examples, make_features(), iter(stream),
                                    len(features))
  seen = 0
  for example, group, results in groups:
    seen += len(group)
    # Only this example's results have been taken from the model so far.
    assert stream.consumed == seen
    assert [r.unique_id for r in results] == [f.unique_id for f in group]
    assert all(f.example_index == examples.index(example) for f in group)
  assert seen == len(features)


def test_results_out_of_order_and_missing():
  examples, make_features = eval_features("v1.1")
  features = list(make_features())
  # Two replicas' halves of every batch of 8 swapped.
  order = []
  for start in range(0, len(features), 8):
    batch = list(range(start, min(start + 8, len(features))))
    order += batch[4:] + batch[:4]
  groups = squad._group_results(
      examples, make_features(), iter(CountingPredictions(features, order)),
      len(features))
  ids = [r.unique_id for _, _, results in groups for r in results]
  assert ids == [f.unique_id for f in features]

  truncated = CountingPredictions(features)
  truncated.rows = truncated.rows[:-1]
  with pytest.raises(ValueError, match="stopped after %d of %d" %
                     (len(features) - 1, len(features))):
    list(squad._group_results(examples, make_features(),
                                  iter(truncated), len(features)))


def test_streamed_prediction_files_byte_identical(tmp_path):
  # main()'s path (features made again, results pulled from a stream of
  # Estimator.predict dicts with float32 logits) against Google's files.
  examples, make_features = eval_features("v2.0")
  data = np.load(fixture_path("squad", "v2.0", "all_results.npz"))
  stream = ({"unique_ids": u, "start_logits": s, "end_logits": e}
            for u, s, e in zip(data["unique_ids"], data["start_logits"],
                               data["end_logits"]))
  groups = squad._group_results(examples, make_features(), stream,
                                    len(data["unique_ids"]))
  names = ["predictions.json", "nbest_predictions.json", "null_odds.json"]
  squad._write_prediction_stream(
      groups, 5, 10, True, *[str(tmp_path / n) for n in names],
      version_2_with_negative=True, null_score_diff_threshold=0.0,
      verbose_logging=False)
  for name in names:
    assert (tmp_path / name).read_bytes() == open(
        fixture_path("squad", "v2.0", "null_score_diff_threshold_0.0", name),
        "rb").read()


def test_importing_does_not_change_another_runners_flags():
  # A runner imported first keeps its flags (create_pretraining_data's
  # max_seq_length is 128, run_squad's 384); the SQuAD flags still exist.
  code = (
      "import create_pretraining_data, run_squad, extract_features\n"
      "from absl import flags\n"
      "F = flags.FLAGS\n"
      "assert F['max_seq_length'].default == 128, F['max_seq_length'].default\n"
      "assert F.find_module_defining_flag('max_seq_length').endswith("
      "'create_pretraining_data')\n"
      "assert F['n_best_size'].default == 20\n"
      "assert F['pooling'].default == 'none'\n")
  subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                 capture_output=True, timeout=300)
