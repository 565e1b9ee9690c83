"""The shared heads on ALBERT, against the outputs of ALBERT's own heads.

The reference checkpoints hold the model and every head ALBERT's code built
on it: run_pretraining's masked LM (H -> E transform, tied to the [V, E]
table) and sentence order (`cls/seq_relationship`), classifier_utils'
classifier, squad_utils' v1 span head and v2 head (start / end beams and an
answerability logit); the npz files hold their outputs.
"""

import numpy as np
import pytest
import tensorflow as tf

import checkpoints
import harness
import heads

TOL = dict(atol=1e-5, rtol=1e-5)
START_N_TOP, END_N_TOP = 3, 2  # the reference's beams


class AlbertWithHeads(object):
  """A reference model and every head, all loaded from its checkpoint."""

  def __init__(self, name, squad_dropout=0.0):
    self.name = name
    self.model, _ = harness.load_albert(name)
    config = self.model.config
    h = config.hidden_size
    self.mlm = heads.MaskedLMHead.tied_to(self.model.word_embeddings, h,
                                          config.hidden_act,
                                          config.initializer_range)
    self.sop = heads.SentenceRelationHead(h, config.initializer_range)
    self.classifier = heads.ClassifierHead(3, h)
    self.span = heads.SpanHead(h)
    self.squad_v2 = heads.SquadV2Head(h, config.initializer_range,
                                      START_N_TOP, END_N_TOP, squad_dropout)
    self.heads = [self.mlm, self.sop, self.classifier, self.span,
                  self.squad_v2]
    variables = list(self.model.variables) + [
        v for head in self.heads for v in head.variables]
    self.result = checkpoints.restore(
        variables, harness.albert_fixture(name, "model.ckpt-best"))

  def outputs(self, exp, default_mask=False):
    """The model's outputs on the reference inputs."""
    if default_mask:
      return self.model(exp["input_ids"])
    return self.model(exp["input_ids"], exp["input_mask"], exp["segment_ids"])


@pytest.fixture(scope="module", params=harness.ALBERT_MODELS)
def albert(request):
  return AlbertWithHeads(request.param)


def test_every_checkpoint_entry_is_a_variable(albert):
  """Model + heads read every entry but global_step, with ALBERT's shapes."""
  assert not albert.result.missing
  assert albert.result.unused == ["global_step"]


def test_head_variable_names_and_shapes():
  shapes = {}
  for head in (heads.SquadV2Head(32), heads.MaskedLMHead(32, 16, 1000)):
    shapes.update({checkpoints.variable_name(v): v.shape.as_list()
                   for v in head.variables})
  assert shapes == {
      "start_logits/dense/kernel": [32, 1], "start_logits/dense/bias": [1],
      "end_logits/dense_0/kernel": [64, 32], "end_logits/dense_0/bias": [32],
      "end_logits/LayerNorm/beta": [32], "end_logits/LayerNorm/gamma": [32],
      "end_logits/dense_1/kernel": [32, 1], "end_logits/dense_1/bias": [1],
      "answer_class/dense_0/kernel": [64, 32],
      "answer_class/dense_0/bias": [32],
      "answer_class/dense_1/kernel": [32, 1],
      "cls/predictions/transform/dense/kernel": [32, 16],
      "cls/predictions/transform/dense/bias": [16],
      "cls/predictions/transform/LayerNorm/beta": [16],
      "cls/predictions/transform/LayerNorm/gamma": [16],
      "cls/predictions/output_bias": [1000]}


