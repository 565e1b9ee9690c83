"""Tests of modeling.py against outputs of Google's own BertModel.

The fixtures in tests/fixtures/modeling/ (and sharp/, initializer_range 0.2) are a tiny
BERT checkpoint written by Google's code and that code's outputs on a fixed batch.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import harness
import modeling
import seeding

TOL = dict(atol=1e-5, rtol=1e-5)
# bfloat16 has an 8-bit mantissa (relative step 2**-8 = 0.4%); on the sharp model
# (O(1) activations, outputs up to ~3.2) its largest error was 0.029, float16's
# (11-bit mantissa) 0.0023. The bounds leave a margin of ~2x.
BF16_ATOL = 0.05
FP16_ATOL = 0.005

MODELS = ["", "sharp"]


def tiny_config(**kwargs):
  kwargs.setdefault("vocab_size", 99)
  return harness.tiny_config(**kwargs)


def load_model(sub, **kwargs):
  """A BertModel with the Google checkpoint of fixture folder `sub` loaded."""
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", sub, "bert_config.json"))
  model = modeling.BertModel(config, **kwargs)
  modeling.init_from_checkpoint(model, fixture_path("modeling", sub,
                                                    "bert_model.ckpt"))
  return model


def expected(sub, name="expected.npz"):
  return dict(np.load(fixture_path("modeling", sub, name)))


def assert_outputs_match(outputs, exp, tol=TOL):
  harness.assert_encoder_outputs_match(outputs, exp, **tol)


@pytest.mark.parametrize("sub", MODELS)
@pytest.mark.parametrize("one_hot", [False, True])
def test_outputs_match_google(sub, one_hot):
  model = load_model(sub)
  exp = expected(sub)
  outputs = model(exp["input_ids"], input_mask=exp["input_mask"],
                  token_type_ids=exp["segment_ids"],
                  use_one_hot_embeddings=one_hot, return_attention_probs=True)
  assert_outputs_match(outputs, exp)
  np.testing.assert_allclose(np.stack(outputs.attention_probs),
                             exp["attention_probs"], **TOL)
  np.testing.assert_array_equal(outputs.embedding_table, exp["embedding_table"])
  np.testing.assert_array_equal(model.get_embedding_table(),
                                exp["embedding_table"])


@pytest.mark.parametrize("sub", MODELS)
def test_default_mask_and_token_types_match_google(sub):
  model = load_model(sub)
  exp = expected(sub, "expected_default_mask.npz")
  assert "input_mask" not in exp
  assert_outputs_match(model(exp["input_ids"]), exp)
  assert_outputs_match(model(exp["input_ids"], use_one_hot_embeddings=True), exp)


def test_google_style_constructor_and_accessors():
  exp = expected("sharp")
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", "sharp", "bert_config.json"))
  # As Google: the constructor gets the inputs and the accessors give the outputs.
  model = modeling.BertModel(config, is_training=False,
                             input_ids=exp["input_ids"],
                             input_mask=exp["input_mask"],
                             token_type_ids=exp["segment_ids"])
  assert model.get_sequence_output().shape == [3, 16, 32]
  assert model.get_pooled_output().shape == [3, 32]
  assert len(model.get_all_encoder_layers()) == 2
  # After loading Google's weights, a new call refreshes what the accessors give.
  modeling.init_from_checkpoint(
      model, fixture_path("modeling", "sharp", "bert_model.ckpt"))
  model(exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  np.testing.assert_allclose(model.get_sequence_output(), exp["sequence_output"],
                             **TOL)
  np.testing.assert_allclose(model.get_pooled_output(), exp["pooled_output"],
                             **TOL)
  np.testing.assert_allclose(model.get_embedding_output(),
                             exp["embedding_output"], **TOL)
  np.testing.assert_allclose(np.stack(model.get_all_encoder_layers()),
                             exp["all_encoder_layers"], **TOL)


def test_accessor_before_call_is_a_clear_error():
  model = modeling.BertModel(tiny_config())
  with pytest.raises(ValueError, match="not been called"):
    model.get_pooled_output()


def test_variable_names_are_googles():
  ckpt = fixture_path("modeling", "bert_model.ckpt")
  google = {name: shape for name, shape in tf.train.list_variables(ckpt)
            if name.startswith("bert/")}
  model = load_model("")
  ours = {v.name: v.shape.as_list() for v in model.variables}
  assert ours == {name + ":0": shape for name, shape in google.items()}
  assert len(model.trainable_variables) == 39
  assert all(v.dtype == tf.float32 for v in model.variables)


def test_scope_prefixes_every_name():
  model = modeling.BertModel(tiny_config(num_hidden_layers=1), scope="student")
  names = sorted(v.name for v in model.variables)
  assert all(n.startswith("student/") for n in names)
  assert "student/encoder/layer_0/attention/self/query/kernel:0" in names
  assert "student/pooler/dense/kernel:0" in names


def test_loader_reports_loaded_missing_unused_and_assignment_map():
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", "bert_config.json"))
  model = modeling.BertModel(config)
  extra = tf.Variable(tf.zeros([3]), name="new_head/output_bias")
  ckpt = fixture_path("modeling", "bert_model.ckpt")
  tvars = list(model.trainable_variables) + [extra]
  result = modeling.init_from_checkpoint(tvars, ckpt)
  assert len(result.loaded) == 39
  assert result.missing == ["new_head/output_bias"]
  assert "cls/predictions/output_bias" in result.unused
  assert "output_weights" in result.unused
  assert len(result.unused) == 48 - 39
  np.testing.assert_array_equal(extra.numpy(), np.zeros([3]))

  assignment_map, initialized = modeling.get_assignment_map_from_checkpoint(
      tvars, ckpt)
  assert set(assignment_map) == set(result.loaded)
  assert all(k == v for k, v in assignment_map.items())
  assert "new_head/output_bias" not in assignment_map
  assert initialized["bert/pooler/dense/kernel"] == 1
  assert initialized["bert/pooler/dense/kernel:0"] == 1
  assert len(initialized) == 2 * 39


def test_loader_shape_mismatch_names_variable_and_shapes():
  model = modeling.BertModel(tiny_config(vocab_size=100))
  with pytest.raises(ValueError) as err:
    modeling.init_from_checkpoint(model, fixture_path("modeling",
                                                      "bert_model.ckpt"))
  msg = str(err.value)
  assert "bert/embeddings/word_embeddings" in msg
  assert "[100, 32]" in msg and "[99, 32]" in msg


def test_sequence_longer_than_positions_is_an_error():
  model = modeling.BertModel(tiny_config(max_position_embeddings=8))
  with pytest.raises(ValueError, match="max_position_embeddings 8"):
    model(tf.ones([1, 9], tf.int32))


def test_gelu_is_the_tanh_approximation():
  # Values from BEHAVIOUR.md 5.2 (tanh approximation, not the erf form).
  x = tf.constant([-3.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0])
  want = [-0.0036374, -0.1588080, -0.1542860, 0.3457140, 0.8411920, 1.9545977,
          2.9963626]
  np.testing.assert_allclose(modeling.gelu(x), want, atol=2e-7)


# float32: 1 - tanh^2 cancels for x < -4, where the slope is ~1e-6 (absolute
# error a few 1e-6, as in TensorFlow's own TanhGrad).
@pytest.mark.parametrize("dtype,rtol,atol", [(tf.float32, 1e-6, 5e-6),
                                             (tf.bfloat16, 2.0 ** -8, 2.0 ** -8)])
def test_gelu_for_training_is_gelu_and_its_derivative(dtype, rtol, atol):
  """The fused training GELU against float64 numpy (value and derivative), and
  against the op-by-op `gelu` with TensorFlow's own gradient."""
  x64 = np.linspace(-6.0, 6.0, 2401)
  x = tf.cast(tf.constant(x64, tf.float32), dtype)
  x64 = tf.cast(x, tf.float64).numpy()  # the values actually fed in
  c = np.sqrt(2.0 / np.pi)
  t = np.tanh(c * (x64 + 0.044715 * x64 ** 3))
  want = 0.5 * x64 * (1.0 + t)
  want_slope = (0.5 * (1.0 + t) +
                0.5 * x64 * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x64 ** 2))
  dy = tf.cast(tf.fill(x.shape, 0.75), dtype)
  grads = {}
  for name, fn in (("fused", modeling.gelu_for_training),
                   ("ops", modeling.gelu)):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = fn(x)
    grads[name] = tf.cast(tape.gradient(y, x, output_gradients=dy),
                          tf.float64).numpy()
    assert y.dtype == dtype
    if name == "fused":
      # Rounded once, to the output dtype.
      np.testing.assert_allclose(tf.cast(y, tf.float64), want,
                                 rtol=rtol, atol=atol)
      np.testing.assert_allclose(grads[name], 0.75 * want_slope,
                                 rtol=rtol, atol=atol)
  # The op-by-op gradient rounds after every op: close, not equal, in bfloat16.
  np.testing.assert_allclose(grads["fused"], grads["ops"],
                             atol=8 * atol, rtol=8 * rtol)


