# coding=utf-8
"""ALBERT's pretraining-data algorithm written plainly, as the tests' oracle.

A slow, literal reading of google-research/albert's create_pretraining_data.py
(b772393) on lists of token strings: Python's `random.Random(random_seed)`,
numpy's global generator seeded once with `np.random.seed(random_seed)` (the
documented fix; ALBERT never seeds it) and drawn with `np.random.choice`,
TensorFlow's file reader and writer. The flags are arguments. Records are
serialized with the features in ALBERT's order (tf_example.serialize_example
gives protobuf's pure-Python bytes for that order), so the files can be
compared byte for byte with ALBERT's. The benchmark uses it as the baseline.
"""

import random

import numpy as np
import tensorflow as tf

from albert import tokenization
from literal_pretraining_data import truncate_seq_pair  # ALBERT's = BERT's
import tf_example

_SPECIAL = set('!"#$%&"()*+,-./:;?@[\\]^_`{|}~') | {
    u"€".encode("utf-8"), u"£".encode("utf-8")}
_LETTERS = set("abcdefghijklmnopqrstuvwxyz")


def is_start_piece(piece, use_spm):
  """ALBERT's is_start_piece (SentencePiece or WordPiece rule)."""
  if not use_spm:
    return not piece.startswith("##")
  if piece.startswith(u"▁") or piece.startswith("<") or piece in _SPECIAL:
    return True
  return not all(c.lower() in (_LETTERS | _SPECIAL) for c in piece)


def read_documents(input_files, tokenizer, f):
  """ALBERT's reading loop: a list of documents of token lists."""
  use_spm = tokenizer.sp_model is not None
  documents = [[]]
  for input_file in input_files:
    with tf.io.gfile.GFile(input_file, f["input_file_mode"]) as reader:
      while True:
        line = reader.readline()
        if isinstance(line, bytes):  # "rb": ALBERT decodes, dropping errors
          line = line.decode("utf-8", "ignore")
        if not line:
          break
        if use_spm:
          line = tokenization.preprocess_text(line, lower=f["do_lower_case"])
        else:
          line = line.strip()
        if not line:
          documents.append([])
        tokens = tokenizer.tokenize(line)
        if tokens:
          documents[-1].append(tokens)
  return [d for d in documents if d]


def draw_ngram_set(cand_index_set, used, num_to_predict, ngrams, pvals):
  """One np.random.choice of n, shortened until it fits (or None)."""
  k = len(cand_index_set)
  n = np.random.choice(ngrams[:k], p=pvals[:k] / pvals[:k].sum(keepdims=True))
  index_set = sum(cand_index_set[n - 1], [])
  n -= 1
  while used + len(index_set) > num_to_predict:
    if n == 0:
      break
    index_set = sum(cand_index_set[n - 1], [])
    n -= 1
  if used + len(index_set) > num_to_predict:
    return None
  return index_set


def masked_lm_predictions(tokens, vocab_words, rng, f, use_spm):
  """ALBERT's create_masked_lm_predictions.

  Returns:
    (output tokens, masked positions, labels, token_boundary).
  """
  cand_indexes = []
  token_boundary = [0] * len(tokens)
  for i, token in enumerate(tokens):
    if token in ("[CLS]", "[SEP]"):
      token_boundary[i] = 1
      continue
    start = is_start_piece(token, use_spm)
    if f["do_whole_word_mask"] and cand_indexes and not start:
      cand_indexes[-1].append(i)
    else:
      cand_indexes.append([i])
      token_boundary[i] = int(start)
  output = list(tokens)
  if f["masked_lm_prob"] == 0:
    return output, [], [], token_boundary
  num_to_predict = min(f["max_predictions_per_seq"],
                       max(1, int(round(len(tokens) * f["masked_lm_prob"]))))
  ngrams = np.arange(1, f["ngram"] + 1, dtype=np.int64)
  pvals = 1. / np.arange(1, f["ngram"] + 1)
  pvals /= pvals.sum(keepdims=True)
  if not f["favor_shorter_ngram"]:
    pvals = pvals[::-1]
  ngram_indexes = [[cand_indexes[idx:idx + n] for n in ngrams]
                   for idx in range(len(cand_indexes))]
  rng.shuffle(ngram_indexes)
  masked = []  # (index, label)
  covered = set()
  for cand_index_set in ngram_indexes:
    if len(masked) >= num_to_predict:
      break
    index_set = draw_ngram_set(cand_index_set, len(masked), num_to_predict,
                               ngrams, pvals)
    if index_set is None or any(i in covered for i in index_set):
      continue
    for index in index_set:
      covered.add(index)
      if rng.random() < 0.8:
        output[index] = "[MASK]"
      elif rng.random() < 0.5:
        output[index] = tokens[index]
      else:
        output[index] = vocab_words[rng.randint(0, len(vocab_words) - 1)]
      masked.append((index, tokens[index]))
  rng.shuffle(ngram_indexes)
  if f["do_permutation"]:
    masked += permutation(ngram_indexes, covered, output, num_to_predict,
                          ngrams, pvals, rng)
  masked.sort(key=lambda x: x[0])
  return (output, [i for i, _ in masked], [label for _, label in masked],
          token_boundary)


