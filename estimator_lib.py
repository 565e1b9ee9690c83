# coding=utf-8
"""The training loop shared by every runner: a small Estimator for TensorFlow 2.

Google's runners hand a `model_fn` and an `input_fn` to TPUEstimator. The
runners here keep that shape: `model_fn_builder(...)` returns a `ModelFn`, and
`input_fn_builder(...)` returns `input_fn(params)`; an `Estimator` trains,
evaluates and predicts with them under a `tf.distribute` strategy chosen from
the flags (default, MirroredStrategy, MultiWorkerMirroredStrategy, TPUStrategy).
The loop knows no model: a ModelFn builds it (task_lib's tasks do).

What the loop owns:
* `iterations_per_loop` steps run inside one compiled call (a `tf.function`
  with a `tf.range` loop over the distributed iterator), as on TPUEstimator;
* TF1 name-based checkpoints in Google's layout through `checkpoints.py`
  (`model.ckpt-<step>`, weights + `<var>/adam_m|adam_v` + `global_step`),
  resumed from the newest one in `model_dir`, or a warm start from
  `warm_start_from` (weights only, as Google's --init_checkpoint);
* gradient accumulation, mixed precision (dynamic loss scaling for float16),
  XLA, TensorBoard summaries and progress logs with an ETA, and a seed that
  makes runs repeatable (also across a kill and restart: the input pipeline
  skips the batches already consumed).
"""

import collections
import contextlib
import functools
import json
import os
import random
import re
import struct
import threading
import time

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

import checkpoints
import io_lib
import locks
import optimization
import seeding
import validation

PRECISIONS = {"float32": tf.float32, "bfloat16": tf.bfloat16,
              "float16": tf.float16}
DISTRIBUTIONS = ("auto", "default", "mirrored", "multi_worker", "tpu")


def define_flag(define, name, *args, **kwargs):
  """Defines absl flag `name` with `define` unless an earlier import did.

  Google's runners define flags of the same name (vocab_file,
  max_seq_length, ...) and absl refuses a second definition. A script run from
  the command line only ever sees its own definitions; when several runners are
  imported into one process (tests, notebooks) the first definition stays.
  allow_override lets create_pretraining_data.py, which does not import this
  module, define its flags after another runner.

  Args:
    define: an absl `flags.DEFINE_*` function.
    name: the flag's name.
    *args: the default, help text and the rest of `define`'s arguments.
    **kwargs: keyword arguments of `define`.
  """
  if name not in flags.FLAGS:
    define(name, *args, allow_override=True, **kwargs)


def define_flags():
  """Defines the runtime flags every runner shares (call once per runner).

  Google's TPU flags keep their names, defaults and help; the rest are new.
  Runners define their own Google flags (batch sizes, `save_checkpoints_steps`,
  `iterations_per_loop`, ...) themselves.
  """
  define_flag(flags.DEFINE_bool, "use_tpu", False, "Whether to use TPU or GPU/CPU.")
  define_flag(
      flags.DEFINE_string, "tpu_name", None,
      "The Cloud TPU to use for training. This should be either the name used "
      "when creating the Cloud TPU, or a grpc://ip.address.of.tpu:8470 url.")
  define_flag(
      flags.DEFINE_string, "tpu_zone", None,
      "[Optional] GCE zone where the Cloud TPU is located in. If not "
      "specified, we will attempt to automatically detect the GCE project "
      "from metadata.")
  define_flag(
      flags.DEFINE_string, "gcp_project", None,
      "[Optional] Project name for the Cloud TPU-enabled project. If not "
      "specified, we will attempt to automatically detect the GCE project from "
      "metadata.")
  define_flag(flags.DEFINE_string, "master", None,
          "[Optional] TensorFlow master URL.")
  define_flag(
      flags.DEFINE_integer, "num_tpu_cores", 8,
      "Only used if `use_tpu` is True. Total number of TPU cores to use.")
  define_flag(
      flags.DEFINE_enum, "distribution", "auto", list(DISTRIBUTIONS),
      "auto: TPUStrategy with --use_tpu, MultiWorkerMirroredStrategy when "
      "TF_CONFIG names several tasks, MirroredStrategy over several local "
      "GPUs, else the default strategy (CPU or one GPU). default/mirrored/"
      "multi_worker/tpu force one (mirrored without GPUs: all logical CPUs).")
  define_flag(
      flags.DEFINE_enum, "precision", "float32", list(PRECISIONS),
      "Compute dtype of the matrix multiplications. Variables stay float32; "
      "float16 uses dynamic loss scaling.")
  define_flag(flags.DEFINE_bool, "use_xla", False,
          "Compile the forward and backward pass with XLA (jit_compile).")
  define_flag(
      flags.DEFINE_integer, "seed", None,
      "Random seed (TensorFlow, NumPy, Python, input shuffling). Set it for "
      "repeatable runs and for a restart that continues the same input order.")
  define_flag(flags.DEFINE_integer, "keep_checkpoint_max", 5,
          "How many recent checkpoints to keep (0 keeps all).")
  define_flag(
      flags.DEFINE_integer, "gradient_accumulation_steps", 1,
      "Split each global batch into this many micro-batches and average their "
      "gradients before one update (less memory, same update).")
  define_flag(flags.DEFINE_enum, "optimizer", "adamw", ["adamw", "lamb"],
          "adamw: Google's AdamWeightDecayOptimizer. lamb: LAMB.")
  define_flag(
      flags.DEFINE_integer, "log_every_n_steps", None,
      "Log progress at most every this many steps (default: after every loop "
      "of iterations_per_loop steps).")


class RunConfig(object):
  """What the loop needs besides the model: where, how often, on what."""

  def __init__(self, model_dir, strategy=None, save_checkpoints_steps=1000,
               iterations_per_loop=1000, keep_checkpoint_max=5,
               precision="float32", use_xla=False, seed=None,
               gradient_accumulation_steps=1, optimizer="adamw", use_tpu=False,
               log_every_n_steps=None):
    """Creates the config.

    Args:
      model_dir: where checkpoints, summaries and results go.
      strategy: a tf.distribute.Strategy; None for the default strategy.
      save_checkpoints_steps: write a checkpoint every this many steps (and at
        the end of training); None or 0 only at the end.
      iterations_per_loop: steps per compiled call.
      keep_checkpoint_max: checkpoints kept (0 or None keeps all).
      precision: "float32", "bfloat16" or "float16".
      use_xla: jit-compile the step.
      seed: int or None.
      gradient_accumulation_steps: micro-batches per update.
      optimizer: "adamw" or "lamb" (read by the runners' optimizer choice).
      use_tpu: on a TPU (one-hot embeddings, drop_remainder everywhere).
      log_every_n_steps: progress log period (default iterations_per_loop).
    """
    _check_run_config(precision, iterations_per_loop, save_checkpoints_steps,
                      keep_checkpoint_max, gradient_accumulation_steps, seed,
                      log_every_n_steps)
    self.model_dir = model_dir
    self.strategy = strategy or tf.distribute.get_strategy()
    self.save_checkpoints_steps = save_checkpoints_steps
    self.iterations_per_loop = iterations_per_loop
    self.keep_checkpoint_max = keep_checkpoint_max
    self.precision = precision
    self.compute_dtype = PRECISIONS[precision]
    self.use_xla = use_xla
    self.seed = seed
    self.gradient_accumulation_steps = gradient_accumulation_steps
    self.optimizer = optimizer
    self.use_tpu = use_tpu
    self.log_every_n_steps = log_every_n_steps

  @property
  def num_replicas(self):
    return self.strategy.num_replicas_in_sync

  @property
  def is_chief(self):
    """True on the task that writes checkpoints, summaries and results: the
    `chief`, else worker 0 (TF_CONFIG's convention); always True off
    multi-worker."""
    if not isinstance(self.strategy,
                      tf.distribute.MultiWorkerMirroredStrategy):
      return True
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = tf_config.get("task", {})
    if task.get("type") in (None, "chief"):
      return True
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    return (task.get("type") == "worker" and int(task.get("index", 0)) == 0 and
            not has_chief)


