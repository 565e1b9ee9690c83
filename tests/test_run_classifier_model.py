"""run_classifier.py model head and metrics.

The head is checked against Google's create_model outputs on Google's tiny
checkpoint (tests/fixtures/modeling/, written by Google's code); the metrics
against hand-computed cases and plain numpy formulas.
"""

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import modeling
import run_classifier

ATOL = 1e-5


def _restored_classifier(folder):
  config = modeling.BertConfig.from_json_file(
      fixture_path(folder, "bert_config.json"))
  model = run_classifier.BertClassifier(config, num_labels=3)
  result = checkpoints.restore(model, fixture_path(folder, "bert_model.ckpt"))
  assert not result.missing
  return config, model


@pytest.mark.parametrize("folder", ["modeling", "modeling/sharp"])
def test_head_equals_googles(folder):
  config, model = _restored_classifier(folder)
  names = sorted(checkpoints.variable_name(v) for v in model.head.variables)
  assert names == ["output_bias", "output_weights"]
  expected = np.load(fixture_path(folder, "expected.npz"))
  loss, per_example_loss, logits, probabilities = run_classifier.create_model(
      config, False, expected["input_ids"], expected["input_mask"],
      expected["segment_ids"], expected["label_ids"], 3, False, model=model)
  np.testing.assert_allclose(logits, expected["classifier_logits"], atol=ATOL)
  np.testing.assert_allclose(probabilities,
                             expected["classifier_probabilities"], atol=ATOL)
  np.testing.assert_allclose(per_example_loss,
                             expected["classifier_per_example_loss"],
                             atol=ATOL)
  np.testing.assert_allclose(loss, expected["classifier_loss"], atol=ATOL)


def test_model_fn_eval_metrics_and_predictions_use_the_same_head():
  """ModelFn on Google's batch: weighted accuracy and loss, probabilities."""
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling/sharp", "bert_config.json"))
  expected = np.load(fixture_path("modeling/sharp", "expected.npz"))
  model_fn = run_classifier.model_fn_builder(config, 3, None, 1e-3, 10, 1,
                                             False, False)
  model = model_fn.create_model({})
  checkpoints.restore(model, fixture_path("modeling/sharp", "bert_model.ckpt"))
  features = {
      "input_ids": expected["input_ids"],
      "input_mask": expected["input_mask"],
      "segment_ids": expected["segment_ids"],
      "label_ids": expected["label_ids"],
      "is_real_example": np.array([1, 1, 0], np.int32),
  }
  params = {"mode": "eval"}
  metrics = model_fn.eval_metrics(model, features, params)
  per_example = expected["classifier_per_example_loss"]
  total, count = metrics["eval_loss"]
  np.testing.assert_allclose(total, per_example[:2].sum(), atol=ATOL)
  assert float(count) == 2.0
  predicted = expected["classifier_probabilities"].argmax(-1)
  total, count = metrics["eval_accuracy"]
  assert float(total) == np.sum(predicted[:2] == expected["label_ids"][:2])
  np.testing.assert_allclose(
      model_fn.train_loss(model, features, params),
      expected["classifier_loss"], atol=ATOL)
  outputs = model_fn.predictions(model, features, {"mode": "predict"})
  np.testing.assert_allclose(outputs["probabilities"],
                             expected["classifier_probabilities"], atol=ATOL)