def test_get_activation():
  assert modeling.get_activation("gelu") is modeling.gelu
  assert modeling.get_activation("relu") is tf.nn.relu
  assert modeling.get_activation("tanh") is tf.tanh
  assert modeling.get_activation("linear") is None
  assert modeling.get_activation("") is None
  assert modeling.get_activation(None) is None
  assert modeling.get_activation(tf.nn.elu) is tf.nn.elu
  with pytest.raises(ValueError, match="swish"):
    modeling.get_activation("swish")


def test_layer_norm_matches_numpy():
  rng = np.random.RandomState(0)
  x = rng.normal(size=[4, 16]).astype(np.float32) * 3 + 1
  gamma = rng.normal(size=[16]).astype(np.float32)
  beta = rng.normal(size=[16]).astype(np.float32)
  x64 = x.astype(np.float64)
  want = ((x64 - x64.mean(-1, keepdims=True)) /
          np.sqrt(x64.var(-1, keepdims=True) + 1e-12) * gamma + beta)
  np.testing.assert_allclose(modeling.layer_norm(x, gamma, beta), want,
                             atol=1e-5)


def test_config_defaults_are_googles():
  config = modeling.BertConfig(vocab_size=30522)
  assert config.to_dict() == {
      "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
      "num_attention_heads": 12, "intermediate_size": 3072,
      "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512,
      "type_vocab_size": 16, "initializer_range": 0.02}


