# coding=utf-8
"""Tests of tasks/tagging_metrics.py against conlleval's rules.

The expected figures are worked out by hand in each test's comments from
conlleval.pl's (2004-01-26) startOfChunk / endOfChunk and from seqeval's
default-mode extension of them for IOBES (E- and S-), not from our code:

  an entity ends before a word when the previous tag is E- or S-, or is B-/I-
  and this one is B-, S- or O, or the type changes after a non-O tag;
  an entity starts at B- and S-, at I-/E- after O, E- or S-, and at any
  non-O tag whose type differs from the previous tag's.

Each sentence is closed as if followed by O (conlleval's blank line).
"""

import io

import pytest

from tasks import tagging_metrics as tm


def scores(gold, predicted):
  return tm.score_sentences(gold, predicted)


def test_split_tag_at_first_hyphen():
  assert tm.split_tag("B-PER") == ("B", "PER")
  assert tm.split_tag("O") == ("O", "")
  # conlleval 2004-01-26: "allows hyphens in the types".
  assert tm.split_tag("I-Post-Office") == ("I", "Post-Office")


def test_perfect_bio():
  # PER(0,1), LOC(3,3) in both.
  result = scores([["B-PER", "I-PER", "O", "B-LOC"]],
                  [["B-PER", "I-PER", "O", "B-LOC"]])
  assert result["precision"] == 1.0
  assert result["recall"] == 1.0
  assert result["f1"] == 1.0
  assert result["accuracy"] == 1.0
  assert result["f1_PER"] == 1.0
  assert result["f1_LOC"] == 1.0


def test_i_tag_after_o_starts_an_entity():
  # Gold: I-PER after O starts (O->I), O ends it: PER(1,2).
  # Predicted: B-PER starts, O ends: PER(1,2). One correct of one.
  # Tags differ at word 1 (I-PER vs B-PER): accuracy 3/4.
  counts = tm.EntityCounts()
  counts.add(["O", "I-PER", "I-PER", "O"], ["O", "B-PER", "I-PER", "O"])
  assert (counts.num_gold, counts.num_predicted, counts.num_correct) == (
      1, 1, 1)
  result = counts.scores()
  assert result["f1"] == 1.0
  assert result["accuracy"] == 0.75


def test_entities_of_i_tags():
  assert tm.entities(["O", "I-PER", "I-PER", "O"]) == [("PER", 1, 2)]
  # I-PER after B-LOC: the type changes, so LOC ends and PER starts; the
  # sentence end closes PER.
  assert tm.entities(["B-LOC", "I-PER", "I-PER"]) == [("LOC", 0, 0),
                                                      ("PER", 1, 2)]
  # The first word's I- starts an entity (the sentence starts after O).
  assert tm.entities(["I-ORG"]) == [("ORG", 0, 0)]


def test_type_change_inside_an_entity():
  # Gold PER(0,1). Predicted: B-PER starts PER; I-LOC ends it (type change
  # after a non-O tag) and starts LOC; O ends LOC: PER(0,0), LOC(1,1).
  # Correct 0 of gold 1, predicted 2: precision 0, recall 0, F1 0.
  # Per type: PER predicted 1 gold 1 correct 0; LOC predicted 1, gold 0.
  # Accuracy: words 0 and 2 right: 2/3.
  result = scores([["B-PER", "I-PER", "O"]], [["B-PER", "I-LOC", "O"]])
  assert tm.entities(["B-PER", "I-LOC", "O"]) == [("PER", 0, 0),
                                                  ("LOC", 1, 1)]
  assert result["precision"] == 0.0
  assert result["recall"] == 0.0
  assert result["f1"] == 0.0
  assert result["f1_PER"] == 0.0
  assert result["precision_LOC"] == 0.0
  assert result["recall_LOC"] == 0.0
  assert result["accuracy"] == pytest.approx(2 / 3)