def _check_run_config(precision, iterations_per_loop, save_checkpoints_steps,
                      keep_checkpoint_max, gradient_accumulation_steps, seed,
                      log_every_n_steps):
  """Refuses RunConfig values that cannot work, naming the flag.

  `--save_checkpoints_steps=-2` looped forever rewriting model.ckpt-0 and
  `--keep_checkpoint_max=-1` deleted every checkpoint as it was written.

  Raises:
    validation.UsageError: e.g. `--save_checkpoints_steps=-2: must be >= 0
      (0 = only at the end)`.
  """
  validation.check_choice("precision", precision, list(PRECISIONS))
  validation.check_int("iterations_per_loop", iterations_per_loop, minimum=1)
  validation.check_int("save_checkpoints_steps", save_checkpoints_steps,
                       minimum=0, note="0 = only at the end",
                       allow_none=True)
  validation.check_int("keep_checkpoint_max", keep_checkpoint_max, minimum=0,
                       note="0 keeps all", allow_none=True)
  validation.check_int("gradient_accumulation_steps",
                       gradient_accumulation_steps, minimum=1)
  validation.check_int("seed", seed, minimum=0, maximum=2**32 - 1,
                       allow_none=True)
  validation.check_int("log_every_n_steps", log_every_n_steps, minimum=1,
                       allow_none=True)


def _tf_config_task_count():
  """Number of tasks (chief + workers) named in the TF_CONFIG variable."""
  raw = os.environ.get("TF_CONFIG")
  if not raw:
    return 0
  try:
    cluster = json.loads(raw).get("cluster", {})
  except ValueError as e:
    raise validation.UsageError("TF_CONFIG is not valid JSON: %s" % e)
  return sum(len(cluster.get(k, [])) for k in ("chief", "worker"))


def tpu_strategy(tpu_name=None, tpu_zone=None, gcp_project=None, master=None):
  """Connects to a TPU (Google's flags) and returns a TPUStrategy.

  Args:
    tpu_name: TPU name or grpc://ip:8470 URL (`--tpu_name`); `--master` is used
      when it is unset, as in Google's RunConfig.
    tpu_zone, gcp_project: optional, auto-detected on GCE when unset.
    master: optional TensorFlow master URL.
  """
  resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
      tpu=tpu_name or master or "", zone=tpu_zone, project=gcp_project)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver)


def make_strategy(distribution="auto", use_tpu=False, tpu_name=None,
                  tpu_zone=None, gcp_project=None, master=None):
  """The tf.distribute strategy the flags ask for (see `--distribution`).

  Call it before any other TensorFlow work: multi-worker strategies and logical
  devices must be set up before the runtime initialises.
  """
  if distribution == "auto":
    if use_tpu:
      distribution = "tpu"
    elif _tf_config_task_count() > 1:
      distribution = "multi_worker"
    elif len(tf.config.list_physical_devices("GPU")) > 1:
      distribution = "mirrored"
    else:
      distribution = "default"
  if distribution == "tpu":
    return tpu_strategy(tpu_name, tpu_zone, gcp_project, master)
  if distribution == "multi_worker":
    if not os.environ.get("TF_CONFIG"):
      raise validation.UsageError(
          "--distribution=multi_worker needs the TF_CONFIG environment "
          "variable (cluster and task).")
    return tf.distribute.MultiWorkerMirroredStrategy()
  if distribution == "mirrored":
    if tf.config.list_logical_devices("GPU"):
      return tf.distribute.MirroredStrategy()
    # No GPU: mirror over the logical CPUs (one unless configured otherwise).
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)
  if distribution == "default":
    return tf.distribute.get_strategy()
  raise validation.UsageError(
      "Unknown --distribution %r (expected one of %s)" %
      (distribution, ", ".join(DISTRIBUTIONS)))


def set_seed(seed):
  """Seeds Python, NumPy and TensorFlow (no-op for None)."""
  if seed is None:
    return
  random.seed(seed)
  np.random.seed(seed)
  tf.random.set_seed(seed)


def run_config_from_flags(flag_values, model_dir, **overrides):
  """A RunConfig from the shared flags (see `define_flags`).

  Args:
    flag_values: absl FLAGS (after parsing).
    model_dir: the output directory.
    **overrides: RunConfig arguments that win over the flags (a runner without a
      `save_checkpoints_steps` flag passes its own value, for example).

  Returns:
    RunConfig. Also seeds the random number generators with `--seed`.
  """
  def get(name, default=None):
    return getattr(flag_values, name) if name in flag_values else default

  # The strategy first: multi-worker and TPU set-up precede other TF work.
  strategy = overrides.pop("strategy", None) or make_strategy(
      get("distribution", "auto"), get("use_tpu", False), get("tpu_name"),
      get("tpu_zone"), get("gcp_project"), get("master"))
  kwargs = dict(
      strategy=strategy,
      save_checkpoints_steps=get("save_checkpoints_steps", 1000),
      iterations_per_loop=get("iterations_per_loop", 1000),
      keep_checkpoint_max=get("keep_checkpoint_max", 5),
      precision=get("precision", "float32"),
      use_xla=get("use_xla", False),
      seed=get("seed"),
      gradient_accumulation_steps=get("gradient_accumulation_steps", 1),
      optimizer=get("optimizer", "adamw"),
      use_tpu=get("use_tpu", False),
      log_every_n_steps=get("log_every_n_steps"))
  kwargs.update(overrides)
  set_seed(kwargs["seed"])
  if isinstance(strategy, tf.distribute.TPUStrategy):
    cores = get("num_tpu_cores")
    if cores and strategy.num_replicas_in_sync != cores:
      logging.warning("--num_tpu_cores=%d but the TPU has %d cores; using %d.",
                      cores, strategy.num_replicas_in_sync,
                      strategy.num_replicas_in_sync)
  return RunConfig(model_dir, **kwargs)


