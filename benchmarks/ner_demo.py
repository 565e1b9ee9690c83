# coding=utf-8
"""A real fine-tuning run of run_ner.py: the demo's pretrained BERT against
the same model from random weights, on a tagging set derived from the
demo's text.

Needs a finished demo run (`python3 bootstrap.py demo`, or `python demo.py
--output_dir=DIR`): its vocab/vocab.txt, pretrain/bert_config.json and
newest pretrain/model.ckpt-N. The tagging set is tests/tagging_corpus.py's
(NUM, CONST, PAREN, QUOTE; IOB2) over the demo's own documents, split as the
demo splits them (demo.split_documents): training sentences from the
documents the model was pretrained on, dev and test sentences from the
held-out documents it never saw. run_ner.py then runs twice with the same
flags, with and without --init_checkpoint (optionally a third time with
--use_crf), and the script prints eval_f1 (per type too), the test F1 and
each run's wall time.

  .venv/bin/python benchmarks/ner_demo.py --demo_dir=demo_output \\
      --output_dir=/tmp/ner_demo
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

# pylint: disable=g-import-not-at-top
import demo
import tagging_corpus
from tasks import tagging_metrics
# pylint: enable=g-import-not-at-top


def write_split(path, sentences):
  """A CoNLL file of (words, tags)."""
  with open(path, "w", encoding="utf-8") as f:
    f.write(tagging_corpus.conll_text(sentences))


def write_data(data_dir, size, num_train, num_eval):
  """train/dev/test.txt from the demo's documents (its own split).

  Returns:
    dict split -> number of sentences.
  """
  pretraining, held_out = demo.split_documents(
      demo.build_documents(size["corpus_chars"]))
  train = tagging_corpus.tag_documents(pretraining, max_words=40)[:num_train]
  evaluation = tagging_corpus.tag_documents(held_out, max_words=40)
  os.makedirs(data_dir, exist_ok=True)
  splits = {"train": train, "dev": evaluation[:num_eval],
            "test": evaluation[num_eval:2 * num_eval]}
  for name, sentences in splits.items():
    write_split(os.path.join(data_dir, name + ".txt"), sentences)
  return {name: len(sentences) for name, sentences in splits.items()}


def run_ner(args, data_dir, output_dir, init_checkpoint, use_crf):
  """Runs run_ner.py; returns its wall time in seconds."""
  command = [sys.executable, os.path.join(ROOT, "run_ner.py"),
             "--data_dir=" + data_dir,
             "--vocab_file=" + os.path.join(args.demo_dir, "vocab",
                                            "vocab.txt"),
             "--bert_config_file=" + os.path.join(args.demo_dir, "pretrain",
                                                  "bert_config.json"),
             "--output_dir=" + output_dir, "--do_lower_case=True",
             "--do_train", "--do_eval", "--do_predict",
             "--max_seq_length=64", "--doc_stride=32",
             "--train_batch_size=32", "--eval_batch_size=32",
             "--predict_batch_size=32",
             "--learning_rate=%g" % args.learning_rate,
             "--num_train_epochs=%g" % args.epochs,
             "--save_checkpoints_steps=100000", "--iterations_per_loop=200",
             "--use_crf=%s" % use_crf, "--seed=1"]
  if init_checkpoint:
    command.append("--init_checkpoint=" + init_checkpoint)
  print("\n  " + " \\\n      ".join(command), flush=True)
  start = time.time()
  with open(os.path.join(os.path.dirname(output_dir),
                         os.path.basename(output_dir) + ".log"), "w") as log:
    subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  return time.time() - start


def test_f1(output_dir):
  """conlleval's F1 of test_predictions.txt (its gold column has tags)."""
  gold, predicted = [], []
  with open(os.path.join(output_dir, "test_predictions.txt"),
            encoding="utf-8") as f:
    for block in f.read().split("\n\n"):
      rows = [line.split(" ") for line in block.splitlines()]
      if rows:
        gold.append([row[1] for row in rows])
        predicted.append([row[2] for row in rows])
  return tagging_metrics.score_sentences(gold, predicted)["f1"]


def summary_line(name, output_dir, seconds):
  """One line of the results table."""
  results = demo.read_eval_results(os.path.join(output_dir,
                                                "eval_results.txt"))
  types = sorted(k[len("eval_f1_"):] for k in results
                 if k.startswith("eval_f1_"))
  per_type = " ".join("%s %.3f" % (t, float(results["eval_f1_" + t]))
                      for t in types)
  return ("%-22s dev F1 %.4f (P %.4f R %.4f, accuracy %.4f; %s)  test F1 "
          "%.4f  %4.0f s" % (name, float(results["eval_f1"]),
                             float(results["eval_precision"]),
                             float(results["eval_recall"]),
                             float(results["eval_accuracy"]), per_type,
                             test_f1(output_dir), seconds))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--demo_dir", default=os.path.join(ROOT, "demo_output"))
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--size", default="default", choices=sorted(demo.SIZES),
                      help="the demo's --size (its corpus)")
  parser.add_argument("--num_train", type=int, default=8000)
  parser.add_argument("--num_eval", type=int, default=1000)
  parser.add_argument("--learning_rate", type=float, default=5e-4)
  parser.add_argument("--epochs", type=float, default=3.0)
  parser.add_argument("--with_crf", action="store_true",
                      help="also the pretrained model with --use_crf")
  args = parser.parse_args()
  checkpoint = demo.latest_checkpoint(os.path.join(args.demo_dir, "pretrain"))
  if checkpoint is None:
    sys.exit("No pretrained model in %s/pretrain: run the demo first." %
             args.demo_dir)
  data_dir = os.path.join(args.output_dir, "data")
  counts = write_data(data_dir, demo.SIZES[args.size], args.num_train,
                      args.num_eval)
  print("data: %s (%s)" % (data_dir, ", ".join(
      "%s %d sentences" % item for item in counts.items())))
  runs = [("pretrained (demo)", checkpoint, False),
          ("random weights", None, False)]
  if args.with_crf:
    runs.append(("pretrained + CRF", checkpoint, True))
  lines = []
  for name, init, use_crf in runs:
    output_dir = os.path.join(args.output_dir, name.split()[0] +
                              ("_crf" if use_crf else ""))
    seconds = run_ner(args, data_dir, output_dir, init, use_crf)
    lines.append(summary_line(name, output_dir, seconds))
  print("\n" + "\n".join(lines))


if __name__ == "__main__":
  main()
