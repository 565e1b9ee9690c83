# coding=utf-8
"""Benchmark: create_pretraining_data.py against the literal implementation.

Builds a real English text of --size_mb MB from the docstrings and comments of
Python's standard library (one sentence per line, a blank line between
documents), then runs, each in its own subprocess, the fast script and the
literal implementation (tests/literal_pretraining_data.py, Google's algorithm
written plainly) with Google's default flags, checks that both wrote the same
records, and prints wall time, input MB/s, records/s, peak RSS, the ratios and
a breakdown of where the fast script spends its time.

--modes adds the domain-pretraining options, each against the literal
implementation run with the same options on the same text: `lines` and
`jsonl` (the same documents, one per line / JSON object, cut into sentences
by sentence_split.py), `mlm_only` (--next_sentence_prediction=False),
`dynamic` (--masking=dynamic) and `mlm_only_dynamic`.

  python benchmarks/create_pretraining_data.py --size_mb=10
  python benchmarks/create_pretraining_data.py --size_mb=10 \
    --modes=google,lines,jsonl,mlm_only,dynamic,mlm_only_dynamic
"""

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import tokenize

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLAGS = flags.FLAGS

flags.DEFINE_float("size_mb", 10.0, "Size of the input text in MB.")
flags.DEFINE_string("work_dir", None,
                    "Where to put the text and the outputs (default: a "
                    "temporary directory, removed afterwards).")
flags.DEFINE_integer("dupe_factor", 10, "Google's default.")
flags.DEFINE_integer("num_workers", None,
                     "Workers of the fast script (default: all cores).")
flags.DEFINE_bool("skip_literal", False,
                  "Only run the fast script (no ratios).")
flags.DEFINE_list("modes", ["google"],
                  "What to measure: google (Google's flags), lines, jsonl, "
                  "mlm_only, dynamic, mlm_only_dynamic.")

# The options and input of each mode ("documents": one document per line).
MODES = {
    "google": ({}, "sentences"),
    "lines": (dict(input_format="lines"), "lines"),
    "jsonl": (dict(input_format="jsonl"), "jsonl"),
    "mlm_only": (dict(next_sentence_prediction=False), "sentences"),
    "dynamic": (dict(masking="dynamic"), "sentences"),
    "mlm_only_dynamic": (dict(next_sentence_prediction=False,
                              masking="dynamic"), "sentences"),
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


def sentences(text):
  """Splits a docstring or comment block into one-line sentences.

  Args:
    text: str.

  Returns:
    list of str, each without newlines.
  """
  text = " ".join(text.split())
  return [s for s in _SENTENCE_END.split(text) if len(s) > 1]


def file_documents(path):
  """The documents of one source file: each docstring, and its comments.

  Args:
    path: a .py file.

  Returns:
    list of documents (lists of sentences); unreadable files give [].
  """
  try:
    with open(path, "rb") as f:
      source = f.read()
    tree = ast.parse(source)
  except (SyntaxError, ValueError, UnicodeDecodeError, OSError):
    return []
  documents = []
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                         ast.AsyncFunctionDef)):
      docstring = ast.get_docstring(node)
      if docstring:
        documents.append(sentences(docstring))
  comments = []
  try:
    for token in tokenize.tokenize(iter(source.splitlines(True)).__next__):
      if token.type == tokenize.COMMENT:
        comments.append(token.string.lstrip("#").strip())
  except (tokenize.TokenError, SyntaxError):
    pass
  documents.append(sentences(" ".join(comments)))
  return [d for d in documents if d]


def build_corpus(path, size_mb):
  """Writes a text of about `size_mb` MB from the standard library.

  The standard library is read in sorted order, so the text is the same on
  every run with the same Python; if it holds less than `size_mb`, it is
  repeated.

  Args:
    path: output text file.
    size_mb: target size in MB (1e6 bytes).

  Returns:
    the number of bytes written.
  """
  stdlib = sysconfig.get_paths()["stdlib"]
  files = []
  for directory, dirs, names in os.walk(stdlib):
    dirs[:] = sorted(d for d in dirs if d != "site-packages")
    files.extend(os.path.join(directory, n) for n in sorted(names)
                 if n.endswith(".py"))
  target = int(size_mb * 1e6)
  written = 0
  with open(path, "w", encoding="utf-8") as out:
    while written < target:
      for name in files:
        for document in file_documents(name):
          text = "\n".join(document) + "\n\n"
          out.write(text)
          written += len(text.encode("utf-8"))
          if written >= target:
            return written
  return written


