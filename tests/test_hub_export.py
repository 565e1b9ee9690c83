"""export_lib's TF Hub exports: encoder extras, masked-LM, preprocessor.

The preprocessor's tokens are checked against Google's tokenizer outputs
(tests/fixtures/tokenization/cases.jsonl) and its packing against Google's
run_classifier features (tests/fixtures/hub/mrpc_test.npz); the masked-LM
logits against Google's run_pretraining head (modeling/sharp/expected.npz).
"""

import csv
import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import export_lib
import heads
import modeling
import tf_tokenization


def _cases():
  """(cases of cases.jsonl, their inputs as UTF-8 bytes)."""
  with open(fixture_path("tokenization", "cases.jsonl"),
            encoding="utf-8") as f:
    cases = [json.loads(line) for line in f]
  # Google's tokenizer was given these as bytes: UTF-8 with invalid bytes
  # dropped; the SavedModel takes bytes as they are.
  texts = [bytes.fromhex(c["text_bytes_hex"]) if c["text"] is None
           else c["text"].encode("utf-8") for c in cases]
  return cases, texts


def _mismatches(cases, got, key, field):
  """(id, category, note) of the cases where `got` differs from Google's."""
  return [(c["id"], c["category"], c["note"]) for c, g in zip(cases, got)
          if g != c[key][field]]


@pytest.mark.parametrize("key", ["lower", "cased"])
def test_tokenizer_equals_googles_on_every_case(key):
  """All 519 cases (the 13 byte strings included), both casings: Google's
  basic tokens and ids (the exported preprocessor runs this code; its
  SavedModel path is checked on MRPC below)."""
  cases, texts = _cases()
  tokenizer = tf_tokenization.BertTextTokenizer(
      fixture_path("vocab_uncased.txt"), do_lower_case=key == "lower")
  basic = [[t.decode("utf-8") for t in row] for row in
           tokenizer.basic_tokenize(tf.constant(texts)).to_list()]
  assert _mismatches(cases, basic, key, "basic") == []
  ragged = tokenizer.tokenize(tf.constant(texts))
  assert ragged.shape.rank == 3  # [batch, (words), (pieces)]
  ids = [sum(words, []) for words in ragged.to_list()]
  assert _mismatches(cases, ids, key, "ids") == []


def test_character_tables_follow_python():
  """Spot checks of the tables against Python's own str methods."""
  tables = tf_tokenization.character_tables()
  def bits(char):
    """The class bits of a character."""
    index = np.searchsorted(tables.starts, ord(char), side="right") - 1
    return tables.classes[index]
  assert bits("\u2028") == tf_tokenization.SEPARATOR  # str.split() splits
  assert bits("\x0b") == tf_tokenization.REMOVED  # Cc, not Google's space
  assert bits("$") & tf_tokenization.PUNCTUATION
  assert bits("\u4e2d") & tf_tokenization.CJK
  assert bits("'") & tf_tokenization.IGNORABLE
  assert bits("A") & tf_tokenization.CASED
  keys = list(tables.map_keys)
  def mapped(char):
    """What lower-casing and accent stripping make of a character."""
    i = keys.index(ord(char))
    return "".join(map(chr, tables.map_values[
        tables.map_splits[i]:tables.map_splits[i + 1]]))
  assert mapped("\u0130") == "i"  # lower() -> i + U+0307, Mn dropped
  assert mapped("\ud55c") == "\u1112\u1161\u11ab"  # Hangul NFD
  assert mapped("\u0301") == ""


def _mrpc_test_pairs():
  """(text_a, text_b) lists of the MRPC test split (Google's columns)."""
  with open(fixture_path("classifier", "mrpc", "test.tsv"),
            encoding="utf-8") as f:
    rows = list(csv.reader(f, delimiter="\t", quotechar=None))[1:]
  return [r[3] for r in rows], [r[4] for r in rows]


def _hub_vocab_encoder_and_preprocessor(tmp_path):
  """The tiny Google checkpoint as encoder (+mlm) and its preprocessor."""
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", "sharp", "bert_config.json"))
  model = modeling.BertModel(config)
  head = heads.MaskedLMHead.tied_to(model.get_embedding_table(),
                                    config.hidden_size, config.hidden_act,
                                    config.initializer_range)
  ckpt = fixture_path("modeling", "sharp", "bert_model.ckpt")
  checkpoints.restore(model, ckpt)
  checkpoints.restore(head, ckpt)
  vocab = fixture_path("hub", "vocab.txt")
  encoder_dir = str(tmp_path / "encoder")
  preprocessor_dir = str(tmp_path / "preprocess")
  export_lib.export_hub_encoder(model, encoder_dir, vocab, True,
                                mlm_head=head)
  export_lib.export_preprocessor(preprocessor_dir, vocab, True, 32)
  return encoder_dir, preprocessor_dir


