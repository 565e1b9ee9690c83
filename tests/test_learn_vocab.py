# coding=utf-8
"""Tests of learn_vocab.py: layout, FullTokenizer use, coverage, determinism."""

import collections
import json
import os
import subprocess
import sys

import pytest
from pydoc_data import topics

from conftest import ROOT, fixture_path
import learn_vocab
import tokenization

# A short Chinese text written for these tests (a few plain sentences about
# the weather, a library and learning), mixed with some English.
CHINESE_TEXT = """\
今天天气很好，我们一起去公园散步吧。
图书馆里有很多书，学生们安静地读书和写字。
学习一门新的语言需要时间，也需要耐心。
他说：“明天早上八点，我们在火车站见面。”
这个城市的春天很美，到处都是花和绿树。
The museum opened in 1998 and 博物馆 has three floors.
我喜欢喝茶，我的朋友喜欢喝咖啡。
老师问我们：你们为什么想学习计算机科学？
"""


def naive_learn_pieces(word_counts, max_new_tokens, min_frequency):
  """The merge algorithm of learn_vocab.learn_pieces, written the slow way.

  Recounts every pair of every word at each step and takes the most frequent
  (ties: the smallest pair in string order). Used as the reference for the
  fast incremental version (here and in benchmarks/learn_vocab.py).

  Args:
    word_counts: dict word -> count.
    max_new_tokens: number of new tokens wanted.
    min_frequency: smallest pair count that is merged.

  Returns:
    List of new tokens in learning order.
  """
  words = {}
  for word, count in word_counts.items():
    if 2 <= len(word) <= 200:
      words[tuple([word[0]] + ["##" + c for c in word[1:]])] = count
  known = set(s for symbols in words for s in symbols)
  new_tokens = []
  while len(new_tokens) < max_new_tokens:
    pairs = collections.Counter()
    for symbols, count in words.items():
      for pair in zip(symbols, symbols[1:]):
        pairs[pair] += count
    if not pairs:
      break
    best = min(pairs, key=lambda p: (-pairs[p], p))
    if pairs[best] < min_frequency:
      break
    token = best[0] + best[1][2:]
    if token not in known:
      known.add(token)
      new_tokens.append(token)
    merged = {}
    for symbols, count in words.items():
      out, i = [], 0
      while i < len(symbols):
        if symbols[i:i + 2] == best:
          out.append(token)
          i += 2
        else:
          out.append(symbols[i])
          i += 1
      merged[tuple(out)] = count
    words = merged
  return new_tokens


def topic_lines():
  """Real English text on every Python install: pydoc's topic pages."""
  lines = []
  for name in sorted(topics.topics):
    lines.extend(topics.topics[name].splitlines())
    lines.append("")
  return lines


def write(path, lines):
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
  return str(path)


def run_cli(*args):
  """Runs learn_vocab.py as a user would; returns the completed process."""
  return subprocess.run([sys.executable, os.path.join(ROOT, "learn_vocab.py")]
                        + list(args), cwd=ROOT, capture_output=True,
                        text=True, timeout=300)


def read_vocab(path):
  with open(path, encoding="utf-8") as f:
    return [line.rstrip("\n") for line in f]


@pytest.fixture(scope="module")
def english_vocab(tmp_path_factory):
  """A vocab learned by the command line from 90% of pydoc's topics.

  Returns (vocab_path, stats, held-out lines per --holdout_fraction=0.1,
  input_file).
  """
  tmp = tmp_path_factory.mktemp("english")
  lines = topic_lines()
  input_file = write(tmp / "topics.txt", lines)
  vocab_path = str(tmp / "vocab.txt")
  stats_path = str(tmp / "stats.json")
  result = run_cli("--input_file=" + input_file, "--output_file=" + vocab_path,
                   "--vocab_size=4000", "--holdout_fraction=0.1",
                   "--stats_file=" + stats_path)
  assert result.returncode == 0, result.stderr
  with open(stats_path) as f:
    stats = json.load(f)
  # --holdout_fraction=0.1 holds out lines 9, 19, 29, ... (0-based).
  return vocab_path, stats, lines[9::10], input_file


def test_layout_matches_googles_reserved_tokens(english_vocab, tmp_path):
  vocab_path = str(tmp_path / "vocab.txt")
  result = run_cli("--input_file=" + english_vocab[3], "--output_file=" +
                   vocab_path, "--vocab_size=1500", "--num_unused=994")
  assert result.returncode == 0, result.stderr
  ours = read_vocab(vocab_path)
  google = read_vocab(fixture_path("vocab_uncased.txt"))
  # [PAD], [unused0..98], [UNK], [CLS], [SEP], [MASK], [unused99..993].
  assert ours[:999] == google[:999]


