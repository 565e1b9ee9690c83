# coding=utf-8
"""Extract pre-computed feature vectors from BERT (or ALBERT).

Google's extract_features.py (google-research/bert eedf571) for TensorFlow 2:
the same flags, input ("text_a" or "text_a ||| text_b" per line) and JSON-lines
output (the key is "linex_index", values round(float(x), 6), every token with
[CLS] and [SEP]). On top:

* --pooling=cls|pooled|mean adds one sentence vector per line
  ("sentence_vector"); --output_token_layers=false leaves the per-token layers
  out.
* --output_format=npz writes arrays instead of JSON (the JSON costs about
  15 kB per token with four layers).
* Any registered encoder family: an ALBERT config (detected from
  --bert_config_file) with --spm_model_file (or --vocab_file) extracts from an
  ALBERT checkpoint; --layers index its all_encoder_layers (one per
  attention-FFN block: layers x inner_group_num).
* Streaming: the input is read, run and written batch by batch with progress,
  so memory stays flat for any input size; the JSON lines are formatted
  vectorised (same bytes as Google's per-value loop, much faster).
"""

import collections
import json
import os
import re
import shutil
import threading
import zipfile

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

import checkpoints
import encoders
import estimator_lib
import io_lib
import task_lib
import text_inputs
import validation

FLAGS = flags.FLAGS

estimator_lib.define_flag(flags.DEFINE_string, "input_file", None, "")

estimator_lib.define_flag(flags.DEFINE_string, "output_file", None, "")

estimator_lib.define_flag(flags.DEFINE_string, "layers", "-1,-2,-3,-4", "")

estimator_lib.define_flag(flags.DEFINE_integer, "batch_size", 32, "Batch size for predictions.")

# bert_config_file, max_seq_length, init_checkpoint, vocab_file,
# do_lower_case, encoder_family, Google's TPU flags (use_tpu, master,
# num_tpu_cores, ...) and the shared runtime flags.
task_lib.define_shared_flags(
    ["encoder_family", "bert_config_file", "max_seq_length",
     "init_checkpoint", "vocab_file", "spm_model_file", "do_lower_case"])

estimator_lib.define_flag(
    flags.DEFINE_bool, "use_one_hot_embeddings", False,
    "If True, tf.one_hot will be used for embedding lookups, otherwise "
    "tf.nn.embedding_lookup will be used. On TPUs, this should be True "
    "since it is much faster.")

## New flags
estimator_lib.define_flag(
    flags.DEFINE_enum, "pooling", "none", ["none", "cls", "pooled", "mean"],
    "Also write one sentence vector per input line (\"sentence_vector\"): "
    "cls = the [CLS] vector of --pooling_layer; pooled = BERT's pooler output "
    "(tanh dense of the last layer's [CLS]); mean = the mean of "
    "--pooling_layer over the real tokens ([CLS] and [SEP] included).")

estimator_lib.define_flag(flags.DEFINE_integer, "pooling_layer", -1,
        "Encoder layer (Python index, as --layers) of --pooling=cls|mean.")

estimator_lib.define_flag(
    flags.DEFINE_bool, "output_token_layers", True,
    "Write the per-token --layers (Google's output). Set to false with "
    "--pooling to write only the sentence vectors.")

estimator_lib.define_flag(
    flags.DEFINE_enum, "output_format", "jsonl", ["jsonl", "npz"],
    "jsonl: Google's JSON lines. npz: numpy arrays unique_ids [N], "
    "input_ids and input_mask [N, max_seq_length], layer_<index> "
    "[N, max_seq_length, hidden] float32 (zeros at padding) and "
    "sentence_vector [N, hidden].")

estimator_lib.define_flag(flags.DEFINE_integer, "log_every_n_examples", 10000,
        "Progress is logged every this many input lines.")


class InputExample(object):

  def __init__(self, unique_id, text_a, text_b):
    self.unique_id = unique_id
    self.text_a = text_a
    self.text_b = text_b


class InputFeatures(object):
  """A single set of features of data."""

  def __init__(self, unique_id, tokens, input_ids, input_mask, input_type_ids):
    self.unique_id = unique_id
    self.tokens = tokens
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.input_type_ids = input_type_ids


