"""hub_lib.py and run_classifier_with_tfhub.py on every TF Hub module format.

Fixtures (tests/fixtures/hub/, see tests/fixtures/README.md): tiny modules
written by the code that wrote the real ones (Model Garden's two exporters,
tensorflow-hub 0.15's TF1 writer) from Google's tiny checkpoint, with Google's
outputs on them and the variable names they really hold. No network: URL
handles are resolved from a TFHUB_CACHE_DIR built here, with the proxies
pointed at a closed port.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
from conftest import ROOT
import checkpoints
from harness import run_main
import hub_lib
import modeling
import run_classifier
import run_classifier_with_tfhub
from test_run_classifier_main import read_tsv_floats

FORMATS = ("official_tf2", "legacy_list", "tf1")
TF1_HANDLE = "https://tfhub.dev/google/bert_uncased_L-12_H-768_A-12/1"
TF2_HANDLE = "https://tfhub.dev/tensorflow/bert_en_uncased_L-12_H-768_A-12/3"
# The cache folders of these handles in the reference tfhub_cache/.
CACHE_FOLDERS = {TF1_HANDLE: ("5a395eafef2a37bd9fc55d7f6ae676d2a134a838",
                              "tf1"),
                 TF2_HANDLE: ("590d7d0ea1d4e227b197a3512d641a1af6b36db1",
                              "official_tf2")}
CONFIG_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers",
                 "num_attention_heads", "intermediate_size",
                 "max_position_embeddings", "type_vocab_size")


def hub_fixture(*parts):
  """Path under tests/fixtures/hub/."""
  return fixture_path("hub", *parts)


def _expected():
  """Google's outputs on the modules' probe batch (expected.npz)."""
  return np.load(hub_fixture("expected.npz"))


def test_tensorflow_hub_imports():
  """The pinned tensorflow-hub imports (it needs pkg_resources)."""
  import pkg_resources  # pylint: disable=g-import-not-at-top,unused-import
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  assert callable(hub.resolve) and callable(hub.KerasLayer)


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_reproduces_google(name):
  """Each format loads, with its tokenizer, and gives Google's outputs."""
  encoder = hub_lib.load_encoder(hub_fixture(name))
  assert encoder.kind == {"official_tf2": "dict", "legacy_list": "list",
                          "tf1": "tf1"}[name]
  assert encoder.vocab_file == hub_fixture(name, "assets", "vocab.txt")
  assert encoder.do_lower_case is True
  expected = _expected()
  pooled, sequence = encoder(expected["input_ids"], expected["input_mask"],
                             expected["segment_ids"])
  np.testing.assert_allclose(pooled, expected["pooled_output"], atol=1e-5)
  np.testing.assert_allclose(sequence, expected["sequence_output"],
                             atol=1e-5)
  assert len(encoder.trainable_variables) == 39
  reference = modeling.BertConfig.from_json_file(
      hub_fixture("bert_config.json"))
  for field in CONFIG_FIELDS:
    assert getattr(encoder.bert_config, field) == getattr(reference, field)


def test_tf1_module_is_a_google_checkpoint():
  """tf1/: 39 bert/ names, the vocabulary from the asset records (not the
  'SAVEDMODEL-ASSET' string of its signature), the head count found by the
  probe (4: the fixture's weights make a wrong count visible)."""
  path = hub_fixture("tf1")
  names = checkpoints.list_checkpoint_variables(
      os.path.join(path, "variables", "variables"))
  assert len(names) == 39 and all(n.startswith("bert/") for n in names)
  info = tf.saved_model.load(path, tags=[]).signatures["tokenization_info"]()
  assert info["vocab_file"].numpy() == b"SAVEDMODEL-ASSET"
  assert hub_lib.tf1_vocab_file(path) == os.path.join(path, "assets",
                                                      "vocab.txt")
  assert hub_lib.load_encoder(path).bert_config.num_attention_heads == 4


def _names_table():
  """names.txt rows: (module, variable, shape, google_name)."""
  rows = []
  with open(hub_fixture("names.txt")) as f:
    next(f)
    for line in f:
      module, variable, shape, _, _, google = line.rstrip("\n").split("\t")
      rows.append((module, variable, shape, google))
  return rows


