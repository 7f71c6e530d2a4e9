"""Intra-op threads (tinygrad_bn/threads.py) and the fast variants that use them: the API, how
work is split, and that results never depend on timing: the same bit for bit run after run and
for 1, 2 or 3 threads, and equal to the reference algorithms to float32 rounding."""
import ctypes
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import dispatch, optim, threads
from tinygrad_bn.fast import batch_norm_rows, conv_batch_inner, conv_per_sample, pool_taps, sigmoid_in_place
from tinygrad_bn.models import lenet


@pytest.fixture
def restore_threads():
    before = tg.get_num_threads()
    yield
    tg.set_num_threads(before)


# ---------------------------------------------------------------- the API
def test_set_and_get_num_threads(restore_threads):
    tg.set_num_threads(3)
    assert tg.get_num_threads() == 3 == threads.get_num_threads()
    tg.set_num_threads(1)
    assert tg.get_num_threads() == 1


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("2", TypeError), (None, TypeError)])
def test_set_num_threads_refuses_what_is_not_a_positive_int(bad, error, restore_threads):
    before = tg.get_num_threads()
    with pytest.raises(error, match=r"set_num_threads: n must be (an int|>= 1), got " + re.escape(repr(bad))):
        tg.set_num_threads(bad)
    assert tg.get_num_threads() == before


@pytest.mark.parametrize("env, expected", [("3", 3), ("1", 1)])
def test_default_follows_omp_num_threads(env, expected):
    code = "import tinygrad_bn as tg; print(tg.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": env}).stdout
    assert int(out) == expected


@pytest.mark.parametrize("count, parts", [(10, 3), (2, 4), (7, 1), (256, 2), (1, 2)])
def test_ranges_cut_the_count_into_contiguous_parts(count, parts):
    cut = threads.ranges(count, parts)
    assert len(cut) == min(count, parts)
    assert cut[0][0] == 0 and cut[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(cut, cut[1:]))
    sizes = [stop - start for start, stop in cut]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_parallel_for_returns_the_parts_in_order(restore_threads):
    tg.set_num_threads(3)
    assert threads.parallel_for(10, lambda a, b: (a, b)) == [(0, 4), (4, 7), (7, 10)]
    assert threads.parallel_for(10, lambda a, b: (a, b), work=1) == [(0, 10)]  # too little work
    tg.set_num_threads(1)
    assert threads.parallel_for(10, lambda a, b: (a, b)) == [(0, 10)]


def test_parallel_for_runs_a_nested_call_serially(restore_threads):
    tg.set_num_threads(2)
    inner = threads.parallel_for(2, lambda a, b: threads.parallel_for(6, lambda c, d: (c, d)))
    assert inner == [[(0, 6)], [(0, 6)]]


def test_an_error_in_any_part_reaches_the_caller(restore_threads):
    tg.set_num_threads(2)

    def body(start, stop):
        if start > 0:
            raise KeyError("the worker's part")
        return start

    with pytest.raises(KeyError, match="the worker's part"):
        threads.parallel_for(4, body)
    assert threads.parallel_for(4, lambda a, b: b) == [2, 4]  # the pool still works


# ---------------------------------------------------------------- every fast variant
def run(fn, arrays, n_threads, reference=False):
    """fn's output and the gradients of its inputs (random upstream), at `n_threads` threads."""
    tg.set_num_threads(n_threads)
    tensors = [tg.tensor(a, requires_grad=True) for a in arrays]
    with dispatch.reference_only(reference):
        out = fn(*tensors)
        out.backward(tg.tensor(np.random.default_rng(9).standard_normal(out.shape).astype(out.dtype)))
    return [out.numpy()] + [t.grad.numpy() for t in tensors]


def arrays_for(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 0.5 + 0.2).astype(dtype) for s in shapes]


