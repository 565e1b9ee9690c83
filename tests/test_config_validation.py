# coding=utf-8
"""Tests of the config checks: every BertConfig field, a bad value each.

`modeling.load_config(path)` (what scripts call) and `BertModel(config)`
refuse a config before any work, naming the file and the field; Google's
`BertConfig(...)` constructor itself still accepts anything.
"""

import json

import pytest

from conftest import fixture_path
import modeling
import validation

TINY = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 37,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
        "type_vocab_size": 2, "initializer_range": 0.02}

SIZES = ["vocab_size", "hidden_size", "num_hidden_layers",
         "num_attention_heads", "intermediate_size",
         "max_position_embeddings", "type_vocab_size"]


def write_config(tmp_path, values, text=None):
  path = tmp_path / "bert_config.json"
  path.write_text(text if text is not None else json.dumps(values))
  return str(path)


def load_error(tmp_path, values):
  """The one-line message load_config raises for `values`."""
  path = write_config(tmp_path, values)
  with pytest.raises(validation.UsageError) as info:
    modeling.load_config(path)
  message = str(info.value)
  assert "\n" not in message
  assert message.startswith("BERT config file %s: " % path), message
  return message[len("BERT config file %s: " % path):]


@pytest.mark.parametrize("field", SIZES)
@pytest.mark.parametrize("value,why", [
    ("32", "must be an integer >= 1, not a string"),
    (32.0, "must be an integer >= 1, not a float"),
    (0, "must be >= 1"),
    (-4, "must be >= 1"),
    (None, "must be an integer >= 1, not null"),
    (True, "must be an integer >= 1, not true/false"),
])
def test_each_size_field_refuses_a_bad_value(tmp_path, field, value, why):
  values = dict(TINY, **{field: value})
  assert load_error(tmp_path, values) == '"%s": %s %s' % (
      field, json.dumps(value), why)


@pytest.mark.parametrize("field", ["hidden_dropout_prob",
                                   "attention_probs_dropout_prob"])
@pytest.mark.parametrize("value,why", [
    (1.0, "must be in [0, 1)"),
    (-0.1, "must be in [0, 1)"),
    ("0.1", "must be a finite number in [0, 1), not a string"),
    (float("nan"), "must be a finite number in [0, 1)"),
])
def test_each_dropout_field_refuses_a_bad_value(tmp_path, field, value, why):
  message = load_error(tmp_path, dict(TINY, **{field: value}))
  assert message == '"%s": %s %s' % (field, json.dumps(value), why)


@pytest.mark.parametrize("value,why", [
    (0, "must be > 0"), (-0.02, "must be > 0"),
    ("0.02", "must be a finite number > 0, not a string")])
def test_initializer_range_refuses_a_bad_value(tmp_path, value, why):
  message = load_error(tmp_path, dict(TINY, initializer_range=value))
  assert message == '"initializer_range": %s %s' % (json.dumps(value), why)


@pytest.mark.parametrize("value", ["swish", "", 3, None])
def test_hidden_act_refuses_an_unknown_activation(tmp_path, value):
  message = load_error(tmp_path, dict(TINY, hidden_act=value))
  assert message == ('"hidden_act": %s must be one of "gelu", "relu", "tanh", '
                     '"linear"' % json.dumps(value))


def test_every_bad_field_is_named_in_one_line(tmp_path):
  message = load_error(tmp_path, dict(TINY, hidden_size="32",
                                      hidden_dropout_prob=1.0))
  assert message == ('"hidden_size": "32" must be an integer >= 1, not a '
                     'string; "hidden_dropout_prob": 1.0 must be in [0, 1)')


def test_heads_must_divide_the_hidden_size(tmp_path):
  message = load_error(tmp_path, dict(TINY, hidden_size=30))
  assert message == ("the hidden size (30) is not a multiple of the number of "
                     "attention heads (4)")


@pytest.mark.parametrize("field", SIZES)
def test_a_missing_size_is_an_error(tmp_path, field):
  values = dict(TINY)
  del values[field]
  message = load_error(tmp_path, values)
  assert message.startswith('missing "%s" (no default is assumed' % field)


def test_a_misspelled_size_is_pointed_out(tmp_path):
  values = dict(TINY)
  values["hidden_sizes"] = values.pop("hidden_size")
  message = load_error(tmp_path, values)
  assert '"hidden_sizes" for "hidden_size"?' in message


