"""albert/run_classifier.py and classifier_utils' model: ALBERT's command
lines, files and numbers.

References: the tiny ALBERT checkpoint of google-research/albert's own code
(tests/fixtures/albert/modeling/tiny: the model and a 3-label classifier
head, with ALBERT's classifier logits, probabilities and losses on a fixed
batch), ALBERT's GLUE records (tests/fixtures/albert/classifier, record
digests) and the GLUE files of tests/fixtures/classifier in ALBERT's layout
<data_dir>/<TASK>/.
"""

import gzip
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import encoders
import estimator_lib
import harness
from harness import run_main
from albert import classifier_utils
from albert import run_classifier as albert_run_classifier
from test_albert_classifier_data import canonical_sha256

SPM = fixture_path("albert", "spm_tiny.model")
TINY_CONFIG = harness.albert_fixture("tiny", "albert_config.json")
TINY_CHECKPOINT = harness.albert_fixture("tiny", "model.ckpt-best")
MNLI_LABELS = ["contradiction", "entailment", "neutral"]

# ALBERT's README, "Fine-tuning on GLUE", flag for flag.
ALBERT_README_COMMAND = """
python -m albert.run_classifier \\
  --data_dir=... \\
  --output_dir=... \\
  --init_checkpoint=... \\
  --albert_config_file=... \\
  --spm_model_file=... \\
  --do_train \\
  --do_eval \\
  --do_predict \\
  --do_lower_case \\
  --max_seq_length=128 \\
  --optimizer=adamw \\
  --task_name=MNLI \\
  --warmup_step=1000 \\
  --learning_rate=3e-5 \\
  --train_step=10000 \\
  --save_checkpoints_steps=100 \\
  --train_batch_size=128
"""


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
  """GLUE files in ALBERT's layout; STS-B's made-up file for every split."""
  root = tmp_path_factory.mktemp("albert_glue")
  files = {"MNLI": ("mnli", ["train.tsv", "dev_matched.tsv",
                             "test_matched.tsv"]),
           "MRPC": ("mrpc", ["train.tsv", "dev.tsv", "test.tsv"]),
           "CoLA": ("cola", ["train.tsv", "dev.tsv", "test.tsv"])}
  for folder, (task, names) in files.items():
    os.makedirs(root / folder)
    for name in names:
      shutil.copy(fixture_path("classifier", task, name), root / folder / name)
  os.makedirs(root / "STS-B")
  for name in ("train.tsv", "dev.tsv", "test.tsv"):
    shutil.copy(fixture_path("albert", "classifier", "stsb_train.tsv"),
                root / "STS-B" / name)
  return str(root)


@pytest.fixture(scope="module")
def encoder_checkpoint(tmp_path_factory):
  """The tiny reference encoder without its heads (for 1- and 2-label
  tasks)."""
  model, _ = harness.load_albert("tiny")
  return checkpoints.save_checkpoint(
      model, str(tmp_path_factory.mktemp("albert_encoder") / "encoder.ckpt"))


def _summary():
  with open(fixture_path("albert", "classifier", "summary.json")) as f:
    return json.load(f)


def _reference_guids(task, split):
  path = fixture_path("albert", "classifier", "%s_%s.jsonl.gz" % (task, split))
  with gzip.open(path, "rt", encoding="utf-8") as f:
    return [json.loads(line)["guid"] for line in f]


def read_eval_blocks(path):
  """ALBERT's eval_results.txt: one dict per evaluated checkpoint."""
  with open(path) as f:
    text = f.read()
  blocks = text.split("=" * 50 + "\n")
  assert blocks[-1] == ""
  result = []
  for block in blocks[:-1]:
    lines = block.splitlines()
    pairs = [line.split(" = ") for line in lines]
    assert all(len(p) == 2 for p in pairs), lines
    keys = [k for k, _ in pairs]
    # Every key sorted, then ALBERT's "best" line.
    assert keys[-1] == "best" and keys[:-1] == sorted(keys[:-1])
    result.append(dict(pairs))
  return result


def _tsv(path):
  with open(path) as f:
    return [line.rstrip("\n").split("\t") for line in f]