def measure(code, label):
  """Runs `code` in a fresh Python and returns the JSON it prints last.

  Args:
    code: Python source that prints one JSON object as its last line.
    label: name for error messages.

  Returns:
    dict.
  """
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                          capture_output=True, text=True)
  if result.returncode != 0:
    raise RuntimeError("%s failed:\n%s" % (label, result.stderr[-3000:]))
  return json.loads(result.stdout.strip().splitlines()[-1])


# A timed run: its body (a template like the ones below) sets `records`,
# `breakdown` and `tokenizing_workers` (whether its child processes are
# tokenizing workers, whose largest peak RSS is reported); the last line
# printed holds the figures of the process and its children.
TIMED_PROLOGUE = """
import json, resource, sys, time
sys.path[:0] = [{root!r}, {root!r} + "/tests"]
start = time.perf_counter()
"""
TIMED_EPILOGUE = """
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
child = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
         if tokenizing_workers else 0.0)
cpu = sum(u.ru_utime + u.ru_stime for u in map(
    resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
print(json.dumps(dict(wall=wall, cpu=cpu, rss_mb=rss, child_rss_mb=child,
                      records=records, breakdown=breakdown)))
"""

_FAST = TIMED_PROLOGUE + """
import create_pretraining_data as c
stats = c.run([{text!r}], [{out!r}], {vocab!r}, dupe_factor={dupe},
              num_workers={workers!r}, log_examples=False, progress=False,
              **{options!r})
records, breakdown = stats["num_instances"], stats["seconds"]
tokenizing_workers = True
""" + TIMED_EPILOGUE

_LITERAL = TIMED_PROLOGUE + """
import literal_pretraining_data as lit
records = lit.run([{text!r}], [{out!r}], {vocab!r}, dupe_factor={dupe},
                  **{options!r})
breakdown, tokenizing_workers = {{}}, False
""" + TIMED_EPILOGUE


