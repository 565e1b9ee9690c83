"""run_classifier.py data path against Google's own outputs.

Reference: tests/fixtures/classifier/ (Google's processors, conversion and
main() run on TF 2.21; provenance in tests/fixtures/README.md).
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


def _assert_same_bytes(path, reference):
  """Byte-identical files (Google's feature order, packed ints)."""
  with open(path, "rb") as a, open(reference, "rb") as b:
    assert a.read() == b.read()


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
  _assert_same_bytes(output_file, reference)
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
  _assert_same_bytes(output_file, reference)


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


## Bad input: errors name the file and the line.


def _write(path, text):
  path.write_text(text, encoding="utf-8")
  return str(path)


def test_short_row_names_file_and_line(tmp_path):
  _write(tmp_path / "train.tsv",
         "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
         "1\t1\t2\tfirst sentence\tsecond sentence\n"
         "0\t3\t4\tonly four columns\n")
  with pytest.raises(ValueError) as e:
    run_classifier.MrpcProcessor().get_train_examples(str(tmp_path))
  assert "train.tsv:3: expected at least 5 columns, found 4" in str(e.value)


def test_unknown_label_names_file_and_line(tmp_path, tokenizer):
  _write(tmp_path / "dev.tsv",
         "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
         "1\t1\t2\tfirst\tsecond\n"
         "2\t3\t4\tthird\tfourth\n")
  processor = run_classifier.MrpcProcessor()
  examples = processor.get_dev_examples(str(tmp_path))
  with pytest.raises(ValueError) as e:
    run_classifier.file_based_convert_examples_to_features(
        examples, processor.get_labels(), 16, tokenizer,
        str(tmp_path / "eval.tf_record"))
  assert "dev.tsv:3: unknown label '2'" in str(e.value)
  assert not os.path.exists(str(tmp_path / "eval.tf_record"))


def test_missing_file_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match="test_matched.tsv: no such file"):
    run_classifier.MnliProcessor().get_test_examples(str(tmp_path))


def test_empty_split_is_an_error(tmp_path):
  _write(tmp_path / "test.tsv", "index\tsentence\n")
  with pytest.raises(ValueError, match="test.tsv: no examples"):
    run_classifier.ColaProcessor().get_test_examples(str(tmp_path))


def test_user_data_unknown_label_and_short_row(tmp_path):
  _write(tmp_path / "train.tsv", "good movie\tpos\nbad film\tneg\n")
  _write(tmp_path / "dev.tsv", "fine\tpos\nawful\tmeh\n")
  _write(tmp_path / "labels.txt", "neg\npos\n")
  processor = run_classifier.UserDataProcessor(
      "tsv", labels=run_classifier.read_label_file(
          str(tmp_path / "labels.txt")))
  with pytest.raises(ValueError, match=r"dev.tsv:2: unknown label 'meh'"):
    processor.get_dev_examples(str(tmp_path))
  _write(tmp_path / "dev.tsv", "fine\tpos\nno label here\n")
  processor = run_classifier.UserDataProcessor("tsv", text_a_column="0",
                                               label_column="1")
  with pytest.raises(ValueError,
                     match=r"dev.tsv:2: 1 column\(s\) where line 1 has 2"):
    processor.get_dev_examples(str(tmp_path))


def test_user_data_unknown_column_name(tmp_path):
  _write(tmp_path / "train.csv", "text,label\nhello,a\n")
  processor = run_classifier.UserDataProcessor(
      "csv", text_a_column="sentence", has_header=True)
  with pytest.raises(ValueError, match=r"--text_a_column=sentence: .*train.csv"
                     r":1: no such column"):
    processor.get_train_examples(str(tmp_path))


def test_bad_jsonl_line(tmp_path):
  _write(tmp_path / "train.jsonl", '{"text": "a", "label": "x"}\n{oops\n')
  with pytest.raises(ValueError, match=r"train.jsonl:2: not a JSON object"):
    run_classifier.UserDataProcessor("jsonl").get_train_examples(
        str(tmp_path))
  _write(tmp_path / "train.jsonl", '{"text": "a", "label": "x"}\n{"t": 1}\n')
  with pytest.raises(ValueError, match=r"train.jsonl:2: no key 'text'"):
    run_classifier.UserDataProcessor("jsonl").get_train_examples(
        str(tmp_path))


## User data without a processor


def test_user_tsv_with_header_and_names(tmp_path):
  _write(tmp_path / "train.tsv",
         'label\tq1\tq2\nyes\t"Quoted" start\tsecond\nno\tthird\tfourth\n')
  _write(tmp_path / "test.tsv", "q1\tq2\nonly text\tand more\n")
  processor = run_classifier.UserDataProcessor(
      "tsv", text_a_column="q1", text_b_column="q2", label_column="label",
      has_header=True, data_dir=str(tmp_path))
  assert processor.get_labels() == ["no", "yes"]
  examples = processor.get_train_examples(str(tmp_path))
  assert [(e.text_a, e.text_b, e.label) for e in examples] == [
      ('"Quoted" start', "second", "yes"), ("third", "fourth", "no")]
  test = processor.get_test_examples(str(tmp_path))
  assert [(e.text_a, e.text_b, e.label) for e in test] == [
      ("only text", "and more", "no")]


