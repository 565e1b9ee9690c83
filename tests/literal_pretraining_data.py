# coding=utf-8
"""A plain, literal implementation of Google's pretraining-data generation.

Written from BEHAVIOUR.md sections 3.1, 3.2 and 6.3, step by step, on lists of
token strings, with Python's `random.Random` and `tf.train.Example`. It is slow
and obviously right; the tests use it as an oracle for the fast
`create_pretraining_data.py`, and the benchmark uses it as the baseline.
"""

import collections
import json
import random

import tensorflow as tf

import sentence_split
import tokenization


def read_documents(input_files, tokenizer, input_format="sentences",
                   text_key="text"):
  """Reads documents as Google does (section 3.1), or one per line.

  Args:
    input_files: list of paths, read in this order.
    tokenizer: a `tokenization.FullTokenizer`.
    input_format: "sentences" (Google's), "lines" (a line is a document, cut
      by sentence_split.split_line) or "jsonl" (a line is a JSON object whose
      text_key is a document, cut by sentence_split.split_sentences).
    text_key: see input_format.

  Returns:
    list of documents; a document is a list of sentences, a sentence a list of
    token strings. Empty documents are removed.
  """
  if input_format != "sentences":
    all_documents = []
    for input_file in input_files:
      with open(input_file, encoding="utf-8") as reader:
        for line in reader:
          if not line.strip():
            continue
          if input_format == "jsonl":
            sentences = sentence_split.split_sentences(
                json.loads(line)[text_key])
          else:
            sentences = sentence_split.split_line(line.rstrip("\n"))
          document = [tokenizer.tokenize(s) for s in sentences]
          all_documents.append([tokens for tokens in document if tokens])
    return [document for document in all_documents if document]
  all_documents = [[]]
  for input_file in input_files:
    # tf.io.gfile.GFile is the reader Google uses: it splits on "\n" and
    # deletes every "\r".
    with tf.io.gfile.GFile(input_file, "r") as reader:
      while True:
        line = reader.readline()
        if not line:
          break
        line = line.strip()
        if not line:
          all_documents.append([])
        else:
          tokens = tokenizer.tokenize(line)
          if tokens:
            all_documents[-1].append(tokens)
  return [document for document in all_documents if document]


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """Deletes tokens from the front or back of the longer list (ties: B).

  Args:
    tokens_a: list of tokens, changed in place.
    tokens_b: list of tokens, changed in place.
    max_num_tokens: the largest allowed len(tokens_a) + len(tokens_b).
    rng: random.Random.
  """
  while len(tokens_a) + len(tokens_b) > max_num_tokens:
    if len(tokens_a) > len(tokens_b):
      longer = tokens_a
    else:
      longer = tokens_b
    if rng.random() < 0.5:
      del longer[0]
    else:
      longer.pop()


def mask_tokens(tokens, masked_lm_prob, max_predictions_per_seq, vocab_words,
                do_whole_word_mask, rng):
  """Chooses and replaces the masked positions (section 6.3 step 4).

  Args:
    tokens: list of token strings `[CLS] A [SEP] B [SEP]`.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    vocab_words: list(vocab.keys()).
    do_whole_word_mask: bool.
    rng: random.Random.

  Returns:
    (output tokens, sorted masked positions, original tokens at them).
  """
  cand_indexes = []
  for i, token in enumerate(tokens):
    if token == "[CLS]" or token == "[SEP]":
      continue
    if do_whole_word_mask and cand_indexes and token.startswith("##"):
      cand_indexes[-1].append(i)
    else:
      cand_indexes.append([i])
  rng.shuffle(cand_indexes)
  num_to_predict = min(max_predictions_per_seq,
                       max(1, int(round(len(tokens) * masked_lm_prob))))
  output_tokens = list(tokens)
  masked = []
  covered = set()
  for group in cand_indexes:
    if len(masked) >= num_to_predict:
      break
    if len(masked) + len(group) > num_to_predict:
      continue
    if any(index in covered for index in group):
      continue
    for index in group:
      covered.add(index)
      if rng.random() < 0.8:
        replacement = "[MASK]"
      elif rng.random() < 0.5:
        replacement = tokens[index]
      else:
        replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
      output_tokens[index] = replacement
      masked.append((index, tokens[index]))
  masked.sort()
  return (output_tokens, [index for index, _ in masked],
          [label for _, label in masked])


