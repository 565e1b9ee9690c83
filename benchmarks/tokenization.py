# coding=utf-8
"""Benchmark: tokenization.py's fast path against the literal implementation.

Builds an English + Chinese text of --size_mb MB (English: the docstring and
comment lines of Python's standard library, about 5.5 MB, never repeated; Chinese: lines drawn deterministically from the
3755 common characters of GB2312 level 1, with Chinese punctuation and a few
English words), then tokenizes it line by line, in one process, with

  * FullTokenizer.tokenize (fast path, memo starting empty),
  * tests/literal_tokenizer.py (BEHAVIOUR.md 6.1-6.2 written plainly),
  * FullTokenizer.tokenize_batch and tokenize_batch_ids (all cores),
  * optionally Hugging Face's BertWordPieceTokenizer (--tokenizers_path: a
    folder holding the `tokenizers` package, e.g. made with
    `pip install --target /tmp/tokpkgs tokenizers`; it is not a dependency),

prints MB/s (UTF-8 bytes of input per second) and ratios, and checks that the
outputs are identical. Timings on a shared machine are noisy.

  python benchmarks/tokenization.py --size_mb=4
  python benchmarks/tokenization.py --tokenizers_path=/tmp/tokpkgs
"""

import ast
import os
import random
import re
import sys
import sysconfig
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import literal_tokenizer  # pylint: disable=g-import-not-at-top,wrong-import-position
import tokenization  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS

flags.DEFINE_float("size_mb", 4.0, "Size of the text in MB (UTF-8).")
flags.DEFINE_float("chinese_fraction", 0.2,
                   "Fraction of the lines that are Chinese.")
flags.DEFINE_string("vocab_file",
                    os.path.join(ROOT, "tests", "fixtures", "vocab_uncased.txt"),
                    "WordPiece vocabulary.")
flags.DEFINE_integer("num_workers", None,
                     "Processes for tokenize_batch (default: all cores).")
flags.DEFINE_string("tokenizers_path", None,
                    "Folder holding the `tokenizers` package; when set, also "
                    "time its BertWordPieceTokenizer.")

_CHINESE_PUNCTUATION = u"\uff0c\u3002\u3001\uff1b\uff1a\uff1f\uff01\u201c\u201d"
_ENGLISH_IN_CHINESE = ["Python", "BERT", "TensorFlow", "2024", "GPU", "OK"]


_COMMENT = re.compile(rb"^[ \t]*#+[ \t]?(.*\S)", re.MULTILINE)


def english_lines():
  """Yields the docstring and comment lines of the standard library.

  Files are read in sorted order, so the text is the same on every run of
  the same Python (about 5.5 MB on CPython 3.11).
  """
  stdlib = sysconfig.get_paths()["stdlib"]
  for folder, dirs, files in os.walk(stdlib):
    dirs[:] = sorted(d for d in dirs if d != "site-packages")
    for name in sorted(f for f in files if f.endswith(".py")):
      try:
        with open(os.path.join(folder, name), "rb") as f:
          source = f.read()
        tree = ast.parse(source)
      except (SyntaxError, ValueError, OSError):
        continue
      for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                             ast.AsyncFunctionDef)):
          for line in (ast.get_docstring(node) or "").splitlines():
            if line.strip():
              yield line.strip()
      for comment in _COMMENT.findall(source):
        yield comment.decode("utf-8", "replace")


def common_hanzi():
  """The 3755 level-1 characters of GB2312, in code order (by pinyin)."""
  chars = []
  for row in range(0xB0, 0xD8):
    for column in range(0xA1, 0xFF):
      try:
        chars.append(bytes([row, column]).decode("gb2312"))
      except UnicodeDecodeError:
        pass
  return chars


def chinese_lines(seed=0):
  """Yields deterministic Chinese lines: words of 1-3 characters.

  Characters are drawn with Zipf-like weights, so some are much more common
  than others, as in real text.
  """
  rng = random.Random(seed)
  chars = common_hanzi()
  rng.shuffle(chars)
  weights = [1.0 / (rank + 1) for rank in range(len(chars))]
  while True:
    parts = []
    for _ in range(rng.randint(4, 20)):
      parts.append("".join(rng.choices(chars, weights, k=rng.randint(1, 3))))
      draw = rng.random()
      if draw < 0.15:
        parts.append(rng.choice(_CHINESE_PUNCTUATION))
      elif draw < 0.2:
        parts.append(" %s " % rng.choice(_ENGLISH_IN_CHINESE))
    yield "".join(parts) + u"\u3002"


