# coding=utf-8
"""Another run holding an output lock, for tests/test_locks.py.

  python tests/lock_holder.py dir|file PATH

Takes the lock of PATH (an output directory or file), leaves a temporary
file of its own beside what it writes (as a run killed mid-write would),
prints "locked" and waits to be killed. Its main runs through
validation.run_main, so SIGTERM ends it like Ctrl-C (exit 143, lock released).
"""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import locks  # pylint: disable=g-import-not-at-top
import validation  # pylint: disable=g-import-not-at-top


def main(argv):
  """Holds the lock of argv[2] (argv[1]: dir or file) until killed."""
  kind, path = argv[1], argv[2]
  if kind == "dir":
    lock = locks.lock_output_dir(path)
    temporary = os.path.join(path, ".model.ckpt-3.index.tmp-%d-0123abcd" %
                             os.getpid())
  else:
    lock = locks.lock_output_file(path)
    directory, base = os.path.split(path)
    temporary = os.path.join(directory, ".%s.tmp-%d-0123abcd" %
                             (base, os.getpid()))
  with lock:
    with open(temporary, "w") as f:
      f.write("partial")
    print("locked", flush=True)
    time.sleep(120)


if __name__ == "__main__":
  validation.run_main(main)
