# coding=utf-8
"""The main BERT model and related functions, for TensorFlow 2.

The computation is Google's (google-research/bert modeling.py) to the letter:
tanh-approximated GELU, an additive -10000 attention mask, post-LayerNorm with
epsilon 1e-12, truncated-normal initialisation and dropout only in training. The
model is a `tf.Module` whose variables carry Google's checkpoint names
(`bert/encoder/layer_0/attention/self/query/kernel`, ...), so Google's released
checkpoints load as they are and checkpoints written here load in Google's code.

Mixed precision: `compute_dtype` (float32, bfloat16 or float16) is the dtype of the
matrix multiplications; variables stay float32 and LayerNorm, softmax, the residual
stream and every output are float32.
"""

import collections
import copy
import json
import math
import re

import tensorflow as tf

import checkpoints
import io_lib
import seeding
import validation

_ACTIVATIONS = ("linear", "relu", "gelu", "tanh")

# What a BERT config must hold. The sizes that shape the variables (and the
# heads, which change what the weights compute) have no assumed default: a
# file without `hidden_size` silently built a hidden-768 model. The others
# fall back to Google's defaults with a warning naming them. ALBERT's table
# extends this one (embedding_size, num_hidden_groups, inner_group_num, ...).
BERT_CONFIG_FIELDS = (
    validation.int_field("vocab_size"),
    validation.int_field("hidden_size"),
    validation.int_field("num_hidden_layers"),
    validation.int_field("num_attention_heads"),
    validation.int_field("intermediate_size"),
    validation.int_field("max_position_embeddings"),
    validation.int_field("type_vocab_size"),
    validation.choice_field("hidden_act", ("gelu", "relu", "tanh", "linear"),
                            "gelu"),
    validation.probability_field("hidden_dropout_prob", 0.1),
    validation.probability_field("attention_probs_dropout_prob", 0.1),
    validation.positive_field("initializer_range", 0.02),
)


# Keys only ALBERT's configs have (ALBERT's released albert_config.json files
# hold all three). A BERT path refuses a config holding one, and ALBERT's
# refuses a config holding none, naming the family, instead of building the
# wrong model.
ALBERT_CONFIG_KEYS = ("embedding_size", "num_hidden_groups", "inner_group_num")


class ModelConfig(object):
  """Google's config plumbing, shared by every family's config class.

  `from_dict`, `from_json_file`, `to_dict` and `to_json_string` are Google's
  (every key of the file is kept, known or not); errors name the family
  (`model_name`) and the file.
  """

  model_name = "BERT"
  config_fields = ()  # the validation table (BERT_CONFIG_FIELDS, ALBERT's)

  @classmethod
  def from_dict(cls, json_object):
    """Constructs a config from a Python dictionary of parameters.

    Every key is copied, known or not: released configs carry extra keys (e.g.
    BERT's `directionality`, ALBERT's `net_structure_type`).

    Raises:
      ValueError: `vocab_size` is absent (Google's constructor requires it).
    """
    if "vocab_size" not in json_object:
      raise ValueError("%s needs `vocab_size`; the config has only: %s" %
                       (cls.__name__, ", ".join(sorted(json_object))))
    config = cls(vocab_size=None)
    for (key, value) in json_object.items():
      config.__dict__[key] = value
    return config

  @classmethod
  def from_json_file(cls, json_file):
    """Constructs a config from a json file of parameters.

    Raises:
      validation.UsageError: the file is missing, unreadable, not a JSON
        object or lacks `vocab_size` (the error names the file).
    """
    source = "%s config file %s" % (cls.model_name, json_file)
    parsed = read_config_json(json_file, source)
    try:
      return cls.from_dict(parsed)
    except ValueError as e:
      raise validation.UsageError("%s: %s" % (source, e)) from None

  def to_dict(self):
    """Serializes this instance to a Python dictionary."""
    output = copy.deepcopy(self.__dict__)
    return output

  def to_json_string(self):
    """Serializes this instance to a JSON string."""
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

  def validate(self, source=None, fields=None):
    """Checks every field the model relies on: type, range, consistency.

    Google's constructors accept anything (its own test builds
    `BertConfig(vocab_size=99, hidden_size=37)` to test serialisation), so the
    checks run when a model is built (and when `load_config` reads a file).

    Args:
      source: what messages name (default the class name, e.g. "BertConfig";
        `load_config` passes "BERT config file /m/c.json").
      fields: the field table (default the class's `config_fields`).

    Raises:
      validation.UsageError: one line naming `source`, each bad field, its
        value and what it must be (a string, float, zero or negative size, a
        dropout outside [0, 1), an unknown activation, a hidden size the
        heads do not divide).
    """
    source = source or type(self).__name__
    fields = self.config_fields if fields is None else fields
    validation.check_config(self.__dict__, fields, source,
                            check_presence=False)
    if self.hidden_size % self.num_attention_heads != 0:
      raise validation.UsageError(
          "%s: the hidden size (%d) is not a multiple of the number of "
          "attention heads (%d)" % (source, self.hidden_size,
                                    self.num_attention_heads))


class BertConfig(ModelConfig):
  """Configuration for `BertModel`."""

  def __init__(self,
               vocab_size,
               hidden_size=768,
               num_hidden_layers=12,
               num_attention_heads=12,
               intermediate_size=3072,
               hidden_act="gelu",
               hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1,
               max_position_embeddings=512,
               type_vocab_size=16,
               initializer_range=0.02):
    """Constructs BertConfig.

    Args:
      vocab_size: Vocabulary size of `inputs_ids` in `BertModel`.
      hidden_size: Size of the encoder layers and the pooler layer.
      num_hidden_layers: Number of hidden layers in the Transformer encoder.
      num_attention_heads: Number of attention heads for each attention layer in
        the Transformer encoder.
      intermediate_size: The size of the "intermediate" (i.e., feed-forward)
        layer in the Transformer encoder.
      hidden_act: The non-linear activation function (function or string) in the
        encoder and pooler.
      hidden_dropout_prob: The dropout probability for all fully connected
        layers in the embeddings, encoder, and pooler.
      attention_probs_dropout_prob: The dropout ratio for the attention
        probabilities.
      max_position_embeddings: The maximum sequence length that this model might
        ever be used with. Typically set this to something large just in case
        (e.g., 512 or 1024 or 2048).
      type_vocab_size: The vocabulary size of the `token_type_ids` passed into
        `BertModel`.
      initializer_range: The stdev of the truncated_normal_initializer for
        initializing all weight matrices.
    """
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.hidden_act = hidden_act
    self.intermediate_size = intermediate_size
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  config_fields = BERT_CONFIG_FIELDS


