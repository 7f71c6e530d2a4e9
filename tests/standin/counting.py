"""What a GPU would have been asked to do: kernel launches, host syncs, host->device copies.

The stand-in adds to the global `counters` as it works:
    launches  one per kernel CuPy would launch: each ufunc call, reduction, copy, astype, gather or
              scatter through an advanced index, concatenate, matmul, random draw, fill, ...
              (views, empty allocations and calls on zero elements launch nothing)
    syncs     one per time the host waits for the device to read a value back: get, asnumpy, item,
              tolist, int(), float(), bool(), complex(), repr/str, boolean-mask indexing (CuPy
              needs the count of True values on the host), nonzero, explicit synchronize calls
    h2d       one per host->device transfer: asarray/array of host data, ndarray.set, an index or
              a scattered value given as a list or NumPy array

    with standin.count() as c:
        loss = model(x).sum(); loss.backward()
    assert c.syncs == 0, c
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields


@dataclass
class Counters:
    launches: int = 0
    syncs: int = 0
    h2d: int = 0

    def reset(self) -> None:
        self.launches = self.syncs = self.h2d = 0

    def copy(self) -> Counters:
        return Counters(self.launches, self.syncs, self.h2d)

    def __sub__(self, other: Counters) -> Counters:
        return Counters(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


counters = Counters()  # since the process started (or the last reset)


class Counts:
    """The counts since a `count()` block began: live inside the block, frozen when it ends."""

    def __init__(self):
        self._start, self._end = counters.copy(), None

    def _now(self) -> Counters:
        return (self._end or counters) - self._start

    launches = property(lambda self: self._now().launches)
    syncs = property(lambda self: self._now().syncs)
    h2d = property(lambda self: self._now().h2d)

    def __repr__(self) -> str:
        now = self._now()
        return f"Counts(launches={now.launches}, syncs={now.syncs}, h2d={now.h2d})"


@contextlib.contextmanager
def count():
    """``with count() as c: ...`` then ``c.launches``, ``c.syncs``, ``c.h2d``."""
    counts = Counts()
    try:
        yield counts
    finally:
        counts._end = counters.copy()


def launch(n: int = 1) -> None:
    counters.launches += n


def sync() -> None:
    counters.syncs += 1


def h2d() -> None:
    counters.h2d += 1
