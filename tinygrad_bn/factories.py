"""Factories: functions that make new tensors (``tg.zeros``, ``tg.randn``, ``tg.arange``, ...).

Shapes are given as varargs (``zeros(2, 3)``), a tuple (``zeros((2, 3))``) or ``size=``. The
default dtype is float32 (int64 for integer ranges and fills), the default device the CPU.
Random factories draw from the device's seeded generator (``tg.manual_seed``) and refuse
integer and bool dtypes, as PyTorch does; ``randint`` is the integer one.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes
from .tensor import Tensor


def _shape(args, size, what: str) -> tuple:
    """The shape from varargs, one tuple/list argument, or ``size=``."""
    if size is not None:
        if args:
            raise TypeError(f"{what}: give the shape either positionally or as size=, not both")
        args = (size,)
    shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
    if any(not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0 for n in shape):
        raise ValueError(f"{what}: a shape is made of non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _make(array, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    t.requires_grad = requires_grad  # raises for int/bool tensors, as PyTorch does
    return t


def tensor(data, requires_grad: bool = False, device=None, dtype=None) -> Tensor:
    """The same as ``Tensor(data, ...)``: a new tensor holding a copy of `data`."""
    return Tensor(data, requires_grad=requires_grad, device=device, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor SHARING `array`'s memory (no copy; changes show in both), keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    dtypes.as_dtype(array.dtype, "from_numpy")
    return Tensor._wrap(array)


def zeros(*size, dtype=None, device="cpu", requires_grad: bool = False, **kw) -> Tensor:
    """A tensor of zeros."""
    shape = _shape(size, kw.pop("size", None), "zeros")
    dtype = dtypes.as_dtype(dtype, "zeros") or dtypes.DEFAULT_FLOAT
    return _make(backend.get_array_module(device).zeros(shape, dtype=dtype), requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad: bool = False, **kw) -> Tensor:
    """A tensor of ones."""
    shape = _shape(size, kw.pop("size", None), "ones")
    dtype = dtypes.as_dtype(dtype, "ones") or dtypes.DEFAULT_FLOAT
    return _make(backend.get_array_module(device).ones(shape, dtype=dtype), requires_grad)


def empty(*size, dtype=None, device="cpu", requires_grad: bool = False, **kw) -> Tensor:
    """A tensor whose values are whatever the memory held (fill it before reading)."""
    shape = _shape(size, kw.pop("size", None), "empty")
    dtype = dtypes.as_dtype(dtype, "empty") or dtypes.DEFAULT_FLOAT
    return _make(backend.get_array_module(device).empty(shape, dtype=dtype), requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value` (float32 for a float, int64 for an int, bool for a bool)."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else (
            np.int64 if isinstance(fill_value, numbers.Integral) else np.float32)
    shape = _shape((size,) if isinstance(size, numbers.Integral) else tuple(size), None, "full")
    dtype = dtypes.as_dtype(dtype, "full")
    return _make(backend.get_array_module(device).full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of `t`'s shape (and dtype and device unless given)."""
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of `t`'s shape."""
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of `t`'s shape."""
    return empty(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """`fill_value` everywhere, in `t`'s shape."""
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def rand(*size, dtype=None, device="cpu", requires_grad: bool = False, **kw) -> Tensor:
    """Samples of U(0, 1), from the device's generator (see `manual_seed`)."""
    shape = _shape(size, kw.pop("size", None), "rand")
    dtype = dtypes.as_float_dtype(dtype, "rand")
    sample = dtype if dtype in (np.float32, np.float64) else np.float64  # the generators' dtypes
    array = backend.rng(device).random(shape, dtype=sample).astype(dtype, copy=False)
    return _make(array, requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad: bool = False, **kw) -> Tensor:
    """Samples of the standard normal N(0, 1), from the device's generator."""
    shape = _shape(size, kw.pop("size", None), "randn")
    dtype = dtypes.as_float_dtype(dtype, "randn")
    sample = dtype if dtype in (np.float32, np.float64) else np.float64
    array = backend.rng(device).standard_normal(shape, dtype=sample).astype(dtype, copy=False)
    return _make(array, requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """U(0, 1) samples of `t`'s shape."""
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """N(0, 1) samples of `t`'s shape."""
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randint(*args, size=None, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        *args, size = args
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint(low=0, high, size): expected randint(high, size) or "
                        "randint(low, high, size)")
    low, high = (0, args[0]) if len(args) == 1 else args
    if not low < high:
        raise ValueError(f"randint: low ({low}) must be less than high ({high})")
    shape = _shape((size,), None, "randint")
    dtype = dtypes.as_dtype(dtype, "randint") or dtypes.int64
    array = backend.rng(device).integers(low, high, size=shape).astype(dtype, copy=False)
    return _make(array, requires_grad)


def normal(mean, std, size=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std²): ``normal(0.0, 1.0, (2, 5))``, or elementwise from tensors of
    means and/or stds (broadcast together)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(*(t.shape for t in (mean, std) if isinstance(t, Tensor)))
        z = randn(shape, dtype=dtype or dtypes.float_result(ref.dtype), device=device or ref.device)
        return (z * std + mean).detach().requires_grad_(requires_grad)
    if size is None:
        raise TypeError("normal(mean, std, size): size is required when mean and std are numbers")
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    z = randn(size, dtype=dtype, device=device or "cpu")
    z.array *= std
    z.array += mean
    return z.requires_grad_(requires_grad)


def arange(start, end=None, step=1, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to (not including) end; int64 when all are ints."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if is_int else np.float32
    dtype = dtypes.as_dtype(dtype, "arange")
    array = backend.get_array_module(device).arange(start, end, step, dtype=dtype)
    return _make(array, requires_grad)


def linspace(start, end, steps: int, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dtype = dtypes.as_dtype(dtype, "linspace") or dtypes.DEFAULT_FLOAT
    array = backend.get_array_module(device).linspace(start, end, int(steps), dtype=dtype)
    return _make(array, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device="cpu", requires_grad: bool = False) -> Tensor:
    """The identity matrix, n × m (m defaults to n)."""
    dtype = dtypes.as_dtype(dtype, "eye") or dtypes.DEFAULT_FLOAT
    return _make(backend.get_array_module(device).eye(n, m, dtype=dtype), requires_grad)


def manual_seed(seed: int) -> None:
    """Seed every device's random generator (factories, parameter init, dropout, shuffling)."""
    backend.manual_seed(seed)


__all__ = ["tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
           "empty_like", "full_like", "rand", "randn", "rand_like", "randn_like", "randint",
           "normal", "arange", "linspace", "eye", "manual_seed"]
