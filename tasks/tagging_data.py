# coding=utf-8
"""Tagging (NER) data: readers, tag schemes, label lists and windowed features.

Files (one per split, UTF-8, a leading BOM ignored):

* "conll": one word per line, its tag in the last whitespace-separated
  column ("EU NNP B-NP B-ORG"), a blank line between sentences, lines whose
  first column is -DOCSTART- skipped. Test files may have one column only.
* "jsonl": one sentence per line, {"tokens": [...], "tags": [...]} ("tags"
  may be left out of test files; other keys are ignored).
* "chars" (Chinese and other character-level data), in either layout:
  - one character per line: the line's first character, whitespace, then
    the tag ("北 B-LOC"; more columns are allowed, the tag is the last one),
    a blank line between sentences; test files may have the character only;
  - one sentence per line: `text<TAB>tags`, the tags separated by spaces,
    one per character of the text, whitespace characters included (they
    count, get a tag, and are predicted "O" because they have no
    WordPiece); test files may have `text` only.
  A file is read in the one-sentence-per-line layout when one of its lines
  is one (text longer than one character before the tab, or, with no tab,
  a line of several characters that are not `char whitespace tag`);
  otherwise in the one-character-per-line layout.

Tags are "O" or `<prefix>-<type>`, the prefix B or I (schemes IOB1, IOB2 =
BIO) or B, I, E, S (IOBES). The scheme is given or detected from the
training file; an I- (or E-) tag that the scheme says cannot start an entity
but that starts one by conlleval's rules is warned about with its file:line.
The label list comes from a label file (its order) or from the training
file ("O" first, then the other tags sorted).

Features: the words are WordPiece-tokenised one by one; a sentence longer
than max_seq_length - 2 pieces is cut into overlapping windows (SQuAD's
doc_stride windows over its pieces); each word is predicted from the window
where its first piece has the most context (SQuAD's max-context rule), so
every word with a piece is predicted exactly once. A word without pieces
(whitespace, control characters) gets no position and is predicted "O".

Errors in the data are validation.DataError (a ValueError) naming the file
and line; bad settings (--tag_scheme, --max_seq_length, --doc_stride) are
validation.UsageError.

No TensorFlow is imported at module level (only record_spec and gs://-style
paths import it).
"""

import collections
import json

from absl import logging

import io_lib
import text_inputs
import tf_example
from tasks import tagging_metrics
from validation import DataError
from validation import UsageError

FORMATS = ("conll", "jsonl", "chars")
SCHEMES = ("iob1", "iob2", "iobes")
# Other accepted spellings of the schemes (BIO is IOB2).
SCHEME_ALIASES = {"bio": "iob2", "iob": "iob2", "bioes": "iobes"}
SCHEME_PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES"}
DOCSTART = "-DOCSTART-"
# The tag of a word that tokenises to no WordPiece (it has no position).
NO_PIECE_TAG = tagging_metrics.OUTSIDE
# Printed one by one; further scheme warnings of a file are only counted.
MAX_LOGGED_WARNINGS = 10


class Sentence(collections.namedtuple(
    "Sentence", ["words", "tags", "source", "lines"])):
  """One sentence of a tagging file.

  Attributes:
    words: list of str (characters for the "chars" format).
    tags: list of str, as long as `words`, or None (a test file without tags).
    source: the file it was read from.
    lines: list of int, the 1-based line of each word.
  """
  __slots__ = ()

  def where(self, index):
    """"file:line" of word `index` (plus its position on a multi-word line)."""
    location = "%s:%d" % (self.source, self.lines[index])
    if len(self.lines) > 1 and self.lines[0] == self.lines[-1]:
      location += " (token %d)" % (index + 1)
    return location


