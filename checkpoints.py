# coding=utf-8
"""Reading and writing TF1 name-based checkpoints in Google's BERT layout.

A checkpoint here is what TF1's `tf.train.Saver` wrote: `prefix.index` and
`prefix.data-00000-of-00001` in the V2 bundle format, every tensor stored under the
variable's Google name (`bert/encoder/layer_0/attention/self/query/kernel`,
`<var>/adam_m`, `global_step`, ...), plus a `checkpoint` state file (a text proto)
naming the newest one. Google's own loaders (`tf.train.init_from_checkpoint`,
`tf.train.list_variables`, `tf.train.latest_checkpoint`) read what this module
writes, and this module reads Google's released `bert_model.ckpt` files.
"""

import collections
import os
import re

from absl import logging
import tensorflow as tf

import io_lib
import validation

STATE_FILE = "checkpoint"

RestoreResult = collections.namedtuple("RestoreResult",
                                       ["loaded", "missing", "unused"])


def variable_name(v):
  """The checkpoint name of a variable: its name without the `:0` suffix.

  Args:
    v: a tf.Variable (or a distributed variable) created with a Google name.

  Returns:
    A string such as "bert/embeddings/word_embeddings".
  """
  name = v.name
  m = re.match(r"^(.*):\d+$", name)
  return m.group(1) if m else name


def _named_values(variables):
  """Normalises the `variables` argument to an ordered dict name -> value.

  Args:
    variables: a tf.Module, a list/tuple of variables, or a dict name -> tensor or
      variable.

  Returns:
    collections.OrderedDict of name -> variable or tensor.

  Raises:
    ValueError: two variables share a name (one would silently overwrite the other).
  """
  if isinstance(variables, tf.Module):
    variables = variables.variables
  if isinstance(variables, dict):
    items = list(variables.items())
  else:
    items = [(variable_name(v), v) for v in variables]
  named = collections.OrderedDict()
  for name, value in items:
    if name in named and named[name] is not value:
      raise ValueError("Two different variables are both named %r." % name)
    named[name] = value
  return named


def _read_value(value):
  """The current value of a variable or tensor, on the host.

  `tf.convert_to_tensor` reads a tf.distribute MirroredVariable's primary copy (in
  cross-replica context) as well as a plain variable.
  """
  return tf.convert_to_tensor(value)


def save_checkpoint(variables, prefix):
  """Writes a TF1 V2 checkpoint (`prefix.index`, `prefix.data-00000-of-00001`).

  The data is first written under a unique temporary prefix and then merged into
  `prefix` (MergeV2Checkpoints renames the data file and writes the index last), so
  a crash never leaves a half-written `prefix.index` behind. The temporary
  directory is `.<name>.tmp-<pid>-<hex8>` (`io_lib.temporary_name`): removed on
  any failure, and by the next run that takes the directory's lock if the
  process was killed.

  Args:
    variables: a tf.Module, a list of variables, or a dict name -> tensor/variable.
    prefix: the checkpoint prefix, e.g. "/out/model.ckpt-1000".

  Returns:
    `prefix`.

  Raises:
    validation.OutputError: the disk is full, the file too large, permission
      denied, ... naming `prefix`; no file of `prefix` that did not exist
      before is left behind.
  """
  named = _named_values(variables)
  if not named:
    raise ValueError("No variables to save to %s." % prefix)
  directory = os.path.dirname(prefix)
  names = list(named.keys())
  tensors = [_read_value(named[n]) for n in names]
  existed = set(tf.io.gfile.glob(prefix + ".*"))
  tmp_dir = io_lib.temporary_name(prefix)
  try:
    with io_lib.output_errors("checkpoint " + prefix):
      if directory:
        tf.io.gfile.makedirs(directory)
      with tf.device("/cpu:0"):
        tf.raw_ops.SaveV2(prefix=os.path.join(tmp_dir, "part"),
                          tensor_names=names,
                          shape_and_slices=[""] * len(names), tensors=tensors)
        tf.raw_ops.MergeV2Checkpoints(
            checkpoint_prefixes=[os.path.join(tmp_dir, "part")],
            destination_prefix=prefix, delete_old_dirs=True)
  except validation.OutputError:
    for path in set(tf.io.gfile.glob(prefix + ".*")) - existed:
      tf.io.gfile.remove(path)
    raise
  finally:
    io_lib.remove(tmp_dir)
  return prefix