def read_config_json(json_file, source):
  """The JSON object of a config file.

  Args:
    json_file: path (local or gs://).
    source: how messages name it, e.g. "BERT config file /m/c.json".

  Returns:
    dict.

  Raises:
    validation.UsageError: the file is missing, unreadable, not JSON or not
      a JSON object.
  """
  if not tf.io.gfile.exists(json_file):
    raise validation.UsageError("%s: no such file" % source)
  if tf.io.gfile.isdir(json_file):
    raise validation.UsageError("%s: is a directory, not a file" % source)
  try:
    with tf.io.gfile.GFile(json_file, "r") as reader:
      text = reader.read()
  except (tf.errors.OpError, UnicodeDecodeError) as e:
    raise validation.UsageError("%s cannot be read: %s" % (
        source, io_lib.error_reason(e) if isinstance(
            e, tf.errors.OpError) else e)) from None
  try:
    parsed = json.loads(text)
  except ValueError as e:
    raise validation.UsageError("%s is not valid JSON: %s" % (source, e)
                                ) from None
  if not isinstance(parsed, dict):
    raise validation.UsageError("%s must hold a JSON object, not %s." %
                                (source, type(parsed).__name__))
  return parsed


def load_config(json_file, config_class=None):
  """Reads and checks a config file, as every script should (not Google's).

  Each field is checked for presence, type and range before any work: a
  missing size is an error; a missing dropout, activation or initializer
  range falls back to Google's default with one warning naming each field.

  Args:
    json_file: path of bert_config.json (local or gs://).
    config_class: the ModelConfig subclass to build (default BertConfig);
      its `config_fields` is the field table and its `model_name` names the
      file in messages ("BERT config file ...").

  Returns:
    the config.

  Raises:
    validation.UsageError: naming the file and every bad or missing field
      (or the file is missing, not JSON, not a JSON object).
  """
  config_class = config_class or BertConfig
  fields = config_class.config_fields
  source = "%s config file %s" % (config_class.model_name, json_file)
  parsed = read_config_json(json_file, source)
  defaulted = validation.check_config(parsed, fields, source)
  validation.warn_defaulted(source, defaulted, fields)
  config = config_class.from_dict(parsed)
  config.validate(source, fields)
  return config


BertOutputs = collections.namedtuple(
    "BertOutputs", ["sequence_output", "pooled_output", "all_encoder_layers",
                    "embedding_output", "embedding_table", "attention_probs",
                    "word_embedding_output"])
BertOutputs.__new__.__defaults__ = (None, None)
BertOutputs.__doc__ = """What `BertModel.__call__` returns (all float32).

  E is the embedding width: the hidden size H for BERT, ALBERT's
  `embedding_size`.

  sequence_output: [batch_size, seq_length, hidden_size], the last layer.
  pooled_output: [batch_size, hidden_size], tanh(dense(first token)).
  all_encoder_layers: list of [batch_size, seq_length, hidden_size], one per
    transformer block (num_hidden_layers for BERT; num_hidden_layers *
    inner_group_num for ALBERT).
  embedding_output: [batch_size, seq_length, E], after LayerNorm (and dropout
    in training).
  embedding_table: the [vocab_size, E] word embedding variable.
  attention_probs: None, or (with `return_attention_probs=True`) a list of
    [batch_size, num_heads, seq_length, seq_length] softmax outputs (before
    attention dropout), one per block, Google's
    `.../attention/self/Softmax`.
  word_embedding_output: [batch_size, seq_length, E], the word embeddings
    looked up (before the token type and position embeddings are added).
"""


def gelu(x):
  """Gaussian Error Linear Unit, the tanh approximation (as Google's BERT).

  `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`, Google's formula.
  It is written as `tf.nn.gelu(approximate=True)` (the same formula) because
  grappler fuses that op pattern into the preceding oneDNN matmul.

  Args:
    x: float Tensor to perform activation.

  Returns:
    `x` with the GELU activation applied.
  """
  return tf.nn.gelu(x, approximate=True)


_GELU_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@tf.function(jit_compile=True, autograph=False)
def _gelu_forward(x):
  """`gelu(x)` as one XLA loop, in float32 whatever x's dtype.

  Args:
    x: float Tensor.

  Returns:
    Tensor of x's shape and dtype.
  """
  xf = tf.cast(x, tf.float32)
  inner = _GELU_SQRT_2_OVER_PI * (xf + 0.044715 * (xf * xf * xf))
  return tf.cast(xf * (0.5 * (1.0 + tf.tanh(inner))), x.dtype)


@tf.function(jit_compile=True, autograph=False)
def _gelu_backward(x, dy):
  """`dy * gelu'(x)` as one XLA loop, in float32 whatever the dtypes.

  With t = tanh(c (x + 0.044715 x^3)), c = sqrt(2 / pi):
  gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2).

  Args:
    x: float Tensor, the forward input.
    dy: gradient of the output (x's shape).

  Returns:
    Tensor of x's shape and dtype.
  """
  xf = tf.cast(x, tf.float32)
  t = tf.tanh(_GELU_SQRT_2_OVER_PI * (xf + 0.044715 * (xf * xf * xf)))
  slope = (0.5 * (1.0 + t) + 0.5 * xf * (1.0 - t * t) *
           (_GELU_SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * (xf * xf))))
  return tf.cast(tf.cast(dy, tf.float32) * slope, x.dtype)


