# coding=utf-8
"""The official SQuAD metrics: exact match and F1 (v1.1 and v2.0).

Written from the published definitions of the SQuAD evaluation scripts
(evaluate-v1.1.py, evaluate-v2.0.py), so that run_squad.py can score its own
predictions. The numbers equal those of the official scripts:

* Answers are normalised: lower case, punctuation removed, the articles
  a/an/the removed, whitespace collapsed. Exact match compares normalised
  strings; F1 is the harmonic mean of token precision and recall (tokens
  counted with multiplicity). A question scores its best over its gold answers.
* v1.1: every question in the data counts (an unanswered one scores 0); no
  special case for empty answers.
* v2.0: a question without gold answers is "NoAns" and its only gold answer is
  ""; an empty prediction then scores 1, anything else 0. Scores are also
  given on the HasAns and NoAns subsets. With no-answer probabilities (here
  Google's null_odds), a question whose probability is above
  `na_prob_thresh` (1.0, the script's default) counts as answered "", and the
  threshold that maximises exact match / F1 is searched (best_exact,
  best_exact_thresh, best_f1, best_f1_thresh).

Usage as a script (as the official ones):
  python squad_evaluate.py dev-v2.0.json predictions.json \
      --na-prob-file null_odds.json
"""

import argparse
import collections
import json
import re
import string
import sys

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s):
  """Lower text and remove punctuation, articles and extra whitespace."""
  s = s.lower()
  s = "".join(ch for ch in s if ch not in _PUNCTUATION)
  s = _ARTICLES.sub(" ", s)
  return " ".join(s.split())


def _tokens(s):
  """The normalised tokens of an answer ([] for an empty answer)."""
  if not s:
    return []
  return normalize_answer(s).split()


def exact_match_score(prediction, ground_truth):
  """1 if the normalised strings are equal, else 0."""
  return int(normalize_answer(prediction) == normalize_answer(ground_truth))


def _f1(prediction_tokens, ground_truth_tokens):
  """Token F1 of two token lists (0 when nothing is shared)."""
  common = (collections.Counter(prediction_tokens) &
            collections.Counter(ground_truth_tokens))
  num_same = sum(common.values())
  if num_same == 0:
    return 0
  precision = 1.0 * num_same / len(prediction_tokens)
  recall = 1.0 * num_same / len(ground_truth_tokens)
  return (2 * precision * recall) / (precision + recall)


def f1_score(prediction, ground_truth):
  """SQuAD 1.1 token F1 (an empty answer shares nothing, so scores 0)."""
  return _f1(normalize_answer(prediction).split(),
             normalize_answer(ground_truth).split())


def f1_score_v2(prediction, ground_truth):
  """SQuAD 2.0 token F1: when either answer is empty, 1 iff both are."""
  prediction_tokens = _tokens(prediction)
  ground_truth_tokens = _tokens(ground_truth)
  if not prediction_tokens or not ground_truth_tokens:
    return int(prediction_tokens == ground_truth_tokens)
  return _f1(prediction_tokens, ground_truth_tokens)


def _questions(dataset):
  """Yields every question (the "qas" objects) of a SQuAD "data" list."""
  for article in dataset:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        yield qa


def evaluate_v1(dataset, predictions):
  """The SQuAD 1.1 metrics.

  Args:
    dataset: the "data" list of a SQuAD file.
    predictions: dict qas_id -> predicted text.

  Returns:
    {"exact_match": float, "f1": float} in percent over all questions.
  """
  exact_match = f1 = total = 0
  for qa in _questions(dataset):
    total += 1
    if qa["id"] not in predictions:
      print("Unanswered question %s will receive score 0." % qa["id"],
            file=sys.stderr)
      continue
    ground_truths = [answer["text"] for answer in qa["answers"]]
    if not ground_truths:
      raise ValueError("Question %s has no answer: SQuAD 1.1 metrics need one "
                       "(is this SQuAD 2.0 data?)." % qa["id"])
    prediction = predictions[qa["id"]]
    exact_match += max(exact_match_score(prediction, gt)
                       for gt in ground_truths)
    f1 += max(f1_score(prediction, gt) for gt in ground_truths)
  if not total:
    raise ValueError("The dataset has no questions.")
  return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def _v2_raw_scores(dataset, predictions):
  """Per-question exact and F1 of SQuAD 2.0, and whether it has an answer.

  Returns:
    (exact, f1, has_answer): OrderedDicts qas_id -> score / bool; questions
    without a prediction are left out of the scores (with a message).
  """
  exact = collections.OrderedDict()
  f1 = collections.OrderedDict()
  has_answer = collections.OrderedDict()
  for qa in _questions(dataset):
    qid = qa["id"]
    has_answer[qid] = bool(qa["answers"])
    gold_answers = [
        a["text"] for a in qa["answers"] if normalize_answer(a["text"])
    ]
    if not gold_answers:
      # An unanswerable question: the only correct prediction is "".
      gold_answers = [""]
    if qid not in predictions:
      print("Missing prediction for %s" % qid, file=sys.stderr)
      continue
    prediction = predictions[qid]
    exact[qid] = max(int(normalize_answer(a) == normalize_answer(prediction))
                     for a in gold_answers)
    f1[qid] = max(f1_score_v2(prediction, a) for a in gold_answers)
  return exact, f1, has_answer


