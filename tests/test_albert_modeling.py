"""Tests of albert/modeling.py against outputs of ALBERT's own AlbertModel.

tests/fixtures/albert/modeling/{tiny,tiny_sharp,grouped}/ hold checkpoints in
ALBERT's variable names and the outputs of google-research/albert's code on a
fixed batch (tiny: E 16 != H 32, 4 layers in one group; tiny_sharp: the same
with initializer_range 0.2; grouped: E = H = 32, 5 layers in 2 groups of 2
inner blocks). Shapes beyond them (E = H, 3 groups of 7 layers, L = G = 22,
3 inner groups) are checked against ALBERT's naming rules and against an
unshared copy of the same weights.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from albert import modeling as albert_modeling
import checkpoints
import harness
import modeling

TOL = dict(atol=1e-5, rtol=1e-5)
# On tiny_sharp (O(1) activations, outputs up to ~2.9) bfloat16's largest
# sequence-output error was 0.044 and float16's 0.0037; ~2x margin.
BF16_ATOL = 0.09
FP16_ATOL = 0.008


def assert_outputs_match(outputs, exp):
  """Every encoder output at every position, padding included."""
  assert "word_embedding_output" in exp and "all_encoder_layers" in exp
  harness.assert_encoder_outputs_match(outputs, exp, **TOL)


def checkpoint_table(name):
  return dict(tf.train.list_variables(harness.albert_fixture(
      name, "model.ckpt-best")))


@pytest.mark.parametrize("name", harness.ALBERT_MODELS)
@pytest.mark.parametrize("one_hot", [False, True])
def test_outputs_match_albert(name, one_hot):
  model, result = harness.load_albert(name)
  assert not result.missing
  exp = harness.albert_reference(name)
  outputs = model(exp["input_ids"], input_mask=exp["input_mask"],
                  token_type_ids=exp["segment_ids"],
                  use_one_hot_embeddings=one_hot, return_attention_probs=True)
  assert outputs.embedding_output.shape == exp["word_embedding_output"].shape
  assert_outputs_match(outputs, exp)
  table = tf.train.load_checkpoint(harness.albert_fixture(
      name, "model.ckpt-best")).get_tensor("bert/embeddings/word_embeddings")
  np.testing.assert_array_equal(outputs.embedding_table, table)
  np.testing.assert_array_equal(model.get_embedding_table(), table)


@pytest.mark.parametrize("name", harness.ALBERT_MODELS)
def test_default_mask_and_token_types_match_albert(name):
  model, _ = harness.load_albert(name)
  exp = harness.albert_reference(name, default_mask=True)
  assert "input_mask" not in exp and "segment_ids" not in exp
  assert_outputs_match(model(exp["input_ids"], return_attention_probs=True),
                       exp)


def test_albert_style_constructor_and_accessors():
  exp = harness.albert_reference("grouped")
  config = albert_modeling.AlbertConfig.from_json_file(
      harness.albert_fixture("grouped", "albert_config.json"))
  # ALBERT's positional arguments: config, is_training, input_ids, input_mask,
  # token_type_ids, use_one_hot_embeddings, use_einsum, scope.
  model = albert_modeling.AlbertModel(config, False, exp["input_ids"],
                                      exp["input_mask"], exp["segment_ids"],
                                      False, False, "bert")
  assert model.get_sequence_output().shape == [3, 16, 32]
  assert len(model.get_all_encoder_layers()) == 10
  albert_modeling.init_from_checkpoint(
      model, harness.albert_fixture("grouped", "model.ckpt-best"))
  model(exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  for accessor, key in [("get_word_embedding_output", "word_embedding_output"),
                        ("get_embedding_output", "embedding_output"),
                        ("get_sequence_output", "sequence_output"),
                        ("get_pooled_output", "pooled_output"),
                        ("get_all_encoder_layers", "all_encoder_layers")]:
    got = getattr(model, accessor)()
    np.testing.assert_allclose(np.stack(got) if isinstance(got, list) else got,
                               exp[key], err_msg=accessor, **TOL)


@pytest.mark.parametrize("name", harness.ALBERT_MODELS)
def test_variable_names_are_alberts(name):
  model, result = harness.load_albert(name)
  albert = {n: s for n, s in checkpoint_table(name).items()
            if n.startswith("bert/")}
  ours = {checkpoints.variable_name(v): v.shape.as_list()
          for v in model.variables}
  assert ours == albert
  assert sorted(result.loaded) == sorted(albert)
  assert "global_step" in result.unused
  assert sorted(albert_modeling.albert_variable_names(model.config)) == sorted(
      albert)
  assert all(v.dtype == tf.float32 for v in model.variables)
  has_mapping = "bert/encoder/embedding_hidden_mapping_in/kernel" in albert
  assert has_mapping == (name != "grouped")


def test_group_schedule_as_albert_computes_it():
  # ALBERT: int(layer_idx / num_hidden_layers * num_hidden_groups), floats.
  assert albert_modeling.layer_groups(harness.tiny_albert_config(
      num_hidden_layers=5, num_hidden_groups=2)) == [0, 0, 0, 1, 1]
  assert albert_modeling.layer_groups(harness.tiny_albert_config(
      num_hidden_layers=7, num_hidden_groups=3)) == [0, 0, 0, 1, 1, 2, 2]
  # 15 / 22 * 22 = 14.999999999999998: layer 15 runs group 14.
  assert albert_modeling.layer_groups(harness.tiny_albert_config(
      num_hidden_layers=22, num_hidden_groups=22)) == (
          list(range(15)) + [14] + list(range(16, 22)))
  # More groups than layers: some groups are skipped.
  assert albert_modeling.layer_groups(harness.tiny_albert_config(
      num_hidden_layers=2, num_hidden_groups=4)) == [0, 2]


def _group_names(model):
  return sorted({checkpoints.variable_name(v).split("/")[3]
                 for v in model.variables if "/transformer/" in v.name})


def test_twenty_two_groups_never_create_group_15():
  config = harness.tiny_albert_config(num_hidden_layers=22,
                                      num_hidden_groups=22, hidden_size=8,
                                      embedding_size=4, intermediate_size=8)
  model = albert_modeling.AlbertModel(config)
  created = _group_names(model)
  assert "group_15" not in created and len(created) == 21
  assert created == sorted("group_%d" % g for g in range(22) if g != 15)
  assert model.blocks()[15] is model.blocks()[14]
  names = albert_modeling.albert_variable_names(config)
  assert not any("/group_15/" in n for n in names)
  assert sorted(names) == sorted(checkpoints.variable_name(v)
                                 for v in model.variables)
  outputs = model(tf.ones([1, 3], tf.int32))
  assert len(outputs.all_encoder_layers) == 22


def test_three_groups_of_seven_layers_share_their_blocks():
  config = harness.tiny_albert_config(num_hidden_layers=7,
                                      num_hidden_groups=3)
  model = albert_modeling.AlbertModel(config)
  assert _group_names(model) == ["group_0", "group_1", "group_2"]
  blocks = model.blocks()
  assert len(blocks) == 7
  assert blocks[0] is blocks[1] is blocks[2]
  assert blocks[3] is blocks[4] and blocks[5] is blocks[6]
  assert len({id(b) for b in blocks}) == 3
  # 5 embeddings + mapping 2 + 3 groups x 16 + pooler 2, each variable once.
  assert len(model.variables) == 5 + 2 + 3 * 16 + 2
  assert len({id(v) for v in model.variables}) == len(model.variables)


def test_inner_groups_are_blocks_of_every_layer():
  config = harness.tiny_albert_config(num_hidden_layers=2, inner_group_num=3)
  model = albert_modeling.AlbertModel(config)
  names = {checkpoints.variable_name(v) for v in model.variables}
  for j in range(3):
    scope = "bert/encoder/transformer/group_0/inner_group_%d/" % j
    assert scope + "attention_1/self/query/kernel" in names
    assert scope + "ffn_1/intermediate/output/dense/kernel" in names
    assert scope + "LayerNorm_1/gamma" in names
  blocks = model.blocks()
  assert [id(b) for b in blocks[:3]] == [id(b) for b in blocks[3:]]
  outputs = model(tf.ones([2, 5], tf.int32), return_attention_probs=True)
  assert len(outputs.all_encoder_layers) == 6
  assert len(outputs.attention_probs) == 6
  assert outputs.embedding_output.shape == [2, 5, 8]
  assert outputs.sequence_output.shape == [2, 5, 16]


def test_embedding_width_equal_to_hidden_has_no_mapping():
  config = harness.tiny_albert_config(embedding_size=16)
  model = albert_modeling.AlbertModel(config)
  names = {checkpoints.variable_name(v) for v in model.variables}
  assert not any("embedding_hidden_mapping_in" in n for n in names)
  assert model.embedding_hidden_mapping_in is None
  assert model.word_embeddings.shape == [50, 16]
  outputs = model(tf.ones([1, 4], tf.int32))
  # Without a mapping the first block reads the embedding output itself.
  np.testing.assert_array_equal(
      outputs.embedding_output,
      tf.reshape(model.embeddings_to_hidden(tf.reshape(
          outputs.embedding_output, [-1, 16])), [1, 4, 16]))


def test_released_configs_have_the_released_names():
  """ALBERT's released albert_config.json files (v1 and v2, base to xxlarge,
  as in ALBERT's README) give the names of the released model.ckpt-best
  files: one group, one inner group, E 128 != H. Those are the names of the
  reference checkpoint `tiny`, written by ALBERT's code."""
  released = {
      "base": dict(hidden_size=768, num_attention_heads=12,
                   intermediate_size=3072, num_hidden_layers=12),
      "large": dict(hidden_size=1024, num_attention_heads=16,
                    intermediate_size=4096, num_hidden_layers=24),
      "xlarge": dict(hidden_size=2048, num_attention_heads=16,
                     intermediate_size=8192, num_hidden_layers=24),
      "xxlarge": dict(hidden_size=4096, num_attention_heads=64,
                      intermediate_size=16384, num_hidden_layers=12),
  }
  tiny_names = sorted(n for n in checkpoint_table("tiny")
                      if n.startswith("bert/"))
  for size, values in released.items():
    for version_dropout in (0.1, 0):  # v1 had dropout 0.1, v2 0
      config = albert_modeling.AlbertConfig.from_dict(dict(
          values, vocab_size=30000, embedding_size=128, num_hidden_groups=1,
          inner_group_num=1, hidden_act="gelu", down_scale_factor=1,
          hidden_dropout_prob=version_dropout,
          attention_probs_dropout_prob=version_dropout,
          max_position_embeddings=512, type_vocab_size=2,
          initializer_range=0.02, net_structure_type=0, gap_size=0,
          num_memory_blocks=0))
      assert sorted(albert_modeling.albert_variable_names(config)) == (
          tiny_names), size
  # ALBERT-base built: the released shapes.
  model = albert_modeling.AlbertModel(albert_modeling.AlbertConfig(
      vocab_size=30000, **released["base"]))
  shapes = {checkpoints.variable_name(v): v.shape.as_list()
            for v in model.variables}
  assert shapes["bert/embeddings/word_embeddings"] == [30000, 128]
  assert shapes["bert/encoder/embedding_hidden_mapping_in/kernel"] == [128,
                                                                       768]
  block = "bert/encoder/transformer/group_0/inner_group_0/"
  assert shapes[block + "ffn_1/intermediate/dense/kernel"] == [768, 3072]
  assert shapes[block + "attention_1/self/query/kernel"] == [768, 768]
  assert sum(np.prod(s) for s in shapes.values()) == 11683584


