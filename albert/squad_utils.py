# coding=utf-8
# Copyright 2018 The Google AI Team Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""ALBERT's squad_utils.py: SQuAD v1.1 / v2.0 data and predictions.

ALBERT's SQuAD works on characters and SentencePiece pieces, not on
whitespace words as BERT's:

* `read_squad_examples`: the context as it is and the answer's character
  offset.
* `convert_examples_to_features`: the question is
  `encode_ids(preprocess_text(question, lower))` cut to `max_query_length`;
  the context is `encode_pieces(preprocess_text(context, lower))`, and every
  piece is mapped back to the context's characters by ALBERT's banded
  longest-common-subsequence alignment of the pieces' text (U+2581 read as a
  space) with the context, each context character `preprocess_text`'ed on its
  own (`tok_start_to_orig_index` / `tok_end_to_orig_index`). A context whose
  alignment covers less than 80% of its characters gives no feature ("MISMATCH
  DETECTED", as ALBERT). Windows as BERT's; `p_mask` is 1 where no answer may
  start (question, [SEP], padding) and 0 on [CLS] and the context;
  `paragraph_len` is the number of tokens before padding (query included), as
  ALBERT.
* `FeatureWriter`: records `unique_ids, input_ids, input_mask, segment_ids,
  p_mask` (+ `start_positions, end_positions, is_impossible` for training).
* Predictions: v1 from per-position start / end log-probabilities
  (`accumulate_predictions_v1`, `write_predictions_v1`), v2 from the model's
  start / end top-k beams and its answerability logit
  (`accumulate_predictions_v2`, `write_predictions_v2`), and `evaluate_v2`,
  which writes the predictions with the null-score threshold that maximises
  F1. Files are `json.dumps(obj, indent=4) + "\\n"`, ALBERT's bytes.
  `accumulate_feature_v1` / `_v2` add one feature's result (a caller that
  streams the model's results; the writers then take all_results=None).
* ALBERT's model names: `create_v1_model`, `v1_model_fn_builder`,
  `create_v2_model`, `v2_model_fn_builder`, on tasks/albert_squad.py.

Beyond ALBERT: the alignment is compiled by numba and computed once per
paragraph (ALBERT: per question, in Python); bad input (not SQuAD, an answer
outside its context, a missing model result, no SentencePiece model) is an
error naming what is wrong; files are written under temporary names.
"""

import collections

from absl import logging
import numpy as np
import tensorflow as tf

import encoders
import estimator_lib
import squad_evaluate
import task_lib
import text_inputs
import tf_example
from albert import tokenization
from pretraining_data_kernels import kernel
from tasks import squad

_FIRST_UNIQUE_ID = 1000000000
_UNDERLINE = u"\u2581"
# The null score of an example without features: large and positive (an int,
# as ALBERT's).
NO_FEATURE_NULL_SCORE = 1000000

_PrelimPrediction = collections.namedtuple(  # pylint: disable=invalid-name
    "PrelimPrediction",
    ["feature_index", "start_index", "end_index",
     "start_log_prob", "end_log_prob"])

_NbestPrediction = collections.namedtuple(  # pylint: disable=invalid-name
    "NbestPrediction", ["text", "start_log_prob", "end_log_prob"])

RawResult = collections.namedtuple("RawResult",
                                   ["unique_id",
                                    "start_log_prob",
                                    "end_log_prob"])

RawResultV2 = collections.namedtuple(
    "RawResultV2",
    ["unique_id", "start_top_log_probs", "start_top_index",
     "end_top_log_probs", "end_top_index", "cls_logits"])

# The official metrics under ALBERT's names (squad_evaluate.py has them).
evaluate_v1 = squad_evaluate.evaluate_v1
normalize_answer_v1 = squad_evaluate.normalize_answer
normalize_answer_v2 = squad_evaluate.normalize_answer
f1_score = squad_evaluate.f1_score
exact_match_score = squad_evaluate.exact_match_score
compute_exact = squad_evaluate.exact_match_score
compute_f1 = squad_evaluate.f1_score_v2


class SquadExample(object):
  """A single training/test example: a question about a paragraph.

  For examples without an answer, the start position is -1.
  """

  def __init__(self,
               qas_id,
               question_text,
               paragraph_text,
               orig_answer_text=None,
               start_position=None,
               end_position=None,
               is_impossible=False):
    """Constructs a SquadExample.

    Args:
      qas_id: the question's id.
      question_text: str.
      paragraph_text: str, the context as in the file.
      orig_answer_text: str, the answer (training; "" when impossible).
      start_position: int, character offset of the answer in the context
        (training; -1 when impossible).
      end_position: unused (ALBERT never sets it).
      is_impossible: bool, SQuAD 2.0's unanswerable question (training).
    """
    self.qas_id = qas_id
    self.question_text = question_text
    self.paragraph_text = paragraph_text
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
    s += ", paragraph_text: [%s]" % " ".join(self.paragraph_text)
    # As ALBERT's: the positions are shown only when start_position is truthy.
    if self.start_position:
      s += ", start_position: %d" % self.start_position
      s += ", end_position: %s" % self.end_position
      s += ", is_impossible: %r" % self.is_impossible
    return s


class InputFeatures(object):
  """A single set of features of data: one window of one example."""

  def __init__(self,
               unique_id,
               example_index,
               doc_span_index,
               tok_start_to_orig_index,
               tok_end_to_orig_index,
               token_is_max_context,
               tokens,
               input_ids,
               input_mask,
               segment_ids,
               paragraph_len,
               p_mask=None,
               start_position=None,
               end_position=None,
               is_impossible=None):
    """Constructs an InputFeatures.

    Args:
      unique_id: int, from 1000000000 on.
      example_index: int, the example's index (None for training).
      doc_span_index: int, the window's index in its example.
      tok_start_to_orig_index: list of int, per context piece of the window,
        the context character where it starts.
      tok_end_to_orig_index: list of int, the same for where it ends.
      token_is_max_context: dict position in the sequence -> bool, for the
        context pieces.
      tokens: list of str, the pieces of input_ids (padding included).
      input_ids: list of int [max_seq_length].
      input_mask: list of 0/1 [max_seq_length].
      segment_ids: list of 0/1 [max_seq_length].
      paragraph_len: int, tokens before padding.
      p_mask: list of 0/1 [max_seq_length], 1 where no answer may be.
      start_position: int, answer start in the sequence (training).
      end_position: int, answer end in the sequence (training).
      is_impossible: bool, no answer in this window (training).
    """
    self.unique_id = unique_id
    self.example_index = example_index
    self.doc_span_index = doc_span_index
    self.tok_start_to_orig_index = tok_start_to_orig_index
    self.tok_end_to_orig_index = tok_end_to_orig_index
    self.token_is_max_context = token_is_max_context
    self.tokens = tokens
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.paragraph_len = paragraph_len
    self.start_position = start_position
    self.end_position = end_position
    self.is_impossible = is_impossible
    self.p_mask = p_mask


def read_squad_examples(input_file, is_training):
  """Reads a SQuAD json file into a list of SquadExample.

  Args:
    input_file: path of a SQuAD v1.1 or v2.0 file.
    is_training: read the answers (exactly one per answerable question).

  Returns:
    list of SquadExample in file order.

  Raises:
    squad.SquadFormatError: naming the file and the JSON path of what is
      wrong (missing fields, an answer outside its context, ...).
  """
  examples = []
  for a, entry in enumerate(squad.load_squad_json(input_file)):
    where = "data[%d]" % a
    paragraphs = squad._squad_field(entry, "paragraphs", list, input_file,  # pylint: disable=protected-access
                                        where)
    for p, paragraph in enumerate(paragraphs):
      where_p = "%s.paragraphs[%d]" % (where, p)
      context = squad._squad_field(paragraph, "context", str, input_file,  # pylint: disable=protected-access
                                       where_p)
      questions = squad._squad_field(paragraph, "qas", list, input_file,  # pylint: disable=protected-access
                                         where_p)
      for q, qa in enumerate(questions):
        examples.append(_read_question(
            qa, context, is_training, input_file,
            "%s.qas[%d]" % (where_p, q)))
  return examples


def _read_question(qa, paragraph_text, is_training, input_file, where):
  """One SquadExample from a question object of a SQuAD file.

  Args:
    qa: the question's JSON object.
    paragraph_text: its context.
    is_training: read the answer.
    input_file: file name, for errors.
    where: JSON path of `qa`, for errors.

  Returns:
    SquadExample.
  """
  def field(obj, key, kind, path=where):
    """obj[key], checked to be a `kind` (SquadFormatError naming `path`)."""
    return squad._squad_field(obj, key, kind, input_file, path)  # pylint: disable=protected-access

  qas_id = field(qa, "id", (str, int))
  question_text = field(qa, "question", str)
  if not is_training:
    return SquadExample(qas_id, question_text, paragraph_text)
  is_impossible = qa.get("is_impossible", False)
  if is_impossible:
    return SquadExample(qas_id, question_text, paragraph_text, "", -1,
                        is_impossible=True)
  answers = field(qa, "answers", list)
  if len(answers) != 1:
    raise squad.SquadFormatError(
        "%s: %s has %d answers; for training, each question should have "
        "exactly 1 answer." % (input_file, where, len(answers)))
  text = field(answers[0], "text", str, where + ".answers[0]")
  start = field(answers[0], "answer_start", int, where + ".answers[0]")
  if start < 0 or start + max(len(text), 1) > len(paragraph_text):
    raise squad.SquadFormatError(
        "%s: %s.answers[0]: answer_start %d + %d characters is outside the "
        "context (%d characters)." % (input_file, where, start, len(text),
                                      len(paragraph_text)))
  return SquadExample(qas_id, question_text, paragraph_text, text, start)


@kernel
def _banded_lcs(orig, tok, max_dist, f, g):
  """ALBERT's banded longest common subsequence of two character arrays.

  Row i (a context character) visits the columns j (characters of the
  pieces' text) in [i - max_dist, i + max_dist), ALBERT's band; a cell
  outside it counts as 0, as ALBERT's zero-filled matrix. Cell (i, j) is
  stored at column `j - i + max_dist`.

  Args:
    orig: int32 [n], code point of each context character after
      preprocess_text, -1 when that is not exactly one character.
    tok: int32 [m], code points of the pieces' text.
    max_dist: int, half the band width.
    f: int32 [n, 2 * max_dist] zeros; receives the LCS lengths.
    g: int8 [n, 2 * max_dist] all -1; receives ALBERT's back pointers
      (0: from above, 1: from the left, 2: a match), -1 where ALBERT's `g`
      has no entry.
  """
  n = orig.shape[0]
  m = tok.shape[0]
  width = 2 * max_dist
  for i in range(n):
    for c in range(width):
      j = i - max_dist + c
      if j < 0 or j >= m:
        continue
      value = 0
      if i > 0:
        g[i, c] = 0
        if c + 1 < width:
          value = f[i - 1, c + 1]
      if j > 0 and c > 0 and f[i, c - 1] > value:
        g[i, c] = 1
        value = f[i, c - 1]
      previous = f[i - 1, c] if (i > 0 and j > 0) else 0
      if orig[i] == tok[j] and previous + 1 > value:
        g[i, c] = 2
        value = previous + 1
      f[i, c] = value


def _char_codes(paragraph_text, do_lower_case):
  """int32 [n]: each character after preprocess_text, as _banded_lcs wants.

  Args:
    paragraph_text: str.
    do_lower_case: bool.

  Returns:
    numpy int32 array: the code point of `preprocess_text(c, lower,
    remove_space=False)` when that is one character, else -1.
  """
  codes = {}
  out = np.empty(len(paragraph_text), np.int32)
  for i, c in enumerate(paragraph_text):
    if c not in codes:
      text = tokenization.preprocess_text(c, lower=do_lower_case,
                                          remove_space=False)
      codes[c] = ord(text) if len(text) == 1 else -1
    out[i] = codes[c]
  return out


def _match_characters(paragraph_text, tok_cat_text, do_lower_case):
  """ALBERT's character alignment of a context with its pieces' text.

  The band is `|n - m| + 5`; when the LCS covers at most 80% of the context,
  the alignment is tried once more with twice the band.

  Args:
    paragraph_text: str, the context (n characters).
    tok_cat_text: str, the pieces joined, U+2581 as a space (m characters).
    do_lower_case: bool.

  Returns:
    (orig_to_chartok_index [n], chartok_to_orig_index [m]): lists of int or
    None (unmatched), or None when ALBERT finds a mismatch.
  """
  n, m = len(paragraph_text), len(tok_cat_text)
  if not n or not m:
    return None
  orig = _char_codes(paragraph_text, do_lower_case)
  tok = np.array([ord(c) for c in tok_cat_text], np.int32)
  max_dist = abs(n - m) + 5
  for attempt in range(2):
    f = np.zeros((n, 2 * max_dist), np.int32)
    g = np.full((n, 2 * max_dist), -1, np.int8)
    _banded_lcs(orig, tok, max_dist, f, g)
    score = f[n - 1, m - n + max_dist]
    if score > 0.8 * n or attempt == 1:
      break
    max_dist *= 2
  orig_to_chartok_index = [None] * n
  chartok_to_orig_index = [None] * m
  i, j = n - 1, m - 1
  while i >= 0 and j >= 0:
    c = j - i + max_dist
    if c < 0 or c >= 2 * max_dist or g[i, c] < 0:
      break
    if g[i, c] == 2:
      orig_to_chartok_index[i] = j
      chartok_to_orig_index[j] = i
      i, j = i - 1, j - 1
    elif g[i, c] == 1:
      j -= 1
    else:
      i -= 1
  if (all(v is None for v in orig_to_chartok_index) or score < 0.8 * n):
    return None
  return orig_to_chartok_index, chartok_to_orig_index


def _convert_index(index, pos, m=None, is_start=True):
  """ALBERT's position map through `index`, for a position it left unmatched.

  An unmatched position takes a neighbour's value: the next matched one
  (starts) or the previous one (ends), or one beside it when the neighbours
  leave a gap; `m` bounds a position after the last match.

  Args:
    index: list of int or None (e.g. chartok_to_orig_index).
    pos: int, the position to convert.
    m: int or None, the length of the target text.
    is_start: bool, convert a start (else an end).

  Returns:
    int.
  """
  if index[pos] is not None:
    return index[pos]
  n = len(index)
  rear = pos
  while rear < n - 1 and index[rear] is None:
    rear += 1
  front = pos
  while front > 0 and index[front] is None:
    front -= 1
  assert index[front] is not None or index[rear] is not None
  if index[front] is None:
    if index[rear] >= 1:
      return 0 if is_start else index[rear] - 1
    return index[rear]
  if index[rear] is None:
    if m is not None and index[front] < m - 1:
      return index[front] + 1 if is_start else m - 1
    return index[front]
  if index[rear] > index[front] + 1:
    return index[front] + 1 if is_start else index[rear] - 1
  return index[rear] if is_start else index[front]


_Alignment = collections.namedtuple(
    "Alignment", ["piece_ids", "tok_start_to_orig_index",
                  "tok_end_to_orig_index", "orig_to_chartok_index",
                  "chartok_to_tok_index"])


def align_paragraph(sp_model, paragraph_text, do_lower_case):
  """The context's pieces and where each starts and ends in the context.

  Args:
    sp_model: sentencepiece.SentencePieceProcessor.
    paragraph_text: str, the context as in the SQuAD file.
    do_lower_case: bool.

  Returns:
    _Alignment(piece_ids, tok_start_to_orig_index, tok_end_to_orig_index,
    orig_to_chartok_index, chartok_to_tok_index), or None when ALBERT's
    alignment fails (the example then gets no feature).
  """
  pieces = tokenization.encode_pieces(
      sp_model, tokenization.preprocess_text(paragraph_text,
                                             lower=do_lower_case))
  chartok_to_tok_index = []
  tok_start_to_chartok_index = []
  tok_end_to_chartok_index = []
  char_cnt = 0
  for i, piece in enumerate(pieces):
    length = len(piece)  # U+2581 becomes one space
    chartok_to_tok_index.extend([i] * length)
    tok_start_to_chartok_index.append(char_cnt)
    char_cnt += length
    tok_end_to_chartok_index.append(char_cnt - 1)
  tok_cat_text = "".join(pieces).replace(_UNDERLINE, " ")
  matched = _match_characters(paragraph_text, tok_cat_text, do_lower_case)
  if matched is None:
    return None
  orig_to_chartok_index, chartok_to_orig_index = matched
  n = len(paragraph_text)
  return _Alignment(
      [sp_model.PieceToId(piece) for piece in pieces],
      [_convert_index(chartok_to_orig_index, s, n, is_start=True)
       for s in tok_start_to_chartok_index],
      [_convert_index(chartok_to_orig_index, e, n, is_start=False)
       for e in tok_end_to_chartok_index],
      orig_to_chartok_index, chartok_to_tok_index)


def _answer_token_span(example, alignment):
  """(first, last) context piece of a training example's answer.

  Args:
    example: SquadExample read with is_training.
    alignment: its context's _Alignment.

  Returns:
    (int, int); (0, 0) for an impossible question.
  """
  if example.is_impossible:
    return 0, 0
  start_position = example.start_position
  end_position = start_position + len(example.orig_answer_text) - 1
  start_chartok = _convert_index(alignment.orig_to_chartok_index,
                                 start_position, is_start=True)
  end_chartok = _convert_index(alignment.orig_to_chartok_index, end_position,
                               is_start=False)
  start = alignment.chartok_to_tok_index[start_chartok]
  end = alignment.chartok_to_tok_index[end_chartok]
  if start > end:
    raise ValueError("Question %s: its answer %r maps to no piece of the "
                     "context." % (example.qas_id, example.orig_answer_text))
  return start, end


def convert_examples_to_features(examples, tokenizer, max_seq_length,
                                 doc_stride, max_query_length, is_training,
                                 output_fn, do_lower_case):
  """Calls `output_fn` with the InputFeatures of every window of every example.

  Args:
    examples: list of SquadExample.
    tokenizer: albert.tokenization.FullTokenizer with a SentencePiece model.
    max_seq_length: int, tokens per window (padded).
    doc_stride: int, offset between windows of a long context.
    max_query_length: int, the question is cut to this many pieces.
    is_training: bool, compute the answer positions.
    output_fn: called with each InputFeatures, in order.
    do_lower_case: bool, lower-case question and context.

  Raises:
    ValueError: no SentencePiece model, or no room for the context.
  """
  sp_model = getattr(tokenizer, "sp_model", None)
  if sp_model is None:
    raise ValueError("ALBERT's SQuAD needs a SentencePiece tokenizer "
                     "(--spm_model_file); WordPiece is not supported.")
  if max_seq_length <= max_query_length + 3:
    raise ValueError(
        "--max_seq_length (%d) must be greater than --max_query_length (%d) "
        "+ 3" % (max_seq_length, max_query_length))
  unique_id = _FIRST_UNIQUE_ID
  counts = collections.Counter()
  cached = (None, None)  # (paragraph_text, alignment): questions share it
  for example_index, example in enumerate(examples):
    query_ids = tokenization.encode_ids(
        sp_model, tokenization.preprocess_text(example.question_text,
                                               lower=do_lower_case))
    query_ids = query_ids[:max_query_length]
    if cached[0] != example.paragraph_text:
      cached = (example.paragraph_text,
                align_paragraph(sp_model, example.paragraph_text,
                                do_lower_case))
    alignment = cached[1]
    if alignment is None:
      logging.info("MISMATCH DETECTED! Question %s gets no feature.",
                   example.qas_id)
      continue
    answer = _answer_token_span(example, alignment) if is_training else None
    for feature in _example_features(
        example, example_index, query_ids, alignment, answer, sp_model,
        max_seq_length, doc_stride, unique_id):
      output_fn(feature)
      unique_id += 1
      counts[bool(feature.is_impossible)] += 1
  logging.info("Total number of instances: %d = pos %d neg %d",
               counts[False] + counts[True], counts[False], counts[True])


def _example_features(example, example_index, query_ids, alignment, answer,
                      sp_model, max_seq_length, doc_stride, unique_id):
  """Yields the InputFeatures of one example (one per window).

  Args:
    example: SquadExample.
    example_index: its index.
    query_ids: the question's piece ids.
    alignment: its context's _Alignment.
    answer: (first, last) context piece of the answer, or None (eval).
    sp_model: the SentencePiece model.
    max_seq_length: int.
    doc_stride: int.
    unique_id: the first feature's unique_id.

  Yields:
    InputFeatures.
  """
  max_tokens_for_doc = max_seq_length - len(query_ids) - 3
  doc_spans = text_inputs.sliding_windows(len(alignment.piece_ids),
                                          max_tokens_for_doc, doc_stride)
  for doc_span_index, doc_span in enumerate(doc_spans):
    feature = _window_feature(alignment, query_ids, doc_spans, doc_span_index,
                              sp_model, max_seq_length)
    feature.unique_id = unique_id + doc_span_index
    feature.doc_span_index = doc_span_index
    if answer is None:
      feature.example_index = example_index
      feature.is_impossible = example.is_impossible
    else:
      _set_answer(feature, example, answer, doc_span, len(query_ids))
    yield feature


def _window_feature(alignment, query_ids, doc_spans, doc_span_index, sp_model,
                    max_seq_length):
  """InputFeatures of one window, without ids, index and answer.

  `[CLS] question [SEP] context window [SEP]`, zero-padded; p_mask 0 on
  [CLS] and the context.

  Args:
    alignment: the context's _Alignment.
    query_ids: list of int.
    doc_spans: the windows (text_inputs.Window).
    doc_span_index: this window's index.
    sp_model: the SentencePiece model.
    max_seq_length: int.

  Returns:
    InputFeatures (unique_id, example_index, doc_span_index and the answer
    fields are None).
  """
  cls_id, sep_id = sp_model.PieceToId("[CLS]"), sp_model.PieceToId("[SEP]")
  doc_span = doc_spans[doc_span_index]
  positions = range(doc_span.start, doc_span.start + doc_span.length)
  tokens = [cls_id] + list(query_ids) + [sep_id]
  p_mask = [0] + [1] * (len(query_ids) + 1)
  token_is_max_context = {}
  for k in positions:
    token_is_max_context[len(tokens)] = text_inputs.is_max_context(
        doc_spans, doc_span_index, k)
    tokens.append(alignment.piece_ids[k])
  segment_ids = [0] * len(p_mask) + [1] * (doc_span.length + 1)
  p_mask += [0] * doc_span.length + [1]
  tokens.append(sep_id)
  paragraph_len = len(tokens)
  padding = max_seq_length - paragraph_len
  input_ids = tokens + [0] * padding
  return InputFeatures(
      unique_id=None, example_index=None, doc_span_index=None,
      tok_start_to_orig_index=[alignment.tok_start_to_orig_index[k]
                               for k in positions],
      tok_end_to_orig_index=[alignment.tok_end_to_orig_index[k]
                             for k in positions],
      token_is_max_context=token_is_max_context,
      tokens=[sp_model.IdToPiece(x) for x in input_ids],
      input_ids=input_ids,
      input_mask=[1] * paragraph_len + [0] * padding,
      segment_ids=segment_ids + [0] * padding,
      paragraph_len=paragraph_len,
      p_mask=p_mask + [1] * padding)


def _set_answer(feature, example, answer, doc_span, query_length):
  """Sets a training feature's answer positions and is_impossible.

  A window without the whole answer is impossible with positions 0 (ALBERT
  keeps such windows).

  Args:
    feature: InputFeatures of the window.
    example: SquadExample.
    answer: (first, last) context piece of the answer.
    doc_span: the window.
    query_length: number of question pieces.
  """
  feature.example_index = None  # ALBERT: unused in training
  feature.start_position = feature.end_position = 0
  feature.is_impossible = example.is_impossible
  if example.is_impossible:
    return
  doc_end = doc_span.start + doc_span.length - 1
  if answer[0] >= doc_span.start and answer[1] <= doc_end:
    doc_offset = query_length + 2
    feature.start_position = answer[0] - doc_span.start + doc_offset
    feature.end_position = answer[1] - doc_span.start + doc_offset
  else:
    feature.is_impossible = True


class FeatureWriter(squad.FeatureWriter):
  """Writes InputFeatures to a TFRecord file (ALBERT's features, in order).

  unique_ids, input_ids, input_mask, segment_ids, p_mask and, for training,
  start_positions, end_positions, is_impossible; all int64. The file appears
  under its name when `close()` is called.
  """

  def process_feature(self, feature):
    """Writes one InputFeatures as a tf.train.Example.

    Args:
      feature: InputFeatures.
    """
    self.num_features += 1
    values = [("unique_ids", [feature.unique_id]),
              ("input_ids", feature.input_ids),
              ("input_mask", feature.input_mask),
              ("segment_ids", feature.segment_ids),
              ("p_mask", feature.p_mask)]
    if self.is_training:
      values += [("start_positions", [feature.start_position]),
                 ("end_positions", [feature.end_position]),
                 ("is_impossible", [1 if feature.is_impossible else 0])]
    self._writer.write(tf_example.serialize_example(
        [(name, v, False) for name, v in values]))


def input_fn_builder(input_file, seq_length, is_training, drop_remainder,
                     use_tpu, bsz, is_v2):
  """An input_fn over a FeatureWriter file.

  Args:
    input_file: TFRecord path.
    seq_length: max_seq_length of the records.
    is_training: read the labels; repeat and shuffle.
    drop_remainder: drop the last partial batch.
    use_tpu: ignored (the batch size comes from params when it is there).
    bsz: batch size used when params has no "batch_size".
    is_v2: read p_mask (SQuAD 2.0's model needs it).

  Returns:
    input_fn(params) -> tf.data.Dataset of dicts: unique_ids [batch] int64,
    input_ids, input_mask, segment_ids (and p_mask) [batch, seq_length]
    int32, for training start_positions, end_positions, is_impossible
    [batch] int32.
  """
  del use_tpu  # See the docstring.
  names = ["input_ids", "input_mask", "segment_ids"] + (
      ["p_mask"] if is_v2 else [])
  name_to_features = {name: tf.io.FixedLenFeature([seq_length], tf.int64)
                      for name in names}
  scalars = ["unique_ids"] + (
      ["start_positions", "end_positions", "is_impossible"]
      if is_training else [])
  for name in scalars:
    name_to_features[name] = tf.io.FixedLenFeature([], tf.int64)
  read = estimator_lib.record_input_fn_builder(
      input_file, name_to_features, is_training, drop_remainder,
      keep_int64=("unique_ids",))

  def input_fn(params):
    """The actual input function."""
    return read(dict({"batch_size": bsz}, **params))

  # The loop names this file when a record turns out corrupt.
  input_fn.input_files = [input_file]
  return input_fn


def _albert_squad_task():
  """tasks/albert_squad.py, which builds on this module (imported late)."""
  from tasks import albert_squad  # pylint: disable=g-import-not-at-top
  return albert_squad


def _no_hub_module(hub_module):
  """ALBERT's hub_module argument: TF Hub modules are not read yet."""
  if hub_module:
    raise ValueError("hub_module=%s: ALBERT's TF Hub modules are not read "
                     "yet; load the module's variables/variables as the "
                     "init checkpoint instead." % hub_module)


def create_v1_model(albert_config, is_training, input_ids, input_mask,
                    segment_ids, use_one_hot_embeddings, use_einsum=True,
                    hub_module=None):
  """ALBERT's create_v1_model: a new encoder + `cls/squad` head, run once.

  Args:
    albert_config: AlbertConfig.
    is_training: dropout on.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    use_one_hot_embeddings: one-hot embedding lookups.
    use_einsum: ignored (the same products either way).
    hub_module: must be None.

  Returns:
    (start_logits, end_logits) float32 [batch_size, seq_length].
  """
  del use_einsum  # See the docstring.
  _no_hub_module(hub_module)
  task = _albert_squad_task().AlbertSquadTask(
      None, encoder_spec=encoders.EncoderSpec.from_config(albert_config),
      use_one_hot_embeddings=use_one_hot_embeddings)
  model = task.create_model({})
  return model(input_ids, input_mask, segment_ids, training=is_training)


def create_v2_model(albert_config, is_training, input_ids, input_mask,
                    segment_ids, use_one_hot_embeddings, features,
                    max_seq_length, start_n_top, end_n_top, dropout_prob,
                    hub_module=None):
  """ALBERT's create_v2_model: a new encoder + SQuAD 2.0 head, run once.

  Args:
    albert_config: AlbertConfig.
    is_training: teacher-forced end logits (features["start_positions"])
      and dropout, else the beams.
    input_ids, input_mask, segment_ids: int32 [batch_size, seq_length].
    use_one_hot_embeddings: one-hot embedding lookups.
    features: dict with p_mask [batch_size, seq_length] (and
      start_positions [batch_size] in training).
    max_seq_length: unused (the inputs' length).
    start_n_top, end_n_top: the beams.
    dropout_prob: dropout on the answerability layer in training.
    hub_module: must be None.

  Returns:
    ALBERT's dict (see heads.SquadV2Head).
  """
  del max_seq_length  # See the docstring.
  _no_hub_module(hub_module)
  task = _albert_squad_task().AlbertSquadV2Task(
      None, encoder_spec=encoders.EncoderSpec.from_config(albert_config),
      start_n_top=start_n_top, end_n_top=end_n_top,
      dropout_prob=dropout_prob,
      use_one_hot_embeddings=use_one_hot_embeddings)
  model = task.create_model({})
  return model(input_ids, input_mask, segment_ids, features["p_mask"],
               training=is_training,
               start_positions=features.get("start_positions"))


def v1_model_fn_builder(albert_config, init_checkpoint, learning_rate,
                        num_train_steps, num_warmup_steps, use_tpu,
                        use_one_hot_embeddings, use_einsum=True,
                        hub_module=None):
  """ALBERT's name: the SQuAD 1.1 task as an estimator_lib.ModelFn.

  Args: ALBERT's (use_einsum is ignored; hub_module must be None); the
    ModelFn warm-starts from init_checkpoint as ALBERT's model_fn did.

  Returns:
    estimator_lib.ModelFn (train_loss, predictions with ALBERT's names).
  """
  del use_einsum  # The same products either way.
  _no_hub_module(hub_module)
  return task_lib.google_model_fn(
      _albert_squad_task().AlbertSquadTask, albert_config, init_checkpoint,
      learning_rate, num_train_steps, num_warmup_steps, use_tpu,
      use_one_hot_embeddings)


def v2_model_fn_builder(albert_config, init_checkpoint, learning_rate,
                        num_train_steps, num_warmup_steps, use_tpu,
                        use_one_hot_embeddings, max_seq_length, start_n_top,
                        end_n_top, dropout_prob, hub_module=None):
  """ALBERT's name: the SQuAD 2.0 task as an estimator_lib.ModelFn.

  Args: ALBERT's (max_seq_length is the records'; hub_module must be None).

  Returns:
    estimator_lib.ModelFn.
  """
  del max_seq_length  # The records' length.
  _no_hub_module(hub_module)
  return task_lib.google_model_fn(
      _albert_squad_task().AlbertSquadV2Task, albert_config, init_checkpoint,
      learning_rate, num_train_steps, num_warmup_steps, use_tpu,
      use_one_hot_embeddings, start_n_top=start_n_top, end_n_top=end_n_top,
      dropout_prob=dropout_prob)


def raw_result_v1(prediction):
  """RawResult of one predicted feature, as ALBERT's run_squad_v1 makes it.

  Args:
    prediction: dict with unique_ids (scalar), start_log_prob and
      end_log_prob ([max_seq_length] float32 arrays).

  Returns:
    RawResult with Python ints and floats (float32 values widened).
  """
  return RawResult(
      unique_id=int(prediction["unique_ids"]),
      start_log_prob=[float(x) for x in np.asarray(
          prediction["start_log_prob"]).flat],
      end_log_prob=[float(x) for x in np.asarray(
          prediction["end_log_prob"]).flat])


def raw_result_v2(prediction):
  """RawResultV2 of one predicted feature, as ALBERT's run_squad_v2 makes it.

  Args:
    prediction: dict with unique_ids, start_top_log_probs, start_top_index
      [start_n_top], end_top_log_probs, end_top_index [start_n_top *
      end_n_top] and cls_logits (scalar).

  Returns:
    RawResultV2 with Python ints and floats.
  """
  def floats(name):
    """prediction[name] as a list of Python floats."""
    return [float(x) for x in np.asarray(prediction[name]).flat]

  def ints(name):
    """prediction[name] as a list of Python ints."""
    return [int(x) for x in np.asarray(prediction[name]).flat]

  return RawResultV2(
      unique_id=int(prediction["unique_ids"]),
      start_top_log_probs=floats("start_top_log_probs"),
      start_top_index=ints("start_top_index"),
      end_top_log_probs=floats("end_top_log_probs"),
      end_top_index=ints("end_top_index"),
      cls_logits=float(np.asarray(prediction["cls_logits"]).flat[0]))


def _features_by_example(all_features, all_results):
  """(example index -> its features, unique_id -> result).

  Args:
    all_features: list of InputFeatures (eval: example_index set).
    all_results: list of RawResult or RawResultV2, or None when the caller
      accumulated the results itself (and checked that every feature had
      one).

  Returns:
    (defaultdict int -> list of InputFeatures, dict int -> result or None).

  Raises:
    ValueError: a feature has no result.
  """
  example_index_to_features = collections.defaultdict(list)
  for feature in all_features:
    example_index_to_features[feature.example_index].append(feature)
  if all_results is None:
    return example_index_to_features, None
  unique_id_to_result = {result.unique_id: result for result in all_results}
  missing = [f.unique_id for f in all_features
             if f.unique_id not in unique_id_to_result]
  if missing:
    raise ValueError("No model result for %d of %d features (e.g. unique_id "
                     "%d): the predictions do not match the eval features." %
                     (len(missing), len(all_features), missing[0]))
  return example_index_to_features, unique_id_to_result


def _add_span(spans, feature, start_index, end_index, start_log_prob,
              end_log_prob, max_answer_length, v2):
  """Records a candidate span of a feature if ALBERT keeps it.

  Args:
    spans: dict (start, end) in context pieces -> list of (start log prob,
      end log prob); updated.
    feature: InputFeatures.
    start_index: int, start position in the sequence.
    end_index: int, end position in the sequence.
    start_log_prob: float.
    end_log_prob: float.
    max_answer_length: int, in pieces.
    v2: bool; v2 also drops starts before the context.
  """
  doc_offset = feature.tokens.index("[SEP]") + 1
  if start_index - doc_offset >= len(feature.tok_start_to_orig_index):
    return
  if v2 and start_index - doc_offset < 0:
    return
  if end_index - doc_offset >= len(feature.tok_end_to_orig_index):
    return
  if not feature.token_is_max_context.get(start_index, False):
    return
  if end_index < start_index or end_index - start_index + 1 > max_answer_length:
    return
  key = (start_index - doc_offset, end_index - doc_offset)
  spans.setdefault(key, []).append((start_log_prob, end_log_prob))


def accumulate_feature_v1(spans, feature, result, n_best_size,
                          max_answer_length):
  """Adds the candidate spans of one feature's result (SQuAD 1.1).

  The n_best_size best starts times the n_best_size best ends (by
  log-probability) that fall in the context, start where the token has its
  maximum context and are at most max_answer_length pieces long.

  Args:
    spans: dict (start, end) in context pieces -> list of (start log prob,
      end log prob), this feature's entry of result_dict; updated.
    feature: InputFeatures (eval).
    result: its RawResult (start_log_prob, end_log_prob [max_seq_length]).
    n_best_size: int.
    max_answer_length: int.
  """
  starts = squad._get_best_indexes(  # pylint: disable=protected-access
      np.asarray(result.start_log_prob, np.float64), n_best_size)
  ends = squad._get_best_indexes(  # pylint: disable=protected-access
      np.asarray(result.end_log_prob, np.float64), n_best_size)
  for start_index in starts:
    for end_index in ends:
      _add_span(spans, feature, start_index, end_index,
                result.start_log_prob[start_index],
                result.end_log_prob[end_index], max_answer_length, v2=False)


def accumulate_feature_v2(spans, feature, result, max_answer_length,
                          start_n_top, end_n_top):
  """Adds the candidate spans of one feature's beams (SQuAD 2.0).

  Args:
    spans: as in accumulate_feature_v1; updated.
    feature: InputFeatures (eval).
    result: its RawResultV2 (start_top_* [start_n_top], end_top_*
      [start_n_top * end_n_top], start-major).
    max_answer_length: int.
    start_n_top: int, start beams.
    end_n_top: int, end beams per start.
  """
  for i in range(start_n_top):
    for j in range(end_n_top):
      k = i * end_n_top + j
      _add_span(spans, feature, result.start_top_index[i],
                result.end_top_index[k], result.start_top_log_probs[i],
                result.end_top_log_probs[k], max_answer_length, v2=True)


def accumulate_predictions_v1(result_dict, all_examples, all_features,
                              all_results, n_best_size, max_answer_length):
  """Collects the candidate answer spans of every example (SQuAD 1.1).

  Args:
    result_dict: dict, filled: example index -> unique_id -> (start, end) in
      context pieces -> list of (start log prob, end log prob).
    all_examples: list of SquadExample.
    all_features: list of InputFeatures (eval).
    all_results: list of RawResult.
    n_best_size: int.
    max_answer_length: int.
  """
  example_index_to_features, unique_id_to_result = _features_by_example(
      all_features, all_results)
  for example_index in range(len(all_examples)):
    per_feature = result_dict.setdefault(example_index, {})
    for feature in example_index_to_features[example_index]:
      accumulate_feature_v1(per_feature.setdefault(feature.unique_id, {}),
                            feature, unique_id_to_result[feature.unique_id],
                            n_best_size, max_answer_length)


def accumulate_predictions_v2(result_dict, cls_dict, all_examples,
                              all_features, all_results, n_best_size,
                              max_answer_length, start_n_top, end_n_top):
  """Collects candidate spans from the beams, and each example's null score.

  Args:
    result_dict: dict, filled as in accumulate_predictions_v1.
    cls_dict: dict, filled: example index -> list of null scores (the
      smallest cls_logits over the example's features, 1000000 without
      features) appended once per call.
    all_examples: list of SquadExample.
    all_features: list of InputFeatures (eval).
    all_results: list of RawResultV2.
    n_best_size: int (unused, as in ALBERT).
    max_answer_length: int.
    start_n_top: int, start beams.
    end_n_top: int, end beams per start.
  """
  del n_best_size  # ALBERT's signature; the beams decide.
  example_index_to_features, unique_id_to_result = _features_by_example(
      all_features, all_results)
  for example_index in range(len(all_examples)):
    per_feature = result_dict.setdefault(example_index, {})
    score_null = NO_FEATURE_NULL_SCORE
    for feature in example_index_to_features[example_index]:
      result = unique_id_to_result[feature.unique_id]
      score_null = min(score_null, result.cls_logits)
      accumulate_feature_v2(per_feature.setdefault(feature.unique_id, {}),
                            feature, result, max_answer_length, start_n_top,
                            end_n_top)
    cls_dict.setdefault(example_index, []).append(score_null)


def _prelim_predictions(per_feature, features):
  """The candidate spans of one example, best first.

  Each span's log-probabilities are the mean of its accumulated ones (ALBERT's
  arithmetic: an int 0 plus each float, divided by the count).

  Args:
    per_feature: result_dict[example_index].
    features: the example's InputFeatures.

  Returns:
    list of _PrelimPrediction sorted by start + end log prob, descending
    (ties in accumulation order).
  """
  prelim_predictions = []
  for feature_index, feature in enumerate(features):
    for (start_idx, end_idx), logprobs in per_feature[
        feature.unique_id].items():
      start_log_prob = 0
      end_log_prob = 0
      for logprob in logprobs:
        start_log_prob += logprob[0]
        end_log_prob += logprob[1]
      prelim_predictions.append(_PrelimPrediction(
          feature_index, start_idx, end_idx,
          start_log_prob / len(logprobs), end_log_prob / len(logprobs)))
  return sorted(prelim_predictions,
                key=lambda x: (x.start_log_prob + x.end_log_prob),
                reverse=True)


def _nbest(example, features, prelim_predictions, n_best_size):
  """The n-best distinct answer texts of an example.

  Args:
    example: SquadExample.
    features: its InputFeatures.
    prelim_predictions: from _prelim_predictions.
    n_best_size: int.

  Returns:
    list of _NbestPrediction (possibly empty); a span starting before the
    context (v1 only) is the empty answer.
  """
  seen_predictions = set()
  nbest = []
  for pred in prelim_predictions:
    if len(nbest) >= n_best_size:
      break
    if pred.start_index >= 0:
      feature = features[pred.feature_index]
      start_orig_pos = feature.tok_start_to_orig_index[pred.start_index]
      end_orig_pos = feature.tok_end_to_orig_index[pred.end_index]
      final_text = example.paragraph_text[
          start_orig_pos:end_orig_pos + 1].strip()
      if final_text in seen_predictions:
        continue
    else:
      final_text = ""
    seen_predictions.add(final_text)
    nbest.append(_NbestPrediction(final_text, pred.start_log_prob,
                                  pred.end_log_prob))
  return nbest


def _nbest_json(nbest):
  """nbest_predictions.json's list for one example (ALBERT's keys).

  Args:
    nbest: non-empty list of _NbestPrediction.

  Returns:
    list of OrderedDict text, probability (softmax of start + end log
    probs over the list), start_log_prob, end_log_prob.
  """
  probs = squad._compute_softmax(  # pylint: disable=protected-access
      [entry.start_log_prob + entry.end_log_prob for entry in nbest])
  nbest_json = []
  for entry, probability in zip(nbest, probs):
    output = collections.OrderedDict()
    output["text"] = entry.text
    output["probability"] = probability
    output["start_log_prob"] = entry.start_log_prob
    output["end_log_prob"] = entry.end_log_prob
    nbest_json.append(output)
  return nbest_json


def _nbest_of_examples(result_dict, all_examples, all_features, all_results,
                       n_best_size, output_prediction_file, output_nbest_file):
  """Yields (example index, example, n-best list) of every example.

  Args:
    result_dict: filled by accumulate_predictions_v1 or _v2.
    all_examples: list of SquadExample.
    all_features: list of InputFeatures.
    all_results: list of results (only checked against the features;
      None: not checked).
    n_best_size: int.
    output_prediction_file: path (logged).
    output_nbest_file: path (logged).

  Yields:
    (int, SquadExample, list of _NbestPrediction, possibly empty).
  """
  logging.info("Writing predictions to: %s", output_prediction_file)
  logging.info("Writing nbest to: %s", output_nbest_file)
  example_index_to_features, _ = _features_by_example(all_features,
                                                      all_results)
  for example_index, example in enumerate(all_examples):
    features = example_index_to_features[example_index]
    yield example_index, example, _nbest(
        example, features,
        _prelim_predictions(result_dict[example_index], features),
        n_best_size)


def write_predictions_v1(result_dict, all_examples, all_features,
                         all_results, n_best_size, max_answer_length,
                         output_prediction_file, output_nbest_file):
  """Writes predictions.json and nbest_predictions.json (SQuAD 1.1).

  The prediction is the best n-best entry's text ("empty" when an example
  has no candidate, as ALBERT).

  Args:
    result_dict: filled by accumulate_predictions_v1.
    all_examples: list of SquadExample.
    all_features: list of InputFeatures.
    all_results: list of RawResult (only checked against the features;
      None: not checked).
    n_best_size: int.
    max_answer_length: int (unused here, as in ALBERT).
    output_prediction_file: path.
    output_nbest_file: path.

  Returns:
    OrderedDict qas_id -> predicted text.
  """
  del max_answer_length  # ALBERT's signature.
  all_predictions = collections.OrderedDict()
  all_nbest_json = collections.OrderedDict()
  for _, example, nbest in _nbest_of_examples(
      result_dict, all_examples, all_features, all_results, n_best_size,
      output_prediction_file, output_nbest_file):
    if not nbest:
      nbest.append(_NbestPrediction("empty", 0.0, 0.0))
    nbest_json = _nbest_json(nbest)
    all_predictions[example.qas_id] = nbest_json[0]["text"]
    all_nbest_json[example.qas_id] = nbest_json
  squad._write_json(output_prediction_file, all_predictions)  # pylint: disable=protected-access
  squad._write_json(output_nbest_file, all_nbest_json)  # pylint: disable=protected-access
  return all_predictions


def write_predictions_v2(result_dict, cls_dict, all_examples, all_features,
                         all_results, n_best_size, max_answer_length,
                         output_prediction_file,
                         output_nbest_file, output_null_log_odds_file,
                         null_score_diff_threshold):
  """Writes predictions.json, nbest_predictions.json, null_odds.json (2.0).

  An example's score_diff (null_odds.json) is the mean of its cls_dict
  entries. Its prediction is the best span's text, or "" when a threshold
  is given and score_diff >= threshold.

  Args:
    result_dict: filled by accumulate_predictions_v2.
    cls_dict: filled by accumulate_predictions_v2.
    all_examples: list of SquadExample.
    all_features: list of InputFeatures.
    all_results: list of RawResultV2 (only checked against the features;
      None: not checked).
    n_best_size: int.
    max_answer_length: int (unused here, as in ALBERT).
    output_prediction_file: path.
    output_nbest_file: path.
    output_null_log_odds_file: path.
    null_score_diff_threshold: float or None (never predict "").

  Returns:
    (OrderedDict qas_id -> text, OrderedDict qas_id -> score_diff).
  """
  del max_answer_length  # ALBERT's signature.
  all_predictions = collections.OrderedDict()
  all_nbest_json = collections.OrderedDict()
  scores_diff_json = collections.OrderedDict()
  for example_index, example, nbest in _nbest_of_examples(
      result_dict, all_examples, all_features, all_results, n_best_size,
      output_prediction_file, output_nbest_file):
    if not nbest:
      nbest.append(_NbestPrediction("", -1e6, -1e6))
    all_nbest_json[example.qas_id] = _nbest_json(nbest)
    score_diff = (sum(cls_dict[example_index]) /
                  len(cls_dict[example_index]))
    scores_diff_json[example.qas_id] = score_diff
    if (null_score_diff_threshold is None or
        score_diff < null_score_diff_threshold):
      all_predictions[example.qas_id] = nbest[0].text
    else:
      all_predictions[example.qas_id] = ""
  squad._write_json(output_prediction_file, all_predictions)  # pylint: disable=protected-access
  squad._write_json(output_nbest_file, all_nbest_json)  # pylint: disable=protected-access
  squad._write_json(output_null_log_odds_file, scores_diff_json)  # pylint: disable=protected-access
  return all_predictions, scores_diff_json


def evaluate_v2(result_dict, cls_dict, prediction_json, eval_examples,
                eval_features, all_results, n_best_size, max_answer_length,
                output_prediction_file, output_nbest_file,
                output_null_log_odds_file):
  """ALBERT's SQuAD 2.0 evaluation with its choice of the null threshold.

  Writes the predictions without a threshold, takes the threshold on
  score_diff that maximises F1 (the official script's best_f1_thresh),
  writes the predictions again with it and scores them.

  Args:
    result_dict, cls_dict: filled by accumulate_predictions_v2.
    prediction_json: the "data" list of the SQuAD 2.0 file (gold answers).
    eval_examples: list of SquadExample.
    eval_features: list of InputFeatures.
    all_results: list of RawResultV2, or None (not checked).
    n_best_size: int.
    max_answer_length: int.
    output_prediction_file: path.
    output_nbest_file: path.
    output_null_log_odds_file: path.

  Returns:
    OrderedDict: exact, f1, total (official metrics of the final
    predictions, no-answer threshold 1.0) and null_score_diff_threshold.
  """
  def write(threshold):
    """write_predictions_v2 with `threshold`."""
    return write_predictions_v2(
        result_dict, cls_dict, eval_examples, eval_features, all_results,
        n_best_size, max_answer_length, output_prediction_file,
        output_nbest_file, output_null_log_odds_file, threshold)

  predictions, na_probs = write(None)
  threshold = squad_evaluate.evaluate_v2(prediction_json, predictions,
                                         na_probs)["best_f1_thresh"]
  predictions, na_probs = write(threshold)
  metrics = squad_evaluate.evaluate_v2(prediction_json, predictions, na_probs)
  out_eval = collections.OrderedDict(
      (key, metrics[key]) for key in ("exact", "f1", "total"))
  out_eval["null_score_diff_threshold"] = threshold
  return out_eval
