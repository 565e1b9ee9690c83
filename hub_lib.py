# coding=utf-8
"""TF Hub BERT encoders: handles, the module formats users have, names.

`load_encoder(handle)` accepts every BERT encoder module a Google or TF Hub
user has and gives one interface for them (`HubEncoder`):

* **handles**: a local directory, or a URL / `gs://` handle resolved by the
  `tensorflow_hub` package (imported only then), so that `TFHUB_CACHE_DIR`,
  `TFHUB_MODEL_LOAD_FORMAT` (compressed or uncompressed downloads) and its
  mirrors behave as they do for TF Hub users; a module already in the cache is
  used without touching the network. A handle that cannot be resolved raises
  `HandleError` with one line naming the handle, the reason and the offline
  remedy.
* **kind "dict"**: TF2 SavedModels called as `m(dict(input_word_ids=...,
  input_mask=..., input_type_ids=...), training=...)` -> dict: the project's
  own export (`export_lib.export_hub_encoder`, Google's variable names) and
  Model Garden's official modules (tfhub.dev/tensorflow/bert_*/3 and later).
* **kind "list"**: Model Garden's legacy modules (tfhub.dev/tensorflow/
  bert_*/1, /2) called as `pooled, sequence = m([ids, mask, type_ids])`.
* **kind "tf1"**: Google's 2019 TF1 Hub modules (tfhub.dev/google/bert_*/1,
  `tfhub_module.pb`). They are a Google checkpoint (`variables/variables`,
  `bert/...` names) plus the vocabulary; the configuration is inferred from
  the variable shapes, and the number of attention heads (in no shape) by
  checking the candidates against the module's own `tokens` signature. The
  encoder is then the project's BertModel, so numbers and checkpoint names are
  Google's.

The tokenizer comes from the module: a SentencePiece model when it has an
`sp_model_file` asset (Model Garden's ALBERT modules, the project's ALBERT
export; ALBERT's tokenizer, `do_lower_case` True when absent), else its
`tokenization_info` signature when present (Google's convention; in TF1
modules the vocabulary path is read from the SavedModel's asset records, as
the signature returns a placeholder), else its `vocab_file` asset and
`do_lower_case` attributes (Model Garden's).

Names: Model Garden's BERT modules hold Google's 39 encoder variables under
other names and shapes (`transformer/layer_0/self_attention/query/kernel`
[H, N, H/N] holds `bert/encoder/layer_0/attention/self/query/kernel` [H, H]).
`google_name` / `model_garden_name` map them both ways and
`write_google_model` writes a fine-tuned checkpoint of any BERT encoder module
under Google's names, with its bert_config.json and vocab.txt, for
run_classifier.py, extract_features.py and Google's code.
"""

import collections
import hashlib
import json
import os
import re
import tempfile

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saved_model_pb2

import checkpoints
import encoders
import io_lib
import modeling
import validation

# Modules hold BERT encoders: the registry's family builds their models and
# tokenizers.
_BERT = encoders.get_family("bert")

KIND_DICT = "dict"
KIND_LIST = "list"
KIND_TF1 = "tf1"

# Handles with a scheme ("https://tfhub.dev/...", "gs://bucket/x.tar.gz") go
# to tensorflow_hub; anything else is a local directory.
_REMOTE_HANDLE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


# tensorflow_hub's own flags. Google's run_classifier_with_tfhub.py imported
# tensorflow_hub at the top, so its command lines may pass them; they are
# defined here (overridable) so that they parse before tensorflow_hub is
# imported, which then redefines them (see _import_hub).
_HUB_FLAGS = (
    ("tfhub_cache_dir", "Where tensorflow_hub caches downloaded modules (as "
     "the TFHUB_CACHE_DIR environment variable, which wins)."),
    ("tfhub_model_load_format", "COMPRESSED, UNCOMPRESSED or AUTO (as the "
     "TFHUB_MODEL_LOAD_FORMAT environment variable, which wins)."),
)
for _name, _help in _HUB_FLAGS:
  if _name not in flags.FLAGS:
    flags.DEFINE_string(_name, None, _help, allow_override=True)


class HandleError(validation.UsageError):
  """A module handle that cannot be resolved or read (one-line message; a
  ValueError)."""


