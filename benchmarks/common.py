"""Small helpers shared by the benchmarks: timing, and measuring what a graph keeps for backward."""
import statistics
import time

from tinygrad_bn import backend
from tinygrad_bn.autograd import saved_nbytes  # noqa: F401  (re-exported for the benchmarks)


synchronize = backend.synchronize  # wait for the GPU before reading a clock


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
