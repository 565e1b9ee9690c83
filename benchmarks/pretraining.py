# coding=utf-8
"""Training throughput of run_pretraining (BERT-Base, seq 128) through estimator_lib.

Runs the real training loop (Google's record pipeline on
tests/fixtures/pretraining_data/a_base.tfrecord, BERT-Base with both pretraining
heads, Google's AdamW update, `iterations_per_loop` steps per compiled call) for
float32 and bfloat16, XLA off and on, and prints sequences/s and the model FLOPs
utilisation (MFU) against a 2048^3 `tf.matmul` of the same dtype measured in the
same run. Where torch and transformers are importable, also the ratio to a
transformers BertForPreTraining training step (AdamW) on the same batch.

  .venv/bin/python benchmarks/pretraining.py --quick   # 3-8 minutes on 2 cores
  .venv/bin/python benchmarks/pretraining.py           # more steps per figure
  # transformers from another environment (not a dependency of this project):
  .venv/bin/python benchmarks/pretraining.py --quick --torch_python=/path/bin/python

Figures are noisy on a shared machine: each is the best loop of several.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numpy as np  # pylint: disable=g-import-not-at-top

# `--torch_only` runs in an interpreter with torch but without TensorFlow.
TORCH_ONLY = __name__ == "__main__" and "--torch_only" in sys.argv

if not TORCH_ONLY:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.core.util import event_pb2  # pylint: disable=g-import-not-at-top

  import estimator_lib  # pylint: disable=g-import-not-at-top
  import run_pretraining  # pylint: disable=g-import-not-at-top

  import bench_lib  # pylint: disable=g-import-not-at-top

  # FLOP count, matmul peak and timing helpers are shared with that benchmark.
  _bench = bench_lib.load_benchmark("modeling")
  base_config = _bench.base_config
  best_times = _bench.best_times
  forward_flops = _bench.forward_flops
  matmul_fn = _bench.matmul_fn

RECORDS = os.path.join(ROOT, "tests", "fixtures", "pretraining_data",
                       "a_base.tfrecord")
SEQ_LENGTH = 128
PREDICTIONS = 20
TARGET = "vs transformers BertForPreTraining training step >= 1.5x"


def train_step_flops(config, batch_size, seq_length, predictions):
  """Matmul FLOPs of one training step: 3x the forward of encoder and heads.

  The full encoder is counted (the model's FLOPs, as MFU usually counts
  them), although run_pretraining computes the last layer's queries,
  attention output and feed-forward only at the 1 + predictions positions the
  heads read: about 6% fewer FLOPs for BERT-Base at sequence 128.

  Args:
    config: BertConfig.
    batch_size, seq_length: the batch shape.
    predictions: masked-LM predictions per sequence.

  Returns:
    float FLOPs (backward counted as twice the forward, as usual for MFU).
  """
  h, v = config.hidden_size, config.vocab_size
  heads = 2 * batch_size * predictions * (h * h + h * v)
  return 3 * (forward_flops(config, batch_size, seq_length) + heads)


def loop_steps_per_sec(model_dir):
  """The `global_step/sec` summaries of a run, in step order."""
  values = []
  for name in sorted(os.listdir(model_dir)):
    if not name.startswith("events.out.tfevents"):
      continue
    for raw in tf.data.TFRecordDataset(os.path.join(model_dir, name)):
      event = event_pb2.Event.FromString(raw.numpy())
      for value in event.summary.value:
        if value.tag == "global_step/sec":
          values.append((event.step, float(tf.make_ndarray(value.tensor))))
  return [v for _, v in sorted(values)]


def ours(precision, use_xla, batch_size, steps_per_loop, loops):
  """Best steps/sec of estimator_lib training over `loops` loops (first skipped).

  Args:
    precision: "float32" or "bfloat16".
    use_xla: bool.
    batch_size: global batch.
    steps_per_loop: iterations_per_loop.
    loops: loops timed after the first (compiling) one.

  Returns:
    float seconds per step.
  """
  model_dir = tempfile.mkdtemp(prefix="bench_pretraining_")
  try:
    model_fn = run_pretraining.model_fn_builder(
        base_config(), None, learning_rate=1e-4, num_train_steps=10000,
        num_warmup_steps=100, use_tpu=False, use_one_hot_embeddings=False)
    config = estimator_lib.RunConfig(
        model_dir, iterations_per_loop=steps_per_loop,
        save_checkpoints_steps=0, precision=precision, use_xla=use_xla,
        seed=0)
    estimator = estimator_lib.Estimator(model_fn, config,
                                        train_batch_size=batch_size)
    input_fn = run_pretraining.input_fn_builder([RECORDS], SEQ_LENGTH,
                                                PREDICTIONS, is_training=True)
    estimator.train(input_fn, max_steps=steps_per_loop * (loops + 1))
    rates = loop_steps_per_sec(model_dir)[1:]
    return 1.0 / max(rates)
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)


def torch_train_fns(batch_size, seq_length, predictions):
  """transformers BertForPreTraining training steps (float32, bf16 autocast).

  BERT-Base shapes; one step = forward, backward, clipping at 1.0, AdamW.

  Returns:
    dict dtype name -> function running one step; {} without torch.
  """
  try:
    import torch  # pylint: disable=g-import-not-at-top
    import transformers  # pylint: disable=g-import-not-at-top
  except ImportError:
    return {}
  torch.manual_seed(0)
  hf_config = transformers.BertConfig(
      vocab_size=30522, hidden_size=768, num_hidden_layers=12,
      num_attention_heads=12, intermediate_size=3072, hidden_act="gelu_new",
      max_position_embeddings=512, type_vocab_size=2)
  model = transformers.BertForPreTraining(hf_config).train()
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
  rng = np.random.RandomState(0)
  ids = torch.from_numpy(rng.randint(0, 30522, [batch_size, seq_length])).long()
  labels = torch.full([batch_size, seq_length], -100, dtype=torch.long)
  labels[:, :predictions] = ids[:, :predictions]
  nsp = torch.zeros([batch_size], dtype=torch.long)

  def make(bf16):
    def run():
      with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=ids, labels=labels,
                     next_sentence_label=nsp).loss
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      optimizer.step()
      optimizer.zero_grad()
      return loss.item()
    return run
  return {"float32": make(False), "bfloat16": make(True)}


def torch_seconds(batch_size, rounds):
  """Best seconds per transformers training step, {} without torch."""
  fns = torch_train_fns(batch_size, SEQ_LENGTH, PREDICTIONS)
  best = {}
  for name, fn in fns.items():
    fn()  # warm-up
    for _ in range(rounds):
      start = time.perf_counter()
      fn()
      best[name] = min(best.get(name, float("inf")),
                       time.perf_counter() - start)
  return best


def torch_seconds_in(python, batch_size, rounds):
  """torch_seconds run by another interpreter (one with torch installed)."""
  out = subprocess.run(
      [python, os.path.abspath(__file__), "--torch_only",
       "--batch_size=%d" % batch_size, "--rounds=%d" % rounds],
      check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
  return json.loads(out.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="fewer steps (noisier figures)")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--skip_no_xla", action="store_true")
  parser.add_argument("--torch_python", default=None,
                      help="an interpreter with torch and transformers, for "
                      "the comparison when they are not importable here")
  parser.add_argument("--torch_only", action="store_true",
                      help="(internal) print the transformers timings as JSON")
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  if args.torch_only:
    print(json.dumps(torch_seconds(args.batch_size, args.rounds)))
    return
  steps_per_loop, loops = (2, 2) if args.quick else (3, 3)
  config = base_config()
  b = args.batch_size
  flops = train_step_flops(config, b, SEQ_LENGTH, PREDICTIONS)
  print("BERT-Base pretraining, batch %d seq %d (%d predictions): %.1f GFLOP "
        "per training step; %d threads; TF %s" %
        (b, SEQ_LENGTH, PREDICTIONS, flops / 1e9, os.cpu_count(),
         tf.__version__))
  print("Target: " + TARGET)
  print("(2 shared cores: figures are noisy.)")
  peaks = best_times({dtype: matmul_fn(dtype)
                      for dtype in (tf.float32, tf.bfloat16)}, 3)
  if args.torch_python:
    torch_times = torch_seconds_in(args.torch_python, b, loops)
  else:
    torch_times = torch_seconds(b, loops)
  for name, sec in sorted(torch_times.items()):
    print("transformers BertForPreTraining train %-8s %7.2f seq/s" %
          (name, b / sec))
  for dtype in (tf.float32, tf.bfloat16):
    peak = 2.0 * 2048 ** 3 / peaks[dtype]
    print("%s matmul 2048^3 peak: %.1f GFLOP/s" % (dtype.name, peak / 1e9))
    best = None
    for use_xla in ((True,) if args.skip_no_xla else (False, True)):
      start = time.time()
      sec = ours(dtype.name, use_xla, b, steps_per_loop, loops)
      best = sec if best is None else min(best, sec)
      rate = flops / sec
      print("  train %-8s xla=%-5s %7.2f seq/s  %6.1f GFLOP/s  MFU %.2f  "
            "(run %.0f s)" % (dtype.name, use_xla, b / sec, rate / 1e9,
                              rate / peak, time.time() - start))
      sys.stdout.flush()
    if dtype.name in torch_times:
      print("  vs transformers BertForPreTraining (%s): %.2fx (%.2f seq/s); "
            "target >= 1.5x" % (dtype.name, torch_times[dtype.name] / best,
                                b / torch_times[dtype.name]))
  if not torch_times:
    print("torch/transformers not installed: no comparison.")


if __name__ == "__main__":
  main()
