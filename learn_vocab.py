# coding=utf-8
"""Learns a WordPiece vocabulary (vocab.txt) from plain text.

Google released no code for this. The vocabulary written here is read by
tokenization.FullTokenizer as it is, and follows the layout of Google's
vocabularies:

  [PAD]                       id 0
  [unused0] ... [unused98]    ids 1-99  (as many as --num_unused allows)
  [UNK] [CLS] [SEP] [MASK]    ids 100-103 (with --num_unused >= 99)
  [unused99] ...              the rest of --num_unused
  single characters           in code point order
  words and ##pieces          most used first

The text is split into words exactly as BERT does (tokenization.BasicTokenizer:
cleaning, lower casing and accent stripping with --do_lower_case, punctuation
and every CJK character split off), the words are counted, and pieces are
learned by byte-pair-encoding style merges over the word counts: every word
starts as its characters (`w ##o ##r ##d`) and the most frequent adjacent pair
is merged until the vocabulary is full. Every character seen (and its ## form,
unless it is punctuation or CJK, which BasicTokenizer always splits off) is in
the vocabulary, so only characters cut for lack of room become [UNK].

A held-out share of the lines (--holdout_fraction) is not learned from; the
script reports the share of [UNK] and the WordPieces per word on it.

For continued pretraining from a released checkpoint, --fill_unused_from
replaces the base vocabulary's [unusedN] lines by the domain's most frequent
words that the base splits or maps to [UNK] (and the characters it lacks),
keeping every other line and id; --extend_from appends such tokens after the
base instead (the embedding table grows). Both report the held-out figures
before and after.

Example:
  python learn_vocab.py --input_file='corpus/*.txt' --output_file=vocab.txt \
    --vocab_size=30522 --do_lower_case=True
  python learn_vocab.py --input_file='clinical/*.txt' \
    --fill_unused_from=uncased_L-12_H-768_A-12/vocab.txt \
    --output_file=clinical_vocab.txt
"""

import collections
import glob
import heapq
import json
import multiprocessing
import os
import re
import time

from absl import flags
from absl import logging

import io_lib
import tokenization
import validation

FLAGS = flags.FLAGS


def define_flags():
  """Defines the command-line flags.

  Called only when run as a script, so that importing this module (tests,
  benchmarks) does not clash with the flags of the other scripts.
  """
  flags.DEFINE_string(
      "input_file", None,
      "Input raw text file (or comma-separated list of files); each element "
      "may be a glob pattern.")

  flags.DEFINE_string("output_file", None, "Where the vocab.txt is written.")

  flags.DEFINE_integer(
      "vocab_size", 30522,
      "Number of lines of the vocabulary (special tokens, [unusedN] slots, "
      "characters and pieces together).")

  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text (and strip accents), as for "
      "uncased models. Use the same value with every other script.")

  flags.DEFINE_integer(
      "num_unused", 994,
      "Number of [unusedN] placeholder tokens (Google's uncased vocab has 994; "
      "they can be renamed later to add domain tokens without changing ids).")

  flags.DEFINE_float(
      "holdout_fraction", 0.01,
      "Share of the input lines (spread evenly) kept out of learning and used "
      "to report [UNK] share and WordPieces per word.")

  flags.DEFINE_integer(
      "min_frequency", 2,
      "A pair of pieces is merged only if it occurs at least this often.")

  flags.DEFINE_integer(
      "num_workers", 0,
      "Processes for splitting the text into words; 0 = one per CPU core.")

  flags.DEFINE_string(
      "stats_file", None,
      "Optional JSON file for the figures reported at the end.")

  flags.DEFINE_string(
      "fill_unused_from", None,
      "A base vocab.txt (e.g. a released checkpoint's): write a vocabulary "
      "of the same size where its [unusedN] lines are replaced by the most "
      "frequent words (and missing characters) of the input that the base "
      "splits into pieces or maps to [UNK]; every other line and id stays, "
      "so the checkpoint stays valid. --vocab_size and --num_unused do not "
      "apply.")

  flags.DEFINE_string(
      "extend_from", None,
      "A base vocab.txt: write it unchanged followed by new tokens chosen as "
      "with --fill_unused_from, up to --vocab_size lines (the model's "
      "embedding table then grows).")


SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_TOKEN = "[PAD]"
UNUSED_BEFORE_SPECIALS = 99
MAX_INPUT_CHARS_PER_WORD = 200
CHUNK_CHARS = 1 << 20


def expand_input_files(input_file):
  """Expands a comma-separated list of files or glob patterns.

  Args:
    input_file: string such as "a.txt,dir/*.txt".

  Returns:
    Sorted list of file paths (each pattern's matches sorted, in order).

  Raises:
    ValueError: a pattern matches no file.
  """
  paths = []
  for pattern in input_file.split(","):
    pattern = pattern.strip()
    if not pattern:
      continue
    matches = sorted(glob.glob(pattern))
    if not matches:
      raise ValueError("--input_file: %r matches no file" % pattern)
    paths.extend(m for m in matches if m not in paths)
  if not paths:
    raise ValueError("--input_file is empty")
  return paths


def read_text(path):
  """Reads a UTF-8 text file.

  Args:
    path: file path.

  Returns:
    The file's text.

  Raises:
    ValueError: the file is not valid UTF-8 (the message names file and line).
  """
  with open(path, "rb") as f:
    data = f.read()
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    line = data.count(b"\n", 0, e.start) + 1
    raise ValueError("%s:%d: not valid UTF-8 (%s)" % (path, line, e.reason))


def is_held_out(line_index, holdout_fraction):
  """Whether line `line_index` (0-based, over all files) is held out.

  Spreads exactly floor(n * holdout_fraction) held-out lines evenly over n.

  Args:
    line_index: int.
    holdout_fraction: float in [0, 1).
  """
  return (int((line_index + 1) * holdout_fraction) >
          int(line_index * holdout_fraction))


def split_text(paths, holdout_fraction):
  """Reads the input and splits it into learning chunks and held-out text.

  Args:
    paths: input files.
    holdout_fraction: see --holdout_fraction.

  Returns:
    (chunks, held_out): chunks is a list of strings of about CHUNK_CHARS
    characters (whole lines) to learn from; held_out a list of lines.
  """
  chunks, held_out = [], []
  current, current_size = [], 0
  line_index = 0
  for path in paths:
    for line in read_text(path).split("\n"):
      if holdout_fraction and is_held_out(line_index, holdout_fraction):
        held_out.append(line)
      else:
        current.append(line)
        current_size += len(line) + 1
        if current_size >= CHUNK_CHARS:
          chunks.append("\n".join(current))
          current, current_size = [], 0
      line_index += 1
  if current:
    chunks.append("\n".join(current))
  return chunks, held_out


_worker_tokenizer = None


def _init_worker(do_lower_case):
  global _worker_tokenizer
  _worker_tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)


def _count_chunk(chunk):
  # BasicTokenizer treats newlines as spaces, so a whole chunk splits into
  # the same words as its lines one by one, with far fewer calls.
  return collections.Counter(_worker_tokenizer.tokenize(chunk))


def count_words(chunks, do_lower_case, num_workers=0):
  """Splits text into BERT's basic tokens and counts them.

  Args:
    chunks: list of strings.
    do_lower_case: as BasicTokenizer.
    num_workers: processes to use; 0 = one per CPU core.

  Returns:
    collections.Counter word -> count.
  """
  num_workers = num_workers or os.cpu_count() or 1
  num_workers = min(num_workers, len(chunks))
  counts = collections.Counter()
  total = sum(len(c) for c in chunks)
  done = 0
  start = time.time()
  if num_workers <= 1:
    _init_worker(do_lower_case)
    results = map(_count_chunk, chunks)
    pool = None
  else:
    pool = multiprocessing.get_context("fork").Pool(
        num_workers, initializer=_init_worker, initargs=(do_lower_case,))
    results = pool.imap(_count_chunk, chunks)
  try:
    for chunk, chunk_counts in zip(chunks, results):
      counts.update(chunk_counts)
      done += len(chunk)
      if len(chunks) > 1:
        logging.info("Split into words: %.1f of %.1f MB (%.0f s)",
                     done / 1e6, total / 1e6, time.time() - start)
  finally:
    if pool is not None:
      pool.close()
      pool.join()
  return counts