def test_multi_label_and_regression_losses():
  logits = tf.constant([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
  labels = np.array([[1, 0, 1], [0, 0, 1]])
  loss, probs = run_classifier.head_outputs(logits, labels,
                                            run_classifier.MULTI_LABEL)
  p = 1 / (1 + np.exp(-logits.numpy()))
  bce = -(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean(axis=1)
  np.testing.assert_allclose(loss, bce, rtol=1e-5)
  np.testing.assert_allclose(probs, p, rtol=1e-5)
  loss, score = run_classifier.head_outputs(
      tf.constant([[1.5], [-0.5]]), np.array([1.0, 1.0], np.float32),
      run_classifier.REGRESSION)
  np.testing.assert_allclose(score, [1.5, -0.5])
  np.testing.assert_allclose(loss, [0.25, 2.25])


def test_classification_metrics_hand_computed():
  # Labels 0,0,0,1,1,2 ; predictions 0,1,0,1,2,2.
  labels = np.array([0, 0, 0, 1, 1, 2])
  predicted = np.array([0, 1, 0, 1, 2, 2])
  probabilities = np.eye(3)[predicted]
  m = run_classifier.classification_metrics(probabilities, labels,
                                            ["a", "b", "c d"])
  # class a: tp 2, fp 0, fn 1 -> p 1, r 2/3, f1 0.8
  # class b: tp 1, fp 1, fn 1 -> p 0.5, r 0.5, f1 0.5
  # class c: tp 1, fp 1, fn 0 -> p 0.5, r 1, f1 2/3
  np.testing.assert_allclose(
      [m["eval_precision_a"], m["eval_recall_a"], m["eval_f1_a"]],
      [1, 2 / 3, 0.8], rtol=1e-6)
  np.testing.assert_allclose(m["eval_f1_b"], 0.5, rtol=1e-6)
  np.testing.assert_allclose(m["eval_f1_c_d"], 2 / 3, rtol=1e-6)
  np.testing.assert_allclose(m["eval_macro_f1"], (0.8 + 0.5 + 2 / 3) / 3,
                             rtol=1e-6)
  # Gorodkin's R_K: c=4, s=6, t=(3,2,1), p=(2,2,2):
  # (4*6 - (6+4+2)) / sqrt((36-12)*(36-14)) = 12 / sqrt(528)
  np.testing.assert_allclose(m["eval_matthews_corr"], 12 / np.sqrt(528),
                             rtol=1e-6)


def test_matthews_binary_equals_textbook_formula():
  rng = np.random.RandomState(3)
  labels = rng.randint(0, 2, 200)
  predicted = np.where(rng.rand(200) < 0.7, labels, 1 - labels)
  tp = np.sum((predicted == 1) & (labels == 1))
  tn = np.sum((predicted == 0) & (labels == 0))
  fp = np.sum((predicted == 1) & (labels == 0))
  fn = np.sum((predicted == 0) & (labels == 1))
  textbook = (tp * tn - fp * fn) / np.sqrt(
      float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
  m = run_classifier.classification_metrics(np.eye(2)[predicted], labels,
                                            ["0", "1"])
  np.testing.assert_allclose(m["eval_matthews_corr"], textbook, rtol=1e-6)
  # A constant prediction has no correlation (0, not NaN).
  m = run_classifier.classification_metrics(np.eye(2)[labels * 0], labels,
                                            ["0", "1"])
  assert m["eval_matthews_corr"] == 0.0


def test_multi_label_metrics_hand_computed():
  labels = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
  probabilities = np.array([[0.9, 0.2, 0.6], [0.1, 0.4, 0.0],
                            [0.7, 0.8, 0.5], [0.2, 0.1, 0.3]])
  m = run_classifier.multi_label_metrics(probabilities, labels,
                                         ["x", "y", "z"], threshold=0.5)
  # predicted: [1,0,1], [0,0,0], [1,1,1], [0,0,0]
  # x: tp 2 fp 0 fn 0 -> f1 1; y: tp 1 fp 0 fn 1 -> f1 2/3;
  # z: tp 1 fp 1 fn 0 -> f1 2/3. micro: tp 4 fp 1 fn 1 -> 8/10.
  np.testing.assert_allclose(m["eval_f1_x"], 1.0)
  np.testing.assert_allclose(m["eval_f1_y"], 2 / 3, rtol=1e-6)
  np.testing.assert_allclose(m["eval_f1_z"], 2 / 3, rtol=1e-6)
  np.testing.assert_allclose(m["eval_micro_f1"], 0.8, rtol=1e-6)
  np.testing.assert_allclose(m["eval_macro_f1"], (1 + 4 / 3) / 3, rtol=1e-6)
  np.testing.assert_allclose(m["eval_subset_accuracy"], 0.5)


def test_regression_metrics_against_numpy():
  rng = np.random.RandomState(0)
  labels = rng.uniform(0, 5, 50)
  predictions = labels + rng.normal(0, 1, 50)
  m = run_classifier.regression_metrics(predictions, labels)
  np.testing.assert_allclose(m["eval_pearson"],
                             np.corrcoef(predictions, labels)[0, 1],
                             rtol=1e-6)
  # Spearman without ties = 1 - 6 sum d^2 / (n (n^2 - 1)).
  d = np.argsort(np.argsort(predictions)) - np.argsort(np.argsort(labels))
  n = len(labels)
  np.testing.assert_allclose(m["eval_spearman"],
                             1 - 6 * np.sum(d**2) / (n * (n * n - 1)),
                             rtol=1e-6)
  # Ties share their average rank: ranks of [1, 2, 2, 3] are [1, 2.5, 2.5, 4].
  m = run_classifier.regression_metrics([1, 2, 2, 3], [1, 2, 3, 4])
  np.testing.assert_allclose(
      m["eval_spearman"],
      np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 3, 4])[0, 1], rtol=1e-6)


def test_metrics_from_predictions_drop_padding():
  predictions = [
      {"probabilities": np.array([0.9, 0.1]), "label_ids": 0,
       "is_real_example": 1.0},
      {"probabilities": np.array([0.2, 0.8]), "label_ids": 0,
       "is_real_example": 1.0},
      {"probabilities": np.array([0.9, 0.1]), "label_ids": 1,
       "is_real_example": 0.0},
  ]
  m = run_classifier.metrics_from_predictions(
      predictions, run_classifier.CLASSIFICATION, ["0", "1"])
  # Real: label 0 predicted 0, label 0 predicted 1 -> class 0: p 1 r 0.5.
  np.testing.assert_allclose(m["eval_recall_0"], 0.5)
  np.testing.assert_allclose(m["eval_precision_0"], 1.0)
  assert m["eval_f1_1"] == 0.0
