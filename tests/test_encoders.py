"""encoders.py: the registry of encoder families (detection from the config
file, an explicit family, the checkpoint names without building a model)."""

import json

import pytest
import tensorflow as tf

from conftest import fixture_path
import checkpoints
import encoders
import harness
import modeling
import tokenization


def write_json(path, values):
  path.write_text(json.dumps(values))
  return str(path)


def test_bert_is_registered_and_detected(tmp_path):
  assert encoders.family_names() == ["bert"]
  config_file = harness.write_config(tmp_path)
  family = encoders.detect_family(config_file)
  assert family is encoders.get_family("bert")
  family, config = encoders.load_config(config_file)
  assert family.name == "bert" and isinstance(config, modeling.BertConfig)
  assert config.hidden_size == harness.TINY_CONFIG["hidden_size"]
  # Google's released config (extra keys such as directionality) is BERT.
  assert encoders.detect_family(
      fixture_path("modeling", "bert_config.json")).name == "bert"


def test_albert_config_is_named_as_such(tmp_path):
  albert = dict(harness.TINY_CONFIG, embedding_size=16, num_hidden_groups=1,
                inner_group_num=1)
  path = write_json(tmp_path / "albert_config.json", albert)
  with pytest.raises(ValueError) as e:
    encoders.detect_family(path)
  message = str(e.value)
  assert "albert_config.json" in message and "ALBERT" in message
  assert "embedding_size" in message and "bert" in message
  # An explicit family skips detection.
  family, _ = encoders.load_config(path, "bert")
  assert family.name == "bert"


def test_unknown_family_and_bad_config_files(tmp_path):
  with pytest.raises(ValueError, match="Unknown --encoder_family=gpt "
                     r"\(registered: bert\)"):
    encoders.get_family("gpt")
  bad = tmp_path / "bad.json"
  bad.write_text("{not json")
  # Detection leaves the error to the family's reader, which names the file.
  with pytest.raises(ValueError, match="bad.json is not valid JSON"):
    encoders.load_config(str(bad))


class ToyConfig(modeling.BertConfig):
  pass


class ToyFamily(encoders.BertFamily):
  """A second family, told apart by a key of its own."""
  name = "toy"
  config_class = ToyConfig

  def matches(self, config_dict):
    return "toy_size" in config_dict


def test_a_registered_family_is_detected_and_found_by_config(tmp_path,
                                                             monkeypatch):
  monkeypatch.setattr(encoders, "_FAMILIES", dict(encoders._FAMILIES))
  toy = encoders.register(ToyFamily())
  path = write_json(tmp_path / "toy.json", dict(harness.TINY_CONFIG,
                                                toy_size=3))
  family, config = encoders.load_config(path)
  assert family is toy and type(config) is ToyConfig
  assert encoders.family_for_config(config) is toy
  assert encoders.family_for_config(
      modeling.BertConfig(vocab_size=10)).name == "bert"
  spec = encoders.EncoderSpec.from_config(config)
  assert spec.family is toy


def test_variable_names_without_building_equal_the_models(tmp_path):
  family, config = encoders.load_config(harness.write_config(tmp_path))
  model = encoders.EncoderSpec(family, config).create()
  assert isinstance(model, modeling.BertModel)
  assert sorted(family.variable_names(config)) == sorted(
      checkpoints.variable_name(v) for v in model.variables)
  assert len(family.variable_names(config)) == 5 + 16 * 2 + 2


def test_tokenizer_and_model_options():
  family = encoders.get_family("bert")
  tokenizer = family.create_tokenizer(fixture_path("vocab_uncased.txt"),
                                      do_lower_case=True)
  assert isinstance(tokenizer, tokenization.FullTokenizer)
  assert tokenizer.tokenize("UNwant\u00e9d") == ["unwanted"]
  with pytest.raises(ValueError, match="WordPiece"):
    family.create_tokenizer(spm_model_file="x.model")
  config = modeling.BertConfig.from_dict(harness.TINY_CONFIG)
  model = encoders.EncoderSpec.from_config(config).create(
      compute_dtype=tf.bfloat16, use_one_hot_embeddings=True)
  assert model.compute_dtype == tf.bfloat16 and model.use_one_hot_embeddings
