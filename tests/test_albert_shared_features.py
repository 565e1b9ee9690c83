"""The shared loop's features on ALBERT: gradient accumulation, XLA,
bfloat16 and MirroredStrategy over two logical CPUs, each against the plain
one-device float32 run of the same ALBERT classifier (tiny reference model,
MRPC records with spm_tiny; see albert_features_worker.py). The runner-level
flags (--precision, --use_xla, --gradient_accumulation_steps) are exercised
in test_albert_run_classifier.py.
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
import albert_features_worker as worker
import checkpoints
import harness
from albert import classifier_utils
from albert import tokenization


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  """MRPC records, the encoder's checkpoint and the baseline run."""
  root = tmp_path_factory.mktemp("albert_features")
  os.makedirs(root / "glue" / "MRPC")
  shutil.copy(fixture_path("classifier", "mrpc", "train.tsv"),
              root / "glue" / "MRPC" / "train.tsv")
  processor = classifier_utils.MrpcProcessor(use_spm=True, do_lower_case=True)
  tokenizer = tokenization.FullTokenizer(
      None, spm_model_file=fixture_path("albert", "spm_tiny.model"))
  records = str(root / "train.tf_record")
  classifier_utils.file_based_convert_examples_to_features(
      processor.get_train_examples(str(root / "glue")),
      processor.get_labels(), worker.MAX_SEQ_LENGTH, tokenizer, records,
      "mrpc")
  encoder, _ = harness.load_albert("tiny")
  init = checkpoints.save_checkpoint(encoder, str(root / "encoder.ckpt"))
  baseline, _ = worker.train(str(root / "baseline"), records, init)
  return {"root": root, "records": records, "init": init,
          "baseline": baseline}


def _assert_same_weights(weights, baseline, atol):
  assert sorted(weights) == sorted(baseline)
  for name, value in baseline.items():
    np.testing.assert_allclose(weights[name], value, atol=atol, rtol=0,
                               err_msg=name)


def test_training_moves_every_weight_group(setup):
  """The baseline trained (so equal weights below are no accident)."""
  baseline = setup["baseline"]
  reader = tf.train.load_checkpoint(setup["init"])
  for name in ("bert/embeddings/word_embeddings",
               "bert/encoder/transformer/group_0/inner_group_0/"
               "ffn_1/intermediate/dense/kernel",
               "bert/pooler/dense/kernel"):
    assert np.abs(baseline[name] - reader.get_tensor(name)).max() > 1e-5
  assert np.abs(baseline["output_weights"]).max() > 0


def test_gradient_accumulation_equals_the_full_batch(setup):
  weights, _ = worker.train(str(setup["root"] / "accum"), setup["records"],
                         setup["init"], accum=2)
  _assert_same_weights(weights, setup["baseline"], atol=1e-5)


def test_xla_equals_the_plain_graph(setup):
  weights, _ = worker.train(str(setup["root"] / "xla"), setup["records"],
                         setup["init"], use_xla=True)
  _assert_same_weights(weights, setup["baseline"], atol=1e-5)


def test_bfloat16_trains_close_to_float32(setup):
  """bfloat16 matmuls, float32 weights: close to the float32 run, not
  equal (so the compute dtype really changed)."""
  weights, _ = worker.train(str(setup["root"] / "bf16"), setup["records"],
                         setup["init"], precision="bfloat16")
  _assert_same_weights(weights, setup["baseline"], atol=2e-2)
  assert all(w.dtype == np.float32 for w in weights.values())
  assert max(np.abs(weights[n] - setup["baseline"][n]).max()
             for n in weights) > 1e-6


def test_mirrored_over_two_cpus_equals_one_device(setup):
  out = str(setup["root"] / "mirrored.npz")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, "tests", "albert_features_worker.py"),
       "--cpus=2", "--distribution=mirrored", "--records=" + setup["records"],
       "--init=" + setup["init"],
       "--model_dir=" + str(setup["root"] / "mirrored"), "--out=" + out],
      cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      timeout=300)
  assert proc.returncode == 0, proc.stdout.decode()[-3000:]
  saved = dict(np.load(out))
  assert saved.pop("replicas") == 2
  weights = {k.replace("__", "/"): v for k, v in saved.items()}
  _assert_same_weights(weights, setup["baseline"], atol=1e-5)
