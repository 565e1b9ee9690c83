# coding=utf-8
"""A training script on estimator_lib for the fault tests (tests/test_loop_safety.py).

  python tests/safety_worker.py --model_dir=DIR [--learning_rate=0.1
      --max_steps=10 --save_checkpoints_steps=1 --padding=N
      --fsize_limit=BYTES]

Trains tests/loop_worker.py's linear model like a runner does: main runs
through validation.run_main (one-line user errors, exit 2; SIGTERM like
Ctrl-C, exit 143). --padding adds a non-trainable variable of N floats so
checkpoints can be made larger than --fsize_limit (RLIMIT_FSIZE, a full disk
without a full disk).
"""

import os
import resource
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "tests")):
  if path not in sys.path:
    sys.path.insert(0, path)

from absl import flags  # pylint: disable=g-import-not-at-top

import validation  # pylint: disable=g-import-not-at-top

flags.DEFINE_string("model_dir", None, "Output directory.")
flags.DEFINE_float("learning_rate", 0.1, "Peak learning rate.")
flags.DEFINE_integer("max_steps", 10, "Steps to train.")
flags.DEFINE_integer("save_checkpoints_steps", 1, "Checkpoint period.")
flags.DEFINE_integer("padding", 0, "Extra checkpointed floats.")
flags.DEFINE_integer("fsize_limit", 0, "RLIMIT_FSIZE in bytes (0: none).")
FLAGS = flags.FLAGS


def model_fn_with(learning_rate, padding):
  """loop_worker's ModelFn with another rate and optional padding."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import loop_worker  # pylint: disable=g-import-not-at-top
  import optimization  # pylint: disable=g-import-not-at-top

  model_fn = loop_worker.make_model_fn()
  create_model = model_fn.create_model

  def create_padded_model(params):
    """The linear model, plus the padding variable."""
    model = create_model(params)
    if padding:
      model.padding = tf.Variable(tf.zeros([padding]), trainable=False,
                                  name="padding")
    return model

  model_fn.create_model = create_padded_model
  model_fn.create_optimizer = lambda params: optimization.create_optimizer(
      None, learning_rate, 100, 2)
  return model_fn


def main(_):
  """Trains with the flags; prints the final global step."""
  if FLAGS.fsize_limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails instead
    resource.setrlimit(resource.RLIMIT_FSIZE,
                       (FLAGS.fsize_limit, FLAGS.fsize_limit))
  import estimator_lib  # pylint: disable=g-import-not-at-top
  import loop_worker  # pylint: disable=g-import-not-at-top
  config = estimator_lib.RunConfig(
      FLAGS.model_dir, iterations_per_loop=1,
      save_checkpoints_steps=FLAGS.save_checkpoints_steps, seed=1)
  estimator = estimator_lib.Estimator(
      model_fn_with(FLAGS.learning_rate, FLAGS.padding), config,
      train_batch_size=8)
  estimator.train(loop_worker.input_fn, max_steps=FLAGS.max_steps)
  print("global_step %d" % int(estimator._global_step.numpy()))  # pylint: disable=protected-access


if __name__ == "__main__":
  flags.mark_flag_as_required("model_dir")
  validation.run_main(main)
