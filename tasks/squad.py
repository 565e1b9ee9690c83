# coding=utf-8
"""SQuAD 1.1 / 2.0 as a Task: examples, windowed features, span head,
predictions and the official metrics.

Google's run_squad.py (eedf571): the same examples, windowed features,
TFRecords, head (`cls/squad/*`) and prediction files, byte for byte. On top:
prediction is streamed (features go to the record file as they are made,
results are turned into answers as they arrive), the official SQuAD metrics
are computed when the predict file has answers, and a SQuAD 2.0 question
whose n-best holds only the null answer is answered "" where Google's code
crashes. run_squad.py is the command line over this task.
"""

import collections
import json
import math
import os
import random
import time

from absl import logging
import numpy as np
import tensorflow as tf

import estimator_lib
import heads
import io_lib
import squad_evaluate
import task_lib
import text_inputs
import tf_example
import tokenization
import validation

# The first feature's unique id, as Google's.
_FIRST_UNIQUE_ID = 1000000000


class SquadExample(object):
  """A single training/test example for simple sequence classification.

     For examples without an answer, the start and end position are -1.
  """

  def __init__(self,
               qas_id,
               question_text,
               doc_tokens,
               orig_answer_text=None,
               start_position=None,
               end_position=None,
               is_impossible=False):
    self.qas_id = qas_id
    self.question_text = question_text
    self.doc_tokens = doc_tokens
    self.orig_answer_text = orig_answer_text
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible

  def __str__(self):
    return self.__repr__()

  def __repr__(self):
    s = "qas_id: %s" % tokenization.printable_text(self.qas_id)
    s += ", question_text: %s" % (
        tokenization.printable_text(self.question_text))
    s += ", doc_tokens: [%s]" % (" ".join(self.doc_tokens))
    # As Google's: the positions are shown only when start_position is truthy.
    if self.start_position:
      s += ", start_position: %d" % self.start_position
      s += ", end_position: %d" % self.end_position
      s += ", is_impossible: %r" % self.is_impossible
    return s


class InputFeatures(object):
  """A single set of features of data (one window of one example)."""

  def __init__(self,
               unique_id,
               example_index,
               doc_span_index,
               tokens,
               token_to_orig_map,
               token_is_max_context,
               input_ids,
               input_mask,
               segment_ids,
               start_position=None,
               end_position=None,
               is_impossible=None):
    self.unique_id = unique_id
    self.example_index = example_index
    self.doc_span_index = doc_span_index
    self.tokens = tokens
    self.token_to_orig_map = token_to_orig_map
    self.token_is_max_context = token_is_max_context
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible


class SquadFormatError(validation.DataError):
  """The input file is not in SQuAD's JSON layout (a ValueError)."""


def _squad_field(obj, key, kind, input_file, where):
  """Returns obj[key] after checking that it exists and has type `kind`.

  Args:
    obj: a JSON object (dict) of the SQuAD file.
    key: the field name.
    kind: a type or tuple of types the value must have.
    input_file: the file name, for the error message.
    where: the JSON path of `obj` (e.g. "data[0].paragraphs[3]").

  Raises:
    SquadFormatError: naming the file and the JSON path of the culprit.
  """
  if not isinstance(obj, dict):
    raise SquadFormatError(
        "%s: %s is not a JSON object; this is not a SQuAD file "
        "(data -> paragraphs -> context, qas)." % (input_file, where))
  if key not in obj:
    raise SquadFormatError(
        "%s: %s has no field %r; this is not a SQuAD file "
        "(data -> paragraphs -> context, qas -> id, question, answers)." %
        (input_file, where, key))
  value = obj[key]
  # A JSON true/false is a Python int too: not a number here.
  if not isinstance(value, kind) or (isinstance(value, bool) and
                                     bool not in _as_tuple(kind)):
    raise SquadFormatError(
        "%s: %s is %s (%s), expected %s." %
        (input_file, key if where == "the top level" else where + "." + key,
         _type_text(value), json.dumps(value)[:40],
         " or ".join(_type_text(k()) for k in _as_tuple(kind))))
  return value


def _as_tuple(kind):
  """A type or tuple of types as a tuple."""
  return kind if isinstance(kind, tuple) else (kind,)


def _type_text(value):
  """'a string', 'a number', ... as JSON calls a Python value's type."""
  if isinstance(value, bool):
    return "true/false"
  return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


_JSON_TYPE_NAMES = {str: "a string", int: "a number", float: "a number",
                    list: "a list", dict: "an object", type(None): "null"}


def load_squad_json(input_file):
  """Reads a SQuAD JSON file and returns its "data" list.

  Args:
    input_file: path of the file (any tf.io.gfile path).

  Returns:
    the list under the top-level "data" key.

  Raises:
    SquadFormatError: the file is missing, is not JSON or has no "data" list.
  """
  if not tf.io.gfile.exists(input_file):
    raise SquadFormatError("SQuAD file %s does not exist." % input_file)
  try:
    with tf.io.gfile.GFile(input_file, "r") as reader:
      text = reader.read()
  except UnicodeDecodeError as e:
    raise SquadFormatError("SQuAD file %s is not UTF-8 text (%s)." %
                           (input_file, e)) from None
  if not text.strip():
    raise SquadFormatError("SQuAD file %s is empty." % input_file)
  try:
    dataset = json.loads(text)
  except json.JSONDecodeError as e:
    raise SquadFormatError("%s is not valid JSON: %s" % (input_file, e)) from e
  return _squad_field(dataset, "data", list, input_file, "the top level")


def _is_whitespace(c):
  """Google's SQuAD whitespace: only these five characters split words."""
  return c == " " or c == "\t" or c == "\r" or c == "\n" or ord(c) == 0x202F


def _split_paragraph(paragraph_text):
  """Splits a context on whitespace, keeping the character -> word map.

  Args:
    paragraph_text: the context string.

  Returns:
    (doc_tokens, char_to_word_offset): the words, and for every character of
    the context the index of its word (whitespace maps to the previous word,
    -1 before the first).
  """
  doc_tokens = []
  char_to_word_offset = []
  prev_is_whitespace = True
  for c in paragraph_text:
    if _is_whitespace(c):
      prev_is_whitespace = True
    else:
      if prev_is_whitespace:
        doc_tokens.append(c)
      else:
        doc_tokens[-1] += c
      prev_is_whitespace = False
    char_to_word_offset.append(len(doc_tokens) - 1)
  return doc_tokens, char_to_word_offset