def test_missing_optional_fields_fall_back_with_one_warning(tmp_path, caplog):
  values = {k: v for k, v in TINY.items()
            if k not in ("hidden_act", "hidden_dropout_prob",
                         "initializer_range")}
  path = write_config(tmp_path, values)
  with caplog.at_level("WARNING"):
    config = modeling.load_config(path)
    # A script reads its config twice (the checks before main, then main):
    # the warning is not repeated.
    modeling.load_config(path)
  assert (config.hidden_act, config.hidden_dropout_prob,
          config.initializer_range) == ("gelu", 0.1, 0.02)
  warnings = [r.getMessage() for r in caplog.records
              if r.levelname == "WARNING"]
  assert len(warnings) == 1
  assert warnings[0].startswith(
      'BERT config file %s does not set "hidden_act", "hidden_dropout_prob", '
      '"initializer_range"; using the defaults hidden_act="gelu", '
      'hidden_dropout_prob=0.1, initializer_range=0.02.' %
      (tmp_path / "bert_config.json"))


def test_googles_config_loads_without_a_warning(caplog):
  with caplog.at_level("WARNING"):
    config = modeling.load_config(fixture_path("modeling", "bert_config.json"))
  assert not [r for r in caplog.records if r.levelname == "WARNING"]
  assert config.hidden_size == 32  # the fixture is Google's tiny test config


def test_extra_keys_and_upper_case_activation_are_accepted(tmp_path):
  # Released configs carry extra keys; Google lower-cases the activation.
  config = modeling.load_config(write_config(
      tmp_path, dict(TINY, hidden_act="GELU", directionality="bidi")))
  assert config.directionality == "bidi"


@pytest.mark.parametrize("text,message", [
    ("{'vocab_size': 3}", "is not valid JSON"),
    ("[1, 2]", "must hold a JSON object, not list"),
])
def test_file_errors_name_the_file(tmp_path, text, message):
  path = write_config(tmp_path, None, text=text)
  with pytest.raises(validation.UsageError, match=message) as info:
    modeling.load_config(path)
  assert path in str(info.value)
  with pytest.raises(validation.UsageError) as info:
    modeling.load_config(str(tmp_path / "none.json"))
  assert str(info.value) == "BERT config file %s: no such file" % (
      tmp_path / "none.json")


def test_constructor_accepts_anything_the_model_refuses():
  # Google's modeling_test builds hidden 37 with 12 heads to serialise it.
  config = modeling.BertConfig(vocab_size=99, hidden_size=37)
  assert config.to_dict()["hidden_size"] == 37
  with pytest.raises(validation.UsageError) as info:
    modeling.BertModel(config)
  assert str(info.value) == ("BertConfig: the hidden size (37) is not a "
                             "multiple of the number of attention heads (12)")
  bad = modeling.BertConfig(**dict(TINY, intermediate_size=0))
  with pytest.raises(validation.UsageError) as info:
    modeling.BertModel(bad)  # was a oneDNN abort
  assert str(info.value) == 'BertConfig: "intermediate_size": 0 must be >= 1'
  bad = modeling.BertConfig(**dict(TINY, hidden_dropout_prob=1.0))
  with pytest.raises(validation.UsageError, match="must be in"):
    modeling.BertModel(bad)  # was a division by zero in dropout


def test_albert_extends_the_same_table(tmp_path):
  albert_fields = modeling.BERT_CONFIG_FIELDS + (
      validation.int_field("embedding_size"),
      validation.int_field("num_hidden_groups"),
      validation.int_field("inner_group_num"),
      validation.int_field("down_scale_factor", required=False, default=1),
  )
  values = dict(TINY, embedding_size=16, num_hidden_groups=1,
                inner_group_num=1)
  assert validation.check_config(values, albert_fields, "ALBERT config") == [
      "down_scale_factor"]
  with pytest.raises(validation.UsageError) as info:
    validation.check_config(dict(values, embedding_size=0), albert_fields,
                            "ALBERT config")
  assert str(info.value) == 'ALBERT config: "embedding_size": 0 must be >= 1'
  with pytest.raises(validation.UsageError, match='missing "inner_group_num"'):
    validation.check_config({k: v for k, v in values.items()
                             if k != "inner_group_num"}, albert_fields,
                            "ALBERT config")


def test_a_binary_config_file_is_named(tmp_path):
  path = tmp_path / "bert_config.json"
  path.write_bytes(b"\xff\xfe{\x00")
  with pytest.raises(validation.UsageError) as info:
    modeling.load_config(str(path))
  assert str(info.value).startswith(
      "BERT config file %s cannot be read: 'utf-8' codec can't decode" % path)
  with pytest.raises(validation.UsageError) as info:
    modeling.load_config(str(tmp_path))
  assert str(info.value) == ("BERT config file %s: is a directory, not a file"
                             % tmp_path)
