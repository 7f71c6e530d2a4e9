"""cupy.random's Generator API on the CPU.

``cupy.random.default_rng(seed)`` gives a Generator with CuPy's methods and signatures: floats
in float32 or float64 through ``dtype=`` (``random``, ``standard_normal``, ``uniform``, ...),
``integers(low, high, size, dtype, endpoint)``; no ``normal``, ``permutation``, ``choice`` or
``bit_generator`` (CuPy's Generator has none). Draws come from NumPy's Philox, not from PCG64
(NumPy's default), so, as on a GPU, the same seed gives a different stream than on the CPU: a test
that expects equal draws on both devices fails here as it would on a GPU. Each draw is a launch.
"""
from __future__ import annotations

import functools

import numpy as np

from . import counting
from .array import ndarray, standins_in, unwrap, wrap
from .names import CLASSES, check_call

MEMBERS = CLASSES["cupy.random.Generator"]


class Generator:
    """cupy.random.Generator (made by `default_rng`)."""

    def __init__(self, bit_generator: np.random.BitGenerator):
        self._rng = np.random.Generator(bit_generator)

    def _draw(self, method: str, size, cast, out, *args, **kwargs):
        """NumPy's `method`, cast to `cast`; size None is a 0-d array (CuPy returns no Python floats)."""
        if out is not None:
            if not isinstance(out, ndarray):
                raise TypeError("out must be a cupy.ndarray")
            size = out.shape
        np_args = unwrap(args, f"cupy.random.Generator.{method}")
        values = getattr(self._rng, method)(*np_args, size=() if size is None else size, **kwargs)
        values = np.asarray(values).astype(cast, copy=False)
        if values.size:
            counting.launch()
        if out is not None:
            np.copyto(out._a, values)
            return out
        return ndarray._make(values)

    def random(self, size=None, dtype=np.float64, out=None):
        return self._draw("random", size, dtype, out, dtype=np.dtype(dtype))

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._draw("standard_normal", size, dtype, out, dtype=np.dtype(dtype))

    def standard_exponential(self, size=None, dtype=np.float64, method="inv", out=None):
        return self._draw("standard_exponential", size, dtype, out, dtype=np.dtype(dtype), method=method)

    def standard_gamma(self, shape, size=None, dtype=np.float64, out=None):
        return self._draw("standard_gamma", size, dtype, out, shape, dtype=np.dtype(dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64):
        return self._draw("uniform", size, dtype, None, low, high)

    def beta(self, a, b, size=None, dtype=np.float64):
        return self._draw("beta", size, dtype, None, a, b)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._draw("integers", size, dtype, None, low, high, dtype=np.dtype(dtype), endpoint=endpoint)

    def __getattr__(self, name):
        """CuPy's other distributions (poisson, binomial, ...), drawn by NumPy's."""
        if name not in MEMBERS or name.startswith("_"):
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r}")
        return functools.partial(self._numpy_draw, name)

    def _numpy_draw(self, name, *args, **kwargs):
        qualname = f"cupy.random.Generator.{name}"
        check_call(qualname, MEMBERS[name]["params"], args, kwargs)
        np_kwargs = {k: unwrap(v, qualname) for k, v in kwargs.items()}
        value, launched = wrap(getattr(self._rng, name)(*unwrap(args, qualname), **np_kwargs),
                               standins_in([*args, *kwargs.values()]))
        if launched:
            counting.launch()
        return value


def default_rng(seed=None) -> Generator:
    """A Generator seeded with `seed` (an int, or None for fresh entropy)."""
    return Generator(np.random.Philox(seed))
