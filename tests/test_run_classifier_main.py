"""run_classifier.main() end to end on a tiny model (also helpers for the
export and TF Hub tests).

Checks the behaviour Google's main() has (file layout, padding, formats) and
the new features (multi-label, regression, eval during training with the best
checkpoint kept, SavedModel export).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_path
import harness
from harness import read_eval_results
from harness import run_main
import run_classifier


def read_tsv_floats(path):
  with open(path) as f:
    return np.array([[float(x) for x in line.rstrip("\n").split("\t")]
                     for line in f])


def common_flags(tmp_path, **extra):
  values = dict(
      data_dir=fixture_path("classifier", "mrpc"),
      vocab_file=harness.VOCAB,
      bert_config_file=harness.write_config(tmp_path),
      output_dir=str(tmp_path / "out"),
      max_seq_length=32,
      learning_rate=1e-3,
      train_batch_size=8,
      seed=1)
  values.update(extra)
  return values


def save_random_classifier(directory, num_labels, seed=0):
  """A checkpoint of a freshly initialised tiny BertClassifier."""
  tf.random.set_seed(seed)
  model = run_classifier.BertClassifier(harness.tiny_config(), num_labels)
  return harness.save_checkpoint(model, directory)


def test_mrpc_main_records_and_formats(tmp_path):
  """Google's MRPC main() without a TPU: eval.tf_record == dev.tf_record and
  predict.tf_record == test.tf_record (bytes; the TPU padding is tested on
  Google's padded files in test_run_classifier_data.py), Google's eval keys
  plus the new ones, keys sorted, 20 test lines of probabilities.
  """
  init = save_random_classifier(tmp_path, 2)
  flags_ = common_flags(tmp_path, task_name="MRPC", do_eval=True,
                        do_predict=True, init_checkpoint=init)
  run_main(run_classifier.main, **flags_)
  out = tmp_path / "out"
  for ours, google in (("eval", "dev"), ("predict", "test")):
    with open(str(out / ("%s.tf_record" % ours)), "rb") as f:
      ours_bytes = f.read()
    with open(fixture_path("classifier", "mrpc", "%s.tf_record" % google),
              "rb") as f:
      assert ours_bytes == f.read()
  results = read_eval_results(str(out / "eval_results.txt"))
  for key in ("eval_accuracy", "eval_loss", "global_step", "loss",
              "eval_f1_0", "eval_f1_1", "eval_macro_f1",
              "eval_matthews_corr"):
    assert key in results
  assert list(results) == sorted(results)
  probabilities = read_tsv_floats(str(out / "test_results.tsv"))
  assert probabilities.shape == (20, 2)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_eval_every_steps_keeps_best_and_exports(tmp_path):
  flags_ = common_flags(
      tmp_path, task_name="cola", data_dir=fixture_path("classifier", "cola"),
      do_train=True, do_eval=True, num_train_epochs=1, eval_every_steps=2,
      keep_best_metric="eval_loss", save_checkpoints_steps=100,
      export_dir=str(tmp_path / "export"))
  run_main(run_classifier.main, **flags_)
  out = tmp_path / "out"
  # 40 examples / 8 = 5 steps: evaluations at 2, 4, 5.
  best = read_eval_results(str(out / "best" / "eval_results.txt"))
  step = int(best["global_step"])
  assert step in (2, 4, 5)
  assert tf.train.latest_checkpoint(str(out / "best")).endswith(
      "model.ckpt-%d" % step)
  final = read_eval_results(str(out / "eval_results.txt"))
  assert float(best["eval_loss"]) <= float(final["eval_loss"])
  assert final["global_step"] == "5"
  assert os.path.exists(str(tmp_path / "export" / "saved_model.pb"))


def test_multi_label_and_regression_main(tmp_path):
  data = tmp_path / "data"
  data.mkdir()
  rows = ["red apple\tred,fruit", "green apple\tgreen,fruit",
          "red car\tred", "green car\tgreen"] * 2
  (data / "train.tsv").write_text("\n".join(rows) + "\n")
  (data / "dev.tsv").write_text("\n".join(rows[:4]) + "\n")
  (data / "test.tsv").write_text("red apple\nblue car\n")
  flags_ = common_flags(tmp_path, task_name="tsv", data_dir=str(data),
                        multi_label=True, do_train=True, do_eval=True,
                        do_predict=True, num_train_epochs=1)
  run_main(run_classifier.main, **flags_)
  out = tmp_path / "out"
  with open(str(out / "label_list.txt")) as f:
    assert f.read() == "fruit\ngreen\nred\n"
  results = read_eval_results(str(out / "eval_results.txt"))
  for key in ("eval_micro_f1", "eval_macro_f1", "eval_subset_accuracy",
              "eval_f1_fruit", "eval_f1_green", "eval_f1_red", "eval_loss"):
    assert key in results
  probabilities = read_tsv_floats(str(out / "test_results.tsv"))
  assert probabilities.shape == (2, 3)
  # Sigmoid outputs are independent: rows need not sum to one.
  assert np.all((probabilities > 0) & (probabilities < 1))

  header = ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
            "sentence1\tsentence2\tscore\n")
  sts = tmp_path / "sts"
  sts.mkdir()
  lines = ["%d\tm\tf\t2012\t%d\tn\tn\ta cat %d\ta dog\t%.1f\n" % (i, i, i,
                                                                  i % 5)
           for i in range(8)]
  (sts / "train.tsv").write_text(header + "".join(lines))
  (sts / "dev.tsv").write_text(header + "".join(lines))
  flags_ = common_flags(tmp_path, task_name="STS-B", data_dir=str(sts),
                        output_dir=str(tmp_path / "sts_out"), do_train=True,
                        do_eval=True, num_train_epochs=1)
  run_main(run_classifier.main, **flags_)
  results = read_eval_results(str(tmp_path / "sts_out" / "eval_results.txt"))
  assert {"eval_pearson", "eval_spearman", "eval_loss"} <= set(results)


def test_flag_errors(tmp_path):
  with pytest.raises(ValueError, match="At least one of `do_train`"):
    run_main(run_classifier.main, **common_flags(tmp_path, task_name="mrpc"))
  with pytest.raises(ValueError, match="Task not found: nope"):
    run_main(run_classifier.main,
             **common_flags(tmp_path, task_name="nope", do_eval=True))
  with pytest.raises(ValueError, match="Cannot use sequence length 65"):
    run_main(run_classifier.main,
             **common_flags(tmp_path, task_name="mrpc", do_eval=True,
                            max_seq_length=65))


GOOGLE_README_MRPC = """
python run_classifier.py \\
  --task_name=MRPC \\
  --do_train=true \\
  --do_eval=true \\
  --data_dir=$GLUE_DIR/MRPC \\
  --vocab_file=$BERT_BASE_DIR/vocab.txt \\
  --bert_config_file=$BERT_BASE_DIR/bert_config.json \\
  --init_checkpoint=$BERT_BASE_DIR/bert_model.ckpt \\
  --max_seq_length=128 \\
  --train_batch_size=32 \\
  --learning_rate=2e-5 \\
  --num_train_epochs=3.0 \\
  --output_dir=/tmp/mrpc_output/
"""


def test_googles_readme_mrpc_command_line_runs_unchanged(tmp_path):
  """Google's README command, flag for flag (lower-case `true` included), on
  a directory laid out like Google's released zip and GLUE's MRPC folder."""
  bert_base_dir = tmp_path / "uncased_L-2_H-32_A-4"
  harness.google_model_dir(bert_base_dir, max_position_embeddings=128)
  glue_dir = os.path.dirname(fixture_path("classifier", "mrpc"))
  output_dir = str(tmp_path / "mrpc_output") + "/"
  command = (GOOGLE_README_MRPC.replace("\\\n", " ")
             .replace("$GLUE_DIR/MRPC", os.path.join(glue_dir, "mrpc"))
             .replace("$BERT_BASE_DIR", str(bert_base_dir))
             .replace("/tmp/mrpc_output/", output_dir))
  # python run_classifier.py --task_name=MRPC ...
  run_main(run_classifier.main, *command.split()[2:])
  results = read_eval_results(os.path.join(output_dir, "eval_results.txt"))
  num_train = len(run_classifier.MrpcProcessor().get_train_examples(
      fixture_path("classifier", "mrpc")))
  # Google's step count: int(examples / batch * epochs).
  assert int(results["global_step"]) == int(num_train / 32 * 3.0)
  assert 0.0 <= float(results["eval_accuracy"]) <= 1.0
  assert tf.train.latest_checkpoint(output_dir).endswith(
      "model.ckpt-%d" % int(num_train / 32 * 3.0))
