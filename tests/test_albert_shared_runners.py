"""The family-agnostic runners on ALBERT: run_classifier.py (user data,
multi-label, SavedModel export) and extract_features.py with an ALBERT config
and --spm_model_file, and the errors when a config meets the other family's
path.

References: google-research/albert's tiny and grouped checkpoints and the
outputs of its AlbertModel (tests/fixtures/albert/modeling/); tokens from
ALBERT's own tokenization (preprocess_text + SentencePiece, tested against
ALBERT in test_albert_tokenization.py).
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
from conftest import ROOT
import checkpoints
import encoders
import estimator_lib
import extract_features
import harness
from harness import run_main
import run_classifier
import text_inputs
from albert import tokenization
from tasks import classification
from test_run_classifier_main import read_tsv_floats

SPM = fixture_path("albert", "spm_tiny.model")
TINY_CONFIG = harness.albert_fixture("tiny", "albert_config.json")


@pytest.fixture(scope="module")
def encoder_checkpoint(tmp_path_factory):
  """The tiny reference ALBERT encoder (no heads)."""
  model, _ = harness.load_albert("tiny")
  return checkpoints.save_checkpoint(
      model, str(tmp_path_factory.mktemp("encoder") / "encoder.ckpt"))


def _mrpc_pairs():
  """(sentence 1, sentence 2) of Google's MRPC training file."""
  with open(fixture_path("classifier", "mrpc", "train.tsv")) as f:
    rows = list(csv.reader(f, delimiter="\t", quotechar=None))[1:]
  return [(row[3], row[4]) for row in rows]


def _spm_ids(text):
  """ALBERT's ids of raw text: preprocess_text (lower-cased), SentencePiece."""
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=SPM)
  return tokenizer.convert_tokens_to_ids(tokenizer.tokenize(
      tokenization.preprocess_text(text, lower=True)))


def test_user_data_multi_label_and_export(encoder_checkpoint, tmp_path):
  """--task_name=jsonl --multi_label with an ALBERT config: the records hold
  ALBERT's ids of the raw text, the multi-label metrics are written, and the
  exported SavedModel serves test_results.tsv."""
  pairs = _mrpc_pairs()
  labels = [["short"] if len(a) < 100 else ["long"] for a, _ in pairs]
  for i in range(0, len(labels), 3):
    labels[i] = labels[i] + ["third"]
  for split, rows in (("train", range(0, 30)), ("dev", range(30, 40)),
                      ("test", range(30, 40))):
    with open(tmp_path / (split + ".jsonl"), "w") as f:
      for i in rows:
        f.write(json.dumps({"text": pairs[i][0], "second": pairs[i][1],
                            "label": labels[i]}) + "\n")
  out, export_dir = str(tmp_path / "out"), str(tmp_path / "export")
  run_main(run_classifier.main, "--do_train", "--do_eval", "--do_predict",
           "--multi_label", data_dir=str(tmp_path), task_name="jsonl",
           text_b_column="second", bert_config_file=TINY_CONFIG,
           spm_model_file=SPM, init_checkpoint=encoder_checkpoint,
           output_dir=out, export_dir=export_dir, max_seq_length=32,
           train_batch_size=8, learning_rate=1e-3, num_train_epochs=1.0,
           seed=1)
  first = next(iter(classification.file_based_input_fn_builder(
      os.path.join(out, "train.tf_record"), 32, False, False,
      classification.MULTI_LABEL, 3)({"batch_size": 1})))
  ids_a, ids_b = _spm_ids(pairs[0][0]), _spm_ids(pairs[0][1])
  while len(ids_a) + len(ids_b) > 29:  # Google's truncation rule
    (ids_a if len(ids_a) > len(ids_b) else ids_b).pop()
  np.testing.assert_array_equal(first["input_ids"][0],
                                [2] + ids_a + [3] + ids_b + [3])
  with open(os.path.join(out, "label_list.txt")) as f:
    assert f.read().split() == ["long", "short", "third"]
  np.testing.assert_array_equal(
      first["label_ids"][0],
      [int(l in labels[0]) for l in ("long", "short", "third")])
  results = harness.read_eval_results(os.path.join(out, "eval_results.txt"))
  assert {"eval_micro_f1", "eval_f1_third", "eval_loss"} <= set(results)
  expected = read_tsv_floats(os.path.join(out, "test_results.tsv"))
  assert expected.shape == (10, 3)
  features = next(iter(classification.file_based_input_fn_builder(
      os.path.join(out, "predict.tf_record"), 32, False, False,
      classification.MULTI_LABEL, 3)({"batch_size": 100})))
  serve = tf.saved_model.load(export_dir).signatures["serving_default"]
  got = serve(input_ids=features["input_ids"],
              input_mask=features["input_mask"],
              segment_ids=features["segment_ids"])["probabilities"]
  np.testing.assert_allclose(got, expected, atol=1e-5)


