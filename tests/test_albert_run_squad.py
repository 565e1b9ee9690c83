# coding=utf-8
"""albert/run_squad_v1.py and run_squad_v2.py (tasks/albert_squad.py).

Against ALBERT's own outputs (tests/fixtures/albert/: the reference tiny
checkpoint with every head, written by google-research/albert b772393, and
the SQuAD features of its squad_utils): the heads through the task, the
records the scripts write, and whole runs at learning rate 0 from the
reference checkpoint, whose prediction files must equal those ALBERT's
post-processing (albert/squad_utils.py, tested byte for byte against ALBERT
in test_albert_squad_data.py) writes from the same model results. Beyond:
training, resume, ALBERT's checkpoint loop and eval_results.txt, feature
caches, errors, a strategy with accumulation and bfloat16, and ALBERT's
README command lines run as scripts.
"""

import gzip
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
from conftest import ROOT
import checkpoints
import encoders
import harness
import squad_evaluate
import task_lib
import validation
from albert import run_squad_v1
from albert import run_squad_v2
from albert import squad_utils
from albert import tokenization
from tasks import albert_squad
from tasks import squad
from test_albert_classifier_data import canonical_sha256

TOL = dict(atol=1e-5, rtol=1e-5)
TINY = "tiny"  # E 16, H 32, dropout 0: training runs are deterministic.
SPM = fixture_path("albert", "spm_tiny.model")
# The reference SQuAD settings (tests/fixtures/albert/squad/summary.json).
SETTINGS = ["--max_seq_length=64", "--doc_stride=32", "--max_query_length=16",
            "--n_best_size=5", "--max_answer_length=10", "--do_lower_case"]
N_TOP = 3  # start_n_top = end_n_top of the reference's predictions
MAIN = {"v1.1": run_squad_v1.main, "v2.0": run_squad_v2.main}


def squad_file(version):
  return fixture_path("squad", "squad-%s.json" % version)


