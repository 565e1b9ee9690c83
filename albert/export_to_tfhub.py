# coding=utf-8
r"""Exports a minimal TF-Hub module for ALBERT models.

google-research/albert's export_to_tfhub.py (b772393) for TensorFlow 2, with
its flags: `--albert_directory` (holding `albert_config.json`,
`30k-clean.model` and the checkpoint), `--checkpoint_name`
(`model.ckpt-best`), `--do_lower_case`, `--use_einsum` (accepted, changes
nothing) and `--export_path`. New: `--albert_config_file`, `--spm_model_file`
and `--vocab_file` name the files when they are elsewhere or named otherwise
(`--checkpoint_name` may then be a path), so a directory is not needed.

ALBERT wrote a TF1 Hub module (`hub.Module`, signatures `tokens`, `mlm`,
`sop`, `tokenization_info`), which TensorFlow 2 cannot fine-tune. This writes
the TF2 SavedModel convention of the project's BERT export (export_lib) and
of TF Hub's TF2 encoders:

  encoder = hub.load(export_path)          # or tf.saved_model.load
  outputs = encoder(dict(input_word_ids=ids, input_mask=mask,
                         input_type_ids=segment_ids), training=False)
  outputs["pooled_output"]      # [batch, H]
  outputs["sequence_output"]    # [batch, seq, H]
  outputs["encoder_outputs"]    # one [batch, seq, H] per attention-FFN block
  encoder.mlm(dict(..., masked_lm_positions=positions))["mlm_logits"]
  encoder.sp_model_file         # the SentencePiece model (asset)
  encoder.do_lower_case         # bool variable
  encoder.signatures["tokenization_info"]()  # vocab_file (the model), casing

The `mlm` subobject is ALBERT's `mlm` signature (the checkpoint's
`cls/predictions/*`; a checkpoint without them, such as a fine-tuned
classifier, is exported without it). ALBERT's `sop` signature is not
exported. `hub_lib.load_encoder` reads the module (and
run_classifier_with_tfhub.py / albert.run_classifier fine-tune it, with
ALBERT's tokenizer from its SentencePiece model).
"""

import os

from absl import flags
from absl import logging
import tensorflow as tf

import checkpoints
import encoders
import estimator_lib
import export_lib
import heads
import task_lib
import validation

FLAGS = flags.FLAGS
_define = estimator_lib.define_flag

_define(flags.DEFINE_string, "albert_directory", None,
        "The config json file corresponding to the pre-trained ALBERT model. "
        "This specifies the model architecture.")
_define(flags.DEFINE_string, "checkpoint_name", "model.ckpt-best",
        "Name of the checkpoint under albert_directory to be exported.")
_define(flags.DEFINE_bool, "do_lower_case", True,
        "Whether to lower case the input text. Should be True for uncased "
        "models and False for cased models.")
_define(flags.DEFINE_bool, "use_einsum", True,
        "Whether to use tf.einsum or tf.reshape+tf.matmul for dense layers. "
        "Must be set to False for TFLite compatibility. (Accepted; the "
        "exported products are the same either way.)")
_define(flags.DEFINE_string, "export_path", None,
        "Path to the output TF-Hub module.")
_define(flags.DEFINE_string, "albert_config_file", None,
        "(New) The ALBERT config file (default: "
        "<albert_directory>/albert_config.json).")
_define(flags.DEFINE_string, "spm_model_file", None,
        "(New) The SentencePiece model (default: "
        "<albert_directory>/30k-clean.model).")
_define(flags.DEFINE_string, "vocab_file", None,
        "(New) A WordPiece vocabulary, for an ALBERT model trained without "
        "SentencePiece (used only when there is no SentencePiece model).")

# ALBERT's released directories name their SentencePiece model so.
SPM_MODEL_NAME = "30k-clean.model"


