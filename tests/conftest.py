"""Shared fixtures: every test that takes `device` runs once on 'cpu' and once on 'cuda'
(the latter skipped, with the reason, where CuPy or a GPU is missing).

``pytest --cuda=standin`` (or ``TINYGRAD_BN_CUDA=standin pytest``) is the cuda pass without a GPU:
'cuda' runs on tests/standin, a strict CPU stand-in for CuPy, and only the `cuda` copies of the
device tests run (the plain pass runs everything else). A real GPU always wins over the stand-in.
"""
import os

import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import backend

_replaced = None  # the modules the stand-in replaced, handed back at the end of the session


def pytest_addoption(parser):
    parser.addoption(
        "--cuda", choices=("gpu", "standin"), default=os.environ.get("TINYGRAD_BN_CUDA", "gpu"),
        help="'standin': the cuda pass: only the cuda copies of the device tests run, on a strict "
             "CPU stand-in for CuPy (tests/standin) unless a GPU is present. Default 'gpu' "
             "(env TINYGRAD_BN_CUDA).")


def standin_requested(config) -> bool:
    return config.getoption("--cuda") == "standin"


def pytest_configure(config):
    global _replaced
    if standin_requested(config) and not tg.cuda_is_available():
        import standin
        _replaced = backend._use_cuda_module(standin.cupy, standin.cupyx)


def pytest_unconfigure(config):
    global _replaced
    if _replaced is not None:
        backend._use_cuda_module(*_replaced)
        _replaced = None


def pytest_report_header(config):
    if _replaced is not None:
        return "cuda: the CPU stand-in for CuPy (tests/standin); only the cuda copies run"
    return f"cuda: {'a GPU' if tg.cuda_is_available() else 'unavailable, its tests skip'}"


def pytest_terminal_summary(terminalreporter):
    if _replaced is not None:
        import standin
        c = standin.counters
        terminalreporter.write_line(f"CuPy stand-in: {c.launches} kernel launches, {c.syncs} host syncs, "
                                    f"{c.h2d} host->device copies")


def pytest_collection_modifyitems(config, items):
    if not standin_requested(config):
        return

    def is_cuda_copy(item):
        return hasattr(item, "callspec") and item.callspec.params.get("device") == "cuda"

    config.hook.pytest_deselected(items=[item for item in items if not is_cuda_copy(item)])
    items[:] = [item for item in items if is_cuda_copy(item)]


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    if request.param == "cuda" and not tg.cuda_is_available():
        pytest.skip("CUDA unavailable: CuPy not installed or no GPU (pytest --cuda=standin runs "
                    "these on a CPU stand-in)")
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