@tf.custom_gradient
def gelu_for_training(x):
  """`gelu`, with its gradient, as two fused kernels (for training).

  In training the activation's input is kept for the backward pass, so
  grappler cannot fold `gelu` into the matmul; op by op, the forward and the
  backward are about twenty elementwise passes over the [tokens, 3072]
  intermediate tensors (7% of a BERT-Base step on a CPU), in low precision a
  rounding after each. Here each direction is one XLA loop computing in
  float32: the same function and derivative, rounded once.

  Args:
    x: float Tensor.

  Returns:
    `gelu(x)`, same shape and dtype.
  """

  def grad(dy):
    return _gelu_backward(x, dy)

  return _gelu_forward(x), grad


def get_activation(activation_string):
  """Maps a string to a Python function, e.g., "relu" => `tf.nn.relu`.

  Args:
    activation_string: String name of the activation function (or a function,
      returned as is).

  Returns:
    A Python function corresponding to the activation function, or None for
    `None`, "" and "linear".

  Raises:
    ValueError: The `activation_string` does not correspond to a known
      activation.
  """
  if not isinstance(activation_string, str):
    return activation_string
  if not activation_string:
    return None
  act = activation_string.lower()
  if act == "linear":
    return None
  elif act == "relu":
    return tf.nn.relu
  elif act == "gelu":
    return gelu
  elif act == "tanh":
    return tf.tanh
  else:
    raise ValueError("Unsupported activation: %s (expected one of %s)" %
                     (act, ", ".join(_ACTIVATIONS)))


# The stateless dropout seed context lives in seeding.py (the training loop
# sets it without importing a model); kept importable here.
dropout_seed = seeding.dropout_seed


def dropout(input_tensor, dropout_prob, noise_shape=None, select_noise=None):
  """Perform dropout.

  Args:
    input_tensor: float Tensor.
    dropout_prob: Python float. The probability of dropping out a value (NOT of
      *keeping* a dimension as in `tf.nn.dropout`).
    noise_shape: (optional) the shape to draw the noise in, when
      `input_tensor` is a selection of a larger tensor: `select_noise` then
      maps the noise to `input_tensor`'s shape. The selection gets the mask
      the whole tensor would have had (same seed, same shape drawn).
    select_noise: function noise -> noise of `input_tensor`'s shape; only with
      `noise_shape`.

  Returns:
    A version of `input_tensor` with dropout applied.
  """
  if dropout_prob is None or dropout_prob == 0.0:
    return input_tensor
  # tf.nn.dropout's computation, but the uniform noise is always float32: drawing
  # it in bfloat16 costs twice as much on CPU.
  shape = tf.shape(input_tensor) if noise_shape is None else noise_shape
  seed = seeding.next_dropout_seed()
  if seed is None:
    noise = tf.random.uniform(shape)
  else:
    noise = tf.random.stateless_uniform(shape, seed)
  if select_noise is not None:
    noise = select_noise(noise)
  keep = noise >= dropout_prob
  scale = tf.cast(1.0 / (1.0 - dropout_prob), input_tensor.dtype)
  return tf.where(keep, input_tensor * scale, tf.zeros_like(input_tensor))


def layer_norm(input_tensor, gamma, beta, epsilon=1e-12):
  """Layer normalization over the last axis, in float32.

  Google used `tf.contrib.layers.layer_norm`, i.e. `tf.nn.moments` followed by
  `tf.nn.batch_normalization` with variance_epsilon 1e-12; this is that formula.
  The variables are passed in because a TF2 function cannot create them.

  Args:
    input_tensor: float Tensor [..., hidden_size].
    gamma: float32 [hidden_size] scale.
    beta: float32 [hidden_size] offset.
    epsilon: the variance epsilon (Google hard-codes 1e-12).

  Returns:
    float32 Tensor with the shape of `input_tensor`.
  """
  x = tf.cast(input_tensor, tf.float32)
  # The same value as Google's `x * inv + (beta - mean * inv)`, written in the op
  # pattern that grappler fuses into one oneDNN layer-norm kernel.
  mean = tf.reduce_mean(x, axis=-1, keepdims=True)
  centered = x - mean
  variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
  return beta + centered * (tf.math.rsqrt(variance + epsilon) * gamma)


def layer_norm_and_dropout(input_tensor, gamma, beta, dropout_prob):
  """Runs layer normalization followed by dropout (Google's helper).

  Args:
    input_tensor: float Tensor [..., hidden_size].
    gamma, beta: float32 [hidden_size] LayerNorm variables.
    dropout_prob: the dropout rate (0 or None for none).

  Returns:
    float32 Tensor with the shape of `input_tensor`.
  """
  return dropout(layer_norm(input_tensor, gamma, beta), dropout_prob)


def create_initializer(initializer_range=0.02):
  """Creates a truncated-normal initializer with the given range.

  Args:
    initializer_range: the stddev (values beyond two stddevs are redrawn).

  Returns:
    A function (shape, dtype=tf.float32) -> Tensor.
  """
  def initializer(shape, dtype=tf.float32):
    return tf.random.truncated_normal(shape, stddev=initializer_range, dtype=dtype)
  return initializer


def get_shape_list(tensor, expected_rank=None, name=None):
  """Returns a list of the shape of tensor, preferring static dimensions.

  Args:
    tensor: A tf.Tensor object to find the shape of.
    expected_rank: (optional) int or list of ints. The expected rank of `tensor`.
    name: Optional name of the tensor for the error message.

  Returns:
    A list of dimensions of the shape of tensor. All static dimensions will be
    returned as python integers, and dynamic dimensions will be returned as
    tf.Tensor scalars.
  """
  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)
  shape = tensor.shape.as_list()
  non_static_indexes = [i for i, dim in enumerate(shape) if dim is None]
  if not non_static_indexes:
    return shape
  dyn_shape = tf.shape(tensor)
  for index in non_static_indexes:
    shape[index] = dyn_shape[index]
  return shape


