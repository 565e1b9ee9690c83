# coding=utf-8
"""The main ALBERT model and related functions, for TensorFlow 2.

ALBERT (google-research/albert modeling.py) is BERT with three changes, and
this module is BERT's model (modeling.BertModel) with them, a family in
bert4keras's sense (a small class plus a name table):

* factorized embeddings: the word, token type and position tables are
  [*, E] (`embedding_size`), normalised at width E, then mapped to the hidden
  width H by `bert/encoder/embedding_hidden_mapping_in` (only when E != H);
* cross-layer sharing: layer i runs group `int(i / L * G)` (L layers, G
  groups, computed in floating point as ALBERT does, so that with L = G = 22
  no layer uses group 15 and `group_15` is never created); every layer of a
  group runs the same variables;
* `inner_group_num` attention + feed-forward blocks per layer, each block's
  output appended to `all_encoder_layers` (L x inner_group_num entries).

The arithmetic of a block is BERT's (tanh GELU, -10000 attention mask,
LayerNorm epsilon 1e-12), under ALBERT's checkpoint names
(`bert/encoder/transformer/group_0/inner_group_0/attention_1/self/query/
kernel`, ...), so ALBERT's released checkpoints (v1 and v2, base to xxlarge,
also with the `module/` prefix of its TF Hub modules) load by name and
checkpoints written here load in ALBERT's code. The call API, mixed precision
(`compute_dtype`), dropout seeding, `output_positions` and XLA are
BertModel's.
"""

import collections
import re

import tensorflow as tf

import checkpoints
import modeling
import validation

# Google's helpers under ALBERT's names (ALBERT's modeling.py has the same).
gelu = modeling.gelu
get_activation = modeling.get_activation
dropout = modeling.dropout
create_initializer = modeling.create_initializer
get_shape_list = modeling.get_shape_list
reshape_to_matrix = modeling.reshape_to_matrix
reshape_from_matrix = modeling.reshape_from_matrix
assert_rank = modeling.assert_rank


# What an ALBERT config must hold: BERT's table (sizes required, the rest
# defaulted with a warning) with ALBERT's dropout defaults (0, as
# AlbertConfig's) and ALBERT's own sizes.
ALBERT_CONFIG_FIELDS = tuple(
    f for f in modeling.BERT_CONFIG_FIELDS
    if f.name not in ("hidden_dropout_prob", "attention_probs_dropout_prob")
) + (
    validation.probability_field("hidden_dropout_prob", 0),
    validation.probability_field("attention_probs_dropout_prob", 0),
    validation.int_field("embedding_size"),
    validation.int_field("num_hidden_groups", required=False, default=1),
    validation.int_field("inner_group_num", required=False, default=1),
)


class AlbertConfig(modeling.ModelConfig):
  """Configuration for `AlbertModel`.

  The default settings match the configuration of model `albert_xxlarge`
  (ALBERT's defaults). Keys of released configs that ALBERT's model never
  reads (`net_structure_type`, `gap_size`, `num_memory_blocks`) are kept by
  `from_dict` and written back by `to_json_string`, and ignored, as ALBERT
  does.
  """

  model_name = "ALBERT"

  def __init__(self,
               vocab_size,
               embedding_size=128,
               hidden_size=4096,
               num_hidden_layers=12,
               num_hidden_groups=1,
               num_attention_heads=64,
               intermediate_size=16384,
               inner_group_num=1,
               down_scale_factor=1,
               hidden_act="gelu",
               hidden_dropout_prob=0,
               attention_probs_dropout_prob=0,
               max_position_embeddings=512,
               type_vocab_size=2,
               initializer_range=0.02):
    """Constructs AlbertConfig.

    Args:
      vocab_size: Vocabulary size of `inputs_ids` in `AlbertModel`.
      embedding_size: size of voc embeddings (E).
      hidden_size: Size of the encoder layers and the pooler layer (H).
      num_hidden_layers: Number of hidden layers in the Transformer encoder.
      num_hidden_groups: Number of group for the hidden layers, parameters in
        the same group are shared.
      num_attention_heads: Number of attention heads for each attention layer in
        the Transformer encoder.
      intermediate_size: The size of the "intermediate" (i.e., feed-forward)
        layer in the Transformer encoder.
      inner_group_num: int, number of inner repetition of attention and ffn.
      down_scale_factor: float, the scale to apply (unused by the model, as in
        ALBERT).
      hidden_act: The non-linear activation function (function or string) in the
        encoder and pooler.
      hidden_dropout_prob: The dropout probability for all fully connected
        layers in the embeddings, encoder, and pooler.
      attention_probs_dropout_prob: The dropout ratio for the attention
        probabilities.
      max_position_embeddings: The maximum sequence length that this model might
        ever be used with.
      type_vocab_size: The vocabulary size of the `token_type_ids` passed into
        `AlbertModel`.
      initializer_range: The stdev of the truncated_normal_initializer for
        initializing all weight matrices.
    """
    self.vocab_size = vocab_size
    self.embedding_size = embedding_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_hidden_groups = num_hidden_groups
    self.num_attention_heads = num_attention_heads
    self.inner_group_num = inner_group_num
    self.down_scale_factor = down_scale_factor
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  config_fields = ALBERT_CONFIG_FIELDS