_PAIR = re.compile(r"^(.*) \|\|\| (.*)$")

# Lines per prediction call on TPUs, whose remote hosts cannot run a Python
# generator: each chunk is held as constant tensors, as Google does with the
# whole input.
_TPU_CHUNK_SIZE = 8192


def _input_lines(input_file):
  """Yields the lines of a file as Google reads them (tf.io.gfile readline).

  Raises:
    ValueError: the file is missing or a line is not UTF-8 (names the line).
  """
  if not tf.io.gfile.exists(input_file):
    raise validation.MissingInputError("--input_file %s does not exist." %
                                       input_file)
  with tf.io.gfile.GFile(input_file, "rb") as reader:
    line_number = 0
    while True:
      line = reader.readline()
      if not line:
        break
      line_number += 1
      try:
        yield line.decode("utf-8")
      except UnicodeDecodeError as e:
        raise validation.DataError("%s, line %d: not UTF-8 (%s)." %
                         (input_file, line_number, e)) from None


def count_lines(input_file):
  """Number of examples in an input file (one per line, as Google's reader).

  Raises:
    ValueError: the file is missing or empty.
  """
  if not tf.io.gfile.exists(input_file):
    raise validation.MissingInputError("--input_file %s does not exist." %
                                       input_file)
  count = 0
  last = b"\n"
  with tf.io.gfile.GFile(input_file, "rb") as reader:
    while True:
      chunk = reader.read(1 << 22)
      if not chunk:
        break
      count += chunk.count(b"\n")
      last = chunk[-1:]
  if last != b"\n":
    count += 1
  if count == 0:
    raise validation.DataError("--input_file %s is empty: nothing to "
                               "extract." %
                     input_file)
  return count


def iter_examples(input_file):
  """Yields the InputExample of every line of `input_file`.

  A line is "text_a ||| text_b" or just text_a (blank lines give an empty
  text_a, as Google's); unique_id is the 0-based line number.
  """
  for unique_id, line in enumerate(_input_lines(input_file)):
    line = line.strip()
    text_a = line
    text_b = None
    m = _PAIR.match(line)
    if m is not None:
      text_a = m.group(1)
      text_b = m.group(2)
    yield InputExample(unique_id=unique_id, text_a=text_a, text_b=text_b)


def read_examples(input_file):
  """Read a list of `InputExample`s from an input file."""
  return list(iter_examples(input_file))


def convert_example(example, seq_length, tokenizer):
  """The InputFeatures of one example.

  Args:
    example: InputExample.
    seq_length: total length ([CLS] a [SEP] (b [SEP]) and padding).
    tokenizer: a FullTokenizer.

  Returns:
    InputFeatures; the longer text loses tokens first when a pair is too long.
  """
  tokens_a = tokenizer.tokenize(example.text_a)
  tokens_b = None
  if example.text_b:
    tokens_b = tokenizer.tokenize(example.text_b)
  packed = text_inputs.pack_inputs(tokenizer, tokens_a, tokens_b, seq_length)
  return InputFeatures(
      unique_id=example.unique_id,
      tokens=packed.tokens,
      input_ids=packed.input_ids,
      input_mask=packed.input_mask,
      input_type_ids=packed.segment_ids)


def _log_features(feature):
  logging.info("*** Example ***")
  logging.info("unique_id: %s", feature.unique_id)
  logging.info("tokens: %s", " ".join(feature.tokens))
  logging.info("input_ids: %s", " ".join(str(x) for x in feature.input_ids))
  logging.info("input_mask: %s", " ".join(str(x) for x in feature.input_mask))
  logging.info("input_type_ids: %s",
               " ".join(str(x) for x in feature.input_type_ids))


def convert_examples_to_features(examples, seq_length, tokenizer):
  """Loads a data file into a list of `InputFeatures` (Google's API)."""
  features = []
  for (ex_index, example) in enumerate(examples):
    feature = convert_example(example, seq_length, tokenizer)
    if ex_index < 5:
      _log_features(feature)
    features.append(feature)
  return features


def num_encoder_layers(config):
  """Entries of the model's all_encoder_layers (ALBERT: layers x inner
  groups), which --layers and --pooling_layer index."""
  return encoders.family_for_config(config).num_encoder_layers(config)


