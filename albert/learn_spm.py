# coding=utf-8
"""Learns a SentencePiece model for ALBERT with ALBERT's spm_train flags.

The sibling of learn_vocab.py (which learns BERT's WordPiece vocab.txt).
ALBERT's README trains its 30k-clean model with

  spm_train --input all.txt --model_prefix=30k-clean --vocab_size=30000
    --pad_id=0 --unk_id=1 --eos_id=-1 --bos_id=-1
    --control_symbols=[CLS],[SEP],[MASK]
    --user_defined_symbols="(,),\\",-,.,–,£,€"
    --shuffle_input_sentence=true --input_sentence_size=10000000
    --character_coverage=0.99995 --model_type=unigram

and so does this script, through the `sentencepiece` package, giving ALBERT's
id layout: <pad> 0, <unk> 1, [CLS] 2, [SEP] 3, [MASK] 4, then ( ) " - . – £ €
(5-12). The user symbols are passed as a list: spm_train reads the README's
quoted string as CSV, which gives the symbols `(`, `)` and `,-,.,–,£,€`.

Each input line goes through ALBERT's preprocess_text (lower-cased with
--do_lower_case), as albert/create_pretraining_data.py does before encoding,
so the model learns the text it will be given. Blank lines are skipped.

  python -m albert.learn_spm --input_file='corpus/*.txt' \\
    --model_prefix=30k-clean --vocab_size=30000
"""

import os

from absl import flags
from absl import logging

from albert import tokenization
import create_pretraining_data as bert_data
import io_lib
import validation

FLAGS = flags.FLAGS

# ALBERT's README spm_train flags (vocab_size and the input aside).
ALBERT_SPM_FLAGS = dict(
    pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
    control_symbols=["[CLS]", "[SEP]", "[MASK]"],
    user_defined_symbols=["(", ")", "\"", "-", ".", "–", "£", "€"],
    shuffle_input_sentence=True, input_sentence_size=10000000,
    character_coverage=0.99995, model_type="unigram")

_FLAG_NAMES = ("input_file", "model_prefix", "vocab_size", "do_lower_case",
               "input_sentence_size", "character_coverage", "num_threads",
               "random_seed")


def define_flags():
  """Defines the flags (only when run as a script).

  Importing create_pretraining_data (whose line reader this uses) defines
  BERT's --input_file and --do_lower_case, which are replaced here.
  """
  for name in _FLAG_NAMES:
    if name in FLAGS:
      delattr(FLAGS, name)
  flags.DEFINE_string(
      "input_file", None,
      "Input raw text file (or comma-separated list of files); each element "
      "may be a glob pattern.")
  flags.DEFINE_string("model_prefix", None,
                      "Writes <model_prefix>.model and <model_prefix>.vocab.")
  flags.DEFINE_integer("vocab_size", 30000, "Pieces of the model (ALBERT's).")
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Lower-case the text (preprocess_text(lower=True)); use the same value "
      "with create_pretraining_data.")
  flags.DEFINE_integer("input_sentence_size",
                       ALBERT_SPM_FLAGS["input_sentence_size"],
                       "Lines sampled for training (ALBERT's).")
  flags.DEFINE_float("character_coverage",
                     ALBERT_SPM_FLAGS["character_coverage"],
                     "Share of characters covered (ALBERT's).")
  flags.DEFINE_integer("num_threads", None,
                       "Training threads (default: all cores).")
  flags.DEFINE_integer(
      "random_seed", 12345,
      "Seed of SentencePiece's sampling, so that a run can be repeated "
      "(ALBERT's command leaves it unseeded).")


def training_lines(input_files, do_lower_case):
  """Yields every non-empty line of the inputs, as ALBERT preprocesses it.

  Args:
    input_files: list of paths.
    do_lower_case: bool.

  Raises:
    ValueError: a file is missing or not UTF-8 (naming file and line).
  """
  for _, lines in bert_data._decoded_lines(input_files):  # pylint: disable=protected-access
    for line in lines:
      line = tokenization.preprocess_text(line, lower=do_lower_case)
      if line:
        yield line