def layer_group(layer_index, num_hidden_layers, num_hidden_groups):
  """The group whose variables layer `layer_index` runs (ALBERT's formula).

  `int(i / L * G)` in floating point, as ALBERT computes it: not `i * G // L`,
  which differs where the float product rounds below an integer (L = G = 22,
  i = 15: 15 / 22 * 22 = 14.999999999999998, so layer 15 runs group 14).

  Args:
    layer_index: i, 0 <= i < num_hidden_layers.
    num_hidden_layers: L.
    num_hidden_groups: G.

  Returns:
    int group number.
  """
  return int(layer_index / num_hidden_layers * num_hidden_groups)


def layer_groups(config):
  """The group of every layer: list of num_hidden_layers ints."""
  return [layer_group(i, config.num_hidden_layers, config.num_hidden_groups)
          for i in range(config.num_hidden_layers)]


def albert_layer_names(scope, group, inner_group):
  """ALBERT's variable scopes of one attention + feed-forward block.

  Args:
    scope: the model scope, e.g. "bert".
    group: the group number.
    inner_group: the block's number inside the group.

  Returns:
    dict role -> scope for modeling.TransformerLayer: query ->
    `<scope>/encoder/transformer/group_<g>/inner_group_<j>/attention_1/self/
    query`, ..., output_layer_norm -> `.../LayerNorm_1`.
  """
  block = "%s/encoder/transformer/group_%d/inner_group_%d" % (scope, group,
                                                               inner_group)
  return {
      "query": block + "/attention_1/self/query",
      "key": block + "/attention_1/self/key",
      "value": block + "/attention_1/self/value",
      "attention_output": block + "/attention_1/output/dense",
      "attention_layer_norm": block + "/LayerNorm",
      "intermediate": block + "/ffn_1/intermediate/dense",
      "output": block + "/ffn_1/intermediate/output/dense",
      "output_layer_norm": block + "/LayerNorm_1",
  }


def embedding_mapping_name(scope):
  """The scope of the E -> H mapping (`<scope>/encoder/embedding_hidden_mapping_in`)."""
  return scope + "/encoder/embedding_hidden_mapping_in"


def albert_variable_names(config, scope="bert"):
  """Checkpoint names of every variable of `AlbertModel(config, scope=scope)`.

  Computed from the tables the model is built from, without building it.

  Args:
    config: AlbertConfig.
    scope: the model scope.

  Returns:
    list of names: embeddings, the mapping (E != H only), the blocks of every
    group that some layer runs (in group, then inner-group order), pooler.
  """
  emb = modeling.bert_embedding_names(scope)
  names = [emb["word_embeddings"], emb["token_type_embeddings"],
           emb["position_embeddings"], emb["layer_norm"] + "/beta",
           emb["layer_norm"] + "/gamma"]
  if config.embedding_size != config.hidden_size:
    mapping = embedding_mapping_name(scope)
    names += [mapping + "/kernel", mapping + "/bias"]
  for group in sorted(set(layer_groups(config))):
    for inner in range(config.inner_group_num):
      names += modeling.layer_variable_names(
          albert_layer_names(scope, group, inner))
  return names + [scope + "/pooler/dense/kernel", scope + "/pooler/dense/bias"]


