# coding=utf-8
"""Input throughput of dynamic masking against Google's static records.

At BERT-Base shapes (sequence 128, 20 predictions, the uncased vocabulary,
batch 32 by default), times run_pretraining's input pipeline
(tasks/pretraining_data.input_fn_builder: read, shuffle, batch, parse) on
Google's statically masked records and on the same kind of records written
with --masking=dynamic, masked in the pipeline by dynamic_masking.py
(batched; with and without whole-word masking), and, for reference, the
same masks drawn one example at a time (dynamic_masking.mask_dataset). It
prints examples/s (wall, the pipeline's own parallelism) and CPU
microseconds per example, each the best of several rounds, and the ratios
to the static pipeline measured in the same run.

With --train it also trains BERT-Base for a few loops with each input
(the real loop, run_pretraining's model_fn) and prints the sequences/s of
training: the input pipeline runs beside the training step on the same
cores, so this is what "does not slow training" means on this machine.

  .venv/bin/python benchmarks/dynamic_masking.py           # ~1 minute
  .venv/bin/python benchmarks/dynamic_masking.py --train   # + 5-15 minutes
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import tensorflow as tf  # pylint: disable=g-import-not-at-top

import create_pretraining_data  # pylint: disable=g-import-not-at-top
import dynamic_masking  # pylint: disable=g-import-not-at-top
import estimator_lib  # pylint: disable=g-import-not-at-top
import modeling  # pylint: disable=g-import-not-at-top
import run_pretraining  # pylint: disable=g-import-not-at-top
from tasks import pretraining_data  # pylint: disable=g-import-not-at-top

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TEXT = os.path.join(FIXTURES, "pretraining_data", "sample_text.txt")
VOCAB = os.path.join(FIXTURES, "vocab_uncased.txt")
SEQ, PRED = 128, 20


def write_records(directory, masking):
  """create_pretraining_data's records of the sample text (Google's
  layout, or the same sequences unmasked for dynamic masking)."""
  path = os.path.join(directory, masking + ".tfrecord")
  create_pretraining_data.run(
      [TEXT], [path], VOCAB, max_seq_length=SEQ, max_predictions_per_seq=PRED,
      dupe_factor=1, masking=masking, log_examples=False, progress=False)
  return path


def pipelines(static_file, dynamic_file, batch_size):
  """name -> a function making the dataset of that input pipeline."""
  static = pretraining_data.file_layout(static_file)[0]
  dynamic = pretraining_data.file_layout(dynamic_file)[0]
  whole = dynamic._replace(do_whole_word_mask=True)
  params = {"batch_size": batch_size, "seed": 1}

  def make(path, layout):
    masker = None
    if layout.masking == "dynamic":
      masker = pretraining_data.wordpiece_masker(VOCAB, layout, PRED)
    return lambda: pretraining_data.input_fn_builder(
        [path], SEQ, PRED, True, layout=layout, masker=masker)(params)

  def one_at_a_time():
    """The same masks drawn per example (mask_dataset), then batched."""
    masker = pretraining_data.wordpiece_masker(VOCAB, dynamic, PRED)
    names = {n: tf.io.FixedLenFeature([SEQ], tf.int64)
             for n in dynamic.feature_names()}
    names["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
    d = tf.data.TFRecordDataset([dynamic_file]).repeat().shuffle(100, seed=1)
    d = d.map(lambda r: {k: v[0] for k, v in estimator_lib.decode_records(
        r[None], names).items()}, num_parallel_calls=tf.data.AUTOTUNE)
    return dynamic_masking.mask_dataset(d, masker, 1).batch(
        batch_size, drop_remainder=True)

  return {"static (Google's records)": make(static_file, static),
          "dynamic, batched": make(dynamic_file, dynamic),
          "dynamic, batched, whole words": make(dynamic_file, whole),
          "dynamic, one example at a time": one_at_a_time}


def throughput(make_dataset, batch_size, batches, rounds):
  """Best (examples/s, CPU us/example) over `rounds` of `batches`."""
  iterator = iter(make_dataset().prefetch(2))
  for _ in range(10):
    next(iterator)
  best_rate, best_cpu = 0.0, float("inf")
  for _ in range(rounds):
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
      next(iterator)
    examples = batches * batch_size
    best_rate = max(best_rate, examples / (time.perf_counter() - wall))
    best_cpu = min(best_cpu, 1e6 * (time.process_time() - cpu) / examples)
  return best_rate, best_cpu


def train_rates(input_fns, batch_size, steps, loops):
  """Best sequences/s of BERT-Base training loops fed by each input_fn.

  The runs take turns, loop by loop, so that a busy or quiet spell of the
  shared machine falls on each alike.

  Args:
    input_fns: dict name -> input_fn.
    batch_size: global batch.
    steps: steps per loop (iterations_per_loop).
    loops: loops timed after the first (compiling) one.

  Returns:
    dict name -> sequences/s.
  """
  config = modeling.BertConfig(
      vocab_size=30522, hidden_size=768, num_hidden_layers=12,
      num_attention_heads=12, intermediate_size=3072,
      max_position_embeddings=512, type_vocab_size=2)
  directories, estimators, times = [], {}, {}
  try:
    for name in input_fns:
      directories.append(tempfile.mkdtemp(prefix="bench_dynamic_"))
      estimators[name] = estimator_lib.Estimator(
          run_pretraining.model_fn_builder(
              config, None, learning_rate=1e-4, num_train_steps=10000,
              num_warmup_steps=100, use_tpu=False,
              use_one_hot_embeddings=False),
          estimator_lib.RunConfig(directories[-1], iterations_per_loop=steps,
                                  save_checkpoints_steps=0, seed=0),
          train_batch_size=batch_size)
      times[name] = []
    for loop in range(loops + 1):
      for name, input_fn in input_fns.items():
        start = time.perf_counter()
        estimators[name].train(input_fn, max_steps=steps * (loop + 1))
        times[name].append(time.perf_counter() - start)
    return {name: batch_size * steps / min(t[1:]) for name, t in times.items()}
  finally:
    for directory in directories:
      shutil.rmtree(directory, ignore_errors=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--batches", type=int, default=100)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--train", action="store_true",
                      help="also train BERT-Base with each input")
  parser.add_argument("--train_loops", type=int, default=3)
  args = parser.parse_args()
  directory = tempfile.mkdtemp(prefix="bench_dynamic_records_")
  try:
    static_file = write_records(directory, "static")
    dynamic_file = write_records(directory, "dynamic")
    print("Input pipeline, BERT-Base shapes: batch %d, sequence %d, %d "
          "predictions, vocabulary 30522; %d cores; TF %s" %
          (args.batch_size, SEQ, PRED, os.cpu_count(), tf.__version__))
    base = None
    for name, make in pipelines(static_file, dynamic_file,
                                args.batch_size).items():
      rate, cpu = throughput(make, args.batch_size, args.batches,
                             args.rounds)
      base = base or (rate, cpu)
      print("  %-32s %8.0f examples/s (%.2fx)  %6.1f CPU us/example "
            "(%.2fx)" % (name, rate, rate / base[0], cpu, cpu / base[1]))
      sys.stdout.flush()
    if args.train:
      input_fns = {}
      for name, path in (("static", static_file), ("dynamic", dynamic_file)):
        layout = pretraining_data.file_layout(path)[0]
        masker = (pretraining_data.wordpiece_masker(VOCAB, layout, PRED)
                  if layout.masking == "dynamic" else None)
        input_fns[name] = pretraining_data.input_fn_builder(
            [path], SEQ, PRED, True, layout=layout, masker=masker)
      rates = train_rates(input_fns, 8, 3, args.train_loops)
      for name, rate in rates.items():
        print("  BERT-Base training, batch 8, %-7s input: %.2f seq/s (%.2fx)"
              % (name, rate, rate / rates["static"]))
  finally:
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
  main()