def test_csv_user_data_from_an_albert_checkpoint(encoder_checkpoint,
                                                 tmp_path):
  """--task_name=csv with a header, evaluated and predicted from the
  encoder's checkpoint: ALBERT's ids, Google's output files."""
  pairs = _mrpc_pairs()[:12]
  for split in ("dev", "test"):
    with open(tmp_path / (split + ".csv"), "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["sentence", "label"])
      for i, (a, _) in enumerate(pairs):
        writer.writerow([a, "yes" if i % 2 else "no"])
  out = str(tmp_path / "out")
  run_main(run_classifier.main, "--do_eval", "--do_predict", "--has_header",
           data_dir=str(tmp_path), task_name="csv", label_column="label",
           text_a_column="sentence", label_file=_write(tmp_path / "labels",
                                                       "no\nyes\n"),
           bert_config_file=TINY_CONFIG, spm_model_file=SPM,
           init_checkpoint=encoder_checkpoint, output_dir=out,
           max_seq_length=32, seed=1)
  record = next(iter(classification.file_based_input_fn_builder(
      os.path.join(out, "eval.tf_record"), 32, False, False)(
          {"batch_size": 1})))
  ids = _spm_ids(pairs[0][0])[:30]
  np.testing.assert_array_equal(record["input_ids"][0, :len(ids) + 2],
                                [2] + ids + [3])
  assert "eval_accuracy" in harness.read_eval_results(
      os.path.join(out, "eval_results.txt"))
  assert read_tsv_floats(os.path.join(out, "test_results.tsv")).shape == (
      12, 2)


def _write(path, text):
  with open(path, "w") as f:
    f.write(text)
  return str(path)


def test_family_and_tokenizer_flags_are_checked(tmp_path):
  """An ALBERT config without a SentencePiece model or vocabulary, a
  SentencePiece model with a BERT config, a BERT config without a
  vocabulary: one line each, before any output."""
  common = dict(data_dir=fixture_path("classifier", "mrpc"), task_name="mrpc",
                output_dir=str(tmp_path / "out"), max_seq_length=32)
  with pytest.raises(ValueError, match="ALBERT's tokenizer needs "
                     "--spm_model_file"):
    run_main(run_classifier.main, "--do_eval", bert_config_file=TINY_CONFIG,
             **common)
  bert_config = harness.write_config(tmp_path)
  with pytest.raises(ValueError, match="--spm_model_file=.*BERT's tokenizer "
                     "is WordPiece"):
    run_main(run_classifier.main, "--do_eval", bert_config_file=bert_config,
             spm_model_file=SPM, vocab_file=harness.VOCAB, **common)
  with pytest.raises(ValueError, match="--vocab_file is required"):
    run_main(run_classifier.main, "--do_eval", bert_config_file=bert_config,
             **common)
  assert not os.path.exists(tmp_path / "out")
  with pytest.raises(ValueError, match="is an ALBERT config"):
    run_main(run_classifier.main, "--do_eval", bert_config_file=TINY_CONFIG,
             encoder_family="bert", spm_model_file=SPM, **common)


def _export_lib(tmp_path, *extra):
  """Runs export_lib.py on the tiny ALBERT reference; returns the process."""
  args = [sys.executable, os.path.join(ROOT, "export_lib.py"),
          "--bert_config_file=" + TINY_CONFIG,
          "--init_checkpoint=" + harness.albert_fixture("tiny",
                                                        "model.ckpt-best"),
          "--export_dir=" + str(tmp_path / "m"),
          "--preprocessor_dir=" + str(tmp_path / "p"), "--max_seq_length=32"]
  return subprocess.run(args + list(extra), cwd=ROOT, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=300,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def test_export_lib_albert_preprocessor_needs_the_sentencepiece_model(
    tmp_path):
  """ALBERT's preprocessing model is SentencePiece's: with an ALBERT config
  and a WordPiece vocabulary, --preprocessor_dir is refused before work."""
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n",
                   encoding="utf-8")
  proc = _export_lib(tmp_path, "--vocab_file=" + str(vocab))
  assert proc.returncode == 2, proc.stdout[-2000:]
  assert (b"--preprocessor_dir: ALBERT's preprocessing model is "
          b"SentencePiece's: pass --spm_model_file (" + TINY_CONFIG.encode() +
          b" is an ALBERT config)") in proc.stdout
  assert not os.path.exists(tmp_path / "m")


def test_export_lib_albert_encoder_and_preprocessor(tmp_path):
  """export_lib.py --preprocessor_dir with ALBERT's SentencePiece model: the
  preprocessor packs MRPC pairs into the ids run_classifier.py gives ALBERT
  (preprocess_text + SentencePiece, text_inputs.pack_inputs), and the
  exported encoder on them gives the AlbertModel's pooled output."""
  import tensorflow_text  # pylint: disable=g-import-not-at-top,unused-import
  proc = _export_lib(tmp_path, "--spm_model_file=" + SPM,
                     "--do_lower_case=true")
  assert proc.returncode == 0, proc.stdout[-3000:]
  preprocessor = tf.saved_model.load(str(tmp_path / "p"))
  encoder = tf.saved_model.load(str(tmp_path / "m"))
  with open(fixture_path("classifier", "mrpc", "dev.tsv"),
            encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t") for line in f][1:9]
  a, b = [r[3] for r in rows], [r[4] for r in rows]
  packed = preprocessor.bert_pack_inputs(
      [preprocessor.tokenize(tf.constant(a)),
       preprocessor.tokenize(tf.constant(b))], seq_length=32)
  tokenizer = encoders.get_family("albert").create_text_tokenizer(
      spm_model_file=SPM, do_lower_case=True)
  expected = [text_inputs.pack_inputs(tokenizer, tokenizer.tokenize(x),
                                      tokenizer.tokenize(y), 32)
              for x, y in zip(a, b)]
  # tensorflow_text's SentencePiece breaks ties between equal-score
  # segmentations its own way (a run of "=" in row 6): the same text in as
  # many pieces, in another order. Such rows are compared as text.
  sp = tokenization.FullTokenizer(None, spm_model_file=SPM)
  tied = []
  for texts in (a, b):
    got = preprocessor.tokenize(tf.constant(texts)).to_list()
    for row, (ids, text) in enumerate(zip(got, texts)):
      want = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))
      if ids != want:
        assert len(ids) == len(want)
        assert sp.convert_ids_to_tokens(ids) != sp.convert_ids_to_tokens(want)
        assert "".join(sp.convert_ids_to_tokens(ids)) == "".join(
            sp.convert_ids_to_tokens(want))
        tied.append(row)
  assert tied == [6]
  same = [r for r in range(8) if r not in tied]
  np.testing.assert_array_equal(
      tf.gather(packed["input_word_ids"], same),
      [expected[r].input_ids for r in same])
  np.testing.assert_array_equal(packed["input_mask"],
                                [e.input_mask for e in expected])
  np.testing.assert_array_equal(packed["input_type_ids"],
                                [e.segment_ids for e in expected])
  single = preprocessor(tf.constant(a))
  assert single["input_word_ids"].shape == (8, 32)
  special = preprocessor.tokenize.get_special_tokens_dict()
  assert int(special["padding_id"]) == 0
  assert int(special["start_of_sequence_id"]) == tokenizer.vocab["[CLS]"]
  outputs = encoder(dict(packed), training=False)
  model, _ = harness.load_albert("tiny")
  reference = model(packed["input_word_ids"], packed["input_mask"],
                    packed["input_type_ids"]).pooled_output
  np.testing.assert_allclose(outputs["pooled_output"], reference,
                             atol=1e-5, rtol=1e-5)