class ModelFn(object):
  """What a runner's `model_fn_builder(...)` returns (subclass it).

  Each method receives `params`: the Estimator's params plus `batch_size`
  (per replica), `compute_dtype`, `use_tpu`, `seed`, `mode` ("train", "eval" or
  "predict") and `num_replicas`. The warm start is the Estimator's
  (`warm_start_from`), not the ModelFn's.
  """

  def create_model(self, params):
    """-> tf.Module holding every variable (Google names); called once inside
    `strategy.scope()`."""
    raise NotImplementedError

  def create_optimizer(self, params):
    """-> an optimization.py optimizer (training only)."""
    raise NotImplementedError

  def train_loss(self, model, features, params):
    """Per-replica mean loss of one per-replica batch (float32 scalar)."""
    raise NotImplementedError

  def eval_metrics(self, model, features, params):
    """dict name -> (sum, count) float32 scalars for this batch."""
    raise NotImplementedError

  def predictions(self, model, features, params):
    """dict name -> tensor with a leading batch dimension."""
    raise NotImplementedError

  def warm_start(self, model, checkpoint_path, expected_names=None):
    """The warm start of a model_dir without checkpoints (see `warm_start`).

    A ModelFn overrides it to read the checkpoint differently (the
    pre-training task grows a smaller vocabulary's tables and keeps frozen
    heads).

    Args:
      model: the tf.Module of `create_model`.
      checkpoint_path: the checkpoint (--init_checkpoint).
      expected_names: names the checkpoint must restore (the encoder's), or
        None: at least one variable.

    Returns:
      checkpoints.RestoreResult.
    """
    return warm_start(model, checkpoint_path, expected_names)


def decode_records(records, name_to_features, keep_int64=()):
  """Parses a batch of serialized tf.train.Example records.

  Args:
    records: string Tensor [batch_size].
    name_to_features: dict name -> tf.io.FixedLenFeature.
    keep_int64: names whose int64 values stay int64 (e.g. SQuAD's unique ids,
      which would overflow int32).

  Returns:
    dict name -> Tensor [batch_size, ...]; int64 features are cast to int32,
    as Google's input functions do (TPUs want int32).
  """
  example = tf.io.parse_example(records, name_to_features)
  for name in list(example.keys()):
    if example[name].dtype == tf.int64 and name not in keep_int64:
      example[name] = tf.cast(example[name], tf.int32)
  return example


def shard_repeat_shuffle(dataset, params, is_training):
  """This worker's shard of `dataset`; for training Google's repeat+shuffle.

  Args:
    dataset: tf.data.Dataset of single examples.
    params: the input_fn's params; uses "input_context" (sharding) and "seed"
      (a seeded shuffle makes a run repeatable).
    is_training: repeat forever and shuffle with a buffer of 100 (Google's).

  Returns:
    tf.data.Dataset.
  """
  context = params.get("input_context")
  if context is not None and context.num_input_pipelines > 1:
    dataset = dataset.shard(context.num_input_pipelines,
                            context.input_pipeline_id)
  if is_training:
    dataset = dataset.repeat()
    dataset = dataset.shuffle(buffer_size=100, seed=params.get("seed"))
  return dataset


def record_input_fn_builder(input_file, name_to_features, is_training,
                            drop_remainder, keep_int64=()):
  """An input_fn over one TFRecord file, as Google's fine-tuning runners read.

  Training repeats and shuffles with a buffer of 100 (Google's), seeded with
  `params["seed"]` when set so a run can be repeated; evaluation and
  prediction read the file once, in order.

  Args:
    input_file: TFRecord path.
    name_to_features: dict name -> tf.io.FixedLenFeature.
    is_training: bool.
    drop_remainder: drop the last partial batch.
    keep_int64: see `decode_records`.

  Returns:
    input_fn(params) -> tf.data.Dataset of feature dicts batched with
    `params["batch_size"]`, this worker's shard when
    `params["input_context"]` is set.
  """

  def input_fn(params):
    """The actual input function."""
    d = shard_repeat_shuffle(tf.data.TFRecordDataset(input_file), params,
                             is_training)
    # Batch first, then parse the whole batch at once: same records, faster.
    d = d.batch(params["batch_size"], drop_remainder=drop_remainder)
    d = d.map(lambda r: decode_records(r, name_to_features, keep_int64),
              num_parallel_calls=tf.data.AUTOTUNE)
    return d.prefetch(tf.data.AUTOTUNE)

  # The loop names this file when a record turns out corrupt.
  input_fn.input_files = [input_file]
  return input_fn


# ------------------------------------------------------------ input errors
#
# TensorFlow reports a damaged TFRecord as `DataLossError: corrupted record at
# 1533`, naming no file, and an exception raised by Python code inside tf.data
# (py_function, from_generator) as an InvalidArgumentError wrapping its
# traceback and `[[{{node PyFunc}}]]`. The loop turns both into the user's
# error: `input_errors(files)` around the iteration; input functions set
# `input_fn.input_files` and wrap their Python callables with
# `pipeline_function` / `pipeline_generator`.

_PIPELINE_ERRORS = []
_PIPELINE_ERRORS_GUARD = threading.Lock()
_RECORD_ERROR_RE = re.compile(r"(corrupted|truncated) record at (\d+)")


def _remember_pipeline_error(error):
  """Keeps the first exception raised inside an input pipeline."""
  with _PIPELINE_ERRORS_GUARD:
    if not _PIPELINE_ERRORS:
      _PIPELINE_ERRORS.append(error)


def _take_pipeline_error():
  """The remembered pipeline exception (or None), forgetting it."""
  with _PIPELINE_ERRORS_GUARD:
    error = _PIPELINE_ERRORS[0] if _PIPELINE_ERRORS else None
    del _PIPELINE_ERRORS[:]
  return error


def pipeline_function(func):
  """Wraps a Python function that tf.data runs (tf.py_function's `func`).

  An exception it raises reaches the caller of the loop as itself (e.g. a
  validation.DataError naming file and line), not as TensorFlow's wrapper.

  Args:
    func: the Python callable.

  Returns:
    the wrapped callable.
  """
  @functools.wraps(func)
  def wrapped(*args, **kwargs):
    """`func`, remembering the exception it raises for the loop."""
    try:
      return func(*args, **kwargs)
    except Exception as e:  # re-raised: remembered for the loop
      _remember_pipeline_error(e)
      raise
  return wrapped


def pipeline_generator(generator_fn):
  """Wraps the callable given to tf.data.Dataset.from_generator (see above).

  Args:
    generator_fn: a callable returning an iterator.

  Returns:
    a callable returning an iterator over the same elements.
  """
  @functools.wraps(generator_fn)
  def wrapped(*args):
    """`generator_fn`'s elements, remembering an exception it raises."""
    try:
      for element in generator_fn(*args):
        yield element
    except Exception as e:  # re-raised: remembered for the loop
      _remember_pipeline_error(e)
      raise
  return wrapped


@contextlib.contextmanager
def input_errors(input_files=None):
  """Turns input-pipeline failures inside the block into the user's error.

  Args:
    input_files: the TFRecord files the pipeline reads (to name the damaged
      one), or None.

  Raises:
    the exception a `pipeline_function` / `pipeline_generator` raised, or
    validation.DataError naming the TFRecord file and record of a
    DataLossError; other errors (OutOfRangeError at the end of the input)
    pass unchanged.
  """
  try:
    yield
  except tf.errors.OpError as e:
    original = _take_pipeline_error()
    if original is not None:
      raise original from None
    if isinstance(e, tf.errors.DataLossError):
      raise describe_record_error(e, input_files) from e
    raise


def input_files_of(input_fn):
  """The `input_files` an input_fn declares, or None."""
  return getattr(input_fn, "input_files", None)


