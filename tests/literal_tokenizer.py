# coding=utf-8
"""A plain, slow, literal reading of BEHAVIOUR.md 6.1-6.2 (Google's tokenizer).

Written from the prose, one character at a time, with no caching and no
regular expressions, so that it is easy to check by eye. The tests and the
benchmark compare tokenization.py's fast path against it. It is independent
of tokenization.py (imports nothing from it).
"""

import unicodedata

# 6.1 step 3: the CJK code point ranges, inclusive.
CJK_RANGES = [
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
]

# 6.1 step 6: ASCII code points that count as punctuation, inclusive.
ASCII_PUNCTUATION_RANGES = [(33, 47), (58, 64), (91, 96), (123, 126)]


def to_text(text):
  """6.1 step 1: bytes are decoded as UTF-8 with errors ignored."""
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  return text


def is_whitespace(char):
  """6.1 step 2: " ", tab, newline, carriage return, or category Zs."""
  if char == " " or char == "\t" or char == "\n" or char == "\r":
    return True
  return unicodedata.category(char) == "Zs"


def is_control(char):
  """6.1 step 2: categories Cc and Cf, except tab, newline, carriage return."""
  if char == "\t" or char == "\n" or char == "\r":
    return False
  category = unicodedata.category(char)
  return category == "Cc" or category == "Cf"


def is_punctuation(char):
  """6.1 step 6: the listed ASCII ranges, or any category starting with P."""
  code_point = ord(char)
  for low, high in ASCII_PUNCTUATION_RANGES:
    if low <= code_point <= high:
      return True
  return unicodedata.category(char)[0] == "P"


def is_cjk(code_point):
  """6.1 step 3: whether the code point lies in one of the CJK ranges."""
  for low, high in CJK_RANGES:
    if low <= code_point <= high:
      return True
  return False


def clean_text(text):
  """6.1 step 2: drop NUL, U+FFFD and controls; whitespace becomes " "."""
  output = ""
  for char in text:
    if ord(char) == 0 or ord(char) == 0xFFFD or is_control(char):
      continue
    if is_whitespace(char):
      output += " "
    else:
      output += char
  return output


def space_cjk(text):
  """6.1 step 3: put a space before and after every CJK character."""
  output = ""
  for char in text:
    if is_cjk(ord(char)):
      output += " " + char + " "
    else:
      output += char
  return output


def split_whitespace(text):
  """6.1 step 4: strip() then Python's str.split()."""
  text = text.strip()
  if not text:
    return []
  return text.split()


def strip_accents(token):
  """6.1 step 5: NFD-normalise and drop every character of category Mn."""
  output = ""
  for char in unicodedata.normalize("NFD", token):
    if unicodedata.category(char) != "Mn":
      output += char
  return output


def split_punctuation(token):
  """6.1 step 6: each punctuation character alone; runs of others kept."""
  pieces = []
  current = ""
  for char in token:
    if is_punctuation(char):
      if current:
        pieces.append(current)
        current = ""
      pieces.append(char)
    else:
      current += char
  if current:
    pieces.append(current)
  return pieces


def basic_tokenize(text, do_lower_case=True):
  """6.1 steps 1-7, in order."""
  text = to_text(text)
  text = clean_text(text)
  text = space_cjk(text)
  split_tokens = []
  for token in split_whitespace(text):
    if do_lower_case:
      token = token.lower()
      token = strip_accents(token)
    split_tokens.extend(split_punctuation(token))
  return split_whitespace(" ".join(split_tokens))


def load_vocab_lines(lines):
  """6.2: token = stripped line, id = 0-based line number (later line wins)."""
  vocab = {}
  for index, line in enumerate(lines):
    vocab[line.strip()] = index
  return vocab


def wordpiece_word(word, vocab, unk_token="[UNK]", max_chars=200):
  """6.2: greedy longest-match-first on one word; whole word [UNK] on failure."""
  if len(word) > max_chars:
    return [unk_token]
  pieces = []
  start = 0
  while start < len(word):
    found = None
    end = len(word)
    while end > start:
      candidate = word[start:end]
      if start > 0:
        candidate = "##" + candidate
      if candidate in vocab:
        found = candidate
        break
      end -= 1
    if found is None:
      return [unk_token]
    pieces.append(found)
    start = end
  return pieces


def wordpiece_tokenize(text, vocab):
  """6.2: whitespace-split the text, then WordPiece every word."""
  output = []
  for word in split_whitespace(to_text(text)):
    output.extend(wordpiece_word(word, vocab))
  return output


def full_tokenize(text, vocab, do_lower_case=True):
  """6.2: BasicTokenizer, then WordPiece on each basic token."""
  output = []
  for token in basic_tokenize(text, do_lower_case):
    output.extend(wordpiece_tokenize(token, vocab))
  return output
