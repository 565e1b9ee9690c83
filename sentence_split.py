# coding=utf-8
"""Rule-based sentence splitting for English-like and Chinese/Japanese text.

create_pretraining_data.py's `--input_format=lines` and `jsonl` give one
document per line (or JSON object); BERT's pairs and packing work on
sentences, so each document is cut here. The rules, in order:

* A line break always ends a sentence (a paragraph break in JSON text).
* Chinese/Japanese stops `。！？；｡` (a run of them, then any closing quotes
  or brackets such as `”」』）】》`) always end a sentence: no space follows
  them in CJK text.
* `.`, `!`, `?`, `...` and `…` (a run of them, then closing quotes or
  brackets) end a sentence when whitespace follows and the next word does not
  start with a lower-case letter or with `,;:` (so "Wait... what" and
  '"Stop!" he said' stay whole), or when a CJK character follows directly
  after `!`, `?`, `…`, or after a `.` written after a CJK character.
* A single `.` followed by a space and a capital does not end a sentence
  after a known abbreviation that (almost) never ends one (`Mr.`, `Dr.`,
  `e.g.`, `Fig.`, `No.`, `Jan.` ...), after an initial (`J. R. R. Tolkien`)
  or after a word with inner dots (`U.S. Army`, `Ph.D. Thesis`).
* Decimals, versions and addresses (`3.14`, `v1.2`, `example.com`) are never
  cut: a `.` needs whitespace or CJK text after it.

Known limits (what a larger system would add): text without capitals
(already lower-cased) is only cut at line breaks, `!`, `?` and CJK stops; an
initial or dotted abbreviation that really ends a sentence ("... the U.S.
The next ...") is not cut.

Libraries compared on tests/test_sentence_split.py's cases and 1 MB of
English (README, create_pretraining_data.py section): sentencex 1.0.32
splits 23 of the 27 as written there at 18 MB/s, pysbd 0.3.4 21 at 0.06
MB/s; these rules split all 27 at about 50 MB/s. Speed matters: splitting
runs in the one process that feeds the tokenizing workers. No dependency is
added.
"""

import re

# Closing quotes and brackets that stay with the sentence they end.
_CLOSERS = "\"'\u201d\u2019\u00bb\u203a)]}\u300d\u300f\uff09\u3011\u3015\u300b\u3009\u3017\uff3d\uff5d"
# Opening quotes and brackets that may start a sentence.
_OPENERS = "\"'\u201c\u2018\u00ab\u2039([{\u300c\u300e\uff08\u3010\u3014\u300a\u3008\u3016\uff3b\uff5b"
# CJK ideographs (BERT's ranges), kana and Hangul: scripts written without
# spaces between sentences.
_CJK = ("\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
        "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U0002f800-\U0002fa1f")

# Two scans (each pattern starts with a character class, which keeps the
# scan fast): CJK stops, and western stops followed by a space or CJK text.
_CJK_STOPS = re.compile(
    r"[\u3002\uff01\uff1f\uff1b\uff61]+[%s]*" % re.escape(_CLOSERS))
_WESTERN_STOPS = re.compile(
    r"[.!?\u2026][.!?\u2026]*[%s]*(?=\s|[%s])" % (re.escape(_CLOSERS), _CJK))
_IS_CJK = re.compile(r"[%s]" % _CJK)
_NEXT_WORD = re.compile(r"\s*[%s]*(.?)" % re.escape(_OPENERS))

# Abbreviations after which a "." is (almost) never the end of a sentence,
# lower-cased. Words that often end sentences too (etc., Inc., Jr.) are not
# here: after them a capital starts a new sentence.
ABBREVIATIONS = frozenset("""
mr mrs ms mx dr prof rev fr sr sra srta hon gen col lt maj capt cpt sgt cmdr
adm gov sen rep pres supt insp det st mt messrs mme mlle
e.g i.e cf vs viz al approx ca esp incl resp dept univ assn mfg
""".split())
# Abbreviations that end no sentence when a number follows ("No. 5",
# "Fig. 3", "Jan. 12"), but are also words ("the answer is no. Then").
ABBREVIATIONS_BEFORE_NUMBERS = frozenset("""
no nos vol vols pp fig figs eq eqs eqn ch chap sec secs art arts para tab
ref refs jan feb mar apr jun jul aug sep sept oct nov dec
mon tue tues wed thu thur thurs fri sat sun
""".split())


def _ends_with_abbreviation(text, stop, following):
  """Whether the "." at text[stop] ends an abbreviation, initial or acronym.

  Args:
    text: str.
    stop: index of a "." in text.
    following: the first character of the next word.
  """
  start = stop
  while start > 0 and not text[start - 1].isspace():
    start -= 1
  word = text[start:stop].lstrip(_OPENERS)
  if not word:
    return False
  if len(word) == 1 and word.isalpha():
    return True  # an initial
  if "." in word and word.replace(".", "").isalpha():
    return True  # U.S, e.g, Ph.D
  word = word.lower()
  return word in ABBREVIATIONS or (following.isdigit() and
                                   word in ABBREVIATIONS_BEFORE_NUMBERS)


def _is_boundary(text, match):
  """Whether a western stop ends a sentence.

  Args:
    text: str.
    match: a match of _WESTERN_STOPS.
  """
  end = match.end()
  stops = match.group().rstrip(_CLOSERS)
  if end < len(text) and not text[end].isspace():  # a CJK character
    return stops[-1] in "!?\u2026" or bool(
        match.start() and _IS_CJK.match(text, match.start() - 1))
  following = _NEXT_WORD.match(text, end).group(1)
  if not following:
    return True
  if following.islower() or following in ",;:":
    return False
  if stops == "." and _ends_with_abbreviation(text, match.start(),
                                            following):
    return False
  return True


def split_line(line):
  """Splits one line of text (no line breaks) into sentences.

  Args:
    line: str.

  Returns:
    list of str, each stripped and non-empty, in order; their concatenation
    is `line` without some whitespace.
  """
  ends = [m.end() for m in _WESTERN_STOPS.finditer(line)
          if _is_boundary(line, m)]
  if not line.isascii():
    cjk_ends = [m.end() for m in _CJK_STOPS.finditer(line)]
    if cjk_ends:
      ends = sorted(set(ends + cjk_ends))
  sentences = []
  start = 0
  for end in ends + [len(line)]:
    sentence = line[start:end].strip()
    if sentence:
      sentences.append(sentence)
    start = end
  return sentences


def split_sentences(text):
  """Splits text into sentences: at line breaks, then by split_line.

  Args:
    text: str.

  Returns:
    list of str, each stripped and non-empty.
  """
  if "\n" not in text and "\r" not in text:
    return split_line(text)
  sentences = []
  for line in text.splitlines():
    sentences.extend(split_line(line))
  return sentences
