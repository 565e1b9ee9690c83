"""albert/export_to_tfhub.py: ALBERT hub encoders read by hub_lib,
tensorflow_hub's hub.load and run_classifier_with_tfhub.py.

Reference: the checkpoints of google-research/albert's own code and the
outputs of its AlbertModel and masked-LM head (tests/fixtures/albert/
modeling/: `tiny` has E != H, `grouped` two groups of two inner blocks).
"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import harness
from harness import run_main
import hub_lib
import run_classifier_with_tfhub
from albert import export_to_tfhub
from albert import tokenization
from tasks import classification
from test_run_classifier_main import read_tsv_floats

SPM = fixture_path("albert", "spm_tiny.model")
TOL = dict(atol=1e-5, rtol=1e-5)


def _albert_directory(path, name):
  """A directory laid out as ALBERT's releases: albert_config.json,
  30k-clean.model and model.ckpt-best of reference model `name`."""
  os.makedirs(path)
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(harness.albert_fixture(name, "model.ckpt-best" + suffix),
                os.path.join(path, "model.ckpt-best" + suffix))
  shutil.copy(harness.albert_fixture(name, "albert_config.json"), path)
  shutil.copy(SPM, os.path.join(path, "30k-clean.model"))
  return str(path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """exported(name) -> the module directory of reference model `name`,
  written once per test module by ALBERT's command line: --albert_directory
  --export_path (in process)."""
  paths = {}

  def export(name):
    if name not in paths:
      root = tmp_path_factory.mktemp("albert_hub_" + name)
      directory = _albert_directory(root / "albert", name)
      paths[name] = str(root / "module")
      run_main(export_to_tfhub.main, albert_directory=directory,
               export_path=paths[name], do_lower_case=True)
    return paths[name]

  return export


@pytest.fixture(scope="module", params=["tiny", "grouped"])
def module(request, exported):
  """(reference name, module directory) for each reference model."""
  return request.param, exported(request.param)


def _inputs(exp):
  return {"input_word_ids": exp["input_ids"], "input_mask": exp["input_mask"],
          "input_type_ids": exp["segment_ids"]}


def test_hub_lib_reads_the_module(module):
  name, path = module
  exp = harness.albert_reference(name)
  encoder = hub_lib.load_encoder(path)
  assert (encoder.kind, encoder.vocab_file) == ("dict", None)
  assert encoder.spm_model_file == os.path.join(path, "assets",
                                                "30k-clean.model")
  assert encoder.do_lower_case is True
  pooled, sequence = encoder(exp["input_ids"], exp["input_mask"],
                             exp["segment_ids"])
  np.testing.assert_allclose(pooled, exp["pooled_output"], **TOL)
  np.testing.assert_allclose(sequence, exp["sequence_output"], **TOL)
  # Trainable: every ALBERT variable of the checkpoint, by its name.
  names = sorted(checkpoints.variable_name(v)
                 for v in encoder.trainable_variables)
  assert names == sorted(
      n for n, _ in tf.train.list_variables(
          harness.albert_fixture(name, "model.ckpt-best"))
      if n.startswith("bert/"))
  tokenizer = hub_lib.create_tokenizer(path)
  assert isinstance(tokenizer, tokenization.TextTokenizer)
  # Raw text, preprocessed as ALBERT's scripts do before SentencePiece.
  reference = tokenization.FullTokenizer(None, spm_model_file=SPM)
  text = "The Caf\u00e9  SERVES 1,000 \u201cbagels\u201d"
  assert tokenizer.tokenize(text) == reference.tokenize(
      tokenization.preprocess_text(text, lower=True))
  assert hub_lib.read_tokenization(path) == (encoder.spm_model_file, True)


def test_hub_load_gives_albert_outputs_and_mlm(module):
  """tensorflow_hub's hub.load: the dict API, one encoder output per block,
  the mlm subobject (ALBERT's masked-LM head) and tokenization_info."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  name, path = module
  exp = harness.albert_reference(name)
  encoder = hub.load(path)
  outputs = encoder(_inputs(exp), training=False)
  np.testing.assert_allclose(outputs["pooled_output"], exp["pooled_output"],
                             **TOL)
  np.testing.assert_allclose(outputs["sequence_output"],
                             exp["sequence_output"], **TOL)
  np.testing.assert_allclose(np.stack(outputs["encoder_outputs"]),
                             exp["all_encoder_layers"], **TOL)
  mlm = encoder.mlm(dict(_inputs(exp),
                         masked_lm_positions=exp["masked_lm_positions"]))
  log_probs = tf.nn.log_softmax(mlm["mlm_logits"]).numpy()
  np.testing.assert_allclose(log_probs.reshape(exp["masked_lm_log_probs"].shape),
                             exp["masked_lm_log_probs"], **TOL)
  info = encoder.signatures["tokenization_info"]()
  assert info["vocab_file"].numpy().decode() == encoder.sp_model_file.asset_path
  assert bool(info["do_lower_case"].numpy())
  assert not hasattr(encoder, "vocab_file")


def test_run_classifier_with_tfhub_on_the_module(exported, tmp_path):
  """Google's hub runner fine-tunes the ALBERT module: at learning rate 0
  test_results.tsv is the reference ALBERT encoder + the run's head on the
  run's own predict.tf_record features (tokenized with the module's
  SentencePiece model)."""
  name = "tiny"
  path = exported(name)
  out = str(tmp_path / "out")
  run_main(run_classifier_with_tfhub.main, "--do_train", "--do_predict",
           bert_hub_module_handle=path, task_name="MRPC",
           data_dir=fixture_path("classifier", "mrpc"), output_dir=out,
           max_seq_length=32, learning_rate=0.0, num_train_epochs=0.2,
           train_batch_size=8, seed=1)
  features = next(iter(classification.file_based_input_fn_builder(
      os.path.join(out, "predict.tf_record"), 32, False, False)(
          {"batch_size": 100})))
  model, _ = harness.load_albert(name)
  pooled = model(features["input_ids"], features["input_mask"],
                 features["segment_ids"]).pooled_output
  trained = tf.train.load_checkpoint(tf.train.latest_checkpoint(out))
  logits = (pooled.numpy() @ trained.get_tensor("output_weights").T +
            trained.get_tensor("output_bias"))
  np.testing.assert_allclose(read_tsv_floats(os.path.join(
      out, "test_results.tsv")), tf.nn.softmax(logits).numpy(), atol=1e-5)
  # The features are the module tokenizer's: lower-cased SentencePiece.
  tokenizer = tokenization.FullTokenizer(None, spm_model_file=SPM)
  first = open(fixture_path("classifier", "mrpc", "test.tsv")).readlines()[1]
  text_a = tokenization.preprocess_text(first.split("\t")[3], lower=True)
  ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text_a))
  np.testing.assert_array_equal(features["input_ids"][0, 1:1 + 5], ids[:5])


