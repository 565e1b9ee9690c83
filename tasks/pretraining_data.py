# coding=utf-8
"""The pre-training records: their layouts, checks and input functions.

create_pretraining_data.py (BERT's) and albert/create_pretraining_data.py
write TFRecord files and, next to each file F, a JSON sidecar F.json
(ARCHITECTURE.md, "Pretraining data sidecar"). A set of files has one
layout: next-sentence (or sentence-order) labels or masked-LM only, masks
drawn when the records were written (static, Google's) or by the input
pipeline (dynamic, dynamic_masking.py). The layout comes from the sidecars
(an old sidecar without the keys is Google's: next-sentence labels, static
masks), else from the features of the first record; flags may narrow it
(train masked-LM only on records with next-sentence labels) but never ask
for features the records lack.

The input functions are Google's pipeline (run_pretraining.input_fn_builder)
for every layout; with dynamic masking each batch is masked after parsing,
every example by its position in the stream (dynamic_masking.mask_batches).
"""

import collections
import hashlib
import json

from absl import logging
import tensorflow as tf

import dynamic_masking
import estimator_lib
import io_lib
import tokenization
import validation

# Google's record schema (create_pretraining_data.py): name -> (length flag,
# dtype). A layout's records hold a sub-sequence of these, in this order.
RECORD_FEATURES = (
    ("input_ids", "max_seq_length", tf.int64),
    ("input_mask", "max_seq_length", tf.int64),
    ("segment_ids", "max_seq_length", tf.int64),
    ("masked_lm_positions", "max_predictions_per_seq", tf.int64),
    ("masked_lm_ids", "max_predictions_per_seq", tf.int64),
    ("masked_lm_weights", "max_predictions_per_seq", tf.float32),
    ("next_sentence_labels", None, tf.int64),
)
MASKED_LM_FEATURES = ("masked_lm_positions", "masked_lm_ids",
                      "masked_lm_weights")
MASKINGS = ("static", "dynamic")
# Google's create_pretraining_data defaults, for dynamic records without a
# sidecar.
DEFAULT_MASKED_LM_PROB = 0.15


class RecordLayout(collections.namedtuple("RecordLayout", [
    "next_sentence_prediction", "masking", "masked_lm_prob",
    "do_whole_word_mask", "vocab_sha256", "source"])):
  """What a set of record files holds, and how dynamic masks are drawn.

  Fields:
    next_sentence_prediction: bool, the records have next_sentence_labels
      (next-sentence or sentence-order labels).
    masking: "static" (masked_lm_* features in the records) or "dynamic".
    masked_lm_prob, do_whole_word_mask: the masking rule's settings (used
      with dynamic masking).
    vocab_sha256: the sidecar's vocabulary digest, or None.
    source: where the layout was read (a sidecar or a record file), for
      messages.
  """

  def feature_names(self):
    """The features the records hold (Google's order)."""
    names = ["input_ids", "input_mask", "segment_ids"]
    if self.masking == "static":
      names += list(MASKED_LM_FEATURES)
    if self.next_sentence_prediction:
      names.append("next_sentence_labels")
    return tuple(names)


GOOGLE_LAYOUT = RecordLayout(True, "static", DEFAULT_MASKED_LM_PROB, False,
                             None, "Google's layout")


def read_sidecar(input_file):
  """The JSON sidecar of a record file (F.json), or None.

  Raises:
    validation.DataError: the sidecar is not a JSON object.
  """
  path = input_file + ".json"
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    try:
      meta = json.load(f)
    except ValueError as e:
      raise validation.DataError("%s (the sidecar of %s) is not JSON: %s" %
                                 (path, input_file, e))
  if not isinstance(meta, dict):
    raise validation.DataError("%s (the sidecar of %s) is not a JSON object" %
                               (path, input_file))
  return meta


def first_record_lengths(input_file):
  """Feature name -> number of values in the first record of `input_file`.

  Raises:
    validation.DataError: the file holds no records.
  """
  for raw in tf.data.TFRecordDataset(input_file).take(1):
    example = tf.train.Example.FromString(raw.numpy())
    lengths = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      lengths[name] = len(getattr(feature, kind).value) if kind else 0
    return lengths
  raise validation.DataError("%s holds no records." % input_file)


