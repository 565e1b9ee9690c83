# coding=utf-8
"""Speed of modeling.BertModel (BERT-Base, random weights) against a matmul peak.

Prints, for float32 and bfloat16: inference throughput with and without XLA, a
training step (forward + backward + gradients) throughput, and the model FLOPs
utilisation (MFU) against the throughput of one 2048x2048x2048 `tf.matmul` of the
same dtype measured in the same run. Where torch and transformers are importable,
also the ratio to transformers' BertModel on the same batch.

  .venv/bin/python benchmarks/modeling.py            # a few minutes on 2 cores
  .venv/bin/python benchmarks/modeling.py --quick    # fewer iterations, noisier
  .venv/bin/python benchmarks/modeling.py --single_core   # per-core CPU time

Wall-time figures are noisy on a shared machine (every figure is the best of
several round-robin calls). --single_core runs everything on one thread and
times this process's CPU time, which other jobs barely disturb: use it to compare.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

import modeling  # pylint: disable=g-import-not-at-top

TARGETS = ("float32 inference MFU >= 0.85 of the matmul peak; bfloat16 inference "
           ">= 2x float32; vs transformers >= 1.3x (float32), >= 2x (bfloat16)")


def base_config():
  """BERT-Base, uncased vocabulary, as released."""
  return modeling.BertConfig(vocab_size=30522, hidden_size=768,
                             num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072, max_position_embeddings=512,
                             type_vocab_size=2)


def forward_flops(config, batch_size, seq_length):
  """Multiply-add FLOPs (x2) of one forward pass, matmuls only.

  Args:
    config: BertConfig.
    batch_size, seq_length: the batch shape.

  Returns:
    float FLOPs.
  """
  h, i, s = config.hidden_size, config.intermediate_size, seq_length
  tokens = batch_size * s
  per_layer = 2 * tokens * (4 * h * h + 2 * h * i) + 2 * 2 * batch_size * s * s * h
  return config.num_hidden_layers * per_layer + 2 * batch_size * h * h


# The clock of best_times: wall time, or with --single_core this process's CPU time.
_CLOCK = [time.perf_counter]


def best_times(fns, rounds, repeats=None):
  """Best (minimum) seconds per call of each function, timed round-robin.

  Round-robin so that a quiet (or busy) spell on the shared machine falls on every
  figure alike; the minimum because other jobs only ever add time.

  Args:
    fns: dict key -> function returning tensors (fetched to the host).
    rounds: how many rounds (after one warm-up call of each function).
    repeats: dict key -> timed calls per round (default 1).

  Returns:
    dict key -> seconds.
  """
  repeats = repeats or {}
  for fn in fns.values():
    _fetch(fn())
  best = {k: float("inf") for k in fns}
  for _ in range(rounds):
    for key, fn in fns.items():
      for _ in range(repeats.get(key, 1)):
        start = _CLOCK[0]()
        _fetch(fn())
        best[key] = min(best[key], _CLOCK[0]() - start)
  return best


def _fetch(result):
  for t in tf.nest.flatten(result):
    if hasattr(t, "numpy"):
      t.numpy()


def matmul_fn(dtype, n=2048):
  """A tf.function computing one n^3 matmul in `dtype`."""
  a = tf.cast(tf.random.normal([n, n]), dtype)
  b = tf.cast(tf.random.normal([n, n]), dtype)
  return tf.function(lambda: tf.matmul(a, b)[0, 0])


def make_inputs(config, batch_size, seq_length):
  rng = np.random.RandomState(0)
  ids = tf.constant(rng.randint(0, config.vocab_size, [batch_size, seq_length]),
                    tf.int32)
  mask = np.ones([batch_size, seq_length], np.int32)
  mask[:, seq_length * 3 // 4:] = 0
  types = np.zeros([batch_size, seq_length], np.int32)
  types[:, seq_length // 2:] = 1
  return ids, tf.constant(mask), tf.constant(types)


def inference_fn(model, inputs, jit):
  @tf.function(jit_compile=jit)
  def run(ids, mask, types):
    out = model(ids, input_mask=mask, token_type_ids=types, training=False)
    return out.sequence_output, out.pooled_output
  return lambda: run(*inputs)


def train_fn(model, inputs, jit):
  """Forward + backward + gradients (no optimizer update), with dropout."""
  variables = model.trainable_variables

  @tf.function(jit_compile=jit)
  def run(ids, mask, types):
    with tf.GradientTape() as tape:
      out = model(ids, input_mask=mask, token_type_ids=types, training=True)
      loss = (tf.reduce_mean(tf.square(out.sequence_output)) +
              tf.reduce_mean(out.pooled_output))
    grads = tape.gradient(loss, variables)
    return loss, tf.add_n([tf.reduce_sum(tf.convert_to_tensor(g))
                           for g in grads])
  return lambda: run(*inputs)


def torch_fns(config, batch_size, seq_length, single_core=False):
  """transformers' BertModel inference, float32 and bf16 autocast, or {}.

  Returns:
    dict ("torch", dtype name) -> function; empty if torch or transformers is not
    importable.
  """
  try:
    import torch  # pylint: disable=g-import-not-at-top
    import transformers  # pylint: disable=g-import-not-at-top
  except ImportError:
    return {}
  hf_config = transformers.BertConfig(
      vocab_size=config.vocab_size, hidden_size=config.hidden_size,
      num_hidden_layers=config.num_hidden_layers,
      num_attention_heads=config.num_attention_heads,
      intermediate_size=config.intermediate_size, hidden_act="gelu_new",
      max_position_embeddings=config.max_position_embeddings,
      type_vocab_size=config.type_vocab_size)
  model = transformers.BertModel(hf_config).eval()
  if single_core:
    torch.set_num_threads(1)
  ids, mask, types = [torch.from_numpy(t.numpy()).long()
                      for t in make_inputs(config, batch_size, seq_length)]

  def make(bf16):
    def run():
      with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16,
                                           enabled=bf16):
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        return out.last_hidden_state.float().sum().item()
    return run
  return {("torch", "float32"): make(False), ("torch", "bfloat16"): make(True)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="fewer iterations (noisier figures)")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--skip_train", action="store_true")
  parser.add_argument("--skip_no_xla", action="store_true")
  parser.add_argument("--skip_torch", action="store_true")
  parser.add_argument(
      "--single_core", action="store_true",
      help="one thread everywhere (TF and torch) and CPU time instead of wall "
      "time: figures per core that other jobs on the machine barely disturb")
  args = parser.parse_args()
  if args.single_core:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    _CLOCK[0] = time.process_time
  rounds = 2 if args.quick else 3
  config = base_config()
  b, s = args.batch_size, args.seq_length
  flops = forward_flops(config, b, s)
  inputs = make_inputs(config, b, s)
  print("BERT-Base batch %d seq %d: %.1f GFLOP per forward; %s; TF %s" %
        (b, s, flops / 1e9, "1 thread, CPU time" if args.single_core else
         "%d cores, wall time" % os.cpu_count(), tf.__version__))
  print("Targets: " + TARGETS)
  if not args.single_core:
    print("(2 shared cores: wall-time figures are noisy; see --single_core.)")
  tf.random.set_seed(0)
  jits = (True,) if args.skip_no_xla else (False, True)
  fns, work = {}, {}
  for dtype in (tf.float32, tf.bfloat16):
    name = dtype.name
    fns[(name, "peak", False)] = matmul_fn(dtype)
    work[(name, "peak", False)] = 2.0 * 2048 ** 3
    model = modeling.BertModel(config, compute_dtype=dtype)
    for jit in jits:
      fns[(name, "infer", jit)] = inference_fn(model, inputs, jit)
      work[(name, "infer", jit)] = flops
      if not args.skip_train:
        fns[(name, "train", jit)] = train_fn(model, inputs, jit)
        work[(name, "train", jit)] = 3 * flops
  if not args.skip_torch:
    fns.update(torch_fns(config, b, s, args.single_core))
  # The short matmul is timed many times: its best time is the least disturbed
  # by other jobs, so the peak is if anything overstated and the MFU understated.
  results = best_times(fns, rounds, {k: 10 for k in fns if k[1] == "peak"})
  for dtype in (tf.float32, tf.bfloat16):
    name = dtype.name
    peak = work[(name, "peak", False)] / results[(name, "peak", False)]
    print("%s matmul 2048^3 peak: %.1f GFLOP/s" % (name, peak / 1e9))
    for key, sec in results.items():
      if key[0] != name or key[1] == "peak":
        continue
      rate = work[key] / sec
      print("  %-6s %-8s xla=%-5s %7.2f seq/s  %6.1f GFLOP/s  MFU %.2f" %
            (key[1], name, key[2], b / sec, rate / 1e9, rate / peak))
  f32 = min(v for k, v in results.items() if k[:2] == ("float32", "infer"))
  bf16 = min(v for k, v in results.items() if k[:2] == ("bfloat16", "infer"))
  print("bfloat16 / float32 inference speed-up (best modes): %.2fx (target >= 2x)"
        % (f32 / bf16))
  for name in ("float32", "bfloat16"):
    key = ("torch", name)
    if key in results:
      ours = min(v for k, v in results.items() if k[:2] == (name, "infer"))
      print("vs transformers BertModel inference (%s): %.2fx (%.2f seq/s); "
            "target %s" % (name, results[key] / ours, b / results[key],
                           ">= 1.3x" if name == "float32" else ">= 2x"))
  if ("torch", "float32") not in results:
    print("torch/transformers not installed: no comparison.")


if __name__ == "__main__":
  main()
