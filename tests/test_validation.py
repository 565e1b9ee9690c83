# coding=utf-8
"""Tests of validation.py: flag, path and schedule checks, one-line errors.

Each bad value is refused with one line naming the flag, its value and what
is allowed; scripts print only that line and exit with status 2 (checked on
a real process in test_script_prints_one_line_and_exits_2).
"""

import os
import subprocess
import sys
import textwrap

import pytest

import validation

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@pytest.mark.parametrize("name,value,kwargs,message", [
    ("save_checkpoints_steps", -2, dict(minimum=0, note="0 = only at the end"),
     "--save_checkpoints_steps=-2: must be >= 0 (0 = only at the end)"),
    ("keep_checkpoint_max", -1, dict(minimum=0, note="0 keeps all"),
     "--keep_checkpoint_max=-1: must be >= 0 (0 keeps all)"),
    ("train_batch_size", 0, dict(minimum=1),
     "--train_batch_size=0: must be >= 1"),
    ("iterations_per_loop", 2.5, dict(minimum=1),
     "--iterations_per_loop=2.5: must be an integer >= 1, not a float"),
    ("max_seq_length", True, dict(minimum=5),
     "--max_seq_length=true: must be an integer >= 5, not true/false"),
    ("num_tpu_cores", 9, dict(minimum=1, maximum=8),
     "--num_tpu_cores=9: must be between 1 and 8"),
    ("train_batch_size", None, dict(minimum=1),
     "--train_batch_size is not set"),
])
def test_check_int_refuses(name, value, kwargs, message):
  with pytest.raises(validation.UsageError) as info:
    validation.check_int(name, value, **kwargs)
  assert str(info.value) == message


def test_check_int_accepts():
  assert validation.check_int("x", 0, minimum=0) == 0
  assert validation.check_int("x", None, minimum=1, allow_none=True) is None
  assert validation.check_int("x", 10 ** 12, minimum=1) == 10 ** 12


@pytest.mark.parametrize("value,kwargs,message", [
    (float("nan"), dict(minimum=0),
     "--learning_rate=nan: must be a finite number >= 0"),
    (float("inf"), dict(minimum=0),
     "--learning_rate=inf: must be a finite number >= 0"),
    (-1e-5, dict(minimum=0), "--learning_rate=-1e-05: must be >= 0"),
    (1.5, dict(minimum=0, maximum=1),
     "--learning_rate=1.5: must be between 0 and 1"),
    (0.0, dict(minimum=0, maximum=1, min_exclusive=True, max_exclusive=True),
     "--learning_rate=0.0: must be in (0, 1)"),
    ("1e-4", dict(minimum=0),
     "--learning_rate=1e-4: must be a finite number >= 0, not a string"),
])
def test_check_float_refuses(value, kwargs, message):
  with pytest.raises(validation.UsageError) as info:
    validation.check_float("learning_rate", value, **kwargs)
  assert str(info.value) == message


def test_check_choice():
  assert validation.check_choice("precision", "bfloat16",
                                 ["float32", "bfloat16"]) == "bfloat16"
  with pytest.raises(validation.UsageError) as info:
    validation.check_choice("precision", "float64", ["float32", "bfloat16"])
  assert str(info.value) == (
      "--precision=float64: must be one of float32, bfloat16")


@pytest.mark.parametrize("args,message", [
    ((float("nan"), 10, 1), "--learning_rate=nan: must be a finite number"),
    ((-2e-5, 10, 1), "--learning_rate=-2e-05: must be >= 0"),
    ((2e-5, 0, 0), "--num_train_steps=0: must be >= 1"),
    ((2e-5, 10, -1), "--num_warmup_steps=-1: must be >= 0"),
])
def test_check_schedule_refuses(args, message):
  with pytest.raises(validation.UsageError, match=message.replace(
      "(", r"\(").replace(")", r"\)")):
    validation.check_schedule(*args)


def test_check_schedule_warns_about_a_warmup_longer_than_the_run(caplog):
  with caplog.at_level("WARNING"):
    validation.check_schedule(1e-4, 1000, 10000)
  assert ("--num_warmup_steps=10000 is more than --num_train_steps=1000"
          in caplog.text)
  assert "peaks at 1e-05" in caplog.text


