# coding=utf-8
"""The bundled end-to-end run: BERT from raw text to a fine-tuned classifier.

Needs no downloads and no data: the text is the documentation every Python
install carries (the docstrings of the standard library and of the installed
packages, and pydoc's topic pages). The stages run the project's own scripts
as a user would, each command line printed before it runs:

  1. corpus      one sentence per line, a blank line between documents
                 (corpus.txt), and a sentence-pair task in MRPC's TSV layout
                 (task/): is sentence B the one that follows sentence A in
                 its document, or a random sentence from another document?
  2. vocab       learn_vocab.py -> vocab.txt
  3. pretraining_data  create_pretraining_data.py -> TFRecords
  4. pretrain    run_pretraining.py: a tiny BERT from scratch, then eval
  5. finetune    run_classifier.py --task_name=MRPC on task/: train, eval on
                 dev.tsv, predict test.tsv
  6. features    extract_features.py with the pretrained checkpoint
  7. summary     where everything is, the pretraining eval results, and the
                 fine-tuning accuracy against the majority-class baseline.

Each stage writes into `<output_dir>/<stage>.partial` and renames it to
`<output_dir>/<stage>` when complete; a re-run skips finished stages and
resumes the unfinished one (the training scripts resume from their newest
checkpoint). --clean starts over. A stage whose script is missing is
reported and skipped, as are the stages that need its output.

With --model=albert the same stages run ALBERT's scripts (python -m albert.*):
albert.learn_spm (a SentencePiece model), albert.create_pretraining_data
(n-gram masking, sentence order), albert.run_pretraining (LAMB, a tiny ALBERT
with factorized embeddings and shared layers), albert.run_classifier (GLUE's
layout <data_dir>/MRPC/) and extract_features.py on the ALBERT checkpoint.

Usage:
  python3 bootstrap.py demo [--model=albert] [--size=small] [--output_dir=DIR]
      [--clean]
"""

import ast
import collections
import functools
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time

from absl import flags

import io_lib
import locks
import validation

