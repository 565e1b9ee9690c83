# coding=utf-8
"""ALBERT's classifier trained a few steps by the shared loop, for the tests
of the shared features (strategies, precision, XLA, accumulation) on ALBERT.

The model is the tiny reference ALBERT (tests/fixtures/albert/modeling/tiny,
dropout 0) + the classifier head with its dropout off too, so that runs
differing only in how a batch is computed must end with the same weights.
Imported by tests/test_albert_shared_features.py, and run as a subprocess for
MirroredStrategy over logical CPUs (which must be set up before TensorFlow
starts):

  python tests/albert_features_worker.py --cpus=2 --distribution=mirrored \
      --records=train.tf_record --init=encoder.ckpt --model_dir=DIR \
      --out=weights.npz
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

MAX_SEQ_LENGTH = 32
NUM_LABELS = 2
CONFIG = os.path.join(ROOT, "tests", "fixtures", "albert", "modeling", "tiny",
                      "albert_config.json")


def train(model_dir, records, init_checkpoint, distribution="default",
          accum=1, precision="float32", use_xla=False, steps=3, batch=8):
  """Trains ALBERT's MRPC classifier from `init_checkpoint` for `steps`.

  Args:
    model_dir: the output directory.
    records: MRPC training records (max_seq_length 32).
    init_checkpoint: the encoder's weights.
    distribution, accum, precision, use_xla: the runtime flags.
    steps, batch: the schedule and the global batch size.

  Returns:
    (dict variable name -> numpy array of the trained model, the number of
    replicas).
  """
  import encoders  # pylint: disable=g-import-not-at-top
  import estimator_lib  # pylint: disable=g-import-not-at-top
  import task_lib  # pylint: disable=g-import-not-at-top
  from albert import classifier_utils  # pylint: disable=g-import-not-at-top

  class NoDropoutTask(classifier_utils.AlbertClassificationTask):
    """ALBERT's classification task with the head's dropout off."""

    def create_model(self, params):
      """The task's model, its classifier dropout 0."""
      model = super(NoDropoutTask, self).create_model(params)
      model.head.dropout_prob = 0.0
      return model

  family = encoders.get_family("albert")
  task = NoDropoutTask(
      task_lib.RunSettings(learning_rate=1e-3, num_train_steps=steps,
                           num_warmup_steps=1),
      encoders.EncoderSpec(family, family.load_config(CONFIG)), NUM_LABELS,
      "mrpc")
  task.set_schedule(*task.training_schedule())
  # The head's initial weights come from TensorFlow's seeded generator.
  estimator_lib.set_seed(1)
  config = estimator_lib.RunConfig(
      model_dir, strategy=estimator_lib.make_strategy(distribution),
      precision=precision, use_xla=use_xla, gradient_accumulation_steps=accum,
      seed=1, iterations_per_loop=steps)
  estimator = estimator_lib.Estimator(task, config, train_batch_size=batch,
                                      warm_start_from=init_checkpoint)
  estimator.train(classifier_utils.file_based_input_fn_builder(
      records, MAX_SEQ_LENGTH, True, True, "mrpc", False, batch),
                  max_steps=steps)
  return ({v.name.split(":")[0]: v.numpy()
           for v in estimator.model.variables}, config.num_replicas)


def main():
  """Parses the flags, sets up the logical CPUs, trains, saves the weights."""
  parser = argparse.ArgumentParser()
  parser.add_argument("--cpus", type=int, default=1)
  parser.add_argument("--distribution", default="default")
  parser.add_argument("--records", required=True)
  parser.add_argument("--init", required=True)
  parser.add_argument("--model_dir", required=True)
  parser.add_argument("--out", required=True)
  args = parser.parse_args()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if args.cpus > 1:
    # Must happen before TensorFlow initialises its devices.
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * args.cpus)
  weights, replicas = train(args.model_dir, args.records, args.init,
                            distribution=args.distribution)
  np.savez(args.out, replicas=replicas,
           **{k.replace("/", "__"): v for k, v in weights.items()})


if __name__ == "__main__":
  main()