def _apply_no_answer_threshold(scores, na_probs, has_answer, na_prob_thresh):
  """Scores with the questions whose na_prob > threshold counted as ""."""
  new_scores = collections.OrderedDict()
  for qid, s in scores.items():
    if na_probs[qid] > na_prob_thresh:
      new_scores[qid] = float(not has_answer[qid])
    else:
      new_scores[qid] = s
  return new_scores


def _mean_scores(exact, f1, qid_list=None):
  """{"exact", "f1", "total"} over qid_list (default: every scored one)."""
  if qid_list is None:
    qid_list = list(exact)
  total = len(qid_list)
  return collections.OrderedDict([
      ("exact", 100.0 * sum(exact[k] for k in qid_list) / total),
      ("f1", 100.0 * sum(f1[k] for k in qid_list) / total),
      ("total", total),
  ])


def _best_threshold(predictions, scores, na_probs, has_answer):
  """The score and na_prob threshold maximising the total score.

  Questions are answered "" from the highest na_prob down; the search starts
  from "every question answered \"\"" (all NoAns questions right).

  Returns:
    (best score in percent of the scored questions, threshold).
  """
  num_no_answer = sum(1 for k in has_answer if not has_answer[k])
  cur_score = num_no_answer
  best_score = cur_score
  best_thresh = 0.0
  for qid in sorted(na_probs, key=lambda k: na_probs[k]):
    if qid not in scores:
      continue
    if has_answer[qid]:
      diff = scores[qid]
    elif predictions[qid]:
      diff = -1
    else:
      diff = 0
    cur_score += diff
    if cur_score > best_score:
      best_score = cur_score
      best_thresh = na_probs[qid]
  return 100.0 * best_score / len(scores), best_thresh


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0):
  """The SQuAD 2.0 metrics, as evaluate-v2.0.py.

  Args:
    dataset: the "data" list of a SQuAD file.
    predictions: dict qas_id -> predicted text ("" = no answer).
    na_probs: optional dict qas_id -> no-answer probability or score
      (Google's null_odds.json); adds best_exact/best_f1 and thresholds.
    na_prob_thresh: questions with na_prob above it count as answered "".

  Returns:
    OrderedDict: exact, f1, total, HasAns_exact, HasAns_f1, HasAns_total,
    NoAns_* (when such questions exist) and, with na_probs, best_exact,
    best_exact_thresh, best_f1, best_f1_thresh.
  """
  use_na_probs = na_probs is not None
  if not use_na_probs:
    na_probs = {k: 0.0 for k in predictions}
  exact_raw, f1_raw, has_answer = _v2_raw_scores(dataset, predictions)
  if not exact_raw:
    raise ValueError("No question of the dataset has a prediction.")
  missing = [qid for qid in exact_raw if qid not in na_probs]
  if missing:
    raise ValueError("No no-answer probability for %d question(s), e.g. %s" %
                     (len(missing), missing[0]))
  exact = _apply_no_answer_threshold(exact_raw, na_probs, has_answer,
                                     na_prob_thresh)
  f1 = _apply_no_answer_threshold(f1_raw, na_probs, has_answer,
                                  na_prob_thresh)
  result = _mean_scores(exact, f1)
  for prefix, wanted in (("HasAns", True), ("NoAns", False)):
    qid_list = [k for k, v in has_answer.items() if v == wanted]
    if qid_list:
      for key, value in _mean_scores(exact, f1, qid_list).items():
        result["%s_%s" % (prefix, key)] = value
  if use_na_probs:
    best_exact, exact_thresh = _best_threshold(predictions, exact_raw,
                                               na_probs, has_answer)
    best_f1, f1_thresh = _best_threshold(predictions, f1_raw, na_probs,
                                         has_answer)
    result["best_exact"] = best_exact
    result["best_exact_thresh"] = exact_thresh
    result["best_f1"] = best_f1
    result["best_f1_thresh"] = f1_thresh
  return result


def has_gold_answers(dataset):
  """Whether a SQuAD "data" list carries answers to score against."""
  return any(qa.get("answers") for qa in _questions(dataset))


def first_unanswerable(dataset):
  """The id of the first question without gold answers, or None.

  SQuAD 1.1 scoring needs an answer for every question.
  """
  for qa in _questions(dataset):
    if not qa.get("answers"):
      return qa.get("id")
  return None


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Official SQuAD metrics (v1.1, or v2.0 with --v2 or when "
      "the data has is_impossible).")
  parser.add_argument("data_file", help="SQuAD JSON with gold answers.")
  parser.add_argument("pred_file", help="predictions.json.")
  parser.add_argument("--na-prob-file", help="null_odds.json (v2.0).")
  parser.add_argument("--na-prob-thresh", type=float, default=1.0)
  parser.add_argument("--v2", action="store_true", help="SQuAD 2.0 metrics.")
  args = parser.parse_args(argv)
  with open(args.data_file, encoding="utf-8") as f:
    dataset = json.load(f)["data"]
  with open(args.pred_file, encoding="utf-8") as f:
    predictions = json.load(f)
  is_v2 = args.v2 or args.na_prob_file or any(
      "is_impossible" in qa for qa in _questions(dataset))
  if is_v2:
    na_probs = None
    if args.na_prob_file:
      with open(args.na_prob_file, encoding="utf-8") as f:
        na_probs = json.load(f)
    result = evaluate_v2(dataset, predictions, na_probs, args.na_prob_thresh)
  else:
    result = evaluate_v1(dataset, predictions)
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
