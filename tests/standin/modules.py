"""The stand-in's modules: `cupy` (with .random, .linalg, .cuda, .cuda.runtime) and `cupyx` (with
.scipy.special), each holding only names CuPy's module of the same path has.

A name CuPy lacks raises AttributeError as it would on CuPy (``cupy.frombuffer``,
``cupy.random.normal``...); a name CuPy has that the stand-in does not implement raises
AttributeError saying so. Dtypes, constants and the like are NumPy's own objects, as in CuPy
(``cupy.float32 is numpy.float32``).
"""
from __future__ import annotations

import importlib
import types

import numpy as np

from . import cuda, random, routines
from .array import ndarray
from .names import CUPY_VERSION, MODULES
from .ufunc import SCATTER_DTYPES, SPECIAL_UFUNCS, UFUNCS, ufunc


class StrictModule(types.ModuleType):
    """A module with exactly the names of CuPy's module `path` (those the stand-in implements)."""

    def __init__(self, path: str, members: dict):
        super().__init__(path, f"CPU stand-in for {path} (CuPy {CUPY_VERSION}); see tests/standin.")
        self._names = MODULES[path]
        unknown = sorted(set(members) - set(self._names))
        if unknown:  # a stand-in bug: it must never offer what CuPy lacks
            raise AssertionError(f"the stand-in defines {path}.{unknown}, which CuPy {CUPY_VERSION} lacks")
        self.__dict__.update(members)

    def __getattr__(self, name):
        if name in self._names:
            raise AttributeError(f"{self.__name__}.{name} exists in CuPy {CUPY_VERSION}, but the CPU "
                                 "stand-in does not implement it (tests/standin)")
        raise AttributeError(f"module '{self.__name__}' has no attribute {name!r}")

    def __dir__(self):
        return sorted(n for n in self.__dict__ if n in self._names)


_MISSING = object()


def _numpy_object(path: str):
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):  # e.g. a NumPy alias this NumPy no longer has
        return _MISSING


def _from_numpy(path: str, numpy_module) -> dict:
    """CuPy's names of module `path` that NumPy (`numpy_module`) provides: its own objects
    (dtypes, constants), recorded constants, and functions run through `routines.routine`."""
    members = {}
    for name, entry in MODULES[path].items():
        kind, np_value = entry["kind"], getattr(numpy_module, name, None)
        if kind == "numpy":
            members[name] = _numpy_object(entry["object"])
        elif kind == "constant":
            members[name] = entry["value"]
        elif kind == "function" and callable(np_value) and not isinstance(np_value, type):
            members[name] = routines.routine(f"{path}.{name}", np_value, entry["params"])
    return {k: v for k, v in members.items() if v is not _MISSING}


def _scatter(name: str):
    def scatter(a, slices, value):
        """a[slices] op= value, where repeated indices accumulate (CuPy's atomics)."""
        UFUNCS[name].at(a, slices, value)
    scatter.__name__ = f"scatter_{name.replace('imum', '')}"
    return scatter


def as_strided(x, shape=None, strides=None):
    """cupy.lib.stride_tricks.as_strided: a view of `x` with the given shape and byte strides
    (no kernel: it only describes memory)."""
    if not isinstance(x, ndarray):
        raise TypeError(f"as_strided: Unsupported type {type(x)}")
    return x._view(np.lib.stride_tricks.as_strided(x._a, shape, strides))


stride_tricks = StrictModule("cupy.lib.stride_tricks", {"as_strided": as_strided})
lib = StrictModule("cupy.lib", {"stride_tricks": stride_tricks})
cuda_runtime = StrictModule("cupy.cuda.runtime", cuda.RUNTIME)
cuda_module = StrictModule("cupy.cuda", {**cuda.CUDA, "runtime": cuda_runtime})
random_module = StrictModule("cupy.random", {"Generator": random.Generator,
                                             "default_rng": random.default_rng})
linalg = StrictModule("cupy.linalg", _from_numpy("cupy.linalg", np.linalg))
cupy = StrictModule("cupy", {
    **_from_numpy("cupy", np), **UFUNCS, **routines.EXPLICIT, "ufunc": ufunc,
    "random": random_module, "linalg": linalg, "cuda": cuda_module, "lib": lib,
})

special = StrictModule("cupyx.scipy.special", SPECIAL_UFUNCS)
cupyx = StrictModule("cupyx", {
    "scatter_add": _scatter("add"), "scatter_max": _scatter("maximum"), "scatter_min": _scatter("minimum"),
    "scipy": StrictModule("cupyx.scipy", {"special": special}),
})
assert set(SCATTER_DTYPES) <= set(UFUNCS) and ndarray is cupy.ndarray