def _renamed_checkpoint(tmp_path, rename, prefix_name):
  """A copy of tiny's checkpoint with every name passed through `rename`."""
  reader = tf.train.load_checkpoint(harness.albert_fixture(
      "tiny", "model.ckpt-best"))
  tensors = {rename(name): reader.get_tensor(name)
             for name in reader.get_variable_to_shape_map()}
  return checkpoints.save_checkpoint(tensors, str(tmp_path / prefix_name))


def test_tf_hub_module_prefix_loads_by_name(tmp_path):
  exp = harness.albert_reference("tiny")
  prefix = _renamed_checkpoint(tmp_path, lambda n: "module/" + n,
                               "model.ckpt-best")
  assert "module/bert/embeddings/word_embeddings" in dict(
      tf.train.list_variables(prefix))
  config = albert_modeling.AlbertConfig.from_json_file(
      harness.albert_fixture("tiny", "albert_config.json"))
  model = albert_modeling.AlbertModel(config)
  result = albert_modeling.init_from_checkpoint(model, prefix)
  assert not result.missing and len(result.loaded) == 25
  assert "module/global_step" in result.unused
  assert_outputs_match(model(exp["input_ids"], exp["input_mask"],
                             exp["segment_ids"]), exp)
  # A TF Hub module directory (variables/variables) loads the same way.
  hub_dir = tmp_path / "hub"
  (hub_dir / "variables").mkdir(parents=True)
  _renamed_checkpoint(hub_dir / "variables", lambda n: n, "variables")
  fresh = albert_modeling.AlbertModel(config)
  assert not checkpoints.restore(fresh, str(hub_dir),
                                 allow_missing=False).missing
  assert_outputs_match(fresh(exp["input_ids"], exp["input_mask"],
                             exp["segment_ids"]), exp)
  mapping, initialized = albert_modeling.get_assignment_map_from_checkpoint(
      model.trainable_variables, prefix)
  assert mapping["module/bert/pooler/dense/kernel"] == "bert/pooler/dense/kernel"
  assert len(mapping) == 25 and len(initialized) == 50


