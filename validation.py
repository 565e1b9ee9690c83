# coding=utf-8
"""Checks of flags, paths and model configs, and the one-line user errors.

Every script refuses bad input before it does any work, with one line that
names the flag, file or field, its value and what is allowed, in the style of
create_pretraining_data.py's messages:

  --save_checkpoints_steps=-2: must be >= 0 (0 = only at the end)
  --vocab_file=/data/vocab.txt: no such file
  BERT config file /m/bert_config.json: "hidden_size": "768" must be an
    integer >= 1, not a string

Such errors are `UsageError`s (a `ValueError`, so code that catches
ValueError keeps working). A script runs its `main` through `run_main`, which
prints a `UsageError` as that one line and exits with status 2, prints one
line and exits 130 / 143 on Ctrl-C / SIGTERM, and lets every other exception
(a bug) show its traceback.

No TensorFlow here: create_pretraining_data.py and the data tools import this
module too.
"""

import collections
import difflib
import functools
import glob
import json
import math
import numbers
import os
import re
import signal
import sys

from absl import logging

# Exit statuses of `run_main`.
EXIT_USAGE = 2
EXIT_SIGNAL_BASE = 128


class UsageError(ValueError):
  """An error the user can fix (a flag, path, config, data file, disk).

  `run_main` prints its message as one line, without a traceback.
  """


class DataError(UsageError):
  """Input data that cannot be read as asked (names the file and record)."""


class MissingInputError(DataError, FileNotFoundError):
  """An input file that does not exist (also a FileNotFoundError, which
  readers raised before)."""


class OutputError(UsageError):
  """An output that cannot be written (names the file; nothing partial left)."""


class DivergenceError(UsageError, FloatingPointError):
  """Training produced non-finite weights or loss (names step and rate)."""


class Interrupted(KeyboardInterrupt):
  """Ctrl-C or SIGTERM: raised in the main thread by `handle_signals`."""

  def __init__(self, signum):
    """Args: signum: the signal that interrupted the run."""
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


# ------------------------------------------------------------------ values


def format_value(value):
  """A flag or field value as the user would type it.

  Args:
    value: any value.

  Returns:
    str: ints and floats as Python prints them (`nan`, `1e+08`), strings as
    they are unless empty or holding spaces (then quoted), booleans as
    true/false.
  """
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, str):
    if not value or value != value.strip() or " " in value:
      return repr(value)
    return value
  return repr(value)


def list_text(names, count=3):
  """'a, b, c and 36 more': a few names of a long list, for messages."""
  names = list(names)
  text = ", ".join(str(n) for n in names[:count])
  if len(names) > count:
    text += " and %d more" % (len(names) - count)
  return text


def flag_text(name, value):
  """`--name=value`, the way messages show a flag."""
  return "--%s=%s" % (name.lstrip("-"), format_value(value))


def _range_text(minimum, maximum, min_exclusive=False, max_exclusive=False):
  """'>= 1', '> 0', 'between 0 and 1', 'in [0, 1)' for a range."""
  if minimum is not None and maximum is not None:
    if not min_exclusive and not max_exclusive:
      return "between %s and %s" % (minimum, maximum)
    return "in %s%s, %s%s" % ("(" if min_exclusive else "[", minimum, maximum,
                              ")" if max_exclusive else "]")
  if minimum is not None:
    return "%s %s" % (">" if min_exclusive else ">=", minimum)
  if maximum is not None:
    return "%s %s" % ("<" if max_exclusive else "<=", maximum)
  return ""


