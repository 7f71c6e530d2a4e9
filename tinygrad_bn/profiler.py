"""Profiler: wall time spent in each op's forward and backward.

The engine runs every op's forward and backward through one function, ``autograd._call_op``;
while a Profiler is active it times each of those calls. Nothing else in the engine knows it
exists.

Example:
    >>> with Profiler() as prof:
    ...     loss = model(x).sum(); loss.backward()
    >>> print(prof.table())
"""
from __future__ import annotations

import time

from . import autograd


class Profiler:
    """Collects (op, phase) -> [seconds, calls] while active (a context manager).

    On a GPU, ops return before their kernels finish; pass ``synchronize`` (a function that waits
    for the device, e.g. ``lambda: backend.synchronize('cuda')``) to charge each op its own
    kernel time, at the cost of the overlap.
    """

    def __init__(self, synchronize=None):
        self.synchronize = synchronize
        self.records = {}  # (op name, 'forward' | 'backward') -> [seconds, calls]

    def __enter__(self):
        autograd._observers.append(self._timed)
        return self

    def __exit__(self, *exc):
        autograd._observers.remove(self._timed)
        return False

    def _timed(self, method, *args, **kwargs):
        start = time.perf_counter()
        result = method(*args, **kwargs)
        if self.synchronize is not None:
            self.synchronize()
        op, _, phase = method.__qualname__.rpartition(".")  # e.g. 'Conv2d.backward'
        record = self.records.setdefault((op, phase), [0.0, 0])
        record[0] += time.perf_counter() - start
        record[1] += 1
        return result

    def table(self) -> str:
        """The records as text, the most expensive first, with each one's share of the total."""
        total = sum(seconds for seconds, _ in self.records.values()) or 1.0
        lines = [f"{'op':>14} {'phase':>9} {'calls':>7} {'total ms':>10} {'ms/call':>8} {'share':>6}"]
        for (name, phase), (seconds, calls) in sorted(self.records.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"{name:>14} {phase:>9} {calls:7d} {seconds * 1e3:10.1f} "
                         f"{seconds * 1e3 / calls:8.3f} {seconds / total:6.1%}")
        lines.append(f"{'all ops':>14} {'':>9} {'':>7} {total * 1e3:10.1f}")
        return "\n".join(lines)