def test_input_paths(tmp_path):
  f = tmp_path / "vocab.txt"
  f.write_text("x\n")
  assert validation.check_input_file("vocab_file", str(f)) == str(f)
  assert validation.check_input_dir("data_dir", str(tmp_path))
  cases = [
      (validation.check_input_file, str(tmp_path / "nope.txt"),
       "--vocab_file=%s: no such file" % (tmp_path / "nope.txt")),
      (validation.check_input_file, str(tmp_path),
       "--vocab_file=%s: is a directory, not a file" % tmp_path),
      (validation.check_input_dir, str(f),
       "--vocab_file=%s: is a file, not a directory" % f),
      (validation.check_input_dir, str(tmp_path / "d"),
       "--vocab_file=%s: no such directory" % (tmp_path / "d")),
      (validation.check_input_file, "", "--vocab_file is not set"),
  ]
  for check, path, message in cases:
    with pytest.raises(validation.UsageError) as info:
      check("vocab_file", path)
    assert str(info.value).startswith(message), str(info.value)


def test_output_paths(tmp_path):
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  # Fine: a new directory (nothing is created), an existing file (replaced).
  assert validation.check_output_dir("output_dir", str(tmp_path / "n" / "m"))
  assert not os.path.exists(tmp_path / "n")
  assert validation.check_output_file("output_file", str(a_file))
  assert validation.check_output_file("output_file",
                                      str(tmp_path / "new" / "f.jsonl"))
  cases = [
      (validation.check_output_dir, str(a_file),
       "--output_dir=%s: is a file, not a directory" % a_file),
      (validation.check_output_dir, str(a_file / "sub"),
       "--output_dir=%s: cannot be created: %s is a file" % (
           a_file / "sub", a_file)),
      (validation.check_output_file, str(tmp_path),
       "--output_dir=%s: is a directory; name a file" % tmp_path),
      (validation.check_output_file, str(tmp_path) + "/",
       "--output_dir=%s/: is a directory; name a file" % tmp_path),
      (validation.check_output_file, "/dev/null",
       "--output_dir=/dev/null: exists and is not a regular file"),
  ]
  for check, path, message in cases:
    with pytest.raises(validation.UsageError) as info:
      check("output_dir", path)
    assert str(info.value).startswith(message), str(info.value)


def test_unwritable_output_directory(tmp_path, monkeypatch):
  # The tests run as root, for whom every directory is writable: pretend.
  real_access = os.access
  monkeypatch.setattr(os, "access", lambda p, mode: (
      False if p == str(tmp_path) and mode & os.W_OK else real_access(p,
                                                                      mode)))
  with pytest.raises(validation.UsageError) as info:
    validation.check_output_file("output_file", str(tmp_path / "f"))
  assert str(info.value) == ("--output_file=%s: the directory %s is not "
                             "writable" % (tmp_path / "f", tmp_path))
  with pytest.raises(validation.UsageError) as info:
    validation.check_output_dir("output_dir", str(tmp_path / "new"))
  assert str(info.value) == ("--output_dir=%s: cannot be created: %s is not "
                             "writable" % (tmp_path / "new", tmp_path))


def test_output_file_lists(tmp_path):
  a, b = str(tmp_path / "a"), str(tmp_path / "b")
  assert validation.check_output_files("output_file", a + "," + b) == [a, b]
  with pytest.raises(validation.UsageError) as info:
    validation.check_output_files("output_file", a + ",")
  assert str(info.value) == ("--output_file=%s,: name 2 of 2 is empty (a "
                             "stray comma?)" % a)
  with pytest.raises(validation.UsageError) as info:
    validation.check_output_files("output_file", "%s,%s/./a" % (a, tmp_path))
  assert str(info.value) == "--output_file=%s,%s/./a: %s/./a is named twice" % (
      a, tmp_path, tmp_path)
  with pytest.raises(validation.UsageError, match="is not set"):
    validation.check_output_files("output_file", "")