def test_extract_features_equals_albert_on_every_block(tmp_path):
  """extract_features' ModelFn (Google's model_fn_builder / input_fn_builder
  names) on the `grouped` reference (5 layers x 2 inner blocks): --layers
  index ALBERT's 10 block outputs, mean pooling over the real tokens."""
  exp = harness.albert_reference("grouped")
  config = encoders.get_family("albert").load_config(
      harness.albert_fixture("grouped", "albert_config.json"))
  layers = [-1, 0, 7]
  model_fn = extract_features.model_fn_builder(
      config, harness.albert_fixture("grouped", "model.ckpt-best"), layers,
      False, False, pooling="mean", pooling_layer=-2)
  features = [extract_features.InputFeatures(i, None, ids.tolist(),
                                             mask.tolist(), seg.tolist())
              for i, (ids, mask, seg) in enumerate(zip(
                  exp["input_ids"], exp["input_mask"], exp["segment_ids"]))]
  estimator = estimator_lib.Estimator(
      model_fn, estimator_lib.RunConfig(None), predict_batch_size=2)
  results = list(estimator.predict(
      extract_features.input_fn_builder(features, 16)))
  blocks = exp["all_encoder_layers"]
  assert len(blocks) == 10
  for j, layer in enumerate(layers):
    np.testing.assert_allclose([r["layer_output_%d" % j] for r in results],
                               blocks[layer], atol=1e-5, rtol=1e-5)
  mask = exp["input_mask"][:, :, None].astype(np.float64)
  mean = (blocks[-2] * mask).sum(axis=1) / mask.sum(axis=1)
  np.testing.assert_allclose([r["sentence_vector"] for r in results], mean,
                             atol=1e-5, rtol=1e-5)
  with pytest.raises(ValueError, match="--layers=10: layer index 10 is out "
                     "of range; the model has 10 encoder layers"):
    extract_features.parse_layers("10", 10)