def _readme_argv(glue_dir, output_dir, export_dir):
  """ALBERT's README command with this test's paths and tiny sizes."""
  values = {"--data_dir=...": "--data_dir=" + glue_dir,
            "--output_dir=...": "--output_dir=" + output_dir,
            "--init_checkpoint=...": "--init_checkpoint=" + TINY_CHECKPOINT,
            "--albert_config_file=...": "--albert_config_file=" + TINY_CONFIG,
            "--spm_model_file=...": "--spm_model_file=" + SPM,
            "--max_seq_length=128": "--max_seq_length=32",
            "--warmup_step=1000": "--warmup_step=1",
            "--learning_rate=3e-5": "--learning_rate=1e-3",
            "--train_step=10000": "--train_step=6",
            "--save_checkpoints_steps=100": "--save_checkpoints_steps=2",
            "--train_batch_size=128": "--train_batch_size=8"}
  words = ALBERT_README_COMMAND.replace("\\\n", " ").split()
  assert words[:3] == ["python", "-m", "albert.run_classifier"]
  argv = [values.get(word, word) for word in words[3:]]
  assert len(argv) == 17
  return argv + ["--export_dir=" + export_dir, "--seed=1"]


def _albert_kept(steps, values):
  """The checkpoints ALBERT's loop keeps, from the metric of each step: a
  checkpoint that is not a new best is removed if two newer ones exist."""
  best, kept = -1, []
  for i, (step, value) in enumerate(zip(steps, values)):
    if value > best:
      best = value
      kept.append(step)
    elif len(steps) - i - 1 <= 1:
      kept.append(step)
  return kept


def test_albert_readme_command_line(glue, tmp_path):
  """ALBERT's README command for MNLI: ALBERT's records, one eval block per
  checkpoint, best_trial.txt, model.ckpt-best, the kept checkpoints, test
  and submission files, the serialized-example export, TensorBoard."""
  out, export_dir = str(tmp_path / "out"), str(tmp_path / "export")
  run_main(albert_run_classifier.main, *_readme_argv(glue, out, export_dir))
  splits = _summary()["tasks"]["mnli"]["splits"]
  for name, split in (("mnli_train", "train"), ("mnli_eval", "dev"),
                      ("predict", "test")):
    assert canonical_sha256(os.path.join(out, name + ".tf_record"),
                            str(tmp_path / "canonical")) == (
                                splits[split]["record_canonical_sha256"])
  blocks = read_eval_blocks(os.path.join(out, "eval_results.txt"))
  assert [int(b["global_step"]) for b in blocks] == [2, 4, 6]
  assert {"eval_accuracy", "eval_loss", "loss"} <= set(blocks[0])
  accuracy = [float(b["eval_accuracy"]) for b in blocks]
  best = [-1.0] + list(np.maximum.accumulate(accuracy))[:-1]
  assert [float(b["best"]) for b in blocks] == best
  best_step = [2, 4, 6][int(np.argmax(accuracy))]
  with open(os.path.join(out, "best_trial.txt")) as f:
    step, trial_best, value = f.read().split(":")
  assert (int(step), int(trial_best)) == (6, best_step)
  assert float(value) == max(accuracy)
  kept = _albert_kept([2, 4, 6], accuracy)
  assert albert_run_classifier.checkpoint_steps(out) == [
      s for s in kept if s != best_step]
  assert tf.train.load_checkpoint(os.path.join(out, "model.ckpt-best")
                                  ).get_tensor("global_step") == best_step
  _check_predictions(out, export_dir)
  tags = _summary_tags(out)
  assert {"loss", "learning_rate"} <= tags