def _training_answer(qa, qa_where, qas_id, input_file, doc_tokens,
                     char_to_word_offset, version_2_with_negative):
  """The answer of a training question, or None to skip the question.

  Args:
    qa: the question's JSON object.
    qa_where: its JSON path; qas_id: its id; input_file: for the messages.
    doc_tokens, char_to_word_offset: the context split by `_split_paragraph`.
    version_2_with_negative: read `is_impossible`.

  Returns:
    (orig_answer_text, start_position, end_position, is_impossible) with word
    positions (-1, -1 and "" for an impossible question), or None when the
    answer is not found in the context (logged).

  Raises:
    SquadFormatError, ValueError: as read_squad_examples.
  """
  is_impossible = False
  if version_2_with_negative:
    if "is_impossible" not in qa:
      raise SquadFormatError(
          "%s: %s (id %s) has no field 'is_impossible', required with "
          "--version_2_with_negative (is this a SQuAD 1.1 file?)." %
          (input_file, qa_where, qas_id))
    # "false" (a string) used to be true: answerable questions trained as
    # impossible.
    is_impossible = _squad_field(qa, "is_impossible", bool, input_file,
                                 qa_where)
  answers = _squad_field(qa, "answers", list, input_file, qa_where)
  if len(answers) != 1 and not is_impossible:
    raise SquadFormatError(
        "For training, each question should have exactly 1 answer: "
        "%s: %s (id %s) has %d." % (input_file, qa_where, qas_id,
                                    len(answers)))
  if is_impossible:
    return "", -1, -1, is_impossible
  answer_where = qa_where + ".answers[0]"
  orig_answer_text = _squad_field(answers[0], "text", str, input_file,
                                  answer_where)
  answer_offset = _squad_field(answers[0], "answer_start", int, input_file,
                               answer_where)
  answer_end = answer_offset + len(orig_answer_text) - 1
  if not (0 <= answer_offset < len(char_to_word_offset) and
          0 <= answer_end < len(char_to_word_offset)):
    # Google's code crashes here with an IndexError.
    logging.warning(
        "%s: %s (id %s): answer_start %d is outside its context "
        "(%d characters); skipping the question.", input_file, qa_where,
        qas_id, answer_offset, len(char_to_word_offset))
    return None
  start_position = char_to_word_offset[answer_offset]
  end_position = char_to_word_offset[answer_end]
  # Only answers whose text can be recovered from the words are kept
  # (Unicode whitespace that str.split knows and _is_whitespace does not is
  # the usual reason), so in training mode not every question gives an
  # example.
  actual_text = " ".join(doc_tokens[start_position:(end_position + 1)])
  cleaned_answer_text = " ".join(
      tokenization.whitespace_tokenize(orig_answer_text))
  if actual_text.find(cleaned_answer_text) == -1:
    logging.warning("Could not find answer: '%s' vs. '%s'", actual_text,
                    cleaned_answer_text)
    return None
  return orig_answer_text, start_position, end_position, is_impossible


def _paragraph_examples(paragraph, where, input_file, is_training,
                        version_2_with_negative):
  """The SquadExamples of one paragraph and the number of skipped questions.

  Args:
    paragraph: the paragraph's JSON object (context, qas).
    where: its JSON path, for the messages.
    input_file: the file, for the messages.
    is_training, version_2_with_negative: as read_squad_examples.

  Returns:
    (list of SquadExample sharing one doc_tokens list, number skipped).
  """
  paragraph_text = _squad_field(paragraph, "context", str, input_file, where)
  qas = _squad_field(paragraph, "qas", list, input_file, where)
  doc_tokens, char_to_word_offset = _split_paragraph(paragraph_text)
  examples = []
  num_skipped = 0
  for qa_index, qa in enumerate(qas):
    qa_where = "%s.qas[%d]" % (where, qa_index)
    qas_id = _squad_field(qa, "id", (str, int), input_file, qa_where)
    question_text = _squad_field(qa, "question", str, input_file, qa_where)
    answer = (None, None, None, False)
    if is_training:
      answer = _training_answer(qa, qa_where, qas_id, input_file, doc_tokens,
                                char_to_word_offset, version_2_with_negative)
      if answer is None:
        num_skipped += 1
        continue
    orig_answer_text, start_position, end_position, is_impossible = answer
    examples.append(
        SquadExample(
            qas_id=qas_id,
            question_text=question_text,
            doc_tokens=doc_tokens,
            orig_answer_text=orig_answer_text,
            start_position=start_position,
            end_position=end_position,
            is_impossible=is_impossible))
  return examples, num_skipped


def read_squad_examples(input_file, is_training,
                        version_2_with_negative=False):
  """Read a SQuAD json file into a list of SquadExample.

  Args:
    input_file: the SQuAD JSON file.
    is_training: read the answer (exactly one per answerable question) and
      skip, with a warning, questions whose answer is not found in the context.
    version_2_with_negative: read `is_impossible` (training only).

  Returns:
    list of SquadExample, in file order. Questions of one paragraph share one
    `doc_tokens` list.

  Raises:
    SquadFormatError: the file is not in SQuAD layout (names file and field),
      or a training question without exactly one answer.
  """
  return read_squad_examples_counted(input_file, is_training,
                                     version_2_with_negative)[0]


def read_squad_examples_counted(input_file, is_training,
                                version_2_with_negative=False):
  """`read_squad_examples` and the number of questions it skipped.

  Returns:
    (list of SquadExample, number of training questions skipped because
    their answer is not found in the context).
  """
  input_data = load_squad_json(input_file)
  examples = []
  num_skipped = 0
  for entry_index, entry in enumerate(input_data):
    entry_where = "data[%d]" % entry_index
    paragraphs = _squad_field(entry, "paragraphs", list, input_file,
                              entry_where)
    for paragraph_index, paragraph in enumerate(paragraphs):
      paragraph_examples, skipped = _paragraph_examples(
          paragraph, "%s.paragraphs[%d]" % (entry_where, paragraph_index),
          input_file, is_training, version_2_with_negative)
      examples.extend(paragraph_examples)
      num_skipped += skipped
  if num_skipped:
    logging.warning("%s: skipped %d of %d question(s) whose answer was not "
                    "found in the context.", input_file, num_skipped,
                    num_skipped + len(examples))
  return examples, num_skipped


