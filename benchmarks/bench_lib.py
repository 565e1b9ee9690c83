# coding=utf-8
"""What the benchmark scripts share: loading one another.

A benchmark reuses another's helpers (FLOP counts, the matmul peak, the
round-robin timer, corpus builders). Their file names clash with the
project's modules (benchmarks/modeling.py and modeling.py), so they are
loaded by path under a name of their own.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_benchmark(name):
  """benchmarks/<name>.py as the module `<name>_benchmark`.

  Registered in sys.modules, because autograph looks functions up by their
  module.
  """
  spec = importlib.util.spec_from_file_location(
      name + "_benchmark", os.path.join(HERE, name + ".py"))
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module
  spec.loader.exec_module(module)
  return module
