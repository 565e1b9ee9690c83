#!/usr/bin/env python3
"""Sets up the project's own environment and runs the main job or the tests.

Usage (the README's two commands):

  python3 bootstrap.py demo [demo flags...]   # the bundled end-to-end run
  python3 bootstrap.py test [pytest args...]  # the whole test suite

Needs only Python 3.11+. The first call creates a virtual environment in
.venv/ next to this file and installs requirements.txt (and, for `test`,
requirements-test.txt) into it; later calls reuse it and reinstall only when a
requirements file changed.
"""

import hashlib
import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV_DIR = os.path.join(ROOT, ".venv")
MIN_PYTHON = (3, 11)


def venv_python():
  """Path of the interpreter inside the project's virtual environment."""
  if os.name == "nt":
    return os.path.join(VENV_DIR, "Scripts", "python.exe")
  return os.path.join(VENV_DIR, "bin", "python")


def requirements_digest(requirement_files):
  """sha256 over the contents of `requirement_files` (and what they include)."""
  digest = hashlib.sha256()
  for name in requirement_files:
    with open(os.path.join(ROOT, name), "rb") as f:
      digest.update(name.encode("utf-8") + b"\0" + f.read())
  return digest.hexdigest()


def ensure_environment(requirement_file):
  """Creates .venv if needed and installs `requirement_file` into it once.

  Args:
    requirement_file: "requirements.txt" or "requirements-test.txt".

  Returns:
    The path of the environment's Python interpreter.
  """
  if sys.version_info < MIN_PYTHON:
    sys.exit("Python %d.%d or newer is needed, this is %s" %
             (MIN_PYTHON + (sys.version.split()[0],)))
  python = venv_python()
  if not os.path.exists(python):
    print("[bootstrap] creating virtual environment in %s" % VENV_DIR,
          flush=True)
    venv.EnvBuilder(with_pip=True).create(VENV_DIR)
  files = ["requirements.txt"]
  if requirement_file != "requirements.txt":
    files.append(requirement_file)
  stamp = os.path.join(VENV_DIR, ".installed-" + requirement_file)
  wanted = requirements_digest(files)
  if os.path.exists(stamp):
    with open(stamp) as f:
      if f.read().strip() == wanted:
        return python
  print("[bootstrap] installing %s (first run takes a few minutes)" %
        requirement_file, flush=True)
  subprocess.check_call([python, "-m", "pip", "install", "--quiet",
                         "--disable-pip-version-check", "-r",
                         os.path.join(ROOT, requirement_file)])
  with open(stamp, "w") as f:
    f.write(wanted + "\n")
  return python


def main(argv):
  if len(argv) < 2 or argv[1] not in ("demo", "test"):
    sys.exit(__doc__)
  command, rest = argv[1], argv[2:]
  env = dict(os.environ)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if command == "test":
    python = ensure_environment("requirements-test.txt")
    args = [python, "-m", "pytest", "-q", "-n", "2", "tests"] + rest
  else:
    python = ensure_environment("requirements.txt")
    args = [python, os.path.join(ROOT, "demo.py")] + rest
  return subprocess.call(args, cwd=ROOT, env=env)


if __name__ == "__main__":
  sys.exit(main(sys.argv))