def test_init_from_group0_fills_every_group(tmp_path):
  """ALBERT's init_from_group0: a 2-group model warm-started from the
  one-group checkpoint reads group_0 into group_1 too."""
  config = albert_modeling.AlbertConfig.from_json_file(
      harness.albert_fixture("tiny", "albert_config.json"))
  config.num_hidden_groups = 2
  ckpt = harness.albert_fixture("tiny", "model.ckpt-best")
  reader = tf.train.load_checkpoint(ckpt)
  model = albert_modeling.AlbertModel(config)
  group_1 = [v for v in model.variables if "/group_1/" in v.name]
  assert len(group_1) == 16
  plain = albert_modeling.init_from_checkpoint(model, ckpt)
  assert sorted(plain.missing) == sorted(checkpoints.variable_name(v)
                                         for v in group_1)
  result = albert_modeling.init_from_checkpoint(model, ckpt, num_of_group=2)
  assert not result.missing
  for var in group_1:
    source = checkpoints.variable_name(var).replace("/group_1/", "/group_0/")
    np.testing.assert_array_equal(var.numpy(), reader.get_tensor(source))
  # ALBERT's map layout: block variables named .../ffn_1/ or .../attention_1/
  # (all of them) and those of group_1 land in map 1, the others in map 0;
  # group_0's and group_1's kernels read the same entry and collide in map
  # 1, the later (group_1) winning, as in ALBERT.
  maps, initialized = albert_modeling.get_assignment_map_from_checkpoint(
      model.trainable_variables, ckpt, num_of_group=2)
  assert len(maps) == 2
  assert maps[0]["bert/pooler/dense/kernel"] == "bert/pooler/dense/kernel"
  block = "bert/encoder/transformer/group_%d/inner_group_0/"
  query = block + "attention_1/self/query/kernel"
  beta = block + "LayerNorm/beta"
  assert maps[1][query % 0] == query % 1
  assert maps[0][beta % 0] == beta % 0 and maps[1][beta % 0] == beta % 1
  assert initialized[query % 0] == initialized[query % 1 + ":0"] == 1
  assert sorted(maps[0]) == sorted(
      n for n in checkpoint_table("tiny")
      if n.startswith("bert/") and ("/transformer/" not in n or
                                    "/LayerNorm" in n))