def test_extract_features_command_line_on_an_albert_checkpoint(tmp_path):
  """The command line with the ALBERT config detected from
  --bert_config_file and --spm_model_file: ALBERT's pieces ([CLS] ... [SEP]
  of the preprocessed text) and the AlbertModel's outputs on them."""
  lines = ["The Caf\u00e9 SERVES bagels", "Hello ||| World again"]
  input_file = _write(tmp_path / "input.txt", "\n".join(lines) + "\n")
  output_file = str(tmp_path / "out.jsonl")
  run_main(extract_features.main, input_file=input_file,
           output_file=output_file, bert_config_file=TINY_CONFIG,
           spm_model_file=SPM,
           init_checkpoint=harness.albert_fixture("tiny", "model.ckpt-best"),
           layers="-1,-4", max_seq_length=32, pooling="pooled", batch_size=2)
  with open(output_file) as f:
    rows = [json.loads(line) for line in f]
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=SPM)
  model, _ = harness.load_albert("tiny")
  for line, row in zip(lines, rows):
    texts = [tokenization.preprocess_text(t, lower=True)
             for t in line.split(" ||| ")]
    pieces = [tokenizer.tokenize(t) for t in texts]
    tokens = ["[CLS]"] + pieces[0] + ["[SEP]"]
    segments = [0] * len(tokens)
    if len(pieces) > 1:
      tokens += pieces[1] + ["[SEP]"]
      segments += [1] * (len(pieces[1]) + 1)
    assert [f["token"] for f in row["features"]] == tokens
    outputs = model([tokenizer.convert_tokens_to_ids(tokens)],
                    token_type_ids=[segments])
    np.testing.assert_allclose(
        [f["layers"][0]["values"] for f in row["features"]],
        outputs.sequence_output[0], atol=2e-6)
    np.testing.assert_allclose(
        [f["layers"][1]["values"] for f in row["features"]],
        outputs.all_encoder_layers[-4][0], atol=2e-6)
    np.testing.assert_allclose(row["sentence_vector"],
                               outputs.pooled_output[0], atol=2e-6)