def test_user_csv_quoting_and_jsonl(tmp_path):
  _write(tmp_path / "train.csv",
         'a,"b, with comma",1\n"multi\nline",x,0\n')
  processor = run_classifier.UserDataProcessor(
      "csv", text_a_column="0", text_b_column="1", label_column="2")
  examples = processor.get_train_examples(str(tmp_path))
  assert [(e.text_a, e.text_b, e.label) for e in examples] == [
      ("a", "b, with comma", "1"), ("multi\nline", "x", "0")]
  assert examples[1].source.endswith("train.csv:2")
  _write(tmp_path / "train.jsonl",
         '{"text": "first", "label": 3}\n\n{"text": "second", "label": 4}\n')
  examples = run_classifier.UserDataProcessor("jsonl").get_train_examples(
      str(tmp_path))
  assert [(e.text_a, e.label, e.source[-13:]) for e in examples] == [
      ("first", "3", "train.jsonl:1"), ("second", "4", "train.jsonl:3")]


def test_chinese_news_titles_with_chinese_vocab(tmp_path):
  """"title<TAB>label" lines, a Chinese vocabulary made here, defaults only."""
  titles = [("央视新闻联播", "时政"), ("股市今日大涨", "财经"),
            ("足球比赛结果", "体育"), ("新闻股市", "财经")]
  _write(tmp_path / "train.tsv", "".join("%s\t%s\n" % t for t in titles))
  chars = sorted(set("".join(t for t, _ in titles)))
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars
  _write(tmp_path / "vocab.txt", "\n".join(vocab) + "\n")
  tok = tokenization.FullTokenizer(str(tmp_path / "vocab.txt"))
  processor = run_classifier.UserDataProcessor("tsv", data_dir=str(tmp_path))
  labels = processor.get_labels()
  assert labels == sorted(["时政", "财经", "体育"])
  examples = processor.get_train_examples(str(tmp_path))
  feature = run_classifier.convert_single_example(0, examples[1], labels, 10,
                                                  tok)
  expected_tokens = ["[CLS]"] + list("股市今日大涨") + ["[SEP]"]
  assert feature.input_ids[:8] == [vocab.index(t) for t in expected_tokens]
  assert feature.input_ids[8:] == [0, 0]
  assert feature.label_id == labels.index("财经")


def test_multi_label_records(tmp_path, tokenizer):
  _write(tmp_path / "train.tsv", "a fine day\tsun,warm\ncold rain\train\n"
         "nothing\t\n")
  processor = run_classifier.UserDataProcessor("tsv", multi_label=True,
                                               data_dir=str(tmp_path))
  labels = processor.get_labels()
  assert labels == ["rain", "sun", "warm"]
  examples = processor.get_train_examples(str(tmp_path))
  assert [e.label for e in examples] == [["sun", "warm"], ["rain"], []]
  path = str(tmp_path / "train.tf_record")
  padded = run_classifier.pad_examples(examples, 4)
  run_classifier.file_based_convert_examples_to_features(
      padded, labels, MAX_SEQ_LENGTH, tokenizer, path,
      run_classifier.MULTI_LABEL)
  records = _parse_records(path, run_classifier.MULTI_LABEL, len(labels))
  np.testing.assert_array_equal(
      records["label_ids"], [[0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]])
  np.testing.assert_array_equal(records["is_real_example"], [1, 1, 1, 0])


def test_stsb_regression_records(tmp_path, tokenizer):
  header = ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
            "sentence1\tsentence2\tscore\n")
  _write(tmp_path / "train.tsv",
         header + "0\tmain\tf\t2012\t1\tnone\tnone\ta plane\ta jet\t4.25\n")
  processor = run_classifier.StsbProcessor()
  examples = processor.get_train_examples(str(tmp_path))
  assert (examples[0].text_a, examples[0].text_b, examples[0].label) == (
      "a plane", "a jet", 4.25)
  path = str(tmp_path / "train.tf_record")
  run_classifier.file_based_convert_examples_to_features(
      examples, processor.get_labels(), MAX_SEQ_LENGTH, tokenizer, path,
      run_classifier.REGRESSION)
  records = _parse_records(path, run_classifier.REGRESSION)
  np.testing.assert_allclose(records["label_ids"], [4.25])
  _write(tmp_path / "dev.tsv",
         header + "0\tmain\tf\t2012\t1\tnone\tnone\ta\tb\thigh\n")
  with pytest.raises(ValueError, match=r"dev.tsv:2: score 'high' is not a "):
    processor.get_dev_examples(str(tmp_path))