def never_continues(char):
  """Whether BasicTokenizer always splits `char` off as a word of its own.

  Such characters (punctuation, CJK) need no ## form.

  Args:
    char: one character.
  """
  return (tokenization._is_punctuation(char) or
          tokenization.BasicTokenizer()._is_chinese_char(ord(char)))


def choose_alphabet(word_counts, budget):
  """Picks the single characters of the vocabulary.

  Args:
    word_counts: dict word -> count.
    budget: number of vocabulary entries available for characters and pieces.

  Returns:
    (chars, dropped): chars is the set of characters kept (each gives the
    token `c` and, unless never_continues(c), `##c`); dropped the number of
    characters left out for lack of room (the most rare ones).
  """
  char_counts = collections.Counter()
  for word, count in word_counts.items():
    for char in word:
      char_counts[char] += count
  kept, used = set(), 0
  ranked = sorted(char_counts.items(), key=lambda kv: (-kv[1], kv[0]))
  for char, _ in ranked:
    cost = 1 if never_continues(char) else 2
    if used + cost > budget:
      break
    kept.add(char)
    used += cost
  return kept, len(char_counts) - len(kept)


def alphabet_tokens(chars):
  """The vocabulary entries for `chars`: `c` for all, then `##c` where needed.

  Args:
    chars: iterable of characters.

  Returns:
    (initial, continuation): two lists sorted by code point.
  """
  ordered = sorted(chars)
  return ordered, ["##" + c for c in ordered if not never_continues(c)]


def merged_token(left, right):
  """The token for the merge of adjacent pieces `left` and `right`."""
  return left + right[2:]


def merge_symbols(symbols, left, right, new):
  """Replaces every adjacent (left, right) in `symbols` by `new`.

  Args:
    symbols: list of pieces of one word.
    left, right: the pair to merge.
    new: merged_token(left, right).

  Returns:
    The new list of pieces.
  """
  out = []
  i, n = 0, len(symbols)
  while i < n:
    if i + 1 < n and symbols[i] == left and symbols[i + 1] == right:
      out.append(new)
      i += 2
    else:
      out.append(symbols[i])
      i += 1
  return out


def _initial_pairs(word_counts, chars, min_frequency):
  """Every word as characters, with its adjacent pairs counted.

  Args:
    word_counts: dict word -> count.
    chars: set of characters of the alphabet.
    min_frequency: pairs seen fewer times stay out of the heap.

  Returns:
    (words, counts, pair_counts, pair_words, heap): words a list of piece
    lists (`w ##o ##r ##d`), counts their counts, pair_counts pair -> count,
    pair_words pair -> set of word indices, heap of (-count, pair).
  """
  words, counts = [], []
  for word in sorted(word_counts):
    if len(word) > MAX_INPUT_CHARS_PER_WORD or len(word) < 2:
      continue
    if any(c not in chars for c in word):
      continue
    words.append([word[0]] + ["##" + c for c in word[1:]])
    counts.append(word_counts[word])
  pair_counts = collections.defaultdict(int)
  pair_words = collections.defaultdict(set)
  for index, symbols in enumerate(words):
    for pair in zip(symbols, symbols[1:]):
      pair_counts[pair] += counts[index]
      pair_words[pair].add(index)
  heap = [(-count, pair) for pair, count in pair_counts.items()
          if count >= min_frequency]
  heapq.heapify(heap)
  return words, counts, pair_counts, pair_words, heap


def _apply_merge(pair, new, words, counts, pair_counts, pair_words):
  """Merges `pair` into `new` in every word holding it; updates the counts.

  Args:
    pair: (left, right).
    new: merged_token(left, right).
    words, counts, pair_counts, pair_words: see _initial_pairs (changed).

  Returns:
    set of the pairs that now contain `new` (to push on the heap).
  """
  left, right = pair
  grown = set()
  for index in pair_words.pop(pair):
    old = words[index]
    updated = merge_symbols(old, left, right, new)
    if len(updated) == len(old):
      continue
    word_count = counts[index]
    for old_pair in zip(old, old[1:]):
      pair_counts[old_pair] -= word_count
    for new_pair in zip(updated, updated[1:]):
      pair_counts[new_pair] += word_count
      if new in new_pair:
        pair_words[new_pair].add(index)
        grown.add(new_pair)
    words[index] = updated
  del pair_counts[pair]
  return grown