class _DocTokenizer(object):
  """WordPiece-tokenises the words of a context, remembering the last one.

  The questions of a paragraph share one `doc_tokens` list, so tokenising it
  once per paragraph instead of once per question gives the same tokens.
  """

  def __init__(self, tokenizer):
    self._tokenizer = tokenizer
    self._doc_tokens = None
    self._result = None

  def __call__(self, doc_tokens):
    """Returns (tok_to_orig_index, orig_to_tok_index, all_doc_tokens)."""
    if doc_tokens is not self._doc_tokens:
      pieces = text_inputs.tokenize_words(self._tokenizer, doc_tokens)
      self._doc_tokens = doc_tokens
      self._result = (pieces.piece_to_word, pieces.word_starts, pieces.pieces)
    return self._result


def _answer_token_span(example, orig_to_tok_index, all_doc_tokens,
                       tokenizer):
  """The answer's WordPiece span in the document (training only).

  Returns:
    (start, end) inclusive WordPiece indexes; (-1, -1) for an impossible
    question.
  """
  if example.is_impossible:
    return -1, -1
  tok_start_position = orig_to_tok_index[example.start_position]
  if example.end_position < len(example.doc_tokens) - 1:
    tok_end_position = orig_to_tok_index[example.end_position + 1] - 1
  else:
    tok_end_position = len(all_doc_tokens) - 1
  return _improve_answer_span(all_doc_tokens, tok_start_position,
                              tok_end_position, tokenizer,
                              example.orig_answer_text)


def _window_answer(example, doc_span, answer_span, doc_offset):
  """A training window's start and end positions (0, 0: not in the window).

  Args:
    example: the SquadExample.
    doc_span: the window (text_inputs.Window).
    answer_span: (start, end) of `_answer_token_span`.
    doc_offset: position of the window's first token in the features.
  """
  if example.is_impossible:
    return 0, 0
  # A window that does not hold the whole answer points at [CLS].
  doc_start = doc_span.start
  doc_end = doc_span.start + doc_span.length - 1
  if answer_span[0] >= doc_start and answer_span[1] <= doc_end:
    return (answer_span[0] - doc_start + doc_offset,
            answer_span[1] - doc_start + doc_offset)
  return 0, 0


def _example_features(example, example_index, unique_id, tokenizer,
                      doc_tokenizer, max_seq_length, doc_stride,
                      max_query_length, is_training, log):
  """Yields the InputFeatures (one per window) of one example.

  Args:
    example: a SquadExample.
    example_index: its index in the list of examples.
    unique_id: the unique id of its first feature; the next ones count up.
    tokenizer: a FullTokenizer.
    doc_tokenizer: a _DocTokenizer over the same tokenizer.
    max_seq_length, doc_stride, max_query_length, is_training: as in
      convert_examples_to_features.
    log: log the features in detail.
  """
  query_tokens = tokenizer.tokenize(example.question_text)
  if len(query_tokens) > max_query_length:
    query_tokens = query_tokens[0:max_query_length]
  tok_to_orig_index, orig_to_tok_index, all_doc_tokens = doc_tokenizer(
      example.doc_tokens)
  if is_training:
    answer_span = _answer_token_span(example, orig_to_tok_index,
                                     all_doc_tokens, tokenizer)
  # The -3 accounts for [CLS], [SEP] and [SEP]
  max_tokens_for_doc = max_seq_length - len(query_tokens) - 3
  doc_spans = text_inputs.sliding_windows(len(all_doc_tokens),
                                          max_tokens_for_doc, doc_stride)
  # The window's tokens follow [CLS] query [SEP].
  doc_offset = len(query_tokens) + 2
  for (doc_span_index, doc_span) in enumerate(doc_spans):
    token_to_orig_map = {}
    token_is_max_context = {}
    for i in range(doc_span.length):
      split_token_index = doc_span.start + i
      token_to_orig_map[doc_offset + i] = tok_to_orig_index[split_token_index]
      token_is_max_context[doc_offset + i] = text_inputs.is_max_context(
          doc_spans, doc_span_index, split_token_index)
    packed = text_inputs.pack_inputs(
        tokenizer, query_tokens,
        all_doc_tokens[doc_span.start:doc_span.start + doc_span.length],
        max_seq_length)
    start_position, end_position = None, None
    if is_training:
      start_position, end_position = _window_answer(example, doc_span,
                                                     answer_span, doc_offset)
    feature = InputFeatures(
        unique_id=unique_id,
        example_index=example_index,
        doc_span_index=doc_span_index,
        tokens=packed.tokens,
        token_to_orig_map=token_to_orig_map,
        token_is_max_context=token_is_max_context,
        input_ids=packed.input_ids,
        input_mask=packed.input_mask,
        segment_ids=packed.segment_ids,
        start_position=start_position,
        end_position=end_position,
        is_impossible=example.is_impossible)
    if log:
      _log_feature(feature, is_training)
    yield feature
    unique_id += 1


def _log_feature(feature, is_training):
  """Logs one feature in detail (Google does it for the first 20 examples)."""
  logging.info("*** Example ***")
  logging.info("unique_id: %s", feature.unique_id)
  logging.info("example_index: %s", feature.example_index)
  logging.info("doc_span_index: %s", feature.doc_span_index)
  logging.info("tokens: %s", " ".join(feature.tokens))
  logging.info("token_to_orig_map: %s", " ".join(
      "%d:%d" % item for item in feature.token_to_orig_map.items()))
  logging.info("token_is_max_context: %s", " ".join(
      "%d:%s" % item for item in feature.token_is_max_context.items()))
  logging.info("input_ids: %s", " ".join(str(x) for x in feature.input_ids))
  logging.info("input_mask: %s", " ".join(str(x) for x in feature.input_mask))
  logging.info("segment_ids: %s",
               " ".join(str(x) for x in feature.segment_ids))
  if is_training and feature.is_impossible:
    logging.info("impossible example")
  if is_training and not feature.is_impossible:
    answer_text = " ".join(
        feature.tokens[feature.start_position:(feature.end_position + 1)])
    logging.info("start_position: %d", feature.start_position)
    logging.info("end_position: %d", feature.end_position)
    logging.info("answer: %s", answer_text)


