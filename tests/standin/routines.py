"""cupy's functions on the CPU: most are NumPy's function of the same name behind CuPy's rules
(`routine`); the few that move data between host and device, or differ from NumPy, are here.
"""
from __future__ import annotations

import numpy as np

from . import counting
from .array import check_dtype, from_host, ndarray, standins_in, unwrap, wrap
from .names import check_call

# Functions that read a result back to the host (CuPy syncs to learn an output's size).
SYNCING = {"nonzero", "argwhere", "flatnonzero", "compress", "unique", "extract"}
# Functions that allocate without writing: no kernel.
ALLOCATING = {"empty", "empty_like"}
# Functions that take a NumPy array as a template of shape and dtype only (no data moves).
TEMPLATES = {"empty_like", "zeros_like", "ones_like", "full_like"}
# Functions that write into an argument and return None.
INPLACE = {"copyto", "put", "place", "putmask", "fill_diagonal"}


def routine(qualname: str, compute, params):
    """cupy.<name> computed by NumPy's `compute`: CuPy's signature is checked, NumPy arrays are
    refused, results are stand-in arrays (views know their base), launches and syncs counted."""
    name = qualname.rpartition(".")[2]

    def call(*args, **kwargs):
        check_call(qualname, params, args, kwargs)
        host_ok = name in TEMPLATES
        np_args = unwrap(args, qualname, host_ok)
        np_kwargs = {k: unwrap(v, qualname) for k, v in kwargs.items()}
        with np.errstate(all="ignore"):
            result = compute(*np_args, **np_kwargs)
        value, launched = wrap(result, standins_in([*args, *kwargs.values()]))
        if name not in ALLOCATING and (launched or kwargs.get("out") is not None or name in INPLACE):
            counting.launch()
        if name in SYNCING:
            counting.sync()
        return value

    call.__name__, call.__qualname__ = name, qualname
    call.__doc__ = f"{qualname}: NumPy's {getattr(compute, '__name__', name)} behind CuPy's rules."
    return call


# ---------------------------------------------------------------- host <-> device
def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """A new device array: a copy of a stand-in array, or a stack of a (nested) list of stand-in
    arrays of one shape (each a launch), or of host data (a transfer)."""
    if isinstance(obj, ndarray):
        if dtype is None and not copy and ndmin <= obj.ndim:
            return obj
        counting.launch()
        return ndarray._make(np.array(obj._a, dtype=None if dtype is None else check_dtype(dtype),
                                      copy=True, order=order, ndmin=ndmin))
    if _nested_shape(obj) is not None:
        counting.launch()
        return ndarray._make(np.array(unwrap(obj, "cupy.array"), dtype=dtype, order=order, ndmin=ndmin))
    return from_host(obj, dtype, order, ndmin)


def _nested_shape(obj):
    """The shape of a (nested) list or tuple holding only stand-in arrays of one shape, else None
    (CuPy's _compute_concat_info_impl: such a list is stacked on the device)."""
    if isinstance(obj, ndarray):
        return obj.shape
    if type(obj) in (list, tuple) and obj:
        shapes = [_nested_shape(item) for item in obj]
        if shapes[0] is not None and all(s == shapes[0] for s in shapes):
            return (len(obj), *shapes[0])
    return None


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """`a` itself when it is a stand-in array of `dtype`; else a copy (host data: a transfer)."""
    if isinstance(a, ndarray):
        if copy:
            return array(a, dtype, copy=True, order=order or "K")
        return a.astype(dtype if dtype is not None else a.dtype, order=order or "K", copy=False)
    if copy is False:
        raise ValueError("a host array cannot be used on the device without a copy")
    return array(a, dtype, order=order or "K")


def asanyarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    return asarray(a, dtype, order, copy=copy, blocking=blocking)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """A NumPy array: a stand-in array is read back (a sync); anything else is np.asarray'd."""
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out, blocking=blocking)
    return np.asarray(a, order=order)


def get_array_module(*args):
    """The stand-in cupy module if any argument is a stand-in array, else numpy."""
    from .modules import cupy
    return cupy if any(isinstance(a, ndarray) for a in args) else np


def take(a, indices, axis=None, out=None):
    return a.take(indices, axis, out)


class _Grid:
    """cupy.ogrid / cupy.mgrid: index arrays made on the device."""

    def __init__(self, np_grid):
        self._grid = np_grid

    def __getitem__(self, key):
        value, launched = wrap(self._grid[key])
        if launched:
            counting.launch()
        return value


EXPLICIT = {f.__name__: f for f in (array, asarray, asanyarray, asnumpy, get_array_module, take)}
EXPLICIT.update(ndarray=ndarray, ogrid=_Grid(np.ogrid), mgrid=_Grid(np.mgrid))