def learn_pieces(word_counts, chars, max_new_tokens, min_frequency,
                 known_tokens=()):
  """Learns pieces by merging the most frequent adjacent pair, repeatedly.

  Pair counts are kept up to date incrementally (only the words containing
  the merged pair are touched) and the best pair is found with a heap whose
  stale entries are re-checked when popped; ties go to the smallest pair in
  string order, so the result does not depend on dict or process order.

  Args:
    word_counts: dict word -> count. Words with a character not in `chars` or
      longer than WordpieceTokenizer's limit are not learned from (they become
      [UNK] anyway).
    chars: set of characters of the alphabet.
    max_new_tokens: stop after this many new vocabulary entries.
    min_frequency: do not merge pairs seen fewer times than this.
    known_tokens: tokens already in the vocabulary (a merge that produces one
      of them costs nothing).

  Returns:
    List of new tokens in the order they were learned.
  """
  words, counts, pair_counts, pair_words, heap = _initial_pairs(
      word_counts, chars, min_frequency)
  known = set(known_tokens)
  new_tokens = []
  start = time.time()
  while heap and len(new_tokens) < max_new_tokens:
    negative_count, pair = heapq.heappop(heap)
    count = pair_counts.get(pair, 0)
    if count != -negative_count:
      # Stale entry: counts only ever drop after a pair first appears.
      if count >= min_frequency:
        heapq.heappush(heap, (-count, pair))
      continue
    new = merged_token(*pair)
    if new not in known:
      known.add(new)
      new_tokens.append(new)
      if len(new_tokens) % 2000 == 0:
        logging.info("Learned %d of %d pieces (%.0f s), last %r with count %d",
                     len(new_tokens), max_new_tokens, time.time() - start,
                     new, count)
    for new_pair in _apply_merge(pair, new, words, counts, pair_counts,
                                 pair_words):
      if pair_counts[new_pair] >= min_frequency:
        heapq.heappush(heap, (-pair_counts[new_pair], new_pair))
  return new_tokens


def reserved_tokens(num_unused):
  """[PAD], [unusedN] and the special tokens in Google's order.

  Args:
    num_unused: number of [unusedN] slots.

  Returns:
    List of tokens; [UNK] is at id min(num_unused, 99) + 1.
  """
  before = min(num_unused, UNUSED_BEFORE_SPECIALS)
  tokens = [PAD_TOKEN]
  tokens += ["[unused%d]" % i for i in range(before)]
  tokens += list(SPECIAL_TOKENS)
  tokens += ["[unused%d]" % i for i in range(before, num_unused)]
  return tokens


def count_pieces(word_counts, vocab):
  """Splits words with WordpieceTokenizer and counts pieces, words and UNKs.

  Args:
    word_counts: dict word -> count.
    vocab: dict token -> id.

  Returns:
    (piece_counts, num_words, num_pieces, num_unk): piece_counts is a Counter
    piece -> occurrences weighted by word count.
  """
  tokenizer = tokenization.WordpieceTokenizer(
      vocab=vocab, max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD)
  piece_counts = collections.Counter()
  num_words = num_pieces = num_unk = 0
  for word, count in word_counts.items():
    pieces = tokenizer.tokenize(word)
    num_words += count
    num_pieces += len(pieces) * count
    if pieces == ["[UNK]"]:
      num_unk += count
    for piece in pieces:
      piece_counts[piece] += count
  return piece_counts, num_words, num_pieces, num_unk


def order_pieces(initial_chars, other_tokens, word_counts):
  """Orders the vocabulary after the reserved tokens, as Google's.

  Args:
    initial_chars: single characters, already in code point order.
    other_tokens: ##characters and learned pieces, in learning order.
    word_counts: dict word -> count of the learning text.

  Returns:
    initial_chars followed by other_tokens sorted by how often
    WordpieceTokenizer uses them on the learning text (most used first, ties
    in learning order).
  """
  vocab = {t: i for i, t in enumerate(initial_chars + other_tokens)}
  piece_counts = count_pieces(word_counts, vocab)[0]
  rank = {t: i for i, t in enumerate(other_tokens)}
  ordered = sorted(other_tokens, key=lambda t: (-piece_counts[t], rank[t]))
  return initial_chars + ordered