def _read_text(path):
  """The text of a file (plain open, or tf.io.gfile for "scheme://" paths)."""
  if "://" in path:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(path):
      raise FileNotFoundError("%s: no such file" % path)
    with tf.io.gfile.GFile(path, "rb") as f:
      data = f.read()
  else:
    try:
      with open(path, "rb") as f:
        data = f.read()
    except FileNotFoundError:
      raise FileNotFoundError("%s: no such file" % path) from None
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise DataError("%s:%d: not valid UTF-8 (byte 0x%02x: %s)" % (
        path, data.count(b"\n", 0, e.start) + 1, data[e.start],
        e.reason)) from None


def read_lines(path):
  """The lines of a text file, numbered.

  Args:
    path: file path.

  Returns:
    list of (1-based line number, line without its "\\n" / "\\r\\n").

  Raises:
    FileNotFoundError, ValueError (invalid UTF-8): naming the file (and line).
  """
  text = _read_text(path)
  if text.startswith("\ufeff"):
    text = text[1:]
  lines = text.split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  return [(number, line[:-1] if line.endswith("\r") else line)
          for number, line in enumerate(lines, start=1)]


def _resolve_has_tags(has_tags, line_has_tag, where):
  """Whether the file has tags, once a word is read; checks later words.

  Args:
    has_tags: True (tags required), or None before the file's first word,
      then the first word's answer.
    line_has_tag: whether this word's line has a tag.
    where: "file:line" of the word.

  Returns:
    has_tags, True or False.

  Raises:
    ValueError: a word without a tag in a file with tags, or the reverse.
  """
  if has_tags is None or line_has_tag == has_tags:
    return line_has_tag if has_tags is None else has_tags
  if has_tags:
    raise DataError("%s: no tag on this line (each word needs its tag; "
                    "only a test file may have no tags at all)" % where)
  raise DataError("%s: a tag on this line, but the file's first word has "
                  "none (a test file has tags on all its words or on "
                  "none)" % where)


def _sentences_from_word_lines(path, items, has_tags):
  """Groups (line number, word, tag or None) items into Sentences.

  Args:
    path: the file, for Sentence.source and errors.
    items: iterable of (line number, word, tag) for word lines and None for
      a sentence boundary.
    has_tags: True (tags required) or None (the first word decides).

  Returns:
    list of Sentence.
  """
  sentences = []
  words, tags, lines = [], [], []
  for item in list(items) + [None]:
    if item is None:
      if words:
        sentences.append(Sentence(words, tags if has_tags else None, path,
                                  lines))
      words, tags, lines = [], [], []
      continue
    number, word, tag = item
    has_tags = _resolve_has_tags(has_tags, tag is not None,
                                 "%s:%d" % (path, number))
    words.append(word)
    tags.append(tag)
    lines.append(number)
  return sentences


def _conll_items(numbered_lines):
  """(line, word, tag) of CoNLL lines; None at blank and -DOCSTART- lines."""
  for number, line in numbered_lines:
    columns = line.split()
    if not columns or columns[0] == DOCSTART:
      yield None
    else:
      yield number, columns[0], (columns[-1] if len(columns) > 1 else None)


def _is_char_line(line):
  """Whether a line reads as `char`, or `char whitespace ...` (chars layout)."""
  return len(line) == 1 or (len(line) > 1 and line[1].isspace())


def _char_items(numbered_lines):
  """(line, character, tag) of one-character-per-line data; None at breaks."""
  for number, line in numbered_lines:
    if not line.strip() or line.split()[0] == DOCSTART:
      yield None
    else:
      rest = line[1:].split()
      yield number, line[0], (rest[-1] if rest else None)


def _sentence_line(path, number, line, has_tags):
  """One `text<TAB>tags` (or `text`) line as a Sentence.

  Args:
    path, number: the file and line, for errors.
    line: the line.
    has_tags: True (tags required) or None (the first line decides).

  Returns:
    (Sentence, has_tags).
  """
  where = "%s:%d" % (path, number)
  text, tab, tag_text = line.partition("\t")
  has_tags = _resolve_has_tags(has_tags, bool(tab), where)
  if not text:
    raise DataError("%s: no text before the tab" % where)
  if has_tags:
    tags = tag_text.split()
    if len(tags) != len(text):
      raise DataError("%s: %d characters but %d tags (one tag per "
                      "character, whitespace included, tags separated by "
                      "spaces)" % (where, len(text), len(tags)))
  else:
    tags = None
  return Sentence(list(text), tags, path, [number] * len(text)), has_tags