# What a module says about its tokenizer: a WordPiece vocabulary or a
# SentencePiece model (the other None), and the casing.
Tokenization = collections.namedtuple(
    "Tokenization", ["vocab_file", "do_lower_case", "spm_model_file"])


# ---------------------------------------------------------------- handles


def is_remote_handle(handle):
  """True for URL and `gs://` handles (resolved by tensorflow_hub)."""
  return bool(_REMOTE_HANDLE.match(handle))


def cache_folder_name(handle):
  """The folder tensorflow_hub caches `handle` under: sha1 of the handle."""
  return hashlib.sha1(handle.encode("utf8")).hexdigest()


def _import_hub(handle):
  """Imports tensorflow_hub, or raises HandleError saying how to install it.

  The first import replaces the stand-ins of its flags by its own: values
  given on the command line are carried over.
  """
  given = {n: flags.FLAGS[n].value for n, _ in _HUB_FLAGS
           if n in flags.FLAGS and flags.FLAGS[n].present}
  try:
    import tensorflow_hub  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise HandleError(
        "TF Hub handle %r needs the tensorflow_hub package, which failed to "
        "import (%s); install requirements.txt, or pass a local module "
        "directory." % (handle, _one_line(e)))
  for name, value in given.items():
    if not flags.FLAGS[name].present:
      flags.FLAGS[name].parse(value)
  return tensorflow_hub


def _one_line(error):
  """`Type: message` of an exception, on one line."""
  return "%s: %s" % (type(error).__name__,
                     " ".join(str(error).split()) or "(no message)")


def _cache_remedy(handle):
  """The offline remedy of a remote handle: the cache folder to fill."""
  # tensorflow_hub's choice: $TFHUB_CACHE_DIR, else <temp dir>/tfhub_modules.
  cache_dir = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
      tempfile.gettempdir(), "tfhub_modules")
  return ("offline, pass a local module directory instead, or put the "
          "module's files in %s (the folder tensorflow_hub uses for this "
          "handle under TFHUB_CACHE_DIR=%s)" %
          (os.path.join(cache_dir, cache_folder_name(handle)) + "/",
           cache_dir))


def resolve_handle(handle):
  """The local (or gs://) SavedModel directory of a module handle.

  Nothing is written outside tensorflow_hub's own cache (a failed download
  leaves none of its temporary files there either).

  Args:
    handle: a local directory, or a handle tensorflow_hub resolves
      (`https://tfhub.dev/...`, `https://www.kaggle.com/models/...`,
      `gs://.../module.tar.gz`).

  Returns:
    The directory holding saved_model.pb.

  Raises:
    HandleError: one line naming the handle, the reason and the remedy.
  """
  if not handle:
    raise HandleError("No TF Hub module handle given (a local module directory "
                      "or a URL such as https://tfhub.dev/google/"
                      "bert_uncased_L-12_H-768_A-12/1).")
  if is_remote_handle(handle):
    hub = _import_hub(handle)
    try:
      path = hub.resolve(handle)
    except Exception as e:  # pylint: disable=broad-except
      # urllib, tf.io and tensorflow_hub raise many types; all mean the same
      # to the user: the module is not here and could not be fetched.
      raise HandleError("TF Hub handle %r cannot be resolved (%s); %s." %
                        (handle, _one_line(e), _cache_remedy(handle)))
  else:
    path = handle
    if not tf.io.gfile.isdir(path):
      raise HandleError(
          "TF Hub module %r: no such directory (pass a SavedModel directory "
          "or a URL handle such as https://tfhub.dev/google/"
          "bert_uncased_L-12_H-768_A-12/1)." % handle)
  try:
    found = tf.io.gfile.exists(os.path.join(path, "saved_model.pb"))
  except tf.errors.OpError as e:  # e.g. a gs:// path, offline
    raise HandleError("TF Hub module %r: cannot read %s (%s); %s." %
                      (handle, path, _one_line(e), _cache_remedy(handle)))
  if not found:
    raise HandleError(
        "TF Hub module %r: %s holds no saved_model.pb, so it is not a "
        "SavedModel (an incomplete download or copy?)." % (handle, path))
  return path


# ---------------------------------------------------------------- names