def _iter_features(examples, tokenizer, max_seq_length, doc_stride,
                   max_query_length, is_training, log_examples=20):
  """Yields the InputFeatures of all examples in order (unique ids from 1e9).

  Args:
    examples, tokenizer, max_seq_length, doc_stride, max_query_length,
      is_training: as convert_examples_to_features.
    log_examples: the features of this many first examples are logged in
      detail (Google logs 20); 0 also turns the progress log off.
  """
  doc_tokenizer = _DocTokenizer(tokenizer)
  unique_id = _FIRST_UNIQUE_ID
  start_time = time.time()
  for (example_index, example) in enumerate(examples):
    if log_examples and example_index and example_index % 10000 == 0:
      logging.info("Converted %d of %d examples to %d features (%.0f/s).",
                   example_index, len(examples),
                   unique_id - _FIRST_UNIQUE_ID,
                   example_index / max(time.time() - start_time, 1e-9))
    for feature in _example_features(example, example_index, unique_id,
                                     tokenizer, doc_tokenizer, max_seq_length,
                                     doc_stride, max_query_length,
                                     is_training,
                                     example_index < log_examples):
      yield feature
      unique_id += 1


def convert_examples_to_features(examples, tokenizer, max_seq_length,
                                 doc_stride, max_query_length, is_training,
                                 output_fn):
  """Converts examples to windowed features, handing each to `output_fn`.

  Args:
    examples: list of SquadExample.
    tokenizer: a tokenization.FullTokenizer.
    max_seq_length: length of every feature ([CLS] query [SEP] doc [SEP] and
      padding).
    doc_stride: distance between the starts of consecutive windows.
    max_query_length: questions are cut to this many WordPieces.
    is_training: compute start/end positions (0 when the window misses the
      answer or the question is impossible).
    output_fn: called with every InputFeatures, in order.
  """
  for feature in _iter_features(examples, tokenizer, max_seq_length,
                                doc_stride, max_query_length, is_training):
    output_fn(feature)


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer,
                         orig_answer_text):
  """Returns tokenized answer spans that better match the annotated answer.

  The annotation is projected to whole words, so "(1895-1943)." is the
  answer word when the annotator marked "1895"; after WordPiece tokenisation
  the tokens "( 1895 - 1943 ) ." contain a sub-span equal to the tokenised
  answer. The first such sub-span (start ascending, end descending) wins;
  without one the word span is kept.

  Args:
    doc_tokens: the document's WordPieces.
    input_start, input_end: the answer's WordPiece span (inclusive).
    tokenizer: the FullTokenizer.
    orig_answer_text: the annotated answer text.

  Returns:
    (start, end) WordPiece indexes.
  """
  tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
  for new_start in range(input_start, input_end + 1):
    for new_end in range(input_end, new_start - 1, -1):
      text_span = " ".join(doc_tokens[new_start:(new_end + 1)])
      if text_span == tok_answer_text:
        return (new_start, new_end)
  return (input_start, input_end)


# Google's name, kept for code that imports it from run_squad.
_check_is_max_context = text_inputs.is_max_context


class FeatureWriter(object):
  """Writes InputFeatures to a TFRecord file as tf.train.Example.

  Features are serialized in Google's order (tf_example), so the records are
  byte for byte those of Google's run_squad.py.

  The records go to a temporary name that close() renames to `filename`.
  """

  def __init__(self, filename, is_training):
    self.filename = filename
    self.is_training = is_training
    self.num_features = 0
    self._target = io_lib.AtomicPath(filename)
    with io_lib.output_errors(filename):
      self._writer = tf.io.TFRecordWriter(self._target.temporary)

  def process_feature(self, feature):
    """Writes one InputFeatures (all int64; train adds the labels)."""
    self.num_features += 1
    values = collections.OrderedDict()
    values["unique_ids"] = [feature.unique_id]
    values["input_ids"] = feature.input_ids
    values["input_mask"] = feature.input_mask
    values["segment_ids"] = feature.segment_ids
    if self.is_training:
      values["start_positions"] = [feature.start_position]
      values["end_positions"] = [feature.end_position]
      values["is_impossible"] = [1 if feature.is_impossible else 0]
    with io_lib.output_errors(self.filename):  # a full disk names the file
      self._writer.write(tf_example.serialize_example(
          [(name, v, False) for name, v in values.items()]))

  def close(self):
    with io_lib.output_errors(self.filename):
      self._writer.close()
      self._target.commit()

  def abort(self):
    """Closes and removes the unfinished file (after an error)."""
    self._writer.close()
    self._target.abort()


class SpanModel(task_lib.TaskModel):
  """An encoder + heads.SpanHead (`cls/squad/output_weights`, `_bias`)."""

  def __init__(self, encoder):
    """Creates the head on `encoder` (encoders.py's contract)."""
    super().__init__(encoder)
    # Google hard-codes stddev 0.02 here, whatever initializer_range says.
    self.head = heads.SpanHead(encoder.config.hidden_size)

  def __call__(self, input_ids, input_mask, segment_ids, training=False):
    """Start and end logits of every position.

    Args:
      input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
      training: dropout in the encoder (the head has none, as Google's).

    Returns:
      (start_logits, end_logits): float32 [batch_size, seq_length] each; the
      question and padding positions are not masked (Google's behaviour).
    """
    final_hidden = self.encoder(input_ids, input_mask=input_mask,
                                token_type_ids=segment_ids,
                                training=training).sequence_output
    return self.head(final_hidden)


def input_fn_builder(input_file, seq_length, is_training, drop_remainder):
  """Creates an `input_fn` over a FeatureWriter file (Google's name and args).

  Args:
    input_file: TFRecord path.
    seq_length: max_seq_length the file was written with.
    is_training: read the labels; repeat and shuffle (buffer 100), as Google's.
    drop_remainder: drop the last partial batch.

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts: unique_ids [batch_size],
    input_ids, input_mask, segment_ids [batch_size, seq_length] and for
    training start_positions, end_positions [batch_size], all int32.
  """
  name_to_features = {
      "unique_ids": tf.io.FixedLenFeature([], tf.int64),
      "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
  }
  if is_training:
    name_to_features["start_positions"] = tf.io.FixedLenFeature([], tf.int64)
    name_to_features["end_positions"] = tf.io.FixedLenFeature([], tf.int64)

  # unique_ids stay int64: they start at 1e9 and would overflow int32 after
  # about 1.1e9 features.
  return estimator_lib.record_input_fn_builder(
      input_file, name_to_features, is_training, drop_remainder,
      keep_int64=("unique_ids",))


RawResult = collections.namedtuple("RawResult",
                                   ["unique_id", "start_logits", "end_logits"])