def _read_chars(path, numbered_lines, has_tags):
  """Sentences of a "chars" file (either layout, see the module doc)."""
  content = [(n, line) for n, line in numbered_lines
             if line.strip() and line.split()[0] != DOCSTART]
  per_line = any(
      len(line.partition("\t")[0]) > 1 if "\t" in line else
      not _is_char_line(line) for _, line in content)
  if not per_line:
    return _sentences_from_word_lines(path, _char_items(numbered_lines),
                                      has_tags)
  sentences = []
  for number, line in content:
    sentence, has_tags = _sentence_line(path, number, line, has_tags)
    sentences.append(sentence)
  return sentences


def _json_strings(obj, key, where):
  """obj[key] as a list of strings, or a ValueError naming `where`."""
  value = obj[key]
  if not isinstance(value, list) or not all(isinstance(v, str)
                                            for v in value):
    raise DataError("%s: %r must be a list of strings" % (where, key))
  return value


def _read_jsonl(path, numbered_lines, has_tags):
  """Sentences of a JSON-lines file ({"tokens": [...], "tags": [...]})."""
  sentences = []
  for number, line in numbered_lines:
    if not line.strip():
      continue
    where = "%s:%d" % (path, number)
    try:
      obj = json.loads(line)
    except ValueError as e:
      raise DataError("%s: not a JSON object: %s" % (where, e)) from None
    if not isinstance(obj, dict) or "tokens" not in obj:
      raise DataError('%s: expected {"tokens": [...], "tags": [...]}' %
                      where)
    has_tags = _resolve_has_tags(has_tags, "tags" in obj, where)
    words = _json_strings(obj, "tokens", where)
    if not words:
      raise DataError("%s: no tokens" % where)
    tags = _json_strings(obj, "tags", where) if has_tags else None
    if tags is not None and len(tags) != len(words):
      raise DataError("%s: %d tokens but %d tags" %
                      (where, len(words), len(tags)))
    sentences.append(Sentence(words, tags, path, [number] * len(words)))
  return sentences


def check_tag(tag, where):
  """Raises ValueError naming `where` unless tag is O or B/I/E/S-<type>."""
  prefix, entity_type = tagging_metrics.split_tag(tag)
  if tag != tagging_metrics.OUTSIDE and (prefix not in ("B", "I", "E", "S")
                                         or not entity_type):
    raise DataError("%s: tag %r is neither O nor <prefix>-<type> with the "
                    "prefix B, I, E or S" % (where, tag))


def read_sentences(path, file_format="conll", has_tags=None):
  """Reads a tagging file.

  Args:
    path: the file.
    file_format: "conll", "jsonl" or "chars" (see the module doc).
    has_tags: True (train and dev: every word needs a tag), False (ignore
      tags) or None (test: the first word decides; then all or none).

  Returns:
    list of Sentence (tags None when the file has none).

  Raises:
    ValueError: naming file:line (a word without a tag, a malformed tag or
      line), or the file when it holds no sentence.
  """
  if file_format not in FORMATS:
    raise UsageError("Unknown tagging data format %r (%s)" %
                     (file_format, ", ".join(FORMATS)))
  numbered_lines = read_lines(path)
  read_tags = has_tags is not False
  if not read_tags:
    has_tags = None  # read as a test file; the tags are dropped below
  if file_format == "conll":
    sentences = _sentences_from_word_lines(
        path, _conll_items(numbered_lines), has_tags)
  elif file_format == "jsonl":
    sentences = _read_jsonl(path, numbered_lines, has_tags)
  else:
    sentences = _read_chars(path, numbered_lines, has_tags)
  if not sentences:
    raise DataError("%s: no sentences in this file" % path)
  if not read_tags:
    sentences = [s._replace(tags=None) for s in sentences]
  for sentence in sentences:
    for i, tag in enumerate(sentence.tags or ()):
      check_tag(tag, sentence.where(i))
  return sentences


