"""SavedModel export (export_lib.py) and run_classifier_with_tfhub.py."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from conftest import fixture_path
import checkpoints
import export_lib
import harness
import modeling
import run_classifier
import run_classifier_with_tfhub
from harness import read_eval_results
from harness import run_main
from test_run_classifier_main import common_flags
from test_run_classifier_main import read_tsv_floats
from test_run_classifier_main import save_random_classifier


def _graph_ops(export_dir):
  """Every op type in a SavedModel's graphs and function library."""
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  ops = set()
  for meta_graph in proto.meta_graphs:
    ops.update(n.op for n in meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
      ops.update(n.op for n in function.node_def)
  return ops


def _records(path, seq_length):
  input_fn = run_classifier.file_based_input_fn_builder(
      path, seq_length, is_training=False, drop_remainder=False)
  return next(iter(input_fn({"batch_size": 1000})))


def test_classifier_export_equals_predict(tmp_path):
  """--export_dir SavedModel == the predict path (test_results.tsv)."""
  init = save_random_classifier(tmp_path, 2, seed=3)
  export_dir = str(tmp_path / "export")
  run_main(run_classifier.main,
           **common_flags(tmp_path, task_name="mrpc", do_predict=True,
                          init_checkpoint=init, export_dir=export_dir))
  out = tmp_path / "out"
  expected = read_tsv_floats(str(out / "test_results.tsv"))
  loaded = tf.saved_model.load(export_dir)
  serve = loaded.signatures["serving_default"]
  features = _records(str(out / "predict.tf_record"), 32)
  got = serve(input_ids=features["input_ids"],
              input_mask=features["input_mask"],
              segment_ids=features["segment_ids"])["probabilities"].numpy()
  np.testing.assert_allclose(got, expected, atol=1e-5)
  # Core ops only: every op type is one TensorFlow itself registers (no
  # custom-op library needed by TF Serving).
  core = set(dir(tf.raw_ops))
  ops = _graph_ops(export_dir)
  assert "Softmax" in ops and ops <= core, sorted(ops - core)


def _google_encoder():
  """BertModel with the weights of Google's tiny checkpoint."""
  config = modeling.BertConfig.from_json_file(
      fixture_path("modeling", "sharp", "bert_config.json"))
  model = modeling.BertModel(config)
  checkpoints.restore(model, fixture_path("modeling", "sharp",
                                          "bert_model.ckpt"))
  return model


def test_hub_encoder_convention(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("".join("tok%d\n" % i for i in range(99)))
  module_dir = str(tmp_path / "hub")
  export_lib.export_hub_encoder(_google_encoder(), module_dir, str(vocab),
                                do_lower_case=False)
  module, vocab_file, do_lower_case = export_lib.load_hub_encoder(module_dir)
  assert do_lower_case is False
  assert vocab_file.startswith(os.path.join(module_dir, "assets"))
  with open(vocab_file) as f:
    assert f.read() == vocab.read_text()
  expected = np.load(fixture_path("modeling", "sharp", "expected.npz"))
  outputs = module({"input_word_ids": expected["input_ids"],
                    "input_mask": expected["input_mask"],
                    "input_type_ids": expected["segment_ids"]},
                   training=False)
  np.testing.assert_allclose(outputs["pooled_output"],
                             expected["pooled_output"], atol=1e-5)
  np.testing.assert_allclose(outputs["sequence_output"],
                             expected["sequence_output"], atol=1e-5)
  np.testing.assert_allclose(np.stack(outputs["encoder_outputs"]),
                             expected["all_encoder_layers"], atol=1e-5)
  names = sorted(v.name for v in module.trainable_variables)
  assert len(names) == 5 + 16 * 2 + 2
  assert names[0] == "bert/embeddings/LayerNorm/beta:0"
  # training=True was traced too (dropout: outputs differ between calls).
  inputs = {"input_word_ids": expected["input_ids"],
            "input_mask": expected["input_mask"],
            "input_type_ids": expected["segment_ids"]}
  a = module(inputs, training=True)["pooled_output"].numpy()
  b = module(inputs, training=True)["pooled_output"].numpy()
  assert np.abs(a - b).max() > 1e-4
  signature = module.signatures["serving_default"]
  np.testing.assert_allclose(
      signature(**{k: tf.constant(v) for k, v in inputs.items()})[
          "pooled_output"], expected["pooled_output"], atol=1e-5)


def test_not_a_module_is_named(tmp_path):
  with pytest.raises(ValueError, match="no saved_model.pb"):
    export_lib.load_hub_encoder(str(tmp_path))


def test_run_classifier_with_tfhub(tmp_path):
  """Google's tfhub runner on a module exported here: train, eval, predict."""
  tf.random.set_seed(0)
  encoder = harness.tiny_encoder()
  module_dir = str(tmp_path / "hub")
  export_lib.export_hub_encoder(encoder, module_dir,
                                fixture_path("vocab_uncased.txt"), True)
  flags_ = common_flags(tmp_path, task_name="MRPC", do_train=True,
                        do_eval=True, do_predict=True, num_train_epochs=1,
                        bert_hub_module_handle=module_dir)
  # Ignored here, as in Google's script: the module provides them.
  del flags_["vocab_file"], flags_["bert_config_file"]
  run_main(run_classifier_with_tfhub.main, **flags_)
  out = tmp_path / "out"
  results = read_eval_results(str(out / "eval_results.txt"))
  assert sorted(results) == ["eval_accuracy", "eval_loss", "global_step",
                             "loss"]
  assert results["global_step"] == "5"
  probabilities = read_tsv_floats(str(out / "test_results.tsv"))
  assert probabilities.shape == (20, 2)
  # The checkpoint uses Google's names, so run_classifier can read it.
  names = dict(tf.train.list_variables(str(out / "model.ckpt-5")))
  assert names["output_weights"] == [2, 32]
  assert names["bert/pooler/dense/kernel"] == [32, 32]
  # Fine-tuning reached into the module's weights.
  trained = tf.train.load_checkpoint(str(out / "model.ckpt-5"))
  assert np.abs(trained.get_tensor("bert/pooler/dense/kernel") -
                encoder.pooler.kernel.numpy()).max() > 0


def test_tfhub_rejects_predict_only(tmp_path):
  """Google's quirk, kept: --do_predict alone is refused."""
  with pytest.raises(ValueError, match="`do_train` or `do_eval`"):
    run_main(run_classifier_with_tfhub.main,
             **common_flags(tmp_path, task_name="mrpc", do_predict=True,
                            bert_hub_module_handle=str(tmp_path)))


def test_export_lib_command_line(tmp_path):
  """`python export_lib.py` on a Google-layout model directory: the module
  loads with the checkpoint's weights and the directory's vocabulary."""
  model_dir = harness.google_model_dir(tmp_path / "model")
  module_dir = str(tmp_path / "module")
  harness.run_script("export_lib.py", [
      "--bert_config_file=" + model_dir["bert_config_file"],
      "--init_checkpoint=" + model_dir["init_checkpoint"],
      "--vocab_file=" + model_dir["vocab_file"], "--do_lower_case=False",
      "--export_dir=" + module_dir])
  module, vocab_file, do_lower_case = export_lib.load_hub_encoder(module_dir)
  assert do_lower_case is False
  with open(vocab_file, "rb") as f, open(harness.VOCAB, "rb") as g:
    assert f.read() == g.read()
  reader = tf.train.load_checkpoint(model_dir["init_checkpoint"])
  weights = {v.name: v.numpy() for v in module.variables}
  np.testing.assert_array_equal(
      weights["bert/pooler/dense/kernel:0"],
      reader.get_tensor("bert/pooler/dense/kernel"))