def file_layout(input_file):
  """The layout of one record file: its sidecar's, else its first record's.

  Returns:
    (RecordLayout, sidecar dict or None).
  """
  meta = read_sidecar(input_file)
  if meta is not None:
    masking = meta.get("masking", "static")
    if masking not in MASKINGS:
      raise validation.DataError(
          "%s.json: masking=%r is not one of %s" %
          (input_file, masking, ", ".join(MASKINGS)))
    return RecordLayout(
        bool(meta.get("next_sentence_prediction", True)), masking,
        float(meta.get("masked_lm_prob", DEFAULT_MASKED_LM_PROB)),
        bool(meta.get("do_whole_word_mask", False)),
        meta.get("vocab_sha256"), input_file + ".json"), meta
  names = first_record_lengths(input_file)
  if "input_ids" not in names:
    raise validation.DataError(
        "%s: the first record has no feature 'input_ids' (is it a "
        "pretraining record file?)" % input_file)
  return RecordLayout(
      "next_sentence_labels" in names,
      "static" if "masked_lm_positions" in names else "dynamic",
      DEFAULT_MASKED_LM_PROB, False, None, input_file), None


def _layout_text(layout):
  """'masked-LM only, dynamic masking' for messages."""
  return "%s, %s masking" % (
      "with next_sentence_labels" if layout.next_sentence_prediction else
      "masked-LM only", layout.masking)


def files_layout(input_files, flag_name="input_file"):
  """The one layout of a set of record files.

  Raises:
    validation.DataError: two files have different layouts (naming both).
  """
  first = None
  for input_file in input_files:
    layout, _ = file_layout(input_file)
    if first is None:
      first = layout
    elif (layout.next_sentence_prediction, layout.masking) != (
        first.next_sentence_prediction, first.masking):
      raise validation.DataError(
          "--%s: %s holds records %s (%s) but %s %s (%s); give files of one "
          "layout" % (flag_name, input_files[0], _layout_text(first),
                      first.source, input_file, _layout_text(layout),
                      layout.source))
  return first


def _check_sidecar_lengths(input_file, meta, wanted, vocab_size):
  """The sidecar's lengths against the flags (see check_input_files)."""
  sidecar = input_file + ".json"
  for flag, value in wanted.items():
    if flag not in meta:
      continue
    written = int(meta[flag])
    slots = written
    if flag == "max_predictions_per_seq" and meta.get("do_permutation"):
      slots = 2 * written  # ALBERT's --do_permutation doubles the arrays
    if slots != value:
      hint = ""
      if slots != written:
        hint = (" (with --do_permutation the records hold 2 x %d = %d "
                "masked-LM slots; pass --%s=%d, as ALBERT's run_pretraining "
                "needs)" % (written, slots, flag, slots))
      raise validation.UsageError(
          "%s was written with %s=%d (see %s) but --%s=%d; both must be "
          "equal%s." % (input_file, flag, written, sidecar, flag, value, hint))
  if vocab_size and meta.get("vocab_size", 0) > vocab_size:
    raise validation.UsageError(
        "%s was written with a vocabulary of %d tokens (see %s) but the "
        "model config's vocab_size is %d." % (input_file, meta["vocab_size"],
                                              sidecar, vocab_size))


def _check_record_lengths(input_file, layout, wanted):
  """The first record's feature lengths against the flags."""
  lengths = first_record_lengths(input_file)
  specs = {name: flag for name, flag, _ in RECORD_FEATURES}
  for name in layout.feature_names():
    flag = specs[name]
    expected = wanted[flag] if flag else 1
    if lengths[name] != expected:
      raise validation.UsageError(
          "%s: feature %s has length %d in the first record but --%s=%d; "
          "they must be equal (records from create_pretraining_data.py with "
          "the same flag)." % (input_file, name, lengths[name], flag or
                               "next_sentence_labels length", expected))