def read_label_file(path):
  """Label list from a file with one tag per line (its order is kept).

  Args:
    path: the --label_file.

  Returns:
    list of tags.

  Raises:
    ValueError: naming file:line for a malformed or repeated tag, or the
      file when it lists no tag.
  """
  labels = []
  for number, line in read_lines(path):
    tag = line.strip()
    if not tag:
      continue
    where = "%s:%d" % (path, number)
    check_tag(tag, where)
    if tag in labels:
      raise DataError("%s: tag %r is listed twice" % (where, tag))
    labels.append(tag)
  if not labels:
    raise DataError("%s: no tags in the label file" % path)
  return labels


def write_label_file(path, label_list):
  """Writes one tag per line, in order (read back by read_label_file).

  Args:
    path: the output file (written under a temporary name, then renamed).
    label_list: list of tags.
  """
  io_lib.write_text(path, "".join(tag + "\n" for tag in label_list))


def label_list_from_sentences(sentences):
  """"O" first, then the other tags of `sentences` sorted.

  Args:
    sentences: list of Sentence with tags (the training split).

  Returns:
    list of tags; "O" is always included (words without pieces get it).
  """
  tags = set()
  for sentence in sentences:
    tags.update(sentence.tags or ())
  tags.discard(tagging_metrics.OUTSIDE)
  return [tagging_metrics.OUTSIDE] + sorted(tags)


def _tag_parts(tags):
  """[(prefix, type)] of tags."""
  return [tagging_metrics.split_tag(tag) for tag in tags]


def _scheme_evidence(sentences):
  """(has E-/S- tags, entities started by I-, by B- after another tag)."""
  has_es = False
  i_starts = b_starts_after_other = 0
  for sentence in sentences:
    prev_prefix, prev_type = tagging_metrics.OUTSIDE, ""
    for prefix, entity_type in _tag_parts(sentence.tags or ()):
      has_es = has_es or prefix in ("E", "S")
      if prefix == "I" and tagging_metrics.chunk_starts(
          prev_prefix, prefix, prev_type, entity_type):
        i_starts += 1
      # IOB1 uses B- only between two entities of the same type.
      if prefix == "B" and not (prev_prefix in ("B", "I") and
                                prev_type == entity_type):
        b_starts_after_other += 1
      prev_prefix, prev_type = prefix, entity_type
  return has_es, i_starts, b_starts_after_other


def detect_scheme(sentences):
  """The tag scheme of tagged sentences.

  Args:
    sentences: list of Sentence (the training split).

  Returns:
    "iobes" when an E- or S- tag occurs; else "iob1" when entities start
    with I- and B- is only used between two entities of the same type;
    else "iob2".
  """
  has_es, i_starts, b_starts_after_other = _scheme_evidence(sentences)
  if has_es:
    return "iobes"
  if i_starts and not b_starts_after_other:
    return "iob1"
  return "iob2"


def resolve_scheme(scheme, sentences):
  """The canonical scheme from a flag value ("auto"/None: detected).

  Args:
    scheme: None, "auto", or one of SCHEMES / SCHEME_ALIASES (any case).
    sentences: the training split (for detection).

  Returns:
    "iob1", "iob2" or "iobes".
  """
  if scheme is None or scheme.lower() == "auto":
    detected = detect_scheme(sentences)
    logging.info("Tag scheme: %s (detected from %s)", detected.upper(),
                 sentences[0].source if sentences else "no data")
    return detected
  name = SCHEME_ALIASES.get(scheme.lower(), scheme.lower())
  if name not in SCHEMES:
    raise UsageError("--tag_scheme=%s: unknown (auto, bio, iob1, iob2, "
                     "iobes)" % scheme)
  return name


