# coding=utf-8
"""Stateless dropout seeds, shared by the model code and the training loop.

TensorFlow's stateful random ops start over when a process restarts, so a
resumed run would draw other dropout masks than an uninterrupted one. The
training loop (estimator_lib) opens `dropout_seed(seed)` around each step with
a seed made of --seed, the replica, the step and the micro-batch; inside it,
every dropout (modeling.dropout) asks `next_dropout_seed()` for its own seed,
so a killed run resumes bit for bit.

This lives apart from modeling.py so that the loop does not import a model.
"""

import contextlib
import threading

import tensorflow as tf

# Per thread: tf.distribute runs each replica's step in its own thread.
_DROPOUT_SEED = threading.local()


@contextlib.contextmanager
def dropout_seed(seed):
  """Makes dropout inside the block stateless, its masks a function of `seed`.

  Under this context the i-th dropout call traced in the block uses
  `stateless_fold_in(seed, i)` (see `next_dropout_seed`).

  Args:
    seed: int32/int64 Tensor [2], the base seed.

  Yields:
    None.
  """
  previous = getattr(_DROPOUT_SEED, "state", None)
  _DROPOUT_SEED.state = [seed, 0]
  try:
    yield
  finally:
    _DROPOUT_SEED.state = previous


def dropout_seed_active():
  """True inside a `dropout_seed` block of this thread."""
  return getattr(_DROPOUT_SEED, "state", None) is not None


def next_dropout_seed():
  """The seed of the next dropout call, or None outside `dropout_seed`.

  Each call advances the block's counter, so the calls of one traced step get
  `stateless_fold_in(seed, 0)`, `stateless_fold_in(seed, 1)`, ... in the
  order the model makes them.

  Returns:
    int64 Tensor [2] for `tf.random.stateless_uniform`, or None (then use
    TensorFlow's stateful random ops).
  """
  state = getattr(_DROPOUT_SEED, "state", None)
  if state is None:
    return None
  seed = tf.random.experimental.stateless_fold_in(state[0], state[1])
  state[1] += 1
  return seed