def _resolve_checkpoint(checkpoint_path):
  """A checkpoint prefix from a prefix or a directory.

  A directory is a model directory with a `checkpoint` state file (its newest
  checkpoint), or a TF Hub module directory (its `variables/variables`).

  Raises:
    ValueError: nothing readable at `checkpoint_path`.
  """
  if tf.io.gfile.isdir(checkpoint_path):
    latest = tf.train.latest_checkpoint(checkpoint_path)
    if latest is not None:
      return latest
    hub_variables = os.path.join(checkpoint_path, "variables", "variables")
    if tf.io.gfile.exists(hub_variables + ".index"):
      return hub_variables
    raise validation.UsageError(
        "No checkpoint found in directory %s (no valid %r state file, no TF "
        "Hub variables/variables)." % (checkpoint_path, STATE_FILE))
  if not tf.io.gfile.exists(checkpoint_path + ".index"):
    raise validation.UsageError(
        "No checkpoint at %s (expected the file %s.index)." %
        (checkpoint_path, checkpoint_path))
  return checkpoint_path


# Prefixes a checkpoint may put before the model's names: a TF1 session that
# ran a TF Hub module (`hub.Module(..., name="module")`, as ALBERT's and
# BERT's hub modules are used) saves `module/bert/embeddings/...`.
CHECKPOINT_PREFIXES = ("module/",)


def checkpoint_key(name, checkpoint_names):
  """The checkpoint entry holding variable `name`, or None.

  Args:
    name: the variable's name (or the name it reads, see `restore`).
    checkpoint_names: the set (or dict) of the checkpoint's names.

  Returns:
    `name` if the checkpoint has it, else `<prefix>name` for the first of
    CHECKPOINT_PREFIXES it has, else None.
  """
  if name in checkpoint_names:
    return name
  for prefix in CHECKPOINT_PREFIXES:
    if prefix + name in checkpoint_names:
      return prefix + name
  return None


def list_checkpoint_variables(checkpoint_path):
  """Dict name -> shape (list) of the tensors in a checkpoint (prefix or dir)."""
  path = _resolve_checkpoint(checkpoint_path)
  return collections.OrderedDict(tf.train.list_variables(path))


def restore(variables, checkpoint_path, allow_missing=False, log=True,
            source_names=None):
  """Assigns every variable whose name is in the checkpoint.

  A name is found as it is or behind a TF Hub `module/` prefix
  (`checkpoint_key`); the checkpoint's other entries (e.g. `global_step`
  when warm-starting) are reported as unused.

  Args:
    variables: a tf.Module, a list of variables or a dict name -> variable.
    checkpoint_path: a checkpoint prefix (e.g. ".../bert_model.ckpt"), a
      directory holding a `checkpoint` state file, or a TF Hub module directory.
    allow_missing: if False, a variable absent from the checkpoint is an error; if
      True it keeps its current (initial) value and is reported as missing.
    log: log the loaded, missing and unused names.
    source_names: (optional) dict variable name -> the checkpoint name it reads
      (ALBERT's `init_from_group0`: group_1 reads group_0); others read their
      own name.

  Returns:
    RestoreResult(loaded, missing, unused): lists of names (variable names for
    loaded and missing). `unused` are checkpoint entries no variable read (e.g.
    `cls/*` when fine-tuning).

  Raises:
    ValueError: no checkpoint at the path; a shape or dtype mismatch (naming the
      variable and both shapes); missing variables when not `allow_missing`.
  """
  path = _resolve_checkpoint(checkpoint_path)
  named = _named_values(variables)
  source_names = source_names or {}
  reader = tf.train.load_checkpoint(path)
  shapes = reader.get_variable_to_shape_map()
  dtypes = reader.get_variable_to_dtype_map()
  loaded, missing, keys = [], [], {}
  for name, var in named.items():
    key = checkpoint_key(source_names.get(name, name), shapes)
    if key is None:
      missing.append(name)
      continue
    var_shape = var.shape.as_list()
    if list(shapes[key]) != var_shape:
      raise validation.UsageError(
          "Shape mismatch for variable %s: the model has %s but checkpoint %s has "
          "%s (%s)." % (name, var_shape, path, list(shapes[key]), key))
    if dtypes[key] != var.dtype:
      raise validation.UsageError(
          "Dtype mismatch for variable %s: the model has %s but checkpoint %s has "
          "%s (%s)." % (name, var.dtype.name, path, dtypes[key].name, key))
    loaded.append(name)
    keys[name] = key
  if missing and not allow_missing:
    raise validation.UsageError(
        "Checkpoint %s lacks %d variables of the model: %s" %
        (path, len(missing), ", ".join(missing)))
  for name in loaded:
    named[name].assign(reader.get_tensor(keys[name]))
  read = set(keys.values())
  unused = sorted(n for n in shapes if n not in read)
  if log:
    _log_restore(path, loaded, keys, shapes, missing, unused)
  return RestoreResult(loaded, missing, unused)