def scheme_warnings(sentence, scheme):
  """Tags of a sentence that break `scheme`, with conlleval's reading.

  Under IOB2 and IOBES an entity starts with B- (or S-); an I- (IOBES: or
  E-) tag after O, after another type or after a closed entity starts one
  all the same in conlleval's reading. Under IOBES a B- or I- tag must also
  be followed by I- or E- of its type.

  Args:
    sentence: a Sentence with tags.
    scheme: "iob1", "iob2" or "iobes".

  Returns:
    list of "file:line: ..." messages (empty under IOB1).
  """
  if scheme == "iob1" or not sentence.tags:
    return []
  messages = []
  parts = _tag_parts(sentence.tags) + [(tagging_metrics.OUTSIDE, "")]
  prev_prefix, prev_type = tagging_metrics.OUTSIDE, ""
  for i, (prefix, entity_type) in enumerate(parts[:-1]):
    if prefix in ("I", "E") and tagging_metrics.chunk_starts(
        prev_prefix, prefix, prev_type, entity_type):
      messages.append(
          "%s: %s after %s starts an entity (conlleval reads it as "
          "B-%s); %s starts every entity with B-" % (
              sentence.where(i), sentence.tags[i],
              sentence.tags[i - 1] if i else "the sentence start",
              entity_type, scheme.upper()))
    next_prefix, next_type = parts[i + 1]
    if scheme == "iobes" and prefix in ("B", "I") and (
        next_prefix not in ("I", "E") or next_type != entity_type):
      messages.append("%s: %s is not followed by I-%s or E-%s (IOBES ends "
                      "every entity with E- or S-)" % (
                          sentence.where(i), sentence.tags[i], entity_type,
                          entity_type))
    prev_prefix, prev_type = prefix, entity_type
  return messages


def _check_sentence_tags(sentence, label_set, scheme):
  """Raises for a tag outside the label list or the scheme's prefixes."""
  allowed = SCHEME_PREFIXES[scheme]
  for i, tag in enumerate(sentence.tags):
    if tag not in label_set:
      raise DataError(
          "%s: unknown tag %r (tags: %s; list every tag in a --label_file "
          "when dev or test data has tags the training data lacks)" % (
              sentence.where(i), tag, ", ".join(sorted(label_set))))
    prefix = tagging_metrics.split_tag(tag)[0]
    if tag != tagging_metrics.OUTSIDE and prefix not in allowed:
      raise DataError("%s: tag %r is not in the %s scheme (prefixes %s)" %
                      (sentence.where(i), tag, scheme.upper(),
                       ", ".join(allowed)))


def check_sentences(sentences, label_list, scheme):
  """Checks a split's tags; warns (file:line) where they break the scheme.

  Args:
    sentences: list of Sentence (tagless sentences are skipped).
    label_list: list of tags.
    scheme: "iob1", "iob2" or "iobes".

  Returns:
    list of the scheme warnings (the first MAX_LOGGED_WARNINGS are logged
    one by one, the rest counted in one more warning).

  Raises:
    ValueError: naming file:line for a tag not in `label_list` or whose
      prefix the scheme does not have.
  """
  label_set = set(label_list)
  warnings = []
  for sentence in sentences:
    if sentence.tags is None:
      continue
    _check_sentence_tags(sentence, label_set, scheme)
    warnings.extend(scheme_warnings(sentence, scheme))
  for message in warnings[:MAX_LOGGED_WARNINGS]:
    logging.warning("%s", message)
  if len(warnings) > MAX_LOGGED_WARNINGS:
    logging.warning("%s: %d more tags break the %s scheme",
                    sentences[0].source, len(warnings) - MAX_LOGGED_WARNINGS,
                    scheme.upper())
  return warnings