_PrelimPrediction = collections.namedtuple(
    "PrelimPrediction",
    ["feature_index", "start_index", "end_index", "start_logit", "end_logit"])

_NbestPrediction = collections.namedtuple(
    "NbestPrediction", ["text", "start_logit", "end_logit"])

# The null_odds.json value of a question whose n-best holds only the null
# answer (Google's code crashes there): Google's own "large and positive" null
# score, so that any sensible threshold predicts "".
_ONLY_NULL_SCORE_DIFF = 1000000.0


def _get_best_indexes(logits, n_best_size):
  """Indexes of the `n_best_size` largest logits, largest first.

  Ties keep the lower index first (Python's stable sort, as Google's).

  Args:
    logits: float64 array [seq_length].
    n_best_size: how many.

  Returns:
    list of int.
  """
  order = np.argsort(-logits, kind="stable")
  return [int(i) for i in order[:n_best_size]]


def _compute_softmax(scores):
  """Compute softmax probability over raw logits (Python floats)."""
  if not scores:
    return []
  max_score = max(scores)
  exp_scores = [math.exp(score - max_score) for score in scores]
  total_sum = 0.0
  for x in exp_scores:
    total_sum += x
  return [x / total_sum for x in exp_scores]


def _as_logits(values):
  """Logits as a float64 array: float32 model outputs become Python floats
  (float64) before any arithmetic, as in Google's main()."""
  return np.asarray(values, dtype=np.float64).reshape(-1)


def _window_spans(feature_index, feature, start_logits, end_logits,
                  n_best_size, max_answer_length):
  """The valid candidate spans of one window (Google's filters).

  Spans in the question, the padding, across a window's context, not in
  their max-context window or too long are thrown out.

  Returns:
    list of _PrelimPrediction.
  """
  spans = []
  num_tokens = len(feature.tokens)
  for start_index in _get_best_indexes(start_logits, n_best_size):
    for end_index in _get_best_indexes(end_logits, n_best_size):
      if start_index >= num_tokens or end_index >= num_tokens:
        continue
      if (start_index not in feature.token_to_orig_map or
          end_index not in feature.token_to_orig_map):
        continue
      if not feature.token_is_max_context.get(start_index, False):
        continue
      if end_index < start_index:
        continue
      if end_index - start_index + 1 > max_answer_length:
        continue
      spans.append(_PrelimPrediction(
          feature_index=feature_index, start_index=start_index,
          end_index=end_index, start_logit=float(start_logits[start_index]),
          end_logit=float(end_logits[end_index])))
  return spans


def _prelim_predictions(features, results, n_best_size, max_answer_length,
                        version_2_with_negative):
  """Every window's candidate spans, best first, and the null answer.

  Returns:
    (list of _PrelimPrediction sorted by start + end logit, with the null
    span of the window with the lowest null score for SQuAD 2.0; that null
    _PrelimPrediction, or None for SQuAD 1.1; the null score).
  """
  prelim_predictions = []
  # The null score of the example is its lowest window null score.
  null = _PrelimPrediction(feature_index=0, start_index=0, end_index=0,
                           start_logit=0, end_logit=0)
  score_null = 1000000  # large and positive
  for (feature_index, (feature, result)) in enumerate(zip(features, results)):
    start_logits = _as_logits(result.start_logits)
    end_logits = _as_logits(result.end_logits)
    if version_2_with_negative:
      feature_null_score = float(start_logits[0]) + float(end_logits[0])
      if feature_null_score < score_null:
        score_null = feature_null_score
        null = _PrelimPrediction(
            feature_index=feature_index, start_index=0, end_index=0,
            start_logit=float(start_logits[0]),
            end_logit=float(end_logits[0]))
    prelim_predictions += _window_spans(feature_index, feature, start_logits,
                                        end_logits, n_best_size,
                                        max_answer_length)
  if not version_2_with_negative:
    null = None
  else:
    prelim_predictions.append(null)
  prelim_predictions = sorted(
      prelim_predictions,
      key=lambda x: (x.start_logit + x.end_logit),
      reverse=True)
  return prelim_predictions, null, score_null


def _nbest(example, features, prelim_predictions, null, n_best_size,
           do_lower_case, verbose_logging):
  """The n-best distinct answer texts (_NbestPrediction), best first."""
  seen_predictions = set()
  nbest = []
  for pred in prelim_predictions:
    if len(nbest) >= n_best_size:
      break
    if pred.start_index > 0:  # a non-null prediction
      feature = features[pred.feature_index]
      final_text = _span_text(example, feature, pred.start_index,
                              pred.end_index, do_lower_case, verbose_logging)
      if final_text in seen_predictions:
        continue
    else:
      final_text = ""
    seen_predictions.add(final_text)
    nbest.append(_NbestPrediction(text=final_text,
                                  start_logit=pred.start_logit,
                                  end_logit=pred.end_logit))
  if null is not None and "" not in seen_predictions:
    nbest.append(_NbestPrediction(text="", start_logit=null.start_logit,
                                  end_logit=null.end_logit))
  # In very rare edge cases there is no valid prediction at all.
  if not nbest:
    nbest.append(_NbestPrediction(text="empty", start_logit=0.0,
                                  end_logit=0.0))
  return nbest


def _nbest_json(nbest):
  """The n-best as nbest_predictions.json's OrderedDicts (with softmax)."""
  probs = _compute_softmax([entry.start_logit + entry.end_logit
                            for entry in nbest])
  nbest_json = []
  for (i, entry) in enumerate(nbest):
    output = collections.OrderedDict()
    output["text"] = entry.text
    output["probability"] = probs[i]
    output["start_logit"] = entry.start_logit
    output["end_logit"] = entry.end_logit
    nbest_json.append(output)
  return nbest_json


