"""extract_features.py against Google's tiny-model outputs (fixtures/modeling).

The reference batch uses synthetic ids (PAD 0, UNK 1, CLS 2, SEP 3, the rest
ordinary tokens); a 99-line vocabulary whose line i is "w<i>" (i >= 4) turns
them back into text lines, which the script must tokenise into the same ids.
"""

import collections
import json

import numpy as np
import pytest

from conftest import fixture_path
import estimator_lib
import extract_features
import harness
import modeling
import tokenization

SEQ_LENGTH = 16


@pytest.fixture(scope="module")
def expected():
  return dict(np.load(fixture_path("modeling", "expected.npz")))


def write_vocab(path):
  words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + ["w%d" % i
                                                   for i in range(4, 99)]
  path.write_text("\n".join(words) + "\n")
  return str(path)


def reference_lines(expected):
  """The text lines whose features are the reference batch."""
  lines = []
  for ids, mask in zip(expected["input_ids"], expected["input_mask"]):
    ids = list(ids[:int(mask.sum())])
    assert ids[0] == 2 and ids[-1] == 3
    first_sep = ids.index(3)
    text_a = " ".join("w%d" % i for i in ids[1:first_sep])
    text_b = " ".join("w%d" % i for i in ids[first_sep + 1:-1])
    lines.append(text_a + (" ||| " + text_b if text_b else ""))
  return lines


@pytest.fixture()
def setup(tmp_path, expected):
  input_file = tmp_path / "input.txt"
  input_file.write_text("\n".join(reference_lines(expected)) + "\n")
  return {
      "input_file": str(input_file),
      "vocab_file": write_vocab(tmp_path / "vocab.txt"),
      "bert_config_file": fixture_path("modeling", "bert_config.json"),
      "init_checkpoint": fixture_path("modeling", "bert_model.ckpt"),
      "tmp_path": tmp_path,
  }


def run(setup, output_name="out.jsonl", layers=(-1, 0), **kwargs):
  config = modeling.BertConfig.from_json_file(setup["bert_config_file"])
  tokenizer = tokenization.FullTokenizer(setup["vocab_file"])
  output_file = str(setup["tmp_path"] / output_name)
  args = dict(
      input_file=setup["input_file"], output_file=output_file,
      bert_config=config, tokenizer=tokenizer,
      init_checkpoint=setup["init_checkpoint"], layer_indexes=list(layers),
      max_seq_length=SEQ_LENGTH, batch_size=2,
      run_config=estimator_lib.RunConfig(None))
  args.update(kwargs)
  extract_features.extract(**args)
  return output_file


def read_jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f]


def test_features_match_reference_ids(setup, expected):
  tokenizer = tokenization.FullTokenizer(setup["vocab_file"])
  examples = extract_features.read_examples(setup["input_file"])
  features = extract_features.convert_examples_to_features(
      examples, SEQ_LENGTH, tokenizer)
  assert [f.unique_id for f in features] == [0, 1, 2]
  np.testing.assert_array_equal([f.input_ids for f in features],
                                expected["input_ids"])
  np.testing.assert_array_equal([f.input_mask for f in features],
                                expected["input_mask"])
  np.testing.assert_array_equal([f.input_type_ids for f in features],
                                expected["segment_ids"])


