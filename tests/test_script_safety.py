# coding=utf-8
"""Careless and hostile input to the runners, run as their command lines run.

Each case runs a script's main in this process through `harness.run_cli`
(what `validation.run_main` does: flag checks by name, the driver's checks,
output locks, one-line user errors with exit status 2) and asserts the exit
status, that the last line of stderr names the culprit, and what is (not)
left on disk. Most cases are refused before any work, so they cost a flag
parse and a config read.
"""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import checkpoints
from conftest import fixture_path
import extract_features
import harness
import locks
import run_classifier
import run_pretraining
import run_squad

SQUAD = fixture_path("squad", "squad-v1.1.json")
RECORDS = fixture_path("pretraining_data", "a_base.tfrecord")
SPM_VOCAB = fixture_path("albert", "spm_tiny.vocab")
HOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "lock_holder.py")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
  """A tiny model laid out as Google's zips (bert_config.json, vocab.txt,
  bert_model.ckpt), plus a 128-position config for the pretraining records."""
  directory = tmp_path_factory.mktemp("model")
  paths = harness.google_model_dir(directory)
  paths["config_128"] = harness.write_config(
      str(directory / "config_128.json"), max_position_embeddings=128)
  return paths


def write(path, text, mode="w"):
  """Writes `text` to `path` (making its directory); returns str(path)."""
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  with open(str(path), mode) as f:
    f.write(text)
  return str(path)


def user_data(directory, train, name="train.tsv"):
  """A --data_dir holding one training file; returns the directory."""
  write(directory / name, train)
  return str(directory)


def classifier_flags(model, tmp_path, **extra):
  """run_classifier on user TSV data, training, with the tiny model."""
  values = dict(
      task_name="tsv", data_dir=user_data(
          tmp_path / "data", "good movie\tpos\nbad movie\tneg\n"),
      vocab_file=model["vocab_file"],
      bert_config_file=model["bert_config_file"],
      init_checkpoint=model["init_checkpoint"],
      output_dir=str(tmp_path / "out"), do_train=True, max_seq_length=32,
      train_batch_size=2, eval_batch_size=2, predict_batch_size=2,
      learning_rate=1e-3, num_train_epochs=1.0, warmup_proportion=0.1,
      save_checkpoints_steps=1000, iterations_per_loop=1000)
  values.update(extra)
  return values


def assert_refused(result, error, out=None):
  """Exit status 2, the one-line message, and no output directory left."""
  assert result.status == 2, result.stderr
  assert result.error == "prog: error: " + error, result.stderr
  assert "Traceback" not in result.stderr
  if out is not None:
    assert not os.path.exists(str(out)), os.listdir(str(out))


# ---------------------------------------------------------- numeric flags

@pytest.mark.parametrize("flag,value,error", [
    ("train_batch_size", 0, "--train_batch_size=0: must be >= 1"),
    ("num_train_epochs", "nan", "--num_train_epochs=nan: must be a finite "
     "number > 0"),
    ("num_train_epochs", "inf", "--num_train_epochs=inf: must be a finite "
     "number > 0"),
    ("warmup_proportion", 2, "--warmup_proportion=2.0: must be between 0 "
     "and 1"),
    ("learning_rate", -1e-5, "--learning_rate=-1e-05: must be >= 0"),
    ("max_seq_length", 0, "--max_seq_length=0: must be >= 3 ([CLS] A [SEP] "
     "B [SEP] needs at least 3 positions)"),
    ("save_checkpoints_steps", -2, "--save_checkpoints_steps=-2: must be "
     ">= 0 (0 = only at the end)"),
    ("keep_checkpoint_max", -1, "--keep_checkpoint_max=-1: must be >= 0 "
     "(0 keeps all)"),
    ("iterations_per_loop", 0, "--iterations_per_loop=0: must be >= 1"),
    ("seed", -1, "--seed=-1: must be between 0 and 4294967295"),
    ("gradient_accumulation_steps", 0, "--gradient_accumulation_steps=0: "
     "must be >= 1"),
    ("eval_every_steps", -1, "--eval_every_steps=-1: must be >= 0 (0 = only "
     "at the end)"),
    ("multi_label_threshold", 1.5, "--multi_label_threshold=1.5: must be "
     "between 0 and 1"),
])
def test_classifier_numeric_flags(model, tmp_path, flag, value, error):
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, **{flag: value}))
  assert_refused(result, error, tmp_path / "out")


