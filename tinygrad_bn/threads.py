"""Intra-op threads: one small pool that splits an op's work into contiguous parts.

Why: NumPy runs every elementwise op, copy and reduction on ONE core, but it releases the GIL
inside those loops (and inside BLAS calls). So two Python threads, each running NumPy on its
own part of the batch, keep two cores busy, as PyTorch's intra-op threads do. On LeNet-BN
(batch 256, 2 cores) a training step on two threads went from 1.16x its one-thread speed to
1.40x (PyTorch: 1.75x; its ops make fewer passes, each a parallel loop; see the README).

Who splits: only the fast variants (``tinygrad_bn/fast/``) call ``parallel_for``; the reference
ops in ``ops/`` never see a thread. Each variant decides WHAT it splits (samples, blocks of
samples, channels); this module decides HOW MANY parts, and runs them.

Determinism: ``parallel_for(count, body)`` cuts ``range(count)`` into at most
``get_num_threads()`` contiguous ranges, a function of ``count`` and the thread count only, and
returns the bodies' results in range order. A part writes only its own slice of the output, and
partial sums are added in that order, so for a given thread count every run is bit-identical,
however the threads happen to be scheduled.

BLAS: importing tinygrad_bn asks the BLAS behind NumPy (OpenBLAS) for one thread per call:
the parallelism is this pool's. BLAS's own threads would otherwise compete with ours for the
same cores (they spin between calls: a NumPy exp split over our two threads ran 1.6x slower next
to them), and the small per-sample products of the fast variants run faster split by us than
by BLAS (0.45 ms against 1.33 ms for LeNet's first convolution). The library is found among the
loaded ones as threadpoolctl does; another BLAS (MKL, Accelerate) is left alone, and so is every
BLAS when ``TINYGRAD_BN_KEEP_BLAS_THREADS=1`` is set.

``tg.set_num_threads(n)`` / ``tg.get_num_threads()`` control the pool; the default is
``OMP_NUM_THREADS`` when set, else the number of CPUs this process may run on.
"""
from __future__ import annotations

import ctypes
import os
import queue
import threading

from . import validate

_BLAS_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_",
                 "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_")


def _default_num_threads() -> int:
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _Pool:
    """`size - 1` daemon workers; the calling thread runs the first part itself."""

    def __init__(self, size: int):
        self.size = size
        self.tasks = [queue.SimpleQueue() for _ in range(size - 1)]
        for tasks in self.tasks:
            threading.Thread(target=self._work, args=(tasks,), daemon=True).start()

    @staticmethod
    def _work(tasks):
        _local.inside = True  # a parallel_for inside a part runs serially: no deadlock, no oversubscription
        while True:
            task = tasks.get()
            if task is None:  # the pool was resized: this worker ends
                return
            body, start, stop, done = task
            try:
                done.put((True, body(start, stop)))
            except BaseException as error:  # handed to the caller, raised there
                done.put((False, error))


# Below this much work (array elements read or written, summed over an op's passes) an op runs
# on one thread: handing a part to a worker and waiting for it costs 40-60 µs on this 2-core VM,
# what NumPy takes for about 10^6 such elements; split, the op would gain less than it pays.
MIN_WORK = 2**20

_num_threads = _default_num_threads()
_pool: _Pool | None = None
_local = threading.local()


def get_num_threads() -> int:
    """The number of threads an op may use (PyTorch's ``torch.get_num_threads``)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use `n` threads inside an op (PyTorch's ``torch.set_num_threads``). Results depend on `n`
    only within float32 rounding (see the module docstring); for a given `n` they are exact."""
    global _num_threads, _pool
    n = validate.positive_int(n, "n", "set_num_threads")
    _num_threads = n
    if _pool is not None and _pool.size != n:
        for tasks in _pool.tasks:
            tasks.put(None)  # the old workers end; a new pool starts at the next parallel_for
        _pool = None


def ranges(count: int, parts: int | None = None) -> list:
    """`range(count)` cut into at most `parts` (default: the thread count) contiguous
    (start, stop) pairs, as equal as possible, the longer ones first."""
    parts = max(1, min(count, _num_threads if parts is None else parts))
    size, extra = divmod(count, parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + size + (i < extra))
    return list(zip(bounds[:-1], bounds[1:]))


def parallel_for(count: int, body, work: int | None = None) -> list:
    """``[body(start, stop) for (start, stop) in ranges(count)]``, the parts run at once on the
    pool's threads. Serial (one part) when there is one thread, when called from inside a part,
    or when `work` (array elements read or written, over all passes) is below ``MIN_WORK``."""
    global _pool
    if (_num_threads == 1 or count < 2 or getattr(_local, "inside", False)
            or (work is not None and work < MIN_WORK)):
        return [body(0, count)]
    if _pool is None:
        _pool = _Pool(_num_threads)
    parts = ranges(count)
    done = [queue.SimpleQueue() for _ in parts[1:]]
    for tasks, (start, stop), reply in zip(_pool.tasks, parts[1:], done):
        tasks.put((body, start, stop, reply))
    _local.inside = True
    try:
        results = [body(*parts[0])]
    finally:
        _local.inside = False
        replies = [reply.get() for reply in done]  # always wait: parts may write into shared output
    for ok, value in replies:
        if not ok:
            raise value
    return results + [value for _, value in replies]


def _openblas_libraries() -> list:
    """The OpenBLAS libraries this process has loaded (NumPy's among them), opened by ctypes."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:  # not Linux
        return []
    libraries = []
    for path in sorted(paths):
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libraries


def single_thread_blas() -> bool:
    """Ask the OpenBLAS that NumPy loaded for one thread per call (see the module docstring).
    True when it was found. ``TINYGRAD_BN_KEEP_BLAS_THREADS=1`` in the environment leaves BLAS
    as it is (for code in the same process that wants BLAS's own threads)."""
    if os.environ.get("TINYGRAD_BN_KEEP_BLAS_THREADS", "") not in ("", "0"):
        return False
    for library in _openblas_libraries():
        for name in _BLAS_SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                return True
    return False


def _after_fork_in_child():
    global _pool
    _pool = None  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
