# coding=utf-8
"""A tagging (NER-style) data set derived from real text by fixed rules.

The text is Python's own documentation (demo.py's corpus builder: pydoc
topics and standard-library docstrings, the same on every install of one
interpreter). Each sentence is split at whitespace into words, and the words
are tagged (IOB2) by rules that need no annotator:

* NUM: a number (digits, an optional decimal part), "3", "2.0";
* CONST: Python's constants True, False, None, any case ("none" too);
* PAREN: the words of a parenthesised phrase, from the word that opens it
  to the word that closes it ("(see", "below)"), when it closes within
  MAX_SPAN_WORDS words; inside, only the whole span is an entity;
* QUOTE: the words of a phrase in double quotes, likewise.

The lexical types (NUM, CONST) are learnt from the words themselves, the
spans (PAREN, QUOTE) need the context: an I- word carries no mark of its own.
Punctuation around a word does not change its type ("None," is CONST).
Used by the acceptance test and benchmarks/ner.py.
"""

import random
import re

import demo

MAX_SPAN_WORDS = 8
_PUNCTUATION = ".,;:!?\"'`()[]{}"
_NUMBER = re.compile(r"\d+(\.\d+)?$")
_CONSTANTS = ("true", "false", "none")
# Span types: (type, opening mark, closing mark).
_SPANS = (("QUOTE", "\"", "\""), ("PAREN", "(", ")"))


def _lexical_type(word):
  """NUM, CONST or None for a word (punctuation around it ignored)."""
  core = word.strip(_PUNCTUATION)
  if _NUMBER.match(core):
    return "NUM"
  if core.lower() in _CONSTANTS:
    return "CONST"
  return None


def _span_end(words, start, opening, closing):
  """Index of the word closing a span opened at `start`, or None.

  The span ends at the first word (the opening word after its mark
  included) holding the closing mark, if that word ends with it (after
  other punctuation is stripped), within MAX_SPAN_WORDS words.
  """
  if not words[start].startswith(opening):
    return None
  trailing = _PUNCTUATION.replace(closing, "")
  rest = [words[start][len(opening):]] + words[start + 1:
                                               start + MAX_SPAN_WORDS]
  for offset, word in enumerate(rest):
    if closing in word:
      return start + offset if word.rstrip(trailing).endswith(closing) else None
  return None


def tag_words(words):
  """IOB2 tags of a sentence's words by the module's rules.

  Args:
    words: list of str (a sentence split at whitespace).

  Returns:
    list of tags, one per word.
  """
  tags = ["O"] * len(words)
  i = 0
  while i < len(words):
    for entity_type, opening, closing in _SPANS:
      end = _span_end(words, i, opening, closing)
      if end is not None:
        tags[i:end + 1] = (["B-" + entity_type] +
                           ["I-" + entity_type] * (end - i))
        i = end
        break
    else:
      lexical = _lexical_type(words[i])
      if lexical:
        tags[i] = "B-" + lexical
    i += 1
  return tags


def tagged_sentences(max_chars, seed=1, max_words=None):
  """(words, tags) of the corpus's sentences, shuffled.

  Args:
    max_chars: about this many characters of text (demo.build_documents).
    seed: the shuffle's seed.
    max_words: drop sentences with more words (None: keep all).

  Returns:
    list of (words, tags), each sentence once.
  """
  return tag_documents(demo.build_documents(max_chars), seed, max_words)


def tag_documents(documents, seed=1, max_words=None):
  """(words, tags) of the documents' sentences, each once, shuffled.

  Args:
    documents: list of lists of sentences (demo.build_documents).
    seed, max_words: as tagged_sentences.
  """
  sentences = sorted({s for d in documents for s in d})
  random.Random(seed).shuffle(sentences)
  result = []
  for sentence in sentences:
    words = sentence.split()
    if max_words is None or len(words) <= max_words:
      result.append((words, tag_words(words)))
  return result


def conll_text(sentences):
  """CoNLL text: `word tag` lines, a blank line after each sentence."""
  return "".join(
      "".join("%s %s\n" % pair for pair in zip(words, tags)) + "\n"
      for words, tags in sentences)
