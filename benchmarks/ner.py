# coding=utf-8
"""Tagging throughput of run_ner (BERT-Base, sequence 128) against
transformers' BertForTokenClassification on the same sentences.

The sentences are tests/tagging_corpus.py's (Python's documentation, tagged
by rules), one window each at sequence length 128. Ours: the tagging task's
records and input pipeline through estimator_lib's training loop (Google's
AdamW, `iterations_per_loop` steps per compiled call; the first loop, which
traces, is left out) and its predict pass (estimator.predict, tags back on
the host; the first batch, which traces, is left out). Theirs, in another
interpreter (--torch_python, as benchmarks/pretraining.py): a training step
(forward with the labels, backward, clipping at 1.0, torch's AdamW) and an
inference batch (no_grad forward, argmax) on the same padded arrays, best of
several rounds after a warm-up. Both use every core. Printed: sentences/s
and the ratio ours / transformers (target >= 1.5x).

  .venv/bin/python benchmarks/ner.py --torch_python=/path/to/torch/bin/python
  .venv/bin/python benchmarks/ner.py --tiny --torch_python=...   # seconds: a
      # tiny model, to check that the script runs (figures meaningless)

Figures are noisy on a shared machine: run it when the cores are quiet.
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
sys.path.insert(0, os.path.join(ROOT, "tests"))

import numpy as np  # pylint: disable=g-import-not-at-top

# `--torch_only` runs in an interpreter with torch but without TensorFlow.
TORCH_ONLY = __name__ == "__main__" and "--torch_only" in sys.argv

if not TORCH_ONLY:
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf

  import encoders
  import estimator_lib
  import modeling
  import tagging_corpus
  import task_lib
  import tokenization
  from tasks import tagging
  # pylint: enable=g-import-not-at-top

  import bench_lib
  # The summary reader of benchmarks/pretraining.py; the FLOP count and the
  # matmul peak of benchmarks/modeling.py.
  loop_steps_per_sec = bench_lib.load_benchmark("pretraining").loop_steps_per_sec
  _MODELING_BENCHMARK = bench_lib.load_benchmark("modeling")

SEQ_LENGTH = 128
TARGET = "vs transformers BertForTokenClassification >= 1.5x"
BASE = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 3072,
        "max_position_embeddings": 512, "type_vocab_size": 2}
TINY = {"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 37,
        "max_position_embeddings": 512, "type_vocab_size": 2}


def write_data(data_dir, num_train, num_test):
  """train.txt and test.txt of corpus sentences that fit one window.

  Args:
    data_dir: where to write.
    num_train, num_test: sentences of each.
  """
  tokenizer = tokenization.FullTokenizer(
      os.path.join(ROOT, "tests", "fixtures", "vocab_uncased.txt"), True)
  chosen = []
  for words, tags in tagging_corpus.tagged_sentences(400000):
    if len(tokenizer.tokenize(" ".join(words))) <= SEQ_LENGTH - 2:
      chosen.append((words, tags))
    if len(chosen) == num_train + num_test:
      break
  os.makedirs(data_dir)
  for name, part in (("train.txt", chosen[:num_train]),
                     ("test.txt", chosen[num_train:])):
    with open(os.path.join(data_dir, name), "w", encoding="utf-8") as f:
      f.write(tagging_corpus.conll_text(part))
  return tokenizer


def make_task(work_dir, config, batch_size, num_train, num_test):
  """A TaggingTask over freshly written data in work_dir."""
  data_dir = os.path.join(work_dir, "data")
  tokenizer = write_data(data_dir, num_train, num_test)
  data = tagging.TaggingData(data_dir).load()
  settings = task_lib.RunSettings(
      output_dir=os.path.join(work_dir, "out"), train_batch_size=batch_size,
      predict_batch_size=batch_size, learning_rate=1e-4)
  os.makedirs(settings.output_dir)
  bert_config = modeling.BertConfig.from_dict(config)
  return tagging.TaggingTask(
      settings, encoders.EncoderSpec(encoders.get_family("bert"),
                                     bert_config),
      len(data.label_list), data=data, tokenizer=tokenizer,
      max_seq_length=SEQ_LENGTH, doc_stride=SEQ_LENGTH)


def ours(task, precision, steps_per_loop, loops):
  """(seconds per training step, seconds per predicted sentence)."""
  settings = task.settings
  run_config = estimator_lib.RunConfig(
      settings.output_dir, iterations_per_loop=steps_per_loop,
      save_checkpoints_steps=0, precision=precision, seed=0)
  estimator = task_lib.make_estimator(task, settings, run_config)
  task.set_schedule(10000, 100)
  estimator.train(task.train_input_fn(),
                  max_steps=steps_per_loop * (loops + 1))
  train_seconds = 1.0 / max(loop_steps_per_sec(settings.output_dir)[1:])
  sentences = task.data.sentences("test")
  input_fn, _ = task.split_input("test", sentences,
                                 settings.predict_batch_size, "Benchmark")
  predictions = estimator.predict(input_fn)
  batch = settings.predict_batch_size
  kept = [next(predictions) for _ in range(batch)]  # traces: not timed
  start = time.perf_counter()
  kept += list(predictions)
  # Tags back to the words, as run_ner's predict pass does.
  tagging.word_tags(sentences, kept, task.data.label_list, task.tokenizer)
  predict_seconds = (time.perf_counter() - start) / (len(sentences) - batch)
  return train_seconds, predict_seconds


def torch_arrays(task, path):
  """The records of train and test as one .npz for the torch side."""
  arrays = {}
  for split in ("train", "test"):
    input_fn = tagging.input_fn_builder(
        os.path.join(task.settings.output_dir, tagging.RECORD_FILES[split]),
        SEQ_LENGTH, False, False)
    batch = next(iter(input_fn({"batch_size": 100000})))
    for name in ("input_ids", "input_mask", "segment_ids", "label_ids",
                 "label_weights"):
      arrays["%s_%s" % (split, name)] = batch[name].numpy()
  np.savez(path, **arrays)


def torch_seconds(npz_path, config, batch_size, rounds):
  """transformers BertForTokenClassification: (seconds per training step,
  seconds per predicted sentence), best of `rounds` after a warm-up.

  Args:
    npz_path: torch_arrays' file.
    config: BERT config dict (BASE or TINY).
    batch_size: sentences per step / batch.
    rounds: timed rounds.
  """
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  arrays = np.load(npz_path)
  num_labels = int(arrays["train_label_ids"].max()) + 1
  torch.manual_seed(0)
  model = transformers.BertForTokenClassification(transformers.BertConfig(
      hidden_act="gelu_new", num_labels=num_labels, **config))
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

  def tensors(split, start):
    """The batch of `split` starting at `start`: ids, mask, types, labels."""
    part = {k: torch.from_numpy(arrays["%s_%s" % (split, k)][
        start:start + batch_size]).long() for k in (
            "input_ids", "input_mask", "segment_ids", "label_ids")}
    weights = arrays["%s_label_weights" % split][start:start + batch_size]
    labels = part["label_ids"].masked_fill(
        torch.from_numpy(weights) == 0, -100)  # transformers' ignore index
    return part["input_ids"], part["input_mask"], part["segment_ids"], labels

  def train_step(start):
    ids, mask, types, labels = tensors("train", start)
    loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                 labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()

  def predict_batch(start):
    ids, mask, types, _ = tensors("test", start)
    with torch.no_grad():
      model(input_ids=ids, attention_mask=mask,
            token_type_ids=types).logits.argmax(-1).numpy()

  return {"train": _best(model.train, train_step, rounds, batch_size),
          "predict": _best(model.eval, predict_batch, rounds, batch_size) /
                     batch_size}


def _best(mode, step, rounds, batch_size):
  """Best seconds of `step(start)` over rounds (after one warm-up)."""
  mode()
  step(0)
  best = float("inf")
  for index in range(rounds):
    start = time.perf_counter()
    step(index * batch_size)
    best = min(best, time.perf_counter() - start)
  return best


def torch_seconds_in(python, npz_path, tiny, batch_size, rounds):
  """torch_seconds run by another interpreter (one with torch installed)."""
  command = [python, os.path.abspath(__file__), "--torch_only",
             "--npz=" + npz_path, "--batch_size=%d" % batch_size,
             "--rounds=%d" % rounds] + (["--tiny"] if tiny else [])
  out = subprocess.run(command, check=True,
                       stdout=subprocess.PIPE).stdout.decode("utf-8")
  return json.loads(out.strip().splitlines()[-1])


def parse_args():
  """The command line."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--tiny", action="store_true",
                      help="a tiny model (checks that the script runs)")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--precision", default="float32",
                      choices=["float32", "bfloat16"])
  parser.add_argument("--torch_python", default=None,
                      help="an interpreter with torch and transformers (not "
                      "a dependency of this project)")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--torch_only", action="store_true",
                      help="(internal) print the transformers timings")
  parser.add_argument("--npz", default=None, help="(internal)")
  return parser.parse_args()