def test_b_after_i_of_the_same_type_splits():
  # Sentence 1 gold: B-PER I-PER | B-PER (B after I ends and starts) O:
  #   PER(0,1), PER(2,2). Predicted B-PER I-PER I-PER O: PER(0,2).
  #   Correct 0.
  # Sentence 2: B-LOC in both: LOC(0,0), correct.
  # Totals: gold 3, predicted 2, correct 1: precision 1/2, recall 1/3,
  # F1 = 2 * (1/2) * (1/3) / (1/2 + 1/3) = 2/5.
  # PER: precision 0/1, recall 0/2, F1 0; LOC: 1, 1, 1.
  # Accuracy: sentence 1 words 0, 1, 3 right, sentence 2 right: 4/5.
  gold = [["B-PER", "I-PER", "B-PER", "O"], ["B-LOC"]]
  predicted = [["B-PER", "I-PER", "I-PER", "O"], ["B-LOC"]]
  assert tm.entities(gold[0]) == [("PER", 0, 1), ("PER", 2, 2)]
  result = scores(gold, predicted)
  assert result["precision"] == pytest.approx(0.5)
  assert result["recall"] == pytest.approx(1 / 3)
  assert result["f1"] == pytest.approx(0.4)
  assert result["f1_PER"] == 0.0
  assert result["recall_PER"] == 0.0
  assert result["f1_LOC"] == 1.0
  assert result["accuracy"] == pytest.approx(0.8)


def test_boundaries_must_match_exactly():
  # Gold LOC(0,0); predicted B-LOC I-LOC: LOC(0,1). Same start, other end:
  # not correct. Plus one correct PER sentence: precision 1/2, recall 1/2.
  result = scores([["B-LOC", "O"], ["B-PER"]],
                  [["B-LOC", "I-LOC"], ["B-PER"]])
  assert result["precision"] == 0.5
  assert result["recall"] == 0.5
  assert result["f1"] == 0.5
  assert result["f1_PER"] == 1.0
  assert result["f1_LOC"] == 0.0


def test_per_type_f1_with_unequal_precision_and_recall():
  # Gold: PER(0,0) and LOC(2,2). Predicted: PER(0,0), PER(1,1) (B after B),
  # LOC(2,2). PER: correct 1, predicted 2, gold 1: precision 1/2, recall 1,
  # F1 = 2 * 0.5 * 1 / 1.5 = 2/3. Overall: correct 2, predicted 3, gold 2:
  # precision 2/3, recall 1, F1 = 2 * (2/3) / (5/3) = 4/5.
  result = scores([["B-PER", "O", "B-LOC"]], [["B-PER", "B-PER", "B-LOC"]])
  assert result["precision_PER"] == 0.5
  assert result["recall_PER"] == 1.0
  assert result["f1_PER"] == pytest.approx(2 / 3)
  assert result["f1"] == pytest.approx(0.8)


def test_entities_stop_at_sentence_ends():
  # conlleval reads a blank line as O: gold B-PER | I-PER are two entities
  # (the second I- starts after the boundary); predicted B-PER | B-PER too.
  result = scores([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]])
  assert result["precision"] == 1.0
  assert result["recall"] == 1.0
  assert result["accuracy"] == 0.5