class AlbertModel(modeling.BertModel):
  """ALBERT model ("A Lite BERT").

  TF2 use:

  ```python
  config = AlbertConfig.from_json_file("albert_config.json")
  model = AlbertModel(config)
  init_from_checkpoint(model, "model.ckpt-best")
  outputs = model(input_ids, input_mask=input_mask, token_type_ids=segment_ids)
  pooled = outputs.pooled_output                 # [B, H]
  embedding_table = outputs.embedding_table      # [V, E]
  ```

  ALBERT-style use also works: `AlbertModel(config, is_training,
  input_ids=...)` runs the model once and `get_pooled_output()`,
  `get_word_embedding_output()` etc. return the results of the latest call.
  Everything else (call arguments, outputs, mixed precision) is
  `modeling.BertModel`'s; `embedding_output` and `embedding_table` have the
  embedding width E, `all_encoder_layers` and `attention_probs` one entry per
  block (num_hidden_layers x inner_group_num).
  """

  def __init__(self,
               config,
               is_training=False,
               input_ids=None,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=False,
               use_einsum=True,
               scope=None,
               compute_dtype=tf.float32):
    """Constructor for AlbertModel; creates every variable.

    Args:
      config: `AlbertConfig` instance.
      is_training: bool. The default of `training` in calls (dropout or not).
      input_ids: optional int32 Tensor [batch_size, seq_length]; if given the
        model is run once (ALBERT-style) and the `get_*` accessors work.
      input_mask: (optional) int32 Tensor [batch_size, seq_length].
      token_type_ids: (optional) int32 Tensor [batch_size, seq_length].
      use_one_hot_embeddings: (optional) bool, the default for calls: one-hot
        word embeddings (TPUs) or a gather.
      use_einsum: accepted for ALBERT's signature and ignored: ALBERT's einsum
        and its reshape + matmul are the same products, and ours are matmuls.
      scope: (optional) variable scope. Defaults to "bert".
      compute_dtype: tf.float32, tf.bfloat16 or tf.float16, the dtype of the
        matrix multiplications (variables and outputs stay float32).

    Raises:
      ValueError: The config is invalid or is a BERT config.
    """
    del use_einsum  # Same arithmetic either way (see Args).
    super().__init__(config, is_training=is_training, input_ids=input_ids,
                     input_mask=input_mask, token_type_ids=token_type_ids,
                     use_one_hot_embeddings=use_one_hot_embeddings,
                     scope=scope, compute_dtype=compute_dtype)

  @classmethod
  def check_config_family(cls, config):
    """Refuses a BERT config, naming it.

    Raises:
      ValueError: `config` lacks ALBERT's keys (embedding_size,
        num_hidden_groups, inner_group_num).
    """
    missing = [k for k in modeling.ALBERT_CONFIG_KEYS
               if not hasattr(config, k)]
    if missing:
      raise ValueError(
          "%s got a BERT config (%s, without ALBERT's %s): build BERT with "
          "modeling.BertModel (--encoder_family=bert or auto)." %
          (cls.__name__, type(config).__name__, ", ".join(missing)))

  @classmethod
  def embedding_width(cls, config):
    """E, the width of the embedding tables: `embedding_size`."""
    return config.embedding_size

  def create_encoder(self, initializer):
    """Creates the E -> H mapping (E != H only) and the groups' blocks.

    `self.groups[k]` is the list of inner_group_num blocks of the k-th group
    that some layer runs (group number `self.group_numbers[k]`), and
    `self.layer_group_index[i]` the k of layer i.

    Args:
      initializer: function (shape) -> initial kernel values.
    """
    config, scope = self.config, self.scope
    self.embedding_hidden_mapping_in = None
    if config.embedding_size != config.hidden_size:
      self.embedding_hidden_mapping_in = modeling.Dense(
          embedding_mapping_name(scope), config.embedding_size,
          config.hidden_size, initializer)
    groups_of_layers = layer_groups(config)
    self.group_numbers = sorted(set(groups_of_layers))
    self.layer_group_index = [self.group_numbers.index(g)
                              for g in groups_of_layers]
    self.groups = [
        [modeling.TransformerLayer(albert_layer_names(scope, group, inner),
                                   config, initializer, self.compute_dtype)
         for inner in range(config.inner_group_num)]
        for group in self.group_numbers
    ]

  def blocks(self):
    """The blocks in the order they run: each layer's group's inner blocks.

    Returns:
      list of num_hidden_layers * inner_group_num modeling.TransformerLayer;
      the layers of one group share their block objects (and variables).
    """
    return [block for index in self.layer_group_index
            for block in self.groups[index]]

  def embeddings_to_hidden(self, x):
    """`embedding_hidden_mapping_in` when E != H.

    Args:
      x: float32 [batch_size * seq_length, embedding_size].

    Returns:
      float32 [batch_size * seq_length, hidden_size].
    """
    if self.embedding_hidden_mapping_in is None:
      return x
    return tf.cast(self.embedding_hidden_mapping_in(x, self.compute_dtype),
                   tf.float32)

  def get_word_embedding_output(self):
    """Gets the output of the word(piece) embedding lookup (latest call).

    This is BEFORE positional embeddings and token type embeddings have been
    added.

    Returns:
      float32 Tensor [batch_size, seq_length, embedding_size].
    """
    return self._last().word_embedding_output


