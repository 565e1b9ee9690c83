# coding=utf-8
"""Benchmark: albert/create_pretraining_data.py against ALBERT's algorithm.

The text is benchmarks/create_pretraining_data.py's (English docstrings and
comments of Python's standard library, --size_mb MB). Each implementation
runs in its own subprocess on the same input with ALBERT's default flags
(SentencePiece, SOP, n-gram masking, max_seq_length 512, dupe_factor 40
unless changed): the fast script, and ALBERT's algorithm as written
(tests/literal_albert_pretraining_data.py: ALBERT's code read plainly, with
numpy's generator seeded as the fix prescribes). The script checks that both
wrote the same bytes and prints wall time, CPU time, peak RSS and the ratios.

  python benchmarks/albert_pretraining_data.py --size_mb=2
"""

import hashlib
import os
import sys
import tempfile

from absl import app
from absl import flags

import bench_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# benchmarks/create_pretraining_data.py: its corpus builder, subprocess runner
# and report are reused; loading it defines its flags (--size_mb, --work_dir,
# --dupe_factor, --num_workers, --skip_literal), which this benchmark shares.
bert_benchmark = bench_lib.load_benchmark("create_pretraining_data")

FLAGS = flags.FLAGS
FLAGS.set_default("size_mb", 2.0)
FLAGS.set_default("dupe_factor", 40)  # ALBERT's default

flags.DEFINE_string(
    "spm_model_file",
    os.path.join(ROOT, "tests", "fixtures", "albert", "spm_tiny.model"),
    "SentencePiece model (default: the tests' 1000-piece model; a model "
    "learned with albert/learn_spm.py on the benchmark text works too).")
flags.DEFINE_integer("max_seq_length", 512, "ALBERT's default.")

_FAST = bert_benchmark.TIMED_PROLOGUE + """
from albert import create_pretraining_data as c
stats = c.run([{text!r}], [{out!r}], None, spm_model_file={spm!r},
              max_seq_length={seq}, dupe_factor={dupe},
              num_workers={workers!r}, log_examples=False, progress=False)
records, breakdown = stats["num_instances"], stats["seconds"]
tokenizing_workers = True
""" + bert_benchmark.TIMED_EPILOGUE

_LITERAL = bert_benchmark.TIMED_PROLOGUE + """
import literal_albert_pretraining_data as lit
records = lit.run([{text!r}], [{out!r}], None, {spm!r}, input_file_mode="r",
                  do_lower_case=True, do_whole_word_mask=True,
                  do_permutation=False, favor_shorter_ngram=True,
                  random_next_sentence=False, max_seq_length={seq}, ngram=3,
                  max_predictions_per_seq=20, random_seed=12345,
                  dupe_factor={dupe}, masked_lm_prob=0.15, short_seq_prob=0.1)
breakdown, tokenizing_workers = {{}}, False
""" + bert_benchmark.TIMED_EPILOGUE


def sha256(path):
  """sha256 of a file's bytes (hex)."""
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def main(_):
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="albert_data_bench_")
  os.makedirs(work_dir, exist_ok=True)
  text = os.path.join(work_dir, "stdlib_text.txt")
  megabytes = bert_benchmark.build_corpus(text, FLAGS.size_mb) / 1e6
  print("input: %s, %.2f MB; ALBERT's flags, max_seq_length %d, dupe_factor "
        "%d; SentencePiece model %s; %d CPU cores" % (
            text, megabytes, FLAGS.max_seq_length, FLAGS.dupe_factor,
            FLAGS.spm_model_file, os.cpu_count()))
  args = dict(root=ROOT, text=text, spm=FLAGS.spm_model_file,
              seq=FLAGS.max_seq_length, dupe=FLAGS.dupe_factor,
              workers=FLAGS.num_workers)
  # A first small run compiles the kernels if numba's cache lacks them.
  sample = os.path.join(work_dir, "warm_up.txt")
  bert_benchmark.write_sample(text, sample, 500)
  warm_up = bert_benchmark.measure(_FAST.format(**dict(
      args, text=sample, dupe=1, out=os.path.join(work_dir, "warm.tfrecord"))),
                                   "warm-up")
  print("warm-up run on 500 lines: %.2f s" % warm_up["wall"])
  fast_out = os.path.join(work_dir, "fast.tfrecord")
  fast = bert_benchmark.measure(_FAST.format(out=fast_out, **args), "fast")
  bert_benchmark.report_fast(fast, megabytes)
  if not FLAGS.skip_literal:
    literal_out = os.path.join(work_dir, "literal.tfrecord")
    literal = bert_benchmark.measure(_LITERAL.format(out=literal_out, **args),
                                     "literal")
    bert_benchmark.report("literal", literal, megabytes)
    bert_benchmark.report_ratios(fast, literal)
    same = sha256(fast_out) == sha256(literal_out)
    print("same records (byte for byte): %s" % same)
    if not same:
      sys.exit(1)
  if not FLAGS.work_dir:
    bert_benchmark.remove_work_dir(work_dir)


if __name__ == "__main__":
  app.run(main)
