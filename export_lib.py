# coding=utf-8
"""SavedModel export: a fine-tuned classifier for serving, the bare encoder for
TF Hub style reuse.

* `export_classifier`: a SavedModel whose `serving_default` signature maps
  `input_ids`, `input_mask`, `segment_ids` (int32 [batch, seq]) to
  `probabilities`. It holds only core TensorFlow ops, so TensorFlow Serving
  loads it as it is.
* `export_span_model`: the same for SQuAD's span head (`start_logits`,
  `end_logits`).
* `export_tagger`: a tagger (NER): `serving_default(input_ids, input_mask,
  segment_ids)` and `tag_words(..., word_mask)` -> `tag_ids`,
  `probabilities` (with a CRF, its Viterbi path), core ops only.
* `export_hub_encoder`: the encoder in the TF Hub BERT encoder convention:
  `outputs = module(dict(input_word_ids=..., input_mask=...,
  input_type_ids=...), training=False)` with `pooled_output [batch, hidden]`,
  `sequence_output [batch, seq, hidden]` and `encoder_outputs` (one
  [batch, seq, hidden] per layer). It carries its vocabulary as an asset
  (`module.vocab_file`) and `module.do_lower_case`, and a
  `tokenization_info` signature like Google's TF1 Hub modules, so the
  tokenizer can be built from the module alone (`load_hub_encoder`), and
  `regularization_losses` (empty) like Model Garden's modules. With a
  masked-LM head it also has Model Garden's `mlm` subobject (`mlm_logits`).
* `export_preprocessor`: the matching preprocessing model, as TF Hub's BERT
  preprocessors: `preprocessor(sentences)`, `preprocessor.tokenize` and
  `preprocessor.bert_pack_inputs`, with Google's tokens (core TensorFlow
  ops, see tf_tokenization.py).

All are written to a temporary directory and renamed when complete. The
encoder may be any registered family's (albert/export_to_tfhub.py exports
ALBERT's, with its SentencePiece model as the `sp_model_file` asset); the
preprocessor is WordPiece's (BERT's).

Command line (the encoder of a Google checkpoint as a Hub-style module, with
the masked-LM head and the preprocessing model):

  python export_lib.py --bert_config_file=.../bert_config.json \
    --init_checkpoint=.../bert_model.ckpt --vocab_file=.../vocab.txt \
    --do_lower_case=True --export_dir=/tmp/bert_hub_module --with_mlm \
    --preprocessor_dir=/tmp/bert_preprocess
"""

import os

from absl import flags
import tensorflow as tf

import checkpoints
import encoders
import heads
import hub_lib
import io_lib
import modeling
import task_lib
import tf_tokenization
import validation

SERVING_INPUTS = ("input_ids", "input_mask", "segment_ids")
HUB_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def _int_specs(names):
  """int32 [batch, seq] TensorSpecs with the given names."""
  return [tf.TensorSpec([None, None], tf.int32, name=n) for n in names]


def _save_atomically(module, export_dir, signatures, overwrite=False,
                     flag_name="export_dir"):
  """tf.saved_model.save to a temporary directory, then rename.

  Args:
    module: the tf.Module to save.
    export_dir: final directory: new, empty or an earlier export (replaced);
      a directory holding anything else only with `overwrite`.
    signatures: dict name -> concrete function.
    overwrite: replace a directory that is not an earlier export.
    flag_name: the flag that named export_dir (for messages).

  Raises:
    validation.UsageError: export_dir holds other files (nothing is
      deleted: an export used to replace whatever was there).
  """
  validation.check_export_dir(flag_name, export_dir, overwrite)
  parent = os.path.dirname(export_dir.rstrip("/"))
  if parent:
    tf.io.gfile.makedirs(parent)
  # An earlier export at export_dir is replaced, as before.
  with io_lib.atomic_dir(export_dir, replace_existing=True) as tmp_dir:
    tf.saved_model.save(module, tmp_dir, signatures=signatures)