def check_input_files(input_files, max_seq_length, max_predictions_per_seq,
                      vocab_size=None, flag_name="input_file"):
  """Checks that the records were made with the same lengths as the flags.

  Google's parser fails with an obscure shape error on a mismatch. This reads
  the sidecar JSON written by create_pretraining_data.py (`F.json`) where there
  is one, else the first record of the file.

  Args:
    input_files: list of TFRecord files.
    max_seq_length: the `--max_seq_length` flag.
    max_predictions_per_seq: the `--max_predictions_per_seq` flag (the
      length of static records' masked-LM arrays; the masks drawn for
      dynamic ones).
    vocab_size: the model's vocab_size, or None (checked against the sidecar).
    flag_name: the flag naming the files.

  Returns:
    The files' RecordLayout.

  Raises:
    validation.UsageError: naming the file, the feature or flag, and both
      lengths; validation.DataError: files of different layouts.
  """
  wanted = {"max_seq_length": max_seq_length,
            "max_predictions_per_seq": max_predictions_per_seq}
  layout = files_layout(input_files, flag_name)
  for input_file in input_files:
    file_layout_, meta = file_layout(input_file)
    if meta is not None:
      _check_sidecar_lengths(input_file, meta, wanted, vocab_size)
    else:
      _check_record_lengths(input_file, file_layout_, wanted)
  return layout


def resolve_layout(layout, next_sentence_prediction=None, masking=None,
                   masked_lm_prob=None, do_whole_word_mask=None,
                   flag_name="input_file"):
  """The layout the input pipeline reads: the records' narrowed by the flags.

  Args:
    layout: the files' RecordLayout (files_layout / check_input_files).
    next_sentence_prediction: the flag, or None (the records decide). False
      on records with labels trains masked-LM only (the labels are not read);
      True on masked-LM-only records is an error.
    masking: the flag, or None; it must be the records' masking.
    masked_lm_prob, do_whole_word_mask: the flags, or None (the sidecar's);
      they set how dynamic masks are drawn, and are refused for static
      records (masked when they were written).
    flag_name: the flag naming the files.

  Returns:
    RecordLayout.

  Raises:
    validation.UsageError: a flag asks for what the records cannot give.
  """
  if masking is not None and masking != layout.masking:
    raise validation.UsageError(
        "--masking=%s but --%s holds %s (%s); make them with "
        "create_pretraining_data.py --masking=%s" % (
            masking, flag_name, {
                "static": "records masked when they were written",
                "dynamic": "unmasked records for dynamic masking"}[
                    layout.masking], layout.source, masking))
  if next_sentence_prediction and not layout.next_sentence_prediction:
    raise validation.UsageError(
        "--next_sentence_prediction=True but --%s holds masked-LM-only "
        "records without next_sentence_labels (%s)" % (flag_name,
                                                       layout.source))
  if layout.masking == "static":
    for name, value in (("masked_lm_prob", masked_lm_prob),
                        ("do_whole_word_mask", do_whole_word_mask)):
      if value is not None:
        raise validation.UsageError(
            "%s applies to dynamic masking only; --%s holds records masked "
            "when they were written (%s)" % (
                validation.flag_text(name, value), flag_name, layout.source))
  changes = {}
  if next_sentence_prediction is False and layout.next_sentence_prediction:
    logging.info("--next_sentence_prediction=False: masked-LM only, the "
                 "next_sentence_labels of %s are not read", layout.source)
    changes["next_sentence_prediction"] = False
  if masked_lm_prob is not None:
    validation.check_float("masked_lm_prob", masked_lm_prob, 0.0, 1.0,
                           min_exclusive=True, max_exclusive=True)
    changes["masked_lm_prob"] = float(masked_lm_prob)
  if do_whole_word_mask is not None:
    changes["do_whole_word_mask"] = bool(do_whole_word_mask)
  return layout._replace(**changes)


