"""Runs optimization.py under MirroredStrategy on 2 logical CPUs (subprocess).

Run by tests/test_optimization.py in a fresh process, because logical devices
must be configured before TensorFlow initialises them. It trains the golden
problem of tests/fixtures/optimization/ for a few steps, once under the default
strategy and once inside `strategy.run` of a 2-replica MirroredStrategy (each
replica sees half of the data; gradients all-reduced as the training loop
does), and prints a JSON report of both final states.

Usage: python distributed_optimizer_check.py <fixture dir> <optimizer>...
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import optimization  # pylint: disable=g-import-not-at-top

NUM_STEPS = 4


def half_batch_loss(variables, data, replica):
  """Mean-squared loss of one replica's half of the dense-layer data."""
  kernel, bias, plain, twin = variables
  rows = slice(4 * replica, 4 * replica + 4)
  pred = tf.matmul(data["X"][rows], kernel) + bias
  return (tf.reduce_mean(tf.square(pred - data["Y"][rows])) +
          tf.reduce_mean(tf.square(plain - data["R"])) +
          tf.reduce_mean(tf.square(twin + data["R"])))


def train(strategy, npz, optimizer_name):
  """NUM_STEPS steps of apply_step; returns the final state as lists."""
  data = {k: tf.constant(npz["data." + k]) for k in ("X", "Y", "R")}
  with strategy.scope():
    variables = [
        tf.Variable(npz["init.dense__kernel"], name="dense/kernel"),
        tf.Variable(npz["init.dense__bias"], name="dense/bias"),
        tf.Variable(npz["init.plain_vector"], name="plain_vector"),
        # The shape of plain_vector, another gradient: each update must
        # reach its own variable and slots (the fused update once mixed up
        # same-shaped variables under MirroredStrategy).
        tf.Variable(npz["init.plain_vector"] * 0.5, name="plain_twin"),
    ]
    global_step = optimization.create_global_step()
    opt = optimization.create_optimizer(
        None, 0.1, 10, 2, False, optimizer=optimizer_name)
    opt.create_slots(variables)
    loss_scale = optimization.DynamicLossScale(initial_scale=4.0,
                                               growth_interval=2)
    accumulator = optimization.GradientAccumulator(variables)

  def replica_step(poison):
    ctx = tf.distribute.get_replica_context()
    # Two micro-batches per step through the accumulator: one per replica
    # under MirroredStrategy, both in turn under the default strategy.
    if strategy.num_replicas_in_sync > 1:
      halves = [ctx.replica_id_in_sync_group]
    else:
      halves = [0, 1]
    for half in halves:
      with tf.GradientTape() as tape:
        scaled = loss_scale.scale_loss(half_batch_loss(variables, data, half))
      accumulator.accumulate(tape.gradient(scaled, variables))
    grads = ctx.all_reduce(tf.distribute.ReduceOp.MEAN,
                           accumulator.gradients())
    grads = [g * poison for g in loss_scale.unscale(grads)]
    should_apply = loss_scale.update(grads)
    opt.apply_step(grads, variables, global_step, should_apply=should_apply)
    accumulator.reset()

  @tf.function
  def step(poison):
    strategy.run(replica_step, args=(poison,))

  # Step 2 gets an infinite gradient: skipped, scale halved.
  for k in range(NUM_STEPS + 1):
    step(tf.constant(np.inf if k == 2 else 1.0, tf.float32))
  local = lambda v: [x.numpy().tolist()
                     for x in strategy.experimental_local_results(v)]
  return {
      # One entry per replica: every copy must hold the same value.
      "variables": [local(v) for v in variables],
      "slots": [local(s) for s in opt.slot_variables()],
      "slot_names": [s.name for s in opt.slot_variables()],
      "global_step": int(global_step.numpy()),
      "loss_scale": float(loss_scale.loss_scale.numpy()),
      "num_replicas": strategy.num_replicas_in_sync,
  }


def main():
  npz = np.load(os.path.join(sys.argv[1], "expected.npz"))
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  report = {}
  for optimizer_name in sys.argv[2:]:
    report[optimizer_name] = {
        "default": train(tf.distribute.get_strategy(), npz, optimizer_name),
        "mirrored": train(mirrored, npz, optimizer_name),
    }
  print("REPORT " + json.dumps(report))


if __name__ == "__main__":
  main()