def test_special_ids_and_full_tokenizer(english_vocab):
  tokenizer = tokenization.FullTokenizer(english_vocab[0], do_lower_case=True)
  vocab = tokenizer.vocab
  assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [
      0, 100, 101, 102, 103]
  assert vocab["[unused0]"] == 1 and vocab["[unused98]"] == 99
  assert vocab["[unused99]"] == 104 and vocab["[unused993]"] == 998
  tokens = tokenizer.tokenize("The assignment statement binds names.")
  assert "[UNK]" not in tokens
  ids = tokenizer.convert_tokens_to_ids(tokens)
  assert tokenizer.convert_ids_to_tokens(ids) == tokens


def test_size_unique_and_order(english_vocab):
  tokens = read_vocab(english_vocab[0])
  assert len(tokens) == 4000
  assert len(set(tokens)) == len(tokens)
  assert all(t and t == t.strip() for t in tokens)
  # After the reserved block: single characters in code point order, then
  # longer tokens.
  after = tokens[999:]
  chars = [t for t in after if len(t) == 1]
  assert after[:len(chars)] == sorted(chars)
  assert all(len(t) > 1 for t in after[len(chars):])
  # Every character of the text and its ## form (where it can follow another
  # character) is there, so nothing common is [UNK].
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  seen = set("".join(basic.tokenize("\n".join(topic_lines()))))
  assert seen <= set(chars)
  letters = [c for c in seen if c.isalnum()]
  assert letters and all("##" + c in tokens for c in letters)


def held_out_counts(vocab_path, lines):
  """(words, WordPieces, [UNK] words) of `lines`, counted with FullTokenizer.
  """
  tokenizer = tokenization.FullTokenizer(vocab_path, do_lower_case=True)
  words = unk = pieces = 0
  for line in lines:
    for word in tokenizer.basic_tokenizer.tokenize(line):
      split = tokenizer.wordpiece_tokenizer.tokenize(word)
      words += 1
      pieces += len(split)
      unk += split == ["[UNK]"]
  return words, pieces, unk


def test_held_out_unk_share_and_pieces(english_vocab):
  vocab_path, stats, held_out, _ = english_vocab
  words, pieces, unk = held_out_counts(vocab_path, held_out)
  assert words > 5000
  assert unk / words < 0.005
  assert pieces / words < 1.3
  # The figures the script reports are the same counts.
  assert stats["held_out"]["words"] == words
  assert stats["held_out"]["wordpieces"] == pieces
  assert stats["held_out"]["unk_share"] == pytest.approx(unk / words)
  assert stats["vocab_size"] == 4000


def test_chinese_every_character_in_vocab(tmp_path):
  input_file = write(tmp_path / "zh.txt", CHINESE_TEXT.splitlines() * 3)
  vocab_path = str(tmp_path / "vocab.txt")
  result = run_cli("--input_file=" + input_file, "--output_file=" +
                   vocab_path, "--vocab_size=600", "--num_unused=10",
                   "--holdout_fraction=0", "--do_lower_case=False")
  assert result.returncode == 0, result.stderr
  tokens = read_vocab(vocab_path)
  cjk = set(c for c in CHINESE_TEXT if 0x4E00 <= ord(c) <= 0x9FFF)
  assert len(cjk) > 80
  assert cjk <= set(tokens)
  # BasicTokenizer always splits CJK characters off: no ## forms for them.
  assert not any(t.startswith("##") and t[2:] in cjk for t in tokens)
  tokenizer = tokenization.FullTokenizer(vocab_path, do_lower_case=False)
  assert "[UNK]" not in tokenizer.tokenize(CHINESE_TEXT)
  assert tokens.index("[UNK]") == 11


def test_merges_match_naive_algorithm():
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  counts = collections.Counter(basic.tokenize("\n".join(topic_lines()[:3000])))
  chars = set("".join(counts))
  fast = learn_vocab.learn_pieces(counts, chars, 300, 2)
  assert fast == naive_learn_pieces(counts, 300, 2)
  assert len(fast) == 300


