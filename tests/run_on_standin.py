"""Run a script with device 'cuda' on the CPU stand-in for CuPy (tests/standin):

    python tests/run_on_standin.py SCRIPT [ARGS ...]

What ``pytest --cuda=standin`` does for the test suite, for a whole program (an example or a
benchmark): the backend gets the stand-in's cupy/cupyx, then SCRIPT runs as __main__.
"""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))                   # standin
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import standin  # noqa: E402
from tinygrad_bn import backend  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    backend._use_cuda_module(standin.cupy, standin.cupyx)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
