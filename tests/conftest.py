"""Shared fixtures: every test that takes `device` runs once on 'cpu' and once on 'cuda'
(the latter skipped, with the reason, where CuPy or a GPU is missing)."""
import numpy as np
import pytest

import tinygrad_bn as tg

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not tg.cuda_is_available(), reason="CUDA unavailable: CuPy not installed or no GPU"))]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