def _log_restore(path, loaded, keys, shapes, missing, unused):
  """Logs what `restore` did (Google's `*INIT_FROM_CKPT*` lines).

  Args:
    path: the checkpoint prefix.
    loaded: variable names assigned; keys: variable name -> checkpoint name.
    shapes: checkpoint name -> shape.
    missing, unused: as `restore` returns them.
  """
  logging.info("Restored %d variables from %s.", len(loaded), path)
  for name in loaded:
    source = "" if keys[name] == name else " (from %s)" % keys[name]
    logging.info("  name = %s, shape = %s, *INIT_FROM_CKPT*%s", name,
                 list(shapes[keys[name]]), source)
  if missing:
    logging.info("%d variables not in %s (kept at their initial values): %s",
                 len(missing), path, ", ".join(missing))
  if unused:
    logging.info("%d entries of %s unused: %s", len(unused), path,
                 ", ".join(unused))


def make_finite_check(variables):
  """A cheap check that no float variable holds NaN or inf (before a save).

  Args:
    variables: a tf.Module, a list of variables, or a dict name -> variable
      (the loop passes everything it checkpoints: weights, Adam slots).

  Returns:
    check() -> list of the names of non-finite variables (empty when all are
    finite). One compiled call: an all-finite reduction per variable, read
    back as one boolean vector.
  """
  named = [(n, v) for n, v in _named_values(variables).items()
           if v.dtype.is_floating]
  names = [n for n, _ in named]
  values = [v for _, v in named]

  @tf.function
  def finite_flags():
    """bool [len(values)]: whether each variable is all finite."""
    return tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in values])

  def check():
    """Names of the variables that are not all finite now."""
    if not values:
      return []
    flags = finite_flags().numpy()
    return [n for n, ok in zip(names, flags) if not ok]

  return check


def check_warm_start(result, expected_names, checkpoint_path,
                     flag_name="init_checkpoint", optional_prefixes=()):
  """Refuses a warm start that did not load the weights the user meant.

  An init checkpoint of another model family, scope or format used to
  restore nothing and train from random weights, exit 0.

  Args:
    result: RestoreResult of `restore(..., allow_missing=True)`.
    expected_names: names the checkpoint must provide (the encoder's
      variables: `EncoderFamily.variable_names(config)`), or None to require
      only that something was restored.
    checkpoint_path: the checkpoint, for the message.
    flag_name: the flag that named it.
    optional_prefixes: expected names starting with one of these may be
      absent (a warning names them), e.g. ("bert/pooler/",).

  Raises:
    validation.UsageError: naming the checkpoint, how many expected variables
      it restored, a few it lacks, how many tensors it holds with a few
      names, and a hint for a TF2 object-based checkpoint or another scope.
  """
  loaded = set(result.loaded)
  held = sorted(loaded | set(result.unused))
  expected = list(expected_names) if expected_names is not None else None
  if expected is None:
    absent = [] if loaded else sorted(result.missing)
    wanted = len(result.missing) + len(loaded)
  else:
    absent = [n for n in expected if n not in loaded]
    wanted = len(expected)
  optional = tuple(optional_prefixes)
  required = [n for n in absent if not (optional and n.startswith(optional))]
  if not required:
    if absent:
      logging.warning("%s lacks %d variable(s) (kept at their initial "
                      "values): %s", validation.flag_text(
                          flag_name, checkpoint_path), len(absent),
                      ", ".join(absent))
    return
  message = "%s restores %d of the %d variables expected; it lacks %s" % (
      validation.flag_text(flag_name, checkpoint_path), wanted - len(absent),
      wanted, validation.list_text(required))
  message += "; it holds %d tensors%s" % (
      len(held), ", e.g. " + validation.list_text(held) if held else "")
  hint = _warm_start_hint(required, held)
  raise validation.UsageError(message + (" (%s)" % hint if hint else ""))


