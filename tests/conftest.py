"""Shared pytest set-up: the repository root on sys.path and fixture paths."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def fixture_path(*parts):
  """Absolute path of a file under tests/fixtures/."""
  return os.path.join(FIXTURES, *parts)