def learn_spm(input_files, model_prefix, vocab_size=30000, do_lower_case=True,
              num_threads=None, random_seed=12345, **spm_flags):
  """Trains the model and writes <model_prefix>.model and .vocab.

  The files appear only when training succeeded (written under temporary
  names first).

  Args:
    input_files: list of paths.
    model_prefix: output path without extension.
    vocab_size: int.
    do_lower_case: bool, see training_lines.
    num_threads: training threads (None: all cores).
    random_seed: int, SentencePiece's random seed.
    **spm_flags: spm_train flags overriding ALBERT_SPM_FLAGS.

  Returns:
    the path of the .model file.

  Raises:
    ValueError: bad settings or input, or SentencePiece refused the input
      (e.g. too few distinct pieces for vocab_size).
  """
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  reserved = 5 + len(ALBERT_SPM_FLAGS["user_defined_symbols"])
  if vocab_size <= reserved:
    raise ValueError("--vocab_size=%d must be > %d (ALBERT's special and "
                     "user-defined pieces)" % (vocab_size, reserved))
  directory = os.path.dirname(os.path.abspath(model_prefix))
  if not os.path.isdir(directory):
    raise ValueError("--model_prefix: the directory of %s does not exist" %
                     model_prefix)
  for path in input_files:
    if not os.path.isfile(path):
      raise ValueError("Cannot read input file %s" % path)
  # io_lib's unique name (+ .model / .vocab): a killed run's leftovers are
  # removed by the next run that locks --model_prefix.
  temporary = io_lib.temporary_name(model_prefix)
  settings = dict(ALBERT_SPM_FLAGS, vocab_size=vocab_size,
                  num_threads=num_threads or os.cpu_count() or 1)
  settings.update(spm_flags)
  spm.set_random_generator_seed(random_seed)
  try:
    spm.SentencePieceTrainer.train(
        sentence_iterator=training_lines(input_files, do_lower_case),
        model_prefix=temporary, **settings)
    _record_model_prefix(temporary + ".model", model_prefix)
    for extension in (".vocab", ".model"):
      os.replace(temporary + extension, model_prefix + extension)
  except RuntimeError as e:
    raise ValueError("--vocab_size=%d: SentencePiece could not train on "
                     "%s: %s" % (vocab_size, ", ".join(input_files),
                                 str(e).strip())) from e
  finally:
    for extension in (".vocab", ".model"):
      if os.path.exists(temporary + extension):
        os.remove(temporary + extension)
  return model_prefix + ".model"


def _record_model_prefix(model_file, model_prefix):
  """Writes the final model_prefix into the model's trainer_spec.

  spm_train records the prefix it wrote to, here the temporary one.

  Args:
    model_file: the trained .model file, rewritten in place.
    model_prefix: the prefix to record.
  """
  from sentencepiece import sentencepiece_model_pb2  # pylint: disable=g-import-not-at-top
  proto = sentencepiece_model_pb2.ModelProto()
  with open(model_file, "rb") as f:
    proto.ParseFromString(f.read())
  proto.trainer_spec.model_prefix = model_prefix
  with open(model_file, "wb") as f:
    f.write(proto.SerializeToString())


def main(_):
  logging.set_verbosity(logging.INFO)
  try:
    input_files = bert_data.expand_input_files(FLAGS.input_file)
    path = learn_spm(input_files, FLAGS.model_prefix, FLAGS.vocab_size,
                     FLAGS.do_lower_case, FLAGS.num_threads, FLAGS.random_seed,
                     input_sentence_size=FLAGS.input_sentence_size,
                     character_coverage=FLAGS.character_coverage)
  except validation.UsageError:
    raise
  except ValueError as e:
    raise validation.UsageError(str(e)) from e
  logging.info("Wrote %s and its .vocab", path)


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("model_prefix")
  validation.run_main(main)
