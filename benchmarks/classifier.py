# coding=utf-8
"""Fine-tuning throughput of run_classifier (BERT-Base, sequence length 128).

Runs run_classifier's ModelFn through estimator_lib's training loop on MRPC
records (the fixture sentences, repeated) with random BERT-Base weights, and
prints sequences/s of the compiled training loop (the first loop, which
traces and compiles, is left out). As a reference measured in the same
process: one bare forward + backward + Adam update of the same model in a
tf.function, without the loop, checkpoints or input pipeline.

  .venv/bin/python benchmarks/classifier.py             # a few minutes, 2 cores
  .venv/bin/python benchmarks/classifier.py --steps=4   # shorter, noisier

Figures are noisy on a shared machine: run again when other jobs are quiet.
"""

import argparse
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf
from tensorflow.core.util import event_pb2

import estimator_lib
import modeling
import run_classifier
import tokenization
# pylint: enable=g-import-not-at-top

SEQ_LENGTH = 128


def base_config():
  """BERT-Base, uncased vocabulary, as released."""
  return modeling.BertConfig(vocab_size=30522, hidden_size=768,
                             num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072,
                             max_position_embeddings=512, type_vocab_size=2)


def write_records(path):
  """train.tf_record of the MRPC fixture examples, repeated 10 times."""
  fixtures = os.path.join(ROOT, "tests", "fixtures")
  tokenizer = tokenization.FullTokenizer(
      os.path.join(fixtures, "vocab_uncased.txt"), do_lower_case=True)
  processor = run_classifier.MrpcProcessor()
  examples = processor.get_train_examples(
      os.path.join(fixtures, "classifier", "mrpc")) * 10
  run_classifier.file_based_convert_examples_to_features(
      examples, processor.get_labels(), SEQ_LENGTH, tokenizer, path)


def loop_throughputs(model_dir):
  """The "examples/sec" scalars the training loop wrote, in step order."""
  values = []
  for path in sorted(glob.glob(os.path.join(model_dir, "events.out.*"))):
    for record in tf.data.TFRecordDataset(path):
      event = event_pb2.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.tag == "examples/sec":
          values.append((event.step,
                         float(tf.make_ndarray(value.tensor))))
  return [v for _, v in sorted(values)]


def run_classifier_throughput(work_dir, batch_size, steps, loop):
  """Sequences/s of estimator_lib's loop on run_classifier's ModelFn.

  Returns:
    (median sequences/s over the timed loops, list of all loops' figures).
  """
  records = os.path.join(work_dir, "train.tf_record")
  write_records(records)
  model_fn = run_classifier.model_fn_builder(
      base_config(), 2, None, 2e-5, 1000, 100, False, False)
  config = estimator_lib.RunConfig(
      model_dir=os.path.join(work_dir, "model"),
      save_checkpoints_steps=None, iterations_per_loop=loop, seed=1)
  estimator = estimator_lib.Estimator(model_fn, config,
                                      train_batch_size=batch_size)
  input_fn = run_classifier.file_based_input_fn_builder(
      records, SEQ_LENGTH, is_training=True, drop_remainder=True)
  estimator.train(input_fn, max_steps=steps)
  figures = loop_throughputs(config.model_dir)
  return float(np.median(figures[1:])), figures


def bare_step_throughput(batch_size, steps):
  """Sequences/s of a bare tf.function step (forward, backward, update)."""
  model_fn = run_classifier.model_fn_builder(
      base_config(), 2, None, 2e-5, 1000, 100, False, False)
  model = model_fn.create_model({})
  optimizer = model_fn.create_optimizer({})
  optimizer.create_slots(model.trainable_variables)
  step = tf.Variable(0, dtype=tf.int64)
  rng = np.random.RandomState(0)
  features = {
      "input_ids": tf.constant(rng.randint(1000, 30000,
                                           (batch_size, SEQ_LENGTH)), tf.int32),
      "input_mask": tf.ones([batch_size, SEQ_LENGTH], tf.int32),
      "segment_ids": tf.zeros([batch_size, SEQ_LENGTH], tf.int32),
      "label_ids": tf.constant(rng.randint(0, 2, batch_size), tf.int32),
  }

  @tf.function
  def train_step():
    with tf.GradientTape() as tape:
      loss = model_fn.train_loss(model, features, {"mode": "train"})
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_step(grads, model.trainable_variables, step)
    return loss

  train_step()  # trace and compile
  start = time.time()
  for _ in range(steps):
    train_step()
  return batch_size * steps / (time.time() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--steps", type=int, default=8,
                      help="training steps (the first loop is not timed)")
  parser.add_argument("--iterations_per_loop", type=int, default=2)
  args = parser.parse_args()
  print("BERT-Base fine-tuning, sequence length %d, batch %d, %d CPU cores" %
        (SEQ_LENGTH, args.batch_size, os.cpu_count()))
  with tempfile.TemporaryDirectory() as work_dir:
    median, figures = run_classifier_throughput(
        work_dir, args.batch_size, args.steps, args.iterations_per_loop)
  print("run_classifier training loop: %.2f sequences/s (median of loops "
        "after the first; all loops: %s)" %
        (median, ", ".join("%.2f" % f for f in figures)))
  bare = bare_step_throughput(args.batch_size,
                              max(2, args.steps - args.iterations_per_loop))
  print("reference, bare tf.function step in this process: %.2f "
        "sequences/s (loop / bare = %.2f)" % (bare, median / bare))


if __name__ == "__main__":
  main()
