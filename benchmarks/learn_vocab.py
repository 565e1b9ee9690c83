# coding=utf-8
"""Speed of learn_vocab.py on about 20 MB of text every Python install has.

Google released no vocabulary learner, so there is no reference to run against.
Prints absolute figures (MB/s end to end, and per phase) and, for the merge
phase, the speed-up over the naive version of the same algorithm kept in
tests/test_learn_vocab.py (recount every pair at every step), after checking
that both learn the same pieces.

  .venv/bin/python benchmarks/learn_vocab.py           # about a minute
  .venv/bin/python benchmarks/learn_vocab.py --mb=5    # less text

The text is demo.py's corpus (docstrings of the standard library and the
installed packages); a small install has less than 20 MB of it, and the
figures say how much was used.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import demo  # pylint: disable=g-import-not-at-top
import learn_vocab  # pylint: disable=g-import-not-at-top
# pylint: disable=g-import-not-at-top
from test_learn_vocab import naive_learn_pieces


def timed(fn, *args):
  """(result, seconds) of fn(*args)."""
  start = time.time()
  result = fn(*args)
  return result, time.time() - start


def end_to_end(corpus_path, vocab_size, workdir):
  """Runs learn_vocab.py as a user would; returns wall seconds."""
  start = time.time()
  subprocess.run([sys.executable, os.path.join(ROOT, "learn_vocab.py"),
                  "--input_file=" + corpus_path,
                  "--output_file=" + os.path.join(workdir, "vocab.txt"),
                  "--vocab_size=%d" % vocab_size, "--min_frequency=1"],
                 check=True, capture_output=True)
  return time.time() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--mb", type=float, default=20.0,
                      help="megabytes of text to use (at most what exists)")
  parser.add_argument("--vocab_size", type=int, default=30522)
  parser.add_argument("--naive_mb", type=float, default=0.5,
                      help="text for the naive comparison (it is slow)")
  parser.add_argument("--naive_merges", type=int, default=300)
  args = parser.parse_args()

  documents, seconds = timed(demo.build_documents, int(args.mb * 1e6))
  text = demo.corpus_text(documents)
  megabytes = len(text.encode("utf-8")) / 1e6
  print("corpus: %.1f MB of docstrings (%d documents), built in %.1f s" %
        (megabytes, len(documents), seconds))
  if megabytes < 0.9 * args.mb:
    print("  (this install has less text than --mb=%g asked for)" % args.mb)

  with tempfile.TemporaryDirectory() as workdir:
    corpus_path = os.path.join(workdir, "corpus.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
      f.write(text)
    seconds = end_to_end(corpus_path, args.vocab_size, workdir)
    print("learn_vocab.py end to end (--vocab_size=%d, %d CPU cores): "
          "%.1f s = %.2f MB/s" % (args.vocab_size, os.cpu_count(), seconds,
                                  megabytes / seconds))

    (chunks, _), seconds = timed(learn_vocab.split_text, [corpus_path], 0.0)
    print("  read:               %.1f s" % seconds)
  counts, seconds = timed(learn_vocab.count_words, chunks, True, 0)
  print("  split into words:   %.1f s = %.2f MB/s (%d distinct words)" %
        (seconds, megabytes / seconds, len(counts)))
  vocab, seconds = timed(learn_vocab.build_vocab, counts, args.vocab_size, 994,
                         1)
  print("  learn pieces+order: %.1f s (%d tokens)" % (seconds, len(vocab)))

  # The merge phase against the naive algorithm, on a part of the text.
  part = []
  size = 0
  for chunk in chunks:
    part.append(chunk)
    size += len(chunk)
    if size >= args.naive_mb * 1e6:
      break
  part_counts = learn_vocab.count_words(part, True, 0)
  chars = set("".join(part_counts))
  fast, fast_seconds = timed(learn_vocab.learn_pieces, part_counts, chars,
                             args.naive_merges, 2)
  naive, naive_seconds = timed(naive_learn_pieces, part_counts,
                               args.naive_merges, 2)
  if fast != naive:
    sys.exit("the fast and the naive merges differ")
  print("merges, %.1f MB (%d distinct words), %d merges: incremental %.2f s, "
        "naive %.2f s (%.0fx), same pieces" % (
            size / 1e6, len(part_counts), len(fast), fast_seconds,
            naive_seconds, naive_seconds / max(fast_seconds, 1e-9)))
  print("No reference implementation exists (Google released none); the "
        "figures above are absolute.")


if __name__ == "__main__":
  main()