def instances_from_document(all_documents, document_index, max_seq_length,
                            short_seq_prob, masked_lm_prob,
                            max_predictions_per_seq, vocab_words,
                            do_whole_word_mask, rng, mask=True):
  """Section 6.3 step 3 for one document.

  Args:
    all_documents: list of documents (lists of token lists).
    document_index: which document.
    max_seq_length: int.
    short_seq_prob: float.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    vocab_words: list(vocab.keys()).
    do_whole_word_mask: bool.
    rng: random.Random.
    mask: False for dynamic masking (no masks, no masking draws).

  Returns:
    list of dicts with keys tokens, segment_ids, is_random_next,
    masked_lm_positions, masked_lm_labels.
  """
  document = all_documents[document_index]
  max_num_tokens = max_seq_length - 3
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)
  instances = []
  chunk = []
  length = 0
  i = 0
  while i < len(document):
    chunk.append(document[i])
    length += len(document[i])
    if i == len(document) - 1 or length >= target_seq_length:
      a_end = 1
      if len(chunk) >= 2:
        a_end = rng.randint(1, len(chunk) - 1)
      tokens_a = [t for sentence in chunk[:a_end] for t in sentence]
      tokens_b = []
      if len(chunk) == 1 or rng.random() < 0.5:
        is_random_next = True
        target_b_length = target_seq_length - len(tokens_a)
        for _ in range(10):
          random_index = rng.randint(0, len(all_documents) - 1)
          if random_index != document_index:
            break
        random_document = all_documents[random_index]
        start = rng.randint(0, len(random_document) - 1)
        for j in range(start, len(random_document)):
          tokens_b.extend(random_document[j])
          if len(tokens_b) >= target_b_length:
            break
        i -= len(chunk) - a_end
      else:
        is_random_next = False
        tokens_b = [t for sentence in chunk[a_end:] for t in sentence]
      truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
      assert tokens_a and tokens_b
      tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + tokens_b + ["[SEP]"]
      segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
      positions, labels = [], []
      if mask:
        tokens, positions, labels = mask_tokens(
            tokens, masked_lm_prob, max_predictions_per_seq, vocab_words,
            do_whole_word_mask, rng)
      instances.append(dict(tokens=tokens, segment_ids=segment_ids,
                            is_random_next=is_random_next,
                            masked_lm_positions=positions,
                            masked_lm_labels=labels))
      chunk = []
      length = 0
    i += 1
  return instances


def packed_instances_from_document(document, max_seq_length, masked_lm_prob,
                                   max_predictions_per_seq, vocab_words,
                                   do_whole_word_mask, rng, mask=True):
  """Masked-LM-only instances: [CLS] A [SEP], A packed from the document.

  Sentences are added to A while A stays within max_seq_length - 2 tokens; a
  sentence longer than that on its own is cut, and its rest starts the next
  A.

  Args:
    document: list of sentences (token lists).
    max_seq_length: int.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    vocab_words: list(vocab.keys()).
    do_whole_word_mask: bool.
    rng: random.Random.
    mask: False for dynamic masking (no masks, no draws).

  Returns:
    list of instance dicts (is_random_next False, segment ids 0).
  """
  limit = max_seq_length - 2
  pieces = []  # the document as runs of at most `limit` tokens
  for sentence in document:
    pieces.extend(sentence[i:i + limit] for i in range(0, len(sentence),
                                                       limit))
  instances = []
  current = []
  for piece in pieces:
    if current and len(current) + len(piece) > limit:
      instances.append(current)
      current = []
    current = current + piece
  if current:
    instances.append(current)
  result = []
  for tokens_a in instances:
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    positions, labels = [], []
    if mask:
      tokens, positions, labels = mask_tokens(
          tokens, masked_lm_prob, max_predictions_per_seq, vocab_words,
          do_whole_word_mask, rng)
    result.append(dict(tokens=tokens, segment_ids=[0] * len(tokens),
                       is_random_next=False, masked_lm_positions=positions,
                       masked_lm_labels=labels))
  return result


def create_instances(input_files, tokenizer, max_seq_length, dupe_factor,
                     short_seq_prob, masked_lm_prob, max_predictions_per_seq,
                     do_whole_word_mask, rng, **options):
  """Section 6.3 steps 1-2: every instance, in Google's final order.

  Args:
    input_files: list of paths.
    tokenizer: a `tokenization.FullTokenizer`.
    max_seq_length: int.
    dupe_factor: int.
    short_seq_prob: float.
    masked_lm_prob: float.
    max_predictions_per_seq: int.
    do_whole_word_mask: bool.
    rng: random.Random.
    **options: input_format, text_key (read_documents), documents (indices
      of the documents to use, default all), next_sentence_prediction and
      masking (instances_of_documents).

  Returns:
    list of instance dicts.
  """
  all_documents = read_documents(input_files, tokenizer,
                                 options.pop("input_format", "sentences"),
                                 options.pop("text_key", "text"))
  documents = options.pop("documents", None)
  if documents is not None:
    all_documents = [all_documents[i] for i in documents]
  return instances_of_documents(
      all_documents, list(tokenizer.vocab.keys()), max_seq_length,
      dupe_factor, short_seq_prob, masked_lm_prob, max_predictions_per_seq,
      do_whole_word_mask, rng, **options)


