# coding=utf-8
"""Tests of sentence_split.py on English, Chinese and Japanese cases.

Every expected split below was written by hand from the text (not produced
by the code), including the cases that trip simple splitters.
"""

import pytest

import sentence_split

ENGLISH = [
    # Abbreviations and titles.
    ("Mr. Smith went to Washington. He arrived on Monday.",
     ["Mr. Smith went to Washington.", "He arrived on Monday."]),
    ("Dr. Jones and Prof. Lee met St. John at the door. They talked.",
     ["Dr. Jones and Prof. Lee met St. John at the door.", "They talked."]),
    ("See e.g. Table 2 and cf. Smith et al. The rest is below.",
     ["See e.g. Table 2 and cf. Smith et al. The rest is below."]),
    ("See Fig. 3 for details. The answer is no. We tried.",
     ["See Fig. 3 for details.", "The answer is no.", "We tried."]),
    ("It opened on Jan. 12 last year. The cat sat. Then it slept.",
     ["It opened on Jan. 12 last year.", "The cat sat.", "Then it slept."]),
    ("I like tea, coffee, etc. They are good.",
     ["I like tea, coffee, etc.", "They are good."]),
    # Decimals, versions, addresses, times.
    ("The value of pi is 3.14159. It is irrational.",
     ["The value of pi is 3.14159.", "It is irrational."]),
    ("It costs $5.50 at example.com and v2.1 is out. Buy it.",
     ["It costs $5.50 at example.com and v2.1 is out.", "Buy it."]),
    ("He arrived at 3.30 p.m. on Monday. He left in 1999. Nobody knew.",
     ["He arrived at 3.30 p.m. on Monday.", "He left in 1999.",
      "Nobody knew."]),
    # Quotes and brackets after the stop.
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ('"Stop!" he said. She ran.', ['"Stop!" he said.', "She ran."]),
    ("It was late. (See the notes.) Next we ate.",
     ["It was late.", "(See the notes.)", "Next we ate."]),
    ("She asked \u201cwhy?\u201d and left. \u201cBecause,\u201d he said.",
     ["She asked \u201cwhy?\u201d and left.", "\u201cBecause,\u201d he said."]),
    ("Is it? Yes! Really?! Sure.", ["Is it?", "Yes!", "Really?!", "Sure."]),
    # Initials and dotted acronyms.
    ("J. R. R. Tolkien wrote books. They sold well.",
     ["J. R. R. Tolkien wrote books.", "They sold well."]),
    ("George W. Bush met the U.S. Army chief. He smiled.",
     ["George W. Bush met the U.S. Army chief.", "He smiled."]),
    # Ellipses.
    ("Wait... what? I don't know... Maybe tomorrow.",
     ["Wait... what?", "I don't know...", "Maybe tomorrow."]),
    ("Well\u2026 maybe. Or\u2026 Not at all.",
     ["Well\u2026 maybe.", "Or\u2026", "Not at all."]),
    # Line breaks are hard boundaries; whitespace is trimmed.
    ("  First line without stop\nSecond line. Third one.  \n\n",
     ["First line without stop", "Second line.", "Third one."]),
    ("No stop at all", ["No stop at all"]),
    ("", []),
]

CHINESE_JAPANESE = [
    ("\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u6211\u4eec\u53bb\u516c\u56ed"
     "\u5427\uff01\u4f60\u53bb\u5417\uff1f",
     ["\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002",
      "\u6211\u4eec\u53bb\u516c\u56ed\u5427\uff01", "\u4f60\u53bb\u5417\uff1f"]),
    # A closing quote after the stop stays with the sentence.
    ("\u4ed6\u8bf4\uff1a\u201c\u660e\u5929\u89c1\u3002\u201d\u7136\u540e\u8d70"
     "\u4e86\u3002",
     ["\u4ed6\u8bf4\uff1a\u201c\u660e\u5929\u89c1\u3002\u201d",
      "\u7136\u540e\u8d70\u4e86\u3002"]),
    # Full-width semicolon and the Chinese ellipsis (two U+2026).
    ("\u7b2c\u4e00\uff0c\u5b66\u4e60\uff1b\u7b2c\u4e8c\uff0c\u5de5\u4f5c"
     "\u2026\u2026\u4f11\u606f\u4e00\u4e0b\u3002\u597d\u7684",
     ["\u7b2c\u4e00\uff0c\u5b66\u4e60\uff1b",
      "\u7b2c\u4e8c\uff0c\u5de5\u4f5c\u2026\u2026",
      "\u4f11\u606f\u4e00\u4e0b\u3002", "\u597d\u7684"]),
    # Repeated stops; decimals inside Chinese; ASCII stops in Chinese text.
    ("\u771f\u7684\u5417\uff1f\uff01\u4ef7\u683c\u662f3.5\u5143\uff0c\u597d"
     "\u5417?\u597d\u7684!\u518d\u89c1.\u660e\u5929\u89c1\u3002",
     ["\u771f\u7684\u5417\uff1f\uff01",
      "\u4ef7\u683c\u662f3.5\u5143\uff0c\u597d\u5417?", "\u597d\u7684!",
      "\u518d\u89c1.", "\u660e\u5929\u89c1\u3002"]),
    # A stop followed by Latin text, and a corner bracket (Japanese).
    ("\u8fd9\u662f2020\u5e74\u3002Python\u5f88\u597d\u3002",
     ["\u8fd9\u662f2020\u5e74\u3002", "Python\u5f88\u597d\u3002"]),
    ("\u300c\u884c\u304d\u307e\u3059\u3002\u300d\u3068\u5f7c\u306f\u8a00"
     "\u3063\u305f\u3002\u6b21\u306e\u6587\uff61\u7d42\u308f\u308a",
     ["\u300c\u884c\u304d\u307e\u3059\u3002\u300d",
      "\u3068\u5f7c\u306f\u8a00\u3063\u305f\u3002",
      "\u6b21\u306e\u6587\uff61", "\u7d42\u308f\u308a"]),
    # Mixed English and Chinese.
    ("Hello world. \u4e2d\u6587\u53e5\u5b50\u3002English again.",
     ["Hello world.", "\u4e2d\u6587\u53e5\u5b50\u3002", "English again."]),
]


@pytest.mark.parametrize("text,expected", ENGLISH)
def test_english(text, expected):
  assert sentence_split.split_sentences(text) == expected


@pytest.mark.parametrize("text,expected", CHINESE_JAPANESE)
def test_chinese_and_japanese(text, expected):
  assert sentence_split.split_sentences(text) == expected


@pytest.mark.parametrize("text,_", ENGLISH + CHINESE_JAPANESE)
def test_nothing_but_whitespace_is_lost(text, _):
  sentences = sentence_split.split_sentences(text)
  assert "".join("".join(sentences).split()) == "".join(text.split())
  assert all(s and s == s.strip() for s in sentences)