def _check_predictions(out, export_dir):
  """test_results.tsv, submit_results.tsv and the export agree."""
  probabilities = np.array(_tsv(os.path.join(out, "test_results.tsv")),
                           np.float64)
  assert probabilities.shape == (20, 3)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  submit = _tsv(os.path.join(out, "submit_results.tsv"))
  assert submit[0] == ["index", "prediction"]
  assert [row[0] for row in submit[1:]] == _reference_guids("mnli", "test")
  assert [row[1] for row in submit[1:]] == [
      MNLI_LABELS[i] for i in np.argmax(probabilities, axis=1)]
  (version,) = os.listdir(export_dir)
  assert version.isdigit()
  serve = tf.saved_model.load(os.path.join(
      export_dir, version)).signatures["serving_default"]
  records = list(tf.data.TFRecordDataset(
      os.path.join(out, "predict.tf_record")).as_numpy_iterator())
  served = serve(input=tf.constant(records))
  np.testing.assert_allclose(served["probabilities"], probabilities,
                             atol=1e-6)
  np.testing.assert_array_equal(served["predictions"],
                                np.argmax(probabilities, axis=1))


def _summary_tags(directory):
  """Tags of the TensorBoard scalars written in `directory`."""
  tags = set()
  for name in os.listdir(directory):
    if name.startswith("events.out.tfevents"):
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(directory, name)):
        tags.update(v.tag for v in event.summary.value)
  return tags


def _loss_curve(directory):
  """(step, loss) of the training summaries, in step order."""
  points = []
  for name in os.listdir(directory):
    if name.startswith("events.out.tfevents"):
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(directory, name)):
        for value in event.summary.value:
          if value.tag == "loss":
            points.append((event.step, float(tf.make_ndarray(value.tensor))))
  return sorted(points)


def _reference_features(exp):
  """The reference batch as classifier InputFeatures (MNLI's 3 labels)."""
  return [classifier_utils.InputFeatures(
      input_ids=exp["input_ids"][i].tolist(),
      input_mask=exp["input_mask"][i].tolist(),
      segment_ids=exp["segment_ids"][i].tolist(),
      label_id=int(exp["label_ids"][i])) for i in range(len(exp["input_ids"]))]