def optional_encoder_prefixes(names):
  """The pooler's scopes among an encoder's names (e.g. ("bert/pooler/",)).

  A checkpoint pre-trained without a sentence-level head may lack the pooler;
  a warm start then only warns about it.
  """
  marker = "/pooler/"
  return tuple(sorted(set(n[:n.index(marker) + len(marker)] for n in names
                          if marker in n)))


def check_init_checkpoint(checkpoint_path, expected_names,
                          flag_name="init_checkpoint", expected_shapes=None):
  """Before any work: the checkpoint holds the encoder's variables.

  Reads only the checkpoint's index (names), as `check_warm_start` would
  judge the restore: an init checkpoint of another family, size or format is
  refused before data are read or records written.

  Args:
    checkpoint_path: the checkpoint (prefix or directory).
    expected_names: the encoder's names (`EncoderFamily.variable_names`).
    flag_name: the flag that named it.
    expected_shapes: optional dict name -> shape (a list; None = any size)
      of a few variables whose shapes the config fixes
      (`EncoderFamily.key_shapes`): a checkpoint of another size is refused
      before any work.

  Raises:
    validation.UsageError: unreadable, lacking encoder variables (see
      `check_warm_start`; a missing pooler only warns), or of other shapes.
  """
  try:
    held = list_checkpoint_variables(checkpoint_path)
  except validation.UsageError as e:
    raise validation.UsageError("%s: %s" % (
        validation.flag_text(flag_name, checkpoint_path), e)) from None
  except (tf.errors.OpError, ValueError) as e:
    raise validation.UsageError("%s: cannot read the checkpoint: %s" % (
        validation.flag_text(flag_name, checkpoint_path),
        io_lib.error_reason(e))) from None
  loaded, missing, keys = [], [], set()
  for name in expected_names:
    key = checkpoint_key(name, held)
    if key is None:
      missing.append(name)
    else:
      loaded.append(name)
      keys.add(key)
  result = RestoreResult(loaded, missing,
                         sorted(n for n in held if n not in keys))
  check_warm_start(result, expected_names, checkpoint_path, flag_name,
                   optional_prefixes=optional_encoder_prefixes(
                       expected_names))
  for name, shape in (expected_shapes or {}).items():
    key = checkpoint_key(name, held)
    if key is None:
      continue
    have = list(held[key])
    if len(have) != len(shape) or any(
        want is not None and want != got for want, got in zip(shape, have)):
      raise validation.UsageError(
          "%s holds %s of shape %s but the model config asks for %s: the "
          "checkpoint is of another model size (is the config file the "
          "checkpoint's?)" % (validation.flag_text(flag_name, checkpoint_path),
                              key, have, "[%s]" % ", ".join(
                                  "*" if d is None else str(d)
                                  for d in shape)))