def build_vocab(word_counts, vocab_size, num_unused, min_frequency=2):
  """Builds the whole vocabulary from word counts.

  Args:
    word_counts: dict word -> count (BasicTokenizer words).
    vocab_size: total number of entries wanted.
    num_unused: number of [unusedN] slots.
    min_frequency: see learn_pieces.

  Returns:
    List of tokens, id = index. Shorter than vocab_size only if the text has
    no more pairs to merge.

  Raises:
    ValueError: vocab_size cannot hold the reserved tokens.
  """
  reserved = reserved_tokens(num_unused)
  budget = vocab_size - len(reserved)
  if budget <= 0:
    raise ValueError(
        "--vocab_size=%d leaves no room after %d reserved tokens "
        "(--num_unused=%d)" % (vocab_size, len(reserved), num_unused))
  chars, dropped = choose_alphabet(word_counts, budget)
  if dropped:
    logging.warning("%d rare characters do not fit into --vocab_size=%d and "
                    "will become [UNK]", dropped, vocab_size)
  initial, continuation = alphabet_tokens(chars)
  logging.info("Alphabet: %d characters, %d ## forms", len(initial),
               len(continuation))
  room = budget - len(initial) - len(continuation)
  known = set(initial) | set(continuation)
  learned = learn_pieces(word_counts, chars, room, min_frequency, known)
  if len(learned) < room:
    logging.warning("Only %d pieces occur at least --min_frequency=%d times: "
                    "the vocabulary has %d entries, not %d", len(learned),
                    min_frequency, vocab_size - room + len(learned), vocab_size)
  return reserved + order_pieces(initial, continuation + learned, word_counts)


def measure(vocab_tokens, lines, do_lower_case):
  """Tokenizes `lines` as FullTokenizer would and reports the figures.

  Args:
    vocab_tokens: list of tokens (id = index).
    lines: list of strings.
    do_lower_case: as BasicTokenizer.

  Returns:
    dict with words, wordpieces, unk_share (share of words that became
    [UNK]) and pieces_per_word.
  """
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  word_counts = collections.Counter(basic.tokenize("\n".join(lines)))
  vocab = {t: i for i, t in enumerate(vocab_tokens)}
  _, num_words, num_pieces, num_unk = count_pieces(word_counts, vocab)
  return {
      "words": num_words,
      "wordpieces": num_pieces,
      "unk_share": num_unk / num_words if num_words else 0.0,
      "pieces_per_word": num_pieces / num_words if num_words else 0.0,
  }


_UNUSED = re.compile(r"\[unused\d+\]$")


def read_vocab_lines(path):
  """The lines of a vocab.txt as they are (without the line ends).

  Args:
    path: file path.

  Returns:
    list of str; line k is token id k.
  """
  lines = read_text(path).split("\n")
  if lines and lines[-1] == "":
    lines.pop()  # the newline ending the last line
  return lines


def domain_candidates(word_counts, base_vocab, min_frequency=2):
  """New vocabulary entries for a domain, most frequent first.

  A candidate is a word (a BasicTokenizer word) that the base vocabulary
  splits into several pieces or maps to [UNK], scored by its count; or a
  character the base lacks (`c` at a word's start, `##c` inside a word),
  scored by the count of the [UNK] words it occurs in. Adding a word makes
  it one piece; adding a character ends [UNK] for the words it spoiled.

  Args:
    word_counts: dict word -> count (of the domain text).
    base_vocab: dict token -> id.
    min_frequency: candidates seen fewer times are left out.

  Returns:
    list of (token, score), score descending, then token order.
  """
  tokenizer = tokenization.WordpieceTokenizer(
      vocab=base_vocab, max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD)
  scores = collections.Counter()
  char_scores = collections.Counter()
  for word, count in word_counts.items():
    if len(word) > MAX_INPUT_CHARS_PER_WORD:
      continue
    pieces = tokenizer.tokenize(word)
    if len(pieces) == 1 and pieces[0] != tokenizer.unk_token:
      continue  # already one token
    scores[word] = count
    if pieces == [tokenizer.unk_token]:
      for position, char in enumerate(word):
        token = char if position == 0 else "##" + char
        if token not in base_vocab:
          char_scores[token] += count
  for token, score in char_scores.items():
    scores[token] = max(scores[token], score)
  ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
  return [(token, score) for token, score in ranked
          if score >= min_frequency]