def parse_layers(layers, num_hidden_layers):
  """The --layers flag as a list of ints, checked against the model.

  Args:
    layers: comma-separated Python indexes into the encoder layers ("-1,-2").
    num_hidden_layers: the model's number of layers.

  Returns:
    list of int, as given (negative indexes stay negative, as in the output).

  Raises:
    ValueError: naming --layers and the bad entry.
  """
  try:
    layer_indexes = [int(x) for x in layers.split(",")]
  except ValueError:
    raise validation.UsageError("--layers=%r must be comma-separated "
                                "integers." %
                     layers) from None
  for index in layer_indexes:
    if not -num_hidden_layers <= index < num_hidden_layers:
      raise validation.UsageError(
          "--layers=%s: layer index %d is out of range; the model has %d "
          "encoder layers (valid: %d..%d)." %
          (layers, index, num_hidden_layers, -num_hidden_layers,
           num_hidden_layers - 1))
  return layer_indexes


def _check_checkpoint_covers(names, init_checkpoint):
  """Raises UsageError naming the variables `init_checkpoint` lacks.

  Extraction with a partly random model would silently give junk.

  Args:
    names: the model's checkpoint names (EncoderFamily.variable_names).
    init_checkpoint: the checkpoint prefix.
  """
  if not init_checkpoint:
    raise validation.UsageError("--init_checkpoint is required.")
  checkpoints.check_init_checkpoint(init_checkpoint, names)


def sentence_vector(outputs, input_mask, pooling, pooling_layer):
  """One vector per example.

  Args:
    outputs: modeling.BertOutputs of the batch.
    input_mask: int32 [batch_size, seq_length].
    pooling: "cls", "pooled" or "mean".
    pooling_layer: encoder layer index for cls and mean.

  Returns:
    float32 [batch_size, hidden_size].
  """
  if pooling == "pooled":
    return outputs.pooled_output
  layer = outputs.all_encoder_layers[pooling_layer]
  if pooling == "cls":
    return layer[:, 0]
  mask = tf.cast(input_mask, tf.float32)[:, :, None]
  return tf.reduce_sum(layer * mask, axis=1) / tf.reduce_sum(mask, axis=1)


class FeatureExtractorFn(estimator_lib.ModelFn):
  """Prediction-only ModelFn: the chosen encoder layers and pooling."""

  def __init__(self, encoder_spec, layer_indexes, use_one_hot_embeddings,
               pooling="none", pooling_layer=-1):
    """Args: encoder_spec: encoders.EncoderSpec; the rest as the flags."""
    self.encoder_spec = encoder_spec
    self.layer_indexes = layer_indexes
    self.use_one_hot_embeddings = use_one_hot_embeddings
    self.pooling = pooling
    self.pooling_layer = pooling_layer

  def create_model(self, params):
    return task_lib.create_encoder(self.encoder_spec, params,
                                   self.use_one_hot_embeddings)

  def predictions(self, model, features, params):
    outputs = model(features["input_ids"], input_mask=features["input_mask"],
                    token_type_ids=features["input_type_ids"], training=False)
    predictions = {"unique_id": features["unique_ids"]}
    for (i, layer_index) in enumerate(self.layer_indexes):
      predictions["layer_output_%d" % i] = (
          outputs.all_encoder_layers[layer_index])
    if self.pooling != "none":
      predictions["sentence_vector"] = sentence_vector(
          outputs, features["input_mask"], self.pooling, self.pooling_layer)
    return predictions


def model_fn_builder(bert_config, init_checkpoint, layer_indexes, use_tpu,
                     use_one_hot_embeddings, pooling="none", pooling_layer=-1):
  """Returns the `estimator_lib.ModelFn` (Google's name and arguments).

  Args:
    bert_config: `modeling.BertConfig`.
    init_checkpoint: the checkpoint to extract with (every variable needed;
      the ModelFn loads it into the model it creates, as Google's did).
    layer_indexes: encoder layers to output (may be empty with pooling).
    use_tpu: unused (the strategy comes from the flags); Google's argument.
    use_one_hot_embeddings: one-hot embedding lookup.
    pooling: "none", "cls", "pooled" or "mean".
    pooling_layer: layer of cls/mean pooling.
  """
  del use_tpu
  spec = encoders.EncoderSpec.from_config(bert_config)
  _check_checkpoint_covers(spec.family.variable_names(bert_config),
                           init_checkpoint)
  return task_lib.with_warm_start(
      FeatureExtractorFn(spec, layer_indexes, use_one_hot_embeddings, pooling,
                         pooling_layer), init_checkpoint)


