"""Entity-level tagging metrics by conlleval's rules; conlleval's input format.

conlleval (the CoNLL-2000/2003 shared tasks' scorer, version 2004-01-26)
reads a tag as `<prefix>-<type>`, split at the first hyphen ("B-PER" ->
("B", "PER"), "I-Post-Office" -> ("I", "Post-Office")); a tag without a
hyphen (the outside tag "O") has the type "". Its startOfChunk / endOfChunk
rules decide, between two consecutive tags, whether an entity (chunk) starts
or ends there. An entity is correct when the predicted tags give an entity of
the same type with the same first and last word; precision, recall and F1
are micro-averaged over all entities, and token accuracy counts words whose
whole tag is right.

conlleval.pl knows only some of the IOBES rules (none for S-); seqeval's
default mode extends conlleval's functions with the E-/S- rules, which is
what IOBES data is scored by in practice. Both are implemented here; on tags
that use only O, B- and I- (IOB1 and IOB2/BIO) the two are identical, and
conlleval treats an I- tag that follows O or another type as the start of an
entity. No TensorFlow here.
"""

import collections

OUTSIDE = "O"

# Prefixes after which (as the previous tag) an E- or I- tag starts a new
# entity: conlleval's O->I, O->E, E->E, E->I, and seqeval's S->E, S->I.
_STARTS_BEFORE_INSIDE = ("E", "S", "O")


def split_tag(tag):
  """(prefix, type) of a tag, split as conlleval does (at the first hyphen).

  Args:
    tag: a tag string, for example "B-PER", "O", "I-Post-Office".

  Returns:
    (prefix, type): ("B", "PER"), ("O", ""), ("I", "Post-Office").
  """
  prefix, hyphen, entity_type = tag.partition("-")
  if not hyphen:
    return tag, ""
  return prefix, entity_type


def chunk_ends(prev_prefix, prefix, prev_type, entity_type):
  """Whether an entity ends between the previous word and this one.

  conlleval's endOfChunk with seqeval's IOBES rules: an entity ends after
  E- and S-, before B-, S- and O when it was in B-/I-, and whenever the type
  changes after a non-O tag.

  Args:
    prev_prefix, prefix: prefixes ("B", "I", "E", "S", "O") of the previous
      and current tags ("O" before the first word and after the last).
    prev_type, entity_type: their types ("" for O).

  Returns:
    bool.
  """
  if prev_prefix in ("E", "S"):
    return True
  if prev_prefix in ("B", "I") and prefix in ("B", "S", "O"):
    return True
  return prev_prefix != OUTSIDE and prev_type != entity_type


def chunk_starts(prev_prefix, prefix, prev_type, entity_type):
  """Whether an entity starts at this word (conlleval's startOfChunk + IOBES).

  B- and S- always start one; I- and E- start one after O, E- or S- (so an
  I- tag after O starts an entity, as conlleval reads IOB1 data); any non-O
  tag whose type differs from the previous tag's starts one.

  Args:
    prev_prefix, prefix, prev_type, entity_type: as chunk_ends.

  Returns:
    bool.
  """
  if prefix in ("B", "S"):
    return True
  if prefix in ("E", "I") and prev_prefix in _STARTS_BEFORE_INSIDE:
    return True
  return prefix != OUTSIDE and prev_type != entity_type


def entities(tags):
  """The entities of one sentence by conlleval's rules.

  Args:
    tags: list of tag strings of the sentence's words.

  Returns:
    list of (type, first word index, last word index), in order.
  """
  found = []
  start = None
  prev_prefix, prev_type = OUTSIDE, ""
  # The trailing O closes an entity that runs to the end of the sentence.
  for i, tag in enumerate(list(tags) + [OUTSIDE]):
    prefix, entity_type = split_tag(tag)
    if start is not None and chunk_ends(prev_prefix, prefix, prev_type,
                                        entity_type):
      found.append((prev_type, start, i - 1))
      start = None
    if chunk_starts(prev_prefix, prefix, prev_type, entity_type):
      start = i
    prev_prefix, prev_type = prefix, entity_type
  return found


def _ratio(numerator, denominator):
  """numerator / denominator, 0.0 when the denominator is 0 (conlleval)."""
  return numerator / denominator if denominator else 0.0


def _f1(precision, recall):
  """Harmonic mean, 0.0 when both are 0 (conlleval's FB1)."""
  if precision + recall == 0:
    return 0.0
  return 2 * precision * recall / (precision + recall)