@pytest.mark.parametrize("main,flags,error", [
    (run_squad.main, dict(doc_stride=0), "--doc_stride=0: must be >= 1"),
    (run_squad.main, dict(n_best_size=0), "--n_best_size=0: must be >= 1"),
    (run_squad.main, dict(predict_batch_size=0),
     "--predict_batch_size=0: must be >= 1"),
    (run_pretraining.main, dict(num_train_steps=-1),
     "--num_train_steps=-1: must be >= 0"),
    (run_pretraining.main, dict(max_eval_steps=0),
     "--max_eval_steps=0: must be >= 1"),
    (run_pretraining.main, dict(max_predictions_per_seq=0),
     "--max_predictions_per_seq=0: must be >= 1"),
    (extract_features.main, dict(batch_size=0), "--batch_size=0: must be >= 1"),
])
def test_other_scripts_numeric_flags(model, tmp_path, main, flags, error):
  """The same rules by flag name in every script (no code in the script)."""
  out = tmp_path / "out"
  common = dict(vocab_file=model["vocab_file"],
                bert_config_file=model["bert_config_file"])
  if main is run_squad.main:
    common.update(output_dir=out, do_predict=True, predict_file=SQUAD,
                  init_checkpoint=model["init_checkpoint"])
  elif main is run_pretraining.main:
    common = dict(bert_config_file=model["config_128"], output_dir=out,
                  do_train=True, input_file=RECORDS, max_seq_length=128)
  else:
    common.update(input_file=SQUAD, output_file=out / "f.jsonl",
                  init_checkpoint=model["init_checkpoint"])
  common.update(flags)
  assert_refused(harness.run_cli(main, **common), error, out)


def test_zero_training_steps_is_refused_before_any_work(model, tmp_path):
  result = harness.run_cli(
      run_pretraining.main, bert_config_file=model["config_128"],
      output_dir=tmp_path / "out", do_train=True, input_file=RECORDS,
      max_seq_length=128, num_train_steps=0)
  assert_refused(result, "--num_train_steps=0: must be >= 1",
                 tmp_path / "out")


# ------------------------------------------------------------------ paths

def test_paths_are_checked_before_any_work(model, tmp_path):
  a_file = write(tmp_path / "a_file", "x")
  out = tmp_path / "out"
  cases = [
      (dict(vocab_file=tmp_path / "nope.txt"),
       "--vocab_file=%s: no such file" % (tmp_path / "nope.txt")),
      (dict(vocab_file=tmp_path),
       "--vocab_file=%s: is a directory, not a file" % tmp_path),
      (dict(data_dir=tmp_path / "nope"),
       "--data_dir=%s: no such directory" % (tmp_path / "nope")),
      (dict(output_dir=a_file),
       "--output_dir=%s: is a file, not a directory" % a_file),
      (dict(init_checkpoint=tmp_path / "nope.ckpt"),
       "--init_checkpoint=%s: no checkpoint there (no file %s.index)" % (
           tmp_path / "nope.ckpt", tmp_path / "nope.ckpt")),
      (dict(init_checkpoint=model["init_checkpoint"] + ".index"),
       "--init_checkpoint=%s.index: give the checkpoint's prefix, %s "
       "(without .index...)" % (model["init_checkpoint"],
                                model["init_checkpoint"])),
      (dict(train_file="missing.tsv"),
       "--train_file=missing.tsv: no such file in --data_dir=%s (%s)" % (
           tmp_path / "data", tmp_path / "data" / "missing.tsv")),
  ]
  for flags, error in cases:
    result = harness.run_cli(run_classifier.main, **classifier_flags(
        model, tmp_path, **flags))
    assert_refused(result, error, out)
  # An empty --init_checkpoint means none, as in Google's `if
  # init_checkpoint:`; predicting with no weights at all is then refused
  # before the records are written.
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, init_checkpoint="", do_train=False, do_predict=True))
  assert_refused(result, "Nothing to predict with: no checkpoint in "
                 "--output_dir=%s and no --init_checkpoint; train first "
                 "(--do_train) or give the weights" % out, out)