def test_encoder_mlm_preprocessor_and_keras(tmp_path):
  """One export of Google's tiny checkpoint: the preprocessor packs MRPC
  pairs into Google's features; `mlm` gives Google's masked-LM log-probs;
  hub.KerasLayer fine-tunes preprocessor + encoder as TF Hub documents."""
  encoder_dir, preprocessor_dir = _hub_vocab_encoder_and_preprocessor(
      tmp_path)
  preprocessor = tf.saved_model.load(preprocessor_dir)
  special = {k: int(v) for k, v in
             preprocessor.tokenize.get_special_tokens_dict().items()}
  assert special == {"vocab_size": 99, "start_of_sequence_id": 2,
                     "end_of_segment_id": 3, "padding_id": 0, "mask_id": 4}
  text_a, text_b = _mrpc_test_pairs()
  single = preprocessor(tf.constant(text_a))  # default seq_length 32
  assert single["input_word_ids"].shape == (20, 32)
  np.testing.assert_array_equal(
      single["input_word_ids"], preprocessor.bert_pack_inputs(
          [preprocessor.tokenize(tf.constant(text_a))])["input_word_ids"])
  packed = preprocessor.bert_pack_inputs(
      [preprocessor.tokenize(tf.constant(text_a)),
       preprocessor.tokenize(tf.constant(text_b))], seq_length=32)
  mrpc = np.load(fixture_path("hub", "mrpc_test.npz"))
  for ours, google in (("input_word_ids", "input_ids"),
                       ("input_mask", "input_mask"),
                       ("input_type_ids", "segment_ids")):
    np.testing.assert_array_equal(packed[ours], mrpc[google])

  encoder = tf.saved_model.load(encoder_dir)
  assert list(encoder.regularization_losses) == []
  expected = np.load(fixture_path("modeling", "sharp", "expected.npz"))
  outputs = encoder.mlm({
      "input_word_ids": expected["input_ids"],
      "input_mask": expected["input_mask"],
      "input_type_ids": expected["segment_ids"],
      "masked_lm_positions": expected["masked_lm_positions"]})
  assert outputs["mlm_logits"].shape == (3, 4, 99)
  log_probs = tf.nn.log_softmax(tf.reshape(outputs["mlm_logits"], [12, 99]))
  np.testing.assert_allclose(log_probs, expected["masked_lm_log_probs"],
                             atol=1e-5)
  np.testing.assert_allclose(outputs["pooled_output"],
                             expected["pooled_output"], atol=1e-5)
  # The core module's weights exclude the head's (as Model Garden's).
  assert len(encoder.trainable_variables) == 39
  assert len(encoder.mlm.trainable_variables) == 39 + 5

  _keras_fine_tuning(preprocessor_dir, encoder_dir, text_a[:4], mrpc)


def _keras_fine_tuning(preprocessor_dir, encoder_dir, texts, mrpc):
  """README's hub.KerasLayer example: gradients reach the encoder."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  text = tf_keras.layers.Input(shape=(), dtype=tf.string)
  encoder_inputs = hub.KerasLayer(preprocessor_dir)(text)
  encoder = hub.KerasLayer(encoder_dir, trainable=True)
  pooled = encoder(encoder_inputs)["pooled_output"]
  model = tf_keras.Model(text, tf_keras.layers.Dense(2)(pooled))
  assert len(model.trainable_variables) == 39 + 2
  with tf.GradientTape() as tape:
    logits = model(tf.constant(texts), training=True)
    loss = tf.reduce_sum(logits ** 2)
  grads = tape.gradient(loss, model.trainable_variables)
  assert all(g is not None for g in grads)
  reference = tf_keras.Model(text, pooled)(tf.constant(texts))
  # One-segment inputs of the same sentences through Google's features'
  # first segment would differ; compare with the module called directly.
  direct = tf.saved_model.load(encoder_dir)(
      hub.KerasLayer(preprocessor_dir)(tf.constant(texts)))["pooled_output"]
  np.testing.assert_allclose(reference, direct, atol=1e-6)
  del mrpc
