# coding=utf-8
"""The tests' one tiny-model harness: config, checkpoint, vocabulary, and one
way to run a script's main (in process or as a subprocess).

Every test that needs a small BERT takes it from here (keras-hub's shared
backbone test harness is the model), overriding only what it tests; ALBERT's
reference models (outputs of google-research/albert's own code) and a small
ALBERT config likewise.
"""

import collections
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from absl import flags

from conftest import fixture_path
from conftest import ROOT
import numpy as np
import tensorflow as tf

from albert import modeling as albert_modeling
import checkpoints
import encoders
import modeling

FLAGS = flags.FLAGS

# A 2-layer, hidden-32 BERT over Google's uncased vocabulary (30522 ids), so
# Google's fixtures (records, SQuAD, GLUE) feed it as they are.
TINY_CONFIG = {
    "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 37,
    "max_position_embeddings": 64, "type_vocab_size": 2,
}
VOCAB = fixture_path("vocab_uncased.txt")


def tiny_config(**overrides):
  """A modeling.BertConfig of TINY_CONFIG with `overrides`."""
  return modeling.BertConfig.from_dict(dict(TINY_CONFIG, **overrides))


def write_config(path, **overrides):
  """Writes TINY_CONFIG with `overrides` as JSON; returns the file's path.

  Args:
    path: a directory (the file is its bert_config.json) or a .json path.
    **overrides: config values to change.
  """
  path = str(path)
  if not path.endswith(".json"):
    path = os.path.join(path, "bert_config.json")
  with open(path, "w") as f:
    json.dump(dict(TINY_CONFIG, **overrides), f)
  return path


def tiny_encoder(**overrides):
  """A freshly initialised tiny BertModel (from the registry)."""
  return encoders.EncoderSpec.from_config(tiny_config(**overrides)).create()


def save_checkpoint(module, directory, name="init.ckpt"):
  """Writes `module`'s variables as a TF1 checkpoint; returns its prefix."""
  return checkpoints.save_checkpoint(module, os.path.join(str(directory),
                                                          name))


def google_model_dir(directory, **overrides):
  """A directory laid out like Google's released zips: bert_config.json,
  vocab.txt and bert_model.ckpt of a fresh tiny model.

  Returns:
    dict: bert_config_file, vocab_file, init_checkpoint.
  """
  os.makedirs(str(directory), exist_ok=True)
  config_file = write_config(directory, **overrides)
  vocab_file = os.path.join(str(directory), "vocab.txt")
  shutil.copyfile(VOCAB, vocab_file)
  model = tiny_encoder(**overrides)
  return {"bert_config_file": config_file, "vocab_file": vocab_file,
          "init_checkpoint": save_checkpoint(model, directory,
                                             "bert_model.ckpt")}


def run_main(main, *args, **flag_values):
  """Parses flags, runs a script's `main` in this process, resets the flags.

  Every flag starts from its default (another runner imported into the same
  process may have defined a flag first, with its own default: pass
  max_seq_length, learning_rate and the like explicitly).

  Args:
    main: the script's main(argv).
    *args: command-line words ("--do_train", "--max_seq_length=64").
    **flag_values: more flags, given as name=value.
  """
  argv = ["prog"] + list(args) + ["--%s=%s" % item
                                  for item in flag_values.items()]
  FLAGS.unparse_flags()
  FLAGS(argv)
  try:
    main(None)
  finally:
    FLAGS.unparse_flags()


CliResult = collections.namedtuple("CliResult", ["status", "error",
                                                 "stderr"])


def run_cli(main, *args, checks=None, **flag_values):
  """Runs a script's `main` as its command line does, in this process.

  As `validation.run_main` (without the signal handlers): flag errors,
  the checks by flag name, `checks` (default: the driver's
  `task_lib.check_run_flags`), the output locks, user errors printed as one
  line with status 2. Flags are reset afterwards.

  Args:
    main: the script's main(argv).
    *args: command-line words.
    checks: callables(FLAGS) run before main (None: task_lib's).
    **flag_values: more flags, as name=value.

  Returns:
    CliResult(status: 0 on success, else the exit status; error: the last
    line written to stderr, or ""; stderr: all of it).
  """
  import task_lib  # pylint: disable=g-import-not-at-top
  import validation  # pylint: disable=g-import-not-at-top
  if checks is None:
    checks = (task_lib.check_run_flags,)
  argv = ["prog"] + list(args) + ["--%s=%s" % item
                                  for item in flag_values.items()]
  stderr = io.StringIO()
  status = 0
  FLAGS.unparse_flags()
  try:
    with contextlib.redirect_stderr(stderr):
      try:
        validation.parse_flags(argv)
        validation.script_main(main, checks, program="prog")(argv)
      except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
  finally:
    FLAGS.unparse_flags()
  lines = stderr.getvalue().strip().splitlines()
  return CliResult(status, lines[-1] if lines else "", stderr.getvalue())