def canonical_digest(path):
  """sha256 over the records of a TFRecord file with sorted feature maps.

  Args:
    path: TFRecord file.

  Returns:
    hex digest.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256()
  for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
    digest.update(tf.train.Example.FromString(raw).SerializeToString(
        deterministic=True))
  return digest.hexdigest()


def report(label, stats, megabytes):
  """Prints one implementation's figures.

  Args:
    label: name.
    stats: dict from `measure`.
    megabytes: input size in MB.
  """
  print("%-8s wall %8.2f s  %7.3f MB/s  %9.0f records/s  CPU %8.2f s  "
        "peak RSS %7.1f MB (largest tokenizing process %.1f MB)  %d records" % (
            label, stats["wall"], megabytes / stats["wall"],
            stats["records"] / stats["wall"], stats["cpu"], stats["rss_mb"],
            stats["child_rss_mb"], stats["records"]))


def report_fast(stats, megabytes):
  """Prints the fast script's figures and its own breakdown.

  Args:
    stats: dict from `measure`.
    megabytes: input size in MB.
  """
  report("fast", stats, megabytes)
  print("  fast breakdown (s): " + ", ".join(
      "%s %.2f" % kv for kv in stats["breakdown"].items()))


def report_ratios(fast, literal):
  """Prints the fast script's speed-up and memory against the literal one.

  Args:
    fast: dict from `measure`.
    literal: dict from `measure`.
  """
  print("speed-up %.1fx wall, %.1fx CPU time; peak RSS ratio %.2f "
        "(fast/literal)" % (literal["wall"] / fast["wall"],
                            literal["cpu"] / fast["cpu"],
                            fast["rss_mb"] / literal["rss_mb"]))
  print("load average during the runs: %.1f %.1f %.1f" % os.getloadavg())


def write_sample(text, path, num_lines):
  """Writes the first lines of the text (the input of a warm-up run).

  Args:
    text: the benchmark text.
    path: output path.
    num_lines: how many lines.
  """
  with open(text, encoding="utf-8") as source, open(
      path, "w", encoding="utf-8") as f:
    f.writelines(line for _, line in zip(range(num_lines), source))


def remove_work_dir(work_dir):
  """Removes the temporary work directory (not a --work_dir)."""
  for name in os.listdir(work_dir):
    os.remove(os.path.join(work_dir, name))
  os.rmdir(work_dir)


def write_format(text, path, input_format):
  """Writes the documents of a sentences-format text one per line.

  Args:
    text: path of the text (sentences, blank lines between documents).
    path: output path.
    input_format: "lines" (the sentences of a document joined by spaces) or
      "jsonl" ({"text": the same}).
  """
  with open(text, encoding="utf-8") as f:
    documents = [" ".join(d.split("\n")) for d in f.read().split("\n\n")]
  with open(path, "w", encoding="utf-8") as out:
    for document in documents:
      if document.strip():
        out.write((json.dumps({"text": document}) if input_format == "jsonl"
                   else document) + "\n")


def measure_mode(mode, text, work_dir, args, megabytes):
  """Runs one mode with the fast script and the literal implementation.

  Args:
    mode: a key of MODES.
    text: the sentences-format text.
    work_dir: where the inputs and outputs go.
    args: the template arguments shared by every run.
    megabytes: input size in MB.

  Returns:
    (fast output, literal output or None when skipped).
  """
  options, input_format = MODES[mode]
  source = text
  if input_format != "sentences":
    source = os.path.join(work_dir, "documents." + input_format)
    write_format(text, source, input_format)
  args = dict(args, text=source, options=options)
  print("--- %s %s" % (mode, options or "(Google's flags)"))
  fast_out = os.path.join(work_dir, "fast_%s.tfrecord" % mode)
  fast = measure(_FAST.format(out=fast_out, **args), "fast script")
  report_fast(fast, megabytes)
  print("  output: %.1f MB" % (os.path.getsize(fast_out) / 1e6))
  if FLAGS.skip_literal:
    return fast_out, None
  literal_out = os.path.join(work_dir, "literal_%s.tfrecord" % mode)
  literal = measure(_LITERAL.format(out=literal_out, **args), "literal")
  report("literal", literal, megabytes)
  report_ratios(fast, literal)
  return fast_out, literal_out


def main(_):
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="cpd_bench_")
  os.makedirs(work_dir, exist_ok=True)
  text = os.path.join(work_dir, "stdlib_text.txt")
  size = build_corpus(text, FLAGS.size_mb)
  megabytes = size / 1e6
  vocab = os.path.join(ROOT, "tests", "fixtures", "vocab_uncased.txt")
  print("input: %s, %.2f MB, %d lines; flags: Google's defaults, dupe_factor "
        "%d; %d CPU cores" % (text, megabytes, sum(1 for _ in open(
            text, encoding="utf-8")), FLAGS.dupe_factor, os.cpu_count()))
  for mode in FLAGS.modes:
    if mode not in MODES:
      sys.exit("--modes: %r is not one of %s" % (mode, ", ".join(MODES)))
  args = dict(root=ROOT, vocab=vocab, dupe=FLAGS.dupe_factor,
              workers=FLAGS.num_workers)
  # numba compiles the kernels once after an install or a code change and
  # caches them on disk; a small run of each mode first keeps that out of
  # the figures.
  sample = os.path.join(work_dir, "warm_up.txt")
  write_sample(text, sample, 2000)
  for mode in FLAGS.modes:
    warm_up = measure(_FAST.format(
        out=os.path.join(work_dir, "warm_up.tfrecord"),
        **dict(args, text=sample, dupe=1, options={
            k: v for k, v in MODES[mode][0].items() if k != "input_format"})),
                      "warm-up")
  print("warm-up runs on 2000 lines (compile the kernels if not cached): "
        "last %.2f s" % warm_up["wall"])
  outputs = [measure_mode(mode, text, work_dir, args, megabytes)
             for mode in FLAGS.modes]
  # Compared after every run: a child's peak RSS counts its parent's (it
  # is forked before exec), and the comparison imports TensorFlow here.
  same = []
  for mode, (fast_out, literal_out) in zip(FLAGS.modes, outputs):
    if literal_out:
      same.append(canonical_digest(fast_out) == canonical_digest(literal_out))
      print("%s: same records: %s" % (mode, same[-1]))
  if not FLAGS.work_dir:
    remove_work_dir(work_dir)
  if not all(same):
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