ROOT = os.path.dirname(os.path.abspath(__file__))

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command-line flags.

  Called only when run as a script, so that importing this module (tests,
  benchmarks) does not clash with the flags of the other scripts.
  """
  flags.DEFINE_enum("model", "bert", ["bert", "albert"],
                    "The model family the pipeline pretrains and fine-tunes.")
  flags.DEFINE_string("output_dir", None,
                      "Where every artifact of the run is written. Default: "
                      "demo_output/ (--model=bert) or demo_output_albert/.")

  flags.DEFINE_enum("size", "default", ["default", "small"],
                    "default: about 5 minutes on 2 CPU cores; small: under a "
                    "minute (used by the tests).")

  flags.DEFINE_bool(
      "clean", False,
      "Delete the artifacts of an earlier run first and start over.")


# Everything that depends on --size. The model is tiny on purpose: the point
# is the whole pipeline in minutes on a laptop, not a useful model.
SIZES = {
    "default": {
        "corpus_chars": 4000000,
        "task_train_pairs": 6000,
        "task_eval_pairs": 1000,
        "vocab_size": 8000,
        "max_seq_length": 64,
        "max_predictions_per_seq": 10,
        "dupe_factor": 5,
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 512,
        "pretrain_steps": 5000,
        "pretrain_batch_size": 64,
        "pretrain_learning_rate": 5e-4,
        "max_eval_steps": 20,
        "finetune_seq_length": 64,
        "finetune_batch_size": 32,
        "finetune_epochs": 3.0,
        "finetune_learning_rate": 2e-4,
    },
    "small": {
        "corpus_chars": 400000,
        "task_train_pairs": 600,
        "task_eval_pairs": 200,
        "vocab_size": 2000,
        "max_seq_length": 64,
        "max_predictions_per_seq": 10,
        "dupe_factor": 1,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 256,
        "pretrain_steps": 40,
        "pretrain_batch_size": 16,
        "pretrain_learning_rate": 5e-4,
        "max_eval_steps": 5,
        "finetune_seq_length": 64,
        "finetune_batch_size": 16,
        "finetune_epochs": 1.0,
        "finetune_learning_rate": 1e-4,
    },
}

# What an ALBERT run changes: a factorized embedding (E < H), one shared layer
# group, LAMB, and a SentencePiece model smaller than the WordPiece vocab
# (SentencePiece needs more text per piece).
ALBERT_SIZES = {
    "default": {"vocab_size": 4000, "embedding_size": 64,
                "pretrain_learning_rate": 2e-3},
    "small": {"vocab_size": 1000, "embedding_size": 32,
              "pretrain_learning_rate": 2e-3},
}

RANDOM_SEED = 12345
CONFIG_FILES = {"bert": "bert_config.json", "albert": "albert_config.json"}
# ALBERT's released SentencePiece model is 30k-clean.model.
SPM_PREFIX = "30k-clean"
VOCAB_FILES = {"bert": "vocab.txt", "albert": SPM_PREFIX + ".vocab"}
SETTINGS_FILE = "demo_settings.json"
MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
MRPC_TEST_HEADER = "index\t#1 ID\t#2 ID\t#1 String\t#2 String"
SKIPPED_DIRS = ("test", "tests", "__pycache__", "site-packages", "idlelib",
                "lib2to3", "pydoc_data")
MIN_SENTENCE_WORDS = 4
MAX_SENTENCE_CHARS = 400
NUM_FEATURE_EXAMPLES = 8


# ----------------------------------------------------------------------------
# Corpus: docstrings -> sentences -> documents.
# ----------------------------------------------------------------------------


def source_roots():
  """The directories whose .py files give the text, in reading order.

  Returns:
    The standard library, then this interpreter's site-packages.
  """
  paths = sysconfig.get_paths()
  roots = [paths["stdlib"]]
  for key in ("purelib", "platlib"):
    if paths[key] not in roots:
      roots.append(paths[key])
  return [r for r in roots if os.path.isdir(r)]


def python_files(root):
  """Yields the .py files under `root` in a fixed (sorted) order.

  Test directories and the like are left out: their docstrings are mostly
  fragments.

  Args:
    root: a directory.
  """
  for directory, subdirs, files in os.walk(root):
    subdirs[:] = sorted(d for d in subdirs
                        if d not in SKIPPED_DIRS and not d.startswith("."))
    for name in sorted(files):
      if name.endswith(".py"):
        yield os.path.join(directory, name)


def docstrings(source):
  """The docstrings of a module's source: module, classes, functions.

  Args:
    source: Python source text.

  Returns:
    List of cleaned docstrings (inspect.cleandoc), in source order; [] when
    the source does not parse (some installed files are templates or
    Python 2).
  """
  try:
    tree = ast.parse(source)
  except (SyntaxError, ValueError, RecursionError, MemoryError):
    return []
  found = []
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                         ast.AsyncFunctionDef)):
      text = ast.get_docstring(node, clean=True)
      if text:
        found.append((getattr(node, "lineno", 0), text))
  return [text for _, text in sorted(found, key=lambda item: item[0])]


def is_prose(paragraph):
  """Whether a docstring paragraph reads as text rather than code or a table.

  Args:
    paragraph: a paragraph (lines joined with spaces).
  """
  if not paragraph or paragraph.startswith((">>>", "...", "$", "|", "+-")):
    return False
  letters = sum(c.isalpha() or c == " " for c in paragraph)
  return letters >= 0.85 * len(paragraph)


def split_sentences(text):
  """Splits a docstring into sentences, dropping code blocks and doctests.

  Args:
    text: a cleaned docstring.

  Returns:
    List of sentences, each one line with no tabs.
  """
  sentences = []
  code_follows = False
  for block in re.split(r"\n\s*\n", text):
    lines = block.strip().splitlines()
    if not lines:
      continue
    paragraph = " ".join(" ".join(lines).split())
    if code_follows or any(l.lstrip().startswith(">>>") for l in lines):
      code_follows = paragraph.endswith("::")
      continue
    code_follows = paragraph.endswith("::")
    if not is_prose(paragraph):
      continue
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", paragraph):
      sentence = sentence.strip()
      if (len(sentence.split()) >= MIN_SENTENCE_WORDS and
          len(sentence) <= MAX_SENTENCE_CHARS):
        sentences.append(sentence)
  return sentences


def pydoc_documents():
  """The pydoc topic pages (Python's language reference), one per document.

  Returns:
    List of documents (lists of sentences); [] when pydoc_data is missing.
  """
  try:
    from pydoc_data import topics  # pylint: disable=g-import-not-at-top
  except ImportError:
    return []
  documents = []
  for name in sorted(topics.topics):
    sentences = split_sentences(topics.topics[name])
    if len(sentences) >= 2:
      documents.append(sentences)
  return documents


def build_documents(max_chars, roots=None):
  """Collects documents from Python's own text until `max_chars` is reached.

  Args:
    max_chars: stop after about this many characters of sentences.
    roots: directories to read .py files from (default: source_roots()).

  Returns:
    List of documents, each a list of at least two sentences.
  """
  documents, total = [], 0
  for document in pydoc_documents():
    documents.append(document)
    total += sum(len(s) + 1 for s in document)
  for root in roots if roots is not None else source_roots():
    for path in python_files(root):
      if total >= max_chars:
        return documents
      try:
        with open(path, encoding="utf-8") as f:
          source = f.read()
      except (UnicodeDecodeError, OSError):
        continue
      sentences = []
      for text in docstrings(source):
        sentences.extend(split_sentences(text))
      if len(sentences) >= 2:
        documents.append(sentences)
        total += sum(len(s) + 1 for s in sentences)
  return documents


def split_documents(documents, held_out_every=10):
  """Splits documents into the pretraining part and a held-out part.

  Args:
    documents: list of documents.
    held_out_every: every this-many-th document is held out.

  Returns:
    (pretraining, held_out) lists of documents.
  """
  pretraining = [d for i, d in enumerate(documents)
                 if i % held_out_every != held_out_every - 1]
  held_out = [d for i, d in enumerate(documents)
              if i % held_out_every == held_out_every - 1]
  return pretraining, held_out


def corpus_text(documents):
  """create_pretraining_data's input format: a sentence per line, blank
  line between documents.

  Args:
    documents: list of lists of sentences.
  """
  return "".join("\n".join(d) + "\n\n" for d in documents)


# ----------------------------------------------------------------------------
# The sentence-pair task: does B follow A?
# ----------------------------------------------------------------------------


def sentence_pairs(documents, max_pairs, rng):
  """Makes balanced (label, A, B) examples from documents.

  Label "1": B is the sentence after A in the same document. Label "0": B is
  a random sentence of another document. Each A is used once.

  Args:
    documents: list of documents (two or more needed).
    max_pairs: number of examples wanted (fewer if the text is short).
    rng: random.Random.

  Returns:
    List of (label, sentence_a, sentence_b) tuples, shuffled.

  Raises:
    ValueError: fewer than two documents.
  """
  if len(documents) < 2:
    raise ValueError("the sentence-pair task needs two or more documents, "
                     "got %d" % len(documents))
  starts = [(d, i) for d in range(len(documents))
            for i in range(len(documents[d]) - 1)]
  rng.shuffle(starts)
  pairs = []
  for n, (d, i) in enumerate(starts[:max_pairs]):
    if n % 2 == 0:
      pairs.append(("1", documents[d][i], documents[d][i + 1]))
    else:
      other = rng.randrange(len(documents) - 1)
      other += other >= d
      pairs.append(("0", documents[d][i], rng.choice(documents[other])))
  rng.shuffle(pairs)
  return pairs


def mrpc_rows(pairs, test=False):
  """The lines of an MRPC-layout TSV file (Google's MrpcProcessor reads
  column 0 = label, 3 = sentence A, 4 = sentence B, after a header line).

  Args:
    pairs: list of (label, a, b).
    test: write test.tsv's layout (index instead of the label).
  """
  lines = [MRPC_TEST_HEADER if test else MRPC_HEADER]
  for n, (label, a, b) in enumerate(pairs):
    first = str(n) if test else label
    lines.append("\t".join([first, str(2 * n), str(2 * n + 1), a, b]))
  return lines


def write_corpus_stage(directory, size):
  """Writes corpus.txt, task/*.tsv and the extract_features input.

  Args:
    directory: the stage's (temporary) directory.
    size: the SIZES entry.

  Returns:
    dict of figures for the log.
  """
  documents = build_documents(size["corpus_chars"])
  pretraining, held_out = split_documents(documents)
  io_lib.write_text(os.path.join(directory, "corpus.txt"),
                    corpus_text(pretraining))

  rng = random.Random(RANDOM_SEED)
  train = sentence_pairs(pretraining, size["task_train_pairs"], rng)
  evaluation = sentence_pairs(held_out, 2 * size["task_eval_pairs"], rng)
  dev = evaluation[:len(evaluation) // 2]
  test = evaluation[len(evaluation) // 2:]
  task_dir = os.path.join(directory, "task")
  os.makedirs(task_dir, exist_ok=True)
  for name, rows in (("train.tsv", mrpc_rows(train)),
                     ("dev.tsv", mrpc_rows(dev)),
                     ("test.tsv", mrpc_rows(test, test=True)),
                     ("test_labels.txt", [p[0] for p in test])):
    io_lib.write_text(os.path.join(task_dir, name), "\n".join(rows) + "\n")
  features_input = ["%s ||| %s" % (a, b)
                    for _, a, b in test[:NUM_FEATURE_EXAMPLES]]
  io_lib.write_text(os.path.join(directory, "features_input.txt"),
             "\n".join(features_input) + "\n")
  return {
      "documents": len(pretraining),
      "sentences": sum(len(d) for d in pretraining),
      "corpus_mb": round(len(corpus_text(pretraining)) / 1e6, 2),
      "held_out_documents": len(held_out),
      "train_pairs": len(train),
      "dev_pairs": len(dev),
      "test_pairs": len(test),
  }


# ----------------------------------------------------------------------------
# Stages.
# ----------------------------------------------------------------------------


def show_path(path):
  """`path` relative to the repository when inside it (shorter to copy)."""
  relative = os.path.relpath(path, ROOT)
  return path if relative.startswith("..") else relative


def say(message):
  print("[demo] " + message, flush=True)


def run_script(script, args):
  """Runs one of the project's scripts with this Python, printing the command.

  Args:
    script: file name in the repository, e.g. "learn_vocab.py", or a module
      run with -m, e.g. "albert.learn_spm" (ALBERT's command lines).
    args: list of "--flag=value" strings.

  Raises:
    RuntimeError: the script failed (the message has the command).
  """
  words = [script] if script.endswith(".py") else ["-m", script]
  command = [show_path(sys.executable)] + words + args
  # One flag per line; `python -m module` stays on the first line.
  lines = [shlex.join(command[:len(words) + 1])]
  lines += [shlex.quote(c) for c in command[len(words) + 1:]]
  print("\n  " + " \\\n      ".join(lines) + "\n", flush=True)
  env = dict(os.environ)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  code = subprocess.call([sys.executable] + words + args, cwd=ROOT, env=env)
  if code != 0:
    raise RuntimeError("%s exited with status %d; command:\n  %s" %
                       (script, code, shlex.join(command)))


def script_available(script):
  """Whether the repository has `script` (a file, or a module "a.b") yet."""
  if not script.endswith(".py"):
    script = script.replace(".", os.sep) + ".py"
  return os.path.exists(os.path.join(ROOT, script))


class Stages(object):
  """Runs named stages into temporary directories renamed when complete."""

  def __init__(self, output_dir):
    """Args: output_dir: where the stage directories live."""
    self.output_dir = output_dir
    self.done = {}
    self.skipped = []

  def path(self, name):
    """The final directory of stage `name`."""
    return os.path.join(self.output_dir, name)

  def run(self, name, scripts, body, needs=()):
    """Runs stage `name` unless it is complete, missing a script or an input.

    Args:
      name: stage name (also its directory name).
      scripts: repository scripts the stage runs.
      body: function(directory) doing the work in `directory`.
      needs: names of the stages whose output this one reads.

    Returns:
      The stage's directory, or None when it was skipped.
    """
    final = self.path(name)
    if os.path.isdir(final):
      say("stage %s: complete from an earlier run (%s), skipped" %
          (name, show_path(final)))
      self.done[name] = final
      return final
    missing_inputs = [n for n in needs if n not in self.done]
    missing_scripts = [s for s in scripts if not script_available(s)]
    if missing_scripts or missing_inputs:
      reason = ("%s not available yet" % ", ".join(missing_scripts)
                if missing_scripts else
                "needs stage %s, which did not run" % ", ".join(missing_inputs))
      say("stage %s: SKIPPED (%s)" % (name, reason))
      self.skipped.append((name, reason))
      return None
    partial = final + ".partial"
    os.makedirs(partial, exist_ok=True)
    say("stage %s: running into %s" % (name, show_path(partial)))
    start = time.time()
    body(partial)
    os.replace(partial, final)
    say("stage %s: complete in %.0f s -> %s" % (name, time.time() - start,
                                               show_path(final)))
    self.done[name] = final
    return final


def bert_config(size, vocab_size):
  """The tiny model's bert_config.json contents.

  Args:
    size: the SIZES entry.
    vocab_size: number of lines of vocab.txt.
  """
  return {
      "vocab_size": vocab_size,
      "hidden_size": size["hidden_size"],
      "num_hidden_layers": size["num_hidden_layers"],
      "num_attention_heads": size["num_attention_heads"],
      "intermediate_size": size["intermediate_size"],
      "hidden_act": "gelu",
      "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1,
      "max_position_embeddings": max(size["max_seq_length"],
                                     size["finetune_seq_length"]),
      "type_vocab_size": 2,
      "initializer_range": 0.02,
  }


def checkpoint_steps(num_steps):
  """How often training saves a checkpoint: about 4 times per run."""
  return max(num_steps // 4, 10)


def progress_steps(num_steps):
  """Steps per training loop (and progress line): about 20 per run."""
  return max(num_steps // 20, 10)


def count_lines(path):
  """Number of lines of a text file."""
  with open(path, encoding="utf-8") as f:
    return sum(1 for _ in f)


def latest_checkpoint(directory):
  """The newest `model.ckpt-N` prefix in `directory`, from its index files.

  Args:
    directory: a training output directory.

  Returns:
    The prefix path, or None.
  """
  steps = []
  for name in os.listdir(directory):
    match = re.fullmatch(r"model\.ckpt-(\d+)\.index", name)
    if match:
      steps.append(int(match.group(1)))
  if not steps:
    return None
  return os.path.join(directory, "model.ckpt-%d" % max(steps))


def read_eval_results(path):
  """Reads Google's `key = value` eval_results.txt into a dict of strings."""
  results = collections.OrderedDict()
  with open(path, encoding="utf-8") as f:
    for line in f:
      if " = " in line:
        key, value = line.rstrip("\n").split(" = ", 1)
        results[key] = value
  return results


def test_accuracy(test_results_path, labels_path):
  """Accuracy of run_classifier's test_results.tsv against the true labels.

  Args:
    test_results_path: one line of class probabilities per example.
    labels_path: one label ("0" or "1") per line, same order.

  Returns:
    (accuracy, majority_baseline, number_of_examples).
  """
  with open(labels_path, encoding="utf-8") as f:
    labels = [int(line.strip()) for line in f if line.strip()]
  with open(test_results_path, encoding="utf-8") as f:
    predicted = []
    for line in f:
      probabilities = [float(p) for p in line.split("\t")]
      predicted.append(probabilities.index(max(probabilities)))
  if len(predicted) != len(labels):
    raise ValueError("%s has %d lines, %s has %d labels" %
                     (test_results_path, len(predicted), labels_path,
                      len(labels)))
  correct = sum(p == l for p, l in zip(predicted, labels))
  majority = max(collections.Counter(labels).values())
  return correct / len(labels), majority / len(labels), len(labels)


def label_baseline(tsv_path):
  """Majority-class share of an MRPC-layout TSV (column 0 after the header)."""
  with open(tsv_path, encoding="utf-8") as f:
    labels = [line.split("\t", 1)[0] for line in f.read().splitlines()[1:]]
  return max(collections.Counter(labels).values()) / len(labels)


def prepare_output_dir(output_dir, size_name, clean, model="bert"):
  """Creates or checks the output directory for this run.

  Args:
    output_dir: --output_dir.
    size_name: --size.
    clean: --clean.
    model: --model.

  Raises:
    validation.UsageError: the directory holds something else, or a run of
      another size or model.
  """
  settings_path = os.path.join(output_dir, SETTINGS_FILE)
  settings = {"size": size_name, "model": model}
  # The run's own lock file (locks.py) is not content.
  entries = [n for n in (os.listdir(output_dir) if os.path.isdir(output_dir)
                         else []) if n != locks.DIR_LOCK_NAME]
  if entries:
    if not os.path.exists(settings_path):
      raise validation.UsageError(
          "--output_dir=%s is not empty and is not a demo output (no %s): "
          "choose another directory" % (output_dir, SETTINGS_FILE))
    if clean:
      say("--clean: deleting the contents of %s" % show_path(output_dir))
      for name in entries:
        io_lib.remove(os.path.join(output_dir, name))
    else:
      with open(settings_path) as f:
        previous = json.load(f)
      # Runs from before --model existed were BERT's.
      previous.setdefault("model", "bert")
      for key in ("model", "size"):
        if previous.get(key) != settings[key]:
          raise validation.UsageError(
              "%s holds a --%s=%s run; pass --clean to start over at --%s=%s "
              "or choose another --output_dir" %
              (show_path(output_dir), key, previous.get(key), key,
               settings[key]))
  os.makedirs(output_dir, exist_ok=True)
  io_lib.write_text(settings_path, json.dumps(settings) + "\n")


def corpus_stage(directory, size, paths):
  """Stage corpus: the text, the sentence-pair task, the features input."""
  del paths  # the corpus is the first stage
  figures = write_corpus_stage(directory, size)
  say("corpus: " + ", ".join("%s %s" % kv for kv in figures.items()))


def vocab_stage(directory, size, paths):
  """Stage vocab (BERT): learn_vocab.py on the corpus."""
  run_script("learn_vocab.py", [
      "--input_file=" + paths["corpus_file"],
      "--output_file=" + show_path(os.path.join(directory, "vocab.txt")),
      "--vocab_size=%d" % size["vocab_size"],
      "--num_unused=99",
      "--do_lower_case=True",
      "--stats_file=" + show_path(os.path.join(directory, "stats.json")),
  ])


def spm_stage(directory, size, paths):
  """Stage vocab (ALBERT): albert.learn_spm, ALBERT's spm_train settings."""
  run_script("albert.learn_spm", [
      "--input_file=" + paths["corpus_file"],
      "--model_prefix=" + show_path(os.path.join(directory,
                                                 SPM_PREFIX)),
      "--vocab_size=%d" % size["vocab_size"],
      "--do_lower_case=True",
  ])


def pretraining_data_stage(directory, size, paths):
  """Stage pretraining_data: (albert.)create_pretraining_data."""
  args = [
      "--input_file=" + paths["corpus_file"],
      "--output_file=" + show_path(os.path.join(directory,
                                                "pretraining.tfrecord")),
      "--vocab_file=" + paths["vocab_file"],
      "--do_lower_case=True",
      "--max_seq_length=%d" % size["max_seq_length"],
      "--max_predictions_per_seq=%d" % size["max_predictions_per_seq"],
      "--dupe_factor=%d" % size["dupe_factor"],
      "--random_seed=%d" % RANDOM_SEED,
  ]
  if paths["model"] == "albert":
    run_script("albert.create_pretraining_data",
               args + ["--spm_model_file=" + paths["spm_model_file"]])
  else:
    run_script("create_pretraining_data.py", args)


def model_config(size, vocab_size, model):
  """The tiny model's bert_config.json / albert_config.json contents.

  Args:
    size: the SIZES entry (with ALBERT_SIZES' for ALBERT).
    vocab_size: number of tokens of the vocabulary.
    model: "bert" or "albert".
  """
  config = bert_config(size, vocab_size)
  if model == "albert":
    # One group of one layer shared by every layer, as ALBERT's releases.
    config.update(embedding_size=size["embedding_size"], num_hidden_groups=1,
                  inner_group_num=1, down_scale_factor=1, gap_size=0,
                  net_structure_type=0, num_memory_blocks=0)
  return config


def pretrain_stage(directory, size, paths):
  """Stage pretrain: the config file, then (albert.)run_pretraining."""
  model = paths["model"]
  config_file = os.path.join(directory, CONFIG_FILES[model])
  vocab_size = count_lines(os.path.join(ROOT, paths["vocab_file"]))
  io_lib.write_text(config_file, json.dumps(
      model_config(size, vocab_size, model), indent=2) + "\n")
  steps = size["pretrain_steps"]
  args = [
      "--input_file=" + paths["data_file"],
      "--output_dir=" + show_path(directory),
      "--do_train=True",
      "--do_eval=True",
      "--train_batch_size=%d" % size["pretrain_batch_size"],
      "--eval_batch_size=%d" % size["pretrain_batch_size"],
      "--max_seq_length=%d" % size["max_seq_length"],
      "--max_predictions_per_seq=%d" % size["max_predictions_per_seq"],
      "--num_train_steps=%d" % steps,
      "--num_warmup_steps=%d" % (steps // 10),
      "--learning_rate=%g" % size["pretrain_learning_rate"],
      # Checkpoints and progress lines every few hundred steps, so that an
      # interrupted run resumes and a user sees it move.
      "--save_checkpoints_steps=%d" % checkpoint_steps(steps),
      "--iterations_per_loop=%d" % progress_steps(steps),
      "--max_eval_steps=%d" % size["max_eval_steps"],
      "--seed=%d" % RANDOM_SEED,
  ]
  if model == "albert":
    run_script("albert.run_pretraining", args + [
        "--albert_config_file=" + show_path(config_file), "--optimizer=lamb"])
  else:
    run_script("run_pretraining.py",
               args + ["--bert_config_file=" + show_path(config_file)])


def finetune_flags(directory, size, paths):
  """The classifier flags both families' runners share (MRPC, batch sizes)."""
  return [
      "--task_name=MRPC",
      "--init_checkpoint=" + paths["checkpoint"](),
      "--do_lower_case=True",
      "--do_train=True",
      "--do_eval=True",
      "--do_predict=True",
      "--max_seq_length=%d" % size["finetune_seq_length"],
      "--train_batch_size=%d" % size["finetune_batch_size"],
      "--eval_batch_size=%d" % size["finetune_batch_size"],
      "--predict_batch_size=%d" % size["finetune_batch_size"],
      "--learning_rate=%g" % size["finetune_learning_rate"],
      "--iterations_per_loop=50",
      "--output_dir=" + show_path(directory),
      "--seed=%d" % RANDOM_SEED,
  ]


def finetune_stage(directory, size, paths):
  """Stage finetune (BERT): run_classifier.py on the task.

  Args:
    directory: the stage's directory.
    size: the SIZES entry.
    paths: dict with corpus_dir, vocab_file, config_file, checkpoint.
  """
  run_script("run_classifier.py", finetune_flags(directory, size, paths) + [
      "--data_dir=" + show_path(os.path.join(paths["corpus_dir"], "task")),
      "--vocab_file=" + paths["vocab_file"],
      "--bert_config_file=" + paths["config_file"],
      "--num_train_epochs=%g" % size["finetune_epochs"],
  ])


def albert_finetune_stage(directory, size, paths):
  """Stage finetune (ALBERT): albert.run_classifier, ALBERT's flags.

  ALBERT's processors read GLUE's layout <data_dir>/MRPC/, and it counts
  training in steps (--train_step), not epochs.
  """
  glue_dir = os.path.join(directory, "glue")
  shutil.copytree(os.path.join(paths["corpus_dir"], "task"),
                  os.path.join(glue_dir, "MRPC"))
  train_step = int(size["task_train_pairs"] / size["finetune_batch_size"] *
                   size["finetune_epochs"])
  run_script("albert.run_classifier", finetune_flags(directory, size, paths) + [
      "--data_dir=" + show_path(glue_dir),
      "--spm_model_file=" + paths["spm_model_file"],
      "--albert_config_file=" + paths["config_file"],
      "--train_step=%d" % train_step,
      "--warmup_step=%d" % (train_step // 10),
      "--save_checkpoints_steps=%d" % train_step,
      "--optimizer=adamw",
  ])


def features_stage(directory, size, paths):
  """Stage features: extract_features.py with the pretrained model."""
  tokenizer_flag = ("--spm_model_file=" + paths["spm_model_file"]
                    if paths["model"] == "albert" else
                    "--vocab_file=" + paths["vocab_file"])
  run_script("extract_features.py", [
      "--input_file=" + show_path(os.path.join(paths["corpus_dir"],
                                               "features_input.txt")),
      "--output_file=" + show_path(os.path.join(directory,
                                                "features.jsonl")),
      tokenizer_flag,
      "--bert_config_file=" + paths["config_file"],
      "--init_checkpoint=" + paths["checkpoint"](),
      "--do_lower_case=True",
      "--layers=-1,-2",
      "--max_seq_length=%d" % size["finetune_seq_length"],
      "--batch_size=8",
  ])


# In the order they run: (stage name, {model: (scripts it runs, body)},
# stages whose output it reads).
STAGES = [
    ("corpus", {"bert": ([], corpus_stage), "albert": ([], corpus_stage)},
     []),
    ("vocab", {"bert": (["learn_vocab.py"], vocab_stage),
               "albert": (["albert.learn_spm"], spm_stage)}, ["corpus"]),
    ("pretraining_data",
     {"bert": (["create_pretraining_data.py"], pretraining_data_stage),
      "albert": (["albert.create_pretraining_data"], pretraining_data_stage)},
     ["vocab"]),
    ("pretrain", {"bert": (["run_pretraining.py"], pretrain_stage),
                  "albert": (["albert.run_pretraining"], pretrain_stage)},
     ["pretraining_data"]),
    ("finetune", {"bert": (["run_classifier.py"], finetune_stage),
                  "albert": (["albert.run_classifier"],
                             albert_finetune_stage)}, ["corpus", "pretrain"]),
    ("features", {"bert": (["extract_features.py"], features_stage),
                  "albert": (["extract_features.py"], features_stage)},
     ["corpus", "pretrain"]),
]


def stage_paths(stages, model):
  """The files stages hand to each other, for `model`."""
  vocab_dir = stages.path("vocab")
  paths = {
      "model": model,
      "corpus_dir": stages.path("corpus"),
      "corpus_file": show_path(os.path.join(stages.path("corpus"),
                                            "corpus.txt")),
      "vocab_file": show_path(os.path.join(vocab_dir, VOCAB_FILES[model])),
      "data_file": show_path(os.path.join(stages.path("pretraining_data"),
                                          "pretraining.tfrecord")),
      "config_file": show_path(os.path.join(stages.path("pretrain"),
                                            CONFIG_FILES[model])),
      # Called when the stage runs: the pretrain stage writes it.
      "checkpoint": lambda: show_path(latest_checkpoint(
          stages.path("pretrain"))),
  }
  if model == "albert":
    paths["spm_model_file"] = show_path(os.path.join(vocab_dir,
                                                     SPM_PREFIX + ".model"))
  return paths


def run_stages(stages, size, model="bert"):
  """Runs every stage in order (each skipped when complete or impossible)."""
  paths = stage_paths(stages, model)
  for name, by_model, needs in STAGES:
    scripts, body = by_model[model]
    stages.run(name, scripts,
               functools.partial(body, size=size, paths=paths), needs=needs)


def main(_):
  size = dict(SIZES[FLAGS.size])
  if FLAGS.model == "albert":
    size.update(ALBERT_SIZES[FLAGS.size])
  output_dir = os.path.abspath(FLAGS.output_dir)
  prepare_output_dir(output_dir, FLAGS.size, FLAGS.clean, FLAGS.model)
  stages = Stages(output_dir)
  start = time.time()
  say("output under %s (--model=%s --size=%s)" % (
      show_path(output_dir), FLAGS.model, FLAGS.size))
  run_stages(stages, size, FLAGS.model)
  summary = summarize(stages, time.time() - start, FLAGS.model)
  io_lib.write_text(os.path.join(output_dir, "summary.txt"), summary + "\n")
  print("\n" + summary, flush=True)


def summarize(stages, seconds, model="bert"):
  """The closing report: artifacts, results, baselines, skipped stages.

  Args:
    stages: the Stages object after the run.
    seconds: wall time of this run.
    model: --model.

  Returns:
    The report text.
  """
  lines = ["=" * 72, "%s demo summary (%s, this run took %.0f s)" %
           (model.upper(), show_path(stages.output_dir), seconds), "=" * 72]
  lines += data_summary(stages.done, model)
  lines += model_summary(stages.done)
  for name, reason in stages.skipped:
    lines.append("SKIPPED %-10s %s" % (name + ":", reason))
  lines.append("Re-run: finished stages are kept; --clean starts over.")
  return "\n".join(lines)


def data_summary(done, model):
  """Report lines of the corpus, vocabulary and pretraining data stages.

  Args:
    done: dict stage name -> its directory, of the stages that completed.
    model: --model.
  """
  lines = []
  if "corpus" in done:
    corpus = done["corpus"]
    lines.append("corpus:            %s (%d lines)" % (
        show_path(os.path.join(corpus, "corpus.txt")),
        count_lines(os.path.join(corpus, "corpus.txt"))))
    lines.append("task (MRPC TSV):   %s" % show_path(os.path.join(corpus,
                                                                  "task")))
  if "vocab" in done:
    vocab_file = os.path.join(done["vocab"], VOCAB_FILES[model])
    lines.append("vocab:             %s (%d tokens)" % (
        show_path(vocab_file), count_lines(vocab_file)))
    stats_path = os.path.join(done["vocab"], "stats.json")
    if os.path.exists(stats_path):
      with open(stats_path) as f:
        held_out = json.load(f).get("held_out")
      if held_out:
        lines.append("  held-out text:   %.2f%% [UNK], %.2f WordPieces per "
                     "word" % (100 * held_out["unk_share"],
                               held_out["pieces_per_word"]))
  if "pretraining_data" in done:
    lines.append("pretraining data:  %s" % show_path(done["pretraining_data"]))
  return lines


def model_summary(done):
  """Report lines of the pretrain, finetune and features stages.

  Args:
    done: dict stage name -> its directory, of the stages that completed.
  """
  lines = []
  if "pretrain" in done:
    lines.append("pretrained model:  %s" % show_path(
        latest_checkpoint(done["pretrain"]) or done["pretrain"]))
    results_path = os.path.join(done["pretrain"], "eval_results.txt")
    if os.path.exists(results_path):
      lines.append("  eval_results.txt:")
      for key, value in read_eval_results(results_path).items():
        lines.append("    %s = %s" % (key, value))
  if "finetune" in done:
    lines += finetune_summary(done["finetune"],
                              os.path.join(done["corpus"], "task"))
  if "features" in done:
    features_file = os.path.join(done["features"], "features.jsonl")
    lines.append("features:          %s (%d examples)" % (
        show_path(features_file), count_lines(features_file)))
  return lines


def finetune_summary(finetune, corpus_task):
  """Report lines of the fine-tuning stage: dev and test accuracy.

  Args:
    finetune: the stage's directory.
    corpus_task: the task's directory (dev.tsv, test_labels.txt).
  """
  lines = ["fine-tuned model:  %s" % show_path(finetune)]
  results_path = os.path.join(finetune, "eval_results.txt")
  if os.path.exists(results_path):
    # ALBERT's file has a block per checkpoint: the last one is the final.
    results = read_eval_results(results_path)
    lines.append("  dev accuracy:    %.4f (majority-class baseline %.4f)" % (
        float(results.get("eval_accuracy", "nan")),
        label_baseline(os.path.join(corpus_task, "dev.tsv"))))
  predictions = os.path.join(finetune, "test_results.tsv")
  if os.path.exists(predictions):
    accuracy, baseline, n = test_accuracy(
        predictions, os.path.join(corpus_task, "test_labels.txt"))
    lines.append("  test accuracy:   %.4f on %d pairs (majority-class "
                 "baseline %.4f); predictions: %s" % (
                     accuracy, n, baseline, show_path(predictions)))
  return lines


def default_output_dir(flag_values):
  """Fills --output_dir's default, which depends on --model.

  Run with the flag checks, before the output directory is locked.
  """
  if not flag_values.output_dir:
    flag_values.output_dir = os.path.join(
        ROOT, "demo_output" if flag_values.model == "bert" else
        "demo_output_" + flag_values.model)


if __name__ == "__main__":
  define_flags()
  validation.run_main(main, checks=[default_output_dir])