def _is_int(value):
  """True for Python/NumPy integers, False for bools and floats."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
  """True for ints and floats (Python or NumPy), False for bools."""
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _in_range(value, minimum, maximum, min_exclusive, max_exclusive):
  """Whether `value` lies in the range (None = unbounded)."""
  if minimum is not None and (value <= minimum if min_exclusive
                              else value < minimum):
    return False
  if maximum is not None and (value >= maximum if max_exclusive
                              else value > maximum):
    return False
  return True


def int_problem(value, minimum=None, maximum=None):
  """Why `value` is not an integer in [minimum, maximum], or None if it is."""
  wanted = "an integer"
  limits = _range_text(minimum, maximum)
  if limits:
    wanted += " " + limits
  if not _is_int(value):
    return "must be %s, not %s" % (wanted, _type_name(value))
  if not _in_range(value, minimum, maximum, False, False):
    return "must be %s" % limits
  return None


def number_problem(value, minimum=None, maximum=None, min_exclusive=False,
                   max_exclusive=False):
  """Why `value` is not a finite number in the range, or None if it is."""
  limits = _range_text(minimum, maximum, min_exclusive, max_exclusive)
  wanted = "a finite number" + (" " + limits if limits else "")
  if not _is_number(value):
    return "must be %s, not %s" % (wanted, _type_name(value))
  if not math.isfinite(value):
    return "must be %s" % wanted
  if not _in_range(value, minimum, maximum, min_exclusive, max_exclusive):
    return "must be %s" % limits
  return None


def _type_name(value):
  """'a string', 'a float', 'true/false', 'null', ... for messages."""
  if value is None:
    return "null"
  if isinstance(value, bool):
    return "true/false"
  if isinstance(value, str):
    return "a string"
  if isinstance(value, numbers.Integral):
    return "an integer"
  if isinstance(value, numbers.Real):
    return "a float"
  if isinstance(value, (list, tuple)):
    return "a list"
  if isinstance(value, dict):
    return "an object"
  return "a %s" % type(value).__name__


# ------------------------------------------------------------------- flags


def check_int(name, value, minimum=None, maximum=None, note=None,
              allow_none=False):
  """Checks an integer flag.

  Args:
    name: the flag's name (with or without `--`).
    value: its value.
    minimum, maximum: inclusive bounds (None = unbounded).
    note: what the value means, appended in parentheses (e.g. "0 = only at
      the end").
    allow_none: whether an unset (None) value is fine.

  Returns:
    `value`.

  Raises:
    UsageError: `--name=value: must be >= minimum (note)`.
  """
  if value is None:
    if allow_none:
      return value
    raise UsageError("--%s is not set" % name.lstrip("-"))
  problem = int_problem(value, minimum, maximum)
  if problem:
    raise UsageError(_flag_message(name, value, problem, note))
  return value


def check_float(name, value, minimum=None, maximum=None, min_exclusive=False,
                max_exclusive=False, note=None, allow_none=False):
  """Checks a float flag: finite (never NaN or inf) and in the range.

  Args:
    name: the flag's name.
    value: its value.
    minimum, maximum: bounds (None = unbounded).
    min_exclusive, max_exclusive: whether the bounds themselves are excluded.
    note: appended in parentheses.
    allow_none: whether None is fine.

  Returns:
    `value`.

  Raises:
    UsageError: `--learning_rate=nan: must be a finite number >= 0`.
  """
  if value is None:
    if allow_none:
      return value
    raise UsageError("--%s is not set" % name.lstrip("-"))
  problem = number_problem(value, minimum, maximum, min_exclusive,
                           max_exclusive)
  if problem:
    raise UsageError(_flag_message(name, value, problem, note))
  return value


def check_choice(name, value, choices):
  """Checks that a flag's value is one of `choices`.

  Returns:
    `value`.

  Raises:
    UsageError: `--precision=float64: must be one of float32, bfloat16, ...`.
  """
  if value not in choices:
    raise UsageError(_flag_message(
        name, value, "must be one of %s" %
        ", ".join(format_value(c) for c in choices)))
  return value


def _flag_message(name, value, problem, note=None):
  """`--name=value: problem (note)`."""
  text = "%s: %s" % (flag_text(name, value), problem)
  return text + (" (%s)" % note if note else "")


def check_schedule(learning_rate, num_train_steps, num_warmup_steps,
                   names=("learning_rate", "num_train_steps",
                          "num_warmup_steps")):
  """Checks a training schedule before any step runs.

  A NaN or negative rate trains garbage (one step of NaN weights exits 0 in
  Google's code); zero steps make the schedule divide 0 by 0. A warmup longer
  than the run is legal in Google's schedule but the rate then never reaches
  its peak, so it is logged as a warning.

  Args:
    learning_rate: the peak rate.
    num_train_steps: steps of the schedule.
    num_warmup_steps: warmup steps (None or 0: no warmup).
    names: the three flags as the user knows them (a runner that computes the
      steps from epochs names its epoch flag there).

  Raises:
    UsageError: naming the flag and the allowed range.
  """
  lr_name, steps_name, warmup_name = names
  check_float(lr_name, learning_rate, minimum=0)
  check_int(steps_name, num_train_steps, minimum=1)
  check_int(warmup_name, num_warmup_steps, minimum=0, allow_none=True)
  if num_warmup_steps and num_warmup_steps > num_train_steps:
    logging.warning(
        "%s is more than %s: the learning rate rises for the whole run and "
        "peaks at %.3g, not %s.", flag_text(warmup_name, num_warmup_steps),
        flag_text(steps_name, num_train_steps),
        learning_rate * num_train_steps / num_warmup_steps,
        format_value(learning_rate))


# ------------------------------------------------------------------- paths


def is_remote(path):
  """True for `gs://...`-style paths, which cannot be checked locally."""
  return "://" in path


def check_input_file(name, path):
  """An input file: set, existing, a regular file, readable.

  Returns:
    `path`.

  Raises:
    UsageError: `--vocab_file=/x: no such file` (or is a directory, or is not
      readable).
  """
  _check_set(name, path)
  if is_remote(path):
    return path
  if os.path.isdir(path):
    raise UsageError("%s: is a directory, not a file" % flag_text(name, path))
  if not os.path.exists(path):
    raise UsageError("%s: no such file" % flag_text(name, path))
  if not os.access(path, os.R_OK):
    raise UsageError("%s: not readable (permission denied)" %
                     flag_text(name, path))
  return path


def check_input_dir(name, path):
  """An input directory: set, existing, a directory, readable.

  Raises:
    UsageError: naming the flag and what the path is instead.
  """
  _check_set(name, path)
  if is_remote(path):
    return path
  if not os.path.exists(path):
    raise UsageError("%s: no such directory" % flag_text(name, path))
  if not os.path.isdir(path):
    raise UsageError("%s: is a file, not a directory" % flag_text(name, path))
  if not os.access(path, os.R_OK | os.X_OK):
    raise UsageError("%s: not readable (permission denied)" %
                     flag_text(name, path))
  return path


def check_output_dir(name, path):
  """An output directory: a writable directory, or creatable as one.

  Nothing is created: a run refused later must leave no empty directory.

  Raises:
    UsageError: the path is a file, or a parent is a file or not writable.
  """
  _check_set(name, path)
  if is_remote(path):
    return path
  if os.path.exists(path):
    if not os.path.isdir(path):
      raise UsageError("%s: is a file, not a directory" %
                       flag_text(name, path))
    if not os.access(path, os.W_OK | os.X_OK):
      raise UsageError("%s: not writable (permission denied)" %
                       flag_text(name, path))
    return path
  _check_creatable(name, path)
  return path


def check_output_file(name, path):
  """An output file: not a directory, in a directory that is (or can be) made.

  An existing file is fine (it is replaced when the new one is complete).

  Raises:
    UsageError: the path is a directory or not a regular file, or its
      directory cannot hold it.
  """
  _check_set(name, path)
  if is_remote(path):
    return path
  if path.endswith(os.sep) or os.path.isdir(path):
    raise UsageError("%s: is a directory; name a file (e.g. %s)" % (
        flag_text(name, path), os.path.join(path.rstrip(os.sep) or os.sep,
                                            "output")))
  if os.path.exists(path) and not os.path.isfile(path):
    raise UsageError("%s: exists and is not a regular file" %
                     flag_text(name, path))
  directory = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(directory):
    if not os.access(directory, os.W_OK | os.X_OK):
      raise UsageError("%s: the directory %s is not writable" %
                       (flag_text(name, path), directory))
  else:
    _check_creatable(name, path)
  return path


def check_output_files(name, spec):
  """A comma-separated list of output files, each checked, none repeated.

  Google's `--output_file=A,B` deals records round-robin; `A,` (a trailing
  comma) or `A,A` silently wrote half or interleaved files.

  Returns:
    list of paths.

  Raises:
    UsageError: an empty element, a repeated file, or a bad path.
  """
  _check_set(name, spec)
  paths = spec.split(",")
  seen = {}
  for i, path in enumerate(paths):
    if not path.strip():
      raise UsageError("%s: name %d of %d is empty (a stray comma?)" %
                       (flag_text(name, spec), i + 1, len(paths)))
    key = path if is_remote(path) else os.path.realpath(path)
    if key in seen:
      raise UsageError("%s: %s is named twice" % (flag_text(name, spec), path))
    seen[key] = i
    check_output_file(name, path)
  return paths


def check_checkpoint(name, path):
  """A checkpoint to read: a TF1 prefix (`<path>.index` exists) or a directory
  holding a `checkpoint` state file or a TF Hub module's variables.

  Returns:
    `path`.

  Raises:
    UsageError: nothing readable there, with a hint when a file of the
      checkpoint was given instead of its prefix.
  """
  _check_set(name, path)
  if is_remote(path):
    return path
  if os.path.isdir(path):
    if (os.path.exists(os.path.join(path, "checkpoint")) or
        os.path.exists(os.path.join(path, "variables", "variables.index"))):
      return path
    raise UsageError("%s: the directory holds no checkpoint (no 'checkpoint' "
                     "state file, no TF Hub variables/)" %
                     flag_text(name, path))
  if os.path.exists(path + ".index"):
    return path
  for suffix in (".index", ".meta", ".data-"):
    at = path.rfind(suffix)
    if at > 0 and os.path.exists(path[:at] + ".index"):
      raise UsageError("%s: give the checkpoint's prefix, %s (without %s...)"
                       % (flag_text(name, path), path[:at], suffix))
  raise UsageError("%s: no checkpoint there (no file %s.index)" %
                   (flag_text(name, path), path))


# What a SavedModel export holds: a directory holding only these is an
# earlier export that a new export may replace.
SAVED_MODEL_ENTRIES = frozenset([
    "saved_model.pb", "saved_model.pbtxt", "variables", "assets",
    "assets.extra", "fingerprint.pb", "keras_metadata.pb",
    "tfhub_module.pb"])


def check_export_dir(name, path, overwrite=False):
  """A SavedModel output directory: new, empty, or an earlier export.

  An export replaces the whole directory. `export_lib --export_dir=DIR`
  used to delete whatever DIR held (other models, a file); now a directory
  holding anything but a SavedModel is replaced only with `overwrite`.

  Args:
    name: the flag.
    path: the directory.
    overwrite: replace a directory that holds other files (--overwrite).

  Returns:
    `path`.

  Raises:
    UsageError: the path is a file, or a directory holding other files
      (without `overwrite`), or cannot be created.
  """
  check_output_dir(name, path)
  if is_remote(path) or not os.path.isdir(path) or overwrite:
    return path
  others = sorted(n for n in os.listdir(path)
                  if n not in SAVED_MODEL_ENTRIES)
  if others:
    raise UsageError(
        "%s: the directory holds %s, which an export would delete (it is "
        "not an earlier export); name a new or empty directory, or pass "
        "--overwrite to replace it" % (flag_text(name, path),
                                       list_text(others)))
  return path


def check_input_files(name, spec):
  """A comma-separated list of globs, each matching at least one file.

  Returns:
    `spec`.

  Raises:
    UsageError: a pattern matches nothing, or only directories.
  """
  _check_set(name, spec)
  patterns = [p.strip() for p in spec.split(",") if p.strip()]
  if not patterns:
    raise UsageError("%s names no file" % flag_text(name, spec))
  for pattern in patterns:
    if is_remote(pattern):
      continue
    matches = glob.glob(pattern)
    if not matches:
      raise UsageError("%s: %smatches no file" % (
          flag_text(name, spec), "" if pattern == spec else pattern + " "))
    files = [m for m in matches if not os.path.isdir(m)]
    if not files:
      raise UsageError("%s: %s is a directory; name the files (e.g. %s)" % (
          flag_text(name, spec), matches[0], os.path.join(matches[0], "*")))
    for path in files:
      if not os.access(path, os.R_OK):
        raise UsageError("%s: %s is not readable (permission denied)" %
                         (flag_text(name, spec), path))
  return spec


def _check_set(name, path):
  """Raises UsageError when a path flag is unset or empty."""
  if path is None or not str(path).strip():
    raise UsageError("--%s is not set (a path is needed)" % name.lstrip("-"))


def _check_creatable(name, path):
  """Raises UsageError when `path`'s nearest existing ancestor cannot hold it.

  Args:
    name: the flag.
    path: a path that does not exist yet (a directory, or a file whose
      directory may not exist yet).
  """
  ancestor = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(ancestor):
    ancestor = os.path.dirname(ancestor)
  if not os.path.isdir(ancestor):
    raise UsageError("%s: cannot be created: %s is a file" %
                     (flag_text(name, path), ancestor))
  if not os.access(ancestor, os.W_OK | os.X_OK):
    raise UsageError("%s: cannot be created: %s is not writable" %
                     (flag_text(name, path), ancestor))


# ----------------------------------------------------------------- configs

ConfigField = collections.namedtuple(
    "ConfigField", ["name", "kind", "minimum", "maximum", "choices",
                    "required", "default"])
ConfigField.__doc__ = """One field of a model config file.

  name: the JSON key.
  kind: "int" (>= minimum), "probability" ([0, 1)), "positive" (a finite
    number > 0) or "choice" (a string in `choices`, case-insensitive, or a
    Python function for configs built in code).
  minimum, maximum: bounds of an "int" field (None = unbounded).
  choices: allowed strings of a "choice" field.
  required: an absent field is an error; else it falls back to `default`
    with a warning naming it.
  default: the value used when absent (shown in the warning).
"""


def int_field(name, minimum=1, required=True, default=None, maximum=None):
  """A ConfigField holding a count or size (an integer >= minimum)."""
  return ConfigField(name, "int", minimum, maximum, None, required, default)


def probability_field(name, default):
  """A ConfigField holding a dropout probability in [0, 1)."""
  return ConfigField(name, "probability", None, None, None, False, default)


def positive_field(name, default):
  """A ConfigField holding a finite number > 0 (e.g. initializer_range)."""
  return ConfigField(name, "positive", None, None, None, False, default)


def choice_field(name, choices, default):
  """A ConfigField holding one of `choices` (e.g. hidden_act)."""
  return ConfigField(name, "choice", None, None, tuple(choices), False,
                     default)


def field_problem(field, value):
  """Why `value` does not fit `field`, or None.

  Args:
    field: ConfigField.
    value: the value read from the config.

  Returns:
    A phrase such as 'must be an integer >= 1, not a string', or None.
  """
  if field.kind == "int":
    return int_problem(value, field.minimum, field.maximum)
  if field.kind == "probability":
    return number_problem(value, 0, 1, max_exclusive=True)
  if field.kind == "positive":
    return number_problem(value, 0, min_exclusive=True)
  if field.kind == "choice":
    if callable(value):
      return None
    if isinstance(value, str) and value.lower() in field.choices:
      return None
    return "must be one of %s" % ", ".join(json.dumps(c)
                                           for c in field.choices)
  raise ValueError("Unknown ConfigField kind %r" % field.kind)


def check_config(values, fields, source, check_presence=True):
  """Checks a config's values against a field table.

  Args:
    values: dict field name -> value (a parsed JSON file, or a config object's
      `__dict__`).
    fields: sequence of ConfigField (e.g. `modeling.BERT_CONFIG_FIELDS`;
      ALBERT's table extends it).
    source: what to name in messages, e.g. "BERT config file /m/c.json".
    check_presence: refuse absent required fields and report defaulted ones
      (for files; a config object always has every attribute).

  Returns:
    list of the names of optional fields that are absent (the caller warns
    that they fall back to their defaults; see `warn_defaulted`).

  Raises:
    UsageError: one line naming `source`, every bad field with its value and
      what it must be, or the absent required fields (with a close key the
      file does have, when there is one: a misspelling).
  """
  missing, defaulted, problems = [], [], []
  for field in fields:
    if field.name not in values:
      (missing if field.required else defaulted).append(field.name)
      continue
    problem = field_problem(field, values[field.name])
    if problem:
      problems.append("%s: %s %s" % (json.dumps(field.name),
                                     _json_text(values[field.name]), problem))
  if problems:
    raise UsageError("%s: %s" % (source, "; ".join(problems)))
  if check_presence and missing:
    raise UsageError("%s: %s" % (source, _missing_text(missing, values,
                                                       fields)))
  return defaulted if check_presence else []


def _json_text(value):
  """A config value as it appears in JSON (repr for what JSON cannot show)."""
  try:
    return json.dumps(value)
  except (TypeError, ValueError):
    return repr(value)


def _missing_text(missing, values, fields):
  """'missing "hidden_size" (no default is assumed); it has: ...'."""
  known = set(f.name for f in fields)
  unknown = [k for k in values if k not in known]
  hints = []
  for name in missing:
    close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.75)
    if close:
      hints.append('"%s" for "%s"?' % (close[0], name))
  text = "missing %s (no default is assumed for the model's sizes)" % (
      ", ".join(json.dumps(n) for n in missing))
  if hints:
    text += "; a misspelling, %s" % " ".join(hints)
  return text + "; the file has %s" % (
      ", ".join(json.dumps(k) for k in sorted(values)) or "no fields")


# (source, fields) already warned about: a script reads its config twice (the
# checks before main, then main), and one warning is enough.
_WARNED_DEFAULTS = set()


def warn_defaulted(source, defaulted, fields):
  """Logs one prominent warning naming each field that fell back to a default.

  Once per process for the same source and fields.

  Args:
    source: as in `check_config`.
    defaulted: names returned by `check_config`.
    fields: the field table (for the defaults).
  """
  key = (str(source), tuple(defaulted))
  if not defaulted or key in _WARNED_DEFAULTS:
    return
  _WARNED_DEFAULTS.add(key)
  defaults = dict((f.name, f.default) for f in fields)
  logging.warning(
      "%s does not set %s; using the default%s %s. Add %s to the file if the "
      "model was trained otherwise.", source,
      ", ".join(json.dumps(n) for n in defaulted),
      "s" if len(defaulted) > 1 else "",
      ", ".join("%s=%s" % (n, json.dumps(defaults[n])) for n in defaulted),
      "them" if len(defaulted) > 1 else "it")


# -------------------------------------------------------- flags by name
#
# Every script's flags are checked by name before its main runs (`run_main`):
# a flag called `train_batch_size` must be an integer >= 1 whichever script
# defines it, so scripts written later get the checks without code. A
# script's own flags with other names are checked in its main (or get a rule
# with `add_flag_rule`).


class FlagRule(object):
  """The check of one flag: `check(name, value, **kwargs)` on its value.

  With `needs_flags`, the check also gets the parsed flags (as its third
  argument), for rules that depend on another flag. With `empty_is_unset`,
  an empty value means "none" (Google's `if FLAGS.init_checkpoint:`) and is
  not checked.
  """

  def __init__(self, check, needs_flags=False, empty_is_unset=False,
               **kwargs):
    """Args: check: the check function; needs_flags, empty_is_unset: see
    above; **kwargs: more arguments of `check` (e.g. minimum=1)."""
    self.check = check
    self.needs_flags = needs_flags
    self.empty_is_unset = empty_is_unset
    self.kwargs = kwargs

  def __call__(self, name, value, flag_values):
    """Checks `value` of flag `name` (raises UsageError)."""
    if self.needs_flags:
      return self.check(name, value, flag_values, **self.kwargs)
    return self.check(name, value, **self.kwargs)


def _int_rule(minimum=None, maximum=None, note=None):
  """A FlagRule for an integer flag."""
  return FlagRule(check_int, minimum=minimum, maximum=maximum, note=note,
                  allow_none=True)


def _optional(check, **kwargs):
  """A FlagRule for an optional path flag (empty = none)."""
  return FlagRule(check, empty_is_unset=True, **kwargs)


def _float_rule(minimum=None, maximum=None, min_exclusive=False,
                max_exclusive=False, note=None):
  """A FlagRule for a float flag (never NaN or inf)."""
  return FlagRule(check_float, minimum=minimum, maximum=maximum,
                  min_exclusive=min_exclusive, max_exclusive=max_exclusive,
                  note=note, allow_none=True)


def check_data_file(name, value, flag_values):
  """An input file named by a path, or by a name in --data_dir when the
  script has that flag (run_classifier's --train_file is a name in
  --data_dir, run_squad's a path)."""
  data_dir = (flag_values[_DATA_DIR].value if _DATA_DIR in flag_values
              else None)
  path = os.path.join(data_dir, value) if data_dir else value
  if path != value and not os.path.exists(path) and not is_remote(path):
    raise UsageError("%s: no such file in --data_dir=%s (%s)" %
                     (flag_text(name, value), data_dir, path))
  check_input_file(name, path)


def check_export_flag(name, value, flag_values):
  """`check_export_dir` with the script's --overwrite flag, if it has one."""
  overwrite = ("overwrite" in flag_values and
               bool(flag_values["overwrite"].value))
  check_export_dir(name, value, overwrite)


_DATA_DIR = "data_dir"
_AT_LEAST_1 = _int_rule(minimum=1)
_AT_LEAST_0 = _int_rule(minimum=0)
_PROBABILITY = _float_rule(minimum=0, maximum=1)
_OPEN_PROBABILITY = _float_rule(minimum=0, maximum=1, min_exclusive=True,
                                max_exclusive=True)

FLAG_RULES = collections.OrderedDict([
    # Sizes and counts.
    ("train_batch_size", _AT_LEAST_1),
    ("eval_batch_size", _AT_LEAST_1),
    ("predict_batch_size", _AT_LEAST_1),
    ("batch_size", _AT_LEAST_1),
    ("max_seq_length", _int_rule(
        minimum=3, note="[CLS] A [SEP] B [SEP] needs at least 3 positions")),
    ("max_predictions_per_seq", _AT_LEAST_1),
    ("doc_stride", _AT_LEAST_1),
    ("max_query_length", _AT_LEAST_1),
    ("n_best_size", _AT_LEAST_1),
    ("max_answer_length", _AT_LEAST_1),
    ("dupe_factor", _AT_LEAST_1),
    ("ngram", _AT_LEAST_1),
    ("eval_documents", _AT_LEAST_1),
    ("vocab_size", _AT_LEAST_1),
    ("num_unused", _AT_LEAST_0),
    ("min_frequency", _AT_LEAST_1),
    ("num_workers", _int_rule(minimum=0)),
    ("num_threads", _AT_LEAST_1),
    ("input_sentence_size", _int_rule(minimum=0, note="0 = every line")),
    ("log_every_n_examples", _AT_LEAST_1),
    # The schedule and the loop.
    ("learning_rate", _float_rule(minimum=0)),
    ("num_train_epochs", _float_rule(minimum=0, min_exclusive=True)),
    ("warmup_proportion", _PROBABILITY),
    ("num_train_steps", _int_rule(minimum=0)),
    ("num_warmup_steps", _AT_LEAST_0),
    ("max_eval_steps", _AT_LEAST_1),
    ("save_checkpoints_steps", _int_rule(minimum=0,
                                         note="0 = only at the end")),
    ("iterations_per_loop", _AT_LEAST_1),
    ("keep_checkpoint_max", _int_rule(minimum=0, note="0 keeps all")),
    ("gradient_accumulation_steps", _AT_LEAST_1),
    ("seed", _int_rule(minimum=0, maximum=2**32 - 1)),
    ("log_every_n_steps", _AT_LEAST_1),
    ("num_tpu_cores", _AT_LEAST_1),
    ("eval_every_steps", _int_rule(minimum=0, note="0 = only at the end")),
    # Probabilities and thresholds.
    ("masked_lm_prob", _OPEN_PROBABILITY),
    ("short_seq_prob", _PROBABILITY),
    ("eval_fraction", _OPEN_PROBABILITY),
    ("holdout_fraction", _float_rule(minimum=0, maximum=1,
                                     max_exclusive=True)),
    ("character_coverage", _float_rule(minimum=0, maximum=1,
                                       min_exclusive=True)),
    ("multi_label_threshold", _PROBABILITY),
    ("null_score_diff_threshold", _float_rule()),
    # Inputs.
    ("bert_config_file", FlagRule(check_input_file)),
    ("albert_config_file", _optional(check_input_file)),
    ("vocab_file", _optional(check_input_file)),
    ("spm_model_file", _optional(check_input_file)),
    ("init_checkpoint", _optional(check_checkpoint)),
    ("data_dir", FlagRule(check_input_dir)),
    ("label_file", _optional(check_input_file)),
    ("fill_unused_from", _optional(check_input_file)),
    ("extend_from", _optional(check_input_file)),
    ("input_file", FlagRule(check_input_files)),
    ("train_file", _optional(check_data_file, needs_flags=True)),
    ("dev_file", _optional(check_data_file, needs_flags=True)),
    ("test_file", _optional(check_data_file, needs_flags=True)),
    ("predict_file", _optional(check_data_file, needs_flags=True)),
    # Outputs.
    ("output_dir", FlagRule(check_output_dir)),
    ("output_file", FlagRule(check_output_files)),
    ("eval_output_file", _optional(check_output_files)),
    ("model_prefix", FlagRule(check_output_file)),
    ("stats_file", _optional(check_output_file)),
    ("export_dir", _optional(check_export_flag, needs_flags=True)),
    ("preprocessor_dir", _optional(check_export_flag, needs_flags=True)),
])


def add_flag_rule(name, rule):
  """Adds (or replaces) the rule of flag `name` (a FlagRule)."""
  FLAG_RULES[name] = rule


def check_flag_values(flag_values, rules=None):
  """Checks every flag that has a rule and a value (None = unset: skipped).

  Args:
    flag_values: absl FLAGS (parsed).
    rules: dict name -> FlagRule (default FLAG_RULES).

  Raises:
    UsageError: the first flag whose value is refused, named with its value
      and what is allowed.
  """
  rules = FLAG_RULES if rules is None else rules
  for name, rule in rules.items():
    if name not in flag_values:
      continue
    value = flag_values[name].value
    if value is None or (value == "" and rule.empty_is_unset):
      continue
    rule(name, value, flag_values)


# ------------------------------------------------------------- script main


def handle_signals():
  """Makes SIGTERM stop the run like Ctrl-C; a second signal stops at once.

  The first SIGINT or SIGTERM raises `Interrupted` in the main thread the
  next time it runs Python (for a training loop: when the current compiled
  loop of --iterations_per_loop steps returns), so `finally` blocks release
  locks and remove temporary files. A second signal gets the default action
  (the process ends immediately; the next run cleans up). Call from the main
  thread (`run_main` does).
  """
  def handler(signum, frame):
    """The first signal: later ones kill; this one raises Interrupted."""
    del frame  # unused
    for sig in (signal.SIGINT, signal.SIGTERM):
      signal.signal(sig, _kill_self)
    raise Interrupted(signum)

  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, handler)


def _kill_self(signum, frame):
  """The second signal: end the process with the signal's default action."""
  del frame  # unused
  signal.signal(signum, signal.SIG_DFL)
  os.kill(os.getpid(), signum)


def one_line(error):
  """An exception's message on one line (newlines become ' | ')."""
  text = str(error).strip() or type(error).__name__
  return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def user_errors(main, program=None):
  """Wraps an absl `main(argv)`: user errors become one line and a status.

  Args:
    main: the script's main function.
    program: the name to print (default: the script's file name).

  Returns:
    main'(argv): on `UsageError` (or an OSError naming a file: permission
    denied, disk full, ...) prints `<program>: error: <message>` to stderr
    and exits with status 2; on Ctrl-C / SIGTERM prints `<program>:
    interrupted (SIGTERM)` and exits 128 + the signal number; any other
    exception propagates with its traceback.
  """
  program = program or os.path.basename(sys.argv[0] or "main")

  @functools.wraps(main)
  def wrapped(argv):
    """main(argv) with user errors and interruptions turned into a status."""
    try:
      return main(argv)
    except UsageError as e:
      _exit_with_error(program, one_line(e))
    except OSError as e:
      if not e.filename:
        raise  # a write that does not name its file: a bug to fix there
      _exit_with_error(program, "%s: %s" % (e.filename, e.strerror or e))
    except KeyboardInterrupt as e:
      signum = getattr(e, "signum", signal.SIGINT)
      sys.stderr.write("%s: interrupted (%s)\n" %
                       (program, signal.Signals(signum).name))
      sys.stderr.flush()
      sys.exit(EXIT_SIGNAL_BASE + signum)

  return wrapped


def _exit_with_error(program, message):
  """Prints `<program>: error: <message>` and exits with EXIT_USAGE."""
  sys.stderr.write("%s: error: %s\n" % (program, message))
  sys.stderr.flush()
  sys.exit(EXIT_USAGE)


_REQUIRED_RE = re.compile(
    r"^flag --(\w+)=None: Flag --\w+ must have a value other than None\.?$")


def flag_error_text(error):
  """absl's flag parsing error as one line in this module's style.

  Args:
    error: absl.flags.Error.

  Returns:
    e.g. '--output_dir is not set (a required flag)' or
    '--train_batch_size=abc: invalid literal for int() ...'.
  """
  text = one_line(error)
  m = _REQUIRED_RE.match(text)
  if m:
    return "--%s is not set (a required flag)" % m.group(1)
  return text[len("flag "):] if text.startswith("flag --") else text


def parse_flags(argv):
  """absl's flag parsing for `app.run`, with `run_main`'s error format.

  A bad or missing flag prints `<program>: error: <one line>` and exits 2
  (absl prints "FATAL Flags parsing error" and exits 1).

  Args:
    argv: the command line (program name first).

  Returns:
    the arguments left after the flags.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    _exit_with_error(os.path.basename(argv[0] or "main"), flag_error_text(e))


def script_main(main, checks=(), program=None):
  """A script's main with everything `run_main` adds but the signals.

  Before `main`: every flag is checked by name (`check_flag_values`), then
  each of `checks(FLAGS)` (the driver's checks of the config and the init
  checkpoint), then the outputs named by the flags are locked for the whole
  run (`locks.lock_flag_outputs`). User errors become one line and status 2
  (`user_errors`). Tests run scripts through this in process.

  Args:
    main: the script's main(argv).
    checks: callables(flag_values) raising UsageError.
    program: the name in messages (default: the script's file name).

  Returns:
    main'(argv).
  """
  @functools.wraps(main)
  def checked(argv):
    """main(argv) after the checks, holding the output locks."""
    from absl import flags  # pylint: disable=g-import-not-at-top
    import locks  # pylint: disable=g-import-not-at-top
    check_flag_values(flags.FLAGS)
    for check in checks:
      check(flags.FLAGS)
    with locks.lock_flag_outputs(flags.FLAGS):
      return main(argv)

  return user_errors(checked, program)


def run_main(main, argv=None, checks=()):
  """What a script's `if __name__ == "__main__":` calls instead of app.run.

  absl's `app.run(main)` with SIGTERM handled like Ctrl-C, flag errors and
  user errors printed as one line with status 2, the flags checked and the
  outputs locked before `main` runs (see `script_main`).

  Args:
    main: the script's main(argv).
    argv: command line (default sys.argv).
    checks: more checks of the parsed flags (see `script_main`).
  """
  from absl import app  # pylint: disable=g-import-not-at-top
  handle_signals()
  app.run(script_main(main, checks), argv=argv, flags_parser=parse_flags)
