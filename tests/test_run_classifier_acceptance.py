"""Acceptance: a tiny BERT pretrained here on real text, then fine-tuned with
run_classifier.main() on real-text tasks, beats the majority class on dev.

The text is Python's own documentation (pydoc topics and standard-library
docstrings, through demo.py's corpus builder), the same on every install of
this interpreter. Stages: create_pretraining_data.run -> run_pretraining.main
(a tiny BERT from scratch) -> run_classifier.main with --init_checkpoint.

* Sentence pairs (MRPC layout): is B the sentence after A in its document
  (1), or a random sentence of another document (0)?
* Multi-label (--task_name=tsv --multi_label): each real sentence is tagged
  with the surface properties it has ("quoted": a quote or backtick,
  "colon": a colon, "paren": a parenthesis).
"""

import os
import random
import re

import numpy as np
import pytest

from conftest import fixture_path
import create_pretraining_data
import demo
from harness import read_eval_results
from harness import run_main
from harness import write_config
import run_classifier
import run_pretraining

VOCAB = fixture_path("vocab_uncased.txt")
SEQ = 64
# A short pretraining at a small rate: at this size (minutes of CPU at most)
# masked-LM training first collapses the encoder to the unigram distribution,
# from which fine-tuning does not recover in a test's budget; this is enough
# to run the whole path (records -> pretraining -> warm start) on real text.
PRETRAIN_STEPS = 50


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
  """(work dir, documents, bert_config path, pretrained checkpoint)."""
  work = tmp_path_factory.mktemp("acceptance")
  documents = demo.build_documents(1000000)
  corpus = str(work / "corpus.txt")
  with open(corpus, "w", encoding="utf-8") as f:
    f.write(demo.corpus_text(documents))
  records = str(work / "pretraining.tfrecord")
  create_pretraining_data.run(
      [corpus], [records], VOCAB, max_seq_length=SEQ,
      max_predictions_per_seq=10, dupe_factor=1, num_workers=1,
      log_examples=False, progress=False)
  config = write_config(work, hidden_size=64, intermediate_size=128)
  run_main(run_pretraining.main, input_file=records, bert_config_file=config,
           output_dir=str(work / "pretrain"), do_train=True,
           train_batch_size=32, max_seq_length=SEQ,
           max_predictions_per_seq=10, num_train_steps=PRETRAIN_STEPS,
           num_warmup_steps=5, learning_rate=5e-5,
           save_checkpoints_steps=10000, iterations_per_loop=100, seed=1)
  checkpoint = str(work / "pretrain" / ("model.ckpt-%d" % PRETRAIN_STEPS))
  assert os.path.exists(checkpoint + ".index")
  return work, documents, config, checkpoint


def _fine_tune(pretrained, name, data_dir, learning_rate, **extra):
  work, _, config, checkpoint = pretrained
  output_dir = str(work / name)
  run_main(run_classifier.main, data_dir=data_dir, vocab_file=VOCAB,
           bert_config_file=config, init_checkpoint=checkpoint,
           output_dir=output_dir, max_seq_length=SEQ, do_train=True,
           do_eval=True, train_batch_size=32, learning_rate=learning_rate,
           save_checkpoints_steps=10000, iterations_per_loop=100, seed=1,
           **extra)
  return read_eval_results(os.path.join(output_dir, "eval_results.txt"))


def _clearly_above(accuracy, baseline, n):
  """accuracy beats baseline by 4 points and by 3 binomial standard errors."""
  standard_error = np.sqrt(baseline * (1 - baseline) / n)
  return accuracy >= baseline + max(0.04, 3 * standard_error)


def test_sentence_pairs_beat_majority(pretrained):
  work, documents, _, _ = pretrained
  pairs = demo.sentence_pairs(documents, 8000, random.Random(1))
  split = int(0.8 * len(pairs))
  task = work / "pairs"
  task.mkdir()
  (task / "train.tsv").write_text(
      "\n".join(demo.mrpc_rows(pairs[:split])) + "\n", encoding="utf-8")
  (task / "dev.tsv").write_text(
      "\n".join(demo.mrpc_rows(pairs[split:])) + "\n", encoding="utf-8")
  results = _fine_tune(pretrained, "pairs_out", str(task), 5e-4,
                       task_name="MRPC", num_train_epochs=4)
  dev_labels = [label for label, _, _ in pairs[split:]]
  majority = max(dev_labels.count("0"), dev_labels.count("1")) / len(
      dev_labels)
  accuracy = float(results["eval_accuracy"])
  assert _clearly_above(accuracy, majority, len(dev_labels)), (accuracy,
                                                              majority)


TAGS = (("quoted", re.compile("[\"'`]")), ("colon", re.compile(":")),
        ("paren", re.compile("[()]")))


def test_multi_label_beats_most_frequent_label_set(pretrained):
  work, documents, _, _ = pretrained
  sentences = sorted({s for d in documents for s in d})
  random.Random(2).shuffle(sentences)
  sentences = sentences[:6000]
  rows = ["%s\t%s" % (s, ",".join(tag for tag, pattern in TAGS
                                  if pattern.search(s)))
          for s in sentences]
  split = int(0.8 * len(rows))
  task = work / "tags"
  task.mkdir()
  (task / "train.tsv").write_text("\n".join(rows[:split]) + "\n",
                                  encoding="utf-8")
  (task / "dev.tsv").write_text("\n".join(rows[split:]) + "\n",
                                encoding="utf-8")
  results = _fine_tune(pretrained, "tags_out", str(task), 1e-3,
                       task_name="tsv", multi_label=True, num_train_epochs=3)
  dev_sets = [row.split("\t")[1] for row in rows[split:]]
  most_frequent = max(dev_sets.count(s) for s in set(dev_sets)) / len(
      dev_sets)
  subset_accuracy = float(results["eval_subset_accuracy"])
  assert _clearly_above(subset_accuracy, most_frequent, len(dev_sets)), (
      subset_accuracy, most_frequent)
  assert float(results["eval_micro_f1"]) > 0.5, results