def build_lines(size_mb, chinese_fraction):
  """English and Chinese lines totalling about `size_mb` MB of UTF-8."""
  rng = random.Random(1)
  english, chinese = english_lines(), chinese_lines()
  lines, size = [], 0
  while size < size_mb * 1e6:
    if rng.random() < chinese_fraction:
      line = next(chinese)
    else:
      line = next(english, None)
      if line is None:
        sys.exit("The standard library holds less English than --size_mb "
                 "needs; use a smaller size.")
    lines.append(line)
    size += len(line.encode("utf-8")) + 1
  return lines, size


class Timing(object):
  """Wall-clock and CPU seconds of one run (CPU: this process only)."""

  def __init__(self, function):
    wall, cpu = time.perf_counter(), time.process_time()
    self.result = function()
    self.wall = time.perf_counter() - wall
    self.cpu = time.process_time() - cpu


def hugging_face_tokens(path, vocab_file, lines):
  """Tokens of Hugging Face's BertWordPieceTokenizer, and the seconds taken."""
  sys.path.insert(0, path)
  from tokenizers import BertWordPieceTokenizer  # pylint: disable=g-import-not-at-top
  tokenizer = BertWordPieceTokenizer(vocab_file, lowercase=True)
  run = Timing(lambda: tokenizer.encode_batch(lines, add_special_tokens=False))
  return [e.tokens for e in run.result], run.wall


def main(_):
  lines, size = build_lines(FLAGS.size_mb, FLAGS.chinese_fraction)
  megabytes = size / 1e6
  print("text: %d lines, %.2f MB (%.0f%% Chinese lines), %d cores" %
        (len(lines), megabytes, 100 * FLAGS.chinese_fraction,
         tokenization._available_cores()))

  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, do_lower_case=True)
  cold = Timing(lambda: [tokenizer.tokenize(l) for l in lines])
  warm = Timing(lambda: [tokenizer.tokenize(l) for l in lines])
  vocab = literal_tokenizer.load_vocab_lines(list(tokenizer.vocab))
  literal = Timing(
      lambda: [literal_tokenizer.full_tokenize(l, vocab) for l in lines])
  batch_tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file)
  batch = Timing(lambda: batch_tokenizer.tokenize_batch(lines,
                                                        FLAGS.num_workers))
  batch_warm = Timing(lambda: batch_tokenizer.tokenize_batch(
      lines, FLAGS.num_workers))
  batch_tokenizer.close()
  ids_tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file)
  batch_ids = Timing(lambda: ids_tokenizer.tokenize_batch_ids(
      lines, FLAGS.num_workers))
  ids_tokenizer.close()

  print("tokens: %d" % sum(map(len, cold.result)))
  print("%-38s %8s %8s %14s %13s" % ("", "wall MB/s", "CPU MB/s",
                                     "ratio (wall)", "ratio (CPU)"))
  for name, run in (("literal (tests/literal_tokenizer.py)", literal),
                    ("fast tokenize, memo empty at start", cold),
                    ("fast tokenize, second pass", warm)):
    print("%-38s %8.2f %8.2f %13.1fx %12.1fx" % (
        name, megabytes / run.wall, megabytes / run.cpu,
        literal.wall / run.wall, literal.cpu / run.cpu))
  for name, run, serial in (
      ("tokenize_batch, all cores", batch, cold),
      ("tokenize_batch, second call", batch_warm, warm),
      ("tokenize_batch_ids, all cores", batch_ids, cold)):
    print("%-38s %8.2f %8s %13.1fx   (vs one process: %.2fx)" % (
        name, megabytes / run.wall, "-", literal.wall / run.wall,
        serial.wall / run.wall))
  ids, lengths = batch_ids.result
  identical = (cold.result == literal.result == batch.result ==
               batch_warm.result and
               ids.tolist() == [tokenizer.vocab[t] for tokens in cold.result
                                for t in tokens] and
               lengths.tolist() == [len(tokens) for tokens in cold.result])
  print("outputs identical (fast, batch, batch ids, literal): %s" % identical)

  if FLAGS.tokenizers_path:
    theirs, seconds = hugging_face_tokens(FLAGS.tokenizers_path,
                                          FLAGS.vocab_file, lines)
    differ = sum(a != b for a, b in zip(theirs, cold.result))
    print("tokenizers BertWordPieceTokenizer.encode_batch: %.2f MB/s; speed "
          "of tokenize_batch / tokenizers = %.2f (first call), %.2f (second); "
          "lines tokenized differently: %d of %d" % (
              megabytes / seconds, seconds / batch.wall,
              seconds / batch_warm.wall, differ, len(lines)))
  if not identical:
    sys.exit("FAIL: the fast path and the literal implementation differ")


if __name__ == "__main__":
  app.run(main)
