# coding=utf-8
"""SavedModel export: a fine-tuned classifier for serving, the bare encoder for
TF Hub style reuse.

* `export_classifier`: a SavedModel whose `serving_default` signature maps
  `input_ids`, `input_mask`, `segment_ids` (int32 [batch, seq]) to
  `probabilities`. It holds only core TensorFlow ops, so TensorFlow Serving
  loads it as it is.
* `export_hub_encoder`: the encoder in the TF Hub BERT encoder convention:
  `outputs = module(dict(input_word_ids=..., input_mask=...,
  input_type_ids=...), training=False)` with `pooled_output [batch, hidden]`,
  `sequence_output [batch, seq, hidden]` and `encoder_outputs` (one
  [batch, seq, hidden] per layer). It carries its vocabulary as an asset
  (`module.vocab_file`) and `module.do_lower_case`, and a
  `tokenization_info` signature like Google's TF1 Hub modules, so the
  tokenizer can be built from the module alone (`load_hub_encoder`).

Both are written to a temporary directory and renamed when complete.

Command line (the encoder of a Google checkpoint as a Hub-style module):

  python export_lib.py --bert_config_file=.../bert_config.json \
    --init_checkpoint=.../bert_model.ckpt --vocab_file=.../vocab.txt \
    --do_lower_case=True --export_dir=/tmp/bert_hub_module
"""

import os
import uuid

from absl import app
from absl import flags
import tensorflow as tf

import checkpoints
import hub_lib
import modeling

SERVING_INPUTS = ("input_ids", "input_mask", "segment_ids")
HUB_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _int_specs(names):
  """int32 [batch, seq] TensorSpecs with the given names."""
  return [tf.TensorSpec([None, None], tf.int32, name=n) for n in names]


def _save_atomically(module, export_dir, signatures):
  """tf.saved_model.save to a temporary directory, then rename.

  Args:
    module: the tf.Module to save.
    export_dir: final directory (replaced if it exists).
    signatures: dict name -> concrete function.
  """
  parent = os.path.dirname(os.path.abspath(export_dir))
  tf.io.gfile.makedirs(parent)
  tmp_dir = "%s.tmp%s" % (export_dir.rstrip("/"), uuid.uuid4().hex)
  tf.saved_model.save(module, tmp_dir, signatures=signatures)
  if tf.io.gfile.exists(export_dir):
    tf.io.gfile.rmtree(export_dir)
  tf.io.gfile.rename(tmp_dir, export_dir)


class ServingClassifier(tf.Module):
  """A fine-tuned classifier with its serving function."""

  def __init__(self, model, task_type="classification"):
    """Wraps a model.

    Args:
      model: callable (input_ids, input_mask, segment_ids, training) ->
        logits [batch, num_labels] (run_classifier.BertClassifier).
      task_type: "classification" (softmax), "multi_label" (sigmoid) or
        "regression" (the score).
    """
    super().__init__(name=None)
    self.model = model
    self.task_type = task_type

  @tf.function(input_signature=_int_specs(SERVING_INPUTS))
  def serve(self, input_ids, input_mask, segment_ids):
    """-> {"probabilities": float32 [batch, num_labels] ([batch] regression)}.
    """
    logits = self.model(input_ids, input_mask, segment_ids, training=False)
    if self.task_type == "regression":
      probabilities = logits[:, 0]
    elif self.task_type == "multi_label":
      probabilities = tf.sigmoid(logits)
    else:
      probabilities = tf.nn.softmax(logits, axis=-1)
    return {"probabilities": probabilities}


def export_classifier(model, export_dir, task_type="classification"):
  """Writes a serving SavedModel of a classifier.

  The signature takes any sequence length up to max_position_embeddings.

  Args:
    model: run_classifier.BertClassifier (weights loaded).
    export_dir: output directory.
    task_type: see ServingClassifier.

  Returns:
    export_dir.
  """
  module = ServingClassifier(model, task_type)
  _save_atomically(module, export_dir,
                   {"serving_default": module.serve.get_concrete_function()})
  return export_dir