def test_input_globs_and_record_files(model, tmp_path):
  text = write(tmp_path / "text.txt", "hello\n")
  cases = [
      (str(tmp_path / "none*.tfrecord"), "--input_file=%s: matches no file"
       % (tmp_path / "none*.tfrecord")),
      (str(tmp_path), "--input_file=%s: %s is a directory; name the files "
       "(e.g. %s)" % (tmp_path, tmp_path, tmp_path / "*")),
      (text, "%s is not a TFRecord file (6 bytes without a whole record) "
       "(--input_file=%s)" % (text, text)),
  ]
  for input_file, error in cases:
    result = harness.run_cli(
        run_pretraining.main, bert_config_file=model["config_128"],
        output_dir=tmp_path / "out", do_train=True, input_file=input_file,
        max_seq_length=128, num_train_steps=1, num_warmup_steps=0)
    assert_refused(result, error, tmp_path / "out")


# ------------------------------------------------- config, vocab, weights

def test_model_files_that_do_not_fit(model, tmp_path):
  out = tmp_path / "out"
  no_special = write(tmp_path / "plain_vocab.txt", "hello\nworld\n")
  big_vocab = write(tmp_path / "big_vocab.txt", "".join(
      "t%d\n" % i for i in range(30600)))
  small = harness.google_model_dir(tmp_path / "small", hidden_size=16,
                                   intermediate_size=20)
  cases = [
      (dict(max_seq_length=100), "--max_seq_length=100: the model was "
       "trained up to sequence length 64 (max_position_embeddings in "
       "--bert_config_file=%s)" % model["bert_config_file"]),
      (dict(vocab_file=SPM_VOCAB), "--vocab_file=%s has no [CLS] or [SEP] or "
       "[UNK] token: its lines hold tabs, as a SentencePiece .vocab file's "
       "do; give the model's WordPiece vocab.txt (ALBERT: --spm_model_file)"
       % SPM_VOCAB),
      (dict(vocab_file=no_special), "--vocab_file=%s has no [CLS] or [SEP] "
       "or [UNK] token" % no_special),
      (dict(vocab_file=big_vocab), "--vocab_file=%s has 30600 tokens but the "
       "model's vocab_size is 30522: the vocabulary is not the model's" %
       big_vocab),
      (dict(init_checkpoint=small["init_checkpoint"]), "--init_checkpoint=%s "
       "holds bert/pooler/dense/kernel of shape [16, 16] but the model "
       "config asks for [32, 32]: the checkpoint is of another model size "
       "(is the config file the checkpoint's?)" % small["init_checkpoint"]),
  ]
  for flags, error in cases:
    result = harness.run_cli(run_classifier.main, **classifier_flags(
        model, tmp_path, **flags))
    assert_refused(result, error, out)


def test_init_checkpoint_of_another_scope_is_refused(model, tmp_path):
  """0 of the encoder's variables restored used to be a silent random
  start; now the checkpoint, what it holds and what was expected are
  named before any work."""
  values = {n.replace("bert/", "electra/", 1): tf.zeros(shape)
            for n, shape in tf.train.list_variables(model["init_checkpoint"])}
  other = checkpoints.save_checkpoint(values, str(tmp_path / "other.ckpt"))
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, init_checkpoint=other))
  assert result.status == 2
  assert result.error.startswith(
      "prog: error: --init_checkpoint=%s restores 0 of the 39 variables "
      "expected; it lacks bert/embeddings/word_embeddings" % other)
  assert result.error.endswith(
      "(its names start with 'electra/' where the model's start with "
      "'bert/': another model family or scope?)")
  assert not (tmp_path / "out").exists()


# ------------------------------------------------------------- user data

@pytest.mark.parametrize("name,text,extra,error", [
    ("train.tsv", "good movie\tpos\nbad movie neg\nfine film\tpos\n", {},
     "train.tsv:2: 1 column(s) where line 1 has 2: a missing or extra tab?"),
    ("train.tsv", "good movie\tpos\t\nbad movie\tneg\t\n", {},
     "train.tsv:1: the label is empty (--label_column=-1)"),
    ("train.csv", 'text,label\n"good movie,pos\nbad movie,neg\n',
     dict(task_name="csv", has_header=True, text_a_column="text",
          label_column="label"),
     "train.csv:2: unexpected end of data (a \" quote that is never closed "
     "merges the lines after it)"),
])
def test_user_data_that_would_be_relabelled(model, tmp_path, name, text,
                                            extra, error):
  data_dir = user_data(tmp_path / "bad", text, name)
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, data_dir=data_dir, **extra))
  assert_refused(result, os.path.join(data_dir, error), tmp_path / "out")