def fill_unused(base_lines, candidates):
  """Replaces the [unusedN] lines by candidates, in id order.

  Args:
    base_lines: list of str, the base vocabulary.
    candidates: list of (token, score), best first (domain_candidates).

  Returns:
    (lines, added): the new lines (same length) and the tokens placed.
  """
  slots = [i for i, line in enumerate(base_lines)
           if _UNUSED.match(line.strip())]
  lines = list(base_lines)
  added = [token for token, _ in candidates[:len(slots)]]
  for slot, token in zip(slots, added):
    lines[slot] = token
  return lines, added


def extend_vocab(base_lines, candidates, vocab_size):
  """The base lines followed by candidates, up to vocab_size lines.

  Args:
    base_lines: list of str, the base vocabulary.
    candidates: list of (token, score), best first (domain_candidates).
    vocab_size: lines wanted.

  Returns:
    (lines, added).

  Raises:
    ValueError: vocab_size is not above the base's size.
  """
  if vocab_size <= len(base_lines):
    raise ValueError("--vocab_size=%d must be larger than the %d lines of the "
                     "--extend_from vocabulary" % (vocab_size,
                                                   len(base_lines)))
  added = [token for token, _ in candidates[:vocab_size - len(base_lines)]]
  return list(base_lines) + added, added


def _check_case(base_lines, do_lower_case, path):
  """Warns when --do_lower_case does not look like the base's casing."""
  cased = sum(1 for line in base_lines if not line.startswith("[") and
              line != line.lower())
  if do_lower_case and cased > len(base_lines) // 100:
    logging.warning("%s has %d tokens with capitals (a cased vocabulary?) "
                    "but --do_lower_case=True", path, cased)
  if not do_lower_case and not cased:
    logging.warning("%s has no token with a capital (an uncased "
                    "vocabulary?) but --do_lower_case=False", path)


def adapt_vocab(word_counts, held_out, base_path, extend, vocab_size,
                do_lower_case, min_frequency):
  """--fill_unused_from / --extend_from: the new lines and the figures.

  Args:
    word_counts: dict word -> count of the domain text.
    held_out: held-out lines (for the figures), maybe empty.
    base_path: the base vocab.txt.
    extend: True to append (--extend_from), False to fill [unusedN].
    vocab_size: lines wanted when extending.
    do_lower_case: bool.
    min_frequency: see domain_candidates.

  Returns:
    (lines, stats dict).
  """
  base_lines = read_vocab_lines(base_path)
  _check_case(base_lines, do_lower_case, base_path)
  base_vocab = tokenization.load_vocab(base_path)
  candidates = domain_candidates(word_counts, base_vocab, min_frequency)
  if extend:
    lines, added = extend_vocab(base_lines, candidates, vocab_size)
  else:
    lines, added = fill_unused(base_lines, candidates)
    if not any(_UNUSED.match(line.strip()) for line in base_lines):
      logging.warning("%s has no [unusedN] line: nothing to fill", base_path)
  stats = {"base_vocab": base_path, "mode": "extend" if extend else
           "fill_unused", "base_size": len(base_lines),
           "vocab_size": len(lines), "candidates": len(candidates),
           "added": len(added),
           "added_characters": sum(1 for t in added
                                   if len(t) == 1 or len(t) == 3 and
                                   t.startswith("##"))}
  stats["added_words"] = stats["added"] - stats["added_characters"]
  logging.info("Added %d tokens (%d words, %d characters) of %d candidates; "
               "most frequent: %s", len(added), stats["added_words"],
               stats["added_characters"], len(candidates),
               " ".join(added[:20]))
  for when, tokens in (("before", base_lines), ("after", lines)):
    if held_out:
      figures = measure([t.strip() for t in tokens], held_out, do_lower_case)
      stats["held_out_" + when] = figures
      logging.info("Held-out text %s: %d words, %.3f%% [UNK], %.3f "
                   "WordPieces per word", when, figures["words"],
                   100 * figures["unk_share"], figures["pieces_per_word"])
  return lines, stats


