# coding=utf-8
"""Faults at the loop level (estimator_lib): what is refused, what is left.

The model is tests/loop_worker.py's linear regression. Divergence, bad
settings, missing weights, damaged records and errors raised inside input
pipelines are tested in-process (the exception and its one-line message);
a full disk and SIGTERM on a real process (tests/safety_worker.py: exit
status, the last line of stderr, the files left).
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import estimator_lib
import io_lib
import locks
import loop_worker
import optimization
import validation

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "safety_worker.py")
HOLDER = os.path.join(HERE, "lock_holder.py")


def model_fn_with(learning_rate=0.1, num_train_steps=30, train_loss=None):
  """loop_worker's ModelFn with another schedule or loss."""
  model_fn = loop_worker.make_model_fn()
  model_fn.create_optimizer = lambda params: optimization.create_optimizer(
      None, learning_rate, num_train_steps, 2)
  if train_loss is not None:
    model_fn.train_loss = train_loss
  return model_fn


def estimator(model_dir, model_fn=None, batch_size=8, warm_start_from=None,
              **config_kwargs):
  kwargs = dict(iterations_per_loop=1, save_checkpoints_steps=1, seed=1)
  kwargs.update(config_kwargs)
  return estimator_lib.Estimator(
      model_fn or model_fn_with(), estimator_lib.RunConfig(str(model_dir),
                                                           **kwargs),
      train_batch_size=batch_size, eval_batch_size=batch_size,
      predict_batch_size=batch_size, warm_start_from=warm_start_from)