def describe_record_error(error, input_files):
  """A DataError naming the TFRecord file and record a DataLossError is about.

  Args:
    error: tf.errors.DataLossError ("corrupted record at 1533", byte offset
      in one of the files).
    input_files: list of the files read, or None.

  Returns:
    validation.DataError.
  """
  m = _RECORD_ERROR_RE.search(error.message)
  if not m:
    return validation.DataError("Cannot read the input records%s: %s" % (
        " (%s)" % ", ".join(input_files) if input_files else "",
        checkpoints.error_reason(error)))
  kind, offset = m.group(1), int(m.group(2))
  found = locate_bad_record(input_files or [], offset)
  what = ("not a TFRecord file" if offset == 0 and kind == "corrupted" else
          "damaged (%s record)" % kind)
  if found:
    path, index, start = found
    return validation.DataError(
        "TFRecord file %s is %s: record %d (at byte %d) cannot be read; "
        "recreate the file" % (path, what, index, start))
  return validation.DataError(
      "An input TFRecord file is %s at byte %d%s; recreate it" % (
          what, offset, " (one of %s)" % ", ".join(input_files)
          if input_files else ""))


def locate_bad_record(input_files, offset):
  """Finds the file whose record at byte `offset` cannot be read.

  TensorFlow reports the offset of the record (a bad length header) or of
  its data, 12 bytes later (a bad data checksum). This walks the record
  headers of each file larger than `offset` (reading 8 bytes per record),
  then reads the record found there with TensorFlow to confirm. Run only
  after a failure; it costs a read of each candidate file up to `offset`.

  Args:
    input_files: list of local TFRecord paths.
    offset: the byte offset TensorFlow reported.

  Returns:
    (path, record index, byte where the record starts) or None.
  """
  for path in input_files:
    if validation.is_remote(path) or not os.path.isfile(path):
      continue
    if os.path.getsize(path) <= offset:
      continue
    found = _record_at(path, offset)
    if found is not None and not _record_readable(path, found[0]):
      return (path,) + found
  return None


def _record_at(path, offset):
  """(index, start) of the record starting at `offset` or `offset - 12`."""
  size = os.path.getsize(path)
  position, index = 0, 0
  with open(path, "rb") as f:
    while position <= offset:
      if offset in (position, position + 12):
        return index, position
      header = f.read(8)
      if len(header) < 8:
        return None
      position += 8 + 4 + struct.unpack("<Q", header)[0] + 4
      if position > size:
        return None
      f.seek(position)
      index += 1
  return None


def _record_readable(path, index):
  """Whether TensorFlow reads record `index` of `path` without error."""
  try:
    for _ in tf.data.TFRecordDataset(path).skip(index).take(1):
      pass
  except tf.errors.DataLossError:
    return False
  return True


def check_record_files(input_files, flag_name="input_file"):
  """Before any work: each file exists and its first record reads.

  Catches a text file or other foreign file given as a TFRecord file, an
  empty file and a file cut inside its first record, naming the file.

  Args:
    input_files: list of TFRecord paths.
    flag_name: the flag that named them.

  Raises:
    validation.DataError (or UsageError for a missing file).
  """
  for path in input_files:
    validation.check_input_file(flag_name, path)
    try:
      records = list(tf.data.TFRecordDataset(path).take(1))
    except tf.errors.DataLossError as e:
      raise describe_record_error(e, [path]) from e
    if not records:
      size = (None if validation.is_remote(path) else
              os.path.getsize(path))
      what = ("TFRecord file %s holds no records" % path if not size else
              "%s is not a TFRecord file (%d bytes without a whole record)" %
              (path, size))
      raise validation.DataError("%s (%s)" % (
          what, validation.flag_text(flag_name, path)))


def write_eval_results(path, results):
  """Writes Google's eval_results.txt: `key = value` lines, keys sorted.

  Values are written with `str()` of a Python/NumPy scalar, as Google's
  `"%s = %s\\n" % (key, str(result[key]))`. The file is written under a
  temporary name and renamed.

  Raises:
    validation.OutputError: naming the file (disk full, ...); the old file,
      if any, is kept and no partial file is left.

  Args:
    path: output file.
    results: dict name -> scalar.
  """
  lines = []
  for key in sorted(results):
    value = results[key]
    if isinstance(value, (tf.Tensor, tf.Variable)):
      value = value.numpy()
    lines.append("%s = %s\n" % (key, str(value)))
  io_lib.write_text(path, "".join(lines))
  for line in lines:
    logging.info("  %s", line.rstrip("\n"))