def file_sha256(path):
  """Hex sha256 of a file's bytes (the sidecar's vocab_sha256)."""
  digest = hashlib.sha256()
  with tf.io.gfile.GFile(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def wordpiece_masker(vocab_file, layout, max_predictions_per_seq,
                     vocab_size=None):
  """The DynamicMasker of a layout, over a WordPiece vocab.txt.

  Args:
    vocab_file: the vocabulary the records were written with (--vocab_file).
    layout: RecordLayout (masked_lm_prob, do_whole_word_mask, vocab_sha256).
    max_predictions_per_seq: int.
    vocab_size: the model's vocab_size (random replacements must be ids of
      the model), or None.

  Returns:
    dynamic_masking.DynamicMasker.

  Raises:
    validation.UsageError: no --vocab_file, or not the records' vocabulary.
  """
  if not vocab_file:
    raise validation.UsageError(
        "--vocab_file is needed to mask the dynamically masked records of "
        "%s (the ids of [CLS], [SEP], [MASK] and of word pieces)" %
        layout.source)
  validation.check_input_file("vocab_file", vocab_file)
  if layout.vocab_sha256 and file_sha256(vocab_file) != layout.vocab_sha256:
    raise validation.UsageError(
        "--vocab_file=%s is not the vocabulary the records were written with "
        "(its sha256 differs from vocab_sha256 in %s)" % (vocab_file,
                                                          layout.source))
  vocab = tokenization.load_vocab(vocab_file)
  size = max(vocab.values()) + 1
  if vocab_size and size > vocab_size:
    raise validation.UsageError(
        "--vocab_file=%s has %d ids but the model config's vocab_size is %d" %
        (vocab_file, size, vocab_size))
  missing = [t for t in ("[CLS]", "[SEP]", "[MASK]") if t not in vocab]
  if missing:
    raise validation.UsageError("--vocab_file=%s has no %s token" % (
        vocab_file, " or ".join(missing)))
  return dynamic_masking.DynamicMasker.from_vocab(
      vocab, max_predictions_per_seq=max_predictions_per_seq,
      masked_lm_prob=layout.masked_lm_prob,
      do_whole_word_mask=layout.do_whole_word_mask)


def input_fn_builder(input_files,
                     max_seq_length,
                     max_predictions_per_seq,
                     is_training,
                     num_cpu_threads=4,
                     layout=None,
                     masker=None):
  """Creates an `input_fn` closure for the Estimator (Google's pipeline).

  Training: file list -> repeat -> shuffle(files) -> interleave(TFRecordDataset,
  min(num_cpu_threads, files)) -> shuffle(100) -> batch(drop_remainder). With
  `params["seed"]` the shuffles are seeded and the interleave deterministic,
  so the order is a function of the seed. Eval: the files in order, repeated.
  Dynamically masked records are masked after parsing, each example by
  --seed and its position (training) or index (evaluation) in the stream of
  its input pipeline.

  Args:
    input_files: list of TFRecord files.
    max_seq_length: int.
    max_predictions_per_seq: int.
    is_training: bool.
    num_cpu_threads: int, interleave cycle length (and parallel parsing).
    layout: the RecordLayout to read (resolve_layout); None: Google's.
    masker: dynamic_masking.DynamicMasker, for a dynamic layout.

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts: input_ids, input_mask,
    segment_ids [B, max_seq_length] int32; masked_lm_positions, masked_lm_ids
    [B, max_predictions_per_seq] int32; masked_lm_weights [B, P] float32;
    with next-sentence labels next_sentence_labels [B, 1] int32. It declares
    `input_fn.input_files` (named in data errors).
  """
  layout = layout or GOOGLE_LAYOUT
  if layout.masking == "dynamic" and masker is None:
    raise validation.UsageError("The records of %s are masked dynamically: "
                                "give a masker (--vocab_file)" % layout.source)
  lengths = {"max_seq_length": max_seq_length,
             "max_predictions_per_seq": max_predictions_per_seq, None: 1}
  names = layout.feature_names()
  name_to_features = {
      name: tf.io.FixedLenFeature([lengths[flag]], dtype)
      for name, flag, dtype in RECORD_FEATURES if name in names
  }

  def input_fn(params):
    """The actual input function."""
    batch_size = params["batch_size"]
    context = params.get("input_context")
    d = _records(list(input_files), is_training, params.get("seed"), context,
                 num_cpu_threads)
    d = d.batch(batch_size, drop_remainder=True)
    d = d.map(lambda r: estimator_lib.decode_records(r, name_to_features),
              num_parallel_calls=tf.data.AUTOTUNE)
    if layout.masking == "dynamic":
      d = dynamic_masking.mask_batches(
          d, masker, params.get("seed") or 0, batch_size,
          evaluation=not is_training,
          stream=context.input_pipeline_id if context else 0)
    return d.prefetch(tf.data.AUTOTUNE)

  input_fn.input_files = list(input_files)
  return input_fn


def _records(files, is_training, seed, context, num_cpu_threads):
  """Google's order of the serialized records (see input_fn_builder).

  Args:
    files: list of TFRecord files.
    is_training: repeat and shuffle (seeded with `seed`).
    seed: int or None.
    context: tf.distribute.InputContext or None (this pipeline's shard).
    num_cpu_threads: interleave cycle length.

  Returns:
    tf.data.Dataset of serialized records (strings).
  """
  if not is_training:
    d = tf.data.TFRecordDataset(files)
    if context:
      d = d.shard(context.num_input_pipelines, context.input_pipeline_id)
    # A fixed number of eval steps: never run out of data (as Google).
    return d.repeat()
  d = tf.data.Dataset.from_tensor_slices(tf.constant(files))
  if context and len(files) >= context.num_input_pipelines:
    d = d.shard(context.num_input_pipelines, context.input_pipeline_id)
    context = None
  d = d.repeat()
  d = d.shuffle(buffer_size=len(files), seed=seed)
  cycle_length = min(num_cpu_threads, len(files))
  d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length,
                   num_parallel_calls=cycle_length,
                   deterministic=seed is not None)
  if context:
    d = d.shard(context.num_input_pipelines, context.input_pipeline_id)
  return d.shuffle(buffer_size=100, seed=seed)