def _warm_start_hint(absent, held):
  """Why a checkpoint might not match: TF2 format or another name prefix."""
  if any("/.ATTRIBUTES/" in n for n in held):
    return ("it is a TF2 object-based checkpoint (tf.train.Checkpoint); give "
            "a TF1 name-based one such as Google's bert_model.ckpt")
  for name in absent:
    if "/" not in name:
      continue
    head, tail = name.split("/", 1)
    for other in held:
      if other != name and (other == tail or other.endswith("/" + tail)):
        prefix = other[:len(other) - len(tail)]
        return ("its names start with %r where the model's start with %r: "
                "another model family or scope?" % (prefix, head + "/"))
  return None


def _quote(s):
  """A string literal for the text-proto state file."""
  return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def write_state_file(directory, model_checkpoint_path, all_model_checkpoint_paths):
  """Atomically writes `directory/checkpoint` (the text proto TF1's Saver writes).

  Paths inside `directory` are stored relative, as TF1 does, so the directory can be
  moved. The file is written under a temporary name and renamed over the old one.

  Args:
    directory: the model directory.
    model_checkpoint_path: the newest checkpoint prefix.
    all_model_checkpoint_paths: every kept prefix, oldest first.
  """
  def rel(p):
    if os.path.dirname(p) == directory.rstrip("/"):
      return os.path.basename(p)
    return p

  lines = ["model_checkpoint_path: %s" % _quote(rel(model_checkpoint_path))]
  lines += ["all_model_checkpoint_paths: %s" % _quote(rel(p))
            for p in all_model_checkpoint_paths]
  io_lib.write_text(os.path.join(directory, STATE_FILE),
                    "\n".join(lines) + "\n")


def read_state_file(directory):
  """The checkpoint prefixes listed in `directory/checkpoint`, oldest first.

  Returns:
    (model_checkpoint_path or None, list of all_model_checkpoint_paths); the paths
    joined with `directory` when relative (by get_checkpoint_state).

  Raises:
    validation.UsageError: the state file exists but cannot be parsed
      (TensorFlow ignores it with a warning, so training silently restarted
      from scratch beside the old checkpoints).
  """
  path = os.path.join(directory, STATE_FILE)
  try:
    state = tf.train.get_checkpoint_state(directory)
  except ValueError as e:  # e.g. an empty file
    state, reason = None, str(e)
  else:
    reason = "not a checkpoint state (text proto)"
  if state is None and tf.io.gfile.exists(path):
    raise validation.UsageError(
        "%s cannot be read: %s; repair it (a line model_checkpoint_path: "
        "\"model.ckpt-<step>\" naming a checkpoint in the directory) or "
        "remove it to train from the start" % (path, reason))
  if state is None:
    return None, []
  # get_checkpoint_state has already joined relative entries with
  # `directory` (joining again broke a relative --output_dir: no resume).
  paths = list(state.all_model_checkpoint_paths)
  latest = state.model_checkpoint_path or None
  if latest and latest not in paths:
    paths.append(latest)
  return latest, paths


def latest_checkpoint(directory):
  """The newest complete checkpoint listed in `directory/checkpoint`, or None.

  As tf.train.latest_checkpoint, except that when the files of the newest
  entry are gone (deleted by hand: a poisoned checkpoint, a partial copy) the
  newest listed one whose files exist is used, with a warning, instead of
  none at all (which would restart training from scratch).

  Args:
    directory: a model directory.

  Returns:
    a checkpoint prefix or None.
  """
  latest, paths = read_state_file(directory)
  if latest is None or tf.io.gfile.exists(latest + ".index"):
    return latest
  for path in reversed(paths):
    if tf.io.gfile.exists(path + ".index"):
      logging.warning("The newest checkpoint listed in %s, %s, has no files; "
                      "using %s.", os.path.join(directory, STATE_FILE), latest,
                      path)
      return path
  return None


def delete_checkpoint(prefix):
  """Removes the files of checkpoint `prefix` (index, data shards, meta)."""
  for path in tf.io.gfile.glob(prefix + ".*"):
    suffix = path[len(prefix):]
    if suffix == ".index" or suffix == ".meta" or suffix.startswith(".data-"):
      tf.io.gfile.remove(path)