def test_checkpoint_paths(tmp_path):
  prefix = tmp_path / "model.ckpt-5"
  (tmp_path / "model.ckpt-5.index").write_text("")
  (tmp_path / "model.ckpt-5.data-00000-of-00001").write_text("")
  assert validation.check_checkpoint("init_checkpoint", str(prefix))
  run_dir = tmp_path / "run"
  run_dir.mkdir()
  (run_dir / "checkpoint").write_text("")
  assert validation.check_checkpoint("init_checkpoint", str(run_dir))
  (tmp_path / "empty_dir").mkdir()
  cases = [
      (str(tmp_path / "nope"), "no checkpoint there (no file %s.index)" %
       (tmp_path / "nope")),
      (str(prefix) + ".data-00000-of-00001", "give the checkpoint's prefix, "
       "%s (without .data-...)" % prefix),
      (str(tmp_path / "empty_dir"), "the directory holds no checkpoint (no "
       "'checkpoint' state file, no TF Hub variables/)"),
  ]
  for path, why in cases:
    with pytest.raises(validation.UsageError) as info:
      validation.check_checkpoint("init_checkpoint", path)
    assert str(info.value) == "--init_checkpoint=%s: %s" % (path, why)


def test_export_directories(tmp_path):
  earlier = tmp_path / "earlier"
  (earlier / "variables").mkdir(parents=True)
  (earlier / "saved_model.pb").write_text("")
  assert validation.check_export_dir("export_dir", str(earlier))
  assert validation.check_export_dir("export_dir", str(tmp_path / "new"))
  occupied = tmp_path / "occupied"
  occupied.mkdir()
  for name in ("saved_model.pb", "notes.txt", "model.ckpt-1.index"):
    (occupied / name).write_text("")
  with pytest.raises(validation.UsageError) as info:
    validation.check_export_dir("export_dir", str(occupied))
  assert str(info.value) == (
      "--export_dir=%s: the directory holds model.ckpt-1.index, notes.txt, "
      "which an export would delete (it is not an earlier export); name a "
      "new or empty directory, or pass --overwrite to replace it" % occupied)
  assert validation.check_export_dir("export_dir", str(occupied),
                                     overwrite=True)


def test_input_file_globs(tmp_path):
  (tmp_path / "a-1.txt").write_text("x")
  (tmp_path / "sub").mkdir()
  spec = "%s,%s" % (tmp_path / "a-*.txt", tmp_path / "b-*.txt")
  with pytest.raises(validation.UsageError) as info:
    validation.check_input_files("input_file", spec)
  assert str(info.value) == "--input_file=%s: %s matches no file" % (
      spec, tmp_path / "b-*.txt")
  with pytest.raises(validation.UsageError) as info:
    validation.check_input_files("input_file", str(tmp_path / "sub"))
  assert str(info.value) == (
      "--input_file=%s: %s is a directory; name the files (e.g. %s)" % (
          tmp_path / "sub", tmp_path / "sub", tmp_path / "sub" / "*"))
  # A trailing comma is skipped, as in Google's scripts.
  assert validation.check_input_files("input_file",
                                      str(tmp_path / "a-*.txt") + ",")