def test_export_options_and_errors(tmp_path):
  """Files named one by one (no directory); a checkpoint without the
  masked-LM head gives a module without `mlm`; a BERT config is refused by
  name; a missing checkpoint names --checkpoint_name."""
  model, _ = harness.load_albert("tiny")
  encoder_only = checkpoints.save_checkpoint(model,
                                             str(tmp_path / "encoder.ckpt"))
  path = str(tmp_path / "module")
  run_main(export_to_tfhub.main,
           albert_config_file=harness.albert_fixture("tiny",
                                                     "albert_config.json"),
           checkpoint_name=encoder_only, spm_model_file=SPM,
           export_path=path, do_lower_case=False)
  loaded = tf.saved_model.load(path)
  assert not hasattr(loaded, "mlm")
  assert hub_lib.read_tokenizer_files(path).do_lower_case is False
  with pytest.raises(ValueError, match="is a BERT config"):
    run_main(export_to_tfhub.main,
             albert_config_file=harness.write_config(tmp_path),
             checkpoint_name=encoder_only, spm_model_file=SPM,
             export_path=str(tmp_path / "bert"))
  os.makedirs(tmp_path / "empty")
  shutil.copy(harness.albert_fixture("tiny", "albert_config.json"),
              tmp_path / "empty")
  with pytest.raises(ValueError, match="--checkpoint_name=model.ckpt-best: "
                     "no checkpoint"):
    run_main(export_to_tfhub.main, albert_directory=str(tmp_path / "empty"),
             export_path=str(tmp_path / "none"))
