"""Small helpers shared by the benchmarks: timing, and measuring what a graph keeps for backward."""
import statistics
import time

from tinygrad_bn import backend
from tinygrad_bn.autograd import saved_nbytes  # noqa: F401  (re-exported for the benchmarks)


def synchronize(device):
    """Wait for the GPU to finish (timings of asynchronous CuPy work would otherwise lie)."""
    if device == "cuda":
        backend.get_array_module("cuda").cuda.Device().synchronize()


def median_ms(fn, device="cpu", repeats=20, warmup=3):
    """Median wall time of fn() in milliseconds."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