def model_files(albert_directory, checkpoint_name, albert_config_file=None,
                spm_model_file=None, vocab_file=None):
  """The config, checkpoint and tokenizer files of an export.

  Args:
    albert_directory: ALBERT's model directory, or None.
    checkpoint_name: the checkpoint under albert_directory (or a path).
    albert_config_file, spm_model_file, vocab_file: the files, when not
      the directory's `albert_config.json` and `30k-clean.model`.

  Returns:
    (config file, checkpoint prefix, spm model or None, vocab file or None).

  Raises:
    validation.UsageError: a file is missing, naming its flag.
  """
  directory = albert_directory or ""
  if not albert_config_file and not directory:
    raise validation.UsageError(
        "--albert_directory (or --albert_config_file) is required")
  config_file = albert_config_file or os.path.join(directory,
                                                   "albert_config.json")
  validation.check_input_file(
      "albert_config_file" if albert_config_file else "albert_directory",
      config_file)
  checkpoint = os.path.join(directory, checkpoint_name)
  if not tf.io.gfile.exists(checkpoint + ".index"):
    raise validation.UsageError(
        "--checkpoint_name=%s: no checkpoint %s (no %s.index)" %
        (checkpoint_name, checkpoint, checkpoint))
  if not spm_model_file and directory and tf.io.gfile.exists(
      os.path.join(directory, SPM_MODEL_NAME)):
    spm_model_file = os.path.join(directory, SPM_MODEL_NAME)
  if spm_model_file:
    validation.check_input_file("spm_model_file", spm_model_file)
    vocab_file = None
  elif vocab_file:
    validation.check_input_file("vocab_file", vocab_file)
  else:
    raise validation.UsageError(
        "No tokenizer to export: --albert_directory has no %s; give "
        "--spm_model_file (or a WordPiece --vocab_file)" % SPM_MODEL_NAME)
  return config_file, checkpoint, spm_model_file, vocab_file


def masked_lm_head(model, checkpoint):
  """The checkpoint's `cls/predictions` head tied to `model`, or None."""
  names = checkpoints.list_checkpoint_variables(checkpoint)
  if checkpoints.checkpoint_key("cls/predictions/output_bias", names) is None:
    logging.warning("%s has no cls/predictions/*: the module has no `mlm`.",
                    checkpoint)
    return None
  config = model.config
  head = heads.MaskedLMHead.tied_to(model.get_embedding_table(),
                                    config.hidden_size, config.hidden_act,
                                    config.initializer_range)
  checkpoints.restore(head, checkpoint, allow_missing=False)
  return head


def export_albert(config_file, checkpoint, export_path, spm_model_file=None,
                  vocab_file=None, do_lower_case=True):
  """Writes the ALBERT encoder of a checkpoint as a TF Hub style module.

  Args:
    config_file: albert_config.json.
    checkpoint: the checkpoint prefix (ALBERT's names, `module/` prefixed
      ones too).
    export_path: the module directory to write (replaced if it exists).
    spm_model_file: the SentencePiece model (the `sp_model_file` asset).
    vocab_file: a WordPiece vocabulary instead (the `vocab_file` asset).
    do_lower_case: the tokenizer's casing.

  Returns:
    export_path.
  """
  family = encoders.get_family("albert")
  config = family.load_config(config_file, flag_name="albert_config_file")
  model = encoders.EncoderSpec(family, config).create()
  checkpoints.restore(model, checkpoint, allow_missing=False)
  export_lib.export_hub_encoder(model, export_path, vocab_file, do_lower_case,
                                mlm_head=masked_lm_head(model, checkpoint),
                                sp_model_file=spm_model_file)
  logging.info("Exported %s to %s", checkpoint, export_path)
  return export_path


def main(_):
  """Exports the checkpoint named by the flags as a TF Hub style module."""
  logging.set_verbosity(logging.INFO)
  config_file, checkpoint, spm_model_file, vocab_file = model_files(
      FLAGS.albert_directory, FLAGS.checkpoint_name, FLAGS.albert_config_file,
      FLAGS.spm_model_file, FLAGS.vocab_file)
  logging.info("Using checkpoint %s", checkpoint)
  export_albert(config_file, checkpoint, FLAGS.export_path, spm_model_file,
                vocab_file, FLAGS.do_lower_case)


if __name__ == "__main__":
  # --albert_directory is required unless --albert_config_file is given.
  task_lib.app_main(main, ["export_path"])