def _predict_example(example, features, results, n_best_size,
                     max_answer_length, do_lower_case,
                     version_2_with_negative, null_score_diff_threshold,
                     verbose_logging):
  """Turns the logits of one example's windows into its answer.

  Args:
    example: a SquadExample.
    features: its InputFeatures, in window order.
    results: the RawResult of each feature (same order).
    n_best_size, max_answer_length, do_lower_case, version_2_with_negative,
      null_score_diff_threshold, verbose_logging: as write_predictions.

  Returns:
    (prediction text, n-best list of OrderedDicts, score_diff or None (v1)).
  """
  prelim_predictions, null, score_null = _prelim_predictions(
      features, results, n_best_size, max_answer_length,
      version_2_with_negative)
  nbest = _nbest(example, features, prelim_predictions, null, n_best_size,
                 do_lower_case, verbose_logging)
  nbest_json = _nbest_json(nbest)
  if not version_2_with_negative:
    return nbest_json[0]["text"], nbest_json, None
  best_non_null_entry = next((entry for entry in nbest if entry.text), None)
  if best_non_null_entry is None:
    # Every n-best entry is the null answer: Google's code crashes here.
    logging.warning(
        "Question %s has no valid non-null answer span; predicting \"\".",
        example.qas_id)
    return "", nbest_json, _ONLY_NULL_SCORE_DIFF
  # Predict "" iff the null score - the score of best non-null > threshold.
  score_diff = score_null - best_non_null_entry.start_logit - (
      best_non_null_entry.end_logit)
  if score_diff > null_score_diff_threshold:
    return "", nbest_json, score_diff
  return best_non_null_entry.text, nbest_json, score_diff


def _span_text(example, feature, start_index, end_index, do_lower_case,
               verbose_logging):
  """The original text of the WordPiece span [start_index, end_index]."""
  tok_tokens = feature.tokens[start_index:(end_index + 1)]
  orig_doc_start = feature.token_to_orig_map[start_index]
  orig_doc_end = feature.token_to_orig_map[end_index]
  orig_tokens = example.doc_tokens[orig_doc_start:(orig_doc_end + 1)]
  # De-tokenize WordPieces that have been split off, then clean whitespace.
  tok_text = " ".join(tok_tokens)
  tok_text = tok_text.replace(" ##", "")
  tok_text = tok_text.replace("##", "")
  tok_text = " ".join(tok_text.strip().split())
  orig_text = " ".join(orig_tokens)
  return get_final_text(tok_text, orig_text, do_lower_case,
                        verbose_logging=verbose_logging)


class _JsonObjectWriter(object):
  """Writes `json.dumps(OrderedDict, indent=4) + "\\n"` one item at a time.

  The bytes equal those of dumping the whole dict at once, without holding
  it; the file appears under its name only when complete.
  """

  def __init__(self, path, group=None):
    """Args: path: the file; group: an io_lib.OutputGroup that commits it
    (None: close() does)."""
    self._writer = (group.file(path) if group is not None else
                    io_lib.AtomicFile(path, "w"))
    self._group = group
    self._count = 0

  def add(self, key, value):
    """Appends one item."""
    # Dumping a one-item dict gives the key the same treatment as json.dumps
    # of the whole dict ("{\n    <item>\n}").
    item = json.dumps({key: value}, indent=4)[2:-2]
    self._writer.write(("{\n" if self._count == 0 else ",\n") + item)
    self._count += 1

  def close(self):
    """Finishes the file and moves it to its name."""
    self._writer.write("{}\n" if self._count == 0 else "\n}\n")
    if self._group is None:
      self._writer.commit()

  def abort(self):
    self._writer.abort()


def _write_prediction_stream(example_groups, n_best_size, max_answer_length,
                             do_lower_case, output_prediction_file,
                             output_nbest_file, output_null_log_odds_file,
                             version_2_with_negative,
                             null_score_diff_threshold, verbose_logging):
  """Writes the prediction files from a stream of examples and their logits.

  Args:
    example_groups: iterable of (SquadExample, [InputFeatures],
      [RawResult]) in example order.
    Others: as write_predictions.

  Returns:
    (predictions, null_odds): OrderedDicts qas_id -> answer text and
    qas_id -> score_diff (empty for SQuAD 1.1), for the metrics.
  """
  logging.info("Writing predictions to: %s", output_prediction_file)
  logging.info("Writing nbest to: %s", output_nbest_file)
  all_predictions = collections.OrderedDict()
  scores_diff_json = collections.OrderedDict()
  # The three files describe one run: replaced together or not at all.
  with io_lib.output_group() as group:
    nbest_writer = _JsonObjectWriter(output_nbest_file, group)
    for example, features, results in example_groups:
      text, nbest_json, score_diff = _predict_example(
          example, features, results, n_best_size, max_answer_length,
          do_lower_case, version_2_with_negative, null_score_diff_threshold,
          verbose_logging)
      all_predictions[example.qas_id] = text
      if version_2_with_negative:
        scores_diff_json[example.qas_id] = score_diff
      nbest_writer.add(example.qas_id, nbest_json)
    nbest_writer.close()
    group.write_text(output_prediction_file,
                     json.dumps(all_predictions, indent=4) + "\n")
    if version_2_with_negative:
      group.write_text(output_null_log_odds_file,
                       json.dumps(scores_diff_json, indent=4) + "\n")
  return all_predictions, scores_diff_json


def _write_json(path, obj):
  """Writes json.dumps(obj, indent=4) + "\\n" to a temporary name, renames."""
  io_lib.write_text(path, json.dumps(obj, indent=4) + "\n")


def write_predictions(all_examples, all_features, all_results, n_best_size,
                      max_answer_length, do_lower_case, output_prediction_file,
                      output_nbest_file, output_null_log_odds_file,
                      version_2_with_negative=False,
                      null_score_diff_threshold=0.0, verbose_logging=False):
  """Write final predictions to the json file and log-odds of null if needed.

  Args:
    all_examples: list of SquadExample.
    all_features: their InputFeatures (any order of examples; windows of one
      example in order).
    all_results: RawResult per feature (any order); the logits are lists or
      arrays [max_seq_length].
    n_best_size: n-best entries per question (also the number of start and
      end indexes considered per window).
    max_answer_length: longest answer in WordPieces.
    do_lower_case: as the tokenizer, for get_final_text.
    output_prediction_file: predictions.json (qas_id -> text).
    output_nbest_file: nbest_predictions.json.
    output_null_log_odds_file: null_odds.json (SQuAD 2.0 only).
    version_2_with_negative: SQuAD 2.0 (null answers, null_odds.json).
    null_score_diff_threshold: predict "" when the null score minus the best
      non-null score exceeds it.
    verbose_logging: log why get_final_text fell back to the whole words.

  Returns:
    (predictions, null_odds) as written (null_odds empty for SQuAD 1.1).
  """

  example_index_to_features = collections.defaultdict(list)
  for feature in all_features:
    example_index_to_features[feature.example_index].append(feature)
  unique_id_to_result = {}
  for result in all_results:
    unique_id_to_result[result.unique_id] = result

  def example_groups():
    for (example_index, example) in enumerate(all_examples):
      features = example_index_to_features[example_index]
      results = []
      for feature in features:
        if feature.unique_id not in unique_id_to_result:
          raise ValueError("No result for feature unique_id %d (question %s)" %
                           (feature.unique_id, example.qas_id))
        results.append(unique_id_to_result[feature.unique_id])
      yield example, features, results

  return _write_prediction_stream(
      example_groups(), n_best_size, max_answer_length, do_lower_case,
      output_prediction_file, output_nbest_file, output_null_log_odds_file,
      version_2_with_negative, null_score_diff_threshold, verbose_logging)