def instances_of_documents(all_documents, vocab_words, max_seq_length,
                           dupe_factor, short_seq_prob, masked_lm_prob,
                           max_predictions_per_seq, do_whole_word_mask, rng,
                           next_sentence_prediction=True, masking="static"):
  """Every instance of some documents, in the final order.

  Args:
    all_documents: list of documents (lists of token lists), in input order.
    vocab_words: list(vocab.keys()).
    max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
    max_predictions_per_seq, do_whole_word_mask: Google's flags.
    rng: random.Random.
    next_sentence_prediction: False: packed masked-LM-only instances.
    masking: "dynamic": no masks, each instance once (dupe_factor 1).

  Returns:
    list of instance dicts.
  """
  all_documents = list(all_documents)
  rng.shuffle(all_documents)
  mask = masking == "static"
  instances = []
  for _ in range(dupe_factor if mask else 1):
    for document_index in range(len(all_documents)):
      if next_sentence_prediction:
        instances.extend(instances_from_document(
            all_documents, document_index, max_seq_length, short_seq_prob,
            masked_lm_prob, max_predictions_per_seq, vocab_words,
            do_whole_word_mask, rng, mask))
      else:
        instances.extend(packed_instances_from_document(
            all_documents[document_index], max_seq_length, masked_lm_prob,
            max_predictions_per_seq, vocab_words, do_whole_word_mask, rng,
            mask))
  rng.shuffle(instances)
  return instances


def instance_to_example(instance, tokenizer, max_seq_length,
                        max_predictions_per_seq, feature_names=None):
  """Section 3.2: one instance as a tf.train.Example (Google's feature order).

  Args:
    instance: dict from `instances_from_document`.
    tokenizer: a `tokenization.FullTokenizer`.
    max_seq_length: int.
    max_predictions_per_seq: int.
    feature_names: the features to write (default: Google's seven).

  Returns:
    tf.train.Example.
  """
  input_ids = tokenizer.convert_tokens_to_ids(instance["tokens"])
  input_mask = [1] * len(input_ids)
  segment_ids = list(instance["segment_ids"])
  padding = [0] * (max_seq_length - len(input_ids))
  positions = list(instance["masked_lm_positions"])
  ids = tokenizer.convert_tokens_to_ids(instance["masked_lm_labels"])
  weights = [1.0] * len(ids)
  prediction_padding = [0] * (max_predictions_per_seq - len(ids))

  def ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

  features = collections.OrderedDict()
  features["input_ids"] = ints(input_ids + padding)
  features["input_mask"] = ints(input_mask + padding)
  features["segment_ids"] = ints(segment_ids + padding)
  features["masked_lm_positions"] = ints(positions + prediction_padding)
  features["masked_lm_ids"] = ints(ids + prediction_padding)
  features["masked_lm_weights"] = tf.train.Feature(
      float_list=tf.train.FloatList(
          value=weights + [0.0] * len(prediction_padding)))
  features["next_sentence_labels"] = ints(
      [1 if instance["is_random_next"] else 0])
  if feature_names is not None:
    features = collections.OrderedDict(
        (name, features[name]) for name in feature_names)
  return tf.train.Example(features=tf.train.Features(feature=features))


def run(input_files, output_files, vocab_file, do_lower_case=True,
        do_whole_word_mask=False, max_seq_length=128,
        max_predictions_per_seq=20, random_seed=12345, dupe_factor=10,
        masked_lm_prob=0.15, short_seq_prob=0.1, **options):
  """Writes the TFRecord files, instances round-robin over `output_files`.

  Args:
    input_files: list of input paths (already globbed).
    output_files: list of output paths.
    vocab_file: path of the vocabulary.
    do_lower_case: bool.
    do_whole_word_mask: bool.
    max_seq_length: int.
    max_predictions_per_seq: int.
    random_seed: int.
    dupe_factor: int.
    masked_lm_prob: float.
    short_seq_prob: float.
    **options: see create_instances. With next_sentence_prediction=False
      records have no next_sentence_labels; with masking="dynamic" no
      masked_lm_* features.

  Returns:
    number of instances written.
  """
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case)
  rng = random.Random(random_seed)
  feature_names = ["input_ids", "input_mask", "segment_ids"]
  if options.get("masking", "static") == "static":
    feature_names += ["masked_lm_positions", "masked_lm_ids",
                      "masked_lm_weights"]
  if options.get("next_sentence_prediction", True):
    feature_names.append("next_sentence_labels")
  instances = create_instances(
      input_files, tokenizer, max_seq_length, dupe_factor, short_seq_prob,
      masked_lm_prob, max_predictions_per_seq, do_whole_word_mask, rng,
      **options)
  writers = [tf.io.TFRecordWriter(path) for path in output_files]
  for index, instance in enumerate(instances):
    example = instance_to_example(instance, tokenizer, max_seq_length,
                                  max_predictions_per_seq, feature_names)
    writers[index % len(writers)].write(
        example.SerializeToString(deterministic=True))
  for writer in writers:
    writer.close()
  return len(instances)