# Model Garden's BertEncoder (official/nlp/modeling/networks) -> Google's
# modeling.py, as the tiny reference modules really hold them.
_EMBEDDING_NAMES = (
    ("word_embeddings/embeddings", "bert/embeddings/word_embeddings"),
    ("position_embedding/embeddings", "bert/embeddings/position_embeddings"),
    ("type_embeddings/embeddings", "bert/embeddings/token_type_embeddings"),
    ("embeddings/layer_norm/gamma", "bert/embeddings/LayerNorm/gamma"),
    ("embeddings/layer_norm/beta", "bert/embeddings/LayerNorm/beta"),
    ("pooler_transform/kernel", "bert/pooler/dense/kernel"),
    ("pooler_transform/bias", "bert/pooler/dense/bias"),
)
_LAYER_NAMES = (
    ("self_attention/query", "attention/self/query"),
    ("self_attention/key", "attention/self/key"),
    ("self_attention/value", "attention/self/value"),
    ("self_attention/attention_output", "attention/output/dense"),
    ("self_attention_layer_norm", "attention/output/LayerNorm"),
    ("intermediate", "intermediate/dense"),
    ("output", "output/dense"),
    ("output_layer_norm", "output/LayerNorm"),
)
_MG_LAYER = re.compile(r"^transformer/layer_(\d+)/(.+)/(kernel|bias|gamma|beta)$")
_GOOGLE_LAYER = re.compile(
    r"^bert/encoder/layer_(\d+)/(.+)/(kernel|bias|gamma|beta)$")
# Optimizer slots follow their variable's name.
_SLOT = re.compile(r"^(.*?)(/adam_m|/adam_v)?$")


def google_name(model_garden_name):
  """Google's checkpoint name of a Model Garden BERT encoder variable.

  Args:
    model_garden_name: e.g. "transformer/layer_0/self_attention/query/kernel"
      (a trailing ":0" and an optimizer slot suffix "/adam_m" are kept).

  Returns:
    e.g. "bert/encoder/layer_0/attention/self/query/kernel", or None when
    the name is not one of a BERT encoder's.
  """
  return _map_name(model_garden_name, _MG_LAYER, "bert/encoder/layer_%s/%s", 0)


def model_garden_name(google_checkpoint_name):
  """The inverse of `google_name` (None for names outside BERT's encoder)."""
  return _map_name(google_checkpoint_name, _GOOGLE_LAYER,
                   "transformer/layer_%s/%s", 1)


def _map_name(name, layer_pattern, to_layer, side):
  """Maps a name through _EMBEDDING_NAMES / _LAYER_NAMES.

  Args:
    name: the name to map (optional ":0" and slot suffixes are kept).
    layer_pattern: the regular expression of a layer variable on this side.
    to_layer: "%s" template of the mapped (layer index, role/parameter).
    side: 0 to map Model Garden -> Google, 1 for the reverse.

  Returns:
    The mapped name or None.
  """
  suffix = ""
  if name.endswith(":0"):
    name, suffix = name[:-2], ":0"
  stem, slot = _SLOT.match(name).groups()
  suffix = (slot or "") + suffix
  for pair in _EMBEDDING_NAMES:
    if stem == pair[side]:
      return pair[1 - side] + suffix
  match = layer_pattern.match(stem)
  if not match:
    return None
  index, role, parameter = match.groups()
  for pair in _LAYER_NAMES:
    if role == pair[side]:
      mapped = to_layer % (index, pair[1 - side] + "/" + parameter)
      return mapped + suffix
  return None


def google_shape(model_garden_name_, shape):
  """Google's shape of a Model Garden variable (row-major reshape).

  The attention kernels split the hidden axis by heads: query/key/value
  [H, N, H/N] and biases [N, H/N]; attention_output [N, H/N, H].

  Args:
    model_garden_name_: the variable's Model Garden name.
    shape: its shape (list of ints).

  Returns:
    The shape of the Google variable holding the same values.
  """
  shape = list(shape)
  if len(shape) == 3:
    if "attention_output" in model_garden_name_:
      return [shape[0] * shape[1], shape[2]]
    return [shape[0], shape[1] * shape[2]]
  if len(shape) == 2 and re.search(r"/bias(/adam_[mv])?(:0)?$",
                                   model_garden_name_):
    return [shape[0] * shape[1]]
  return shape


