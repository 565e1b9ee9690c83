# coding=utf-8
"""ALBERT's tokenization functions written plainly, as they run on Python 3.

A literal reading of google-research/albert's tokenization.py (b772393) for
the tests: character loops instead of regexes, SentencePiece called piece by
piece, and ALBERT's str-versus-bytes comparisons kept as they are (so the
digit-comma quirk comes out of the code, not from a special case).
"""

import collections
import unicodedata

SPIECE_UNDERLINE = u"▁".encode("utf-8")


def preprocess_text(inputs, remove_space=True, lower=False):
  """ALBERT's preprocess_text, character by character."""
  outputs = inputs
  if remove_space:
    outputs = " ".join(inputs.strip().split())
  outputs = unicodedata.normalize("NFKD", outputs)
  outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
  if lower:
    outputs = outputs.lower()
  return outputs


def encode_pieces(sp_model, text):
  """ALBERT's encode_pieces on Python 3 (pieces are str there)."""
  pieces = sp_model.EncodeAsPieces(text)
  new_pieces = []
  for piece in pieces:
    if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
      cur_pieces = sp_model.EncodeAsPieces(
          piece[:-1].encode("utf-8").replace(SPIECE_UNDERLINE, b""))
      # str compared with bytes: never equal on Python 3.
      if piece[0] != SPIECE_UNDERLINE and cur_pieces[0][0] == SPIECE_UNDERLINE:
        if len(cur_pieces[0]) == 1:
          cur_pieces = cur_pieces[1:]
        else:
          cur_pieces[0] = cur_pieces[0][1:]
      cur_pieces.append(piece[-1])
      new_pieces.extend(cur_pieces)
    else:
      new_pieces.append(piece)
  return new_pieces


def load_vocab_lines(lines):
  """ALBERT's load_vocab on the lines readline gives (with their newline)."""
  vocab = collections.OrderedDict()
  for token in lines:
    token = token.strip().split()[0] if token.strip() else " "
    if token not in vocab:
      vocab[token] = len(vocab)
  return vocab