def read_split(path, file_format, label_list, scheme, has_tags=True):
  """Reads and checks one split: read_sentences + check_sentences.

  Args:
    path, file_format, has_tags: as read_sentences (train and dev: True;
      test: None).
    label_list: list of tags; scheme: a canonical scheme name.

  Returns:
    list of Sentence.
  """
  sentences = read_sentences(path, file_format, has_tags=has_tags)
  check_sentences(sentences, label_list, scheme)
  return sentences


# SentencePiece's word-start mark. Alone, before the pieces of a word its
# vocabulary has no "\u2581word" piece for ("Hello" -> "\u2581", "H", "el",
# "lo"; every Chinese character in ALBERT's vocabularies), it says nothing
# of the word, so the word's tag goes on the piece after it.
SENTENCEPIECE_WORD_START = "\u2581"


def tokenize_words(tokenizer, words):
  """WordPieces of a list of words, with the maps between the two.

  Args:
    tokenizer: has tokenize(text) -> list of pieces.
    words: list of str.

  Returns:
    (pieces, piece_to_word, word_to_first_piece): list of str; list of int,
    the word index of each piece; list of int, the index of the piece that
    carries each word's tag, -1 for a word that tokenises to nothing: its
    first piece (text_inputs.tokenize_words), or the second when the first
    is a lone SentencePiece word-start mark.
  """
  pieces, piece_to_word, word_to_first = text_inputs.tokenize_words(
      tokenizer, words)[:3]
  for word, first in enumerate(word_to_first):
    if (first >= 0 and pieces[first] == SENTENCEPIECE_WORD_START and
        first + 1 < len(pieces) and piece_to_word[first + 1] == word):
      word_to_first[word] = first + 1
  return pieces, piece_to_word, word_to_first


TaggingFeature = collections.namedtuple("TaggingFeature", [
    "sentence_index", "window_index", "tokens", "input_ids", "input_mask",
    "segment_ids", "label_ids", "label_weights", "word_ids"])
TaggingFeature.__doc__ = """One window of a sentence, padded to max_seq_length.

Attributes:
  sentence_index: index of the sentence in its split.
  window_index: index of this window in the sentence.
  tokens: [CLS] pieces [SEP] (unpadded), for logging.
  input_ids, input_mask, segment_ids: list of int [max_seq_length] (segment
    ids all 0).
  label_ids: list of int [max_seq_length]: the word's tag id at the first
    piece of every word that starts in this window (0 in a file without
    tags), -1 everywhere else ([CLS], [SEP], later pieces, padding). So
    `label_ids >= 0` marks the window's words (the CRF runs over them).
  label_weights: list of float [max_seq_length]: 1.0 at the first pieces of
    the words this window predicts (max context), 0.0 elsewhere; every word
    with a piece has weight 1.0 in exactly one window of its sentence. Use
    them to weight the loss (each word counted once), the metrics, and to
    read predictions.
  word_ids: list of int [max_seq_length]: the word index (in the sentence)
    of each piece, -1 for [CLS], [SEP] and padding.
"""


def _window_feature(tokenizer, pieces, piece_to_word, is_first, tag_ids,
                    window, window_predicts, max_seq_length):
  """The padded arrays of one window (see TaggingFeature).

  Args:
    tokenizer: has convert_tokens_to_ids.
    pieces, piece_to_word: the sentence's pieces and their words.
    is_first: list of bool per piece: the first piece of its word.
    tag_ids: list of int per word.
    window: the Window.
    window_predicts: list of bool per piece: this window is its best one.
    max_seq_length: padded length.

  Returns:
    (tokens, input_ids, input_mask, label_ids, label_weights, word_ids).
  """
  span = range(window.start, window.start + window.length)
  # [CLS] pieces [SEP], padded (the window fits: no truncation).
  packed = text_inputs.pack_inputs(tokenizer, [pieces[p] for p in span], None,
                                   max_seq_length)
  tokens = packed.tokens
  label_ids = [-1] + [tag_ids[piece_to_word[p]] if is_first[p] else -1
                      for p in span] + [-1]
  label_weights = [0.0] + [1.0 if is_first[p] and window_predicts[p] else 0.0
                           for p in span] + [0.0]
  word_ids = [-1] + [piece_to_word[p] for p in span] + [-1]
  padding = max_seq_length - len(tokens)
  return (tokens, packed.input_ids, packed.input_mask,
          label_ids + [-1] * padding, label_weights + [0.0] * padding,
          word_ids + [-1] * padding)