def test_deterministic_across_workers(tmp_path):
  lines = topic_lines()
  input_file = write(tmp_path / "a.txt", lines[:6000]) + "," + write(
      tmp_path / "b.txt", lines[6000:])
  outputs = []
  for workers in ("1", "2", "2"):
    path = str(tmp_path / ("vocab%d.txt" % len(outputs)))
    result = run_cli("--input_file=" + input_file, "--output_file=" + path,
                     "--vocab_size=1200", "--num_unused=0",
                     "--num_workers=" + workers)
    assert result.returncode == 0, result.stderr
    with open(path, "rb") as f:
      outputs.append(f.read())
  assert outputs[0] == outputs[1] == outputs[2]
  # Nothing else left behind (outputs are written under a temporary name).
  assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt", "vocab0.txt",
                                          "vocab1.txt", "vocab2.txt"]


def test_globs_and_comma_lists(tmp_path):
  write(tmp_path / "one.txt", ["zebra zebra zebra quokka quokka"] * 3)
  write(tmp_path / "two.txt", ["ocelot ocelot ocelot"] * 3)
  other = write(tmp_path / "extra.dat", ["wombat wombat wombat"] * 3)
  vocab_path = str(tmp_path / "out" / "vocab.txt")
  result = run_cli("--input_file=%s,%s" % (tmp_path / "*.txt", other),
                   "--output_file=" + vocab_path, "--vocab_size=200",
                   "--num_unused=0", "--holdout_fraction=0")
  assert result.returncode == 0, result.stderr
  tokens = set(read_vocab(vocab_path))
  assert {"zebra", "quokka", "ocelot", "wombat"} <= tokens


def test_do_lower_case_false_keeps_case(tmp_path):
  input_file = write(tmp_path / "t.txt", ["Python PYTHON python Café"] * 5)
  for lower, expected, absent in (("True", "python", "Python"),
                                  ("False", "Python", "cafe")):
    path = str(tmp_path / ("vocab_%s.txt" % lower))
    result = run_cli("--input_file=" + input_file, "--output_file=" + path,
                     "--vocab_size=100", "--num_unused=0",
                     "--holdout_fraction=0", "--do_lower_case=" + lower)
    assert result.returncode == 0, result.stderr
    tokens = read_vocab(path)
    assert expected in tokens and absent not in tokens


def test_vocab_size_too_small_is_a_clear_error(tmp_path):
  input_file = write(tmp_path / "t.txt", ["some words here"])
  result = run_cli("--input_file=" + input_file, "--output_file=" +
                   str(tmp_path / "v.txt"), "--vocab_size=500")
  assert result.returncode != 0
  assert "--vocab_size=500" in result.stderr
  assert not os.path.exists(tmp_path / "v.txt")


def test_rare_characters_dropped_when_no_room():
  counts = {"ab": 10, "ba": 10, "c": 1, "x": 1}
  chars, dropped = learn_vocab.choose_alphabet(counts, 4)
  assert chars == {"a", "b"} and dropped == 2


def test_bad_input_errors_name_file_line_and_pattern(tmp_path):
  bad = tmp_path / "bad.txt"
  bad.write_bytes(b"fine line\nsecond line\nbroken \xff byte\n")
  result = run_cli("--input_file=" + str(bad), "--output_file=" +
                   str(tmp_path / "v.txt"), "--vocab_size=200",
                   "--num_unused=0")
  assert result.returncode != 0
  assert "%s:3: not valid UTF-8" % bad in result.stderr
  missing = str(tmp_path / "nothing*.txt")
  result = run_cli("--input_file=" + missing, "--output_file=" +
                   str(tmp_path / "v.txt"))
  assert result.returncode != 0
  assert missing in result.stderr and "matches no file" in result.stderr


# Adapting a released vocabulary to a domain (--fill_unused_from,
# --extend_from), with Google's uncased vocabulary as the base.

DOMAIN_WORDS = ["pneumothorax", "thrombocytopenia", "echocardiogram",
                "tachycardia", "hepatomegaly", "dyspnea"]


def domain_lines():
  """Clinical-style text: the domain words at falling frequencies, a
  character the base lacks inside words (\u2a7d) and alone (\u2603), and
  common English words the base holds whole."""
  lines = []
  for i in range(300):
    words = ["the", "patient", "had"]
    for rank, word in enumerate(DOMAIN_WORDS):
      if i % (rank + 1) == 0:
        words.append(word)
    if i % 7 == 0:  # rarer than every domain word
      words += ["dose", "x\u2a7d%d" % (i % 5), "\u2603"]
    lines.append(" ".join(words) + " today .")
  return lines


def figures(vocab_path, lines):
  """Held-out [UNK] share and pieces per word, counted here."""
  words, pieces, unk = held_out_counts(vocab_path, lines)
  return unk / words, pieces / words