class ServingClassifier(tf.Module):
  """A fine-tuned classifier with its serving function."""

  def __init__(self, model, task_type="classification"):
    """Wraps a model.

    Args:
      model: callable (input_ids, input_mask, segment_ids, training) ->
        logits [batch, num_labels] (tasks.classification.ClassifierModel).
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
    probabilities = heads.classifier_probabilities(logits, self.task_type)
    return {"probabilities": probabilities}


def export_classifier(model, export_dir, task_type="classification",
                      overwrite=False):
  """Writes a serving SavedModel of a classifier.

  The signature takes any sequence length up to max_position_embeddings.

  Args:
    model: tasks.classification.ClassifierModel (weights loaded).
    export_dir: output directory.
    task_type: see ServingClassifier.
    overwrite: replace a directory that is not an earlier export.

  Returns:
    export_dir.
  """
  validation.check_export_dir("export_dir", export_dir, overwrite)
  module = ServingClassifier(model, task_type)
  _save_atomically(module, export_dir,
                   {"serving_default": module.serve.get_concrete_function()},
                   overwrite)
  return export_dir


class ServingSpanModel(tf.Module):
  """A fine-tuned SQuAD span model (start / end logits) for serving."""

  def __init__(self, model):
    """Wraps `model`: callable (input_ids, input_mask, segment_ids, training)
    -> (start_logits, end_logits) (tasks.squad.SpanModel)."""
    super().__init__(name=None)
    self.model = model

  @tf.function(input_signature=_int_specs(SERVING_INPUTS))
  def serve(self, input_ids, input_mask, segment_ids):
    """-> {"start_logits", "end_logits": float32 [batch, seq]}."""
    start_logits, end_logits = self.model(input_ids, input_mask, segment_ids,
                                          training=False)
    return {"start_logits": start_logits, "end_logits": end_logits}


def export_span_model(model, export_dir):
  """Writes a serving SavedModel of a SQuAD span model (Google's and ALBERT's
  v1 `cls/squad` head): `serving_default` maps input_ids, input_mask,
  segment_ids (int32 [batch, seq]) to start_logits and end_logits.

  Args:
    model: tasks.squad.SpanModel (weights loaded).
    export_dir: output directory.

  Returns:
    export_dir.
  """
  module = ServingSpanModel(model)
  _save_atomically(module, export_dir,
                   {"serving_default": module.serve.get_concrete_function()})
  return export_dir


class ExampleServingClassifier(tf.Module):
  """A fine-tuned classifier served on serialized tf.Examples (ALBERT's
  run_classifier export: its `_serving_input_receiver_fn` + model_fn)."""

  def __init__(self, model, seq_length, task_type="classification",
               threshold=None):
    """Wraps a model.

    Args:
      model: callable (input_ids, input_mask, segment_ids, training) ->
        logits [batch, num_labels] (tasks.classification.ClassifierModel).
      seq_length: the length of the examples' int64 lists.
      task_type: see ServingClassifier.
      threshold: optional float served as the `threshold` output (ALBERT's
        --threshold_to_export).
    """
    super().__init__(name=None)
    self.model = model
    self.task_type = task_type
    self.threshold = threshold
    self._features = {name: tf.io.FixedLenFeature([seq_length], tf.int64)
                      for name in SERVING_INPUTS}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def serve(self, input):  # pylint: disable=redefined-builtin
    """Serialized tf.Examples (string [batch], features input_ids,
    input_mask, segment_ids) -> ALBERT's predictions: `probabilities`,
    `predictions` (heads.classifier_model_outputs) and `threshold`."""
    features = tf.io.parse_example(input, self._features)
    logits = self.model(*[tf.cast(features[name], tf.int32)
                          for name in SERVING_INPUTS], training=False)
    outputs = heads.classifier_model_outputs(logits, None, self.task_type)
    result = {"probabilities": outputs.probabilities,
              "predictions": outputs.predictions}
    if self.threshold is not None:
      result["threshold"] = tf.constant(self.threshold, tf.float32)
    return result


def export_example_classifier(model, export_dir, seq_length,
                              task_type="classification", threshold=None):
  """Writes a SavedModel serving a classifier on serialized tf.Examples.

  `serving_default(input=string [batch])` -> probabilities, predictions (and
  threshold), as the SavedModel ALBERT's run_classifier exports.

  Args:
    model: tasks.classification.ClassifierModel (weights loaded).
    export_dir: output directory.
    seq_length: --max_seq_length of the examples.
    task_type: see ServingClassifier.
    threshold: see ExampleServingClassifier.

  Returns:
    export_dir.
  """
  module = ExampleServingClassifier(model, seq_length, task_type, threshold)
  _save_atomically(module, export_dir,
                   {"serving_default": module.serve.get_concrete_function()})
  return export_dir


def default_word_mask(input_mask):
  """Every real token but [CLS] (the first) and the last ([SEP]).

  The word positions of a window whose words are one piece each (Chinese
  characters); `ServingTagger.tag_words` takes them from the caller.

  Args:
    input_mask: int [batch, seq] (1 for real tokens, at the front).

  Returns:
    int32 [batch, seq].
  """
  input_mask = tf.cast(input_mask, tf.int32)
  positions = tf.range(tf.shape(input_mask)[1])[None, :]
  lengths = tf.reduce_sum(input_mask, axis=1, keepdims=True)
  inside = tf.logical_and(positions > 0, positions < lengths - 1)
  return input_mask * tf.cast(inside, tf.int32)


class ServingTagger(tf.Module):
  """A fine-tuned tagger with its serving functions (see export_tagger)."""

  def __init__(self, model):
    """Wraps a model.

    Args:
      model: tasks.tagging.TaggingModel: `model(input_ids, input_mask,
        segment_ids, training)` -> logits [batch, seq, tags] and
        `model.decode(logits, word_mask)` -> int32 [batch, seq].
    """
    super().__init__(name=None)
    self.model = model

  def _outputs(self, input_ids, input_mask, segment_ids, word_mask):
    """{"tag_ids": int32 [batch, seq], "probabilities": [batch, seq, tags]}."""
    logits = self.model(input_ids, input_mask, segment_ids, training=False)
    return {"tag_ids": self.model.decode(logits, word_mask),
            "probabilities": tf.nn.softmax(logits, axis=-1)}

  @tf.function(input_signature=_int_specs(SERVING_INPUTS))
  def serve(self, input_ids, input_mask, segment_ids):
    """Tags of every token between [CLS] and [SEP] (-1 elsewhere)."""
    return self._outputs(input_ids, input_mask, segment_ids,
                         default_word_mask(input_mask))

  @tf.function(input_signature=_int_specs(SERVING_INPUTS + ("word_mask",)))
  def tag_words(self, input_ids, input_mask, segment_ids, word_mask):
    """Tags at the first piece of each word (word_mask 1), -1 elsewhere."""
    return self._outputs(input_ids, input_mask, segment_ids, word_mask)


def export_tagger(model, export_dir):
  """Writes a serving SavedModel of a tagger (NER).

  Signatures (int32 [batch, seq] inputs, any seq up to
  max_position_embeddings): `serving_default(input_ids, input_mask,
  segment_ids)` tags every token between [CLS] and [SEP]; `tag_words(...,
  word_mask)` only the positions where word_mask is 1 (the first piece of
  each word, where the tagger was trained). Both return `tag_ids` (int32
  [batch, seq], -1 at other positions) and `probabilities` (float32 [batch,
  seq, tags], the token classifier's softmax). With a CRF the tags are its
  Viterbi path over those positions in order, so `serving_default` gives the
  path over words when each word is one piece (Chinese characters) and
  `tag_words` in every case.

  Args:
    model: tasks.tagging.TaggingModel (weights loaded).
    export_dir: output directory (replaced if it exists).

  Returns:
    export_dir.
  """
  module = ServingTagger(model)
  _save_atomically(module, export_dir, {
      "serving_default": module.serve.get_concrete_function(),
      "tag_words": module.tag_words.get_concrete_function()})
  return export_dir


class HubEncoder(tf.Module):
  """A BertModel in the TF Hub BERT encoder convention."""

  # TF Hub's SavedModel convention: the loaded object has `variables`,
  # `trainable_variables` and `regularization_losses` (callables; none here,
  # as in Model Garden's modules) attributes (a loaded SavedModel has no
  # tf.Module properties). Plain class attributes so that instances can set
  # lists.
  variables = ()
  trainable_variables = ()
  regularization_losses = ()

  def __init__(self, bert_model, vocab_file, do_lower_case, mlm_head=None,
               sp_model_file=None):
    """Wraps the encoder.

    Args:
      bert_model: modeling.BertModel (or another family's model with its
        call API, e.g. albert.modeling.AlbertModel).
      vocab_file: its WordPiece vocabulary (copied into the SavedModel's
        assets), or None with `sp_model_file`.
      do_lower_case: bool, the tokenizer's casing.
      mlm_head: optional masked-LM head (`cls/predictions/*`, see
        MaskedLMModel): adds the `mlm` subobject.
      sp_model_file: a SentencePiece model (ALBERT's): the `sp_model_file`
        asset, as in Model Garden's ALBERT modules; no `vocab_file` then.
    """
    super().__init__(name=None)
    self.bert = bert_model
    if sp_model_file:
      self.sp_model_file = tf.saved_model.Asset(sp_model_file)
    elif vocab_file:
      self.vocab_file = tf.saved_model.Asset(vocab_file)
    else:
      raise ValueError("A hub encoder needs its vocab_file or sp_model_file.")
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False,
                                     name="do_lower_case")
    self.variables = list(bert_model.variables) + [self.do_lower_case]
    self.trainable_variables = list(bert_model.trainable_variables)
    self.regularization_losses = []
    if mlm_head is not None:
      self.mlm = MaskedLMModel(bert_model, mlm_head)

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
    """-> {"vocab_file": path string, "do_lower_case": bool} (Google's; the
    path of the SentencePiece model when there is one, as in ALBERT's TF1
    modules)."""
    asset = getattr(self, "sp_model_file", None) or self.vocab_file
    return {"vocab_file": asset.asset_path,
            "do_lower_case": tf.identity(self.do_lower_case)}


class MaskedLMModel(tf.Module):
  """Model Garden's `mlm` subobject: the encoder plus its masked-LM head.

  `module.mlm(dict(input_word_ids=..., input_mask=..., input_type_ids=...,
  masked_lm_positions=...))` -> the encoder's outputs plus `mlm_logits`
  [batch, num_predictions, vocab_size]: Google's `cls/predictions` (dense,
  activation, LayerNorm, the word embeddings transposed, output_bias), whose
  log-softmax are run_pretraining's masked_lm_log_probs.
  """

  variables = ()
  trainable_variables = ()
  regularization_losses = ()

  def __init__(self, bert_model, head):
    """Wraps the encoder and the head.

    Args:
      bert_model: modeling.BertModel.
      head: holds Google's `cls/predictions/*`: `transform` (dense [H, E]),
        `layer_norm` and `output_bias` [V] (heads.MaskedLMHead).
    """
    super().__init__(name=None)
    self.bert = bert_model
    self.head = head
    self.variables = list(bert_model.variables) + list(head.variables)
    self.trainable_variables = (list(bert_model.trainable_variables) +
                                list(head.trainable_variables))
    self.regularization_losses = []

  @tf.function
  def __call__(self, inputs, training=False):
    """Runs the encoder and the head.

    Args:
      inputs: dict input_word_ids, input_mask, input_type_ids (int32
        [batch, seq]) and masked_lm_positions (int32 [batch, predictions]).
      training: dropout on.

    Returns:
      dict: pooled_output, sequence_output, encoder_outputs (as HubEncoder)
      and mlm_logits float32 [batch, predictions, vocab_size].
    """
    outputs = self.bert(inputs["input_word_ids"],
                        input_mask=inputs["input_mask"],
                        token_type_ids=inputs["input_type_ids"],
                        training=training)
    positions = inputs["masked_lm_positions"]
    selected = tf.gather(outputs.sequence_output, positions, batch_dims=1)
    hidden = self.head.transform(
        tf.reshape(selected, [-1, self.bert.config.hidden_size]))
    activation = modeling.get_activation(self.bert.config.hidden_act)
    if activation is not None:
      hidden = activation(hidden)
    hidden = self.head.layer_norm(hidden)
    logits = tf.matmul(hidden, outputs.embedding_table, transpose_b=True)
    logits = tf.nn.bias_add(logits, self.head.output_bias)
    shape = tf.shape(positions)
    return {
        "pooled_output": outputs.pooled_output,
        "sequence_output": outputs.sequence_output,
        "encoder_outputs": list(outputs.all_encoder_layers),
        "mlm_logits": tf.reshape(logits, [shape[0], shape[1], -1]),
    }


def export_hub_encoder(bert_model, export_dir, vocab_file, do_lower_case,
                       mlm_head=None, sp_model_file=None,
                       overwrite=False):
  """Writes the encoder as a TF Hub style SavedModel.

  Both `training=False` and `training=True` are traced, so the loaded module
  can be fine-tuned (`module.trainable_variables`, dropout on).

  Args:
    bert_model: modeling.BertModel or AlbertModel (weights loaded).
    export_dir: output directory.
    vocab_file: the vocabulary file (stored as an asset); None with
      sp_model_file.
    do_lower_case: bool.
    mlm_head: optional masked-LM head with its weights (see MaskedLMModel):
      the module then also has Model Garden's `mlm` subobject.
    sp_model_file: ALBERT's SentencePiece model (stored as the
      `sp_model_file` asset instead of a vocab_file).
    overwrite: replace a directory that is not an earlier export.

  Returns:
    export_dir.
  """
  validation.check_export_dir("export_dir", export_dir, overwrite)
  module = HubEncoder(bert_model, vocab_file, do_lower_case, mlm_head,
                      sp_model_file)
  inputs = {n: tf.TensorSpec([None, None], tf.int32, name=n)
            for n in HUB_INPUTS}
  mlm_inputs = dict(inputs, masked_lm_positions=tf.TensorSpec(
      [None, None], tf.int32, name="masked_lm_positions"))
  for training in (False, True):
    module.__call__.get_concrete_function(inputs, training=training)
    if mlm_head is not None:
      module.mlm.__call__.get_concrete_function(mlm_inputs, training=training)
  _save_atomically(module, export_dir, {
      "serving_default": module.serve.get_concrete_function(),
      "tokenization_info": module.tokenization_info.get_concrete_function(),
  }, overwrite)
  return export_dir


def bert_pack_inputs(segments, seq_length, start_of_sequence_id,
                     end_of_segment_id, padding_id):
  """Packs token ids as Google's convert_single_example does.

  `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated by Google's
  truncate_seq_pair rule (remove from the longer segment, from B on a tie),
  zero-padded to seq_length. As in Google's run_classifier, an empty B is no
  B (`[CLS] A [SEP]`, A truncated to seq_length - 2), where TF Hub's
  preprocessors would add a second [SEP].

  Args:
    segments: list of 1 or 2 int32 RaggedTensors [batch, (tokens)] or
      [batch, (words), (pieces)] (the output of `tokenize`).
    seq_length: int or int32 scalar tensor.
    start_of_sequence_id, end_of_segment_id, padding_id: the ids of [CLS],
      [SEP] and [PAD].

  Returns:
    dict input_word_ids, input_mask, input_type_ids: int32 [batch,
    seq_length].
  """
  if len(segments) not in (1, 2):
    raise ValueError("bert_pack_inputs takes 1 or 2 segments, got %d." %
                     len(segments))
  segments = [s.merge_dims(1, -1) if s.ragged_rank > 1 else s
              for s in segments]
  lengths = [s.row_lengths() for s in segments]
  seq_length = tf.cast(seq_length, tf.int64)
  # One [CLS], one [SEP] per present segment.
  present = [tf.ones_like(lengths[0], tf.bool)] + [l > 0 for l in lengths[1:]]
  budget = tf.maximum(
      seq_length - 1 - tf.add_n([tf.cast(p, tf.int64) for p in present]), 0)
  if len(segments) == 1:
    keep = [tf.minimum(lengths[0], budget)]
  else:
    # truncate_seq_pair's loop in closed form.
    over = lengths[0] + lengths[1] > budget
    first = tf.where(over, tf.minimum(lengths[0], tf.maximum(
        budget - lengths[1], (budget + 1) // 2)), lengths[0])
    keep = [first, tf.where(over, budget - first, lengths[1])]
  batch_size = segments[0].nrows()
  start = tf.fill([batch_size, 1], start_of_sequence_id)
  ids, types = [start], [tf.zeros_like(start)]
  for index, (segment, length, kept, here) in enumerate(
      zip(segments, lengths, keep, present)):
    segment = tf.ragged.boolean_mask(
        segment, tf.ragged.range(length) < kept[:, None])
    end = tf.ragged.boolean_mask(
        tf.fill([batch_size, 1], end_of_segment_id), here[:, None])
    ids += [tf.cast(segment, tf.int32), end]
    types += [tf.fill(tf.shape(segment), index),
              tf.fill(tf.shape(end), index)]
  ids = tf.concat(ids, axis=1)
  shape = [batch_size, seq_length]
  return {
      "input_word_ids": ids.to_tensor(default_value=padding_id, shape=shape),
      "input_mask": tf.ones_like(ids).to_tensor(shape=shape),
      "input_type_ids": tf.concat(types, axis=1).to_tensor(shape=shape),
  }


class _Tokenize(tf.Module):
  """The preprocessor's `tokenize` subobject (TF Hub's API)."""

  def __init__(self, tokenizer, special_tokens):
    """Args: a tokenizer of tf_tokenization; dict name -> id."""
    super().__init__(name=None)
    self.tokenizer = tokenizer
    self.special_tokens = dict(special_tokens)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, sentences):
    """string [batch] -> int32 RaggedTensor [batch, (words), (pieces)]
    (WordPiece) or [batch, (pieces)] (SentencePiece)."""
    return self.tokenizer.tokenize(sentences)

  @tf.function(input_signature=[])
  def get_special_tokens_dict(self):
    """dict vocab_size, start_of_sequence_id, end_of_segment_id,
    padding_id, mask_id -> int32 scalars (Model Garden's keys)."""
    return {k: tf.constant(v, tf.int32)
            for k, v in self.special_tokens.items()}


class _PackInputs(tf.Module):
  """The preprocessor's `bert_pack_inputs` subobject (TF Hub's API)."""

  def __init__(self, special_tokens, default_seq_length):
    """Args: dict name -> id; the seq_length used when none is passed."""
    super().__init__(name=None)
    ids = (special_tokens["start_of_sequence_id"],
           special_tokens["end_of_segment_id"], special_tokens["padding_id"])

    def pack(inputs, seq_length=int(default_seq_length)):
      """bert_pack_inputs with this vocabulary's special ids.

      Args:
        inputs: list of 1 or 2 int32 RaggedTensors (ragged rank 1 or 2).
        seq_length: int32 scalar.

      Returns:
        dict input_word_ids, input_mask, input_type_ids: int32 [batch, seq].
      """
      return bert_pack_inputs(inputs, seq_length, *ids)

    # An attribute, as in Model Garden's export: its default seq_length is
    # this instance's, and the loaded object is callable with or without it.
    self.__call__ = tf.function(pack)


class BertPreprocessor(tf.Module):
  """Text -> encoder inputs, as TF Hub's BERT preprocessing models.

  `preprocessor(sentences)` (string [batch]) -> dict input_word_ids,
  input_mask, input_type_ids (int32 [batch, default_seq_length]) for one
  segment; `preprocessor.tokenize(sentences)` -> int32 RaggedTensor [batch,
  (words), (pieces)] and `preprocessor.bert_pack_inputs([a, b],
  seq_length=...)` for pairs. The tokens are Google's FullTokenizer's
  (tf_tokenization.py, core TensorFlow ops only), or with an ALBERT
  SentencePiece model ALBERT's preprocess_text + encode_ids (tensorflow_text's
  SentencePiece ops: `import tensorflow_text` before loading it, as for TF
  Hub's own ALBERT preprocessor).
  """

  def __init__(self, vocab_file, do_lower_case, default_seq_length=128,
               spm_model_file=None):
    """Builds the tokenizer and the packer.

    Args:
      vocab_file: the encoder's vocab.txt (also stored as an asset); unused
        with spm_model_file.
      do_lower_case: bool, the encoder's casing.
      default_seq_length: the sequence length of `preprocessor(sentences)`
        and of bert_pack_inputs without seq_length.
      spm_model_file: ALBERT's SentencePiece model (stored as the asset
        `sp_model_file`), instead of a WordPiece vocab_file.
    """
    super().__init__(name=None)
    if spm_model_file:
      tokenizer = tf_tokenization.AlbertTextTokenizer(spm_model_file,
                                                      do_lower_case)
      ids = tokenizer.special_ids
      # ALBERT pads with id 0 (<pad>).
      special_tokens = {
          "vocab_size": tokenizer.vocab_size,
          "start_of_sequence_id": ids["[CLS]"],
          "end_of_segment_id": ids["[SEP]"], "padding_id": 0,
          "mask_id": ids["[MASK]"]}
      self.sp_model_file = tf.saved_model.Asset(spm_model_file)
    else:
      tokenizer = tf_tokenization.BertTextTokenizer(vocab_file, do_lower_case)
      vocab = tokenizer.vocab
      special_tokens = {
          "vocab_size": len(vocab), "start_of_sequence_id": vocab["[CLS]"],
          "end_of_segment_id": vocab["[SEP]"], "padding_id": vocab["[PAD]"],
          "mask_id": vocab["[MASK]"]}
      self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False,
                                     name="do_lower_case")
    self.tokenize = _Tokenize(tokenizer, special_tokens)
    self.bert_pack_inputs = _PackInputs(special_tokens, default_seq_length)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, sentences):
    """One-segment preprocessing: string [batch] -> encoder inputs."""
    return self.bert_pack_inputs.__call__([self.tokenize(sentences)])


def export_preprocessor(export_dir, vocab_file, do_lower_case,
                        default_seq_length=128, overwrite=False,
                        spm_model_file=None):
  """Writes the preprocessing SavedModel matching an encoder export.

  Args:
    export_dir: output directory (written to a temporary name, renamed).
    vocab_file: the encoder's vocabulary.
    do_lower_case: bool, the encoder's casing.
    default_seq_length: see BertPreprocessor.
    overwrite: replace a directory that is not an earlier export.
    spm_model_file: ALBERT's SentencePiece model, instead of vocab_file.

  Returns:
    export_dir.
  """
  validation.check_export_dir("preprocessor_dir", export_dir, overwrite)
  module = BertPreprocessor(vocab_file, do_lower_case, default_seq_length,
                            spm_model_file=spm_model_file)
  for ragged_rank in (1, 2):
    spec = tf.RaggedTensorSpec([None] * (ragged_rank + 1), tf.int32,
                               ragged_rank=ragged_rank,
                               row_splits_dtype=tf.int64)
    for num_segments in (1, 2):
      module.bert_pack_inputs.__call__.get_concrete_function(
          [spec] * num_segments, seq_length=tf.TensorSpec([], tf.int32))
  _save_atomically(module, export_dir, {
      "serving_default": module.__call__.get_concrete_function()},
                   overwrite, flag_name="preprocessor_dir")
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


def _check_tokenizer_flags(family, f):
  """Refuses tokenizer flags the family or the preprocessor cannot use."""
  # The family's checks: WordPiece needs --vocab_file, BERT refuses a
  # SentencePiece model, ALBERT needs one of them.
  family.create_tokenizer(vocab_file=f.vocab_file,
                          do_lower_case=f.do_lower_case,
                          spm_model_file=f.spm_model_file)
  if f.preprocessor_dir and family.name == "albert" and not f.spm_model_file:
    raise validation.UsageError(
        "--preprocessor_dir: ALBERT's preprocessing model is SentencePiece's: "
        "pass --spm_model_file (%s is an ALBERT config)" % f.bert_config_file)
  if f.preprocessor_dir and f.spm_model_file:
    try:  # refused now, not after the encoder's export
      tf_tokenization.import_tensorflow_text()
    except ImportError as e:
      raise validation.UsageError("--preprocessor_dir: %s" % e) from e


def main(_):
  """Exports --init_checkpoint's encoder (and head, and preprocessor)."""
  f = flags.FLAGS
  family, config = encoders.load_config(f.bert_config_file, f.encoder_family)
  _check_tokenizer_flags(family, f)
  model = encoders.EncoderSpec(family, config).create()
  checkpoints.restore(model, f.init_checkpoint, allow_missing=False)
  head = None
  if f.with_mlm:
    head = heads.MaskedLMHead.tied_to(model.get_embedding_table(),
                                      config.hidden_size, config.hidden_act,
                                      config.initializer_range)
    checkpoints.restore(head, f.init_checkpoint, allow_missing=False)
  export_hub_encoder(model, f.export_dir,
                     None if f.spm_model_file else f.vocab_file,
                     f.do_lower_case, mlm_head=head,
                     sp_model_file=f.spm_model_file, overwrite=f.overwrite)
  if f.preprocessor_dir:
    export_preprocessor(f.preprocessor_dir, f.vocab_file, f.do_lower_case,
                        f.max_seq_length, overwrite=f.overwrite,
                        spm_model_file=f.spm_model_file)


if __name__ == "__main__":
  task_lib.define_shared_flags(["encoder_family", "bert_config_file",
                                "init_checkpoint", "vocab_file",
                                "spm_model_file", "do_lower_case",
                                "max_seq_length"])
  flags.DEFINE_string("export_dir", None, "Where to write the module.")
  flags.DEFINE_bool("overwrite", False,
                    "Replace --export_dir (and --preprocessor_dir) even when "
                    "it holds files that are not an earlier export (without "
                    "it such a directory is refused; nothing is deleted).")
  flags.DEFINE_bool("with_mlm", False,
                    "Also export the masked-LM head as the `mlm` subobject "
                    "(the checkpoint must hold cls/predictions/*).")
  flags.DEFINE_string("preprocessor_dir", None,
                      "Where to write the matching preprocessing model "
                      "(text -> encoder inputs), if anywhere; its default "
                      "sequence length is --max_seq_length.")
  # --vocab_file (or, for ALBERT, --spm_model_file): checked in main.
  task_lib.app_main(main, ["bert_config_file", "init_checkpoint",
                           "export_dir"])
