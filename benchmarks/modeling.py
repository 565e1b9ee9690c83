# coding=utf-8
"""Speed of modeling.BertModel (BERT-Base, random weights) against a matmul peak.

Prints, for float32 and bfloat16: inference throughput with and without XLA, a
training step (forward + backward + gradients) throughput, and the model FLOPs
utilisation (MFU) against the throughput of one 2048x2048x2048 `tf.matmul` of the
same dtype measured in the same run. Where torch and transformers are importable,
also the ratio to transformers' BertModel on the same batch.

  .venv/bin/python benchmarks/modeling.py            # a few minutes on 2 cores
  .venv/bin/python benchmarks/modeling.py --quick    # fewer iterations, noisier

Figures are noisy on a shared machine: run again when other jobs are quiet.
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


def time_fn(fn, iters, warmup=1):
  """Median seconds per call of `fn` (its result is fetched to the host)."""
  for _ in range(warmup):
    _fetch(fn())
  times = []
  for _ in range(iters):
    start = time.perf_counter()
    _fetch(fn())
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _fetch(result):
  for t in tf.nest.flatten(result):
    if hasattr(t, "numpy"):
      t.numpy()


def matmul_peak(dtype, iters):
  """FLOP/s of a 2048^3 tf.matmul in `dtype` (best of plain and XLA)."""
  n = 2048
  a = tf.cast(tf.random.normal([n, n]), dtype)
  b = tf.cast(tf.random.normal([n, n]), dtype)
  best = 0.0
  for jit in (False, True):
    fn = tf.function(lambda: tf.matmul(a, b), jit_compile=jit)
    best = max(best, 2.0 * n ** 3 / time_fn(fn, iters))
  return best


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


def torch_seconds(config, batch_size, seq_length, iters, bf16, train):
  """Seconds per call of transformers' BertModel, or None if not installed."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
    import transformers  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  hf_config = transformers.BertConfig(
      vocab_size=config.vocab_size, hidden_size=config.hidden_size,
      num_hidden_layers=config.num_hidden_layers,
      num_attention_heads=config.num_attention_heads,
      intermediate_size=config.intermediate_size, hidden_act="gelu_new",
      max_position_embeddings=config.max_position_embeddings,
      type_vocab_size=config.type_vocab_size)
  model = transformers.BertModel(hf_config)
  model.train(train)
  ids, mask, types = [torch.from_numpy(t.numpy()).long()
                      for t in make_inputs(config, batch_size, seq_length)]

  def run():
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
      if train:
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        loss = out.last_hidden_state.float().square().mean() + \
            out.pooler_output.float().mean()
        model.zero_grad()
        loss.backward()
        return None
      with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, token_type_ids=types)

  run()
  times = []
  for _ in range(iters):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="fewer iterations (noisier figures)")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--skip_train", action="store_true")
  parser.add_argument("--skip_no_xla", action="store_true")
  args = parser.parse_args()
  iters = 2 if args.quick else 5
  config = base_config()
  b, s = args.batch_size, args.seq_length
  flops = forward_flops(config, b, s)
  inputs = make_inputs(config, b, s)
  print("BERT-Base batch %d seq %d: %.1f GFLOP per forward; %d threads; "
        "TF %s" % (b, s, flops / 1e9, os.cpu_count(), tf.__version__))
  print("Targets: " + TARGETS)
  print("(2 shared cores: figures are noisy.)")
  tf.random.set_seed(0)
  results = {}
  for dtype in (tf.float32, tf.bfloat16):
    name = dtype.name
    peak = matmul_peak(dtype, iters)
    print("%s matmul 2048^3 peak: %.1f GFLOP/s" % (name, peak / 1e9))
    model = modeling.BertModel(config, compute_dtype=dtype)
    for jit in ((True,) if args.skip_no_xla else (False, True)):
      sec = time_fn(inference_fn(model, inputs, jit), iters)
      results[(name, "infer", jit)] = sec
      print("  inference %-8s xla=%-5s %7.2f seq/s  %6.1f GFLOP/s  MFU %.2f" %
            (name, jit, b / sec, flops / sec / 1e9, flops / sec / peak))
    if not args.skip_train:
      sec = time_fn(train_fn(model, inputs, True), max(1, iters // 2))
      results[(name, "train", True)] = sec
      print("  train step %-8s xla=True  %7.2f seq/s  %6.1f GFLOP/s  MFU %.2f" %
            (name, b / sec, 3 * flops / sec / 1e9, 3 * flops / sec / peak))
    del model
  f32 = min(v for k, v in results.items() if k[:2] == ("float32", "infer"))
  bf16 = min(v for k, v in results.items() if k[:2] == ("bfloat16", "infer"))
  print("bfloat16 / float32 inference speed-up: %.2fx (target >= 2x)" %
        (f32 / bf16))
  for bf in (False, True):
    ref = torch_seconds(config, b, s, iters, bf, train=False)
    if ref is None:
      print("torch/transformers not installed: no comparison.")
      break
    ours = bf16 if bf else f32
    print("vs transformers BertModel inference (%s): %.2fx" %
          ("bf16 autocast" if bf else "float32", ref / ours))


if __name__ == "__main__":
  main()