def test_fill_unused_keeps_every_other_line_and_id(tmp_path):
  base_path = fixture_path("vocab_uncased.txt")
  lines = domain_lines()
  input_file = write(tmp_path / "clinic.txt", lines)
  out, stats_path = str(tmp_path / "vocab.txt"), str(tmp_path / "s.json")
  result = run_cli("--input_file=" + input_file, "--output_file=" + out,
                   "--fill_unused_from=" + base_path,
                   "--holdout_fraction=0.1", "--stats_file=" + stats_path)
  assert result.returncode == 0, result.stderr
  base, filled = read_vocab(base_path), read_vocab(out)
  assert len(filled) == len(base)
  changed = [i for i in range(len(base)) if base[i] != filled[i]]
  assert all(base[i].startswith("[unused") for i in changed)
  # The domain words, most frequent first, then the missing characters
  # (\u2a7d, never at a word's start here, as ##\u2a7d) and the words they
  # spoiled ("x\u2a7d0" is one BasicTokenizer word), in the first
  # [unusedN] slots by id.
  added = [filled[i] for i in changed]
  assert added[:6] == DOMAIN_WORDS
  assert {"\u2603", "##\u2a7d", "x\u2a7d0"} <= set(added)
  assert "the" not in added and "patient" not in added
  assert changed == [i for i in range(len(base))
                     if base[i].startswith("[unused")][:len(changed)]
  tokenizer = tokenization.FullTokenizer(out, do_lower_case=True)
  assert tokenizer.tokenize("Pneumothorax and \u2603") == [
      "pneumothorax", "and", "\u2603"]
  with open(stats_path) as f:
    stats = json.load(f)
  held_out = lines[9::10]
  before, after = figures(base_path, held_out), figures(out, held_out)
  assert stats["held_out_before"]["unk_share"] == pytest.approx(before[0])
  assert stats["held_out_after"]["unk_share"] == pytest.approx(after[0])
  assert stats["held_out_after"]["pieces_per_word"] == pytest.approx(after[1])
  assert after[0] == 0.0 < before[0] and after[1] < before[1]
  assert stats["added"] == len(changed) and stats["vocab_size"] == len(base)


def test_extend_appends_after_the_base(tmp_path):
  base_path = fixture_path("vocab_uncased.txt")
  input_file = write(tmp_path / "clinic.txt", domain_lines())
  out = str(tmp_path / "vocab.txt")
  result = run_cli("--input_file=" + input_file, "--output_file=" + out,
                   "--extend_from=" + base_path, "--vocab_size=30527")
  assert result.returncode == 0, result.stderr
  base, extended = read_vocab(base_path), read_vocab(out)
  assert extended[:len(base)] == base
  assert extended[len(base):] == DOMAIN_WORDS[:5]
  vocab = tokenization.load_vocab(out)
  assert vocab["pneumothorax"] == 30522 and vocab["[unused0]"] == 1


def test_domain_candidates_rank_words_and_missing_characters():
  base = {t: i for i, t in enumerate(
      ["[UNK]", "a", "b", "##a", "##b", "ab", "x"])}
  counts = {"ab": 50, "ba": 9, "abab": 4, "a\u2603": 3, "\u2603": 5, "x": 8,
            "zz": 1}
  assert learn_vocab.domain_candidates(counts, base, min_frequency=2) == [
      ("ba", 9), ("\u2603", 5), ("abab", 4), ("##\u2603", 3),
      ("a\u2603", 3)]


@pytest.mark.parametrize("args,message", [
    (["--fill_unused_from=BASE", "--extend_from=BASE"], "one or the other"),
    (["--fill_unused_from=BASE", "--vocab_size=100"],
     "--vocab_size does not apply"),
    (["--extend_from=BASE", "--vocab_size=30522"],
     "--vocab_size=30522 must be larger than the 30522 lines"),
    (["--extend_from=/nowhere/vocab.txt"], "--extend_from=/nowhere/vocab.txt: "
                                          "no such file")])
def test_adapting_flags_are_checked(tmp_path, args, message):
  input_file = write(tmp_path / "t.txt", ["some words here"] * 3)
  base = fixture_path("vocab_uncased.txt")
  result = run_cli("--input_file=" + input_file, "--output_file=" +
                   str(tmp_path / "v.txt"),
                   *[a.replace("BASE", base) for a in args])
  assert result.returncode != 0
  assert message in result.stderr
  assert not os.path.exists(tmp_path / "v.txt")
