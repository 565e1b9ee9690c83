# coding=utf-8
"""A tiny regression problem trained by estimator_lib, for the loop's tests.

Imported by tests/test_estimator_lib.py (the ModelFn and the data), and run as a
subprocess for the strategies that must be set up before TensorFlow starts:

  python tests/loop_worker.py --cpus=2 --distribution=mirrored \
      --model_dir=DIR --out=weights.npz [--steps=N --accum=K --resume_at=M]

With TF_CONFIG set and --distribution=multi_worker it is one worker of a
MultiWorkerMirroredStrategy cluster. It writes the final weights to --out.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

NUM_EXAMPLES = 64
NUM_FEATURES = 4
TRUE_W = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
INIT_LR = 0.1
NUM_TRAIN_STEPS = 10
NUM_WARMUP_STEPS = 2


def data():
  """Fixed inputs x [64, 4], targets y [64] (float32) and ids [64]."""
  rng = np.random.RandomState(0)
  x = rng.randn(NUM_EXAMPLES, NUM_FEATURES).astype(np.float32)
  y = (x @ TRUE_W + 0.1 * rng.randn(NUM_EXAMPLES)).astype(np.float32)
  return x, y, np.arange(NUM_EXAMPLES, dtype=np.int64)


def make_model_fn(unreached=False):
  """A linear model y = x @ dense/kernel + dense/bias as an estimator_lib.ModelFn.

  Args:
    unreached: bool; the model also holds `dense/unreached` [2] (ones), a
      trainable variable no loss uses, as SQuAD's pooler: Google's optimizer
      leaves it untouched (no update, no weight decay).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import estimator_lib  # pylint: disable=g-import-not-at-top
  import optimization  # pylint: disable=g-import-not-at-top

  class Linear(tf.Module):

    def __init__(self):
      super().__init__()
      self.kernel = tf.Variable(tf.fill([NUM_FEATURES, 1], 0.5),
                                name="dense/kernel")
      self.bias = tf.Variable(tf.zeros([1]), name="dense/bias")
      if unreached:
        self.unreached = tf.Variable(tf.ones([2]), name="dense/unreached")

    def __call__(self, x):
      return tf.matmul(x, self.kernel)[:, 0] + self.bias

  class LinearModelFn(estimator_lib.ModelFn):

    def create_model(self, params):
      return Linear()

    def create_optimizer(self, params):
      return optimization.create_optimizer(None, INIT_LR, NUM_TRAIN_STEPS,
                                           NUM_WARMUP_STEPS)

    def train_loss(self, model, features, params):
      return tf.reduce_mean(tf.square(model(features["x"]) - features["y"]))

    def eval_metrics(self, model, features, params):
      err = tf.square(model(features["x"]) - features["y"])
      n = tf.cast(tf.size(err), tf.float32)
      return {"mse": (tf.reduce_sum(err), n),
              "batch_size": (n, tf.constant(1.0))}

    def predictions(self, model, features, params):
      return {"y": model(features["x"]), "id": features["id"]}

  return LinearModelFn()


def input_fn(params):
  """Global batch k = examples [k*G, (k+1)*G) in order, whatever the sharding.

  Every input pipeline reads the global batch and keeps its own slice, so one
  device, several replicas and several workers all see the same examples per
  step (the replica slices of one pipeline follow each other).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  x, y, ids = data()
  ds = tf.data.Dataset.from_tensor_slices({"x": x, "y": y, "id": ids})
  training = params["mode"] == "train"
  if training:
    ds = ds.repeat()
  ctx = params.get("input_context")
  pipelines = ctx.num_input_pipelines if ctx else 1
  pipeline = ctx.input_pipeline_id if ctx else 0
  per_pipeline = params["batch_size"] * (
      params["num_replicas"] // pipelines)
  ds = ds.batch(per_pipeline * pipelines, drop_remainder=training)
  ds = ds.map(lambda f: {k: v[pipeline * per_pipeline:
                              (pipeline + 1) * per_pipeline]
                         for k, v in f.items()})
  return ds.unbatch().batch(params["batch_size"], drop_remainder=training)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--cpus", type=int, default=1)
  parser.add_argument("--distribution", default="default")
  parser.add_argument("--model_dir", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--steps", type=int, default=NUM_TRAIN_STEPS)
  parser.add_argument("--accum", type=int, default=1)
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--unreached", action="store_true",
                      help="add a variable no loss reaches")
  parser.add_argument("--resume_at", type=int, default=0,
                      help="first train to this step, then continue with a "
                      "new Estimator (a restarted job)")
  args = parser.parse_args()

  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if args.cpus > 1:
    # Must happen before TensorFlow initialises its devices.
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * args.cpus)
  import estimator_lib  # pylint: disable=g-import-not-at-top

  strategy = estimator_lib.make_strategy(args.distribution)
  config = estimator_lib.RunConfig(
      args.model_dir, strategy=strategy, iterations_per_loop=3,
      save_checkpoints_steps=4, gradient_accumulation_steps=args.accum,
      seed=1)
  for max_steps in [s for s in (args.resume_at, args.steps) if s]:
    estimator = estimator_lib.Estimator(make_model_fn(args.unreached), config,
                                        train_batch_size=args.batch)
    estimator.train(input_fn, max_steps=max_steps)
  np.savez(args.out, replicas=strategy.num_replicas_in_sync,
           **{v.name.split(":")[0].replace("/", "__"): v.numpy()
              for v in estimator.model.variables})


if __name__ == "__main__":
  main()