@pytest.mark.parametrize("default_mask", [False, True])
def test_pretraining_heads_match_albert(albert, default_mask):
  """MLM (H -> E transform, tied [V, E] table) and SOP (BERT's NSP head,
  labels as records carry them in next_sentence_labels)."""
  exp = harness.albert_reference(albert.name, default_mask)
  outputs = albert.outputs(exp, default_mask)
  mlm_loss, mlm_example_loss, mlm_log_probs = heads.masked_lm_output(
      albert.mlm, heads.gather_indexes(outputs.sequence_output,
                                       exp["masked_lm_positions"]),
      outputs.embedding_table, exp["masked_lm_ids"], exp["masked_lm_weights"])
  np.testing.assert_allclose(mlm_log_probs, exp["masked_lm_log_probs"], **TOL)
  np.testing.assert_allclose(mlm_example_loss, exp["masked_lm_example_loss"],
                             **TOL)
  np.testing.assert_allclose(mlm_loss, exp["masked_lm_loss"], **TOL)
  features = {"next_sentence_labels": exp["sentence_order_labels"]}
  sop_loss, sop_example_loss, sop_log_probs = heads.sentence_relation_output(
      albert.sop, outputs.pooled_output, features["next_sentence_labels"])
  np.testing.assert_allclose(sop_log_probs, exp["sentence_order_log_probs"],
                             **TOL)
  np.testing.assert_allclose(sop_example_loss,
                             exp["sentence_order_example_loss"], **TOL)
  np.testing.assert_allclose(sop_loss, exp["sentence_order_loss"], **TOL)
  np.testing.assert_allclose(mlm_loss + sop_loss, exp["total_pretraining_loss"],
                             **TOL)


@pytest.mark.parametrize("default_mask", [False, True])
def test_classifier_matches_albert(albert, default_mask):
  exp = harness.albert_reference(albert.name, default_mask)
  outputs = albert.outputs(exp, default_mask)
  result = heads.classifier_model_outputs(
      albert.classifier(outputs.pooled_output), exp["label_ids"])
  np.testing.assert_allclose(result.logits, exp["classifier_logits"], **TOL)
  np.testing.assert_allclose(result.probabilities,
                             exp["classifier_probabilities"], **TOL)
  np.testing.assert_allclose(result.per_example_loss,
                             exp["classifier_per_example_loss"], **TOL)
  np.testing.assert_allclose(result.loss, exp["classifier_loss"], **TOL)
  np.testing.assert_array_equal(result.predictions,
                                exp["classifier_predictions"])
  assert result.predictions.dtype == tf.int32


@pytest.mark.parametrize("default_mask", [False, True])
def test_squad_heads_match_albert(albert, default_mask):
  exp = harness.albert_reference(albert.name, default_mask)
  outputs = albert.outputs(exp, default_mask)
  start, end = albert.span(outputs.sequence_output)
  np.testing.assert_allclose(start, exp["squad_v1_start_logits"], **TOL)
  np.testing.assert_allclose(end, exp["squad_v1_end_logits"], **TOL)
  v2 = albert.squad_v2(outputs.sequence_output, exp["p_mask"])
  assert sorted(v2) == ["cls_logits", "end_top_index", "end_top_log_probs",
                        "start_top_index", "start_top_log_probs"]
  for key in ("start_top_log_probs", "end_top_log_probs", "cls_logits"):
    np.testing.assert_allclose(v2[key], exp["squad_v2_" + key], err_msg=key,
                               **TOL)
  for key in ("start_top_index", "end_top_index"):
    np.testing.assert_array_equal(v2[key], exp["squad_v2_" + key])
  assert v2["end_top_index"].shape == [3, START_N_TOP * END_N_TOP]


def test_squad_v2_beams_of_a_question_with_only_cls(albert):
  """Example 2 has only [CLS] as a possible start: the other beams are masked
  positions with log probability -1e30, ties broken by the lower index (as
  ALBERT's tf.nn.top_k)."""
  exp = harness.albert_reference(albert.name)
  assert exp["p_mask"][2].tolist() == [0] + [1] * 15
  v2 = albert.squad_v2(albert.outputs(exp).sequence_output, exp["p_mask"])
  assert v2["start_top_index"][2].numpy().tolist() == [0, 1, 2]
  np.testing.assert_allclose(v2["start_top_log_probs"][2].numpy(),
                             [0.0, -1e30, -1e30], rtol=1e-6)