def test_a_byte_order_mark_is_never_part_of_a_label(model, tmp_path):
  data_dir = user_data(tmp_path / "bom", u"\ufeffneg\tbad movie\n"
                       u"pos\tgood movie\n")
  processor = run_classifier.UserDataProcessor(
      "tsv", label_column="0", text_a_column="1", data_dir=data_dir)
  assert processor.get_labels() == ["neg", "pos"]
  header = user_data(tmp_path / "bom_header", u"\ufefftext\tlabel\nok\tpos\n")
  processor = run_classifier.UserDataProcessor(
      "tsv", has_header=True, text_a_column="text", label_column="label",
      data_dir=header)
  assert processor.get_labels() == ["pos"]
  jsonl = user_data(tmp_path / "bom_jsonl",
                    u'\ufeff{"text": "a", "label": "neg"}\n', "train.jsonl")
  assert run_classifier.UserDataProcessor(
      "jsonl", data_dir=jsonl).get_labels() == ["neg"]


def test_label_list_is_never_replaced_beside_results_of_other_labels(
    model, tmp_path):
  """A rerun with other data into a finished directory used to rewrite
  label_list.txt beside the old test_results.tsv."""
  out = tmp_path / "out"
  old = {"label_list.txt": "neg\npos\n", "test_results.tsv": "0.1\t0.9\n",
         "checkpoint": 'model_checkpoint_path: "model.ckpt-1"\n'}
  for name, text in old.items():
    write(out / name, text)
  data_dir = user_data(tmp_path / "other", "x\ta\ny\tb\nz\tc\n")
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, data_dir=data_dir, do_predict=True))
  assert_refused(result, "%s lists the labels neg, pos but these data have "
                 "a, b, c; the checkpoints and test results beside it were "
                 "made with the old list: use a new --output_dir" %
                 (out / "label_list.txt"))
  assert sorted(os.listdir(str(out))) == sorted(old)
  for name, text in old.items():
    with open(str(out / name)) as f:
      assert f.read() == text


def test_zero_step_training_names_the_numbers(model, tmp_path):
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, train_batch_size=8))
  assert_refused(result, "Nothing to train: 2 training examples / "
                 "--train_batch_size=8 x --num_train_epochs=1.0 is less than "
                 "one step")
  # The lock is released and the directory it made removed (it is empty).
  assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ SQuAD

def squad_flags(model, tmp_path, **extra):
  values = dict(vocab_file=model["vocab_file"],
                bert_config_file=model["bert_config_file"],
                init_checkpoint=model["init_checkpoint"],
                output_dir=str(tmp_path / "out"), max_seq_length=64,
                max_query_length=16, doc_stride=32, train_batch_size=4,
                predict_batch_size=4, learning_rate=1e-3,
                num_train_epochs=1.0, warmup_proportion=0.1,
                save_checkpoints_steps=1000, iterations_per_loop=1000)
  values.update(extra)
  return values


def rewritten_squad(tmp_path, name, change):
  """The v1.1 fixture with `change(qa, paragraph)` applied; its path."""
  with open(SQUAD) as f:
    data = json.load(f)
  for entry in data["data"]:
    for paragraph in entry["paragraphs"]:
      for qa in paragraph["qas"]:
        change(qa, paragraph)
  return write(tmp_path / name, json.dumps(data))


def test_squad_field_of_the_wrong_type(model, tmp_path):
  def as_string(qa, unused_paragraph):
    qa["is_impossible"] = "false"
  path = rewritten_squad(tmp_path, "v2.json", as_string)
  result = harness.run_cli(run_squad.main, **squad_flags(
      model, tmp_path, do_train=True, train_file=path,
      version_2_with_negative=True))
  assert_refused(result, '%s: data[0].paragraphs[0].qas[0].is_impossible is '
                 'a string ("false"), expected true/false.' % path)
  assert not (tmp_path / "out").exists()