VARIANTS = {  # large enough that every fast variant splits its work over the threads
    "conv per sample": (conv_per_sample.Conv2dPerSample,
                        lambda x, w, b: F.conv2d(x, w, b), [(80, 1, 28, 28), (6, 1, 5, 5), (6,)]),
    "conv batch inner": (conv_batch_inner.Conv2dBatchInner, lambda x, w, b: F.conv2d(x, w, b, padding=1),
                         [(75, 6, 12, 12), (16, 6, 5, 5), (16,)]),
    "batch norm": (batch_norm_rows.BatchNormRows,
                   lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   [(64, 6, 24, 24), (6,), (6,)]),
    "batch norm eval": (batch_norm_rows.BatchNormRows,
                        lambda x, w, b: F.batch_norm(x, tg.zeros(6, dtype=x.dtype) + 0.1,
                                                     tg.ones(6, dtype=x.dtype) * 2, w, b),
                        [(64, 6, 24, 24), (6,), (6,)]),
    "sigmoid": (sigmoid_in_place.SigmoidInPlace, lambda x: x.sigmoid(), [(64, 6, 24, 24)]),
    "max pool": (pool_taps.MaxPool2dTaps, lambda x: F.max_pool2d(x, 2), [(64, 6, 24, 24)]),
    "max pool padded": (pool_taps.MaxPool2dTaps, lambda x: F.max_pool2d(x, 3, 2, 1), [(64, 6, 24, 24)]),
    "avg pool": (pool_taps.AvgPool2dTaps, lambda x: F.avg_pool2d(x, 2), [(64, 6, 24, 24)]),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_fast_variant_is_the_same_for_any_number_of_threads(name, restore_threads):
    impl, fn, shapes = VARIANTS[name]
    arrays = arrays_for(shapes, np.float32)
    tg.set_num_threads(2)
    assert fn(*(tg.tensor(a, requires_grad=True) for a in arrays))._ctx.impl is impl
    one = run(fn, arrays, 1)
    for n in (2, 3):
        for a, b in zip(one, run(fn, arrays, n)):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(run(fn, arrays, 2), run(fn, arrays, 2)):  # and run after run
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("name", VARIANTS)
def test_fast_variant_agrees_with_the_reference(name, dtype, tol, restore_threads):
    _, fn, shapes = VARIANTS[name]
    arrays = arrays_for(shapes, dtype)
    reference = run(fn, arrays, 1, reference=True)
    for fast in run(fn, arrays, 2), run(fn, arrays, 1):
        for a, b in zip(fast, reference):
            assert a.dtype == b.dtype == dtype  # no upcast on the way
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())


@pytest.mark.parametrize("name", ["sigmoid", "max pool", "max pool padded"])
def test_sigmoid_and_max_pool_variants_equal_the_reference_bit_for_bit(name, restore_threads):
    # the same operations in the same order (a maximum is exact), only split over the threads
    _, fn, shapes = VARIANTS[name]
    arrays = arrays_for(shapes, np.float32)
    for a, b in zip(run(fn, arrays, 2), run(fn, arrays, 1, reference=True)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- a whole training step
def lenet_steps(n_threads, steps=2, batch=48):
    tg.set_num_threads(n_threads)
    tg.manual_seed(0)
    model = lenet()
    opt = optim.SGD(model.parameters(), lr=1.0)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = tg.tensor(rng.random((batch, 1, 28, 28), dtype=np.float32))
        y = tg.tensor(rng.integers(0, 10, batch))
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.numpy() for p in model.parameters()] + [b.numpy() for b in model.buffers()]


def test_lenet_training_is_the_same_for_any_number_of_threads(restore_threads):
    one = lenet_steps(1)
    for n in (1, 2, 3):
        for a, b in zip(one, lenet_steps(n)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


BLAS_PROBE = r"""
import ctypes, numpy
try:  # Linux: the loaded libraries; elsewhere none, and the test skips
    libraries = [ctypes.CDLL(line.split()[-1]) for line in open("/proc/self/maps")
                 if "openblas" in line.lower() and ".so" in line]
except OSError:
    libraries = []
names = ("openblas_get_num_threads", "openblas_get_num_threads64_",
         "scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_")
get = next((getattr(lib, n) for lib in libraries for n in names if hasattr(lib, n)), None)
before = get() if get else 0
import tinygrad_bn
print(before, get() if get else 0)
"""


@pytest.mark.parametrize("keep, expected", [(None, "1"), ("0", "1"), ("1", "2")])
def test_importing_pins_openblas_to_one_thread_unless_asked_not_to(keep, expected):
    """A real process: NumPy's OpenBLAS on 2 threads, then ``import tinygrad_bn``."""
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_BN_KEEP_BLAS_THREADS"}
    env["OPENBLAS_NUM_THREADS"] = "2"
    if keep:
        env["TINYGRAD_BN_KEEP_BLAS_THREADS"] = keep
    out = subprocess.run([sys.executable, "-c", BLAS_PROBE], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    if out[0] != "2":
        pytest.skip(f"no OpenBLAS on 2 threads to look at (it reports {out[0]})")
    assert out[1] == expected


@pytest.mark.parametrize("value, tuned", [(None, True), ("0", True), ("", True), ("1", False)])
def test_no_mallopt_opts_out_only_when_set_to_something_but_0(value, tuned, monkeypatch):
    from tinygrad_bn import allocator
    try:
        ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        pytest.skip("malloc tuning is Linux/glibc only")
    monkeypatch.delenv("TINYGRAD_BN_NO_MALLOPT", raising=False)
    if value is not None:
        monkeypatch.setenv("TINYGRAD_BN_NO_MALLOPT", value)
    assert allocator.keep_freed_memory() is tuned