def assert_rank(tensor, expected_rank, name=None):
  """Raises an exception if the tensor rank is not of the expected rank.

  Args:
    tensor: A tf.Tensor to check the rank of.
    expected_rank: Python integer or list of integers, expected rank.
    name: Optional name of the tensor for the error message.

  Raises:
    ValueError: If the expected shape doesn't match the actual shape.
  """
  if isinstance(expected_rank, int):
    expected_rank = [expected_rank]
  actual_rank = tensor.shape.ndims
  if actual_rank not in expected_rank:
    raise ValueError(
        "For the tensor `%s`, the actual rank `%d` (shape = %s) is not equal to "
        "the expected rank `%s`" %
        (name or getattr(tensor, "name", "tensor"), actual_rank,
         str(tensor.shape), str(expected_rank)))


def reshape_to_matrix(input_tensor):
  """Reshapes a >= rank 2 tensor to a rank 2 tensor (i.e., a matrix)."""
  ndims = input_tensor.shape.ndims
  if ndims < 2:
    raise ValueError("Input tensor must have at least rank 2. Shape = %s" %
                     (input_tensor.shape))
  if ndims == 2:
    return input_tensor
  width = input_tensor.shape[-1]
  return tf.reshape(input_tensor, [-1, width])


def reshape_from_matrix(output_tensor, orig_shape_list):
  """Reshapes a rank 2 tensor back to its original rank >= 2 tensor."""
  if len(orig_shape_list) == 2:
    return output_tensor
  output_shape = get_shape_list(output_tensor)
  orig_dims = orig_shape_list[0:-1]
  width = output_shape[-1]
  return tf.reshape(output_tensor, orig_dims + [width])


def create_attention_mask_from_input_mask(from_tensor, to_mask):
  """Create 3D attention mask from a 2D tensor mask.

  Args:
    from_tensor: 2D or 3D Tensor of shape [batch_size, from_seq_length, ...].
    to_mask: int32 Tensor of shape [batch_size, to_seq_length].

  Returns:
    float Tensor of shape [batch_size, from_seq_length, to_seq_length].
  """
  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  to_shape = get_shape_list(to_mask, expected_rank=2)
  to_mask = tf.cast(tf.reshape(to_mask, [to_shape[0], 1, to_shape[1]]),
                    tf.float32)
  broadcast_ones = tf.ones([from_shape[0], from_shape[1], 1], dtype=tf.float32)
  return broadcast_ones * to_mask