def _strip_spaces(text):
  """Removes spaces; returns (text without spaces, its index -> text index)."""
  ns_chars = []
  ns_to_s_map = collections.OrderedDict()
  for (i, c) in enumerate(text):
    if c == " ":
      continue
    ns_to_s_map[len(ns_chars)] = i
    ns_chars.append(c)
  return "".join(ns_chars), ns_to_s_map


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=False):
  """Project the tokenized prediction back to the original text.

  `pred_text` is normalised (lower-cased, accents stripped, punctuation split
  off), `orig_text` is the whole original words it came from ("steve smith"
  from "Steve Smith's"). The original is BasicTokenized the same way; when
  both agree character for character once spaces are removed, the matching
  part of `orig_text` is returned ("Steve Smith"), otherwise `orig_text`.

  Args:
    pred_text: the detokenised WordPiece span.
    orig_text: the original words joined by spaces.
    do_lower_case: as the tokenizer.
    verbose_logging: log why the alignment failed.

  Returns:
    str.
  """
  tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  tok_text = " ".join(tokenizer.tokenize(orig_text))

  start_position = tok_text.find(pred_text)
  if start_position == -1:
    if verbose_logging:
      logging.info("Unable to find text: '%s' in '%s'", pred_text, orig_text)
    return orig_text
  end_position = start_position + len(pred_text) - 1

  (orig_ns_text, orig_ns_to_s_map) = _strip_spaces(orig_text)
  (tok_ns_text, tok_ns_to_s_map) = _strip_spaces(tok_text)
  if len(orig_ns_text) != len(tok_ns_text):
    if verbose_logging:
      logging.info("Length not equal after stripping spaces: '%s' vs '%s'",
                   orig_ns_text, tok_ns_text)
    return orig_text

  # Characters are aligned one to one once spaces are gone.
  tok_s_to_ns_map = {s: ns for (ns, s) in tok_ns_to_s_map.items()}

  orig_start_position = None
  if start_position in tok_s_to_ns_map:
    orig_start_position = orig_ns_to_s_map.get(tok_s_to_ns_map[start_position])
  if orig_start_position is None:
    if verbose_logging:
      logging.info("Couldn't map start position")
    return orig_text

  orig_end_position = None
  if end_position in tok_s_to_ns_map:
    orig_end_position = orig_ns_to_s_map.get(tok_s_to_ns_map[end_position])
  if orig_end_position is None:
    if verbose_logging:
      logging.info("Couldn't map end position")
    return orig_text

  return orig_text[orig_start_position:(orig_end_position + 1)]



def shuffle_train_examples(examples):
  """Shuffles the training examples in place as Google's main() does.

  Pre-shuffling spares a very large shuffle buffer in input_fn; the seed is
  Google's, so the training records come out in Google's order.
  """
  rng = random.Random(12345)
  rng.shuffle(examples)


def _raw_result(prediction):
  """A RawResult from one Estimator.predict dict (float32 logits kept)."""
  return RawResult(
      unique_id=int(prediction["unique_ids"]),
      start_logits=prediction["start_logits"],
      end_logits=prediction["end_logits"])


def _group_results(examples, features, predictions, num_features):
  """Pairs each example with its features and their prediction results.

  Features are produced again (deterministically) instead of being kept from
  the conversion, and results are taken from the stream as needed, so memory
  holds one example's worth (plus results that arrive out of order).

  Args:
    examples: list of SquadExample.
    features: iterator over their InputFeatures, in order.
    predictions: iterator of Estimator.predict dicts.
    num_features: how many features there are (for progress and errors).

  Yields:
    (example, [InputFeatures], [RawResult]).
  """
  pending = {}
  num_results = 0
  start_time = time.time()

  def result_of(unique_id):
    nonlocal num_results
    while unique_id not in pending:
      try:
        prediction = next(predictions)
      except StopIteration:
        raise ValueError(
            "Prediction stopped after %d of %d features (no result for "
            "unique_id %d)." % (num_results, num_features, unique_id)) from None
      result = _raw_result(prediction)
      pending[result.unique_id] = result
      num_results += 1
      if num_results % 1000 == 0:
        elapsed = time.time() - start_time
        logging.info("Processing example: %d of %d (%.1f/s)", num_results,
                     num_features, num_results / max(elapsed, 1e-9))
    return pending.pop(unique_id)

  next_feature = next(features, None)
  for (example_index, example) in enumerate(examples):
    group = []
    while (next_feature is not None and
           next_feature.example_index == example_index):
      group.append(next_feature)
      next_feature = next(features, None)
    yield example, group, [result_of(f.unique_id) for f in group]


def write_squad_metrics(predict_file, predictions, null_odds, output_file,
                        version_2_with_negative):
  """Scores predictions with the official SQuAD metrics, if there are answers.

  Args:
    predict_file: the SQuAD JSON predicted on.
    predictions: dict qas_id -> text.
    null_odds: dict qas_id -> score_diff (SQuAD 2.0), used as the official
      script's --na-prob-file.
    output_file: eval_results.txt (Google's `key = value` lines).
    version_2_with_negative: v2.0 metrics instead of v1.1.

  Returns:
    the metrics dict, or None when the file has no answers (a test set).
  """
  dataset = load_squad_json(predict_file)
  if not squad_evaluate.has_gold_answers(dataset):
    logging.info("%s has no answers: no metrics.", predict_file)
    return None
  if version_2_with_negative:
    result = squad_evaluate.evaluate_v2(dataset, predictions, null_odds)
  else:
    unanswerable = squad_evaluate.first_unanswerable(dataset)
    if unanswerable is not None:
      logging.warning(
          "No metrics: question %s of %s has no answer, and SQuAD 1.1 metrics "
          "need one per question; for SQuAD 2.0 data pass "
          "--version_2_with_negative.", unanswerable, predict_file)
      return None
    result = squad_evaluate.evaluate_v1(dataset, predictions)
  logging.info("***** Eval results (official SQuAD metrics) *****")
  estimator_lib.write_eval_results(output_file, result)
  return result