def test_name_mapping_is_the_modules_real_one():
  """google_name / model_garden_name / shapes agree with names.txt (found by
  comparing values), and the values map both ways onto Google's checkpoint."""
  rows = [r for r in _names_table() if r[0] != "tf1" and r[3] != "-"]
  assert len(rows) == 78
  for _, variable, _, google in rows:
    assert hub_lib.google_name(variable) == google + ":0"
    assert hub_lib.model_garden_name(google) == variable[:-2]
  assert hub_lib.google_name("transformer/layer_3/output/kernel/adam_m") == (
      "bert/encoder/layer_3/output/dense/kernel/adam_m")
  assert hub_lib.google_name("output_weights") is None
  encoder = hub_lib.load_encoder(hub_fixture("official_tf2"))
  module_values = {checkpoints.variable_name(v): v.numpy()
                   for v in encoder.weights}
  google = hub_lib.to_google_values(module_values)
  reader = tf.train.load_checkpoint(
      fixture_path("modeling", "sharp", "bert_model.ckpt"))
  for name, value in google.items():
    np.testing.assert_array_equal(value, reader.get_tensor(name))
  back = hub_lib.from_google_values(
      google, {n: v.shape for n, v in module_values.items()})
  assert sorted(back) == sorted(module_values)
  for name, value in back.items():
    np.testing.assert_array_equal(value, module_values[name])


def _hub_flags(tmp_path, handle, out="out", **extra):
  """run_classifier_with_tfhub flags for MRPC at max_seq_length 32."""
  values = dict(
      data_dir=fixture_path("classifier", "mrpc"), task_name="mrpc",
      bert_hub_module_handle=handle, output_dir=str(tmp_path / out),
      max_seq_length=32, train_batch_size=8, seed=1, do_train=True,
      do_predict=True)
  values.update(extra)
  return values


def _check_run_at_rate_zero(out_dir):
  """predict.tf_record = Google's features; test_results.tsv = Google's
  pooled output through the run's own head."""
  mrpc = np.load(hub_fixture("mrpc_test.npz"))
  input_fn = run_classifier.file_based_input_fn_builder(
      os.path.join(out_dir, "predict.tf_record"), 32, is_training=False,
      drop_remainder=False)
  features = next(iter(input_fn({"batch_size": 100})))
  for key in ("input_ids", "input_mask", "segment_ids"):
    np.testing.assert_array_equal(features[key], mrpc[key])
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(out_dir))
  logits = (mrpc["pooled_output"] @ reader.get_tensor("output_weights").T +
            reader.get_tensor("output_bias"))
  expected = tf.nn.softmax(logits).numpy()
  got = read_tsv_floats(os.path.join(out_dir, "test_results.tsv"))
  np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("name", FORMATS)
def test_runner_on_each_format(tmp_path, name):
  """run_classifier_with_tfhub.py end to end on each format: Google's
  features and numbers at learning rate 0; training moves the encoder, and
  the fine-tuned encoder is written under Google's names (for Model
  Garden's module, run_classifier.py then predicts as the hub run did)."""
  handle = hub_fixture(name)
  run_main(run_classifier_with_tfhub.main,
           **_hub_flags(tmp_path, handle, "zero", learning_rate=0.0,
                        num_train_epochs=0.2))
  _check_run_at_rate_zero(str(tmp_path / "zero"))

  run_main(run_classifier_with_tfhub.main,
           **_hub_flags(tmp_path, handle, "trained", learning_rate=1e-2,
                        num_train_epochs=0.4))
  out = str(tmp_path / "trained")
  trained = tf.train.load_checkpoint(tf.train.latest_checkpoint(out))
  encoder_name = {"tf1": "bert/pooler/dense/kernel"}.get(
      name, "pooler_transform/kernel")
  original = tf.train.load_checkpoint(
      fixture_path("modeling", "sharp", "bert_model.ckpt")).get_tensor(
          "bert/pooler/dense/kernel")
  assert np.abs(trained.get_tensor(encoder_name) - original).max() > 1e-3
  google = os.path.join(out, "google_model")
  names = checkpoints.list_checkpoint_variables(
      os.path.join(google, "bert_model.ckpt"))
  bert_names = [n for n in names if n.startswith("bert/")]
  assert len([n for n in bert_names if not n.endswith(("adam_m", "adam_v"))
             ]) == 39
  assert "output_weights" in names and "global_step" in names
  np.testing.assert_array_equal(
      tf.train.load_checkpoint(os.path.join(google, "bert_model.ckpt"))
      .get_tensor("bert/pooler/dense/kernel"),
      trained.get_tensor(encoder_name))
  config = modeling.BertConfig.from_json_file(
      os.path.join(google, "bert_config.json"))
  assert config.num_attention_heads == 4 and config.vocab_size == 99
  with open(os.path.join(google, "vocab.txt")) as f:
    assert f.read() == open(hub_fixture("vocab.txt")).read()
  if name == "official_tf2":
    _check_google_model_in_run_classifier(tmp_path, out)