def run_script(script, args, timeout=300):
  """Runs a script of the repository as a subprocess; it must succeed.

  Args:
    script: file name, e.g. "run_pretraining.py".
    args: list of command-line words.
    timeout: seconds.

  Returns:
    its output (stdout and stderr).
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, script)] + args,
                        cwd=ROOT, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=timeout)
  out = proc.stdout.decode("utf-8", "replace")
  assert proc.returncode == 0, out[-4000:]
  return out


def kill_at_first_checkpoint(script, args, output_dir, timeout=240):
  """Runs a training script and SIGKILLs it once it wrote a checkpoint.

  Args:
    script: file name, e.g. "run_pretraining.py".
    args: its command-line words (writing checkpoints to output_dir).
    output_dir: where its checkpoints appear.
    timeout: seconds to wait for the first checkpoint.

  Returns:
    the newest checkpoint when the process died.
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script)] + args,
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + timeout
  while tf.train.latest_checkpoint(output_dir) is None:
    assert proc.poll() is None and time.time() < deadline
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  return tf.train.latest_checkpoint(output_dir)


def read_eval_results(path):
  """Google's eval_results.txt as an OrderedDict key -> value string."""
  with open(path) as f:
    lines = f.read().splitlines()
  pairs = [line.split(" = ") for line in lines]
  assert all(len(p) == 2 for p in pairs), lines
  return collections.OrderedDict((k, v) for k, v in pairs)


def assert_gradient_matches_finite_differences(loss, var, indices, eps=1e-2):
  """The gradient of `loss` in `var` against central finite differences.

  An independent check of a model's backward pass, on a few weights.

  Args:
    loss: function () -> float32 scalar Tensor.
    var: the tf.Variable.
    indices: index tuples of `var` to check.
    eps: the step.
  """
  with tf.GradientTape() as tape:
    value = loss()
  grad = tape.gradient(value, var).numpy()
  base = var.numpy()
  for idx in indices:
    delta = np.zeros_like(base)
    delta[idx] = eps
    var.assign(base + delta)
    up = loss().numpy()
    var.assign(base - delta)
    down = loss().numpy()
    var.assign(base)
    np.testing.assert_allclose((up - down) / (2 * eps), grad[idx], atol=2e-3,
                               rtol=5e-2, err_msg=str(idx))


def assert_encoder_outputs_match(outputs, exp, atol=1e-5, rtol=1e-5):
  """Every encoder output that `exp` holds, at every position.

  Args:
    outputs: modeling.BertOutputs.
    exp: dict of reference arrays (a fixture's expected.npz): compared are
      word_embedding_output, embedding_output, each all_encoder_layers entry,
      sequence_output, pooled_output, and attention_probs when the call
      returned them.
  """
  tol = dict(atol=atol, rtol=rtol)
  for key in ("word_embedding_output", "embedding_output", "sequence_output",
              "pooled_output"):
    if key in exp:
      np.testing.assert_allclose(getattr(outputs, key), exp[key],
                                 err_msg=key, **tol)
  assert len(outputs.all_encoder_layers) == len(exp["all_encoder_layers"])
  for index, (got, want) in enumerate(zip(outputs.all_encoder_layers,
                                          exp["all_encoder_layers"])):
    np.testing.assert_allclose(got, want, err_msg="layer %d" % index, **tol)
  if outputs.attention_probs is not None and "attention_probs" in exp:
    np.testing.assert_allclose(np.stack(outputs.attention_probs),
                               exp["attention_probs"], **tol)


# ------------------------------------------------------------------ ALBERT

# tests/fixtures/albert/modeling/<name>/: checkpoints in ALBERT's names and the
# outputs of ALBERT's AlbertModel and heads (see tests/fixtures/README.md).
ALBERT_MODELS = ("tiny", "tiny_sharp", "grouped")

# A small ALBERT: E != H, one group, for tests of other shapes.
TINY_ALBERT_CONFIG = {
    "vocab_size": 50, "embedding_size": 8, "hidden_size": 16,
    "num_hidden_layers": 2, "num_hidden_groups": 1, "inner_group_num": 1,
    "num_attention_heads": 2, "intermediate_size": 24,
    "max_position_embeddings": 32, "type_vocab_size": 2,
}


def tiny_albert_config(**overrides):
  """An AlbertConfig of TINY_ALBERT_CONFIG with `overrides`."""
  return albert_modeling.AlbertConfig.from_dict(
      dict(TINY_ALBERT_CONFIG, **overrides))


def albert_fixture(name, *parts):
  """Path under tests/fixtures/albert/modeling/<name>/."""
  return fixture_path("albert", "modeling", name, *parts)


def albert_reference(name, default_mask=False):
  """The reference outputs of ALBERT model `name` (dict of numpy arrays)."""
  npz = "expected_default_mask.npz" if default_mask else "expected.npz"
  return dict(np.load(albert_fixture(name, npz)))


def load_albert(name, **kwargs):
  """An AlbertModel of reference `name`, its checkpoint loaded by name.

  Returns:
    (model, checkpoints.RestoreResult).
  """
  config = albert_modeling.AlbertConfig.from_json_file(
      albert_fixture(name, "albert_config.json"))
  model = albert_modeling.AlbertModel(config, **kwargs)
  result = albert_modeling.init_from_checkpoint(
      model, albert_fixture(name, "model.ckpt-best"))
  return model, result