class SquadTask(task_lib.Task):
  """Fine-tuning and prediction on SQuAD (no eval mode, as Google's)."""

  # Google's run_squad trained nothing and exited 0 when the questions /
  # batch x epochs rounded to zero steps; that is an error here (as
  # TPUEstimator's max_steps=0 was).
  zero_steps_is_error = True

  def __init__(self, settings, encoder_spec, tokenizer=None, train_file=None,
               predict_file=None, max_seq_length=384, doc_stride=128,
               max_query_length=64, n_best_size=20, max_answer_length=30,
               do_lower_case=True, version_2_with_negative=False,
               null_score_diff_threshold=0.0, verbose_logging=False,
               use_one_hot_embeddings=False):
    """Creates the task (the arguments are Google's flags of the same names).

    Args:
      settings: task_lib.RunSettings.
      encoder_spec: encoders.EncoderSpec.
      tokenizer: the encoder family's tokenizer (not needed for the model
        alone).
    """
    super().__init__(settings, encoder_spec, use_one_hot_embeddings)
    self.tokenizer = tokenizer
    self.train_file = train_file
    self.predict_file = predict_file
    self.feature_args = dict(max_seq_length=max_seq_length,
                             doc_stride=doc_stride,
                             max_query_length=max_query_length)
    self.n_best_size = n_best_size
    self.max_answer_length = max_answer_length
    self.do_lower_case = do_lower_case
    self.version_2_with_negative = version_2_with_negative
    self.null_score_diff_threshold = null_score_diff_threshold
    self.verbose_logging = verbose_logging
    self._train_examples = None
    self._num_skipped = 0

  # ------------------------------------------------------------- model

  def create_model(self, params):
    return SpanModel(self.create_encoder(params))

  def train_loss(self, model, features, params):
    """(start loss + end loss) / 2, as Google's."""
    start_logits, end_logits = model(features["input_ids"],
                                     features["input_mask"],
                                     features["segment_ids"], training=True)
    start_loss = heads.span_loss(start_logits, features["start_positions"])
    end_loss = heads.span_loss(end_logits, features["end_positions"])
    return (start_loss + end_loss) / 2.0

  def eval_metrics(self, model, features, params):
    raise ValueError("run_squad has no eval mode (as Google's): use "
                     "--do_predict, which scores the predictions.")

  def predictions(self, model, features, params):
    start_logits, end_logits = model(features["input_ids"],
                                     features["input_mask"],
                                     features["segment_ids"], training=False)
    return {
        "unique_ids": features["unique_ids"],
        "start_logits": start_logits,
        "end_logits": end_logits,
    }

  # ------------------------------------------------------------- data

  def train_examples(self):
    """The training questions, shuffled as Google's main() does."""
    if self._train_examples is None:
      examples, self._num_skipped = read_squad_examples_counted(
          self.train_file, True, self.version_2_with_negative)
      if not examples:
        raise SquadFormatError(
            "--train_file=%s has no usable question%s." % (
                self.train_file, self.train_examples_note() and
                " (%s)" % self.train_examples_note()))
      shuffle_train_examples(examples)
      self._train_examples = examples
    return self._train_examples

  def num_train_examples(self):
    # As Google's: counted in questions, not in windows.
    return len(self.train_examples())

  def train_examples_note(self):
    """How many training questions were skipped, and the usual reason."""
    if not self._num_skipped:
      return ""
    return ("%d question(s) skipped: their answer is not found in the words "
            "of the context; Google's rule splits words only at spaces, tabs "
            "and line breaks, so a context written with other spaces (e.g. "
            "U+00A0) loses its questions" % self._num_skipped)

  def _write_features(self, examples, name, is_training):
    """Writes the examples' features to output_dir/<name>; the writer."""
    writer = FeatureWriter(
        filename=os.path.join(self.settings.output_dir, name),
        is_training=is_training)
    try:
      convert_examples_to_features(
          examples=examples, tokenizer=self.tokenizer,
          is_training=is_training, output_fn=writer.process_feature,
          **self.feature_args)
    except BaseException:
      writer.abort()
      raise
    writer.close()
    return writer

  def train_input_fn(self):
    # The features go through a file to keep them out of memory.
    examples = self.train_examples()
    writer = self._write_features(examples, "train.tf_record", True)
    logging.info("***** Running training *****")
    logging.info("  Num orig examples = %d", len(examples))
    logging.info("  Num split examples = %d", writer.num_features)
    logging.info("  Batch size = %d", self.settings.train_batch_size)
    logging.info("  Num steps = %d", self.num_train_steps)
    self._train_examples = None
    return input_fn_builder(
        input_file=writer.filename,
        seq_length=self.feature_args["max_seq_length"], is_training=True,
        drop_remainder=True)

  def predict(self, estimator):
    """predictions.json, nbest_predictions.json, null_odds.json (2.0) and,
    when the predict file has answers, eval_results.txt."""
    examples = read_squad_examples(self.predict_file, False,
                                   self.version_2_with_negative)
    writer = self._write_features(examples, "eval.tf_record", False)
    logging.info("***** Running predictions *****")
    logging.info("  Num orig examples = %d", len(examples))
    logging.info("  Num split examples = %d", writer.num_features)
    logging.info("  Batch size = %d", self.settings.predict_batch_size)
    predict_input_fn = input_fn_builder(
        input_file=writer.filename,
        seq_length=self.feature_args["max_seq_length"], is_training=False,
        drop_remainder=False)
    groups = _group_results(
        examples, _iter_features(examples, self.tokenizer,
                                 is_training=False, log_examples=0,
                                 **self.feature_args),
        iter(estimator.predict(predict_input_fn)), writer.num_features)
    output_dir = self.settings.output_dir
    predictions, null_odds = _write_prediction_stream(
        groups, self.n_best_size, self.max_answer_length, self.do_lower_case,
        os.path.join(output_dir, "predictions.json"),
        os.path.join(output_dir, "nbest_predictions.json"),
        os.path.join(output_dir, "null_odds.json"),
        self.version_2_with_negative, self.null_score_diff_threshold,
        self.verbose_logging)
    write_squad_metrics(self.predict_file, predictions, null_odds,
                        os.path.join(output_dir, "eval_results.txt"),
                        self.version_2_with_negative)
