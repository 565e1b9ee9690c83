# coding=utf-8
"""Acceptance: run_ner.main() learns a tagging task on real text to well
above the majority baseline.

The data is tests/tagging_corpus.py's: about 5,000 sentences of Python's own
documentation (the same on every install of one interpreter), tagged by
fixed rules with numbers (NUM), Python's constants (CONST), parenthesised
phrases (PAREN) and quoted phrases (QUOTE), IOB2. A tiny BERT from random
weights (2 layers, hidden 64) is fine-tuned for 3 epochs (about 30 s of CPU).

Majority baseline: every word O, which finds no entity (F1 0) and gets
the share of O words right.
"""

import collections
import os

import numpy as np

from harness import read_eval_results
from harness import run_main
from harness import VOCAB
from harness import write_config
import run_ner
import tagging_corpus


def test_learns_entities_well_above_the_majority_baseline(tmp_path):
  sentences = tagging_corpus.tagged_sentences(600000, max_words=40)
  split = int(0.8 * len(sentences))
  data_dir = tmp_path / "data"
  data_dir.mkdir()
  (data_dir / "train.txt").write_text(
      tagging_corpus.conll_text(sentences[:split]), encoding="utf-8")
  (data_dir / "dev.txt").write_text(
      tagging_corpus.conll_text(sentences[split:]), encoding="utf-8")
  output_dir = str(tmp_path / "out")
  run_main(run_ner.main, "--do_train", "--do_eval", data_dir=str(data_dir),
           vocab_file=VOCAB, do_lower_case=True,
           bert_config_file=write_config(tmp_path, hidden_size=64,
                                         intermediate_size=128),
           output_dir=output_dir, max_seq_length=64, doc_stride=32,
           train_batch_size=32, eval_batch_size=32, learning_rate=1e-3,
           num_train_epochs=3.0, save_checkpoints_steps=100000,
           iterations_per_loop=1000, format="conll", tag_scheme="auto",
           use_crf=False, seed=1)
  results = read_eval_results(os.path.join(output_dir, "eval_results.txt"))
  dev_tags = collections.Counter(t for _, tags in sentences[split:]
                                 for t in tags)
  num_words = sum(dev_tags.values())
  majority = dev_tags["O"] / num_words
  standard_error = np.sqrt(majority * (1 - majority) / num_words)
  accuracy = float(results["eval_accuracy"])
  assert accuracy >= majority + max(0.02, 3 * standard_error), (accuracy,
                                                                majority)
  assert float(results["eval_f1"]) >= 0.5, results
  # A lexical type and a type that needs the context.
  assert float(results["eval_f1_CONST"]) >= 0.8, results
  assert float(results["eval_f1_QUOTE"]) >= 0.6, results