class RecordSet(collections.namedtuple("RecordSet",
                                       ["files", "layout", "masker"])):
  """Record files, the layout the pipeline reads and its masker (or None)."""


def _expand(spec, flag_name):
  """Globs of a flag -> files, each checked to hold a readable record."""
  try:
    files = io_lib.expand_globs(spec, "--" + flag_name)
  except ValueError as e:
    raise validation.UsageError(str(e))
  estimator_lib.check_record_files(files, flag_name)
  return files


def _log_files(title, files, layout):
  """Google's '*** Input Files ***' list, with the layout."""
  logging.info("*** %s ***", title)
  for input_file in files:
    logging.info("  %s", input_file)
  logging.info("  records %s (%s)", _layout_text(layout), layout.source)


def prepare_records(input_file, eval_input_file, max_seq_length,
                    max_predictions_per_seq, vocab_size=None, do_train=True,
                    do_eval=False, next_sentence_prediction=None,
                    masking=None, masked_lm_prob=None,
                    do_whole_word_mask=None, vocab_file=None):
  """The records of a run, checked against the flags before any work.

  Args:
    input_file: --input_file (comma-separated globs).
    eval_input_file: --eval_input_file, or None (the training files, as
      Google's).
    max_seq_length, max_predictions_per_seq: the flags.
    vocab_size: the model's vocab_size (checked against the sidecars).
    do_train, do_eval: which sets are read.
    next_sentence_prediction, masking, masked_lm_prob, do_whole_word_mask:
      the layout flags, or None (the records decide; see resolve_layout).
    vocab_file: the WordPiece vocabulary, needed for dynamic masking.

  Returns:
    dict of PretrainingTask arguments: train_records, eval_records
    (RecordSet or None) and next_sentence_prediction (whether the model
    trains the next-sentence / sentence-order head: the flag, else the
    records of the first set read).

  Raises:
    validation.UsageError: naming the flag or file.
  """
  train_files = _expand(input_file, "input_file")
  eval_files = (_expand(eval_input_file, "eval_input_file")
                if eval_input_file else train_files)
  sets = [("input_file", train_files)] if do_train else []
  if do_eval:
    sets.append(("eval_input_file" if eval_input_file else "input_file",
                 eval_files))
  layouts = [check_input_files(files, max_seq_length,
                               max_predictions_per_seq, vocab_size, flag)
             for flag, files in sets]
  nsp = next_sentence_prediction
  if nsp is None:
    nsp = layouts[0].next_sentence_prediction
  records = []
  for (flag, files), layout in zip(sets, layouts):
    if nsp and not layout.next_sentence_prediction:
      raise validation.UsageError(
          "The model trains the next-sentence head (the records of --%s "
          "have next_sentence_labels) but --%s holds masked-LM-only records "
          "(%s); give --next_sentence_prediction=False" % (
              sets[0][0], flag, layout.source))
    layout = resolve_layout(layout, nsp, masking, masked_lm_prob,
                            do_whole_word_mask, flag)
    masker = None
    if layout.masking == "dynamic":
      masker = wordpiece_masker(vocab_file, layout, max_predictions_per_seq,
                                vocab_size)
    records.append(RecordSet(files, layout, masker))
  result = {"next_sentence_prediction": nsp, "train_records": None,
            "eval_records": None}
  if do_train:
    result["train_records"] = records[0]
    _log_files("Input Files", train_files, records[0].layout)
  if do_eval:
    result["eval_records"] = records[-1]
    _log_files("Evaluation Files", eval_files, records[-1].layout)
  return result