def reference_rows(version, name):
  """Rows of tests/fixtures/albert/squad/<version>/<name>.jsonl.gz."""
  path = fixture_path("albert", "squad", version, name + ".jsonl.gz")
  with gzip.open(path, "rt", encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def summary(version, split):
  with open(fixture_path("albert", "squad", "summary.json")) as f:
    return json.load(f)["versions"][version][split]


def script_args(out, version, *extra):
  """ALBERT's flags for a run on the reference tiny model."""
  args = ["--albert_config_file=" + harness.albert_fixture(
              TINY, "albert_config.json"),
          "--spm_model_file=" + SPM, "--output_dir=" + str(out),
          "--train_file=" + squad_file(version),
          "--predict_file=" + squad_file(version),
          "--init_checkpoint=" + harness.albert_fixture(TINY,
                                                        "model.ckpt-best"),
          "--train_batch_size=8", "--predict_batch_size=8"] + SETTINGS
  if version == "v2.0":
    args += ["--start_n_top=%d" % N_TOP, "--end_n_top=%d" % N_TOP,
             "--null_score_diff_threshold=0.0"]
  return args + list(extra)


def run(out, version, *extra):
  """Runs the script's main in this process."""
  harness.run_main(MAIN[version], *script_args(out, version, *extra))
  return out


def albert_tokenizer():
  return tokenization.FullTokenizer(None, do_lower_case=True,
                                    spm_model_file=SPM)


def albert_spec(name=TINY):
  family = encoders.get_family("albert")
  return encoders.EncoderSpec(family, family.load_config(
      harness.albert_fixture(name, "albert_config.json")))


def make_task(version, output_dir=None, **kwargs):
  """The task of a version on the reference settings."""
  settings = task_lib.RunSettings(output_dir=output_dir, train_batch_size=8,
                                  predict_batch_size=8)
  task_class = (albert_squad.AlbertSquadV2Task if version == "v2.0" else
                albert_squad.AlbertSquadTask)
  if version == "v2.0":
    kwargs = dict(dict(start_n_top=N_TOP, end_n_top=N_TOP), **kwargs)
  return task_class(settings, albert_spec(), tokenizer=albert_tokenizer(),
                    train_file=squad_file(version),
                    predict_file=squad_file(version), max_seq_length=64,
                    doc_stride=32, max_query_length=16, n_best_size=5,
                    max_answer_length=10, **kwargs)


def batches(features, size=8):
  """Model inputs of a feature list, `size` at a time (int32, as records)."""
  for i in range(0, len(features), size):
    chunk = features[i:i + size]
    yield {"unique_ids": tf.constant([f.unique_id for f in chunk], tf.int64),
           **{name: tf.constant([getattr(f, name) for f in chunk], tf.int32)
              for name in ("input_ids", "input_mask", "segment_ids",
                           "p_mask")}}


# ------------------------------------------------------------ the heads


@pytest.mark.parametrize("name", ["tiny", "grouped"])
def test_task_models_equal_alberts_heads(name):
  """ALBERT's model_fn names build the tasks' models, warm-started from the
  reference checkpoint; their predictions are ALBERT's create_v1_model and
  create_v2_model outputs (beams of 3 starts x 2 ends)."""
  exp = harness.albert_reference(name)
  config = albert_spec(name).config
  checkpoint = harness.albert_fixture(name, "model.ckpt-best")
  features = {"unique_ids": tf.range(3, dtype=tf.int64),
              "input_ids": exp["input_ids"], "input_mask": exp["input_mask"],
              "segment_ids": exp["segment_ids"], "p_mask": exp["p_mask"]}
  v1 = squad_utils.v1_model_fn_builder(config, checkpoint, 1e-5, 10, 1,
                                       False, False, use_einsum=False)
  got = v1.predictions(v1.create_model({}), features, {})
  np.testing.assert_allclose(got["start_log_prob"],
                             exp["squad_v1_start_logits"], **TOL)
  np.testing.assert_allclose(got["end_log_prob"], exp["squad_v1_end_logits"],
                             **TOL)
  v2 = squad_utils.v2_model_fn_builder(config, checkpoint, 1e-5, 10, 1, False,
                                       False, 16, 3, 2, 0.0)
  got = v2.predictions(v2.create_model({}), features, {})
  np.testing.assert_array_equal(got["unique_ids"], [0, 1, 2])
  for key in ("start_top_log_probs", "end_top_log_probs", "cls_logits"):
    np.testing.assert_allclose(got[key], exp["squad_v2_" + key], err_msg=key,
                               **TOL)
  for key in ("start_top_index", "end_top_index"):
    np.testing.assert_array_equal(got[key], exp["squad_v2_" + key])


def test_v2_training_log_probs_and_loss_equal_alberts():
  """The task's training path (teacher-forced end logits from the true start)
  and ALBERT's v2 loss, on the dropout-free reference model."""
  exp = harness.albert_reference(TINY)
  task = make_task("v2.0", dropout_prob=0.0)
  model = task.create_model({})
  result = checkpoints.restore(model.variables, harness.albert_fixture(
      TINY, "model.ckpt-best"), log=False)
  assert not result.missing
  outputs = model(exp["input_ids"], exp["input_mask"], exp["segment_ids"],
                  exp["p_mask"], training=True,
                  start_positions=exp["start_positions"])
  for key in ("start_log_probs", "end_log_probs", "cls_logits"):
    np.testing.assert_allclose(outputs[key], exp["squad_v2_train_" + key],
                               err_msg=key, **TOL)
  batch = np.arange(3)
  start = exp["squad_v2_train_start_log_probs"][batch, exp["start_positions"]]
  end = exp["squad_v2_train_end_log_probs"][batch, exp["end_positions"]]
  logits = exp["squad_v2_train_cls_logits"].astype(np.float64)
  labels = exp["is_impossible"].astype(np.float64)
  answerability = np.mean(np.maximum(logits, 0) - logits * labels +
                          np.log1p(np.exp(-np.abs(logits))))
  want = -(start.mean() + end.mean()) * 0.5 + answerability * 0.5
  loss = task.train_loss(model, {
      "input_ids": exp["input_ids"], "input_mask": exp["input_mask"],
      "segment_ids": exp["segment_ids"], "p_mask": exp["p_mask"],
      "start_positions": exp["start_positions"],
      "end_positions": exp["end_positions"],
      "is_impossible": exp["is_impossible"]}, {"mode": "train"})
  np.testing.assert_allclose(loss, want, rtol=1e-5)


def test_create_models_return_alberts_outputs():
  config = harness.tiny_albert_config()
  ids = tf.constant([[2, 5, 3, 7, 8, 3, 0, 0]])
  mask = tf.cast(ids > 0, tf.int32)
  start, end = squad_utils.create_v1_model(config, False, ids, mask,
                                           tf.zeros_like(ids), False)
  assert start.shape == end.shape == [1, 8]
  p_mask = tf.constant([[0, 1, 1, 0, 0, 1, 1, 1]])
  outputs = squad_utils.create_v2_model(config, False, ids, mask,
                                        tf.zeros_like(ids), False,
                                        {"p_mask": p_mask}, 8, 2, 2, 0.1)
  assert outputs["end_top_index"].shape == [1, 4]
  # The two best starts are answer positions (p_mask 0).
  assert set(outputs["start_top_index"].numpy()[0]) <= {0, 3, 4}
  with pytest.raises(ValueError, match="hub_module"):
    squad_utils.create_v1_model(config, False, ids, mask, mask, False,
                                hub_module="https://tfhub.dev/google/albert")


# ----------------------------------------------- whole runs at rate 0


def capture_results(monkeypatch, name):
  """Records every RawResult(V2) the task makes of the model's outputs."""
  captured = []
  convert = getattr(squad_utils, name)

  def spy(prediction):
    result = convert(prediction)
    captured.append(result)
    return result

  monkeypatch.setattr(squad_utils, name, spy)
  return captured


def feature_row(feature):
  """A feature as the reference's jsonl writes it."""
  row = dict(vars(feature))
  row["token_is_max_context"] = [
      [k, v] for k, v in feature.token_is_max_context.items()]
  return row


def training_key(row):
  """What a training record holds, unique_id aside (the scripts shuffle)."""
  return tuple(tuple(row[k]) if isinstance(row[k], list) else row[k]
               for k in ("input_ids", "input_mask", "segment_ids", "p_mask",
                         "start_position", "end_position", "is_impossible"))


def records(path):
  """The int64 features of every record of a TFRecord file."""
  rows = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    rows.append({k: list(v.int64_list.value)
                 for k, v in example.features.feature.items()})
  return rows


def assert_records_are_alberts(out, version):
  """The records and pickled features the script wrote are ALBERT's."""
  assert canonical_sha256(str(out / "eval.tf_record"), str(out / "c")) == (
      summary(version, "eval")["record_canonical_sha256"])
  with open(out / "eval_left", "rb") as f:
    features = pickle.load(f)
  reference = reference_rows(version, "features_eval")
  assert [feature_row(f) for f in features] == reference
  # Training records: ALBERT's features in main()'s shuffled order.
  train = [dict(input_ids=r["input_ids"], input_mask=r["input_mask"],
                segment_ids=r["segment_ids"], p_mask=r["p_mask"],
                start_position=r["start_positions"][0],
                end_position=r["end_positions"][0],
                is_impossible=bool(r["is_impossible"][0]))
           for r in records(str(out / "train.tf_record"))]
  want = reference_rows(version, "features_train")
  assert sorted(map(training_key, train)) == sorted(map(training_key, want))
  assert list(map(training_key, train)) != list(map(training_key, want))
  return features


def assert_results_are_the_models(results, features, version):
  """The results the script used = the reference model run here (eager)."""
  task = make_task(version)
  model = task.create_model({})
  checkpoints.restore(model.variables, harness.albert_fixture(
      TINY, "model.ckpt-best"), log=False)
  by_id = {r.unique_id: r for r in results}
  assert sorted(by_id) == [f.unique_id for f in features]
  for batch in batches(features):
    got = task.predictions(model, batch, {})
    for i, unique_id in enumerate(batch["unique_ids"].numpy()):
      result = by_id[unique_id]
      for key, value in got.items():
        if key == "unique_ids":
          continue
        want = np.asarray(getattr(result, key))
        if "index" in key:
          np.testing.assert_array_equal(value[i], want, err_msg=key)
        else:
          np.testing.assert_allclose(value[i], want, err_msg=key, **TOL)


def read_text(path):
  with open(path, encoding="utf-8") as f:
    return f.read()


def expected_eval_results(out, metrics, step):
  """ALBERT's eval_results.txt of a run with one checkpoint (the best)."""
  lines = "".join("%s = %s\n" % (k, metrics[k]) for k in sorted(metrics))
  saved = "".join("saved %s/model.ckpt-%d.%s to %s/model.ckpt-best.%s\n" %
                  (out, step, ext, out, ext)
                  for ext in ("data-00000-of-00001", "index"))
  return (lines + saved + "best f1 = %s\n" % metrics["f1"] + "=" * 50 +
          "\n" + lines + "best perf happened at step: %d" % step)


def test_v2_run_at_rate_zero_writes_albert_predictions(tmp_path,
                                                       monkeypatch):
  results = capture_results(monkeypatch, "raw_result_v2")
  out = run(tmp_path / "out", "v2.0", "--do_train", "--do_predict",
            "--learning_rate=0", "--num_train_epochs=0.4",
            "--train_feature_file=%s" % (tmp_path / "out/train.tf_record"),
            "--predict_feature_file=%s" % (tmp_path / "out/eval.tf_record"),
            "--predict_feature_left_file=%s" % (tmp_path / "out/eval_left"))
  features = assert_records_are_alberts(out, "v2.0")
  # 47 questions / 8 * 0.4 = 2 steps at rate 0: the reference weights.
  reader = tf.train.load_checkpoint(str(out / "model.ckpt-2"))
  reference = tf.train.load_checkpoint(harness.albert_fixture(
      TINY, "model.ckpt-best"))
  for name in ("start_logits/dense/kernel", "answer_class/dense_1/kernel",
               "bert/embeddings/word_embeddings"):
    np.testing.assert_array_equal(reader.get_tensor(name),
                                  reference.get_tensor(name))
  assert len(results) == len(features)  # one pass: ckpt-2 became the best
  assert_results_are_the_models(results, features, "v2.0")

  # ALBERT's post-processing of the same results, in another directory.
  examples = squad_utils.read_squad_examples(squad_file("v2.0"), False)
  result_dict, cls_dict = {}, {}
  squad_utils.accumulate_predictions_v2(result_dict, cls_dict, examples,
                                        features, results, 5, 10, N_TOP,
                                        N_TOP)
  names = ("predictions.json", "nbest_predictions.json", "null_odds.json")
  (tmp_path / "ref").mkdir()
  dataset = squad.load_squad_json(squad_file("v2.0"))
  metrics = squad_utils.evaluate_v2(
      result_dict, cls_dict, dataset, examples, features, results, 5, 10,
      *[str(tmp_path / "ref" / n) for n in names])
  for name in names:
    assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()
  assert read_text(out / "eval_results.txt") == expected_eval_results(
      out, metrics, 2)
  # The official SQuAD 2.0 metrics of the files (null_odds.json as the
  # no-answer probabilities, as ALBERT scores them).
  official = squad_evaluate.evaluate_v2(
      dataset, json.loads(read_text(out / "predictions.json")),
      json.loads(read_text(out / "null_odds.json")))
  assert (official["exact"], official["f1"], official["total"]) == (
      metrics["exact"], metrics["f1"], 47)
  assert os.path.exists(str(out / "model.ckpt-best.index"))


def test_v1_run_at_rate_zero_writes_albert_predictions(tmp_path,
                                                       monkeypatch):
  results = capture_results(monkeypatch, "raw_result_v1")
  out = run(tmp_path / "out", "v1.1", "--do_train=true", "--do_predict=true",
            "--learning_rate=0", "--num_train_epochs=0.4",
            "--predict_feature_left_file=%s" % (tmp_path / "out/eval_left"))
  # Without --predict_feature_file the records go to eval.tf_record.
  features = assert_records_are_alberts(out, "v1.1")
  assert len(results) == len(features)
  assert_results_are_the_models(results, features, "v1.1")
  examples = squad_utils.read_squad_examples(squad_file("v1.1"), False)
  result_dict = {}
  squad_utils.accumulate_predictions_v1(result_dict, examples, features,
                                        results, 5, 10)
  names = ("predictions.json", "nbest_predictions.json")
  (tmp_path / "ref").mkdir()
  predictions = squad_utils.write_predictions_v1(
      result_dict, examples, features, results, 5, 10,
      *[str(tmp_path / "ref" / n) for n in names])
  for name in names:
    assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()
  assert not (out / "null_odds.json").exists()
  metrics = squad_evaluate.evaluate_v1(squad.load_squad_json(
      squad_file("v1.1")), predictions)
  assert read_text(out / "eval_results.txt") == expected_eval_results(
      out, metrics, int(38 / 8 * 0.4))


# ------------------------------------------- ALBERT's checkpoint loop


def fake_checkpoint(directory, step, name=None):
  """A checkpoint whose `w` is its step, with a global_step."""
  variables = [tf.Variable(float(step), name="w"),
               tf.Variable(step, dtype=tf.int64, name="global_step")]
  return checkpoints.save_checkpoint(
      variables, os.path.join(str(directory), name or "model.ckpt-%d" % step))


class FakeScores(object):
  """get_result of evaluate_checkpoints: scores by the checkpoint's `w`."""

  def __init__(self, f1_of_step):
    self.f1_of_step = f1_of_step
    self.calls = []

  def __call__(self, checkpoint):
    step = None
    if checkpoint is not None:
      step = int(tf.train.load_checkpoint(checkpoint).get_tensor("w"))
    self.calls.append((os.path.basename(checkpoint or "init"), step))
    return {"f1": self.f1_of_step[step], "exact_match": step}


def test_checkpoint_loop_keeps_the_best_as_albert(tmp_path):
  """Steps 1, 2, 3 scoring 10, 30, 20: each is scored and logged, 1 then 2
  are copied to model.ckpt-best, and the best is scored once more because
  the files hold step 3's predictions; ALBERT's eval_results.txt lines."""
  for step in (1, 2, 3):
    fake_checkpoint(tmp_path, step)
  fake_checkpoint(tmp_path, 9, "other.ckpt-9")  # not the run's: ignored
  scores = FakeScores({1: 10.0, 2: 30.0, 3: 20.0})
  final = albert_squad.evaluate_checkpoints(str(tmp_path), scores)
  assert final == {"f1": 30.0, "exact_match": 2}
  assert scores.calls == [("model.ckpt-1", 1), ("model.ckpt-2", 2),
                          ("model.ckpt-3", 3), ("model.ckpt-best", 2)]

  def saved(step):
    return "".join("saved %s/model.ckpt-%d.%s to %s/model.ckpt-best.%s\n" %
                   (tmp_path, step, ext, tmp_path, ext)
                   for ext in ("data-00000-of-00001", "index"))

  bar = "=" * 50 + "\n"
  assert read_text(tmp_path / "eval_results.txt") == (
      "exact_match = 1\nf1 = 10.0\n" + saved(1) + "best f1 = 10.0\n" + bar +
      "exact_match = 2\nf1 = 30.0\n" + saved(2) + "best f1 = 30.0\n" + bar +
      "exact_match = 3\nf1 = 20.0\nbest f1 = 30.0\n" + bar +
      "exact_match = 2\nf1 = 30.0\nbest perf happened at step: 2")
  # Nothing is deleted (ALBERT removes scored checkpoints).
  assert all(os.path.exists(str(tmp_path / ("model.ckpt-%d.index" % s)))
             for s in (1, 2, 3))

  # Again with a step 4: the best is scored first (no lines), steps up to
  # its own are skipped (3 is not: ALBERT would have deleted it), step 4
  # wins, and no final pass is needed.
  fake_checkpoint(tmp_path, 4)
  scores = FakeScores({2: 30.0, 3: 20.0, 4: 40.0})
  albert_squad.evaluate_checkpoints(str(tmp_path), scores)
  assert scores.calls == [("model.ckpt-best", 2), ("model.ckpt-3", 3),
                          ("model.ckpt-4", 4)]
  assert read_text(tmp_path / "eval_results.txt") == (
      "exact_match = 3\nf1 = 20.0\nbest f1 = 30.0\n" + bar +
      "exact_match = 4\nf1 = 40.0\n" + saved(4) + "best f1 = 40.0\n" + bar +
      "exact_match = 4\nf1 = 40.0\nbest perf happened at step: 4")


def test_checkpoint_loop_without_checkpoints_scores_the_warm_start(tmp_path):
  scores = FakeScores({None: 5.0})
  assert albert_squad.evaluate_checkpoints(str(tmp_path), scores) == {
      "f1": 5.0, "exact_match": None}
  assert scores.calls == [("init", None)]
  assert read_text(tmp_path / "eval_results.txt") == (
      "exact_match = None\nf1 = 5.0\n")


# ---------------------------------------------------------- the caches


def test_feature_caches_are_read_as_albert_and_checked(tmp_path,
                                                       monkeypatch):
  files = dict(train_feature_file=str(tmp_path / "cache/train.tfr"),
               predict_feature_file=str(tmp_path / "cache/eval.tfr"),
               predict_feature_left_file=str(tmp_path / "cache/left.pkl"))
  task = make_task("v2.0", str(tmp_path), **files)
  examples = squad_utils.read_squad_examples(squad_file("v2.0"), False)
  features, record_file = task.eval_features(examples)
  assert record_file == files["predict_feature_file"]
  train_path, written = task._train_records(task.train_examples())
  assert (train_path, written) == (files["train_feature_file"],
                                  summary("v2.0", "train")["num_features"])
  # ALBERT's pickle: its own scripts' InputFeatures class, by name.
  with open(files["predict_feature_left_file"], "rb") as f:
    assert b"albert.squad_utils" in f.read()

  def no_conversion(*args, **kwargs):
    raise AssertionError("the caches should have been read")

  monkeypatch.setattr(squad_utils, "convert_examples_to_features",
                      no_conversion)
  again, _ = task.eval_features(examples)
  assert [vars(f) for f in again] == [vars(f) for f in features]
  assert task._train_records(task.train_examples()) == (train_path, None)

  other = make_task("v2.0", str(tmp_path), **files)
  other.feature_args["max_seq_length"] = 80
  with pytest.raises(validation.UsageError,
                     match=r"--predict_feature_left_file=.*length 64, not "
                     r"--max_seq_length=80"):
    other.eval_features(examples)
  with pytest.raises(validation.UsageError,
                     match=r"--train_feature_file=.*length 64, not"):
    other._train_records(other.train_examples())
  with pytest.raises(validation.UsageError, match="made from another file"):
    task.eval_features(examples[:3])
  with open(files["predict_feature_left_file"], "wb") as f:
    f.write(b"not a pickle")
  with pytest.raises(validation.UsageError,
                     match="--predict_feature_left_file=.*cannot be read"):
    task.eval_features(examples)


# ------------------------------------------------------------- errors


@pytest.mark.parametrize("version,args,message", [
    ("v2.0", [], r"At least one of --do_train or --do_predict must be True"),
    ("v1.1", [], r"--do_predict \(or --export_dir\)"),
    ("v2.0", ["--do_predict", "--predict_file=/no/such.json"],
     r"--predict_file=/no/such.json: no such file"),
    ("v2.0", ["--do_train", "--max_seq_length=65"],
     r"sequence length 65 \(--max_seq_length\).*up to sequence length 64"),
    ("v2.0", ["--do_train", "--max_query_length=61"],
     r"max_seq_length \(64\) must be greater than max_query_length \(61\)"),
    ("v2.0", ["--do_predict", "--start_n_top=65"],
     r"--start_n_top=65: must be .*64"),
    ("v2.0", ["--do_predict", "--dropout_prob=1"], r"--dropout_prob=1"),
    ("v1.1", ["--do_predict", "--doc_stride=0"], r"--doc_stride=0"),
    ("v1.1", ["--do_predict", "--albert_hub_module_handle=x"],
     r"--albert_hub_module_handle: .*--init_checkpoint"),
])
def test_flag_errors_name_the_flag(tmp_path, version, args, message):
  with pytest.raises(validation.UsageError, match=message):
    run(tmp_path / "out", version, *args)
  assert not (tmp_path / "out").exists()


def test_a_bert_config_is_named_as_such(tmp_path):
  bert_config = harness.write_config(tmp_path)
  with pytest.raises(validation.UsageError,
                     match=r"--albert_config_file=.*is a BERT config .*"
                     r"run_squad.py --bert_config_file"):
    harness.run_main(run_squad_v2.main, *script_args(
        tmp_path / "out", "v2.0", "--do_predict",
        "--albert_config_file=" + bert_config))


def test_stream_results_refuses_results_of_other_features():
  features = [squad_utils.InputFeatures(*([None] * 11)) for _ in range(3)]
  for i, feature in enumerate(features):
    feature.unique_id = 1000000000 + i
  seen = []
  rows = [{"unique_ids": np.int64(f.unique_id)} for f in features]
  albert_squad.stream_results(iter(rows[::-1]), features,
                              lambda f, p: seen.append(f.unique_id))
  assert seen == [1000000002, 1000000001, 1000000000]
  for bad, message in [(rows[:2], "stopped after 2 of 3"),
                       (rows + rows[:1], "1000000000, twice"),
                       ([{"unique_ids": np.int64(7)}], "7, which no feature")]:
    with pytest.raises(ValueError, match=message):
      albert_squad.stream_results(iter(bad), features, lambda f, p: None)


# ------------------------------------------------- training and resume


def mean_v2_loss(task, checkpoint, record_file):
  """The task's training loss on 64 training records at `checkpoint`."""
  input_fn = squad_utils.input_fn_builder(record_file, 64, True, True, False,
                                          64, is_v2=True)
  batch = next(iter(input_fn({"seed": 0})))
  model = task.create_model({})
  checkpoints.restore(model.variables, checkpoint, log=False)
  return float(task.train_loss(model, batch, {"mode": "train"}))


def test_training_loss_falls_and_a_killed_run_resumes_exactly(tmp_path):
  args = ["--do_train", "--learning_rate=2e-3", "--num_train_epochs=2",
          "--save_checkpoints_steps=4", "--seed=3", "--dropout_prob=0",
          ]
  a = run(tmp_path / "a", "v2.0", *args)
  # 47 questions / 8 * 2 epochs = 11 steps (ALBERT counts questions).
  assert checkpoints.latest_checkpoint(str(a)) == str(a / "model.ckpt-11")
  task = make_task("v2.0", dropout_prob=0.0)
  before = mean_v2_loss(task, harness.albert_fixture(TINY, "model.ckpt-best"),
                        str(a / "train.tf_record"))
  after = mean_v2_loss(task, str(a / "model.ckpt-11"),
                       str(a / "train.tf_record"))
  assert after < 0.8 * before, (before, after)

  # The same command after a kill at step 4 continues to the same weights.
  b = tmp_path / "b"
  b.mkdir()
  for path in tf.io.gfile.glob(str(a / "model.ckpt-4.*")):
    tf.io.gfile.copy(path, str(b / os.path.basename(path)))
  checkpoints.write_state_file(str(b), str(b / "model.ckpt-4"),
                               [str(b / "model.ckpt-4")])
  run(b, "v2.0", *args)
  want = tf.train.load_checkpoint(str(a / "model.ckpt-11"))
  got = tf.train.load_checkpoint(str(b / "model.ckpt-11"))
  names = sorted(want.get_variable_to_shape_map())
  assert names == sorted(got.get_variable_to_shape_map())
  assert "end_logits/dense_0/kernel/adam_m" in names
  for name in names:
    np.testing.assert_array_equal(got.get_tensor(name), want.get_tensor(name),
                                  err_msg=name)


def test_predict_only_on_a_test_set_uses_the_threshold(tmp_path):
  """No answers in --predict_file: predictions from --init_checkpoint, ""
  where null_odds.json reaches --null_score_diff_threshold, no metrics."""
  with open(squad_file("v2.0")) as f:
    data = json.load(f)
  for article in data["data"]:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        qa.pop("answers", None)
        qa.pop("is_impossible", None)
  test_file = tmp_path / "test.json"
  test_file.write_text(json.dumps(data))
  out = run(tmp_path / "out", "v2.0", "--do_predict",
            "--predict_file=%s" % test_file,
            "--null_score_diff_threshold=-0.0085")
  predictions = json.loads(read_text(out / "predictions.json"))
  null_odds = json.loads(read_text(out / "null_odds.json"))
  nbest = json.loads(read_text(out / "nbest_predictions.json"))
  assert list(predictions) == list(null_odds) == list(nbest)
  empty = 0
  for qid, text in predictions.items():
    if null_odds[qid] >= -0.0085:
      assert text == ""
      empty += 1
    else:
      assert text == nbest[qid][0]["text"]
  assert 0 < empty < len(predictions)
  assert not (out / "eval_results.txt").exists()
  assert not (out / "model.ckpt-best.index").exists()


def test_v2_training_step_compiles_with_xla():
  """--use_xla's path: the task's v2 loss and gradients under jit_compile
  equal the op-by-op ones."""
  exp = harness.albert_reference(TINY)
  task = make_task("v2.0", dropout_prob=0.0)
  model = task.create_model({})
  checkpoints.restore(model.variables, harness.albert_fixture(
      TINY, "model.ckpt-best"), log=False)
  features = {k: tf.constant(exp[k]) for k in (
      "input_ids", "input_mask", "segment_ids", "p_mask", "start_positions",
      "end_positions", "is_impossible")}

  def gradients():
    with tf.GradientTape() as tape:
      loss = task.train_loss(model, features, {"mode": "train"})
    grads = tape.gradient(loss, model.trainable_variables)
    return loss, [tf.convert_to_tensor(g) for g in grads if g is not None]

  loss, grads = gradients()
  xla_loss, xla_grads = tf.function(gradients, jit_compile=True)()
  np.testing.assert_allclose(xla_loss, loss, rtol=1e-6)
  assert len(grads) == len(xla_grads) > 20
  for got, want in zip(xla_grads, grads):
    np.testing.assert_allclose(got, want, atol=1e-5)


# ------------------------------------------- command lines as scripts


def readme_command(out, version):
  """ALBERT's README command line of a version, on the tiny model (sizes
  the reference model fits; flags spelled as in the README)."""
  spelled = ["--do_train=true", "--do_predict=true"] if version == "v1.1" else [
      "--do_train", "--do_predict"]
  return [
      "--albert_config_file=" + harness.albert_fixture(
          TINY, "albert_config.json"),
      "--output_dir=%s" % out,
      "--train_file=" + squad_file(version),
      "--predict_file=" + squad_file(version),
      "--train_feature_file=%s/train.tfrecord" % out,
      "--predict_feature_file=%s/eval.tfrecord" % out,
      "--predict_feature_left_file=%s/eval_left.pkl" % out,
      "--init_checkpoint=" + harness.albert_fixture(TINY, "model.ckpt-best"),
      "--spm_model_file=" + SPM, "--do_lower_case", "--max_seq_length=64",
      "--doc_stride=32", "--max_query_length=16"] + spelled + [
          "--train_batch_size=8", "--predict_batch_size=8",
          "--learning_rate=5e-5", "--num_train_epochs=1.0",
          "--warmup_proportion=.1", "--save_checkpoints_steps=5000",
          "--n_best_size=20", "--max_answer_length=30"]


def run_module(args, timeout=600):
  """python <args> from the repository root; returns its output."""
  proc = subprocess.run([sys.executable] + args, cwd=ROOT,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=timeout)
  output = proc.stdout.decode("utf-8", "replace")
  assert proc.returncode == 0, output[-4000:]
  return output


def assert_run_outputs(out, num_questions, steps, version):
  """A finished train + predict run's files."""
  assert checkpoints.latest_checkpoint(str(out)).endswith("-%d" % steps)
  for name in ("train.tfrecord", "eval.tfrecord", "eval_left.pkl",
               "model.ckpt-best.index", "predictions.json",
               "nbest_predictions.json"):
    assert (out / name).exists(), name
  assert (out / "null_odds.json").exists() == (version == "v2.0")
  assert len(json.loads(read_text(out / "predictions.json"))) == (
      num_questions)
  text = read_text(out / "eval_results.txt")
  assert text.endswith("best perf happened at step: %d" % steps)
  assert ("exact_match = " in text) == (version == "v1.1")


def test_alberts_readme_command_line_runs_as_typed(tmp_path):
  """`python -m albert.run_squad_v1` with the README's flags."""
  out = tmp_path / "out"
  run_module(["-m", "albert.run_squad_v1"] + readme_command(out, "v1.1"))
  assert_run_outputs(out, 38, 4, "v1.1")


def test_v2_on_two_mirrored_replicas_with_accumulation_and_bfloat16(
    tmp_path):
  """The README's run_squad_v2 command on a MirroredStrategy over two CPU
  devices, with two micro-batches per step and bfloat16 compute."""
  out = tmp_path / "out"
  code = ("import runpy, sys, tensorflow as tf\n"
          "cpu = tf.config.list_physical_devices('CPU')[0]\n"
          "tf.config.set_logical_device_configuration(\n"
          "    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
          "sys.argv[0] = 'run_squad_v2'\n"
          "runpy.run_module('albert.run_squad_v2', run_name='__main__')\n")
  output = run_module(["-c", code] + readme_command(out, "v2.0") + [
      "--distribution=mirrored", "--gradient_accumulation_steps=2",
      "--precision=bfloat16", "--seed=1"])
  assert "2 replicas x 2 per replica x 2 accumulation steps" in output
  # 47 questions / 8 = 5 steps; float32 variables in the checkpoint.
  assert_run_outputs(out, 47, 5, "v2.0")
  reader = tf.train.load_checkpoint(str(out / "model.ckpt-5"))
  dtypes = reader.get_variable_to_dtype_map()
  assert dtypes["end_logits/dense_0/kernel"] == tf.float32
  assert "null_score_diff_threshold = " in read_text(out / "eval_results.txt")


def test_v1_export_only_writes_saved_model_and_tflite(tmp_path):
  """ALBERT's --export_dir (run_squad_v1): a serving SavedModel and a TFLite
  model of the init checkpoint, computing ALBERT's v1 logits."""
  exp = harness.albert_reference(TINY)
  out = run(tmp_path / "out", "v1.1", "--export_dir=%s" % (tmp_path / "e"))
  (saved_model,) = tf.io.gfile.glob(str(tmp_path / "e/saved_model/*"))
  serve = tf.saved_model.load(saved_model).signatures["serving_default"]
  inputs = {k: tf.constant(exp[k], tf.int32)
            for k in ("input_ids", "input_mask", "segment_ids")}
  outputs = serve(**inputs)
  np.testing.assert_allclose(outputs["start_logits"],
                             exp["squad_v1_start_logits"], **TOL)
  np.testing.assert_allclose(outputs["end_logits"],
                             exp["squad_v1_end_logits"], **TOL)
  interpreter = tf.lite.Interpreter(
      model_path=str(tmp_path / "e/albert_model.tflite"))
  runner = interpreter.get_signature_runner("serving_default")
  lite = runner(**{k: v.numpy() for k, v in inputs.items()})
  np.testing.assert_allclose(lite["start_logits"],
                             exp["squad_v1_start_logits"], atol=1e-4)
  assert not os.path.exists(str(out / "predictions.json"))


# ALBERT's flags of run_squad_v1 and run_squad_v2 (b772393) and defaults.
ALBERT_FLAGS = {
    "albert_config_file": None, "vocab_file": None, "spm_model_file": None,
    "output_dir": None, "train_file": None, "predict_file": None,
    "train_feature_file": None, "predict_feature_file": None,
    "predict_feature_left_file": None, "init_checkpoint": None,
    "albert_hub_module_handle": None, "do_lower_case": True,
    "max_seq_length": 384, "doc_stride": 128, "max_query_length": 64,
    "do_train": False, "do_predict": False, "train_batch_size": 32,
    "predict_batch_size": 8, "learning_rate": 5e-5, "num_train_epochs": 3.0,
    "warmup_proportion": 0.1, "save_checkpoints_steps": 1000,
    "iterations_per_loop": 1000, "n_best_size": 20, "max_answer_length": 30,
    "use_tpu": False, "tpu_name": None, "tpu_zone": None,
    "gcp_project": None, "master": None, "num_tpu_cores": 8,
    # run_squad_v1 only
    "use_einsum": True, "export_dir": None,
    # run_squad_v2 only
    "start_n_top": 5, "end_n_top": 5, "dropout_prob": 0.1,
}


def test_alberts_flags_and_defaults():
  """Every flag of ALBERT's two scripts, with ALBERT's default (a fresh
  process: another runner imported first would define shared flags)."""
  code = ("import json\n"
          "from absl import flags\n"
          "from albert import run_squad_v1, run_squad_v2\n"
          "F = flags.FLAGS\n"
          "print(json.dumps({k: F[k].default for k in F if "
          "not k.startswith('test')}))\n")
  defaults = json.loads(run_module(["-c", code]).strip().splitlines()[-1])
  assert {k: defaults.get(k, "absent") for k in ALBERT_FLAGS} == ALBERT_FLAGS