def parsed_flags(**values):
  """A FlagValues with the given flags defined and parsed."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flag_values = flags.FlagValues()
  for name, value in values.items():
    if isinstance(value, bool):
      flags.DEFINE_bool(name, value, "", flag_values=flag_values)
    elif isinstance(value, int):
      flags.DEFINE_integer(name, value, "", flag_values=flag_values)
    elif isinstance(value, float):
      flags.DEFINE_float(name, value, "", flag_values=flag_values)
    else:
      flags.DEFINE_string(name, value, "", flag_values=flag_values)
  flag_values(["prog"])
  return flag_values


def test_flags_are_checked_by_name_whichever_script_defines_them(tmp_path):
  (tmp_path / "train.tsv").write_text("a\tb\n")
  good = parsed_flags(train_batch_size=32, learning_rate=5e-5,
                      init_checkpoint="", data_dir=str(tmp_path),
                      train_file="train.tsv", unknown_to_the_rules=-5,
                      export_dir=None)
  validation.check_flag_values(good)  # "" = no init checkpoint, as Google's
  cases = [
      (dict(train_batch_size=0), "--train_batch_size=0: must be >= 1"),
      (dict(learning_rate=float("nan")),
       "--learning_rate=nan: must be a finite number >= 0"),
      (dict(warmup_proportion=1.5),
       "--warmup_proportion=1.5: must be between 0 and 1"),
      (dict(masked_lm_prob=1.0),
       "--masked_lm_prob=1.0: must be in (0, 1)"),
      (dict(output_dir=""), "--output_dir is not set (a path is needed)"),
      (dict(data_dir=str(tmp_path), train_file="nope.tsv"),
       "--train_file=nope.tsv: no such file in --data_dir=%s (%s)" % (
           tmp_path, tmp_path / "nope.tsv")),
      (dict(predict_file=str(tmp_path / "dev.json")),
       "--predict_file=%s: no such file" % (tmp_path / "dev.json")),
  ]
  for values, message in cases:
    with pytest.raises(validation.UsageError) as info:
      validation.check_flag_values(parsed_flags(**values))
    assert str(info.value) == message


def test_export_flag_rule_reads_the_overwrite_flag(tmp_path):
  (tmp_path / "notes.txt").write_text("")
  with pytest.raises(validation.UsageError, match="--overwrite"):
    validation.check_flag_values(parsed_flags(export_dir=str(tmp_path)))
  validation.check_flag_values(parsed_flags(export_dir=str(tmp_path),
                                            overwrite=True))


def test_usage_error_is_a_value_error():
  # Code that catches ValueError (Google's callers, our tests) keeps working.
  assert issubclass(validation.UsageError, ValueError)
  assert issubclass(validation.DataError, validation.UsageError)
  assert issubclass(validation.DivergenceError, FloatingPointError)
  assert validation.list_text(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"


def run_script(tmp_path, body, args=()):
  """Runs a small absl script whose main is run through validation.run_main."""
  script = tmp_path / "tool.py"
  script.write_text(textwrap.dedent("""\
      import sys
      sys.path.insert(0, %r)
      import validation

      def main(argv):
      %s

      if __name__ == "__main__":
        validation.run_main(main)
      """) % (ROOT, textwrap.indent(textwrap.dedent(body), "  ")))
  return subprocess.run([sys.executable, str(script)] + list(args),
                        capture_output=True, text=True, timeout=60)


def test_script_prints_one_line_and_exits_2(tmp_path):
  proc = run_script(tmp_path, """\
      validation.check_int("save_checkpoints_steps", -2, minimum=0,
                           note="0 = only at the end")
      """)
  assert proc.returncode == validation.EXIT_USAGE == 2
  assert proc.stderr == ("tool.py: error: --save_checkpoints_steps=-2: must "
                         "be >= 0 (0 = only at the end)\n")
  assert "Traceback" not in proc.stderr


def test_script_internal_error_keeps_its_traceback(tmp_path):
  proc = run_script(tmp_path, """\
      {}["missing"]
      """)
  assert proc.returncode == 1
  assert "Traceback" in proc.stderr
  assert proc.stderr.strip().splitlines()[-1] == "KeyError: 'missing'"


def test_script_multi_line_message_is_printed_on_one_line(tmp_path):
  proc = run_script(tmp_path, """\
      raise validation.DataError("train.tsv:3: 1 column\\n  (expected 2)")
      """)
  assert proc.returncode == 2
  assert proc.stderr == ("tool.py: error: train.tsv:3: 1 column | (expected "
                         "2)\n")


def test_flag_parsing_errors_are_one_line_with_status_2(tmp_path):
  """A required flag left out, a typo and a value absl cannot parse."""
  script = tmp_path / "tool.py"
  script.write_text(textwrap.dedent("""\
      import sys
      sys.path.insert(0, %r)
      from absl import flags
      import validation
      flags.DEFINE_string("output_dir", None, "")
      flags.DEFINE_integer("train_batch_size", 32, "")
      flags.mark_flag_as_required("output_dir")

      def main(argv):
        print("ran")

      if __name__ == "__main__":
        validation.run_main(main)
      """) % ROOT)
  cases = [
      ([], "tool.py: error: --output_dir is not set (a required flag)"),
      (["--output_dir=o", "--train_batch_sise=2"],
       "tool.py: error: Unknown command line flag 'train_batch_sise'. Did you "
       "mean: train_batch_size ?"),
      (["--output_dir=o", "--train_batch_size=two"],
       "tool.py: error: --train_batch_size=two: invalid literal for int() "
       "with base 10: 'two'"),
      (["--output_dir=o", "--train_batch_size=0"],
       "tool.py: error: --train_batch_size=0: must be >= 1"),
  ]
  for args, line in cases:
    proc = subprocess.run([sys.executable, str(script)] + args, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == line + "\n"
    assert not os.path.exists(tmp_path / "o")
