# coding=utf-8
"""Tests of demo.py: corpus and task builders, stages, and the whole run."""

import json
import os
import random
import subprocess
import sys

import pytest

from conftest import ROOT
import demo
import tokenization

DOCSTRING_SOURCE = '''
"""Tools for counting sheep. The module is small.

Example::

    count(sheep) + 1 if fences else None
"""


class Shepherd:
  """A shepherd keeps the flock. Call count() every evening.

  >>> Shepherd().count()
  3
  """

  def count(self):
    """Returns how many sheep came home tonight!"""


def helper():
  pass
'''


def test_docstrings_in_source_order():
  found = demo.docstrings(DOCSTRING_SOURCE)
  assert [d.split()[0] for d in found] == ["Tools", "A", "Returns"]
  assert demo.docstrings("def broken(:\n") == []


def test_split_sentences_drops_code_and_short_lines():
  sentences = []
  for text in demo.docstrings(DOCSTRING_SOURCE):
    sentences.extend(demo.split_sentences(text))
  assert sentences == [
      "Tools for counting sheep.",
      "The module is small.",
      "A shepherd keeps the flock.",
      "Call count() every evening.",
      "Returns how many sheep came home tonight!",
  ]
  wrapped = "First line of a\nsentence that wraps.  Then\tanother one here."
  assert demo.split_sentences(wrapped) == [
      "First line of a sentence that wraps.", "Then another one here."]
  assert demo.split_sentences("x = [1, 2, 3] + [4, 5, 6] * 7 // 8") == []


def test_corpus_text_layout():
  text = demo.corpus_text([["a b c d.", "e f g h."], ["i j k l."]])
  assert text == "a b c d.\ne f g h.\n\ni j k l.\n\n"


def test_build_documents_from_a_directory(tmp_path):
  package = tmp_path / "pkg"
  (package / "tests").mkdir(parents=True)
  (package / "a.py").write_text(DOCSTRING_SOURCE, encoding="utf-8")
  (package / "tests" / "test_a.py").write_text(DOCSTRING_SOURCE,
                                                encoding="utf-8")
  (package / "bad.py").write_bytes(b'"""caf\xe9 is not UTF-8."""\n')
  documents = demo.build_documents(10 ** 9, roots=[str(tmp_path)])
  pydoc_count = len(demo.pydoc_documents())
  assert pydoc_count > 50
  # pydoc's pages, then a.py once (tests/ and non-UTF-8 files are left out).
  assert len(documents) == pydoc_count + 1
  assert documents[-1][0] == "Tools for counting sheep."
  assert all(len(d) >= 2 for d in documents)
  assert all("\t" not in s and "\n" not in s for d in documents for s in d)


def test_sentence_pairs_are_balanced_and_correct():
  documents = [["doc%d sentence %d here." % (d, i) for i in range(6)]
               for d in range(5)]
  where = {s: (d, i) for d, doc in enumerate(documents)
           for i, s in enumerate(doc)}
  pairs = demo.sentence_pairs(documents, 20, random.Random(1))
  assert len(pairs) == 20
  assert sum(label == "1" for label, _, _ in pairs) == 10
  for label, a, b in pairs:
    (doc_a, i), (doc_b, j) = where[a], where[b]
    if label == "1":
      assert (doc_b, j) == (doc_a, i + 1)
    else:
      assert doc_b != doc_a
  assert pairs == demo.sentence_pairs(documents, 20, random.Random(1))
  with pytest.raises(ValueError, match="two or more documents"):
    demo.sentence_pairs(documents[:1], 5, random.Random(1))


def test_mrpc_files_read_by_googles_processor(tmp_path):
  import run_classifier  # pylint: disable=g-import-not-at-top
  pairs = [("1", "A first \"quoted\" one.", "B follows it."),
           ("0", "Another sentence here.", "Unrelated text there.")]
  for name, rows in (("train.tsv", demo.mrpc_rows(pairs)),
                     ("dev.tsv", demo.mrpc_rows(pairs)),
                     ("test.tsv", demo.mrpc_rows(pairs, test=True))):
    (tmp_path / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
  processor = run_classifier.MrpcProcessor()
  train = processor.get_train_examples(str(tmp_path))
  assert [(e.label, e.text_a, e.text_b) for e in train] == pairs
  test = processor.get_test_examples(str(tmp_path))
  assert [(e.text_a, e.text_b) for e in test] == [p[1:] for p in pairs]


def test_stages_skip_resume_and_missing_scripts(tmp_path):
  calls = []

  def body(directory):
    calls.append(os.path.basename(directory))
    with open(os.path.join(directory, "out.txt"), "w") as f:
      f.write("done")

  stages = demo.Stages(str(tmp_path))
  assert stages.run("one", [], body) == str(tmp_path / "one")
  assert calls == ["one.partial"]
  assert os.listdir(tmp_path / "one") == ["out.txt"]
  assert not os.path.exists(tmp_path / "one.partial")
  # A finished stage is not run again.
  assert demo.Stages(str(tmp_path)).run("one", [], body) == str(tmp_path /
                                                                "one")
  assert calls == ["one.partial"]
  # A missing script skips the stage and those that need it.
  stages = demo.Stages(str(tmp_path))
  assert stages.run("two", ["no_such_script.py"], body) is None
  assert stages.run("three", [], body, needs=["two"]) is None
  assert [n for n, _ in stages.skipped] == ["two", "three"]
  assert "no_such_script.py not available" in stages.skipped[0][1]
  assert not os.path.exists(tmp_path / "two")

  # A failed stage stays .partial (to resume), the final name never appears.
  def failing(directory):
    raise RuntimeError("boom")

  with pytest.raises(RuntimeError):
    demo.Stages(str(tmp_path)).run("four", [], failing)
  assert os.path.isdir(tmp_path / "four.partial")
  assert not os.path.exists(tmp_path / "four")


def test_output_dir_checks(tmp_path):
  stranger = tmp_path / "home"
  stranger.mkdir()
  (stranger / "precious.txt").write_text("keep me")
  with pytest.raises(ValueError, match="not a demo output"):
    demo.prepare_output_dir(str(stranger), "small", clean=True)
  assert (stranger / "precious.txt").exists()

  out = tmp_path / "out"
  demo.prepare_output_dir(str(out), "small", clean=False)
  (out / "corpus").mkdir()
  with pytest.raises(ValueError, match="--size=small run"):
    demo.prepare_output_dir(str(out), "default", clean=False)
  demo.prepare_output_dir(str(out), "default", clean=True)
  assert os.listdir(out) == [demo.SETTINGS_FILE]


def test_test_accuracy_and_baseline(tmp_path):
  results = tmp_path / "test_results.tsv"
  results.write_text("0.9\t0.1\n0.2\t0.8\n0.6\t0.4\n0.3\t0.7\n")
  labels = tmp_path / "labels.txt"
  labels.write_text("0\n1\n1\n1\n")
  assert demo.test_accuracy(str(results), str(labels)) == (0.75, 0.75, 4)
  labels.write_text("0\n1\n")
  with pytest.raises(ValueError, match="4 lines"):
    demo.test_accuracy(str(results), str(labels))