def write_scalars(writer, step, scalars):
  """Writes TensorBoard scalars without needing the tensorboard package.

  `tf.summary.scalar` lives in tensorboard (not a dependency); this writes the
  same event records (a float32 tensor tagged with the "scalars" plugin).

  Args:
    writer: a tf.summary writer.
    step: int, the global step.
    scalars: dict tag -> float.
  """
  metadata = summary_pb2.SummaryMetadata(
      plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
  with writer.as_default():
    for tag, value in scalars.items():
      tf.summary.write(tag, tf.constant(value, tf.float32), step=step,
                       metadata=metadata)


_EVENTS_FILE_RE = re.compile(r"(\S*events\.out\.tfevents[^\s;]*);\s*([^\n]*)")


@contextlib.contextmanager
def summary_errors():
  """Turns a failed TensorBoard events write into an OutputError.

  TensorFlow reports a full disk while writing events as an op error of
  `tf.summary.write` or the writer's flush, and the file is left with a
  half-written last record. Here the file is cut back to its last whole
  record (TensorBoard reads it as it is) and the error names it.

  Raises:
    validation.OutputError: "Cannot write TensorBoard events <file>:
      <reason>".
  """
  try:
    yield
  except tf.errors.OpError as e:
    m = _EVENTS_FILE_RE.search(e.message or "")
    if m is None:
      raise
    path = m.group(1)
    truncate_to_whole_records(path)
    raise validation.OutputError("Cannot write TensorBoard events %s: %s" %
                                 (path, m.group(2).strip() or
                                  io_lib.error_reason(e))) from e


def truncate_to_whole_records(path):
  """Cuts a TFRecord-framed file (e.g. events) after its last whole record.

  Args:
    path: a local file (others are left alone).

  Returns:
    the new size in bytes, or None when nothing was done.
  """
  if validation.is_remote(path) or not os.path.isfile(path):
    return None
  size = os.path.getsize(path)
  end = 0
  with open(path, "rb") as f:
    while True:
      header = f.read(8)
      if len(header) < 8:
        break
      record_end = end + 8 + 4 + struct.unpack("<Q", header)[0] + 4
      if record_end > size:
        break
      end = record_end
      f.seek(end)
  if end < size:
    os.truncate(path, end)
  return end


def warm_start(model, checkpoint_path, expected_names=None):
  """Warm start: the trainable weights of `model` found in the checkpoint.

  As Google's `init_from_checkpoint`: variables the checkpoint lacks keep
  their initial values (a new head), optimizer slots and the step start
  fresh; every variable loaded is logged with `*INIT_FROM_CKPT*`.

  Args:
    model: tf.Module.
    checkpoint_path: a checkpoint prefix (or a directory with a state file).
    expected_names: names the checkpoint must restore (the encoder's,
      `EncoderFamily.variable_names`; its pooler may be missing), or None:
      at least one variable.

  Returns:
    checkpoints.RestoreResult.

  Raises:
    validation.UsageError: the checkpoint restores none of the weights, or
      not all of `expected_names`.
  """
  logging.info("Warm start (weights only) from %s", checkpoint_path)
  result = checkpoints.restore(model.trainable_variables, checkpoint_path,
                               allow_missing=True, log=True)
  check_warm_start(result, checkpoint_path, expected_names)
  return result


def check_warm_start(result, checkpoint_path, expected_names=None):
  """Refuses a warm start that did not restore the weights the user meant.

  Args:
    result: checkpoints.RestoreResult of the warm start.
    checkpoint_path: the checkpoint (for the message).
    expected_names: the encoder's names, or None: at least one variable.
      Only those the warm start tried to restore count (a frozen or absent
      variable is not expected); the pooler may be missing.

  Raises:
    validation.UsageError: see checkpoints.check_warm_start.
  """
  if expected_names is not None:
    attempted = set(result.loaded) | set(result.missing)
    expected_names = [n for n in expected_names if n in attempted] or None
  checkpoints.check_warm_start(
      result, expected_names, checkpoint_path,
      optional_prefixes=checkpoints.optional_encoder_prefixes(
          expected_names or ()))


def no_weights_error(mode, model_dir):
  """The UsageError of evaluating ("eval") or predicting without weights."""
  return validation.UsageError(
      "Nothing to %s with: no checkpoint in --output_dir=%s and no "
      "--init_checkpoint; train first (--do_train) or give the weights" %
      ({"eval": "evaluate", "predict": "predict"}.get(mode, mode), model_dir))


def _rate_text(learning_rate):
  """A learning rate for messages ('unknown' when None)."""
  return "unknown" if learning_rate is None else "%.6g" % learning_rate


def _eval_batches(eval_step, dataset, steps):
  """Runs `eval_step` over the dataset, adding up the metrics on the host.

  Args:
    eval_step: features -> (dict name -> (sum, count), mean loss).
    dataset: the distributed dataset.
    steps: number of batches, or None for all.

  Returns:
    (dict name -> (sum, count) floats, list of batch losses, batches run).
  """
  totals, losses, n = {}, [], 0
  t0 = time.time()
  for features in dataset:
    if steps is not None and n >= steps:
      break
    summed, loss = eval_step(features)
    for name, (total, count) in summed.items():
      t, c = totals.get(name, (0.0, 0.0))
      totals[name] = (t + float(total.numpy()), c + float(count.numpy()))
    losses.append(float(loss.numpy()))
    n += 1
    if n % 100 == 0:
      logging.info("eval batch %d (%.1f batches/sec)", n,
                   n / max(time.time() - t0, 1e-9))
  return totals, losses, n


class _TrainProgress(object):
  """TensorBoard scalars and progress logs (rate, ETA) of a training run."""

  def __init__(self, estimator, start, max_steps):
    """Starts the clock.

    Args:
      estimator: the Estimator (config, writer, loss scale, batch size).
      start: the first step of this run.
      max_steps: the last.
    """
    self.estimator = estimator
    self.writer = estimator._writer()  # pylint: disable=protected-access
    self.start, self.max_steps = start, max_steps
    self.t_start = self.t_last = time.time()
    self.step_last = self.last_logged = start

  def report(self, step, loss, lr):
    """Writes the scalars of the loop that ended at `step`; logs at times.

    Args:
      step: the global step now.
      loss: the loop's last loss.
      lr: the loop's last learning rate.
    """
    now = time.time()
    steps_per_sec = (step - self.step_last) / max(now - self.t_last, 1e-9)
    self.t_last, self.step_last = now, step
    examples_per_sec = steps_per_sec * self.estimator.train_batch_size
    scalars = {"loss": loss, "learning_rate": lr,
               "global_step/sec": steps_per_sec,
               "examples/sec": examples_per_sec}
    loss_scale = self.estimator._loss_scale  # pylint: disable=protected-access
    if loss_scale is not None:
      scalars["loss_scale"] = float(loss_scale.loss_scale.numpy())
    with summary_errors():
      write_scalars(self.writer, step, scalars)
    every = self.estimator.config.log_every_n_steps or 1
    if step - self.last_logged >= every or step >= self.max_steps:
      overall = (step - self.start) / max(now - self.t_start, 1e-9)
      eta = (self.max_steps - step) / max(overall, 1e-9)
      logging.info("step %d/%d loss = %.6g lr = %.3g (%.2f steps/sec, "
                   "%.1f examples/sec, ETA %s)", step, self.max_steps, loss,
                   lr, steps_per_sec, examples_per_sec, io_lib.format_duration(eta))
      self.last_logged = step


class Estimator(object):
  """train / evaluate / predict for a ModelFn under a tf.distribute strategy."""

  def __init__(self, model_fn, config, params=None, train_batch_size=None,
               eval_batch_size=None, predict_batch_size=None,
               warm_start_from=None, warm_start_variables=None):
    """Creates the estimator (the model is built lazily on first use).

    Args:
      model_fn: a ModelFn.
      config: RunConfig.
      params: dict handed to the ModelFn and input_fn (copied).
      train_batch_size, eval_batch_size, predict_batch_size: global batch sizes
        (over all replicas, and for training over all accumulation
        micro-batches), as Google's flags.
      warm_start_from: a checkpoint whose weights start a model_dir without
        a checkpoint (Google's --init_checkpoint; see `warm_start`).
      warm_start_variables: names `warm_start_from` must restore (the
        encoder's), or None (at least one variable).

    Raises:
      validation.UsageError: a batch size below 1.
    """
    for name, size in (("train_batch_size", train_batch_size),
                       ("eval_batch_size", eval_batch_size),
                       ("predict_batch_size", predict_batch_size)):
      validation.check_int(name, size, minimum=1, allow_none=True)
    self.model_fn = model_fn
    self.warm_start_from = warm_start_from
    self.warm_start_variables = warm_start_variables
    self.config = config
    self.params = dict(params or {})
    self.train_batch_size = train_batch_size
    self.eval_batch_size = eval_batch_size
    self.predict_batch_size = predict_batch_size
    self.strategy = config.strategy
    self.model_dir = config.model_dir
    self._model = None
    self._optimizer = None
    self._global_step = None
    self._loss_scale = None
    self._accumulator = None
    self._summary_writer = None
    self._finite_check = None
    self._saved_by_this_run = set()  # steps of the checkpoints train() wrote
    if self.model_dir:
      tf.io.gfile.makedirs(self.model_dir)

  @property
  def model(self):
    """The tf.Module built by `model_fn.create_model` (None before use)."""
    return self._model

  # ---------------------------------------------------------------- set-up

  def _params(self, mode, per_replica_batch_size):
    params = dict(self.params)
    params.update(
        batch_size=per_replica_batch_size,
        compute_dtype=self.config.compute_dtype,
        precision=self.config.precision,
        use_tpu=self.config.use_tpu,
        seed=self.config.seed,
        optimizer=self.config.optimizer,
        mode=mode,
        num_replicas=self.config.num_replicas)
    return params

  def _per_replica_batch_size(self, global_batch_size, name, divisor=1):
    if global_batch_size is None:
      raise validation.UsageError("--%s is not set" % name)
    n = self.config.num_replicas * divisor
    if global_batch_size % n:
      raise validation.UsageError(
          "--%s=%d: is not divisible by the number of replicas (%d) times "
          "the gradient accumulation steps (%d)" %
          (name, global_batch_size, self.config.num_replicas, divisor))
    return global_batch_size // n

  def _build(self, training):
    """Creates the model (and for training the optimizer and its state)."""
    with self.strategy.scope():
      if self._model is None:
        self._model = self.model_fn.create_model(self._params("build", None))
        self._global_step = optimization.create_global_step()
      if training and self._optimizer is None:
        self._optimizer = self.model_fn.create_optimizer(
            self._params("train", None))
        variables = self._model.trainable_variables
        self._optimizer.create_slots(variables)
        if self.config.precision == "float16":
          self._loss_scale = optimization.DynamicLossScale()
        if self.config.gradient_accumulation_steps > 1:
          self._accumulator = optimization.GradientAccumulator(variables)

  def _checkpoint_variables(self):
    """dict name -> variable written to (and read from) checkpoints."""
    named = collections.OrderedDict()
    for v in self._model.variables:
      named[checkpoints.variable_name(v)] = v
    if self._optimizer is not None:
      for v in self._optimizer.slot_variables():
        named[checkpoints.variable_name(v)] = v
    named["global_step"] = self._global_step
    if self._loss_scale is not None:
      # float16 only; Google's loaders ignore these extra entries.
      for v in (self._loss_scale.loss_scale, self._loss_scale.good_steps):
        named["loss_scale/" + checkpoints.variable_name(v)] = v
    return named

  def latest_checkpoint(self):
    """The newest checkpoint in model_dir, or None."""
    if not self.model_dir:
      return None
    return checkpoints.latest_checkpoint(self.model_dir)

  def _restore(self, checkpoint_path=None):
    """Resume (checkpoint_path or the newest in model_dir) or warm start.

    Returns:
      The checkpoint path the weights came from, or None (fresh weights).
    """
    path = checkpoint_path or self.latest_checkpoint()
    if path:
      logging.info("Restoring from %s", path)
      result = checkpoints.restore(self._checkpoint_variables(), path,
                                   allow_missing=True, log=False)
      model_names = set(checkpoints.variable_name(v)
                        for v in self._model.variables)
      missing = [n for n in result.missing if n in model_names]
      if missing and not checkpoint_path:
        raise validation.UsageError(
            "The newest checkpoint in %s (%s) lacks %d variables of this "
            "model (%s): the directory holds another model's checkpoints; "
            "use a new output directory." % (self.model_dir, path,
                                             len(missing),
                                             ", ".join(missing[:5])))
      if missing:  # an explicit checkpoint: the rest would stay random
        raise validation.UsageError(
            "Checkpoint %s lacks %d variables of this model: %s" %
            (path, len(missing), validation.list_text(missing, 5)))
      return path
    if self.warm_start_from:
      model_warm_start = getattr(self.model_fn, "warm_start", None)
      if model_warm_start is not None:
        model_warm_start(self._model, self.warm_start_from,
                         self.warm_start_variables)
      else:
        warm_start(self._model, self.warm_start_from,
                   self.warm_start_variables)
      return self.warm_start_from
    return None

  def _nonfinite_variables(self):
    """Names of checkpointed variables holding NaN or inf (one compiled call)."""
    if self._finite_check is None:
      self._finite_check = checkpoints.make_finite_check(
          self._checkpoint_variables())
    return self._finite_check()

  def _save(self, manager, checked=False):
    """Writes a checkpoint (chief only), never of NaN or inf values.

    Args:
      manager: the CheckpointManager.
      checked: the caller has just checked the values (`_nonfinite_variables`).

    Raises:
      validation.DivergenceError: non-finite weights or optimizer slots
        (nothing is written; the newest checkpoint stays the newest).
    """
    if not self.config.is_chief:
      return
    step = int(self._global_step.numpy())
    bad = [] if checked else self._nonfinite_variables()
    if bad:
      raise validation.DivergenceError(
          "Training diverged before step %d: %s hold NaN or inf; not saved, "
          "the newest checkpoint is %s" % (step, validation.list_text(bad),
                                           manager.latest_checkpoint))
    path = manager.save(self._checkpoint_variables(), step)
    self._saved_by_this_run.add(step)
    logging.info("Saved checkpoint %s", path)

  def _lock_model_dir(self):
    """The lock of model_dir for the chief of a training run (re-entrant)."""
    if not (self.model_dir and self.config.is_chief):
      return contextlib.nullcontext()
    return locks.OutputLock(self.model_dir, "output_dir")

  def _writer(self):
    if self._summary_writer is None:
      if self.config.is_chief and self.model_dir:
        self._summary_writer = tf.summary.create_file_writer(self.model_dir)
      else:
        self._summary_writer = tf.summary.create_noop_writer()
    return self._summary_writer

  def _distribute(self, input_fn, mode, per_replica_batch_size,
                  skip_steps=0):
    """A distributed dataset: input_fn per input pipeline, batch per replica.

    Args:
      input_fn: the runner's input_fn.
      mode: "train", "eval" or "predict".
      per_replica_batch_size: int.
      skip_steps: per-replica batches every replica has already consumed.
    """
    params = self._params(mode, per_replica_batch_size)
    _take_pipeline_error()  # forget what an earlier pipeline raised

    def dataset_fn(input_context):
      p = dict(params)
      if self.config.num_replicas > 1 or input_context.num_input_pipelines > 1:
        p["input_context"] = input_context
      dataset = input_fn(p)
      if skip_steps:
        # One pipeline feeds its replicas in turn, one batch each.
        replicas_per_pipeline = (input_context.num_replicas_in_sync //
                                 input_context.num_input_pipelines)
        dataset = dataset.skip(skip_steps * replicas_per_pipeline)
      return dataset

    return self.strategy.distribute_datasets_from_function(dataset_fn)

  # ---------------------------------------------------------------- train

  def _dropout_seed(self, micro_batch):
    """The dropout seed of this replica's micro-batch at the current step.

    Args:
      micro_batch: int32 scalar, index of the micro-batch within the update.

    Returns:
      int64 Tensor [2]: --seed, folded with the replica, the step and
      `micro_batch`, so the masks do not depend on when the process started.
    """
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    seed = tf.constant([self.config.seed, 0], tf.int64)
    for data in (replica, self._global_step, micro_batch):
      seed = tf.random.experimental.stateless_fold_in(
          seed, tf.cast(data, tf.int64))
    return seed

  def _gradients(self, features, micro_batch):
    """Per-replica loss and gradients of one micro-batch (float32, unscaled).

    With --seed, dropout is stateless (seeding.dropout_seed), so a resumed run
    draws the same masks as an uninterrupted one.

    Args:
      features: dict of per-replica batch tensors.
      micro_batch: int32 scalar, index of the micro-batch within the update.

    Returns:
      (loss float32 scalar, list of gradients aligned with the trainable
      variables; None for a variable the loss does not reach, which the
      optimizer then leaves untouched, as Google's does).
    """
    params = self._params("train", None)
    variables = self._model.trainable_variables
    seeding_context = contextlib.nullcontext()
    if self.config.seed is not None:
      seeding_context = seeding.dropout_seed(self._dropout_seed(micro_batch))
    with tf.GradientTape() as tape, seeding_context:
      loss = tf.cast(self.model_fn.train_loss(self._model, features, params),
                     tf.float32)
      scaled = loss
      if self._loss_scale is not None:
        scaled = self._loss_scale.scale_loss(loss)
    grads = tape.gradient(scaled, variables)
    if self._loss_scale is not None:
      grads = self._loss_scale.unscale(grads)
    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
    return loss, grads

  def _apply(self, grads):
    """All-reduces, then one update and step increment (replica context).

    Args:
      grads: list of this replica's mean gradients, one per trainable variable
        (None where the loss does not reach the variable).

    Returns:
      The learning rate of the update (float32 scalar).
    """
    if self.config.num_replicas > 1:
      reached = [i for i, g in enumerate(grads) if g is not None]
      reduced = tf.distribute.get_replica_context().all_reduce(
          tf.distribute.ReduceOp.MEAN, [grads[i] for i in reached])
      grads = list(grads)
      for i, g in zip(reached, reduced):
        grads[i] = g
    should_apply = None
    if self._loss_scale is not None:
      should_apply = self._loss_scale.update(grads)
    return self._optimizer.apply_step(grads, self._model.trainable_variables,
                                      self._global_step,
                                      should_apply=should_apply)

  def _make_train_loop(self, iterator):
    """-> tf.function(steps) running `steps` updates on `iterator`.

    Args:
      iterator: an iterator over the distributed training dataset.
    """
    accum = self.config.gradient_accumulation_steps
    strategy = self.strategy
    grad_fn = tf.function(self._gradients,
                          jit_compile=True if self.config.use_xla else None)

    def one_step(features):
      loss, grads = grad_fn(features, tf.constant(0))
      return loss, self._apply(grads)

    def accumulate(features, micro_batch):
      loss, grads = grad_fn(features, micro_batch)
      self._accumulator.accumulate(grads)
      return loss

    def apply_accumulated():
      lr = self._apply(self._accumulator.gradients())
      self._accumulator.reset()
      return lr

    def mean_over_replicas(value):
      return strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)

    @tf.function
    def train_loop(steps):
      loss = tf.constant(0.0)
      lr = tf.constant(0.0)
      # The index of the first update whose loss was NaN or inf (-1: none).
      first_bad = tf.constant(-1)
      for i in tf.range(steps):
        if accum == 1:
          loss_r, lr_r = strategy.run(one_step, args=(next(iterator),))
          loss = mean_over_replicas(loss_r)
        else:
          total = tf.constant(0.0)
          for micro_batch in tf.range(accum):
            total += mean_over_replicas(
                strategy.run(accumulate, args=(next(iterator), micro_batch)))
          loss = total / accum
          lr_r = strategy.run(apply_accumulated)
        lr = mean_over_replicas(lr_r)
        first_bad = tf.where(
            tf.logical_and(first_bad < 0,
                           tf.logical_not(tf.math.is_finite(loss))),
            i, first_bad)
      return loss, lr, first_bad

    return train_loop

  def train(self, input_fn, max_steps):
    """Trains until global_step == max_steps, resuming from model_dir.

    The chief holds the lock of model_dir meanwhile (locks.py). Before each
    checkpoint the weights and optimizer slots are checked: a NaN or inf is
    never saved.

    Args:
      input_fn: input_fn(params) -> tf.data.Dataset of feature dicts batched
        with params["batch_size"] (per replica, per micro-batch); it should
        repeat. With a seed, the training order must be a function of the seed
        only, so a restart continues where the killed run stopped. It may
        declare `input_fn.input_files` (named in data errors).
      max_steps: total number of updates (counted by global_step).

    Returns:
      self.

    Raises:
      validation.UsageError: max_steps < 1; locks.LockError: another run
        trains in model_dir; validation.DivergenceError: a NaN/inf loss or
        weight (naming the step and the learning rate); validation.DataError:
        damaged records or an input that ends before the first step.
    """
    if validation.int_problem(max_steps, minimum=1):
      raise validation.UsageError(
          "Nothing to train: the number of training steps is %s (from "
          "--num_train_steps, or the training examples / --train_batch_size "
          "x --num_train_epochs, rounded down); it must be >= 1" % max_steps)
    with self._lock_model_dir():
      self._build(training=True)
      self._restore()
      start = int(self._global_step.numpy())
      if start >= max_steps:
        logging.info("global_step %d >= max_steps %d: nothing to train.",
                     start, max_steps)
        return self
      self._train_steps(input_fn, start, max_steps)
    return self

  def _train_steps(self, input_fn, start, max_steps):
    """The training loop proper, from global_step `start` to `max_steps`."""
    config = self.config
    accum = config.gradient_accumulation_steps
    per_replica = self._per_replica_batch_size(
        self.train_batch_size, "train_batch_size", accum)
    # A seeded pipeline restarts from its beginning: skip what was consumed.
    skip = start * accum if (start and config.seed is not None) else 0
    if skip:
      logging.info("Skipping the %d micro-batches per replica consumed before "
                   "step %d.", skip, start)
    files = input_files_of(input_fn)
    with input_errors(files):
      train_loop = self._make_train_loop(
          iter(self._distribute(input_fn, "train", per_replica, skip)))
    manager = checkpoints.CheckpointManager(
        self.model_dir, max_to_keep=config.keep_checkpoint_max)
    save_every = config.save_checkpoints_steps or 0
    logging.info("***** Running training *****")
    logging.info("  global batch = %d (%d replicas x %d per replica x %d "
                 "accumulation steps), steps %d -> %d", self.train_batch_size,
                 config.num_replicas, per_replica, accum, start, max_steps)
    progress = _TrainProgress(self, start, max_steps)
    step = start
    while step < max_steps:
      n = min(config.iterations_per_loop, max_steps - step)
      if save_every:
        n = min(n, save_every - step % save_every)
      try:
        with input_errors(files):
          loss, lr, first_bad = train_loop(tf.constant(n, tf.int32))
      except tf.errors.OutOfRangeError:
        self._input_ended(manager, start, max_steps, files)
        break
      loop_start, step = step, int(self._global_step.numpy())
      loss, lr, first_bad = float(loss), float(lr), int(first_bad)
      save = (save_every and step % save_every == 0) or step >= max_steps
      bad_weights = self._nonfinite_variables() if save else []
      if not np.isfinite(loss) or bad_weights:
        self._diverged(manager, (start, loop_start, step), loss, first_bad,
                       bad_weights)
      progress.report(step, loss, lr)
      if save:
        self._save(manager, checked=True)
    with summary_errors():
      progress.writer.flush()

  def _input_ended(self, manager, start, max_steps, files):
    """A finite training input ended: save, as TPUEstimator (or refuse).

    Raises:
      validation.DataError: the input ended before a single step.
    """
    step = int(self._global_step.numpy())
    if step == 0:
      raise validation.DataError(
          "The training input ended before the first step: it holds fewer "
          "than one batch of --train_batch_size=%d examples%s" % (
              self.train_batch_size,
              " (%s)" % ", ".join(files) if files else ""))
    logging.info("The training input ended at step %d (before max_steps "
                 "%d).", step, max_steps)
    if step > start:
      self._save(manager)

  def _rate_at(self, step):
    """The learning rate of update `step` (the schedule at step - 1)."""
    rate_at = getattr(self._optimizer, "learning_rate_at", None)
    if rate_at is None or step < 1:
      return None
    return float(rate_at(tf.constant(step - 1, tf.int64)).numpy())

  def _diverged(self, manager, steps, loss, first_bad, bad_weights):
    """Stops a run whose loss or weights became NaN or inf.

    The loss of update k is computed with the weights of step k - 1. When the
    first update after a checkpoint gives a non-finite loss or weights, that
    checkpoint is finite but poisoned (every restart, at any rate, would
    diverge again at once): if this run wrote it, it stops being the newest
    (its files are kept, no longer listed).

    Args:
      manager: the CheckpointManager.
      steps: (first step of this run, first step of the loop, step now).
      loss: the loop's last loss.
      first_bad: index in the loop of the first update with a NaN/inf loss,
        or -1.
      bad_weights: names of the non-finite variables (checked before saves).

    Raises:
      validation.DivergenceError: naming the step, what is not finite, the
        learning rate and the newest checkpoint.
    """
    start, loop_start, step = steps
    if first_bad >= 0:
      bad_step, what = loop_start + first_bad + 1, "the loss is %s" % loss
    else:
      bad_step, what = step, "%s hold NaN or inf" % validation.list_text(
          bad_weights)
    newest = manager.latest_checkpoint
    poisoned = bad_step == loop_start + 1 and newest == os.path.join(
        self.model_dir, "%s-%d" % (manager.checkpoint_name, loop_start))
    note = ""
    if poisoned and loop_start in self._saved_by_this_run and (
        self.config.is_chief):
      newest = manager.demote(newest)
      note = ("; the first update from the weights saved at step %d diverged, "
              "so that checkpoint is no longer the newest (its files are "
              "kept)" % loop_start)
    elif poisoned and loop_start == start:
      note = ("; the first update from the checkpoint this run resumed from "
              "diverged: if it does at any rate, it comes from a diverged run "
              "(delete its files to resume from the one before)")
    raise validation.DivergenceError(
        "Training diverged at step %d: %s (learning rate %s)%s; the newest "
        "checkpoint is %s. Lower the learning rate (--learning_rate) and "
        "rerun" % (bad_step, what, _rate_text(self._rate_at(bad_step)), note,
                   newest or "none (a restart starts from the initial or "
                   "--init_checkpoint weights)"))

  # ---------------------------------------------------------------- eval

  def _inference_setup(self, input_fn, mode, checkpoint_path,
                       allow_initial_weights=False):
    """Builds and restores the model for evaluate/predict.

    Args:
      input_fn: the runner's input_fn.
      mode: "eval" or "predict" (selects the batch size).
      checkpoint_path: a checkpoint, or None for the newest / the warm start.
      allow_initial_weights: use the freshly initialised weights when there
        is no checkpoint (a baseline), instead of refusing.

    Returns:
      (params, distributed dataset).

    Raises:
      validation.UsageError: there are no weights to use (no checkpoint in
        model_dir, none given, no init checkpoint): the results of random
        weights used to be written after a warning.
    """
    self._build(training=False)
    # A ModelFn of Google's model_fn_builder names loads its own warm start.
    own_weights = getattr(self.model_fn, "init_checkpoint", None)
    if (self._restore(checkpoint_path) is None and not own_weights and
        not allow_initial_weights):
      raise no_weights_error(mode, self.model_dir)
    flag = mode + "_batch_size"
    per_replica = self._per_replica_batch_size(getattr(self, flag), flag)
    with input_errors(input_files_of(input_fn)):
      return (self._params(mode, per_replica),
              self._distribute(input_fn, mode, per_replica))

  def evaluate(self, input_fn, steps=None, checkpoint_path=None,
               allow_initial_weights=False):
    """Evaluates the newest checkpoint (or the warm start) on input_fn.

    Args:
      input_fn: input_fn(params) -> dataset (finite, or `steps` given).
      steps: number of global batches, or None for the whole dataset.
      checkpoint_path: a checkpoint to evaluate instead of the newest one.
      allow_initial_weights: evaluate the initial weights when there is no
        checkpoint and no init checkpoint (an untrained baseline); by
        default that is an error (validation.UsageError).

    Returns:
      dict: every metric's sum/count over all batches and replicas, plus
      `global_step` and `loss` (the mean train_loss over the batches, as
      Estimator's).
    """
    params, dataset = self._inference_setup(input_fn, "eval", checkpoint_path,
                                            allow_initial_weights)
    strategy = self.strategy

    def replica_eval(features):
      metrics = dict(self.model_fn.eval_metrics(self._model, features, params))
      loss = tf.cast(self.model_fn.train_loss(self._model, features, params),
                     tf.float32)
      return metrics, loss

    @tf.function
    def eval_step(features):
      metrics, loss = strategy.run(replica_eval, args=(features,))
      summed = {}
      for name, (total, count) in metrics.items():
        summed[name] = (
            strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None))
      return summed, strategy.reduce(tf.distribute.ReduceOp.MEAN, loss,
                                     axis=None)

    logging.info("***** Running evaluation *****")
    with input_errors(input_files_of(input_fn)):
      totals, losses, n = _eval_batches(eval_step, dataset, steps)
    results = {name: np.float32(t / c if c else 0.0)
               for name, (t, c) in totals.items()}
    results["loss"] = np.float32(np.mean(losses) if losses else 0.0)
    results["global_step"] = int(self._global_step.numpy())
    logging.info("Evaluated %d batches.", n)
    if self.config.is_chief and self.model_dir:
      # As Estimator: the metrics as TensorBoard scalars in model_dir/eval.
      with summary_errors():
        writer = tf.summary.create_file_writer(
            os.path.join(self.model_dir, "eval"))
        write_scalars(writer, results["global_step"],
                      {k: float(v) for k, v in results.items()
                       if k != "global_step"})
        writer.close()
    return results

  # ---------------------------------------------------------------- predict

  def predict(self, input_fn, checkpoint_path=None,
              allow_initial_weights=False):
    """Yields one dict of numpy values per example, in input order.

    Args:
      input_fn: input_fn(params) -> finite dataset.
      checkpoint_path: a checkpoint instead of the newest in model_dir.
      allow_initial_weights: see `evaluate`.
    """
    params, dataset = self._inference_setup(input_fn, "predict",
                                            checkpoint_path,
                                            allow_initial_weights)
    strategy = self.strategy

    @tf.function
    def predict_step(features):
      return strategy.run(
          lambda f: dict(self.model_fn.predictions(self._model, f, params)),
          args=(features,))

    files = input_files_of(input_fn)
    with input_errors(files):
      iterator = iter(dataset)
    while True:
      with input_errors(files):
        features = next(iterator, None)
        if features is None:
          return
        outputs = predict_step(features)
      local = {k: [t.numpy() for t in strategy.experimental_local_results(v)]
               for k, v in outputs.items()}
      for replica in range(len(next(iter(local.values())))):
        batch = {k: v[replica] for k, v in local.items()}
        size = len(next(iter(batch.values())))
        for i in range(size):
          yield {k: v[i] for k, v in batch.items()}