class HubEncoder(tf.Module):
  """A BertModel in the TF Hub BERT encoder convention."""

  # TF Hub's SavedModel convention: the loaded object has `variables` and
  # `trainable_variables` attributes (a loaded SavedModel has no tf.Module
  # properties). Plain class attributes so that instances can set lists.
  variables = ()
  trainable_variables = ()

  def __init__(self, bert_model, vocab_file, do_lower_case):
    """Wraps the encoder.

    Args:
      bert_model: modeling.BertModel.
      vocab_file: its vocabulary (copied into the SavedModel's assets).
      do_lower_case: bool, the tokenizer's casing.
    """
    super().__init__(name=None)
    self.bert = bert_model
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False,
                                     name="do_lower_case")
    self.variables = list(bert_model.variables) + [self.do_lower_case]
    self.trainable_variables = list(bert_model.trainable_variables)

  @tf.function
  def __call__(self, inputs, training=False):
    """Runs the encoder.

    Args:
      inputs: dict input_word_ids, input_mask, input_type_ids, each int32
        [batch, seq].
      training: dropout on (fine-tuning).

    Returns:
      dict: pooled_output [batch, hidden], sequence_output [batch, seq,
      hidden], encoder_outputs (list, one [batch, seq, hidden] per layer),
      default (= pooled_output).
    """
    outputs = self.bert(inputs["input_word_ids"],
                        input_mask=inputs["input_mask"],
                        token_type_ids=inputs["input_type_ids"],
                        training=training)
    return {
        "pooled_output": outputs.pooled_output,
        "sequence_output": outputs.sequence_output,
        "encoder_outputs": list(outputs.all_encoder_layers),
        "default": outputs.pooled_output,
    }

  @tf.function(input_signature=_int_specs(HUB_INPUTS))
  def serve(self, input_word_ids, input_mask, input_type_ids):
    """Signature form of __call__ (signatures cannot return lists)."""
    outputs = self({"input_word_ids": input_word_ids,
                    "input_mask": input_mask,
                    "input_type_ids": input_type_ids}, training=False)
    return {"pooled_output": outputs["pooled_output"],
            "sequence_output": outputs["sequence_output"]}

  @tf.function(input_signature=[])
  def tokenization_info(self):
    """-> {"vocab_file": path string, "do_lower_case": bool} (Google's)."""
    return {"vocab_file": self.vocab_file.asset_path,
            "do_lower_case": tf.identity(self.do_lower_case)}


def export_hub_encoder(bert_model, export_dir, vocab_file, do_lower_case):
  """Writes the encoder as a TF Hub style SavedModel.

  Both `training=False` and `training=True` are traced, so the loaded module
  can be fine-tuned (`module.trainable_variables`, dropout on).

  Args:
    bert_model: modeling.BertModel (weights loaded).
    export_dir: output directory.
    vocab_file: the vocabulary file (stored as an asset).
    do_lower_case: bool.

  Returns:
    export_dir.
  """
  module = HubEncoder(bert_model, vocab_file, do_lower_case)
  inputs = {n: tf.TensorSpec([None, None], tf.int32, name=n)
            for n in HUB_INPUTS}
  for training in (False, True):
    module.__call__.get_concrete_function(inputs, training=training)
  _save_atomically(module, export_dir, {
      "serving_default": module.serve.get_concrete_function(),
      "tokenization_info": module.tokenization_info.get_concrete_function(),
  })
  return export_dir


def load_hub_encoder(handle):
  """Loads a module written by `export_hub_encoder`.

  (`hub_lib.load_encoder` reads every BERT module format.)

  Args:
    handle: SavedModel directory, URL or gs:// handle (hub_lib).

  Returns:
    (module, vocab_file path, do_lower_case bool).

  Raises:
    ValueError: the handle cannot be resolved (hub_lib.HandleError), or the
      module has no tokenization_info signature.
  """
  module = tf.saved_model.load(hub_lib.resolve_handle(handle))
  info = module.signatures.get("tokenization_info")
  if info is None:
    raise ValueError("%s: the module has no tokenization_info signature" %
                     handle)
  values = info()
  vocab_file = values["vocab_file"].numpy().decode("utf-8")
  do_lower_case = bool(values["do_lower_case"].numpy())
  return module, vocab_file, do_lower_case


def create_tokenizer_from_hub_module(handle):
  """The FullTokenizer described by a module (any format, see hub_lib)."""
  return hub_lib.create_tokenizer(handle)


def main(_):
  f = flags.FLAGS
  config = modeling.BertConfig.from_json_file(f.bert_config_file)
  model = modeling.BertModel(config)
  checkpoints.restore(model, f.init_checkpoint, allow_missing=False)
  export_hub_encoder(model, f.export_dir, f.vocab_file, f.do_lower_case)


if __name__ == "__main__":
  flags.DEFINE_string("bert_config_file", None, "BERT config JSON file.")
  flags.DEFINE_string("init_checkpoint", None, "Checkpoint with the weights.")
  flags.DEFINE_string("vocab_file", None, "The model's vocabulary file.")
  flags.DEFINE_bool("do_lower_case", True, "The tokenizer's casing.")
  flags.DEFINE_string("export_dir", None, "Where to write the module.")
  for name in ("bert_config_file", "init_checkpoint", "vocab_file",
               "export_dir"):
    flags.mark_flag_as_required(name)
  app.run(main)