def flat_positions(positions, seq_length):
  """Row indices of `positions` in a [batch_size * seq_length, ...] matrix.

  Args:
    positions: int Tensor [batch_size, num_positions], positions in each
      sequence.
    seq_length: int or scalar Tensor.

  Returns:
    int32 [batch_size * num_positions]: `b * seq_length + positions[b, i]`.
  """
  positions = tf.cast(positions, tf.int32)
  batch_size = get_shape_list(positions, expected_rank=2)[0]
  offsets = tf.reshape(tf.range(0, batch_size, dtype=tf.int32) * seq_length,
                       [-1, 1])
  return tf.reshape(positions + offsets, [-1])


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Compute the union of the current variables and checkpoint variables.

  Args:
    tvars: the model's (trainable) variables.
    init_checkpoint: a checkpoint prefix.

  Returns:
    (assignment_map, initialized_variable_names): an OrderedDict checkpoint name
    -> variable name for every variable whose name is in the checkpoint, and a
    dict with both `name` and `name:0` -> 1 for those variables (Google's values).
  """
  initialized_variable_names = {}
  name_to_variable = collections.OrderedDict()
  for var in tvars:
    name_to_variable[checkpoints.variable_name(var)] = var
  init_vars = tf.train.list_variables(init_checkpoint)
  assignment_map = collections.OrderedDict()
  for (name, _) in init_vars:
    if name not in name_to_variable:
      continue
    assignment_map[name] = name
    initialized_variable_names[name] = 1
    initialized_variable_names[name + ":0"] = 1
  return (assignment_map, initialized_variable_names)


def init_from_checkpoint(variables, init_checkpoint):
  """Warm start: assigns every variable whose name is in `init_checkpoint`.

  Variables absent from the checkpoint keep their initial values (e.g. a new
  classifier's `output_weights`); checkpoint entries nobody uses (e.g. `cls/*`
  when fine-tuning) are ignored. Both are logged.

  Args:
    variables: a tf.Module or list of variables (use the trainable ones: Google
      never warm-starts optimizer slots).
    init_checkpoint: a checkpoint prefix such as ".../bert_model.ckpt".

  Returns:
    checkpoints.RestoreResult(loaded, missing, unused).

  Raises:
    ValueError: a shape mismatch (naming the variable and both shapes), or no
      checkpoint at `init_checkpoint`.
  """
  return checkpoints.restore(variables, init_checkpoint, allow_missing=True)


class Dense(tf.Module):
  """`y = x @ kernel + bias` with Google's `<scope>/kernel`, `<scope>/bias`."""

  def __init__(self, scope, in_size, out_size, initializer):
    """Creates `scope/kernel` [in_size, out_size] and `scope/bias` [out_size]."""
    super().__init__(name=None)
    self.kernel = tf.Variable(initializer([in_size, out_size]),
                              name=scope + "/kernel")
    self.bias = tf.Variable(tf.zeros([out_size]), name=scope + "/bias")

  def __call__(self, x, compute_dtype=tf.float32):
    """Applies the layer.

    Args:
      x: [n, in_size] Tensor.
      compute_dtype: the dtype of the multiplication.

    Returns:
      [n, out_size] Tensor of `compute_dtype`.
    """
    x = tf.cast(x, compute_dtype)
    kernel = tf.cast(self.kernel, compute_dtype)
    bias = tf.cast(self.bias, compute_dtype)
    # BiasAdd (not AddV2) lets grappler fuse it into the oneDNN matmul.
    return tf.nn.bias_add(tf.matmul(x, kernel), bias)


class LayerNorm(tf.Module):
  """Google's `<scope>/LayerNorm/{beta,gamma}` and its float32 normalisation."""

  def __init__(self, scope, size):
    """Creates `scope/beta` (zeros) and `scope/gamma` (ones), both [size]."""
    super().__init__(name=None)
    self.beta = tf.Variable(tf.zeros([size]), name=scope + "/beta")
    self.gamma = tf.Variable(tf.ones([size]), name=scope + "/gamma")

  def __call__(self, x):
    """Normalises the last axis of `x`; returns float32."""
    return layer_norm(x, self.gamma, self.beta)


# The roles of a transformer layer's variable scopes (see `TransformerLayer`).
LAYER_ROLES = ("query", "key", "value", "attention_output",
               "attention_layer_norm", "intermediate", "output",
               "output_layer_norm")


def bert_layer_names(scope, index):
  """Google's variable scopes of encoder layer `index` (role -> scope).

  Args:
    scope: the model scope, e.g. "bert".
    index: the layer number.

  Returns:
    dict role -> scope: query -> `<scope>/encoder/layer_<i>/attention/self/
    query`, ..., output_layer_norm -> `.../output/LayerNorm`.
  """
  layer = "%s/encoder/layer_%d" % (scope, index)
  return {
      "query": layer + "/attention/self/query",
      "key": layer + "/attention/self/key",
      "value": layer + "/attention/self/value",
      "attention_output": layer + "/attention/output/dense",
      "attention_layer_norm": layer + "/attention/output/LayerNorm",
      "intermediate": layer + "/intermediate/dense",
      "output": layer + "/output/dense",
      "output_layer_norm": layer + "/output/LayerNorm",
  }


def layer_variable_names(names):
  """Checkpoint names of the 16 variables of a layer with scopes `names`.

  Args:
    names: dict role -> scope (e.g. `bert_layer_names(...)`).

  Returns:
    list of names, in `LAYER_ROLES` order (kernel, bias / beta, gamma).
  """
  suffixes = {"attention_layer_norm": ("beta", "gamma"),
              "output_layer_norm": ("beta", "gamma")}
  return ["%s/%s" % (names[role], suffix) for role in LAYER_ROLES
          for suffix in suffixes.get(role, ("kernel", "bias"))]


def bert_embedding_names(scope):
  """Google's names of the embedding variables (key -> name or scope).

  Args:
    scope: the model scope, e.g. "bert".

  Returns:
    dict: word_embeddings, token_type_embeddings, position_embeddings (variable
    names) and layer_norm (the scope of its beta and gamma).
  """
  emb = scope + "/embeddings"
  return {"word_embeddings": emb + "/word_embeddings",
          "token_type_embeddings": emb + "/token_type_embeddings",
          "position_embeddings": emb + "/position_embeddings",
          "layer_norm": emb + "/LayerNorm"}


def bert_variable_names(config, scope="bert"):
  """Checkpoint names of every variable of `BertModel(config, scope=scope)`.

  Computed from the same tables the model is built from, without building it
  (reading a checkpoint's coverage of a large model costs no weights).

  Args:
    config: BertConfig.
    scope: the model scope.

  Returns:
    list of names: embeddings, layers in order, pooler.
  """
  emb = bert_embedding_names(scope)
  names = [emb["word_embeddings"], emb["token_type_embeddings"],
           emb["position_embeddings"], emb["layer_norm"] + "/beta",
           emb["layer_norm"] + "/gamma"]
  for index in range(config.num_hidden_layers):
    names += layer_variable_names(bert_layer_names(scope, index))
  return names + [scope + "/pooler/dense/kernel", scope + "/pooler/dense/bias"]


class TransformerLayer(tf.Module):
  """One post-LN encoder layer (Google's `transformer_model` loop body).

  The layer holds its configuration (heads, dropout rates, activation, compute
  dtype) and takes its variable names from a table, so one class serves every
  family's names: BERT's `bert/encoder/layer_<i>/attention/self/query`
  (`bert_layer_names`), or another family's. A call passes the activations and
  the mask only (nanoGPT's `Block.forward`).
  """

  def __init__(self, names, config, initializer, compute_dtype=tf.float32):
    """Creates the layer's 16 variables.

    Args:
      names: dict role -> variable scope for every role of `LAYER_ROLES`
        (query, key, value, attention_output, attention_layer_norm,
        intermediate, output, output_layer_norm).
      config: a config with hidden_size, intermediate_size,
        num_attention_heads, hidden_act, hidden_dropout_prob and
        attention_probs_dropout_prob (`BertConfig`).
      initializer: function (shape) -> initial kernel values.
      compute_dtype: dtype of the matrix multiplications.
    """
    super().__init__(name=None)
    missing = [role for role in LAYER_ROLES if role not in names]
    if missing:
      raise ValueError("TransformerLayer names lack the roles: %s" %
                       ", ".join(missing))
    h, i = config.hidden_size, config.intermediate_size
    self.num_heads = config.num_attention_heads
    self.head_size = h // self.num_heads
    self.hidden_dropout_prob = config.hidden_dropout_prob
    self.attention_dropout_prob = config.attention_probs_dropout_prob
    self.act_fn = get_activation(config.hidden_act)
    self.compute_dtype = tf.as_dtype(compute_dtype)
    # Attribute names fix the order of `variables` (sorted by attribute):
    # keep them as they are, checkpoints and optimizer sums follow it.
    self.query = Dense(names["query"], h, h, initializer)
    self.key = Dense(names["key"], h, h, initializer)
    self.value = Dense(names["value"], h, h, initializer)
    self.attention_output = Dense(names["attention_output"], h, h,
                                  initializer)
    self.attention_layer_norm = LayerNorm(names["attention_layer_norm"], h)
    self.intermediate = Dense(names["intermediate"], h, i, initializer)
    self.output_dense = Dense(names["output"], i, h, initializer)
    self.output_layer_norm = LayerNorm(names["output_layer_norm"], h)

  def _split_heads(self, x, batch_size, seq_length):
    """[batch_size * seq_length, hidden] -> [batch_size, heads, seq_length, size]."""
    x = tf.reshape(x, [batch_size, seq_length, self.num_heads, self.head_size])
    return tf.transpose(x, [0, 2, 1, 3])

  def attention(self, x, attention_adder, attention_dropout_prob,
                query_positions=None):
    """Multi-headed self-attention.

    Args:
      x: float32 [batch_size * seq_length, hidden_size].
      attention_adder: float32 [batch_size, 1, 1, seq_length]; 0 for real keys,
        -10000 for padding.
      attention_dropout_prob: dropout rate of the probabilities (0 at inference).
      query_positions: (optional) int32 [batch_size, num_queries]: attend from
        these positions only (keys and values still cover every position).

    Returns:
      (context [batch_size * F, hidden_size] in compute_dtype, probs float32
       [batch_size, num_heads, F, seq_length]), F = seq_length, or num_queries
      with `query_positions`.
    """
    compute_dtype = self.compute_dtype
    batch_size, _, _, seq_length = get_shape_list(attention_adder,
                                                  expected_rank=4)
    x_q, num_queries, select_noise = x, seq_length, None
    if query_positions is not None:
      num_queries = get_shape_list(query_positions)[1]
      x_q = tf.gather(x, flat_positions(query_positions, seq_length))
      # The rows of the [B, N, T, T] mask the full computation would draw.
      select_noise = lambda noise: tf.gather(noise, query_positions, axis=2,
                                             batch_dims=1)
    q = self._split_heads(self.query(x_q, compute_dtype), batch_size,
                          num_queries)
    k = self._split_heads(self.key(x, compute_dtype), batch_size, seq_length)
    v = self._split_heads(self.value(x, compute_dtype), batch_size, seq_length)
    # [B, N, F, T]
    scores = tf.matmul(q, k, transpose_b=True)
    scores = tf.cast(scores, tf.float32) * (1.0 / math.sqrt(float(self.head_size)))
    scores += attention_adder
    probs = tf.nn.softmax(scores)
    noise_shape = None
    if select_noise is not None:
      noise_shape = [batch_size, self.num_heads, seq_length, seq_length]
    dropped = dropout(probs, attention_dropout_prob, noise_shape, select_noise)
    # [B, N, F, D] -> [B, F, N, D] -> [B*F, N*D]
    context = tf.matmul(tf.cast(dropped, compute_dtype), v)
    context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]),
                         [batch_size * num_queries,
                          self.num_heads * self.head_size])
    return context, probs

  def __call__(self, x, attention_adder, training, query_positions=None):
    """Applies the layer.

    Args:
      x: float32 [batch_size * seq_length, hidden_size].
      attention_adder: float32 [batch_size, 1, 1, seq_length]; 0 for real keys,
        -10000 for padding (batch_size and seq_length are read from it).
      training: bool, dropout on.
      query_positions: (optional) int32 [batch_size, num_queries]: compute the
        output at these positions only. Each output row depends on its own
        position's input and on the keys and values of all positions, so the
        rows equal those of the full output at these positions, dropout masks
        included (drawn at the full shape, then selected).

    Returns:
      (float32 [batch_size * F, hidden_size], attention probabilities
       float32 [batch_size, num_heads, F, seq_length]), F = seq_length, or
      num_queries with `query_positions`.
    """
    compute_dtype = self.compute_dtype
    hidden_dropout_prob = self.hidden_dropout_prob if training else 0.0
    act_fn = self.act_fn
    if training and act_fn is gelu:
      # Inference keeps `gelu`: grappler fuses it into the matmul there.
      act_fn = gelu_for_training
    context, probs = self.attention(
        x, attention_adder, self.attention_dropout_prob if training else 0.0,
        query_positions)
    noise_shape, select_noise = None, None
    if query_positions is not None:
      seq_length = get_shape_list(attention_adder, expected_rank=4)[3]
      rows = flat_positions(query_positions, seq_length)
      noise_shape = tf.shape(x)
      select_noise = lambda noise: tf.gather(noise, rows)
      x = tf.gather(x, rows)
    attention_output = dropout(self.attention_output(context, compute_dtype),
                               hidden_dropout_prob, noise_shape, select_noise)
    attention_output = self.attention_layer_norm(
        tf.cast(attention_output, tf.float32) + x)
    intermediate = self.intermediate(attention_output, compute_dtype)
    if act_fn is not None:
      intermediate = act_fn(intermediate)
    layer_output = dropout(self.output_dense(intermediate, compute_dtype),
                           hidden_dropout_prob, noise_shape, select_noise)
    layer_output = self.output_layer_norm(
        tf.cast(layer_output, tf.float32) + attention_output)
    return layer_output, probs