def checkpoint_values(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def leftovers(directory):
  """Lock and temporary files under `directory`."""
  found = []
  for root, _, files in os.walk(str(directory)):
    for name in files:
      if name == ".lock" or locks.temporary_owner(name) or ".tmp" in name:
        found.append(os.path.join(root, name))
  return found


# ------------------------------------------------------------- divergence


def test_diverging_run_does_not_poison_the_restart(tmp_path):
  # Issue 14, case 1: --learning_rate=1e8 --save_checkpoints_steps=1. The
  # weights grow 1e6-fold per step; at step 5 the loss (computed with the
  # weights saved at step 4, finite but ~1e20) is inf. Before: model.ckpt-4
  # stayed the newest and every restart, at any rate, died at once.
  with pytest.raises(validation.DivergenceError) as info:
    estimator(tmp_path, model_fn_with(1e8)).train(loop_worker.input_fn, 30)
  assert str(info.value) == (
      "Training diverged at step 5: the loss is inf (learning rate "
      "8.66667e+07); the first update from the weights saved at step 4 "
      "diverged, so that checkpoint is no longer the newest (its files are "
      "kept); the newest checkpoint is %s. Lower the learning rate "
      "(--learning_rate) and rerun" % (tmp_path / "model.ckpt-3"))
  newest = tf.train.latest_checkpoint(str(tmp_path))
  assert newest == str(tmp_path / "model.ckpt-3")
  assert all(np.all(np.isfinite(v)) for v in
             checkpoint_values(newest).values())
  assert (tmp_path / "model.ckpt-4.index").exists()  # demoted, not deleted
  assert not leftovers(tmp_path)
  # The restart with a sane rate resumes at step 3 and trains to the end.
  again = estimator(tmp_path, model_fn_with(1e-3))
  again.train(loop_worker.input_fn, 8)
  assert int(again._global_step.numpy()) == 8
  final = checkpoint_values(tf.train.latest_checkpoint(str(tmp_path)))
  assert final["global_step"] == 8
  assert all(np.all(np.isfinite(v)) for v in final.values())


def test_issue_case_1_on_a_tiny_bert(tmp_path):
  # run_pretraining's model and records: with --learning_rate=1e8 (no
  # warmup) the weights after update 2 are NaN; model.ckpt-1 is finite but
  # wrecked (before: a restart at 1e-4 from it died at step 2 again).
  import modeling  # pylint: disable=g-import-not-at-top
  import run_pretraining  # pylint: disable=g-import-not-at-top
  from conftest import fixture_path  # pylint: disable=g-import-not-at-top
  config = modeling.BertConfig(
      vocab_size=30522, hidden_size=32, num_hidden_layers=2,
      num_attention_heads=2, intermediate_size=64,
      max_position_embeddings=128, type_vocab_size=2)
  records = [fixture_path("pretraining_data", "a_base.tfrecord")]

  def run(learning_rate, max_steps):
    model_fn = run_pretraining.model_fn_builder(
        config, None, learning_rate, 60, 0, False, False)
    estimator(tmp_path, model_fn, batch_size=4).train(
        run_pretraining.input_fn_builder(records, 128, 20, True), max_steps)

  with pytest.raises(validation.DivergenceError) as info:
    run(1e8, 60)
  message = str(info.value)
  assert message.startswith("Training diverged at step 2: "), message
  assert ("hold NaN or inf (learning rate 9.83333e+07); the first update "
          "from the weights saved at step 1 diverged, so that checkpoint is "
          "no longer the newest (its files are kept); the newest checkpoint "
          "is none") in message
  assert tf.train.latest_checkpoint(str(tmp_path)) is None
  assert (tmp_path / "model.ckpt-1.index").exists()
  run(1e-4, 3)  # starts again from the initial weights
  final = checkpoint_values(tf.train.latest_checkpoint(str(tmp_path)))
  assert final["global_step"] == 3
  assert all(np.all(np.isfinite(v)) for v in final.values())
  assert not leftovers(tmp_path)


def test_non_finite_weights_are_never_saved(tmp_path):
  # sqrt(|w - 0.5|) is 0 at the initial weights but its gradient is inf:
  # the loss of step 1 is finite, the weights after it are NaN.
  def train_loss(model, features, params):
    del features, params
    return tf.reduce_sum(tf.sqrt(tf.abs(model.kernel - 0.5)))

  est = estimator(tmp_path, model_fn_with(train_loss=train_loss))
  with pytest.raises(validation.DivergenceError) as info:
    est.train(loop_worker.input_fn, 5)
  assert str(info.value) == (
      # dense/bias, which the loss does not use, gets no update and stays
      # finite.
      "Training diverged at step 1: dense/kernel, dense/kernel/adam_m, "
      "dense/kernel/adam_v hold NaN or inf (learning rate 0); the "
      "newest checkpoint is none (a restart starts from the initial or "
      "--init_checkpoint weights). Lower the learning rate (--learning_rate) "
      "and rerun")
  assert tf.train.latest_checkpoint(str(tmp_path)) is None
  assert not [n for n in os.listdir(tmp_path) if n.startswith("model.ckpt")]
  assert not leftovers(tmp_path)


@pytest.mark.parametrize("rate,steps,warmup,message", [
    (float("nan"), 30, 2, "--learning_rate=nan: must be a finite number >= 0"),
    (-1e-4, 30, 2, "--learning_rate=-0.0001: must be >= 0"),
    (1e-4, 0, 0, "--num_train_steps=0: must be >= 1"),
])
def test_bad_schedules_are_refused_before_any_step(tmp_path, rate, steps,
                                                   warmup, message):
  model_fn = loop_worker.make_model_fn()
  model_fn.create_optimizer = lambda params: optimization.create_optimizer(
      None, rate, steps, warmup)
  with pytest.raises(validation.UsageError) as info:
    estimator(tmp_path, model_fn).train(loop_worker.input_fn, 5)
  assert str(info.value) == message
  assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("kwargs,message", [
    (dict(save_checkpoints_steps=-2),
     "--save_checkpoints_steps=-2: must be >= 0 (0 = only at the end)"),
    (dict(keep_checkpoint_max=-1),
     "--keep_checkpoint_max=-1: must be >= 0 (0 keeps all)"),
    (dict(iterations_per_loop=0), "--iterations_per_loop=0: must be >= 1"),
    (dict(gradient_accumulation_steps=0),
     "--gradient_accumulation_steps=0: must be >= 1"),
    (dict(seed=-1), "--seed=-1: must be between 0 and 4294967295"),
    (dict(log_every_n_steps=0), "--log_every_n_steps=0: must be >= 1"),
    (dict(precision="float64"),
     "--precision=float64: must be one of float32, bfloat16, float16"),
])
def test_run_config_refuses(tmp_path, kwargs, message):
  with pytest.raises(validation.UsageError) as info:
    estimator_lib.RunConfig(str(tmp_path / "out"), **kwargs)
  assert str(info.value) == message


@pytest.mark.parametrize("name", ["train_batch_size", "eval_batch_size",
                                  "predict_batch_size"])
def test_zero_batch_size_is_refused_before_anything_is_created(tmp_path, name):
  config = estimator_lib.RunConfig(str(tmp_path / "out"))
  with pytest.raises(validation.UsageError) as info:
    estimator_lib.Estimator(loop_worker.make_model_fn(), config,
                            **{name: 0})
  assert str(info.value) == "--%s=0: must be >= 1" % name
  assert not (tmp_path / "out").exists()


def test_training_zero_steps_is_an_error(tmp_path):
  with pytest.raises(validation.UsageError) as info:
    estimator(tmp_path).train(loop_worker.input_fn, 0)
  assert str(info.value).startswith(
      "Nothing to train: the number of training steps is 0 (from "
      "--num_train_steps, or the training examples / --train_batch_size x "
      "--num_train_epochs, rounded down); it must be >= 1")
  assert os.listdir(tmp_path) == []
  # Already at max_steps is fine (a finished run started again).
  est = estimator(tmp_path)
  est.train(loop_worker.input_fn, 2)
  est.train(loop_worker.input_fn, 2)
  assert int(est._global_step.numpy()) == 2


def test_input_ending_before_the_first_step_is_an_error(tmp_path):
  def too_small(params):
    return loop_worker.input_fn(params).take(0)

  with pytest.raises(validation.DataError) as info:
    estimator(tmp_path).train(too_small, 5)
  assert str(info.value) == ("The training input ended before the first "
                             "step: it holds fewer than one batch of "
                             "--train_batch_size=8 examples")
  assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_keep_checkpoint_max_zero_keeps_all(tmp_path):
  estimator(tmp_path, keep_checkpoint_max=0).train(loop_worker.input_fn, 7)
  assert len([n for n in os.listdir(tmp_path) if n.endswith(".index")]) == 7


# ----------------------------------------------------------------- weights


def test_evaluate_and_predict_without_weights_are_errors(tmp_path):
  message = ("Nothing to %s with: no checkpoint in --output_dir=%s and no "
             "--init_checkpoint; train first (--do_train) or give the weights")
  with pytest.raises(validation.UsageError) as info:
    estimator(tmp_path).evaluate(loop_worker.input_fn)
  assert str(info.value) == message % ("evaluate", tmp_path)
  with pytest.raises(validation.UsageError) as info:
    next(estimator(tmp_path).predict(loop_worker.input_fn))
  assert str(info.value) == message % ("predict", tmp_path)
  assert os.listdir(tmp_path) == []
  # An untrained baseline, asked for in code.
  result = estimator(tmp_path).evaluate(loop_worker.input_fn,
                                        allow_initial_weights=True)
  assert result["global_step"] == 0


def test_explicit_checkpoint_lacking_variables_is_an_error(tmp_path):
  import checkpoints  # pylint: disable=g-import-not-at-top
  prefix = checkpoints.save_checkpoint(
      {"dense/kernel": tf.zeros([4, 1]), "global_step": tf.constant(
          3, tf.int64)}, str(tmp_path / "other" / "model.ckpt-3"))
  with pytest.raises(validation.UsageError) as info:
    estimator(tmp_path / "out").evaluate(loop_worker.input_fn,
                                         checkpoint_path=prefix)
  assert str(info.value) == ("Checkpoint %s lacks 1 variables of this model: "
                             "dense/bias" % prefix)


def test_init_checkpoint_restoring_nothing_is_an_error(tmp_path):
  import checkpoints  # pylint: disable=g-import-not-at-top
  prefix = checkpoints.save_checkpoint(
      {"bert/pooler/dense/kernel": tf.zeros([4, 1])},
      str(tmp_path / "init" / "bert_model.ckpt"))
  with pytest.raises(validation.UsageError) as info:
    estimator(tmp_path / "out", warm_start_from=prefix).train(
        loop_worker.input_fn, 3)
  assert str(info.value).startswith(
      "--init_checkpoint=%s restores 0 of the 2 variables expected" % prefix)
  assert tf.train.latest_checkpoint(str(tmp_path / "out")) is None


def test_second_live_training_run_is_refused(tmp_path):
  holder = subprocess.Popen([sys.executable, HOLDER, "dir", str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline() == "locked\n"
    with pytest.raises(locks.LockError) as info:
      estimator(tmp_path).train(loop_worker.input_fn, 3)
    assert str(info.value).startswith(
        "--output_dir=%s is in use by another run (pid %d" %
        (tmp_path, holder.pid))
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
  finally:
    holder.kill()
    holder.wait()


# -------------------------------------------------------------------- data

FEATURES = {"x": tf.io.FixedLenFeature([4], tf.float32),
            "y": tf.io.FixedLenFeature([], tf.float32),
            "id": tf.io.FixedLenFeature([], tf.int64)}


def write_records(path, count=20, start=0):
  """loop_worker's examples as TFRecords; returns the bytes per record."""
  x, y, ids = loop_worker.data()
  sizes = set()
  with tf.io.TFRecordWriter(str(path)) as writer:
    for i in range(start, start + count):
      example = tf.train.Example(features=tf.train.Features(feature={
          "x": tf.train.Feature(float_list=tf.train.FloatList(value=x[i])),
          "y": tf.train.Feature(float_list=tf.train.FloatList(value=[y[i]])),
          "id": tf.train.Feature(int64_list=tf.train.Int64List(
              value=[ids[i]]))}))
      data = example.SerializeToString()
      sizes.add(len(data) + 16)
      writer.write(data)
  assert len(sizes) == 1
  return sizes.pop()


def damage(path, record, record_bytes, how="data"):
  """Flips a byte of `record`'s data or length, or cuts the file inside it."""
  data = bytearray(open(path, "rb").read())
  position = record * record_bytes + (2 if how == "header" else 12 + 3)
  if how == "truncate":
    data = data[:position]
  else:
    data[position] ^= 0xFF
  with open(path, "wb") as f:
    f.write(bytes(data))


def trained(tmp_path):
  est = estimator(tmp_path / "model")
  est.train(loop_worker.input_fn, 2)
  return est


@pytest.mark.parametrize("how,what", [("data", "corrupted"),
                                      ("header", "corrupted"),
                                      ("truncate", "truncated")])
def test_damaged_record_names_file_and_record(tmp_path, how, what):
  path = str(tmp_path / "eval.tf_record")
  size = write_records(path)
  damage(path, 13, size, how)
  input_fn = estimator_lib.record_input_fn_builder(path, FEATURES, False,
                                                   False)
  with pytest.raises(validation.DataError) as info:
    trained(tmp_path).evaluate(input_fn)
  assert str(info.value) == (
      "TFRecord file %s is damaged (%s record): record 13 (at byte %d) "
      "cannot be read; recreate the file" % (path, what, 13 * size))


def test_a_text_file_given_as_records_is_named(tmp_path):
  path = tmp_path / "train.tsv"
  path.write_text("a sentence\t1\n" * 50)
  input_fn = estimator_lib.record_input_fn_builder(str(path), FEATURES, True,
                                                   True)
  with pytest.raises(validation.DataError) as info:
    estimator(tmp_path / "model").train(input_fn, 3)
  assert str(info.value) == (
      "TFRecord file %s is not a TFRecord file: record 0 (at byte 0) cannot "
      "be read; recreate the file" % path)
  with pytest.raises(validation.DataError) as info:
    estimator_lib.check_record_files([str(path)])
  assert str(info.value).startswith("TFRecord file %s is not a TFRecord "
                                    "file" % path)


def test_the_damaged_file_among_several_is_named(tmp_path):
  paths = [str(tmp_path / ("part-%d" % i)) for i in range(3)]
  for i, path in enumerate(paths):
    size = write_records(path, count=16, start=16 * i)
  damage(paths[1], 9, size)

  def input_fn(params):
    d = tf.data.TFRecordDataset(paths)
    d = d.batch(params["batch_size"])
    return d.map(lambda r: estimator_lib.decode_records(r, FEATURES))

  input_fn.input_files = paths
  with pytest.raises(validation.DataError) as info:
    list(trained(tmp_path).predict(input_fn))
  assert str(info.value).startswith("TFRecord file %s is damaged (corrupted "
                                    "record): record 9" % paths[1])


def test_check_record_files(tmp_path):
  good = str(tmp_path / "good")
  write_records(good)
  empty = tmp_path / "empty"
  empty.write_bytes(b"")
  estimator_lib.check_record_files([good])
  with pytest.raises(validation.DataError) as info:
    estimator_lib.check_record_files([good, str(empty)])
  assert str(info.value) == "TFRecord file %s holds no records (--input_file=%s)" % (
      empty, empty)
  with pytest.raises(validation.UsageError) as info:
    estimator_lib.check_record_files([str(tmp_path / "none")])
  assert str(info.value) == "--input_file=%s: no such file" % (
      tmp_path / "none")


def generator_input_fn(fail_at, error):
  """An input_fn whose Python generator raises `error` at example `fail_at`."""
  x, y, ids = loop_worker.data()

  def examples():
    for i in range(len(x)):
      if i == fail_at:
        raise error
      yield {"x": x[i], "y": y[i], "id": ids[i]}

  def input_fn(params):
    d = tf.data.Dataset.from_generator(
        estimator_lib.pipeline_generator(examples), output_signature={
            "x": tf.TensorSpec([4], tf.float32),
            "y": tf.TensorSpec([], tf.float32),
            "id": tf.TensorSpec([], tf.int64)})
    if params["mode"] == "train":
      d = d.repeat()
    return d.batch(params["batch_size"], drop_remainder=True)

  return input_fn


def test_error_in_a_generator_reaches_the_user_as_itself(tmp_path):
  error = validation.DataError("train.tsv:42: 1 column, expected 2")
  with pytest.raises(validation.DataError) as info:
    trained(tmp_path).evaluate(generator_input_fn(20, error))
  assert info.value is error
  with pytest.raises(validation.DataError) as info:
    estimator(tmp_path / "t").train(generator_input_fn(20, error), 10)
  assert info.value is error
  assert tf.train.latest_checkpoint(str(tmp_path / "t")).endswith("-2")


def test_a_bug_in_a_py_function_keeps_its_own_traceback(tmp_path):
  def broken(ids):
    return {}["key %d" % int(ids[0])]

  def input_fn(params):
    d = loop_worker.input_fn(params)
    return d.map(lambda f: dict(f, id=tf.py_function(
        estimator_lib.pipeline_function(broken), [f["id"]], tf.int64)))

  with pytest.raises(KeyError) as info:
    list(trained(tmp_path).predict(input_fn))
  assert info.value.args == ("key 0",)
  assert "broken" in [entry.name for entry in info.traceback]


def test_eval_results_write_error_names_the_file(tmp_path, monkeypatch):
  path = str(tmp_path / "eval_results.txt")
  estimator_lib.write_eval_results(path, {"loss": 1.0})

  def denied(*unused_args, **unused_kwargs):
    raise tf.errors.PermissionDeniedError(None, None, path + "; Permission "
                                          "denied")

  monkeypatch.setattr(io_lib, "_rename", denied)
  with pytest.raises(validation.OutputError) as info:
    estimator_lib.write_eval_results(path, {"loss": 2.0})
  assert str(info.value) == "Cannot write %s: Permission denied" % path
  monkeypatch.undo()
  with open(path) as f:
    assert f.read() == "loss = 1.0\n"
  assert os.listdir(tmp_path) == ["eval_results.txt"]


# ------------------------------------------------ a real process: disk, kill


def run_worker(model_dir, *args, wait=True):
  command = [sys.executable, WORKER, "--model_dir=%s" % model_dir]
  proc = subprocess.Popen(command + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if not wait:
    return proc
  out, err = proc.communicate(timeout=240)
  return proc.returncode, out, err


def test_full_disk_exits_2_naming_the_checkpoint(tmp_path):
  code, _, err = run_worker(tmp_path, "--padding=100000",
                            "--fsize_limit=100000")
  assert code == 2, err[-3000:]
  assert err.strip().splitlines()[-1] == (
      "safety_worker.py: error: Cannot write checkpoint %s: File too large" %
      (tmp_path / "model.ckpt-1"))
  assert not [n for n in os.listdir(tmp_path) if n.startswith("model.ckpt")]
  assert not leftovers(tmp_path)


def test_divergence_exits_2_with_one_line(tmp_path):
  code, _, err = run_worker(tmp_path, "--learning_rate=1e8",
                            "--max_steps=30")
  assert code == 2, err[-3000:]
  last = err.strip().splitlines()[-1]
  assert last.startswith("safety_worker.py: error: Training diverged at "
                         "step 5: the loss is inf"), last
  assert "Traceback" not in err


def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path):
  proc = run_worker(tmp_path, "--max_steps=100000", wait=False)
  deadline = time.time() + 120
  while not (tmp_path / "checkpoint").exists():
    assert time.time() < deadline and proc.poll() is None
    time.sleep(0.2)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 143, err[-3000:]
  assert err.strip().splitlines()[-1] == (
      "safety_worker.py: interrupted (SIGTERM)")
  assert not leftovers(tmp_path)
  newest = tf.train.latest_checkpoint(str(tmp_path))
  step = int(checkpoint_values(newest)["global_step"])
  code, out, err = run_worker(tmp_path, "--max_steps=%d" % (step + 2))
  assert code == 0, err[-3000:]
  assert out.strip() == "global_step %d" % (step + 2)
  assert not leftovers(tmp_path)