def _unshared_copy(model, config):
  """A model with one group per layer holding copies of `model`'s weights."""
  unshared_config = albert_modeling.AlbertConfig.from_dict(dict(
      config.to_dict(), num_hidden_groups=config.num_hidden_layers))
  copy = albert_modeling.AlbertModel(unshared_config)
  for target, source in zip(copy.blocks(), model.blocks()):
    for t, s in zip(target.variables, source.variables):
      t.assign(s)
  shared = {checkpoints.variable_name(v): v for v in model.variables}
  for var in copy.variables:
    name = checkpoints.variable_name(var)
    if "/transformer/" not in name:
      var.assign(shared[name])
  return copy


def test_shared_variables_get_the_sum_of_their_uses_gradients():
  exp = harness.albert_reference("grouped")
  model, _ = harness.load_albert("grouped")
  copy = _unshared_copy(model, model.config)
  assert len(copy.groups) == 5 and len(model.groups) == 2
  args = (exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  probe = tf.constant(np.random.RandomState(0).randn(3, 16, 32), tf.float32)

  def grads(m):
    with tf.GradientTape() as tape:
      out = m(*args)
      loss = (tf.reduce_sum(out.sequence_output * probe) +
              tf.reduce_sum(out.pooled_output))
    return out, {checkpoints.variable_name(v): tf.convert_to_tensor(g)
                 for v, g in zip(m.trainable_variables,
                                 tape.gradient(loss, m.trainable_variables))}

  shared_out, shared_grads = grads(model)
  copy_out, copy_grads = grads(copy)
  np.testing.assert_allclose(shared_out.sequence_output,
                             copy_out.sequence_output, **TOL)
  groups = albert_modeling.layer_groups(model.config)  # [0, 0, 0, 1, 1]
  for name, grad in shared_grads.items():
    if "/transformer/" not in name:
      np.testing.assert_allclose(grad, copy_grads[name], atol=1e-5, rtol=1e-4)
      continue
    group = int(name.split("/")[3][len("group_"):])
    uses = [name.replace("/group_%d/" % group, "/group_%d/" % layer)
            for layer, g in enumerate(groups) if g == group]
    total = tf.add_n([copy_grads[u] for u in uses])
    assert float(tf.reduce_max(tf.abs(grad))) > 0
    np.testing.assert_allclose(grad, total, atol=1e-5, rtol=1e-4,
                               err_msg=name)


def test_shared_gradient_matches_finite_differences():
  exp = harness.albert_reference("tiny_sharp")
  model, _ = harness.load_albert("tiny_sharp")
  args = (exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  # Used by all four layers.
  var = model.groups[0][0].intermediate.kernel

  def loss():
    return tf.reduce_sum(model(*args).pooled_output * tf.range(32.0) / 32.0)

  harness.assert_gradient_matches_finite_differences(
      loss, var, [(0, 0), (5, 7), (31, 47)])


@pytest.mark.parametrize("dtype,atol", [(tf.bfloat16, BF16_ATOL),
                                        (tf.float16, FP16_ATOL)])
def test_low_precision_close_to_float32(dtype, atol):
  exp = harness.albert_reference("tiny_sharp")
  model, _ = harness.load_albert("tiny_sharp", compute_dtype=dtype)
  outputs = model(exp["input_ids"], exp["input_mask"], exp["segment_ids"],
                  return_attention_probs=True)
  for t in ([outputs.sequence_output, outputs.pooled_output,
             outputs.embedding_output] + outputs.attention_probs):
    assert t.dtype == tf.float32
  assert all(v.dtype == tf.float32 for v in model.variables)
  err = np.abs(outputs.sequence_output - exp["sequence_output"]).max()
  assert err < atol
  # It really computed in low precision (not silently float32).
  assert err > 1e-4


def test_forward_and_training_step_compile_with_xla():
  exp = harness.albert_reference("grouped")
  model, _ = harness.load_albert("grouped")
  args = [tf.constant(exp[k]) for k in ("input_ids", "input_mask",
                                        "segment_ids")]

  @tf.function(jit_compile=True)
  def forward(ids, mask, types):
    out = model(ids, mask, types, return_attention_probs=True)
    return out.embedding_output, out.all_encoder_layers, out.pooled_output

  embedding, layers, pooled = forward(*args)
  np.testing.assert_allclose(embedding, exp["embedding_output"], **TOL)
  np.testing.assert_allclose(np.stack(layers), exp["all_encoder_layers"], **TOL)
  np.testing.assert_allclose(pooled, exp["pooled_output"], **TOL)

  @tf.function(jit_compile=True)
  def step(ids, mask, types):
    with tf.GradientTape() as tape:
      out = model(ids, mask, types, training=True)
      loss = tf.reduce_sum(out.pooled_output)
    return out.sequence_output, tape.gradient(loss, model.trainable_variables)

  seq, grads = step(*args)
  # grouped's dropout (0.1) is active in training.
  assert np.abs(seq.numpy() - exp["sequence_output"]).max() > 1e-3
  assert all(np.isfinite(tf.convert_to_tensor(g).numpy()).all() for g in grads)


def test_dropout_only_in_training_and_is_training_default():
  exp = harness.albert_reference("grouped")
  model, _ = harness.load_albert("grouped")
  args = (exp["input_ids"], exp["input_mask"], exp["segment_ids"])
  a = model(*args, training=True).sequence_output.numpy()
  b = model(*args, training=True).sequence_output.numpy()
  assert np.abs(a - b).max() > 1e-3
  assert_outputs_match(model(*args), exp)
  trained, _ = harness.load_albert("grouped", is_training=True)
  assert np.abs(trained(*args).sequence_output - exp["sequence_output"]).max(
  ) > 1e-3


def test_output_positions_equal_the_gathered_full_output():
  exp = harness.albert_reference("grouped")
  model, _ = harness.load_albert("grouped")
  positions = tf.constant([[1, 5, 0], [15, 2, 2], [3, 4, 9]], tf.int32)
  part = model(exp["input_ids"], exp["input_mask"], exp["segment_ids"],
               output_positions=positions)
  want = tf.gather(exp["sequence_output"], positions, batch_dims=1)
  np.testing.assert_allclose(part.sequence_output, want, **TOL)
  np.testing.assert_allclose(part.pooled_output, exp["pooled_output"], **TOL)
  for got, full in zip(part.all_encoder_layers[:-1],
                       exp["all_encoder_layers"][:-1]):
    np.testing.assert_allclose(got, full, **TOL)


def test_scope_prefixes_every_name():
  model = albert_modeling.AlbertModel(harness.tiny_albert_config(),
                                      scope="student")
  names = [checkpoints.variable_name(v) for v in model.variables]
  assert all(n.startswith("student/") for n in names)
  assert ("student/encoder/transformer/group_0/inner_group_0/attention_1/"
          "self/query/kernel") in names
  assert "student/encoder/embedding_hidden_mapping_in/kernel" in names
  assert sorted(names) == sorted(albert_modeling.albert_variable_names(
      model.config, scope="student"))


def test_config_defaults_are_alberts():
  assert albert_modeling.AlbertConfig(vocab_size=30000).to_dict() == {
      "vocab_size": 30000, "embedding_size": 128, "hidden_size": 4096,
      "num_hidden_layers": 12, "num_hidden_groups": 1,
      "num_attention_heads": 64, "intermediate_size": 16384,
      "inner_group_num": 1, "down_scale_factor": 1, "hidden_act": "gelu",
      "hidden_dropout_prob": 0, "attention_probs_dropout_prob": 0,
      "max_position_embeddings": 512, "type_vocab_size": 2,
      "initializer_range": 0.02}


@pytest.mark.parametrize("name", harness.ALBERT_MODELS)
def test_config_file_round_trip_keeps_unread_keys(name):
  path = harness.albert_fixture(name, "albert_config.json")
  with open(path) as f:
    albert_text = f.read()
  config = albert_modeling.AlbertConfig.from_json_file(path)
  # The file is ALBERT's own to_json_string output.
  assert config.to_json_string().rstrip("\n") == albert_text.rstrip("\n")
  if name == "tiny":  # released configs' keys the model never reads
    assert config.net_structure_type == 0 and config.num_memory_blocks == 0
    assert json.loads(config.to_json_string())["gap_size"] == 0


def test_config_errors(tmp_path):
  bad = tmp_path / "albert_config.json"
  bad.write_text("{'vocab_size': 3,}")
  with pytest.raises(ValueError,
                     match="ALBERT config file .*albert_config.json is not "
                     "valid JSON"):
    albert_modeling.AlbertConfig.from_json_file(str(bad))
  with pytest.raises(ValueError, match="AlbertConfig needs `vocab_size`"):
    albert_modeling.AlbertConfig.from_dict({"hidden_size": 32})
  with pytest.raises(ValueError,
                     match='AlbertConfig: "num_hidden_groups": 0 must be >= 1'):
    albert_modeling.AlbertModel(harness.tiny_albert_config(
        num_hidden_groups=0))
  with pytest.raises(ValueError, match=r"hidden size \(16\).*heads \(3\)"):
    albert_modeling.AlbertModel(harness.tiny_albert_config(
        num_attention_heads=3))


def test_a_config_of_the_other_family_is_named():
  albert_config = harness.tiny_albert_config()
  with pytest.raises(ValueError, match="BertModel got an ALBERT config.*"
                     "embedding_size.*albert.modeling.AlbertModel"):
    modeling.BertModel(albert_config)
  # A BERT config object read from an ALBERT file is ALBERT's too.
  with pytest.raises(ValueError, match="ALBERT config"):
    modeling.BertModel(modeling.BertConfig.from_json_file(
        harness.albert_fixture("tiny", "albert_config.json")))
  with pytest.raises(ValueError, match="AlbertModel got a BERT config "
                     r"\(BertConfig, without ALBERT's embedding_size"):
    albert_modeling.AlbertModel(harness.tiny_config())


def test_sequence_longer_than_positions_is_an_error():
  model = albert_modeling.AlbertModel(harness.tiny_albert_config(
      max_position_embeddings=8))
  with pytest.raises(ValueError, match="max_position_embeddings 8 of the "
                     "ALBERT config"):
    model(tf.ones([1, 9], tf.int32))