def input_fn_builder(features, seq_length):
  """An `input_fn` over InputFeatures (Google's name and arguments).

  Args:
    features: a list of InputFeatures (held as constant tensors, Google's
      way, which also works on remote TPU hosts), or any other iterable, e.g.
      a generator, consumed once: the input is then streamed.
    seq_length: max_seq_length.

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts unique_ids [batch_size],
    input_ids, input_mask, input_type_ids [batch_size, seq_length], int32.
  """
  names = ["unique_ids", "input_ids", "input_mask", "input_type_ids"]

  def row(feature):
    return (feature.unique_id, feature.input_ids, feature.input_mask,
            feature.input_type_ids)

  def dataset():
    if isinstance(features, (list, tuple)):
      columns = list(zip(*[row(f) for f in features])) or [[]] * 4
      shapes = [[len(features)]] + [[len(features), seq_length]] * 3
      return tf.data.Dataset.from_tensor_slices({
          name: tf.constant(column, shape=shape, dtype=tf.int32)
          for name, column, shape in zip(names, columns, shapes)})
    signature = {name: tf.TensorSpec([] if name == "unique_ids" else
                                     [seq_length], tf.int32)
                 for name in names}
    # Errors raised while reading the input (a line that is not UTF-8)
    # reach the user as themselves, not as TensorFlow's PyFunc wrapper.
    return tf.data.Dataset.from_generator(
        estimator_lib.pipeline_generator(
            lambda: (dict(zip(names, row(f))) for f in features)),
        output_signature=signature)

  def input_fn(params):
    """The actual input function."""
    d = dataset().batch(batch_size=params["batch_size"], drop_remainder=False)
    return d.prefetch(2)

  return input_fn


