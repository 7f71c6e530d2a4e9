"""Shared by the scripts that tests/test_distributed.py runs under ``mpiexec -n K``.

Each script records named checks on every process; `Checks.report` gathers them on rank 0,
which prints one line per check (``CHECK name  rank  error  tolerance  ok``), and every process
exits with status 1 if any check failed on any process, so pytest sees the failure and the
printed lines say where.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.distributed as dist  # noqa: E402


def as_numpy(a):
    return a.numpy() if isinstance(a, tg.Tensor) else np.asarray(a)


def rel_error(actual, expected, scale=None) -> float:
    """max |actual − expected| / max |expected|: the largest difference relative to the size
    of the values (elementwise ratios would blow up on entries that are zero up to rounding).
    `scale` replaces max |expected| where the expected values are all zero up to rounding (the
    gradient of a bias right before a batch norm): then the scale of the neighbours counts."""
    a, b = as_numpy(actual).astype(np.float64), as_numpy(expected).astype(np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(np.abs(b).max() if scale is None else scale, 1e-300))


class Checks:
    def __init__(self):
        self.results = []  # (name, error, tolerance, ok)

    def close(self, name, actual, expected, tol=1e-12, scale=None):
        err = rel_error(actual, expected, scale)
        self.results.append((name, err, f"<= {tol:g}", err <= tol))

    def differ(self, name, actual, expected, at_least=1e-3):
        """A negative control: the values must NOT agree."""
        err = rel_error(actual, expected)
        self.results.append((name, err, f">= {at_least:g}", err >= at_least))

    def true(self, name, condition):
        self.results.append((name, 0.0, "true", bool(condition)))

    def raises(self, name, exc_type, fn, match=""):
        try:
            fn()
        except exc_type as err:
            self.true(name, match in str(err))
            return
        self.true(name, False)

    def report(self):
        group = dist._default_group()
        rank = dist.get_rank()
        everything = group.comm.gather(self.results, root=0)  # lower-case: pickled Python objects
        failures = sum(not ok for _, _, _, ok in self.results)
        total = group.comm.allreduce(failures)
        if rank == 0:
            for r, results in enumerate(everything):
                for name, err, tol, ok in results:
                    print(f"CHECK {name:58s} rank {r}  error {err:.3e}  {tol:10s} "
                          f"{'ok' if ok else 'FAILED'}")
            print(f"{sum(len(x) for x in everything)} checks on {group.size} processes, "
                  f"{total} failed", flush=True)
        dist.destroy_process_group()
        sys.exit(1 if total else 0)


def shard(array, sizes, rank):
    """Process `rank`'s slice of `array` split along axis 0 into pieces of `sizes`."""
    start = sum(sizes[:rank])
    return array[start:start + sizes[rank]]


class CountingGroup:
    """Wraps the process group and counts the collectives the library makes through it."""

    def __init__(self, group):
        self.group, self.calls = group, []
        self.size, self.rank = group.size, group.rank

    def __getattr__(self, name):
        attr = getattr(self.group, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)
        return counted