def test_squad_v2_training_log_probs_and_loss_match_albert(albert):
  exp = harness.albert_reference(albert.name)
  outputs = albert.outputs(exp)
  train = albert.squad_v2(outputs.sequence_output, exp["p_mask"],
                          training=True,
                          start_positions=exp["start_positions"])
  assert sorted(train) == ["cls_logits", "end_log_probs", "start_log_probs"]
  for key in ("start_log_probs", "end_log_probs", "cls_logits"):
    np.testing.assert_allclose(train[key], exp["squad_v2_train_" + key],
                               err_msg=key, **TOL)
  # ALBERT's v2_model_fn loss, from the reference's own log probs (float64).
  batch = np.arange(3)
  start_loss = -exp["squad_v2_train_start_log_probs"][
      batch, exp["start_positions"]].astype(np.float64).mean()
  end_loss = -exp["squad_v2_train_end_log_probs"][
      batch, exp["end_positions"]].astype(np.float64).mean()
  logits = exp["squad_v2_train_cls_logits"].astype(np.float64)
  labels = exp["is_impossible"].astype(np.float64)
  answerability = np.mean(np.maximum(logits, 0) - logits * labels +
                          np.log1p(np.exp(-np.abs(logits))))
  want = (start_loss + end_loss) * 0.5 + answerability * 0.5
  got = heads.squad_v2_loss(train, exp["start_positions"],
                            exp["end_positions"], exp["is_impossible"])
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_squad_v2_dropout_only_on_the_answerability_layer_in_training():
  albert = AlbertWithHeads("tiny_sharp", squad_dropout=0.5)
  exp = harness.albert_reference("tiny_sharp")
  sequence = albert.outputs(exp).sequence_output
  train = albert.squad_v2(sequence, exp["p_mask"], training=True,
                          start_positions=exp["start_positions"])
  np.testing.assert_allclose(train["end_log_probs"],
                             exp["squad_v2_train_end_log_probs"], **TOL)
  assert np.abs(train["cls_logits"] -
                exp["squad_v2_train_cls_logits"]).max() > 1e-3
  inference = albert.squad_v2(sequence, exp["p_mask"])
  np.testing.assert_allclose(inference["cls_logits"], exp["squad_v2_cls_logits"],
                             **TOL)
  with pytest.raises(ValueError, match="start_positions"):
    albert.squad_v2(sequence, exp["p_mask"], training=True)


def test_squad_v2_head_compiles_with_xla(albert):
  exp = harness.albert_reference(albert.name)
  sequence = albert.outputs(exp).sequence_output
  run = tf.function(lambda s, p: albert.squad_v2(s, p), jit_compile=True)
  v2 = run(sequence, tf.constant(exp["p_mask"]))
  np.testing.assert_array_equal(v2["end_top_index"], exp["squad_v2_end_top_index"])
  np.testing.assert_allclose(v2["cls_logits"], exp["squad_v2_cls_logits"],
                             **TOL)


def test_classifier_weights_stddev_is_002_whatever_initializer_range():
  """ALBERT's classifier (and SQuAD v1) weights: truncated normal 0.02, not
  the config's initializer_range (0.2 for tiny_sharp)."""
  tf.random.set_seed(3)
  weights = heads.ClassifierHead(200, 256).output_weights.numpy()
  # Truncated at two standard deviations: std is 0.8796 * stddev.
  assert abs(weights.std() - 0.8796 * 0.02) < 0.0005
  assert np.abs(weights).max() <= 0.04 + 1e-7
  span = heads.SpanHead(256).output_weights.numpy()
  assert np.abs(span).max() <= 0.04 + 1e-7


def test_classifier_model_outputs_regression_and_multi_label():
  logits = tf.constant([[0.5], [-1.0]])
  result = heads.classifier_model_outputs(logits, np.array([1.0, 0.0]),
                                          heads.REGRESSION)
  # ALBERT's STS-B: probabilities are the [B, 1] logits, logits and
  # predictions the squeezed [B] scores, loss the squared error.
  np.testing.assert_array_equal(result.probabilities, [[0.5], [-1.0]])
  np.testing.assert_array_equal(result.logits, [0.5, -1.0])
  np.testing.assert_array_equal(result.predictions, [0.5, -1.0])
  np.testing.assert_allclose(result.per_example_loss, [0.25, 1.0])
  np.testing.assert_allclose(result.loss, 0.625)
  multi = heads.classifier_model_outputs(
      tf.constant([[2.0, -1.0], [-3.0, 0.5]]), np.array([[1, 0], [0, 0]]),
      heads.MULTI_LABEL)
  np.testing.assert_array_equal(multi.predictions, [[1, 0], [0, 1]])
  np.testing.assert_allclose(multi.probabilities,
                             1 / (1 + np.exp(-np.array([[2.0, -1.0],
                                                        [-3.0, 0.5]]))),
                             rtol=1e-6)