def test_jsonl_layers_match_google_model_outputs(setup, expected):
  lines = read_jsonl(run(setup, layers=(-1, 0)))
  layers = expected["all_encoder_layers"]  # [2, batch, seq, hidden]
  assert [line["linex_index"] for line in lines] == [0, 1, 2]
  for i, line in enumerate(lines):
    assert list(line) == ["linex_index", "features"]
    num_tokens = int(expected["input_mask"][i].sum())
    tokens = [f["token"] for f in line["features"]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert len(tokens) == num_tokens  # no padding positions
    for t, feature in enumerate(line["features"]):
      assert list(feature) == ["token", "layers"]
      assert [layer["index"] for layer in feature["layers"]] == [-1, 0]
      for layer in feature["layers"]:
        values = np.array(layer["values"])
        assert values.shape == (32,)
        # Rounded to 6 decimals: exactly representable as such.
        np.testing.assert_array_equal(np.round(values, 6), values)
        np.testing.assert_allclose(values, layers[layer["index"]][i, t],
                                   atol=2e-6, rtol=0)


def test_pooling_and_npz_match_google_model_outputs(setup, expected):
  layers = expected["all_encoder_layers"]
  mask = expected["input_mask"].astype(np.float64)
  mean = (layers[-1] * mask[:, :, None]).sum(1) / mask.sum(1)[:, None]
  want = {"cls": layers[-1][:, 0], "pooled": expected["pooled_output"],
          "mean": mean}
  for pooling, vectors in want.items():
    lines = read_jsonl(run(setup, "%s.jsonl" % pooling, pooling=pooling,
                           output_token_layers=False))
    for i, line in enumerate(lines):
      assert list(line) == ["linex_index", "sentence_vector"]
      np.testing.assert_allclose(line["sentence_vector"], vectors[i],
                                 atol=2e-6, rtol=0)
  path = run(setup, "out.npz", layers=(-2,), pooling="mean",
             output_format="npz")
  with np.load(path) as data:
    assert sorted(data.files) == sorted([
        "unique_ids", "input_ids", "input_mask", "layer_-2",
        "sentence_vector"])
    np.testing.assert_array_equal(data["unique_ids"], [0, 1, 2])
    np.testing.assert_array_equal(data["input_ids"], expected["input_ids"])
    np.testing.assert_array_equal(data["input_mask"], expected["input_mask"])
    np.testing.assert_allclose(data["layer_-2"],
                               layers[-2] * mask[:, :, None], atol=1e-5)
    np.testing.assert_allclose(data["sentence_vector"], mean, atol=1e-5)
  assert not list(setup["tmp_path"].glob("*.tmp"))
  assert not list(setup["tmp_path"].glob(".extract_features.*"))


def google_json_line(unique_id, tokens, layer_indexes, layer_outputs):
  """Google's per-example output code, restated literally."""
  output_json = collections.OrderedDict()
  output_json["linex_index"] = unique_id
  all_features = []
  for (i, token) in enumerate(tokens):
    all_layers = []
    for (j, layer_index) in enumerate(layer_indexes):
      layer_output = layer_outputs[j]
      layers = collections.OrderedDict()
      layers["index"] = layer_index
      layers["values"] = [
          round(float(x), 6) for x in layer_output[i:(i + 1)].flat
      ]
      all_layers.append(layers)
    features = collections.OrderedDict()
    features["token"] = token
    features["layers"] = all_layers
    all_features.append(features)
  output_json["features"] = all_features
  return json.dumps(output_json) + "\n"


def test_json_line_is_googles_bytes():
  rng = np.random.RandomState(0)
  values = rng.normal(scale=3.0, size=(2, 7, 40)).astype(np.float32)
  # Ties at the 7th decimal, tiny and large values, signed zeros.
  tricky = np.array([0.0000005, -0.0000005, 0.0000015, 1.2345675, 2.5e-7,
                     -2.5e-7, 1e-9, -0.0, 0.0, 123456.7890125, -1e5,
                     3.4028235e38, 0.1234565, 0.9999995], dtype=np.float32)
  values[0, :2, :len(tricky)] = tricky
  values[1, 3, -len(tricky):] = -tricky
  tokens = ["[CLS]", "h\u00e9llo", "\"q\"", "##x", "[SEP]", "b", "[SEP]"]
  line = extract_features.json_line(5, tokens, [-1, 3],
                                    [values[0], values[1]])
  assert line == google_json_line(5, tokens, [-1, 3], [values[0], values[1]])


def google_values(row):
  return json.dumps([round(float(x), 6) for x in row])[1:-1]


@pytest.mark.parametrize("scale", [1e-5, 1e-4, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e6,
                                   1e8, 2e9])
def test_value_formatting_equals_round_and_json_dumps(scale):
  rng = np.random.RandomState(int(np.log10(scale)) + 10)
  values = (rng.normal(size=(60, 50)) * scale).astype(np.float32)
  assert extract_features.format_rounded_values(values) == [
      google_values(row) for row in values]


def test_value_formatting_edge_cases():
  # Every 6-decimal value around zero (scientific below 1e-4), ties of the
  # 7th decimal on a dense float32 grid, signed zeros, non-finite values.
  grids = [
      np.arange(-3000, 3000).reshape(-1, 60) / 1e6,
      (np.arange(-200000, 200000, dtype=np.float64) / 4e6 +
       1.25e-7).astype(np.float32).reshape(-1, 100),
      np.array([[0.0, -0.0, 1e-7, -1e-7, 5e-7, -5e-7, 0.0000995, 1.0, -1.0,
                 123.4565, 1e-30, 999999999.0, 0.00001, -0.000099]]),
      np.array([[1.5, np.nan, np.inf, -np.inf]]),
      np.zeros((2, 0)),
  ]
  for values in grids:
    assert extract_features.format_rounded_values(values) == [
        google_values(row) for row in np.asarray(values, np.float64)]


def test_main_command_line(setup, expected):
  output_file = str(setup["tmp_path"] / "cli.jsonl")
  harness.run_main(
      extract_features.main, "--input_file=" + setup["input_file"],
      "--output_file=" + output_file, "--vocab_file=" + setup["vocab_file"],
      "--bert_config_file=" + setup["bert_config_file"],
      "--init_checkpoint=" + setup["init_checkpoint"], "--layers=-2",
      "--max_seq_length=16", "--batch_size=8", "--pooling=cls")
  lines = read_jsonl(output_file)
  assert list(lines[1]) == ["linex_index", "features", "sentence_vector"]
  np.testing.assert_allclose(
      lines[1]["features"][3]["layers"][0]["values"],
      expected["all_encoder_layers"][-2][1, 3], atol=2e-6, rtol=0)


def test_streaming_keeps_few_examples_in_flight(setup, monkeypatch):
  high_water = []

  class Recording(extract_features._TokensInFlight):

    def pop(self, unique_id):
      high_water.append(len(self))
      return super().pop(unique_id)

  monkeypatch.setattr(extract_features, "_TokensInFlight", Recording)
  lines = ["w%d w%d ||| w%d" % (5 + i % 90, 6 + i % 90, 7 + i % 90)
           for i in range(300)]
  (setup["tmp_path"] / "many.txt").write_text("\n".join(lines))
  setup["input_file"] = str(setup["tmp_path"] / "many.txt")
  out = run(setup, "many.jsonl", layers=(-1,), batch_size=4)
  assert len(read_jsonl(out)) == 300  # the last line has no newline
  # A few batches (prefetch) are in flight, not the 300 examples.
  assert max(high_water) <= 40


def test_empty_input_file_is_an_error(setup):
  (setup["tmp_path"] / "empty.txt").write_text("")
  setup["input_file"] = str(setup["tmp_path"] / "empty.txt")
  with pytest.raises(ValueError, match="empty.txt is empty"):
    run(setup)
  assert not (setup["tmp_path"] / "out.jsonl").exists()


def test_layer_index_out_of_range_names_the_flag():
  # Google's default -1,-2,-3,-4 on a 2-layer model.
  with pytest.raises(ValueError, match=r"--layers=-1,-2,-3,-4: layer index -3"):
    extract_features.parse_layers("-1,-2,-3,-4", 2)
  with pytest.raises(ValueError, match="--layers.*integers"):
    extract_features.parse_layers("-1,last", 2)
  assert extract_features.parse_layers("-1,0,1,-2", 2) == [-1, 0, 1, -2]


def test_checkpoint_without_the_model_variables(setup, tmp_path):
  config = json.loads(open(setup["bert_config_file"]).read())
  config["num_hidden_layers"] = 3
  (tmp_path / "three.json").write_text(json.dumps(config))
  with pytest.raises(ValueError, match="layer_2"):
    run(setup, bert_config=modeling.BertConfig.from_json_file(
        str(tmp_path / "three.json")))


def test_bad_utf8_line_is_named(setup):
  path = setup["tmp_path"] / "bad.txt"
  path.write_bytes(b"w5 w6\nw7 \xff\n")
  with pytest.raises(ValueError, match="bad.txt, line 2: not UTF-8"):
    extract_features.read_examples(str(path))


def test_google_style_input_fn_over_a_list(setup, expected):
  # Google's in-memory use: read_examples, convert_examples_to_features,
  # input_fn_builder(features, seq_length) and the model_fn through the loop.
  tokenizer = tokenization.FullTokenizer(setup["vocab_file"])
  features = extract_features.convert_examples_to_features(
      extract_features.read_examples(setup["input_file"]), SEQ_LENGTH,
      tokenizer)
  config = modeling.BertConfig.from_json_file(setup["bert_config_file"])
  estimator = estimator_lib.Estimator(
      extract_features.model_fn_builder(config, setup["init_checkpoint"], [0],
                                        False, False),
      estimator_lib.RunConfig(None), predict_batch_size=2)
  results = list(estimator.predict(
      extract_features.input_fn_builder(features, SEQ_LENGTH)))
  assert [int(r["unique_id"]) for r in results] == [0, 1, 2]
  np.testing.assert_allclose(np.stack([r["layer_output_0"] for r in results]),
                             expected["all_encoder_layers"][0], atol=1e-5)


def test_chunked_in_memory_extraction_gives_the_same_file(setup):
  # The TPU path: chunks of lines as constant tensors, one predict each.
  streamed = run(setup, "streamed.jsonl", pooling="mean")
  chunked = run(setup, "chunked.jsonl", pooling="mean", chunk_size=2)
  with open(streamed, "rb") as a, open(chunked, "rb") as b:
    assert a.read() == b.read()