def _check_google_model_in_run_classifier(tmp_path, hub_out):
  """The name mapping round-trips: the google_model/ written after
  fine-tuning gives run_classifier.py (Google's names and shapes) the hub
  run's predictions."""
  google = os.path.join(hub_out, "google_model")
  run_main(run_classifier.main,
           data_dir=fixture_path("classifier", "mrpc"), task_name="mrpc",
           vocab_file=os.path.join(google, "vocab.txt"),
           bert_config_file=os.path.join(google, "bert_config.json"),
           init_checkpoint=os.path.join(google, "bert_model.ckpt"),
           output_dir=str(tmp_path / "google"), max_seq_length=32,
           learning_rate=1e-2, do_predict=True)
  hub_results = read_tsv_floats(os.path.join(hub_out, "test_results.tsv"))
  google_results = read_tsv_floats(
      str(tmp_path / "google" / "test_results.tsv"))
  np.testing.assert_allclose(google_results, hub_results, atol=1e-5)
  # Fine-tuning changed them, so equal results are no accident.
  assert np.abs(hub_results - hub_results[:1]).max() > 1e-4


def _offline(monkeypatch, cache_dir):
  """TFHUB_CACHE_DIR = cache_dir; every proxy a closed local port."""
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache_dir))
  for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
    monkeypatch.setenv(name, "http://127.0.0.1:9")
  for name in ("no_proxy", "NO_PROXY"):
    monkeypatch.setenv(name, "")


def _make_cache(directory):
  """A copy of the reference tfhub_cache/: the modules under the sha1 of
  the two real handles, with tensorflow_hub's descriptor files."""
  for handle, (folder, module) in CACHE_FOLDERS.items():
    assert hub_lib.cache_folder_name(handle) == folder
    shutil.copytree(hub_fixture(module), os.path.join(str(directory), folder))
    with open(os.path.join(str(directory), folder + ".descriptor.txt"),
              "w") as f:
      f.write("Module: %s\n" % handle)
  return sorted(os.listdir(str(directory)))


def test_url_handles_resolve_from_the_cache_offline(tmp_path, monkeypatch):
  """With the modules in TFHUB_CACHE_DIR and the network cut off, the two
  tfhub.dev handles load and the TF1 one runs as tf1/ does; the cache is
  left as it was."""
  cache = tmp_path / "cache"
  cache.mkdir()
  listing = _make_cache(cache)
  _offline(monkeypatch, cache)
  expected = _expected()
  for handle, (folder, _) in CACHE_FOLDERS.items():
    encoder = hub_lib.load_encoder(handle)
    assert encoder.path == str(cache / folder)
    pooled, _ = encoder(expected["input_ids"], expected["input_mask"],
                        expected["segment_ids"])
    np.testing.assert_allclose(pooled, expected["pooled_output"], atol=1e-5)
  run_main(run_classifier_with_tfhub.main,
           **_hub_flags(tmp_path, TF1_HANDLE, "zero", learning_rate=0.0,
                        num_train_epochs=0.2))
  _check_run_at_rate_zero(str(tmp_path / "zero"))
  assert sorted(os.listdir(str(cache))) == listing


def test_unresolvable_handle_fails_first_in_one_line(tmp_path, monkeypatch):
  """An empty cache, no network: one line naming the handle, the reason and
  the cache folder to fill, before --output_dir exists; nothing left in the
  cache."""
  cache = tmp_path / "empty_cache"
  cache.mkdir()
  _offline(monkeypatch, cache)
  out = tmp_path / "out"
  with pytest.raises(hub_lib.HandleError) as error:
    run_main(run_classifier_with_tfhub.main,
             **_hub_flags(tmp_path, TF1_HANDLE, learning_rate=0.0))
  message = str(error.value)
  assert "\n" not in message
  assert TF1_HANDLE in message
  assert os.path.join(str(cache), CACHE_FOLDERS[TF1_HANDLE][0]) in message
  assert "TFHUB_CACHE_DIR" in message and "local module directory" in message
  assert not out.exists()
  assert os.listdir(str(cache)) == []
  with pytest.raises(hub_lib.HandleError, match="no such directory"):
    hub_lib.load_encoder(str(tmp_path / "missing"))


GOOGLE_FLAG_SCRIPT = """
import sys
from absl import flags
import hub_lib
assert "tensorflow_hub" not in sys.modules
flags.FLAGS(["prog", "--tfhub_cache_dir=" + sys.argv[1]])
print(hub_lib.resolve_handle(sys.argv[2]))
"""


def test_googles_tfhub_cache_dir_flag(tmp_path):
  """--tfhub_cache_dir (Google's script imported tensorflow_hub, which
  defines it) parses and works though tensorflow_hub is imported lazily."""
  cache = tmp_path / "cache"
  cache.mkdir()
  _make_cache(cache)
  env = dict(os.environ, PYTHONPATH=ROOT, https_proxy="http://127.0.0.1:9",
             HTTPS_PROXY="http://127.0.0.1:9", no_proxy="", NO_PROXY="")
  env.pop("TFHUB_CACHE_DIR", None)
  result = subprocess.run(
      [sys.executable, "-c", GOOGLE_FLAG_SCRIPT, str(cache), TF2_HANDLE],
      env=env, capture_output=True, text=True, timeout=600, check=True)
  assert result.stdout.split() == [str(cache / CACHE_FOLDERS[TF2_HANDLE][0])]