def copy_checkpoint(source, target):
  """Copies a checkpoint's files to another prefix, each atomically.

  The data files go first and the index last, so the target's index names
  complete data.

  Args:
    source: a checkpoint prefix (model.ckpt-1000).
    target: the new prefix (model.ckpt-best).

  Returns:
    list of (source file, target file) copied.
  """
  files = [p for p in tf.io.gfile.glob(source + ".*")
           if not os.path.basename(p).startswith(".") and
           ".tmp" not in p[len(source):]]
  files.sort(key=lambda p: p.endswith(".index"))
  copied = []
  for path in files:
    destination = target + path[len(source):]
    with io_lib.atomic_path(destination) as temporary:
      tf.io.gfile.copy(path, temporary, overwrite=True)
    copied.append((path, destination))
  return copied


class CheckpointManager(object):
  """Writes `model.ckpt-<step>` checkpoints and keeps the newest `max_to_keep`.

  Resumes the list of kept checkpoints from an existing state file, so a restarted
  job keeps deleting the oldest ones.
  """

  def __init__(self, directory, max_to_keep=5, checkpoint_name="model.ckpt"):
    """Creates the manager.

    Args:
      directory: where checkpoints and the `checkpoint` state file live.
      max_to_keep: how many checkpoints to keep; None or 0 keeps all (as TF1's Saver).
      checkpoint_name: the file name prefix before `-<step>`.

    Raises:
      validation.UsageError: a negative `max_to_keep` (which would delete
        every checkpoint as it is written).
    """
    validation.check_int("keep_checkpoint_max", max_to_keep, minimum=0,
                         note="0 keeps all", allow_none=True)
    self.directory = directory
    self.max_to_keep = max_to_keep
    self.checkpoint_name = checkpoint_name
    tf.io.gfile.makedirs(directory)
    _, paths = read_state_file(directory)
    self._kept = [p for p in paths if tf.io.gfile.exists(p + ".index")]

  @property
  def latest_checkpoint(self):
    """The newest checkpoint prefix, or None (see `latest_checkpoint`)."""
    return latest_checkpoint(self.directory)

  @property
  def checkpoints(self):
    """The kept checkpoint prefixes, oldest first."""
    return list(self._kept)

  def save(self, variables, global_step):
    """Writes `<directory>/<checkpoint_name>-<global_step>` and updates the state.

    The state file is rewritten only after the checkpoint is complete, and old
    checkpoints are deleted only after that, so a crash at any point leaves the
    state file naming a complete checkpoint.

    Args:
      variables: a tf.Module, list of variables or dict name -> tensor/variable
        (model weights, optimizer slots, `global_step`).
      global_step: int (or scalar tensor/variable), the step in the file name.

    Returns:
      The prefix written.
    """
    step = int(_read_value(global_step).numpy()) if not isinstance(
        global_step, int) else global_step
    prefix = os.path.join(self.directory, "%s-%d" % (self.checkpoint_name, step))
    save_checkpoint(variables, prefix)
    kept = [p for p in self._kept if p != prefix] + [prefix]
    if self.max_to_keep:
      doomed, kept = kept[:-self.max_to_keep], kept[-self.max_to_keep:]
    else:
      doomed = []
    write_state_file(self.directory, prefix, kept)
    self._kept = kept
    for old in doomed:
      delete_checkpoint(old)
    return prefix

  def demote(self, prefix):
    """Makes the checkpoint before `prefix` the newest again.

    For a checkpoint found poisoned after it was written (finite weights that
    give a non-finite loss). Its files are kept but no longer listed in the
    state file, so neither a restart nor `max_to_keep` uses or deletes them.

    Args:
      prefix: a kept checkpoint prefix (normally the newest).

    Returns:
      the newest checkpoint prefix now, or None (the state file is removed).
    """
    kept = [p for p in self._kept if p != prefix]
    if kept:
      write_state_file(self.directory, kept[-1], kept)
    else:
      state = os.path.join(self.directory, STATE_FILE)
      if tf.io.gfile.exists(state):
        tf.io.gfile.remove(state)
    self._kept = kept
    logging.warning("%s is no longer listed in %s (its files are kept).",
                    prefix, os.path.join(self.directory, STATE_FILE))
    return kept[-1] if kept else None