def report(name, batch_size, ours_seconds, torch_seconds_):
  """Prints one line: sentences/s of both and the ratio."""
  line = "%-8s ours %8.2f sentences/s" % (name, batch_size / ours_seconds)
  if torch_seconds_:
    line += "   transformers %8.2f sentences/s   %.2fx (target >= 1.5x)" % (
        batch_size / torch_seconds_, torch_seconds_ / ours_seconds)
  print(line)


def report_ceiling(name, flops, torch_seconds_, peak):
  """Prints the share of the matmul peak transformers reaches, and so the
  most any implementation could beat it by on this machine.

  Args:
    name: "train" or "predict".
    flops: matmul FLOPs of what torch_seconds_ timed.
    torch_seconds_: transformers' seconds (None: not measured).
    peak: matmul FLOP/s of this machine in the run's dtype.
  """
  if torch_seconds_:
    share = flops / torch_seconds_ / peak
    print("%-8s transformers at %.2f of the matmul peak (%.0f GFLOP/s): at "
          "the peak one could be %.2fx faster at most" %
          (name, share, peak / 1e9, 1.0 / share))


def matmul_peak(precision):
  """FLOP/s of a 2048^3 matmul in the run's compute dtype."""
  dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
  fn = _MODELING_BENCHMARK.matmul_fn(dtype)
  return 2 * 2048 ** 3 / _MODELING_BENCHMARK.best_times({"mm": fn}, 3)["mm"]