def sentence_features(sentence, sentence_index, tokenizer, label_map,
                      max_seq_length, doc_stride):
  """The TaggingFeatures (one per window) of one sentence.

  Args:
    sentence: a Sentence (tags None: placeholder tag id 0).
    sentence_index: its index in the split.
    tokenizer: has tokenize(text) and convert_tokens_to_ids(tokens).
    label_map: dict tag -> id.
    max_seq_length: length of every feature (pieces + [CLS] + [SEP]).
    doc_stride: distance between the starts of consecutive windows, in
      pieces.

  Returns:
    list of TaggingFeature; empty when no word has a piece.
  """
  pieces, piece_to_word, word_to_first = tokenize_words(tokenizer,
                                                        sentence.words)
  tag_ids = [0] * len(sentence.words)
  for i, tag in enumerate(sentence.tags or ()):
    if tag not in label_map:
      raise DataError("%s: unknown tag %r" % (sentence.where(i), tag))
    tag_ids[i] = label_map[tag]
  is_first = [word_to_first[w] == p for p, w in enumerate(piece_to_word)]
  windows = text_inputs.sliding_windows(len(pieces), max_seq_length - 2,
                                        doc_stride)
  best = text_inputs.best_windows(windows, len(pieces))
  features = []
  for index, window in enumerate(windows):
    arrays = _window_feature(tokenizer, pieces, piece_to_word, is_first,
                             tag_ids, window, [b == index for b in best],
                             max_seq_length)
    tokens, input_ids, input_mask, label_ids, label_weights, word_ids = arrays
    features.append(TaggingFeature(
        sentence_index=sentence_index, window_index=index, tokens=tokens,
        input_ids=input_ids, input_mask=input_mask,
        segment_ids=[0] * max_seq_length, label_ids=label_ids,
        label_weights=label_weights, word_ids=word_ids))
  return features


def convert_sentences_to_features(sentences, tokenizer, label_list,
                                  max_seq_length, doc_stride):
  """Yields the TaggingFeatures of all sentences, in order.

  Args:
    sentences: list of Sentence.
    tokenizer: has tokenize(text) and convert_tokens_to_ids(tokens).
    label_list: list of tags (ids are their positions).
    max_seq_length: length of every feature; at least 3.
    doc_stride: window stride in pieces (>= 1).
  """
  if max_seq_length < 3:
    raise UsageError("--max_seq_length=%d leaves no room for a word next to "
                     "[CLS] and [SEP]" % max_seq_length)
  if doc_stride < 1:
    raise UsageError("--doc_stride=%d must be >= 1" % doc_stride)
  label_map = {tag: i for i, tag in enumerate(label_list)}
  for index, sentence in enumerate(sentences):
    for feature in sentence_features(sentence, index, tokenizer, label_map,
                                     max_seq_length, doc_stride):
      yield feature


def log_feature(feature):
  """Logs one feature in detail (Google's runners log their first ones)."""
  logging.info("*** Example ***")
  logging.info("sentence_index: %d, window_index: %d", feature.sentence_index,
               feature.window_index)
  logging.info("tokens: %s", " ".join(feature.tokens))
  for name in ("input_ids", "input_mask", "label_ids", "label_weights",
               "word_ids"):
    values = getattr(feature, name)[:len(feature.tokens)]
    logging.info("%s: %s", name, " ".join("%g" % v for v in values))