def _albert_source_name(name, checkpoint_names, num_of_group):
  """The checkpoint name ALBERT's assignment map reads variable `name` from.

  As ALBERT: the name itself; with num_of_group > 1 also, in this order, the
  name with `/group_<n>/` -> `/group_0/`, `/ffn_<n>/` -> `/ffn_1/`,
  `/attention_<n>/` -> `/attention_1/` (ALBERT's `init_from_group0`: every
  group starts from group 0). Each is also looked up behind a `module/`
  prefix (checkpoints.checkpoint_key).

  Returns:
    the checkpoint entry, or None.
  """
  candidates = [name]
  if num_of_group > 1:
    candidates += [re.sub(r"/group_\d+/", "/group_0/", name),
                   re.sub(r"/ffn_\d+/", "/ffn_1/", name),
                   re.sub(r"/attention_\d+/", "/attention_1/", name)]
  for candidate in candidates:
    key = checkpoints.checkpoint_key(candidate, checkpoint_names)
    if key is not None:
      return key
  return None


def get_assignment_map_from_checkpoint(tvars, init_checkpoint, num_of_group=0):
  """Compute the union of the current variables and checkpoint variables.

  ALBERT's function: with `num_of_group` > 0 the map is a list of
  `num_of_group` maps, a variable going to map g (g >= 1) when its name has
  `/group_<g>/`, `/ffn_<g>/` or `/attention_<g>/`, else to map 0 (ALBERT's
  test, under which every block variable, named `.../ffn_1/...` or
  `.../attention_1/...`, lands in map 1 once num_of_group > 1). As in
  ALBERT, variables reading the same checkpoint entry collide in one map (the
  later variable wins: with --init_from_group0 ALBERT's own run leaves group
  0's attention and feed-forward kernels at their initial values);
  `init_from_checkpoint` below assigns every variable instead.

  Args:
    tvars: the model's (trainable) variables.
    init_checkpoint: a checkpoint prefix (or directory, see
      checkpoints.restore).
    num_of_group: 0 for one map; else the number of maps (ALBERT's
      run_pretraining passes num_hidden_groups with --init_from_group0).

  Returns:
    (assignment_map, initialized_variable_names): an OrderedDict (or a list
    of them) checkpoint name -> variable name, and a dict with both `name`
    and `name:0` -> 1 for every variable found.
  """
  names = set(checkpoints.list_checkpoint_variables(init_checkpoint))
  if num_of_group > 0:
    assignment_map = [collections.OrderedDict() for _ in range(num_of_group)]
  else:
    assignment_map = collections.OrderedDict()
  initialized_variable_names = {}
  for var in tvars:
    name = checkpoints.variable_name(var)
    source = _albert_source_name(name, names, num_of_group)
    if source is None:
      continue
    if num_of_group > 0:
      groups = [g for g in range(1, num_of_group)
                if any("/%s_%d/" % (kind, g) in name
                       for kind in ("group", "ffn", "attention"))]
      for g in groups or [0]:
        assignment_map[g][source] = name
    else:
      assignment_map[source] = name
    initialized_variable_names[name] = 1
    initialized_variable_names[name + ":0"] = 1
  return assignment_map, initialized_variable_names


def init_from_checkpoint(variables, init_checkpoint, num_of_group=0):
  """Warm start: assigns every variable ALBERT's assignment map finds.

  Variables absent from the checkpoint keep their initial values; checkpoint
  entries nobody reads (`global_step`, heads) are ignored. Both are logged.

  Args:
    variables: a tf.Module or list of variables (use the trainable ones: ALBERT
      never warm-starts optimizer slots).
    init_checkpoint: a checkpoint prefix such as ".../model.ckpt-best", or a
      TF Hub module directory; names may carry the `module/` prefix.
    num_of_group: as `get_assignment_map_from_checkpoint` (> 1: groups absent
      from the checkpoint start from group 0). Unlike ALBERT's colliding maps,
      every variable is assigned (group 0's blocks included).

  Returns:
    checkpoints.RestoreResult(loaded, missing, unused).

  Raises:
    ValueError: a shape mismatch (naming the variable and both shapes), or no
      checkpoint at `init_checkpoint`.
  """
  if isinstance(variables, tf.Module):
    variables = variables.variables
  names = set(checkpoints.list_checkpoint_variables(init_checkpoint))
  source_names = {}
  for var in variables:
    name = checkpoints.variable_name(var)
    source = _albert_source_name(name, names, num_of_group)
    if source is not None:
      source_names[name] = source
  return checkpoints.restore(variables, init_checkpoint, allow_missing=True,
                             source_names=source_names)
