# coding=utf-8
"""Speed of extract_features.py: BERT-Base (random weights), sequence 128.

Prints sentences/s of the whole pipeline (read, tokenise, model, write) for
Google's output (JSON lines, layers -1,-2,-3,-4), for sentence vectors only
(--pooling=cls --output_token_layers=false) and for --output_format=npz, and
the JSON writing time per sentence against Google's per-example code
(`round(float(x), 6)` per value, json.dumps of OrderedDicts) on the same
model outputs. The "Google-style pipeline" figure is the model time plus
Google's JSON time per sentence, as Google's script spends them one after the
other.

  .venv/bin/python benchmarks/extract_features.py             # ~4 min, 2 cores
  .venv/bin/python benchmarks/extract_features.py --sentences 16 --quick

Figures are noisy on a shared machine (compare the CPU seconds too).
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import logging  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

import checkpoints  # pylint: disable=g-import-not-at-top
import estimator_lib  # pylint: disable=g-import-not-at-top
import extract_features  # pylint: disable=g-import-not-at-top
import modeling  # pylint: disable=g-import-not-at-top
import tokenization  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests"))
# Google's per-example writing code, restated in the tests.
import test_extract_features  # pylint: disable=g-import-not-at-top

google_json_line = test_extract_features.google_json_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = os.path.join(ROOT, "tests", "fixtures", "vocab_uncased.txt")
SEQ_LENGTH = 128
LAYERS = [-1, -2, -3, -4]


def base_config():
  """BERT-Base, uncased vocabulary, as released."""
  return modeling.BertConfig(vocab_size=30522, hidden_size=768,
                             num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072,
                             max_position_embeddings=512, type_vocab_size=2)


def write_sentences(path, count, tokenizer):
  """`count` lines of random whole-word vocabulary entries that fill 128."""
  rng = np.random.RandomState(0)
  words = [w for w in tokenizer.vocab
           if w.isalpha() and w.islower() and len(w) > 2]
  with open(path, "w") as f:
    for _ in range(count):
      f.write(" ".join(rng.choice(words, 70)) + " ||| " +
              " ".join(rng.choice(words, 70)) + "\n")


def timed_extract(label, count, **kwargs):
  """Runs extract(); prints and returns (wall seconds, CPU seconds)."""
  start = time.perf_counter()
  cpu_start = time.process_time()
  extract_features.extract(**kwargs)
  seconds = time.perf_counter() - start
  cpu = time.process_time() - cpu_start
  size = os.path.getsize(kwargs["output_file"])
  print("%-40s %6.2f sentences/s  (%d in %.1f s wall, %.1f s CPU, %.1f MB)" %
        (label, count / seconds, count, seconds, cpu, size / 1e6))
  return seconds, cpu


def time_call(fn, *args):
  """CPU seconds of one call (steadier than wall time on a shared machine)."""
  start = time.process_time()
  fn(*args)
  return time.process_time() - start


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--sentences", type=int, default=48)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--quick", action="store_true",
                      help="skip the npz and pooling-only runs")
  args = parser.parse_args()
  logging.set_verbosity(logging.WARNING)

  print("threads: intra %d inter %d, cpus %d" %
        (tf.config.threading.get_intra_op_parallelism_threads(),
         tf.config.threading.get_inter_op_parallelism_threads(),
         os.cpu_count()))
  tokenizer = tokenization.FullTokenizer(VOCAB)
  config = base_config()
  with tempfile.TemporaryDirectory() as tmp:
    model = modeling.BertModel(config)
    ckpt = os.path.join(tmp, "bert_model.ckpt")
    checkpoints.save_checkpoint(model.variables, ckpt)
    del model
    input_file = os.path.join(tmp, "input.txt")
    write_sentences(input_file, args.sentences, tokenizer)
    common = dict(input_file=input_file, bert_config=config,
                  tokenizer=tokenizer, init_checkpoint=ckpt,
                  max_seq_length=SEQ_LENGTH, batch_size=args.batch_size,
                  run_config=estimator_lib.RunConfig(None))
    n = args.sentences
    # Warm-up (tf.function tracing) on a few lines is part of every run; the
    # first run also pays one-off start-up costs, so a short one goes first.
    timed_extract("warm-up (pooling only)", n,
                  output_file=os.path.join(tmp, "warm.jsonl"),
                  layer_indexes=[], pooling="cls", output_token_layers=False,
                  **common)
    _, pooled_cpu = timed_extract("sentence vectors only (--pooling=cls)", n,
                                  output_file=os.path.join(tmp, "cls.jsonl"),
                                  layer_indexes=[], pooling="cls",
                                  output_token_layers=False, **common)
    _, json_cpu = timed_extract("Google's output (jsonl, 4 layers)", n,
                                output_file=os.path.join(tmp, "out.jsonl"),
                                layer_indexes=LAYERS, **common)
    if not args.quick:
      timed_extract("npz (4 layers)", n,
                    output_file=os.path.join(tmp, "out.npz"),
                    layer_indexes=LAYERS, output_format="npz", **common)

    # JSON writing alone, ours vs Google's, on real model outputs.
    rng = np.random.RandomState(1)
    outputs = [rng.normal(size=(SEQ_LENGTH, 768)).astype(np.float32)
               for _ in LAYERS]
    tokens = ["tok"] * SEQ_LENGTH
    reps = 3
    ours_s = min(time_call(extract_features.json_line, i, tokens, LAYERS,
                           outputs) for i in range(reps))
    google_s = min(time_call(google_json_line, i, tokens, LAYERS, outputs)
                   for i in range(reps))
    ours = extract_features.json_line(0, tokens, LAYERS, outputs)
    google = google_json_line(0, tokens, LAYERS, outputs)
    assert ours == google
    print("JSON per sentence (128 tokens x 4 layers, best of 3): ours %.3f "
          "CPU-s, Google's %.3f CPU-s (%.1fx)" %
          (ours_s, google_s, google_s / ours_s))
    # Google's script runs the model, then writes with its own code.
    model_cpu = pooled_cpu / n  # tokenising + model, no token layers written
    google_rate = 1.0 / (model_cpu + google_s)
    ours_rate = n / json_cpu
    print("Google's output per CPU-second: Google-style pipeline (model + "
          "Google's JSON) %.2f sentences; ours %.2f sentences (%.2fx)" %
          (google_rate, ours_rate, ours_rate / google_rate))

if __name__ == "__main__":
  main()