def main():
  args = parse_args()
  config = TINY if args.tiny else BASE
  if args.torch_only:
    print(json.dumps(torch_seconds(args.npz, config, args.batch_size,
                                   args.rounds)))
    return
  b = args.batch_size
  steps_per_loop, loops = (5, 2) if args.tiny else (3, args.rounds)
  num_test = b * (args.rounds + 2)
  work_dir = tempfile.mkdtemp(prefix="bench_ner_")
  try:
    task = make_task(work_dir, config, b, 64, num_test)
    print("%s tagging, batch %d, sequence %d, %d tags, %s; %d threads; TF "
          "%s" % ("tiny" if args.tiny else "BERT-Base", b, SEQ_LENGTH,
                  task.num_labels, args.precision, os.cpu_count(),
                  tf.__version__))
    print("Target: " + TARGET)
    train_seconds, predict_seconds = ours(task, args.precision,
                                          steps_per_loop, loops)
    theirs = {}
    if args.torch_python:
      npz_path = os.path.join(work_dir, "arrays.npz")
      torch_arrays(task, npz_path)
      theirs = torch_seconds_in(args.torch_python, npz_path, args.tiny, b,
                                args.rounds)
    report("train", b, train_seconds, theirs.get("train"))
    report("predict", 1, predict_seconds, theirs.get("predict"))
    if theirs:
      bert_config = modeling.BertConfig.from_dict(config)
      forward = _MODELING_BENCHMARK.forward_flops
      peak = matmul_peak(args.precision)
      # A training step is about three forwards (forward, two backward
      # products).
      report_ceiling("train", 3 * forward(bert_config, b, SEQ_LENGTH),
                     theirs.get("train"), peak)
      report_ceiling("predict", forward(bert_config, 1, SEQ_LENGTH),
                     theirs.get("predict"), peak)
    if not theirs:
      print("No --torch_python: no comparison.")
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
  main()
