"""run_classifier.py data path against Google's own outputs.

Reference: tests/fixtures/classifier/ (Google's processors, conversion and
main() run on TF 2.21, see that folder's provenance in tests/fixtures/README.md).
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import estimator_lib
import run_classifier
import tokenization

MAX_SEQ_LENGTH = 32

PROCESSORS = {
    "mrpc": run_classifier.MrpcProcessor,
    "cola": run_classifier.ColaProcessor,
    "mnli": run_classifier.MnliProcessor,
    "xnli": run_classifier.XnliProcessor,
}
SPLITS = [(task, split) for task in PROCESSORS
          for split in ("train", "dev", "test")
          if not (task == "xnli" and split == "test")]


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(
      fixture_path("vocab_uncased.txt"), do_lower_case=True)


def _examples(task, split):
  processor = PROCESSORS[task]()
  getter = getattr(processor, "get_%s_examples" % split)
  return processor, getter(fixture_path("classifier", task))


def _read_jsonl(path):
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def _parse_records(path, task_type=run_classifier.CLASSIFICATION,
                   num_labels=None):
  """Every record of a classifier TFRecord file as a dict of numpy arrays."""
  input_fn = run_classifier.file_based_input_fn_builder(
      path, MAX_SEQ_LENGTH, is_training=False, drop_remainder=False,
      task_type=task_type, num_labels=num_labels)
  batches = list(input_fn({"batch_size": 1000}).as_numpy_iterator())
  assert len(batches) == 1
  return batches[0]


def _assert_same_records(ours, reference):
  assert sorted(ours) == sorted(reference)
  for name in reference:
    np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)


@pytest.mark.parametrize("task,split", SPLITS)
def test_examples_equal_googles(task, split):
  _, examples = _examples(task, split)
  expected = _read_jsonl(
      fixture_path("classifier", task, "%s_examples.jsonl" % split))
  ours = [{"guid": e.guid, "text_a": e.text_a, "text_b": e.text_b,
           "label": e.label} for e in examples]
  assert ours == expected


def test_xnli_has_no_test_split():
  with pytest.raises(NotImplementedError):
    run_classifier.XnliProcessor().get_test_examples(
        fixture_path("classifier", "xnli"))


@pytest.mark.parametrize("task,split", SPLITS)
def test_records_equal_googles(task, split, tokenizer, tmp_path):
  processor, examples = _examples(task, split)
  output_file = str(tmp_path / "out.tf_record")
  run_classifier.file_based_convert_examples_to_features(
      examples, processor.get_labels(), MAX_SEQ_LENGTH, tokenizer, output_file)
  reference = fixture_path("classifier", task, "%s.tf_record" % split)
  _assert_same_records(_parse_records(output_file), _parse_records(reference))
  assert not os.path.exists(output_file + ".tmp")


@pytest.mark.parametrize("split,name", [("dev", "eval"),
                                        ("test", "predict")])
def test_tpu_padding_equals_googles(split, name, tokenizer, tmp_path):
  """main() with use_tpu pads with PaddingInputExample to the batch size."""
  processor, examples = _examples("mrpc", split)
  padded = run_classifier.pad_examples(examples, batch_size=8)
  assert len(padded) == 24 and len(examples) == 20
  output_file = str(tmp_path / "out.tf_record")
  run_classifier.file_based_convert_examples_to_features(
      padded, processor.get_labels(), MAX_SEQ_LENGTH, tokenizer, output_file)
  reference = fixture_path("classifier", "mrpc", "main_use_tpu",
                           "%s.tf_record" % name)
  _assert_same_records(_parse_records(output_file), _parse_records(reference))


def test_features_of_edge_cases(tokenizer):
  """Pair with empty text_b is a single sequence; ties truncate text_b."""
  labels = ["0", "1"]
  single = run_classifier.convert_single_example(
      0, run_classifier.InputExample("x", "hello world", "", "1"), labels, 8,
      tokenizer)
  assert single.segment_ids == [0] * 8
  assert single.input_ids[:4] == tokenizer.convert_tokens_to_ids(
      ["[CLS]", "hello", "world", "[SEP]"])
  assert single.input_mask == [1] * 4 + [0] * 4 and single.label_id == 1
  tokens_a, tokens_b = list("abcd"), list("wxyz")
  run_classifier._truncate_seq_pair(tokens_a, tokens_b, 5)
  assert tokens_a == list("abc") and tokens_b == list("wx")


def test_output_writers_equal_googles(tmp_path):
  """eval_results.txt and test_results.tsv byte for byte.

  The values are those of the reference files (numpy float32, as Google's
  predict() and evaluate() return them); 4 TPU padding predictions follow the
  20 real ones and must be dropped.
  """
  for mode in ("main_use_tpu", "main_no_tpu"):
    out = tmp_path / mode
    out.mkdir()
    expected = fixture_path("classifier", "mrpc", mode)
    with open(os.path.join(expected, "test_results.tsv"), "rb") as f:
      expected_tsv = f.read()
    rows = [np.array(line.split(b"\t"), np.float32)
            for line in expected_tsv.splitlines()]
    rows += [np.array([0.25, 0.75], np.float32)] * 4
    run_classifier.write_test_results(
        str(out / "test_results.tsv"),
        ({"probabilities": p} for p in rows), num_examples=20)
    assert (out / "test_results.tsv").read_bytes() == expected_tsv

    with open(os.path.join(expected, "eval_results.txt"), "rb") as f:
      expected_txt = f.read()
    parsed = dict(line.split(" = ") for line in
                  expected_txt.decode().splitlines())
    result = {k: np.float32(v) for k, v in parsed.items()}
    result["global_step"] = int(parsed["global_step"])
    estimator_lib.write_eval_results(str(out / "eval_results.txt"), result)
    assert (out / "eval_results.txt").read_bytes() == expected_txt


def test_test_results_too_few_predictions(tmp_path):
  with pytest.raises(ValueError, match="3 predictions for 5 examples"):
    run_classifier.write_test_results(
        str(tmp_path / "t.tsv"),
        [{"probabilities": np.zeros(2, np.float32)}] * 3, num_examples=5)