def permutation(ngram_indexes, covered, output, num_to_predict, ngrams,
                pvals, rng):
  """ALBERT's do_permutation step; changes `output`, returns predictions."""
  selected = set()
  for cand_index_set in ngram_indexes:
    if len(selected) >= num_to_predict:
      break
    index_set = draw_ngram_set(cand_index_set, len(selected), num_to_predict,
                               ngrams, pvals)
    if index_set is None or any(i in covered or i in selected
                                for i in index_set):
      continue
    selected.update(index_set)
  sources = sorted(selected)
  targets = list(sources)
  rng.shuffle(targets)
  before = list(output)
  predictions = []
  for source, target in zip(sources, targets):
    output[source] = before[target]
    predictions.append((source, before[source]))
  return predictions


def instances_from_document(documents, index, vocab_words, rng, f, use_spm):
  """ALBERT's create_instances_from_document (list of dicts)."""
  document = documents[index]
  max_num_tokens = f["max_seq_length"] - 3
  target = max_num_tokens
  if rng.random() < f["short_seq_prob"]:
    target = rng.randint(2, max_num_tokens)
  instances = []
  chunk = []
  length = 0
  i = 0
  while i < len(document):
    chunk.append(document[i])
    length += len(document[i])
    if i == len(document) - 1 or length >= target:
      a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
      tokens_a = sum(chunk[:a_end], [])
      tokens_b = []
      if len(chunk) == 1 or (f["random_next_sentence"] and
                             rng.random() < 0.5):
        is_random_next = True
        for _ in range(10):
          other = rng.randint(0, len(documents) - 1)
          if other != index:
            break
        start = rng.randint(0, len(documents[other]) - 1)
        for j in range(start, len(documents[other])):
          tokens_b.extend(documents[other][j])
          if len(tokens_b) >= target - len(tokens_a):
            break
        i -= len(chunk) - a_end
      elif not f["random_next_sentence"] and rng.random() < 0.5:
        is_random_next = True
        tokens_a, tokens_b = sum(chunk[a_end:], []), tokens_a
      else:
        is_random_next = False
        tokens_b = sum(chunk[a_end:], [])
      truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
      tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
      segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
      tokens, positions, labels, boundary = masked_lm_predictions(
          tokens, vocab_words, rng, f, use_spm)
      instances.append(dict(tokens=tokens, segment_ids=segment_ids,
                            is_random_next=is_random_next,
                            token_boundary=boundary,
                            masked_lm_positions=positions,
                            masked_lm_labels=labels))
      chunk = []
      length = 0
    i += 1
  return instances


def create_instances(input_files, tokenizer, f):
  """ALBERT's create_training_instances: every instance, in final order."""
  rng = random.Random(f["random_seed"])
  np.random.seed(f["random_seed"])  # the fix: ALBERT never seeds numpy
  documents = read_documents(input_files, tokenizer, f)
  rng.shuffle(documents)
  vocab_words = list(tokenizer.vocab.keys())
  use_spm = tokenizer.sp_model is not None
  instances = []
  for _ in range(f["dupe_factor"]):
    for index in range(len(documents)):
      instances.extend(instances_from_document(documents, index, vocab_words,
                                               rng, f, use_spm))
  rng.shuffle(instances)
  return instances


def serialize(instance, tokenizer, f):
  """One instance as ALBERT's tf.train.Example bytes (ALBERT's order)."""
  seq = f["max_seq_length"]
  preds = f["max_predictions_per_seq"] * (1 + int(f["do_permutation"]))
  input_ids = tokenizer.convert_tokens_to_ids(instance["tokens"])
  pad = [0] * (seq - len(input_ids))
  ids = tokenizer.convert_tokens_to_ids(instance["masked_lm_labels"])
  pred_pad = [0] * (preds - len(ids))
  return tf_example.serialize_example([
      ("input_ids", input_ids + pad, False),
      ("input_mask", [1] * len(input_ids) + pad, False),
      ("segment_ids", instance["segment_ids"] + pad, False),
      ("token_boundary", instance["token_boundary"] + pad, False),
      ("masked_lm_positions", instance["masked_lm_positions"] + pred_pad,
       False),
      ("masked_lm_ids", ids + pred_pad, False),
      ("masked_lm_weights", [1.0] * len(ids) + [0.0] * len(pred_pad), True),
      ("next_sentence_labels", [int(instance["is_random_next"])], False)])


def run(input_files, output_files, vocab_file, spm_model_file=None, **f):
  """ALBERT's main: writes the records round-robin; returns their number.

  Args:
    input_files: list of paths.
    output_files: list of paths.
    vocab_file: WordPiece vocabulary (unused with spm_model_file).
    spm_model_file: SentencePiece model or None.
    **f: every other ALBERT flag (see albert/create_pretraining_data.py).
  """
  tokenizer = tokenization.FullTokenizer(vocab_file, f["do_lower_case"],
                                         spm_model_file)
  instances = create_instances(input_files, tokenizer, f)
  writers = [tf.io.TFRecordWriter(path) for path in output_files]
  for index, instance in enumerate(instances):
    writers[index % len(writers)].write(serialize(instance, tokenizer, f))
  for writer in writers:
    writer.close()
  tokenizer.close()
  return len(instances)