class EntityCounts(object):
  """Running counts of conlleval's statistics over sentences.

  Attributes:
    num_gold, num_predicted, num_correct: entity counts (conlleval's
      foundCorrect, foundGuessed, correctChunk).
    gold_by_type, predicted_by_type, correct_by_type: the same per type
      (collections.Counter).
    num_tokens, num_correct_tags: words and words whose tag is right.
  """

  def __init__(self):
    self.num_gold = 0
    self.num_predicted = 0
    self.num_correct = 0
    self.gold_by_type = collections.Counter()
    self.predicted_by_type = collections.Counter()
    self.correct_by_type = collections.Counter()
    self.num_tokens = 0
    self.num_correct_tags = 0

  def add(self, gold_tags, predicted_tags):
    """Adds one sentence.

    Args:
      gold_tags: list of the words' gold tags.
      predicted_tags: list of the words' predicted tags, as long.

    Raises:
      ValueError: when the lengths differ.
    """
    if len(gold_tags) != len(predicted_tags):
      raise ValueError("%d gold tags but %d predicted tags" %
                       (len(gold_tags), len(predicted_tags)))
    gold = entities(gold_tags)
    predicted = entities(predicted_tags)
    correct = set(gold) & set(predicted)
    self.num_gold += len(gold)
    self.num_predicted += len(predicted)
    self.num_correct += len(correct)
    self.gold_by_type.update(entity[0] for entity in gold)
    self.predicted_by_type.update(entity[0] for entity in predicted)
    self.correct_by_type.update(entity[0] for entity in correct)
    self.num_tokens += len(gold_tags)
    self.num_correct_tags += sum(
        g == p for g, p in zip(gold_tags, predicted_tags))

  def scores(self):
    """conlleval's figures, as fractions (conlleval prints percentages).

    Returns:
      dict with "precision", "recall", "f1" (micro over all entities),
      "accuracy" (tokens), and "precision_<TYPE>", "recall_<TYPE>",
      "f1_<TYPE>" for every type seen in the gold or the predicted tags.
      All are 0.0 where conlleval prints 0.00 (no entity found, none to
      find, or no token), so a sentence set without entities scores 0.
    """
    precision = _ratio(self.num_correct, self.num_predicted)
    recall = _ratio(self.num_correct, self.num_gold)
    result = {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "accuracy": _ratio(self.num_correct_tags, self.num_tokens),
    }
    types = set(self.gold_by_type) | set(self.predicted_by_type)
    for entity_type in sorted(types):
      type_precision = _ratio(self.correct_by_type[entity_type],
                              self.predicted_by_type[entity_type])
      type_recall = _ratio(self.correct_by_type[entity_type],
                           self.gold_by_type[entity_type])
      result["precision_" + entity_type] = type_precision
      result["recall_" + entity_type] = type_recall
      result["f1_" + entity_type] = _f1(type_precision, type_recall)
    return result


def score_sentences(gold_sentences, predicted_sentences):
  """conlleval's scores of a list of sentences.

  Args:
    gold_sentences: list of lists of gold tags.
    predicted_sentences: list of lists of predicted tags (same lengths).

  Returns:
    EntityCounts.scores() of all sentences.
  """
  if len(gold_sentences) != len(predicted_sentences):
    raise ValueError("%d gold sentences but %d predicted sentences" %
                     (len(gold_sentences), len(predicted_sentences)))
  counts = EntityCounts()
  for gold, predicted in zip(gold_sentences, predicted_sentences):
    counts.add(gold, predicted)
  return counts.scores()


def conlleval_word(word):
  """A word as one conlleval field: whitespace -> "_", empty -> "_".

  conlleval splits lines at spaces, so a word holding whitespace (possible
  in JSON lines or character data) would shift the tag columns.
  """
  return "".join("_" if c.isspace() else c for c in word) or "_"


def write_conlleval(f, sentences_words, gold_sentences, predicted_sentences):
  """Writes conlleval's input: `word gold predicted` lines, blank between.

  Args:
    f: a text file object open for writing.
    sentences_words: list of lists of words.
    gold_sentences: list of lists of gold tags, or None (a test file without
      tags): every gold tag is then "O"; a sentence may also be None.
    predicted_sentences: list of lists of predicted tags.
  """
  if len(sentences_words) != len(predicted_sentences):
    raise ValueError("%d sentences but %d predicted sentences" %
                     (len(sentences_words), len(predicted_sentences)))
  for i, (words, predicted) in enumerate(zip(sentences_words,
                                             predicted_sentences)):
    gold = gold_sentences[i] if gold_sentences is not None else None
    if gold is None:
      gold = [OUTSIDE] * len(words)
    if not len(words) == len(gold) == len(predicted):
      raise ValueError("sentence %d: %d words, %d gold and %d predicted tags"
                       % (i, len(words), len(gold), len(predicted)))
    for word, gold_tag, predicted_tag in zip(words, gold, predicted):
      f.write("%s %s %s\n" % (conlleval_word(word), gold_tag, predicted_tag))
    f.write("\n")