def test_iobes_s_and_e():
  # Gold S-PER S-PER B-LOC I-LOC E-LOC O:
  #   S starts PER at 0; S after S ends it (prev S) and starts PER at 1;
  #   B-LOC ends it (prev S) and starts LOC at 2; I and E continue; O ends
  #   (prev E): PER(0,0), PER(1,1), LOC(2,4).
  # Predicted S-PER B-PER B-LOC I-LOC E-LOC O:
  #   PER(0,0); B-PER ends it (prev S), starts PER at 1; B-LOC ends it
  #   (B->B) and starts LOC; O after E ends LOC(2,4). All three correct,
  #   though B-PER is never closed by E-. Accuracy 5/6.
  gold = ["S-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "O"]
  predicted = ["S-PER", "B-PER", "B-LOC", "I-LOC", "E-LOC", "O"]
  assert tm.entities(gold) == [("PER", 0, 0), ("PER", 1, 1), ("LOC", 2, 4)]
  assert tm.entities(predicted) == tm.entities(gold)
  result = scores([gold], [predicted])
  assert result["f1"] == 1.0
  assert result["accuracy"] == pytest.approx(5 / 6)


def test_iobes_e_tags_start_and_end():
  # O E-PER O: E after O starts PER; O after E ends it: PER(1,1).
  assert tm.entities(["O", "E-PER", "O"]) == [("PER", 1, 1)]
  # B-LOC E-LOC E-LOC: E after E ends LOC(0,1) and starts LOC at 2; the
  # sentence end closes it: LOC(2,2).
  assert tm.entities(["B-LOC", "E-LOC", "E-LOC"]) == [("LOC", 0, 1),
                                                      ("LOC", 2, 2)]
  # I-LOC after S-LOC starts a new entity (seqeval's S->I rule).
  assert tm.entities(["S-LOC", "I-LOC", "E-LOC"]) == [("LOC", 0, 0),
                                                      ("LOC", 1, 2)]
  # Gold from above against predicted S-PER / B-LOC E-LOC S-LOC: all equal.
  result = scores([["O", "E-PER", "O"], ["B-LOC", "E-LOC", "E-LOC"]],
                  [["O", "S-PER", "O"], ["B-LOC", "E-LOC", "S-LOC"]])
  assert result["f1"] == 1.0
  assert result["f1_PER"] == 1.0
  assert result["accuracy"] == pytest.approx(4 / 6)


def test_only_o_tags():
  # No entity to find and none found: conlleval prints 0.00 for precision,
  # recall and FB1 (its defaults), 100% accuracy, and no per-type line.
  result = scores([["O", "O"], ["O"]], [["O", "O"], ["O"]])
  assert result == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                    "accuracy": 1.0}
  # An entity predicted where gold has none: precision 0/1, recall 0 (none
  # to find), F1 0; the type still gets its line.
  result = scores([["O", "O"]], [["B-PER", "O"]])
  assert result["precision"] == 0.0
  assert result["f1"] == 0.0
  assert result["f1_PER"] == 0.0
  assert result["accuracy"] == 0.5


def test_hyphenated_type():
  result = scores([["B-Post-Office", "I-Post-Office", "O"]],
                  [["B-Post-Office", "I-Post-Office", "O"]])
  assert result["f1_Post-Office"] == 1.0


def test_chinese_characters_and_type_names():
  # 我 爱 北 京 天 安 门. Gold 地名(2,3) and 地名(4,6); predicted 地名(2,3) and
  # 地名(4,5) (O ends it one character early). Correct 1 of 2 and 2:
  # precision, recall, F1 all 1/2; accuracy 6/7.
  gold = ["O", "O", "B-地名", "I-地名", "B-地名", "I-地名", "I-地名"]
  predicted = ["O", "O", "B-地名", "I-地名", "B-地名", "I-地名", "O"]
  result = scores([gold], [predicted])
  assert result["precision"] == 0.5
  assert result["recall"] == 0.5
  assert result["f1_地名"] == 0.5
  assert result["accuracy"] == pytest.approx(6 / 7)


def test_length_mismatch_is_refused():
  with pytest.raises(ValueError, match="3 gold tags but 2 predicted"):
    tm.EntityCounts().add(["O", "O", "O"], ["O", "O"])


def test_write_conlleval_with_gold():
  f = io.StringIO()
  tm.write_conlleval(f, [["EU", "rejects"], ["Peter", "Blackburn"]],
                     [["B-ORG", "O"], ["B-PER", "I-PER"]],
                     [["B-ORG", "O"], ["B-PER", "O"]])
  assert f.getvalue() == ("EU B-ORG B-ORG\nrejects O O\n\n"
                          "Peter B-PER B-PER\nBlackburn I-PER O\n\n")


def test_write_conlleval_without_gold_and_odd_words():
  # A test file without tags: gold is O. Words with whitespace or nothing
  # would shift conlleval's space-separated columns: written with "_".
  f = io.StringIO()
  tm.write_conlleval(f, [["北", "京", " ", "New York", ""]], None,
                     [["B-LOC", "I-LOC", "O", "B-LOC", "O"]])
  assert f.getvalue() == ("北 O B-LOC\n京 O I-LOC\n_ O O\nNew_York O B-LOC\n"
                          "_ O O\n\n")
  for line in f.getvalue().splitlines():
    assert len(line.split(" ")) in (1, 3)


def test_write_conlleval_checks_lengths():
  with pytest.raises(ValueError, match="sentence 0: 2 words, 2 gold and 1"):
    tm.write_conlleval(io.StringIO(), [["a", "b"]], [["O", "O"]], [["O"]])