class BertModel(tf.Module):
  """BERT model ("Bidirectional Encoder Representations from Transformers").

  TF2 use:

  ```python
  config = modeling.BertConfig.from_json_file("bert_config.json")
  model = modeling.BertModel(config)
  modeling.init_from_checkpoint(model, "bert_model.ckpt")
  outputs = model(input_ids, input_mask=input_mask, token_type_ids=segment_ids)
  pooled = outputs.pooled_output
  ```

  Google-style use also works: `BertModel(config, is_training, input_ids=...)`
  runs the model once and `model.get_pooled_output()` etc. return the results
  (the accessors always return the outputs of the latest call).
  """

  # The cached outputs of the latest call are not part of the module's state.
  _TF_MODULE_IGNORED_PROPERTIES = frozenset(
      tf.Module._TF_MODULE_IGNORED_PROPERTIES | {"_last_outputs"})

  def __init__(self,
               config,
               is_training=False,
               input_ids=None,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=False,
               scope=None,
               compute_dtype=tf.float32):
    """Constructor for BertModel; creates every variable.

    Args:
      config: `BertConfig` instance.
      is_training: bool. The default of `training` in calls (dropout or not).
      input_ids: optional int32 Tensor [batch_size, seq_length]; if given the
        model is run once (Google-style) and the `get_*` accessors work.
      input_mask: (optional) int32 Tensor [batch_size, seq_length].
      token_type_ids: (optional) int32 Tensor [batch_size, seq_length].
      use_one_hot_embeddings: (optional) bool, the default for calls. Whether to
        use one-hot word embeddings (faster on TPUs) or tf.gather().
      scope: (optional) variable scope. Defaults to "bert".
      compute_dtype: tf.float32, tf.bfloat16 or tf.float16, the dtype of the
        matrix multiplications (variables and outputs stay float32).

    Raises:
      ValueError: The config is invalid (see `BertConfig.validate`) or is
        another family's (an ALBERT config given to BertModel).
    """
    scope = scope or "bert"
    super().__init__(name=re.sub(r"\W", "_", scope))
    self.check_config_family(config)
    config = copy.deepcopy(config)
    config.validate()
    compute_dtype = tf.as_dtype(compute_dtype)
    if compute_dtype not in (tf.float32, tf.bfloat16, tf.float16):
      raise ValueError("compute_dtype must be float32, bfloat16 or float16, not %s"
                       % compute_dtype.name)
    self.config = config
    self.is_training = is_training
    self.use_one_hot_embeddings = use_one_hot_embeddings
    self.compute_dtype = compute_dtype
    self.scope = scope
    self.embedding_size = self.embedding_width(config)
    init = create_initializer(config.initializer_range)
    e = self.embedding_size
    emb = bert_embedding_names(scope)
    # Creation order fixes the initial values drawn under a global seed.
    self.word_embeddings = tf.Variable(init([config.vocab_size, e]),
                                       name=emb["word_embeddings"])
    self.token_type_embeddings = tf.Variable(
        init([config.type_vocab_size, e]), name=emb["token_type_embeddings"])
    self.position_embeddings = tf.Variable(
        init([config.max_position_embeddings, e]),
        name=emb["position_embeddings"])
    self.embedding_layer_norm = LayerNorm(emb["layer_norm"], e)
    self.create_encoder(init)
    h = config.hidden_size
    self.pooler = Dense(scope + "/pooler/dense", h, h, init)
    object.__setattr__(self, "_last_outputs", None)
    if input_ids is not None:
      self(input_ids, input_mask=input_mask, token_type_ids=token_type_ids)

  # The hooks a model family overrides (`albert.modeling.AlbertModel`): the
  # config it accepts, its embedding width, its transformer blocks and what
  # maps the embeddings to the hidden width.

  @classmethod
  def check_config_family(cls, config):
    """Refuses another family's config, naming it.

    Raises:
      ValueError: `config` has ALBERT's keys (an ALBERT config).
    """
    albert_keys = [k for k in ALBERT_CONFIG_KEYS if hasattr(config, k)]
    if albert_keys:
      raise ValueError(
          "%s got an ALBERT config (it has %s): build ALBERT with "
          "albert.modeling.AlbertModel (--encoder_family=albert or auto)." %
          (cls.__name__, ", ".join(albert_keys)))

  @classmethod
  def embedding_width(cls, config):
    """E, the width of the embedding tables: H for BERT."""
    return config.hidden_size

  def create_encoder(self, initializer):
    """Creates the transformer layers (`self.layers`, Google's names).

    Args:
      initializer: function (shape) -> initial kernel values.
    """
    self.layers = [
        TransformerLayer(bert_layer_names(self.scope, i), self.config,
                         initializer, self.compute_dtype)
        for i in range(self.config.num_hidden_layers)
    ]

  def blocks(self):
    """The transformer blocks in the order they run: BERT's layers."""
    return self.layers

  def embeddings_to_hidden(self, x):
    """Maps the embeddings to the hidden width (none for BERT).

    Args:
      x: float32 [batch_size * seq_length, embedding_size].

    Returns:
      float32 [batch_size * seq_length, hidden_size].
    """
    return x

  def embeddings(self, input_ids, token_type_ids, use_one_hot_embeddings,
                 hidden_dropout_prob):
    """Word + token type + position embeddings, LayerNorm, dropout.

    Args:
      input_ids: int Tensor [batch_size, seq_length].
      token_type_ids: int Tensor [batch_size, seq_length].
      use_one_hot_embeddings: one-hot matmul instead of a gather.
      hidden_dropout_prob: dropout rate (0 at inference).

    Returns:
      (word_embedding_output, embedding_output): float32
      [batch_size * seq_length, embedding_size] each, the words looked up and
      the normalised sum.
    """
    seq_length = get_shape_list(input_ids)[1]
    width = self.embedding_size
    flat_ids = tf.reshape(input_ids, [-1])
    if use_one_hot_embeddings:
      one_hot = tf.one_hot(flat_ids, depth=self.config.vocab_size)
      words = tf.matmul(one_hot, self.word_embeddings)
    else:
      words = tf.gather(self.word_embeddings, flat_ids)
    # A gather equals Google's one-hot matmul for token types bit for bit.
    output = words + tf.gather(self.token_type_embeddings,
                               tf.reshape(token_type_ids, [-1]))
    positions = self.position_embeddings[:seq_length]
    output = tf.reshape(output, [-1, seq_length, width])
    output = tf.reshape(output + positions, [-1, width])
    norm = self.embedding_layer_norm
    return words, layer_norm_and_dropout(output, norm.gamma, norm.beta,
                                         hidden_dropout_prob)

  def _check_seq_length(self, seq_length):
    """Raises if the sequence is longer than the position table."""
    max_len = self.config.max_position_embeddings
    if isinstance(seq_length, int):
      if seq_length > max_len:
        raise ValueError(
            "Sequence length %d is longer than max_position_embeddings %d of the "
            "%s config." % (seq_length, max_len, self.config.model_name))
      return []
    return [tf.debugging.assert_less_equal(
        seq_length, max_len,
        message="Sequence length is longer than max_position_embeddings")]

  # Plain Python control flow only (on static values): nothing for autograph.
  @tf.autograph.experimental.do_not_convert
  def __call__(self, input_ids, input_mask=None, token_type_ids=None,
               training=None, use_one_hot_embeddings=None,
               return_attention_probs=False, output_positions=None):
    """Runs the model.

    Args:
      input_ids: int32 Tensor [batch_size, seq_length].
      input_mask: (optional) int Tensor [batch_size, seq_length], 1 for real
        tokens; default all ones (Google's default).
      token_type_ids: (optional) int Tensor [batch_size, seq_length]; default
        zeros.
      training: bool, apply dropout; default the constructor's `is_training`.
      use_one_hot_embeddings: bool; default the constructor's value.
      return_attention_probs: also return every block's softmax output in
        `BertOutputs.attention_probs`.
      output_positions: (optional) int Tensor [batch_size, num_positions]:
        compute the last block only at these positions and at position 0 (for
        the pooled output), for callers that read nothing else, such as the
        pre-training heads (a sixth of the last layer's cost for 20 of 128).
        `sequence_output` and `all_encoder_layers[-1]` are then
        [batch_size, num_positions, hidden_size], equal to the full output
        gathered at `output_positions` (dropout masks included); the last
        block's attention probabilities are [batch_size, num_heads,
        1 + num_positions, seq_length] (position 0 first). Everything else is
        as without.

    Returns:
      `BertOutputs` (float32 tensors).

    Raises:
      ValueError: input_ids is not rank 2 or is longer than
        max_position_embeddings.
    """
    if training is None:
      training = self.is_training
    if use_one_hot_embeddings is None:
      use_one_hot_embeddings = self.use_one_hot_embeddings
    input_ids = tf.convert_to_tensor(input_ids)
    batch_size, seq_length = get_shape_list(input_ids, expected_rank=2,
                                            name="input_ids")
    checks = self._check_seq_length(seq_length)
    if input_mask is None:
      input_mask = tf.ones([batch_size, seq_length], dtype=tf.int32)
    if token_type_ids is None:
      token_type_ids = tf.zeros([batch_size, seq_length], dtype=tf.int32)
    hidden_dropout = self.config.hidden_dropout_prob if training else 0.0

    with tf.control_dependencies(checks):
      words, x = self.embeddings(input_ids, token_type_ids,
                                 use_one_hot_embeddings, hidden_dropout)
    # Only padded keys are masked; Google's [B, F, T] mask is constant along F.
    adder = (1.0 - tf.cast(input_mask, tf.float32)) * -10000.0
    adder = tf.reshape(adder, [batch_size, 1, 1, seq_length])
    all_layers, all_probs = self._encode(self.embeddings_to_hidden(x), adder,
                                         training, output_positions)
    first_token = all_layers[-1][:, 0, :]
    if output_positions is not None:
      all_layers[-1] = all_layers[-1][:, 1:, :]
    pooled_output = tf.tanh(
        tf.cast(self.pooler(first_token, self.compute_dtype), tf.float32))
    shape = [batch_size, seq_length, self.embedding_size]
    outputs = BertOutputs(
        sequence_output=all_layers[-1],
        pooled_output=pooled_output,
        all_encoder_layers=all_layers,
        embedding_output=tf.reshape(x, shape),
        embedding_table=self.word_embeddings,
        attention_probs=all_probs if return_attention_probs else None,
        word_embedding_output=tf.reshape(words, shape))
    object.__setattr__(self, "_last_outputs", outputs)
    return outputs

  def _encode(self, x, attention_adder, training, output_positions=None):
    """Runs the transformer blocks on the embeddings.

    Args:
      x: float32 [batch_size * seq_length, hidden_size], the embeddings
        (mapped to the hidden width).
      attention_adder: float32 [batch_size, 1, 1, seq_length].
      training: dropout on.
      output_positions: (optional) int [batch_size, num_positions]: the last
        block is computed at position 0 and these positions only.

    Returns:
      (list of every block's output, float32 [batch_size, F, hidden_size]
      (F = seq_length; for the last block with `output_positions`
      1 + num_positions, position 0 first), list of their attention
      probabilities).
    """
    batch_size, _, _, seq_length = get_shape_list(attention_adder,
                                                  expected_rank=4)
    hidden_size = self.config.hidden_size
    blocks = self.blocks()
    all_layers, all_probs = [], []
    for index, block in enumerate(blocks):
      query_positions, num_rows = None, seq_length
      if output_positions is not None and index == len(blocks) - 1:
        # Position 0 first: the pooler reads it.
        query_positions = tf.concat(
            [tf.zeros([batch_size, 1], tf.int32),
             tf.cast(output_positions, tf.int32)], axis=1)
        num_rows = get_shape_list(query_positions)[1]
      x, probs = block(x, attention_adder, training,
                       query_positions=query_positions)
      all_layers.append(tf.reshape(x, [batch_size, num_rows, hidden_size]))
      all_probs.append(probs)
    return all_layers, all_probs

  def _last(self):
    if self._last_outputs is None:
      raise ValueError("%s has not been called yet: pass input_ids to the "
                       "constructor or call the model first." %
                       type(self).__name__)
    return self._last_outputs

  def get_pooled_output(self):
    """[batch_size, hidden_size] float32 of the latest call."""
    return self._last().pooled_output

  def get_sequence_output(self):
    """Gets final hidden layer of encoder.

    Returns:
      float32 Tensor of shape [batch_size, seq_length, hidden_size] corresponding
      to the final hidden of the transformer encoder (latest call).
    """
    return self._last().sequence_output

  def get_all_encoder_layers(self):
    """List of [batch_size, seq_length, hidden_size], one per block."""
    return self._last().all_encoder_layers

  def get_embedding_output(self):
    """Gets output of the embedding lookup (i.e., input to the transformer).

    Returns:
      float32 Tensor of shape [batch_size, seq_length, embedding_size] (E = H
      for BERT): the sum of the word, segment and position embeddings after
      layer normalization.
    """
    return self._last().embedding_output

  def get_embedding_table(self):
    """The [vocab_size, embedding_size] word embedding variable."""
    return self.word_embeddings