def format_rounded_values(values):
  """Google's JSON of rounded floats, row by row, vectorised.

  Each row gives the text between the brackets of
  `json.dumps([round(float(x), 6) for x in row])`, byte for byte. round(x, 6)
  is the double nearest to k / 10**6 with k = x * 10**6 correctly rounded, and
  for |x| < 1e9 its shortest repr is k written with six decimals, trailing
  zeros stripped ("0.1", "-2.0", "-0.0"), or for 0 < |k| < 100 Python's
  scientific form ("5e-06", "1.2e-05"). k is rint(x * 1e6) unless x * 1e6 is
  within float error of a .5 tie; rows holding such a value, a non-finite or
  a huge value take Python's own round and json.dumps.

  Args:
    values: float array [rows, cols] (float32 is widened exactly).

  Returns:
    list of `rows` str.
  """
  x = np.asarray(values, dtype=np.float64)
  rows, cols = x.shape
  with np.errstate(invalid="ignore"):
    scaled = x * 1e6
    near_tie = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
    slow_rows = (near_tie | ~(np.abs(x) < 1e9)).any(axis=1)
    k = np.where(slow_rows[:, None], 0.0, np.abs(np.rint(scaled)))
  k = k.astype(np.int64)
  sci = (k >= 1) & (k <= 99)
  two_digit = k >= 10
  # Digits before and after the point ("1.2e-05" has 1 and 2).
  whole = np.where(sci, np.where(two_digit, k // 10, k),
                   k // 1000000).astype(np.int32)
  frac = np.where(sci, np.where(two_digit, k % 10, 0) * 100000,
                  k % 1000000).astype(np.int32)

  # One column per output character: its byte and whether it is written.
  not_first = np.broadcast_to(np.arange(cols) > 0, (rows, cols))
  columns = [(ord(","), not_first), (ord(" "), not_first),
             (ord("-"), np.signbit(x))]
  num_whole_digits = len(str(int(whole.max()))) if whole.size else 1
  for power in range(num_whole_digits - 1, -1, -1):
    p = 10**power
    columns.append((48 + (whole // p) % 10, whole >= p if power else True))
  columns.append((ord("."), ~sci | (frac != 0)))
  for q in range(6):
    p = 10**(5 - q)
    written = frac % (p * 10) != 0  # a non-zero digit here or after
    if q == 0:
      written |= ~sci
    columns.append((48 + (frac // p) % 10, written))
  if sci.any():
    columns += [(ord("e"), sci), (ord("-"), sci), (ord("0"), sci),
                (np.where(two_digit, ord("5"), ord("6")), sci)]
  chars = np.empty((rows, cols, len(columns)), dtype=np.uint8)
  keep = np.empty((rows, cols, len(columns)), dtype=bool)
  for j, (char, written) in enumerate(columns):
    chars[:, :, j] = char
    keep[:, :, j] = written
  text = chars[keep].tobytes().decode("ascii")
  ends = np.cumsum(keep.reshape(rows, -1).sum(axis=1)).tolist()
  out = [text[s:e] for s, e in zip([0] + ends[:-1], ends)]
  for r in np.flatnonzero(slow_rows):
    out[r] = json.dumps([round(float(v), 6) for v in x[r]])[1:-1]
  return out


def json_line(unique_id, tokens, layer_indexes, layer_outputs,
              sentence_values=None, output_token_layers=True):
  """One output line: Google's JSON (plus "sentence_vector" when pooling).

  Args:
    unique_id: the line number.
    tokens: the example's tokens ([CLS] ... [SEP]).
    layer_indexes: list of int, the --layers.
    layer_outputs: list of float arrays [seq_length, hidden_size], one per
      layer index.
    sentence_values: optional float array [hidden_size].
    output_token_layers: write Google's "features".

  Returns:
    str ending in "\n", equal to Google's
    `json.dumps(OrderedDict(linex_index=..., features=[...])) + "\n"`.
  """
  parts = ['{"linex_index": %d' % unique_id]
  if output_token_layers:
    num_tokens = len(tokens)
    num_layers = len(layer_indexes)
    # Row t * num_layers + j is token t in layer j.
    stacked = np.stack([out[:num_tokens] for out in layer_outputs], axis=1)
    values = format_rounded_values(
        stacked.reshape(num_tokens * num_layers, -1))
    token_parts = []
    for (i, token) in enumerate(tokens):
      layer_parts = [
          '{"index": %d, "values": [%s]}' %
          (layer_index, values[i * num_layers + j])
          for (j, layer_index) in enumerate(layer_indexes)
      ]
      token_parts.append('{"token": %s, "layers": [%s]}' %
                         (json.dumps(token), ", ".join(layer_parts)))
    parts.append('"features": [%s]' % ", ".join(token_parts))
  if sentence_values is not None:
    vector = np.asarray(sentence_values).reshape(1, -1)
    parts.append('"sentence_vector": [%s]' % format_rounded_values(vector)[0])
  return ", ".join(parts) + "}\n"


class _JsonlWriter(object):
  """JSON lines to a temporary name, renamed when complete."""

  def __init__(self, output_file, layer_indexes, output_token_layers):
    self.output_file = output_file
    self._writer = io_lib.AtomicFile(output_file, "w")
    self._layer_indexes = layer_indexes
    self._output_token_layers = output_token_layers

  def write(self, unique_id, feature, result):
    layer_outputs = [result["layer_output_%d" % j]
                     for j in range(len(self._layer_indexes))]
    self._writer.write(json_line(
        unique_id, feature.tokens, self._layer_indexes, layer_outputs,
        result.get("sentence_vector"), self._output_token_layers))

  def close(self):
    self._writer.commit()

  def abort(self):
    self._writer.abort()


class _NpzWriter(object):
  """Arrays of a known number of rows, streamed to an uncompressed .npz.

  Each array is written row by row to its own .npy file in a temporary
  directory; close() copies them into the zip (memory stays flat).
  """

  def __init__(self, output_file, num_examples, seq_length, hidden_size,
               layer_indexes, output_token_layers, pooling):
    self.output_file = output_file
    # io_lib's unique name: a killed run's arrays are removed by the next
    # run that locks --output_file.
    self._dir = io_lib.temporary_name(os.path.abspath(output_file))
    os.makedirs(self._dir)
    self._num_examples = num_examples
    self._layer_indexes = layer_indexes if output_token_layers else []
    self._row = 0
    shapes = collections.OrderedDict()
    shapes["unique_ids"] = ((num_examples,), np.int64)
    shapes["input_ids"] = ((num_examples, seq_length), np.int32)
    shapes["input_mask"] = ((num_examples, seq_length), np.int32)
    for layer_index in self._layer_indexes:
      shapes["layer_%d" % layer_index] = (
          (num_examples, seq_length, hidden_size), np.float32)
    if pooling != "none":
      shapes["sentence_vector"] = ((num_examples, hidden_size), np.float32)
    self._arrays = collections.OrderedDict(
        (name, np.lib.format.open_memmap(
            os.path.join(self._dir, name + ".npy"), mode="w+", dtype=dtype,
            shape=shape)) for name, (shape, dtype) in shapes.items())

  def write(self, unique_id, feature, result):
    row = self._row
    arrays = self._arrays
    arrays["unique_ids"][row] = unique_id
    arrays["input_ids"][row] = feature.input_ids
    arrays["input_mask"][row] = feature.input_mask
    mask = np.asarray(feature.input_mask, dtype=np.float32)[:, None]
    for (j, layer_index) in enumerate(self._layer_indexes):
      arrays["layer_%d" % layer_index][row] = (
          result["layer_output_%d" % j] * mask)
    if "sentence_vector" in arrays:
      arrays["sentence_vector"][row] = result["sentence_vector"]
    self._row += 1

  def close(self):
    if self._row != self._num_examples:
      raise ValueError("Wrote %d of %d examples." %
                       (self._row, self._num_examples))
    with io_lib.atomic_path(self.output_file) as tmp:
      with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED,
                           allowZip64=True) as archive:
        for name, array in self._arrays.items():
          array.flush()
          del array
          with open(os.path.join(self._dir, name + ".npy"), "rb") as source, \
              archive.open(name + ".npy", "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, 1 << 22)
    self._arrays = None
    shutil.rmtree(self._dir)

  def abort(self):
    self._arrays = None
    shutil.rmtree(self._dir, ignore_errors=True)


class _TokensInFlight(object):
  """The features handed to the model and not yet written.

  The input pipeline runs ahead of the writer by a few batches; the writer
  takes each example's tokens back from here (in any order, as replicas may
  return them), so nothing else is kept.
  """

  def __init__(self, features):
    self._features = features
    self._pending = {}
    self._lock = threading.Lock()

  def __iter__(self):
    for feature in self._features:
      with self._lock:
        self._pending[feature.unique_id] = feature
      yield feature

  def pop(self, unique_id):
    with self._lock:
      feature = self._pending.pop(unique_id, None)
    if feature is None:
      raise ValueError("No features for unique_id %d." % unique_id)
    return feature

  def __len__(self):
    return len(self._pending)


def _check_outputs(bert_config, layer_indexes, max_seq_length, pooling,
                   pooling_layer, output_token_layers):
  """Raises ValueError naming the flag when the outputs asked for cannot be
  made (see `extract` for the arguments)."""
  num_layers = num_encoder_layers(bert_config)
  if not output_token_layers and pooling == "none":
    raise validation.UsageError("--output_token_layers=false needs "
                                "--pooling: there "
                     "would be nothing to write.")
  if output_token_layers and not layer_indexes:
    raise validation.UsageError("--layers is empty.")
  if pooling in ("cls", "mean"):
    parse_layers(str(pooling_layer), num_layers)
  if max_seq_length > bert_config.max_position_embeddings:
    raise validation.UsageError(
        "--max_seq_length=%d is longer than the model's "
        "max_position_embeddings (%d)." %
        (max_seq_length, bert_config.max_position_embeddings))


def extract(input_file, output_file, bert_config, tokenizer, init_checkpoint,
            layer_indexes, max_seq_length, batch_size, run_config,
            use_one_hot_embeddings=False, pooling="none", pooling_layer=-1,
            output_token_layers=True, output_format="jsonl",
            log_every_n_examples=10000, chunk_size=None):
  """Runs BERT over every line of `input_file` and writes the features.

  Args:
    input_file: text, one example per line ("a" or "a ||| b").
    output_file: JSON lines or .npz (see output_format).
    bert_config: the config of a registered family (`modeling.BertConfig`).
    tokenizer: the family's tokenizer (FullTokenizer).
    init_checkpoint: the model's checkpoint.
    layer_indexes: list of int, encoder layers to output.
    max_seq_length: padded length.
    batch_size: examples per batch (global).
    run_config: estimator_lib.RunConfig (strategy, precision).
    use_one_hot_embeddings, pooling, pooling_layer, output_token_layers,
      output_format, log_every_n_examples: as the flags.
    chunk_size: None streams the input through a Python generator; an int
      runs one prediction per chunk of that many lines held as constant
      tensors (for remote TPU hosts, which cannot run Python generators).

  Returns:
    the number of examples written.
  """
  num_examples = count_lines(input_file)
  _check_outputs(bert_config, layer_indexes, max_seq_length, pooling,
                 pooling_layer, output_token_layers)
  if not output_token_layers:
    layer_indexes = []
  spec = encoders.EncoderSpec.from_config(bert_config)
  _check_checkpoint_covers(spec.family.variable_names(bert_config),
                           init_checkpoint)

  def features():
    for example in iter_examples(input_file):
      feature = convert_example(example, max_seq_length, tokenizer)
      if example.unique_id < 5:
        _log_features(feature)
      yield feature

  estimator = estimator_lib.Estimator(
      model_fn=FeatureExtractorFn(spec, layer_indexes, use_one_hot_embeddings,
                                  pooling, pooling_layer),
      config=run_config,
      predict_batch_size=batch_size,
      warm_start_from=init_checkpoint)
  if output_format == "npz":
    writer = _NpzWriter(output_file, num_examples, max_seq_length,
                        bert_config.hidden_size, layer_indexes,
                        output_token_layers, pooling)
  else:
    writer = _JsonlWriter(output_file, layer_indexes, output_token_layers)
  progress = io_lib.Progress(num_examples, "examples",
                             every=log_every_n_examples)
  try:
    for chunk in _chunks(features(), chunk_size):
      in_flight = _TokensInFlight(chunk)
      # A list (every feature of the chunk registered) becomes constants.
      source = list(in_flight) if chunk_size else in_flight
      for result in estimator.predict(input_fn_builder(source,
                                                       max_seq_length)):
        unique_id = int(result["unique_id"])
        writer.write(unique_id, in_flight.pop(unique_id), result)
        progress.add()
    if progress.count != num_examples:
      raise ValueError("Extracted %d of %d examples." %
                       (progress.count, num_examples))
  except BaseException:
    writer.abort()
    raise
  writer.close()
  return progress.count


def _chunks(items, chunk_size):
  """Yields `items` whole (chunk_size None) or as lists of chunk_size."""
  if not chunk_size:
    yield items
    return
  chunk = []
  for item in items:
    chunk.append(item)
    if len(chunk) == chunk_size:
      yield chunk
      chunk = []
  if chunk:
    yield chunk


def main(_):
  logging.set_verbosity(logging.INFO)

  family, bert_config = encoders.load_config(FLAGS.bert_config_file,
                                             FLAGS.encoder_family)
  layer_indexes = parse_layers(FLAGS.layers, num_encoder_layers(bert_config))

  # An ALBERT config takes --spm_model_file (ALBERT's preprocess_text first).
  tokenizer = family.create_text_tokenizer(
      vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
      spm_model_file=FLAGS.spm_model_file)

  # No model_dir: the weights come from --init_checkpoint only.
  run_config = estimator_lib.run_config_from_flags(FLAGS, None)

  extract(FLAGS.input_file, FLAGS.output_file, bert_config, tokenizer,
          FLAGS.init_checkpoint, layer_indexes, FLAGS.max_seq_length,
          FLAGS.batch_size, run_config, FLAGS.use_one_hot_embeddings,
          FLAGS.pooling, FLAGS.pooling_layer, FLAGS.output_token_layers,
          FLAGS.output_format, FLAGS.log_every_n_examples,
          chunk_size=_TPU_CHUNK_SIZE if FLAGS.use_tpu else None)


if __name__ == "__main__":
  # --vocab_file (or --spm_model_file with an ALBERT config): the family's
  # tokenizer checks it.
  task_lib.app_main(main, ["input_file", "bert_config_file",
                           "init_checkpoint", "output_file"])
