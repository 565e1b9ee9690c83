# coding=utf-8
"""Speed of albert.modeling.AlbertModel (ALBERT-base) against transformers.

ALBERT-base v2 (V 30000, E 128, H 768, 12 layers sharing 1 group, 12 heads,
I 3072, dropout 0), random weights, on the same batch: inference (forward
only) and a training step (forward, backward, clipping at 1.0, AdamW update)
of our AlbertModel (float32 and bfloat16 compute, XLA off and on) and of
transformers' AlbertModel in torch (float32 and bfloat16 autocast), the same
loss on both. Prints sequences/s and the ratio ours / transformers (the
target: >= 1.5x the transformers training step at the same batch).

torch and transformers are not dependencies of this project: they run in
another interpreter, named by --torch_python (it prints its timings as JSON);
without it, this interpreter is used if it can import them.

  .venv/bin/python benchmarks/albert_modeling.py --torch_python=/path/bin/python
  .venv/bin/python benchmarks/albert_modeling.py --tiny --torch_python=...  # check

Figures are noisy on a shared machine: each is the best of several calls,
timed round-robin.
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # pylint: disable=g-import-not-at-top

# `--torch_only` runs in an interpreter with torch but without TensorFlow.
TORCH_ONLY = __name__ == "__main__" and "--torch_only" in sys.argv

if not TORCH_ONLY:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from albert import modeling as albert_modeling  # pylint: disable=g-import-not-at-top
  import optimization  # pylint: disable=g-import-not-at-top

  import bench_lib  # pylint: disable=g-import-not-at-top

  # The round-robin best-of timer, the matmul peak and the FLOP count are
  # shared with that benchmark.
  _MODELING_BENCHMARK = bench_lib.load_benchmark("modeling")
  best_times = _MODELING_BENCHMARK.best_times

TARGET = "training step vs transformers AlbertModel >= 1.5x (same batch)"

# ALBERT-base v2's albert_config.json.
BASE = {"vocab_size": 30000, "embedding_size": 128, "hidden_size": 768,
        "num_hidden_layers": 12, "num_hidden_groups": 1, "inner_group_num": 1,
        "num_attention_heads": 12, "intermediate_size": 3072,
        "hidden_act": "gelu", "hidden_dropout_prob": 0,
        "attention_probs_dropout_prob": 0, "max_position_embeddings": 512,
        "type_vocab_size": 2, "initializer_range": 0.02}
# For checking that the script runs (seconds, not minutes).
TINY = dict(BASE, vocab_size=1000, embedding_size=16, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=2, intermediate_size=48)


def make_batch(values, batch_size, seq_length):
  """The same int32 numpy batch in both interpreters.

  Returns:
    (input_ids, input_mask, token_type_ids), each [batch_size, seq_length]; a
    quarter of every row is padding, the second half segment B.
  """
  rng = np.random.RandomState(0)
  ids = rng.randint(5, values["vocab_size"],
                    [batch_size, seq_length]).astype(np.int32)
  mask = np.ones([batch_size, seq_length], np.int32)
  mask[:, seq_length * 3 // 4:] = 0
  types = np.zeros([batch_size, seq_length], np.int32)
  types[:, seq_length // 2:] = 1
  return ids, mask, types


def our_fns(values, dtype, batch, jits):
  """Our inference and training-step functions for one compute dtype.

  Args:
    values: config dict (BASE or TINY).
    dtype: tf.float32 or tf.bfloat16.
    batch: (ids, mask, types) numpy arrays.
    jits: the XLA settings to time.

  Returns:
    dict (dtype name, "infer" | "train", jit) -> function.
  """
  config = albert_modeling.AlbertConfig.from_dict(values)
  model = albert_modeling.AlbertModel(config, compute_dtype=dtype)
  variables = model.trainable_variables
  optimizer = optimization.create_optimizer(None, 1e-4, 10000, 100, False)
  optimizer.create_slots(variables)
  global_step = optimization.create_global_step()
  inputs = [tf.constant(t) for t in batch]
  fns = {}
  for jit in jits:
    @tf.function(jit_compile=jit)
    def infer(ids, mask, types):
      """Forward, no dropout: [B, S, H] and [B, H]."""
      out = model(ids, input_mask=mask, token_type_ids=types, training=False)
      return out.sequence_output, out.pooled_output

    @tf.function(jit_compile=jit)
    def train(ids, mask, types):
      """Forward, backward, clipping, AdamW update: the loss (scalar)."""
      with tf.GradientTape() as tape:
        out = model(ids, input_mask=mask, token_type_ids=types, training=True)
        loss = (tf.reduce_mean(tf.square(out.sequence_output)) +
                tf.reduce_mean(out.pooled_output))
      grads = tape.gradient(loss, variables)
      optimizer.apply_step(grads, variables, global_step)
      return loss

    fns[(dtype.name, "infer", jit)] = (
        lambda f=infer: f(*inputs))
    fns[(dtype.name, "train", jit)] = (
        lambda f=train: f(*inputs))
  return fns


def torch_fns(values, batch):
  """transformers' AlbertModel: inference and training step, float32 and
  bfloat16 autocast; {} without torch / transformers.

  The training step is ours: forward, the same loss, backward, clipping at
  1.0, AdamW.
  """
  try:
    import torch  # pylint: disable=g-import-not-at-top
    import transformers  # pylint: disable=g-import-not-at-top
  except ImportError:
    return {}
  torch.manual_seed(0)
  # gelu_new is the tanh approximation, ALBERT's gelu.
  hf_config = transformers.AlbertConfig(**dict(values, hidden_act="gelu_new"))
  model = transformers.AlbertModel(hf_config)
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
  ids, mask, types = [torch.from_numpy(t).long() for t in batch]

  def make(kind, bf16):
    """The `kind` ("infer" / "train") function, in bf16 autocast or not."""
    def infer():
      model.eval()
      with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16,
                                           enabled=bf16):
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        return out.last_hidden_state.float().sum().item()

    def train():
      model.train()
      with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        loss = (out.last_hidden_state.float().pow(2).mean() +
                out.pooler_output.float().mean())
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      optimizer.step()
      optimizer.zero_grad()
      return loss.item()
    return infer if kind == "infer" else train

  return {"%s/%s" % (dtype, kind): make(kind, dtype == "bfloat16")
          for dtype in ("float32", "bfloat16") for kind in ("infer", "train")}


def torch_seconds(values, batch_size, seq_length, rounds):
  """Best seconds per call of each transformers function ({} without torch).

  Round-robin, as benchmarks/modeling.py's best_times (which needs
  TensorFlow): a busy spell on the shared machine falls on every figure.
  """
  fns = torch_fns(values, make_batch(values, batch_size, seq_length))
  for fn in fns.values():
    fn()  # warm-up (AdamW's state, autocast caches)
  best = {name: float("inf") for name in fns}
  for _ in range(rounds):
    for name, fn in fns.items():
      start = time.perf_counter()
      fn()
      best[name] = min(best[name], time.perf_counter() - start)
  return best


def torch_seconds_in(python, args):
  """torch_seconds run by another interpreter (one with torch installed)."""
  out = subprocess.run(
      [python, os.path.abspath(__file__), "--torch_only",
       "--batch_size=%d" % args.batch_size,
       "--seq_length=%d" % args.seq_length, "--rounds=%d" % args.rounds] +
      (["--tiny"] if args.tiny else []),
      check=True, stdout=subprocess.PIPE).stdout.decode("utf-8")
  return json.loads(out.strip().splitlines()[-1])


def train_step_flops(values, batch_size, seq_length):
  """Matmul FLOPs of one training step: 3x the forward (forward, two
  backward products); the E x H projection and the heads are left out."""
  config = albert_modeling.AlbertConfig.from_dict(values)
  return 3 * _MODELING_BENCHMARK.forward_flops(config, batch_size, seq_length)


def matmul_peaks(dtypes, rounds):
  """dict dtype -> FLOP/s of a 2048^3 matmul, this machine's practical peak."""
  times = best_times({d: _MODELING_BENCHMARK.matmul_fn(tf.as_dtype(d))
                      for d in dtypes}, rounds)
  return {d: 2 * 2048 ** 3 / sec for d, sec in times.items()}