# Record features, in the order they are written (name, is_float).
RECORD_FEATURES = (("input_ids", False), ("input_mask", False),
                   ("segment_ids", False), ("label_ids", False),
                   ("label_weights", True), ("word_ids", False),
                   ("sentence_index", False))


def feature_record(feature):
  """A TaggingFeature as a serialized tf.train.Example (bytes).

  Features: input_ids, input_mask, segment_ids, label_ids, word_ids (int64
  [max_seq_length]), label_weights (float [max_seq_length]), sentence_index
  (int64 [1]).
  """
  values = feature._asdict()
  values["sentence_index"] = [feature.sentence_index]
  return tf_example.serialize_example(
      [(name, values[name], is_float) for name, is_float in RECORD_FEATURES])


def record_spec(max_seq_length):
  """name -> tf.io.FixedLenFeature of the records (for decoding).

  Args:
    max_seq_length: the features' length.

  Returns:
    dict for tf.io.parse_single_example (ints as int64, weights float32).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  spec = {}
  for name, is_float in RECORD_FEATURES:
    length = 1 if name == "sentence_index" else max_seq_length
    spec[name] = tf.io.FixedLenFeature([length],
                                       tf.float32 if is_float else tf.int64)
  return spec


def _scalar(value):
  """An int from a scalar or a one-element sequence / array."""
  try:
    return int(value)
  except TypeError:
    return int(value[0])


def _predicted_positions(prediction):
  """(word index, tag id) at the positions one window prediction predicts."""
  word_ids = prediction["word_ids"]
  tag_ids = prediction["tag_ids"]
  return [(int(word_ids[i]), int(tag_ids[i]))
          for i, weight in enumerate(prediction["label_weights"])
          if weight > 0]


def word_tags_from_predictions(sentences, predictions, label_list,
                               tokenizer):
  """Each word's predicted tag, from per-window predictions.

  Args:
    sentences: list of Sentence (the split the features were made from).
    predictions: iterable of mappings, one per window in any order, with
      "sentence_index" (int or [1]), "word_ids" [max_seq_length],
      "label_weights" [max_seq_length] (as in the feature) and "tag_ids"
      [max_seq_length] (predicted tag ids; read only where the weight is
      positive).
    label_list: list of tags.
    tokenizer: the features' tokenizer, to tell the words without pieces
      (predicted NO_PIECE_TAG) from words whose window is missing.

  Returns:
    list (per sentence) of lists of tags, one per word: the prediction at
    the word's first piece in its max-context window; NO_PIECE_TAG for a
    word without pieces.

  Raises:
    ValueError: a word predicted twice, or a word with pieces not predicted
      (a window's prediction is missing).
  """
  tags = [[None] * len(s.words) for s in sentences]
  for prediction in predictions:
    sentence_index = _scalar(prediction["sentence_index"])
    row = tags[sentence_index]
    for word, tag_id in _predicted_positions(prediction):
      if row[word] is not None:
        raise ValueError("%s: word %r is predicted twice" % (
            sentences[sentence_index].where(word),
            sentences[sentence_index].words[word]))
      row[word] = label_list[tag_id]
  for sentence, row in zip(sentences, tags):
    _fill_unpredicted(sentence, row, tokenizer)
  return tags


def _fill_unpredicted(sentence, row, tokenizer):
  """Sets NO_PIECE_TAG in `row` for the words without pieces.

  Args:
    sentence: a Sentence.
    row: list of its predicted tags, None where no window predicted a word;
      changed in place.
    tokenizer: the features' tokenizer.

  Raises:
    ValueError: a word with pieces has no prediction.
  """
  if None not in row:
    return
  word_to_first = tokenize_words(tokenizer, sentence.words)[2]
  for word, tag in enumerate(row):
    if tag is None:
      if word_to_first[word] >= 0:
        raise ValueError("%s: word %r has no prediction (a window of its "
                         "sentence is missing from the predictions)" %
                         (sentence.where(word), sentence.words[word]))
      row[word] = NO_PIECE_TAG
