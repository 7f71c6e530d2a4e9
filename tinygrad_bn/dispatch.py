"""The one seam for fast paths: which implementation of an op runs.

Every op in ``ops/`` is written as its clear reference algorithm. A faster variant of an op (a
memory layout, a tiled loop, threads, a GPU kernel) is a separate ``Function``-like class in
``tinygrad_bn/fast/`` with the same ``forward``/``backward`` contract, registered here with a
test that says when it applies::

    dispatch.register(Conv2d, Conv2dBatchInner, applies=lambda device, x, w, **kw: ...)

``Function.apply`` asks ``implementation(op, device, arrays, kwargs)`` which class to run; the
graph node still carries the op's name, and backward runs the same implementation's backward.
With ``reference_only()`` every op runs its reference algorithm: the tests run each op both
ways and compare.
"""
from __future__ import annotations

import contextlib
import threading

_registry: dict = {}  # op class -> [(implementation, applies)], first match wins
_state = threading.local()


def register(op, implementation, applies) -> None:
    """Offer `implementation` for `op` whenever ``applies(device, *arrays, **kwargs)`` is true."""
    _registry.setdefault(op, []).append((implementation, applies))


def implementation(op, device: str, arrays, kwargs):
    """The class whose forward/backward run `op` on these inputs: a registered fast variant that
    applies, or `op` itself (the reference)."""
    if getattr(_state, "reference_only", False):
        return op
    for impl, applies in _registry.get(op, ()):
        if applies(device, *arrays, **kwargs):
            return impl
    return op


def variants(op) -> list:
    """The fast variants registered for `op`."""
    return [impl for impl, _ in _registry.get(op, ())]


@contextlib.contextmanager
def reference_only(enabled: bool = True):
    """Inside ``with dispatch.reference_only():`` every op runs its reference algorithm."""
    previous = getattr(_state, "reference_only", False)
    _state.reference_only = enabled
    try:
        yield
    finally:
        _state.reference_only = previous