def to_google_values(named_values):
  """Renames and reshapes Model Garden BERT encoder values to Google's.

  Args:
    named_values: dict name -> array; names that are not a BERT encoder's
      (a classifier head, `global_step`) are kept unchanged.

  Returns:
    collections.OrderedDict Google name -> numpy array.
  """
  result = collections.OrderedDict()
  for name, value in named_values.items():
    value = np.asarray(value)
    mapped = google_name(name)
    if mapped is None:
      result[name] = value
    else:
      result[mapped] = value.reshape(google_shape(name, value.shape))
  return result


def from_google_values(named_values, shapes):
  """Renames and reshapes Google values to Model Garden's variables.

  Args:
    named_values: dict Google name -> array.
    shapes: dict Model Garden name -> shape of the variable to fill.

  Returns:
    collections.OrderedDict Model Garden name -> numpy array, one per entry of
    `shapes` found in `named_values`.
  """
  result = collections.OrderedDict()
  for name, shape in shapes.items():
    source = google_name(name)
    if source in named_values:
      result[name] = np.reshape(named_values[source], shape)
  return result


# ---------------------------------------------------------------- configs


def config_from_google_shapes(shapes, num_attention_heads, hidden_act="gelu"):
  """The BertConfig of a Google-named BERT encoder, from its variable shapes.

  Args:
    shapes: dict Google checkpoint name -> shape (list of ints).
    num_attention_heads: int (no shape holds it).
    hidden_act: the activation (every released BERT uses "gelu").

  Returns:
    modeling.BertConfig (dropout and initializer_range at Google's defaults).

  Raises:
    ValueError: the names are not those of a BERT encoder.
  """
  try:
    vocab_size, hidden_size = shapes["bert/embeddings/word_embeddings"]
    max_positions = shapes["bert/embeddings/position_embeddings"][0]
    type_vocab_size = shapes["bert/embeddings/token_type_embeddings"][0]
    intermediate_size = shapes[
        "bert/encoder/layer_0/intermediate/dense/kernel"][1]
    pooler = shapes["bert/pooler/dense/kernel"]
  except (KeyError, ValueError, IndexError) as e:
    raise ValueError("Not a BERT encoder's variables (%s missing or "
                     "misshapen)." % e)
  if list(pooler) != [hidden_size, hidden_size]:
    # ALBERT-like factorised embeddings are a different family.
    raise ValueError("Not a BERT encoder: embedding width %d but pooler %s." %
                     (hidden_size, pooler))
  layers = set(int(m.group(1)) for m in map(_GOOGLE_LAYER.match, shapes) if m)
  if layers != set(range(len(layers))):
    raise ValueError("Not a BERT encoder: layers %s are not 0..L-1." %
                     sorted(layers))
  return modeling.BertConfig(
      vocab_size=int(vocab_size), hidden_size=int(hidden_size),
      num_hidden_layers=len(layers),
      num_attention_heads=int(num_attention_heads),
      intermediate_size=int(intermediate_size), hidden_act=hidden_act,
      max_position_embeddings=int(max_positions),
      type_vocab_size=int(type_vocab_size))


def head_count_candidates(hidden_size):
  """Divisors of hidden_size, the head size closest to 64 (BERT's) first."""
  divisors = [n for n in range(1, hidden_size + 1) if hidden_size % n == 0]
  return sorted(divisors,
                key=lambda n: (abs(np.log(hidden_size / n / 64.0)), n))