def report_ceiling(torch_times, flops, peaks):
  """Prints the share of the matmul peak transformers' training step reaches
  and the most any implementation could beat it by on this machine.

  Args:
    torch_times: dict "dtype/kind" -> transformers' best seconds per batch.
    flops: matmul FLOPs of one training step on the batch.
    peaks: dict dtype -> matmul FLOP/s (`matmul_peaks`).
  """
  for dtype, peak in sorted(peaks.items()):
    sec = torch_times.get(dtype + "/train")
    if sec:
      share = flops / sec / peak
      print("transformers %s train step: %.2f of the %s matmul peak (%.0f "
            "GFLOP/s); at the peak one could be %.2fx faster at most" %
            (dtype, share, dtype, peak / 1e9, 1.0 / share))


def report(results, torch_times, batch_size):
  """Prints sequences/s of every figure and the ratios to transformers.

  Args:
    results: dict (dtype, kind, jit) -> our best seconds.
    torch_times: dict "dtype/kind" -> transformers' best seconds.
    batch_size: sequences per call.
  """
  for name, sec in sorted(torch_times.items()):
    print("transformers AlbertModel %-15s %8.2f seq/s" % (name, batch_size / sec))
  for (dtype, kind, jit), sec in sorted(results.items()):
    print("ours                     %-15s %8.2f seq/s  (xla=%s)" %
          ("%s/%s" % (dtype, kind), batch_size / sec, jit))
  for key in sorted(torch_times):
    dtype, kind = key.split("/")
    ours = [sec for k, sec in results.items() if k[:2] == (dtype, kind)]
    if ours:
      print("ours / transformers, %-8s %-5s: %.2fx%s" %
            (dtype, kind, torch_times[key] / min(ours),
             "  (target >= 1.5x)" if kind == "train" else ""))
  if not torch_times:
    print("torch/transformers not importable here and no --torch_python: no "
          "comparison.")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--tiny", action="store_true",
                      help="a tiny ALBERT, to check that the script runs")
  parser.add_argument("--dtypes", default="float32,bfloat16")
  parser.add_argument("--skip_no_xla", action="store_true")
  parser.add_argument("--torch_python", default=None,
                      help="an interpreter with torch and transformers")
  parser.add_argument("--torch_only", action="store_true",
                      help="(internal) print the transformers timings as JSON")
  args = parser.parse_args()
  values = TINY if args.tiny else BASE
  if args.torch_only:
    print(json.dumps(torch_seconds(values, args.batch_size, args.seq_length,
                                   args.rounds)))
    return
  print("ALBERT-%s, batch %d seq %d; %d threads; TF %s" %
        ("tiny" if args.tiny else "base", args.batch_size, args.seq_length,
         os.cpu_count(), tf.__version__))
  print("Target: " + TARGET)
  print("(2 shared cores: figures are noisy.)")
  if args.torch_python:
    torch_times = torch_seconds_in(args.torch_python, args)
  else:
    torch_times = torch_seconds(values, args.batch_size, args.seq_length,
                                args.rounds)
  dtypes = args.dtypes.split(",")
  torch_times = {k: v for k, v in torch_times.items()
                 if k.split("/")[0] in dtypes}
  batch = make_batch(values, args.batch_size, args.seq_length)
  jits = (True,) if args.skip_no_xla else (False, True)
  fns = {}
  for dtype in dtypes:
    fns.update(our_fns(values, tf.as_dtype(dtype), batch, jits))
  report(best_times(fns, args.rounds), torch_times, args.batch_size)
  report_ceiling(torch_times,
                 train_step_flops(values, args.batch_size, args.seq_length),
                 matmul_peaks(dtypes, args.rounds))


if __name__ == "__main__":
  main()