def test_squad_training_that_would_train_nothing(model, tmp_path):
  """Contexts written with U+00A0 lose their questions to Google's word
  rule; Google's run_squad then trained 0 steps and exited 0."""
  def nbsp(qa, paragraph):
    paragraph["context"] = paragraph["context"].replace(" ", u"\u00a0")
    for answer in qa["answers"]:
      answer["text"] = answer["text"].replace(" ", u"\u00a0")
  path = rewritten_squad(tmp_path, "nbsp.json", nbsp)
  result = harness.run_cli(run_squad.main, **squad_flags(
      model, tmp_path, do_train=True, train_file=path, train_batch_size=16))
  assert result.status == 2, result.stderr
  assert result.error.startswith(
      "prog: error: Nothing to train: 13 training examples / "
      "--train_batch_size=16 x --num_train_epochs=1.0 is less than one step "
      "(25 question(s) skipped: their answer is not found in the words of "
      "the context;")
  assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------- locks

def test_a_second_live_run_is_refused_before_any_work(model, tmp_path):
  out = tmp_path / "out"
  holder = subprocess.Popen([sys.executable, HOLDER, "dir", str(out)],
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline() == "locked\n"
    result = harness.run_cli(run_classifier.main, **classifier_flags(
        model, tmp_path))
    assert result.status == 2, result.stderr
    assert result.error.startswith(
        "prog: error: --output_dir=%s is in use by another run (pid %d" %
        (out, holder.pid))
    # Nothing written beside the other run's files (its lock and the
    # temporary file it pretends to be writing).
    assert sorted(os.listdir(str(out))) == [
        ".lock", ".model.ckpt-3.index.tmp-%d-0123abcd" % holder.pid]
  finally:
    holder.terminate()
    holder.wait(timeout=30)


def test_a_data_error_inside_the_input_pipeline_is_the_users(model, tmp_path):
  """extract_features streams its input through tf.data: a line that is not
  UTF-8 is named by file and line, not wrapped in [[{{node PyFunc}}]]; no
  output file is left."""
  path = write(tmp_path / "in.txt", b"one\ntwo\nthr\xffee\nfour\n", "wb")
  result = harness.run_cli(
      extract_features.main, input_file=path,
      output_file=tmp_path / "f.jsonl", vocab_file=model["vocab_file"],
      bert_config_file=model["bert_config_file"],
      init_checkpoint=model["init_checkpoint"], max_seq_length=16,
      layers="-1", batch_size=2)
  assert result.status == 2, result.stderr
  assert result.error.startswith(
      "prog: error: %s, line 3: not UTF-8 ('utf-8' codec can't decode byte "
      "0xff" % path)
  assert sorted(os.listdir(str(tmp_path))) == ["in.txt"]


def test_squad_numbers_that_are_not_numbers(tmp_path):
  def answer_start_true(qa, unused_paragraph):
    qa["answers"][0]["answer_start"] = True
  path = rewritten_squad(tmp_path, "bool.json", answer_start_true)
  with pytest.raises(run_squad.SquadFormatError) as info:
    run_squad.read_squad_examples(path, is_training=True)
  assert str(info.value) == (
      "%s: data[0].paragraphs[0].qas[0].answers[0].answer_start is "
      "true/false (true), expected a number." % path)


def test_labels_are_compared_without_surrounding_spaces(tmp_path):
  data_dir = user_data(tmp_path / "spaces", "good\tpos\nbad\tneg \nok\t pos\n")
  processor = run_classifier.UserDataProcessor("tsv", data_dir=data_dir)
  assert processor.get_labels() == ["neg", "pos"]


def test_predicting_with_a_processor_without_a_test_split(model, tmp_path):
  """Google's XNLI processor reads no test set: refused before training
  (it used to end a whole run with a bare NotImplementedError)."""
  result = harness.run_cli(run_classifier.main, **classifier_flags(
      model, tmp_path, task_name="xnli", do_predict=True,
      data_dir=fixture_path("classifier", "xnli")))
  assert_refused(result, "--do_predict: XnliProcessor has no test split",
                 tmp_path / "out")