def probe_inputs(config, batch_size=2, seq_length=16):
  """A fixed probe batch: random ids, a padded row, two segments.

  Args:
    config: the BertConfig (vocab_size, max_position_embeddings,
      type_vocab_size bound the values).
    batch_size, seq_length: the probe's size (seq_length is capped by
      max_position_embeddings).

  Returns:
    (input_ids, input_mask, segment_ids), int32 numpy [batch, seq].
  """
  seq_length = min(seq_length, config.max_position_embeddings)
  rng = np.random.RandomState(12345)
  input_ids = rng.randint(0, config.vocab_size, [batch_size, seq_length])
  input_mask = np.ones([batch_size, seq_length], np.int32)
  input_mask[1:, seq_length * 2 // 3:] = 0
  segment_ids = np.zeros([batch_size, seq_length], np.int32)
  if config.type_vocab_size > 1:
    segment_ids[:, seq_length // 2:] = 1
  return (input_ids.astype(np.int32), input_mask, segment_ids)


def _probe_difference(model, reference, inputs):
  """Largest |difference| of a BertModel from reference outputs.

  Args:
    model: modeling.BertModel.
    reference: (pooled [B, H], sequence [B, S, H]) of the module.
    inputs: probe_inputs(...).

  Returns:
    (max abs difference, tolerance): the tolerance scales with the outputs
    (float32 noise of a model of this size is far below it, a wrong head
    count or activation far above).
  """
  outputs = model(inputs[0], input_mask=inputs[1], token_type_ids=inputs[2],
                  training=False)
  diff = max(np.abs(outputs.pooled_output.numpy() - reference[0]).max(),
             np.abs(outputs.sequence_output.numpy() - reference[1]).max())
  scale = max(np.abs(reference[0]).max(), np.abs(reference[1]).max())
  return float(diff), 1e-4 * (1.0 + float(scale))


def _assign_by_name(model, values):
  """Assigns model variables from a dict Google name -> array."""
  for v in model.variables:
    v.assign(values[checkpoints.variable_name(v)])


def _infer_bert_model(shapes, values, reference_fn, where):
  """Builds the BertModel whose head count reproduces a module.

  Args:
    shapes: dict Google name -> shape of the encoder's variables.
    values: dict Google name -> array (the weights).
    reference_fn: (input_ids, input_mask, segment_ids) -> (pooled, sequence)
      of the module itself.
    where: the module's handle, for messages.

  Returns:
    modeling.BertModel with the weights and the matching config.

  Raises:
    HandleError: no candidate reproduces the module.
  """
  base = config_from_google_shapes(shapes, 1)
  inputs = probe_inputs(base)
  reference = [np.asarray(x) for x in reference_fn(*inputs)]
  best, tried = None, []
  for heads in head_count_candidates(base.hidden_size):
    model = _BERT.create_model(config_from_google_shapes(shapes, heads))
    _assign_by_name(model, values)
    diff, tolerance = _probe_difference(model, reference, inputs)
    tried.append("%d: %.2g" % (heads, diff))
    if best is None or diff < best[0]:
      best = (diff, tolerance, model)
    del model
  logging.info("%s: attention head counts tried (max |difference| from the "
               "module): %s", where, ", ".join(tried))
  if best[0] > best[1]:
    raise HandleError(
        "TF Hub module %r: no number of attention heads reproduces its "
        "'tokens' signature with Google's BERT (max |difference| per head "
        "count: %s); not a BERT encoder with gelu?" % (where, ", ".join(tried)))
  return best[2]


# ---------------------------------------------------------------- loading


class LoadedEncoder(tf.Module):
  """A BERT encoder module of any format, behind one interface.

  Attributes:
    kind: "dict", "list" (TF2 SavedModels called with those inputs) or "tf1"
      (Google's TF1 module, run as the project's BertModel).
    layout: "google" (variables named bert/...), "model_garden" (Model
      Garden's BertEncoder names) or None (another encoder).
    handle, path: the handle given and the directory it resolved to.
    vocab_file, do_lower_case, spm_model_file: the module's tokenizer (a
      SentencePiece model for ALBERT modules, then vocab_file is None).
    bert_config: modeling.BertConfig when known (tf1 and model_garden), else
      None.
    variables, trainable_variables: the encoder's weights (tf.Module's
      properties; the tokenizer's do_lower_case flag is not among them).
  """

  def __init__(self, kind, handle, path, vocab_file, do_lower_case,
               module=None, bert_model=None, bert_config=None,
               spm_model_file=None):
    """Wraps a loaded module (kind dict/list) or a BertModel (kind tf1)."""
    super().__init__(name=None)
    self.kind = kind
    self.handle = handle
    self.path = path
    self.vocab_file = vocab_file
    self.do_lower_case = do_lower_case
    self.spm_model_file = spm_model_file
    self.bert_config = bert_config
    if bert_model is not None:
      self.bert = bert_model
      self.layout = "google"
    else:
      self._module = module
      # A loaded SavedModel is no tf.Module: list its weights so that
      # tf.Module's `variables` (training, checkpoints) see them.
      self.weights = [v for v in module.variables if v.dtype.is_floating]
      self.layout = _layout([v.name for v in self.weights])

  def __call__(self, input_ids, input_mask, segment_ids, training=False):
    """Runs the encoder.

    Args:
      input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
      training: Python bool, dropout on.

    Returns:
      (pooled_output [batch_size, hidden], sequence_output [batch_size,
      seq_length, hidden]), float32.
    """
    if self.kind == KIND_TF1:
      outputs = self.bert(input_ids, input_mask=input_mask,
                          token_type_ids=segment_ids, training=training)
      return outputs.pooled_output, outputs.sequence_output
    if self.kind == KIND_LIST:
      pooled, sequence = self._module([input_ids, input_mask, segment_ids],
                                      training=training)
      return pooled, sequence
    outputs = self._module({"input_word_ids": input_ids,
                            "input_mask": input_mask,
                            "input_type_ids": segment_ids}, training=training)
    return outputs["pooled_output"], outputs["sequence_output"]



def _layout(names):
  """"google", "model_garden" or None, from the weights' names."""
  stems = [n[:-2] if n.endswith(":0") else n for n in names]
  if stems and all(n.startswith("bert/") for n in stems):
    return "google"
  if stems and all(google_name(n) for n in stems):
    return "model_garden"
  return None


def is_tf1_module(path):
  """True for the TF1 Hub format (a `tfhub_module.pb` beside the model)."""
  return tf.io.gfile.exists(os.path.join(path, "tfhub_module.pb"))


def load_encoder(handle):
  """Loads a BERT encoder module of any format (see the module docstring).

  Call it inside the distribution strategy's scope when training.

  Args:
    handle: local directory, URL or gs:// handle.

  Returns:
    LoadedEncoder.

  Raises:
    HandleError: the handle cannot be resolved, or is no BERT encoder.
  """
  path = resolve_handle(handle)
  if is_tf1_module(path):
    return _load_tf1(handle, path)
  module = tf.saved_model.load(path)
  kind = _call_api(module, handle)
  tokenization = _tf2_tokenization(module, handle)
  encoder = LoadedEncoder(kind, handle, path, tokenization.vocab_file,
                          tokenization.do_lower_case, module=module,
                          spm_model_file=tokenization.spm_model_file)
  if encoder.layout == "model_garden":
    encoder.bert_config = _model_garden_config(encoder.weights)
  logging.info("TF Hub module %s (%s): %s API, %s names, %d weights", handle,
               path, kind, encoder.layout or "module's own",
               len(encoder.weights))
  return encoder


def read_tokenizer_files(handle):
  """The Tokenization of a module, without building its encoder.

  Args:
    handle: local directory, URL or gs:// handle.

  Returns:
    Tokenization(vocab_file, do_lower_case, spm_model_file): paths inside
    the module (one of them None) and a bool.

  Raises:
    HandleError: as load_encoder.
  """
  path = resolve_handle(handle)
  if is_tf1_module(path):
    graph = tf.saved_model.load(path, tags=[])
    return Tokenization(*_tf1_tokenization(graph, path, handle), None)
  return _tf2_tokenization(tf.saved_model.load(path), handle)


def read_tokenization(handle):
  """(vocab_file, do_lower_case) of a module, without building its encoder.

  The "vocab_file" of a module with a SentencePiece model is that model, as
  in ALBERT's modules' tokenization_info.

  Args:
    handle: local directory, URL or gs:// handle.

  Returns:
    (path of the vocabulary file, bool).

  Raises:
    HandleError: as load_encoder.
  """
  files = read_tokenizer_files(handle)
  return files.vocab_file or files.spm_model_file, files.do_lower_case


def _call_api(module, handle):
  """"dict" or "list": how the module's __call__ takes its three inputs."""
  call = getattr(module, "__call__", None)
  for function in getattr(call, "concrete_functions", None) or ():
    args = function.structured_input_signature[0]
    if not args:
      continue
    if isinstance(args[0], dict) and "input_word_ids" in args[0]:
      return KIND_DICT
    if isinstance(args[0], (list, tuple)) and len(args[0]) == 3:
      return KIND_LIST
  raise HandleError(
      "TF Hub module %r is not a BERT encoder: it cannot be called with "
      "input_word_ids, input_mask, input_type_ids (as a dict or a list)." %
      handle)


def _tf2_tokenization(module, handle):
  """The Tokenization of a TF2 module.

  A SentencePiece model from its `sp_model_file` asset (Model Garden's
  ALBERT modules, which imply do_lower_case True, and the project's ALBERT
  export, which has `do_lower_case`); else a vocabulary from its
  `tokenization_info` signature when present (Google's convention, the
  project's export), else its `vocab_file` asset and `do_lower_case`
  variable (Model Garden's).
  """
  spm = getattr(module, "sp_model_file", None)
  lower = getattr(module, "do_lower_case", None)
  if spm is not None:
    return Tokenization(None, True if lower is None else bool(lower.numpy()),
                        spm.asset_path.numpy().decode("utf-8"))
  info = getattr(module, "signatures", {}).get("tokenization_info")
  if info is not None:
    values = info()
    return Tokenization(values["vocab_file"].numpy().decode("utf-8"),
                        bool(values["do_lower_case"].numpy()), None)
  vocab = getattr(module, "vocab_file", None)
  if vocab is None or lower is None:
    raise HandleError(
        "TF Hub module %r has no tokenization_info signature, no "
        "sp_model_file and no vocab_file / do_lower_case attributes, so its "
        "tokenizer is unknown." % handle)
  return Tokenization(vocab.asset_path.numpy().decode("utf-8"),
                      bool(lower.numpy()), None)


def _model_garden_config(weights):
  """BertConfig of Model Garden BERT weights (heads from the query kernel)."""
  shapes = {}
  heads = None
  for v in weights:
    name = v.name[:-2] if v.name.endswith(":0") else v.name
    shapes[google_name(name)] = google_shape(name, v.shape.as_list())
    if name.endswith("layer_0/self_attention/query/kernel"):
      heads = v.shape[1]
  return config_from_google_shapes(shapes, heads)


# ---------------------------------------------------------------- TF1


def tf1_vocab_file(path, tags=()):
  """The vocabulary of a TF1 Hub module, from its SavedModel asset records.

  hub's TF1 writer replaces asset paths by "SAVEDMODEL-ASSET" in the graph;
  the real file name is in the MetaGraph's asset records (the
  `saved_model_assets` collection, or `asset_file_def`) for the tensor that
  the `tokenization_info` signature returns.

  Args:
    path: the module directory.
    tags: the MetaGraph's tags (() = the inference graph).

  Returns:
    <path>/assets/<file name>.

  Raises:
    HandleError: no such record.
  """
  proto = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  for meta_graph in proto.meta_graphs:
    if set(meta_graph.meta_info_def.tags) != set(tags):
      continue
    signature = meta_graph.signature_def.get("tokenization_info")
    tensor = signature.outputs["vocab_file"].name if signature else None
    records = list(meta_graph.asset_file_def)
    collection = meta_graph.collection_def.get("saved_model_assets")
    for value in (collection.any_list.value if collection else ()):
      record = meta_graph_pb2.AssetFileDef()
      value.Unpack(record)
      records.append(record)
    for record in records:
      if record.tensor_info.name == tensor:
        return os.path.join(path, "assets", record.filename)
  raise HandleError("TF1 Hub module %s: no asset record names the vocabulary "
                    "of its tokenization_info signature." % path)


def _tf1_tokenization(graph, path, handle):
  """(vocab_file, do_lower_case) of a TF1 module loaded with tags=[]."""
  info = graph.signatures.get("tokenization_info")
  if info is None:
    raise HandleError("TF1 Hub module %r has no tokenization_info signature."
                      % handle)
  return tf1_vocab_file(path), bool(info()["do_lower_case"].numpy())


def _load_tf1(handle, path):
  """Google's TF1 module as the project's BertModel (see the docstring)."""
  graph = tf.saved_model.load(path, tags=[])
  vocab_file, do_lower_case = _tf1_tokenization(graph, path, handle)
  tokens = graph.signatures.get("tokens")
  if tokens is None:
    raise HandleError("TF1 Hub module %r has no 'tokens' signature (not a "
                      "BERT module)." % handle)
  prefix = os.path.join(path, "variables", "variables")
  reader = tf.train.load_checkpoint(prefix)
  shapes = {n: s for n, s in reader.get_variable_to_shape_map().items()
            if n.startswith("bert/")}
  values = {n: reader.get_tensor(n) for n in shapes}

  def reference(input_ids, input_mask, segment_ids):
    """The module's own `tokens` signature: (pooled, sequence)."""
    outputs = tokens(input_ids=tf.constant(input_ids),
                     input_mask=tf.constant(input_mask),
                     segment_ids=tf.constant(segment_ids))
    return outputs["pooled_output"], outputs["sequence_output"]

  try:
    model = _infer_bert_model(shapes, values, reference, handle)
  except ValueError as e:
    if isinstance(e, HandleError):
      raise
    raise HandleError("TF1 Hub module %r: %s" % (handle, e))
  logging.info("TF1 Hub module %s: %s", handle, model.config.to_json_string())
  return LoadedEncoder(KIND_TF1, handle, path, vocab_file, do_lower_case,
                       bert_model=model, bert_config=model.config)


# ---------------------------------------------------------------- export


def google_checkpoint_values(encoder, checkpoint_path):
  """A checkpoint's values under Google's names.

  Args:
    encoder: the LoadedEncoder the checkpoint was trained from (its layout
      says how to rename).
    checkpoint_path: a checkpoint prefix written by the fine-tuning run.

  Returns:
    collections.OrderedDict name -> numpy array: the encoder's variables (and
    their Adam slots) under Google's names and shapes, everything else
    (classifier head, global_step) unchanged; the tokenizer's boolean
    do_lower_case flag is left out.
  """
  reader = tf.train.load_checkpoint(checkpoint_path)
  values = collections.OrderedDict()
  for name in sorted(reader.get_variable_to_shape_map()):
    value = reader.get_tensor(name)
    if value.dtype == np.bool_:
      continue
    values[name] = value
  if encoder.layout == "model_garden":
    values = to_google_values(values)
  return values


def write_google_model(encoder, checkpoint_path, output_dir):
  """Writes a fine-tuned encoder as Google's model directory.

  `output_dir` gets `bert_model.ckpt` (Google's variable names), the inferred
  `bert_config.json` and the module's `vocab.txt`, as in Google's released
  models, so that run_classifier.py, extract_features.py and Google's own code
  read it. Before writing, Google's BertModel built from them is checked to
  reproduce the encoder on a probe batch.

  Args:
    encoder: LoadedEncoder with a bert_config (tf1 or model_garden layout)
      holding the weights of `checkpoint_path`.
    checkpoint_path: the run's checkpoint prefix.
    output_dir: the directory to write (replaced when it exists; written
      under a temporary name and renamed).

  Returns:
    output_dir.

  Raises:
    ValueError: the encoder is not a BERT encoder of a known layout, or the
      rebuilt model does not reproduce it.
  """
  config = encoder.bert_config
  if config is None:
    raise ValueError("%s: no Google name mapping for this module's variables."
                     % encoder.handle)
  values = google_checkpoint_values(encoder, checkpoint_path)
  model = _BERT.create_model(config)
  _assign_by_name(model, values)
  inputs = probe_inputs(config)
  reference = [x.numpy() for x in encoder(*inputs, training=False)]
  diff, tolerance = _probe_difference(model, reference, inputs)
  if diff > tolerance:
    raise ValueError("%s: Google's BertModel with the mapped weights differs "
                     "from the module by %.3g; not written." %
                     (encoder.handle, diff))
  with io_lib.atomic_dir(output_dir, replace_existing=True) as tmp_dir:
    tf.io.gfile.makedirs(tmp_dir)
    checkpoints.save_checkpoint(values, os.path.join(tmp_dir,
                                                     "bert_model.ckpt"))
    io_lib.write_text(os.path.join(tmp_dir, "bert_config.json"),
                      json.dumps(config.to_dict(), indent=2, sort_keys=True) +
                      "\n")
    tf.io.gfile.copy(encoder.vocab_file, os.path.join(tmp_dir, "vocab.txt"))
  logging.info("Wrote %s (Google's names, max |difference| %.2g)", output_dir,
               diff)
  return output_dir


def create_tokenizer(handle):
  """The tokenizer described by a module (any format), for raw text.

  Google's FullTokenizer over the module's vocabulary; for a module with a
  SentencePiece model, ALBERT's tokenizer with its preprocess_text (the
  registry's "albert" text tokenizer).
  """
  files = read_tokenizer_files(handle)
  if files.spm_model_file:
    return encoders.get_family("albert").create_text_tokenizer(
        spm_model_file=files.spm_model_file,
        do_lower_case=files.do_lower_case)
  return _BERT.create_tokenizer(vocab_file=files.vocab_file,
                                do_lower_case=files.do_lower_case)