def test_config_json_round_trip_and_format(tmp_path):
  # Google's modeling_test: BertConfig(vocab_size=99, hidden_size=37) serialises.
  text = modeling.BertConfig(vocab_size=99, hidden_size=37).to_json_string()
  assert text.endswith("}\n")
  assert text.startswith('{\n  "attention_probs_dropout_prob": 0.1,\n')
  parsed = json.loads(text)
  assert list(parsed) == sorted(parsed)
  assert parsed["vocab_size"] == 99 and parsed["hidden_size"] == 37
  # The fixture file is Google's own output of to_json_string.
  with open(fixture_path("modeling", "bert_config.json")) as f:
    google_text = f.read()
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", "bert_config.json"))
  assert config.to_json_string().rstrip("\n") == google_text.rstrip("\n")


def test_config_keeps_unknown_keys(tmp_path):
  values = {"vocab_size": 21128, "directionality": "bidi",
            "pooler_fc_size": 768, "hidden_size": 64}
  config = modeling.BertConfig.from_dict(values)
  assert config.directionality == "bidi"
  assert config.pooler_fc_size == 768
  assert config.hidden_size == 64
  assert config.num_hidden_layers == 12
  assert json.loads(config.to_json_string())["directionality"] == "bidi"


def test_config_errors(tmp_path):
  with pytest.raises(ValueError, match="vocab_size"):
    modeling.BertConfig.from_dict({"hidden_size": 32})
  bad = tmp_path / "bert_config.json"
  bad.write_text("{'vocab_size': 3,}")
  with pytest.raises(ValueError, match="bert_config.json.*not valid JSON"):
    modeling.BertConfig.from_json_file(str(bad))
  no_vocab = tmp_path / "no_vocab.json"
  no_vocab.write_text('{"hidden_size": 32}')
  with pytest.raises(ValueError, match="no_vocab.json.*vocab_size"):
    modeling.BertConfig.from_json_file(str(no_vocab))
  with pytest.raises(ValueError, match=r"hidden size \(30\).*heads \(4\)"):
    modeling.BertModel(tiny_config(hidden_size=30))
  with pytest.raises(ValueError, match='"hidden_act": "swish" must be one of'):
    modeling.BertModel(tiny_config(hidden_act="swish"))