def write_lines(path, lines):
  """Writes one item per line to a temporary name, then renames it.

  Args:
    path: destination.
    lines: list of strings.

  Raises:
    validation.OutputError: naming `path` (disk full, ...); no partial file
      is left.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  io_lib.write_text(path, "".join(line + "\n" for line in lines))


def validate_flags():
  """Raises ValueError naming the flag when a value cannot work."""
  if FLAGS.vocab_size <= 0:
    raise ValueError("--vocab_size must be positive, got %d" % FLAGS.vocab_size)
  if FLAGS.num_unused < 0:
    raise ValueError("--num_unused must be >= 0, got %d" % FLAGS.num_unused)
  if not 0.0 <= FLAGS.holdout_fraction < 1.0:
    raise ValueError("--holdout_fraction must be in [0, 1), got %r" %
                     FLAGS.holdout_fraction)
  if FLAGS.min_frequency < 1:
    raise ValueError("--min_frequency must be >= 1, got %d" %
                     FLAGS.min_frequency)
  if FLAGS.fill_unused_from and FLAGS.extend_from:
    raise ValueError("--fill_unused_from and --extend_from: give one or the "
                     "other")
  for name in ("fill_unused_from", "extend_from"):
    path = FLAGS[name].value
    if path and not os.path.isfile(path):
      raise ValueError("--%s=%s: no such file" % (name, path))
  if FLAGS.fill_unused_from and FLAGS["vocab_size"].present:
    raise ValueError("--vocab_size does not apply with --fill_unused_from "
                     "(the vocabulary keeps the base's size)")
  if FLAGS.extend_from:
    base_size = len(read_vocab_lines(FLAGS.extend_from))
    if FLAGS.vocab_size <= base_size:
      raise ValueError("--vocab_size=%d must be larger than the %d lines of "
                       "--extend_from=%s" % (FLAGS.vocab_size, base_size,
                                             FLAGS.extend_from))


def main(argv):
  """Learns the vocabulary; bad flags or input are one-line errors."""
  try:
    learn(argv)
  except validation.UsageError:
    raise
  except ValueError as e:  # bad flags or input: the message says which
    raise validation.UsageError(str(e)) from e


def learn(_):
  """The script's work (see the module docstring)."""
  logging.set_verbosity(logging.INFO)
  validate_flags()
  start = time.time()
  paths = expand_input_files(FLAGS.input_file)
  chunks, held_out = split_text(paths, FLAGS.holdout_fraction)
  logging.info("Read %d files: %.1f MB to learn from, %d lines held out",
               len(paths), sum(len(c) for c in chunks) / 1e6, len(held_out))
  word_counts = count_words(chunks, FLAGS.do_lower_case, FLAGS.num_workers)
  if not word_counts:
    raise ValueError("--input_file: %s holds no words" % FLAGS.input_file)
  logging.info("%d distinct words, %d in all", len(word_counts),
               sum(word_counts.values()))
  base = FLAGS.fill_unused_from or FLAGS.extend_from
  if base:
    vocab, stats = adapt_vocab(word_counts, held_out, base,
                               bool(FLAGS.extend_from), FLAGS.vocab_size,
                               FLAGS.do_lower_case, FLAGS.min_frequency)
  else:
    vocab = build_vocab(word_counts, FLAGS.vocab_size, FLAGS.num_unused,
                        FLAGS.min_frequency)
    stats = {"vocab_size": len(vocab)}
    if held_out:
      stats["held_out"] = measure(vocab, held_out, FLAGS.do_lower_case)
      logging.info(
          "Held-out text: %d words, %.3f%% [UNK], %.3f WordPieces per word",
          stats["held_out"]["words"], 100 * stats["held_out"]["unk_share"],
          stats["held_out"]["pieces_per_word"])
  write_lines(FLAGS.output_file, vocab)
  stats.update(input_files=len(paths), seconds=round(time.time() - start, 1))
  logging.info("Wrote %d tokens to %s in %.1f s", len(vocab),
               FLAGS.output_file, stats["seconds"])
  if FLAGS.stats_file:
    write_lines(FLAGS.stats_file, [json.dumps(stats, indent=2, sort_keys=True)])


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  validation.run_main(main)