def test_classifier_head_equals_albert_at_learning_rate_zero(tmp_path):
  """classifier_utils.model_fn_builder trained at learning rate 0, then
  evaluated and predicted: ALBERT's logits, probabilities, predictions and
  loss of the reference checkpoint (and create_model's tuple)."""
  exp = harness.albert_reference("tiny")
  config = encoders.get_family("albert").load_config(
      TINY_CONFIG)
  model_fn = classifier_utils.model_fn_builder(
      config, 3, TINY_CHECKPOINT, learning_rate=0.0, num_train_steps=2,
      num_warmup_steps=0, use_tpu=False, use_one_hot_embeddings=False,
      task_name="mnli")
  estimator = estimator_lib.Estimator(
      model_fn, estimator_lib.RunConfig(str(tmp_path)), train_batch_size=3,
      eval_batch_size=3, predict_batch_size=3)
  features = _reference_features(exp)
  estimator.train(classifier_utils.input_fn_builder(features, 16, True, True),
                  max_steps=2)
  input_fn = classifier_utils.input_fn_builder(features, 16, False, False)
  predictions = list(estimator.predict(input_fn))
  tol = dict(atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose([p["probabilities"] for p in predictions],
                             exp["classifier_probabilities"], **tol)
  np.testing.assert_array_equal([p["predictions"] for p in predictions],
                                exp["classifier_predictions"])
  result = estimator.evaluate(input_fn)
  assert result["global_step"] == 2
  np.testing.assert_allclose(result["eval_loss"], exp["classifier_loss"],
                             **tol)
  # ALBERT's create_model on the same weights.
  loss, per_example, probabilities, logits, predicted = (
      classifier_utils.create_model(
          config, False, exp["input_ids"], exp["input_mask"],
          exp["segment_ids"], exp["label_ids"], 3, False, "mnli", None,
          model=estimator.model))
  np.testing.assert_allclose(loss, exp["classifier_loss"], **tol)
  np.testing.assert_allclose(per_example, exp["classifier_per_example_loss"],
                             **tol)
  np.testing.assert_allclose(probabilities, exp["classifier_probabilities"],
                             **tol)
  np.testing.assert_allclose(logits, exp["classifier_logits"], **tol)
  np.testing.assert_array_equal(predicted, exp["classifier_predictions"])


def _flags(glue, out, **extra):
  """albert.run_classifier flags for a tiny run (ALBERT's names)."""
  values = dict(data_dir=glue, output_dir=out, albert_config_file=TINY_CONFIG,
                spm_model_file=SPM, max_seq_length=32, train_batch_size=8,
                learning_rate=1e-3, warmup_step=1, seed=1)
  values.update(extra)
  return values


def test_fine_tuning_on_mrpc_learns(encoder_checkpoint, tmp_path):
  """60 steps on ALBERT's MRPC training records, evaluated on them (dev.tsv
  = train.tsv): the loss falls at every checkpoint and the 40 pairs are
  learnt (a majority guess gets 0.5). Training wrote TensorBoard scalars."""
  glue = tmp_path / "glue"
  os.makedirs(glue / "MRPC")
  for name in ("train.tsv", "dev.tsv"):
    shutil.copy(fixture_path("classifier", "mrpc", "train.tsv"),
                glue / "MRPC" / name)
  out = str(tmp_path / "out")
  run_main(albert_run_classifier.main, "--do_train", "--do_eval",
           **_flags(str(glue), out, task_name="MRPC",
                    init_checkpoint=encoder_checkpoint, train_step=60,
                    warmup_step=3, iterations_per_loop=10,
                    save_checkpoints_steps=20))
  blocks = read_eval_blocks(os.path.join(out, "eval_results.txt"))
  assert [int(b["global_step"]) for b in blocks] == [20, 40, 60]
  losses = [float(b["eval_loss"]) for b in blocks]
  assert losses[0] > 0.6 and losses[1] < losses[0] and losses[2] < losses[1]
  assert float(blocks[-1]["eval_accuracy"]) == 1.0
  assert [step for step, _ in _loss_curve(out)] == [10, 20, 30, 40, 50, 60]
  names = dict(tf.train.list_variables(os.path.join(out, "model.ckpt-best")))
  assert names["output_weights"] == [2, 32]
  assert names["bert/embeddings/word_embeddings"] == [1000, 16]


def test_sts_b_and_cola_keys_and_the_runtime_flags(glue, encoder_checkpoint,
                                                   tmp_path):
  """STS-B trained with bfloat16, XLA and gradient accumulation: ALBERT's
  pearson / MSE keys, float records and scores in submit_results.tsv; CoLA
  evaluated from --init_checkpoint alone: matthew_corr."""
  out = str(tmp_path / "sts")
  run_main(albert_run_classifier.main, "--do_train", "--do_eval",
           "--do_predict",
           **_flags(glue, out, task_name="STS-B",
                    init_checkpoint=encoder_checkpoint, train_step=2,
                    save_checkpoints_steps=2, precision="bfloat16",
                    use_xla=True, gradient_accumulation_steps=2))
  (block,) = read_eval_blocks(os.path.join(out, "eval_results.txt"))
  assert block["MSE"] == block["eval_loss"]
  assert block["pearson"] == block["eval_pearson"] and "eval_accuracy" not in block
  records = classifier_utils.file_based_input_fn_builder(
      os.path.join(out, "sts-b_train.tf_record"), 32, False, False, "sts-b",
      False, 100)({})
  assert next(iter(records))["label_ids"].dtype == tf.float32
  scores = [row[0] for row in _tsv(os.path.join(out, "test_results.tsv"))]
  submit = _tsv(os.path.join(out, "submit_results.tsv"))
  assert [row[1] for row in submit[1:]] == scores
  assert dict(tf.train.list_variables(os.path.join(out, "model.ckpt-best")))[
      "output_weights"] == [1, 32]

  out = str(tmp_path / "cola")
  run_main(albert_run_classifier.main, "--do_eval",
           **_flags(glue, out, task_name="CoLA",
                    init_checkpoint=encoder_checkpoint))
  (block,) = read_eval_blocks(os.path.join(out, "eval_results.txt"))
  assert block["matthew_corr"] == block["eval_matthews_corr"]
  assert block["best"] == "-1" and "eval_accuracy" in block


def test_run_glue_two_steps_on_a_hub_module(glue, tmp_path):
  """run_glue.sh's pattern: train only (--nodo_eval --nodo_predict), then
  evaluate and predict only, with --albert_hub_module_handle (an
  albert.export_to_tfhub module) and --cached_dir: the second run reuses the
  cached records and evaluates the first run's checkpoints."""
  from albert import export_to_tfhub  # pylint: disable=g-import-not-at-top
  module = str(tmp_path / "module")
  export_to_tfhub.export_albert(TINY_CONFIG, TINY_CHECKPOINT, module, SPM)
  out, cached = str(tmp_path / "out"), str(tmp_path / "cache")
  common = dict(data_dir=glue, output_dir=out, spm_model_file=SPM,
                max_seq_length=32, task_name="MRPC", warmup_step=1,
                learning_rate=1e-3, train_step=2, save_checkpoints_steps=1,
                train_batch_size=8, albert_hub_module_handle=module,
                cached_dir=cached, seed=1)
  run_main(albert_run_classifier.main, "--do_train", "--nodo_eval",
           "--nodo_predict", "--init_checkpoint=", **common)
  train_file = os.path.join(cached, "mrpc_train.tf_record")
  stamp = os.stat(train_file).st_mtime_ns
  assert not os.path.exists(os.path.join(out, "eval_results.txt"))
  trained = tf.train.load_checkpoint(os.path.join(out, "model.ckpt-2"))
  reference = tf.train.load_checkpoint(TINY_CHECKPOINT)
  name = "bert/pooler/dense/kernel"
  assert np.abs(trained.get_tensor(name) -
                reference.get_tensor(name)).max() > 1e-5
  run_main(albert_run_classifier.main, "--nodo_train", "--do_eval",
           "--do_predict", **common)
  assert os.stat(train_file).st_mtime_ns == stamp
  assert os.path.exists(os.path.join(cached, "mrpc_eval.tf_record"))
  blocks = read_eval_blocks(os.path.join(out, "eval_results.txt"))
  assert [int(b["global_step"]) for b in blocks] == [1, 2]
  assert os.path.exists(os.path.join(out, "model.ckpt-best.index"))
  submit = _tsv(os.path.join(out, "submit_results.tsv"))
  assert len(submit) == 21 and {row[1] for row in submit[1:]} <= {"0", "1"}


def test_errors_name_the_flag_or_file(glue, tmp_path):
  base = _flags(glue, str(tmp_path / "out"), task_name="MRPC")
  with pytest.raises(ValueError, match="is a BERT config"):
    run_main(albert_run_classifier.main, "--do_eval",
             **dict(base, albert_config_file=harness.write_config(tmp_path)))
  with pytest.raises(ValueError, match="Task not found: nope"):
    run_main(albert_run_classifier.main, "--do_eval",
             **dict(base, task_name="nope"))
  with pytest.raises(ValueError, match="At least one of `do_train`"):
    run_main(albert_run_classifier.main, **base)
  with pytest.raises(ValueError, match="sequence length 65 .* 64"):
    run_main(albert_run_classifier.main, "--do_eval",
             **dict(base, max_seq_length=65))
  with pytest.raises(ValueError, match="--train_step=0"):
    run_main(albert_run_classifier.main, "--do_train",
             **dict(base, train_step=0))
  with pytest.raises(ValueError, match="Nothing to evaluate with: no "
                     "checkpoint in --output_dir"):
    run_main(albert_run_classifier.main, "--do_eval", **base)
  # A cached record file of another --max_seq_length.
  cached = str(tmp_path / "cache")
  os.makedirs(cached)
  processor = classifier_utils.MrpcProcessor(True, True)
  classifier_utils.file_based_convert_examples_to_features(
      processor.get_dev_examples(glue)[:2], processor.get_labels(), 16,
      encoders.get_family("albert").create_tokenizer(
          spm_model_file=SPM), os.path.join(cached, "mrpc_eval.tf_record"),
      "mrpc")
  with pytest.raises(ValueError, match="--cached_dir: .*mrpc_eval.tf_record "
                     "holds records of 16 tokens, not --max_seq_length=32"):
    run_main(albert_run_classifier.main, "--do_eval",
             **dict(base, cached_dir=cached,
                    init_checkpoint=TINY_CHECKPOINT))