def test_initialisation_is_truncated_normal():
  tf.random.set_seed(1)
  config = tiny_config(vocab_size=2000, hidden_size=64, initializer_range=0.05)
  model = modeling.BertModel(config)
  table = model.word_embeddings.numpy()
  # Truncated at two standard deviations: std is 0.8796 * stddev.
  assert np.abs(table).max() <= 2 * 0.05 + 1e-7
  assert abs(table.std() - 0.8796 * 0.05) < 0.002
  assert abs(table.mean()) < 0.002
  layer = model.layers[0]
  np.testing.assert_array_equal(layer.query.bias.numpy(), np.zeros(64))
  np.testing.assert_array_equal(layer.output_layer_norm.gamma.numpy(), np.ones(64))
  np.testing.assert_array_equal(layer.output_layer_norm.beta.numpy(), np.zeros(64))


def test_dropout_only_in_training():
  exp = expected("sharp")
  model = load_model("sharp")
  args = (exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  a = model(*args, training=True).sequence_output.numpy()
  b = model(*args, training=True).sequence_output.numpy()
  assert np.abs(a - b).max() > 1e-3
  assert np.abs(a - exp["sequence_output"]).max() > 1e-3
  assert_outputs_match(model(*args, training=False), exp)
  # is_training=True makes training the default, as Google's constructor flag.
  trained = load_model("sharp", is_training=True)
  c = trained(*args).sequence_output.numpy()
  assert np.abs(c - exp["sequence_output"]).max() > 1e-3


@pytest.mark.parametrize("dtype,atol", [(tf.bfloat16, BF16_ATOL),
                                        (tf.float16, FP16_ATOL)])
def test_low_precision_close_to_float32(dtype, atol):
  exp = expected("sharp")
  model = load_model("sharp", compute_dtype=dtype)
  outputs = model(exp["input_ids"], exp["input_mask"], exp["segment_ids"],
                  return_attention_probs=True)
  for t in [outputs.sequence_output, outputs.pooled_output,
            outputs.embedding_output] + outputs.attention_probs:
    assert t.dtype == tf.float32
  assert all(v.dtype == tf.float32 for v in model.variables)
  err = np.abs(outputs.sequence_output - exp["sequence_output"]).max()
  assert err < atol
  # It really computed in low precision (not silently float32).
  assert err > 1e-5
  np.testing.assert_allclose(outputs.pooled_output, exp["pooled_output"],
                             atol=atol)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_forward_and_backward_compile(jit, dtype):
  exp = expected("sharp")
  model = load_model("sharp", compute_dtype=dtype)
  args = (tf.constant(exp["input_ids"]), tf.constant(exp["input_mask"]),
          tf.constant(exp["segment_ids"]))

  @tf.function(jit_compile=jit)
  def step(ids, mask, types):
    with tf.GradientTape() as tape:
      out = model(ids, mask, types, training=False)
      loss = (tf.reduce_sum(out.sequence_output ** 2) +
              tf.reduce_sum(out.pooled_output))
    return out.sequence_output, out.pooled_output, tape.gradient(
        loss, model.trainable_variables)

  seq, pooled, grads = step(*args)
  eager = model(*args)
  tol = TOL if dtype == tf.float32 else dict(atol=BF16_ATOL)
  np.testing.assert_allclose(seq, eager.sequence_output, **tol)
  np.testing.assert_allclose(pooled, eager.pooled_output, **tol)
  if dtype == tf.float32:
    np.testing.assert_allclose(seq, exp["sequence_output"], **TOL)
  assert len(grads) == 39
  assert all(g is not None for g in grads)
  # Embedding gathers give IndexedSlices, as in Google's graph.
  grads = [tf.convert_to_tensor(g) for g in grads]
  assert all(np.isfinite(g.numpy()).all() for g in grads)
  names = [v.name for v in model.trainable_variables]
  word_grad = grads[names.index("bert/embeddings/word_embeddings:0")]
  used = np.unique(exp["input_ids"])
  assert np.abs(word_grad.numpy()[used]).sum(axis=1).min() > 0


def test_backward_matches_finite_differences():
  # An independent check of the gradient: central finite differences on a few
  # weights of the sharp model, where gradients are O(1).
  exp = expected("sharp")
  model = load_model("sharp")
  args = (exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  var = model.layers[1].intermediate.kernel

  def loss():
    return tf.reduce_sum(model(*args).pooled_output * tf.range(32.0) / 32.0)

  harness.assert_gradient_matches_finite_differences(
      loss, var, [(0, 0), (5, 7), (31, 36)])


def test_training_step_with_dropout_compiles_with_xla():
  exp = expected("")
  model = load_model("")

  @tf.function(jit_compile=True)
  def step(ids, mask, types):
    with tf.GradientTape() as tape:
      out = model(ids, mask, types, training=True)
      loss = tf.reduce_sum(out.pooled_output)
    return out.sequence_output, tape.gradient(loss, model.trainable_variables)

  seq, grads = step(tf.constant(exp["input_ids"]), tf.constant(exp["input_mask"]),
                    tf.constant(exp["segment_ids"]))
  # Dropout is active: the output differs from Google's inference output.
  assert np.abs(seq.numpy() - exp["sequence_output"]).max() > 1e-3
  assert all(np.isfinite(tf.convert_to_tensor(g).numpy()).all() for g in grads)


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_dropout_is_inverted_dropout(dtype):
  x = tf.ones([200, 500], dtype)
  y = modeling.dropout(x, 0.1).numpy().astype(np.float32)
  assert y.dtype == np.float32
  kept = y != 0
  # 100k draws: the dropped fraction is 0.1 within ~6 standard deviations.
  assert abs(1 - kept.mean() - 0.1) < 0.006
  np.testing.assert_allclose(y[kept], 1 / 0.9, rtol=1e-2 if dtype == tf.bfloat16
                             else 1e-6)
  assert modeling.dropout(x, 0.0) is x
  assert modeling.dropout(x, None) is x


def test_model_under_mirrored_strategy():
  exp = expected("sharp")
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  with strategy.scope():
    model = load_model("sharp")
  assert "Mirrored" in type(model.word_embeddings).__name__
  assert model.word_embeddings.name == "bert/embeddings/word_embeddings:0"

  @tf.function
  def run(ids, mask, types):
    return strategy.run(lambda a, b, c: model(a, b, c).pooled_output,
                        args=(ids, mask, types))

  pooled = run(tf.constant(exp["input_ids"]), tf.constant(exp["input_mask"]),
               tf.constant(exp["segment_ids"]))
  np.testing.assert_allclose(pooled, exp["pooled_output"], **TOL)


def test_dropout_seed_makes_masks_a_function_of_the_seed():
  x = tf.ones([64, 32])

  @tf.function
  def two_dropouts(seed):
    with modeling.dropout_seed(seed):
      return modeling.dropout(x, 0.5), modeling.dropout(x, 0.5)

  a1, a2 = two_dropouts(tf.constant([3, 1], tf.int64))
  b1, b2 = two_dropouts(tf.constant([3, 1], tf.int64))
  c1, _ = two_dropouts(tf.constant([3, 2], tf.int64))
  np.testing.assert_array_equal(a1.numpy(), b1.numpy())
  np.testing.assert_array_equal(a2.numpy(), b2.numpy())
  assert not np.array_equal(a1.numpy(), a2.numpy())  # one seed per call
  assert not np.array_equal(a1.numpy(), c1.numpy())
  # Inverted dropout: kept values scaled by 1/(1-p), about half kept.
  assert set(np.unique(a1.numpy())) <= {0.0, 2.0}
  assert 0.4 < np.mean(a1.numpy() > 0) < 0.6
  # Outside the context dropout is TensorFlow's stateful one again.
  assert not seeding.dropout_seed_active()


@pytest.mark.parametrize("training", [False, True])
def test_output_positions_equal_the_gathered_full_output(training):
  """output_positions: the last layer at those positions only, the same values
  as the full model's output gathered there (dropout masks included), and the
  same gradients for a loss that reads only them."""
  exp = expected("sharp")
  model = load_model("sharp")
  ids, mask, types = exp["input_ids"], exp["input_mask"], exp["segment_ids"]
  batch_size, seq_length = ids.shape
  rng = np.random.RandomState(0)
  # Duplicates, position 0 and padded positions, as in pre-training records.
  positions = tf.constant(rng.randint(0, seq_length, [batch_size, 5]), tf.int32)
  positions = tf.concat([positions, tf.zeros([batch_size, 1], tf.int32)], 1)
  hidden = model.config.hidden_size
  probe = tf.constant(rng.randn(batch_size, 6, hidden), tf.float32)

  @tf.function
  def run(output_positions):
    with tf.GradientTape() as tape, modeling.dropout_seed(
        tf.constant([7, 1], tf.int64)):
      out = model(ids, mask, types, training=training,
                  return_attention_probs=True,
                  output_positions=output_positions)
      last = out.sequence_output
      if output_positions is None:
        last = tf.gather(last, positions, batch_dims=1)
      loss = (tf.reduce_sum(last * probe) +
              tf.reduce_sum(out.pooled_output))
    return out, last, tape.gradient(loss, model.trainable_variables)

  full, full_last, full_grads = run(None)
  part, part_last, part_grads = run(positions)
  assert part.sequence_output.shape == (batch_size, 6, hidden)
  np.testing.assert_array_equal(part.all_encoder_layers[-1],
                                part.sequence_output)
  np.testing.assert_allclose(part_last, full_last, **TOL)
  np.testing.assert_allclose(part.pooled_output, full.pooled_output, **TOL)
  for got, want in zip(part.all_encoder_layers[:-1],
                       full.all_encoder_layers[:-1]):
    np.testing.assert_array_equal(got, want)
  rows = tf.concat([tf.zeros([batch_size, 1], tf.int32), positions], 1)
  np.testing.assert_allclose(
      part.attention_probs[-1],
      tf.gather(full.attention_probs[-1], rows, axis=2, batch_dims=1), **TOL)
  for got, want, var in zip(part_grads, full_grads, model.trainable_variables):
    np.testing.assert_allclose(tf.convert_to_tensor(got),
                               tf.convert_to_tensor(want), atol=1e-4,
                               rtol=1e-4, err_msg=var.name)
  if training:  # Dropout did change the output: the masks were compared.
    eval_last = tf.gather(model(ids, mask, types).sequence_output, positions,
                          batch_dims=1)
    assert np.abs(part_last - eval_last).max() > 1e-2


# ALBERT's names for one (shared) layer, as issue 13 lists them.
ALBERT_LAYER = "bert/encoder/transformer/group_0/inner_group_0"
ALBERT_NAMES = {
    "query": ALBERT_LAYER + "/attention_1/self/query",
    "key": ALBERT_LAYER + "/attention_1/self/key",
    "value": ALBERT_LAYER + "/attention_1/self/value",
    "attention_output": ALBERT_LAYER + "/attention_1/output/dense",
    "attention_layer_norm": ALBERT_LAYER + "/LayerNorm",
    "intermediate": ALBERT_LAYER + "/ffn_1/intermediate/dense",
    "output": ALBERT_LAYER + "/ffn_1/intermediate/output/dense",
    "output_layer_norm": ALBERT_LAYER + "/LayerNorm_1",
}


def test_bert_layer_names_are_googles():
  assert modeling.layer_variable_names(modeling.bert_layer_names("bert", 1)) == [
      "bert/encoder/layer_1/attention/self/query/kernel",
      "bert/encoder/layer_1/attention/self/query/bias",
      "bert/encoder/layer_1/attention/self/key/kernel",
      "bert/encoder/layer_1/attention/self/key/bias",
      "bert/encoder/layer_1/attention/self/value/kernel",
      "bert/encoder/layer_1/attention/self/value/bias",
      "bert/encoder/layer_1/attention/output/dense/kernel",
      "bert/encoder/layer_1/attention/output/dense/bias",
      "bert/encoder/layer_1/attention/output/LayerNorm/beta",
      "bert/encoder/layer_1/attention/output/LayerNorm/gamma",
      "bert/encoder/layer_1/intermediate/dense/kernel",
      "bert/encoder/layer_1/intermediate/dense/bias",
      "bert/encoder/layer_1/output/dense/kernel",
      "bert/encoder/layer_1/output/dense/bias",
      "bert/encoder/layer_1/output/LayerNorm/beta",
      "bert/encoder/layer_1/output/LayerNorm/gamma"]


@pytest.mark.parametrize("training", [False, True])
def test_transformer_layer_takes_its_names_from_the_table(training):
  """A layer under ALBERT's names computes what Google's BERT layer 0 does
  with the same weights (dropout masks included): the table changes the
  names only."""
  model = load_model("sharp")
  bert_layer = model.layers[0]
  layer = modeling.TransformerLayer(ALBERT_NAMES, model.config,
                                    modeling.create_initializer(0.02))
  assert sorted(v.name[:-2] for v in layer.variables) == sorted(
      modeling.layer_variable_names(ALBERT_NAMES))
  by_name = {v.name[:-2]: v for v in bert_layer.variables}
  bert_names = modeling.layer_variable_names(
      modeling.bert_layer_names("bert", 0))
  for name, bert_name in zip(modeling.layer_variable_names(ALBERT_NAMES),
                             bert_names):
    [v] = [v for v in layer.variables if v.name[:-2] == name]
    v.assign(by_name[bert_name])
  rng = np.random.RandomState(0)
  exp = expected("sharp")
  batch_size, seq_length = exp["input_ids"].shape
  x = tf.constant(rng.randn(batch_size * seq_length, 32), tf.float32)
  mask = tf.constant(exp["input_mask"], tf.float32)
  adder = tf.reshape((1.0 - mask) * -10000.0, [batch_size, 1, 1, seq_length])
  outputs = []
  for module in (bert_layer, layer):
    with seeding.dropout_seed(tf.constant([4, 2], tf.int64)):
      outputs.append(module(x, adder, training))
  np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
  np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
  if training:  # The layer's own dropout rates were applied.
    eval_out, _ = layer(x, adder, False)
    assert np.abs(outputs[1][0] - eval_out).max() > 1e-3


def test_transformer_layer_needs_every_role():
  names = dict(ALBERT_NAMES)
  del names["output_layer_norm"]
  with pytest.raises(ValueError, match="lack the roles: output_layer_norm"):
    modeling.TransformerLayer(names, tiny_config(),
                              modeling.create_initializer(0.02))


def test_transformer_layer_holds_its_compute_dtype():
  layer = modeling.TransformerLayer(ALBERT_NAMES, tiny_config(),
                                    modeling.create_initializer(0.02),
                                    compute_dtype=tf.bfloat16)
  x = tf.ones([2 * 3, 32])
  adder = tf.zeros([2, 1, 1, 3])
  out, probs = layer(x, adder, training=False)
  assert out.dtype == tf.float32 and probs.dtype == tf.float32
  context, _ = layer.attention(x, adder, 0.0)
  assert context.dtype == tf.bfloat16
