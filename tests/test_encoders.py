"""encoders.py: the registry of encoder families (detection from the config
file, an explicit family, the checkpoint names without building a model)."""

import json

import pytest
import tensorflow as tf

from conftest import fixture_path
from albert import modeling as albert_modeling
from albert import tokenization as albert_tokenization
import checkpoints
import encoders
import harness
import modeling
import tokenization


def write_json(path, values):
  path.write_text(json.dumps(values))
  return str(path)


def test_bert_is_registered_and_detected(tmp_path):
  assert encoders.family_names() == ["bert", "albert"]
  config_file = harness.write_config(tmp_path)
  family = encoders.detect_family(config_file)
  assert family is encoders.get_family("bert")
  family, config = encoders.load_config(config_file)
  assert family.name == "bert" and isinstance(config, modeling.BertConfig)
  assert config.hidden_size == harness.TINY_CONFIG["hidden_size"]
  # Google's released config (extra keys such as directionality) is BERT.
  assert encoders.detect_family(
      fixture_path("modeling", "bert_config.json")).name == "bert"


def test_albert_is_registered_and_detected(tmp_path):
  # ALBERT's own released-style config (with keys its model never reads).
  path = harness.albert_fixture("tiny", "albert_config.json")
  family, config = encoders.load_config(path)
  assert family is encoders.get_family("albert")
  assert family.config_file_flag == "albert_config_file"
  assert type(config) is albert_modeling.AlbertConfig
  assert config.embedding_size == 16 and config.net_structure_type == 0
  assert encoders.family_for_config(config) is family
  # Any one of ALBERT's keys makes a config ALBERT's.
  for key in ("embedding_size", "num_hidden_groups", "inner_group_num"):
    one_key = write_json(tmp_path / ("%s.json" % key),
                         dict(harness.TINY_CONFIG, **{key: 1}))
    assert encoders.detect_family(one_key).name == "albert"


def test_a_config_file_of_the_other_family_is_named(tmp_path):
  albert_file = harness.albert_fixture("tiny", "albert_config.json")
  with pytest.raises(ValueError) as e:
    encoders.load_config(albert_file, "bert")
  assert str(e.value) == (
      "%s is an ALBERT config (it has embedding_size, num_hidden_groups, "
      "inner_group_num), not a BERT one: use --encoder_family=albert (or "
      "auto) and pass it as --albert_config_file." % albert_file)
  bert_file = harness.write_config(tmp_path)
  with pytest.raises(ValueError) as e:
    encoders.load_config(bert_file, "albert")
  assert str(e.value) == (
      "%s is a BERT config (it has none of ALBERT's keys embedding_size, "
      "num_hidden_groups, inner_group_num), not an ALBERT one: use "
      "--encoder_family=bert (or auto) and pass it as --bert_config_file." %
      bert_file)
  # And a config object given to the other family's model.
  albert_config = albert_modeling.AlbertConfig.from_json_file(albert_file)
  with pytest.raises(ValueError, match="BertModel got an ALBERT config"):
    encoders.get_family("bert").create_model(albert_config)
  with pytest.raises(ValueError, match="AlbertModel got a BERT config"):
    encoders.get_family("albert").create_model(harness.tiny_config())


@pytest.mark.parametrize("name", harness.ALBERT_MODELS)
def test_albert_variable_names_without_building_equal_the_models(name):
  family, config = encoders.load_config(
      harness.albert_fixture(name, "albert_config.json"))
  model = encoders.EncoderSpec(family, config).create(
      compute_dtype=tf.bfloat16, use_one_hot_embeddings=True,
      is_training=True)
  assert isinstance(model, albert_modeling.AlbertModel)
  assert model.compute_dtype == tf.bfloat16 and model.use_one_hot_embeddings
  assert model.is_training
  names = family.variable_names(config)
  assert sorted(names) == sorted(checkpoints.variable_name(v)
                                 for v in model.variables)
  ckpt = tf.train.list_variables(harness.albert_fixture(name,
                                                        "model.ckpt-best"))
  assert sorted(names) == sorted(n for n, _ in ckpt if n.startswith("bert/"))


def test_albert_tokenizers():
  family = encoders.get_family("albert")
  spm = family.create_tokenizer(
      spm_model_file=fixture_path("albert", "spm_tiny.model"))
  assert isinstance(spm, albert_tokenization.FullTokenizer)
  assert spm.sp_model is not None
  assert spm.convert_tokens_to_ids(["[CLS]", "[SEP]", "[MASK]"]) == [2, 3, 4]
  # Not lower-cased: ALBERT's callers preprocess the text first.
  assert spm.tokenize("Hello") != spm.tokenize("hello")
  wordpiece = family.create_tokenizer(
      vocab_file=fixture_path("vocab_uncased.txt"), do_lower_case=True)
  assert wordpiece.sp_model is None
  assert wordpiece.tokenize("UNwant\u00e9d") == ["unwanted"]
  with pytest.raises(ValueError, match="spm_model_file"):
    family.create_tokenizer()


def test_unknown_family_and_bad_config_files(tmp_path):
  with pytest.raises(ValueError, match="Unknown --encoder_family=gpt "
                     r"\(registered: bert, albert\)"):
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
