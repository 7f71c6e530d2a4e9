"""Argument checks shared by every layer, function and optimizer: one place that decides what a
valid int, pair, probability or shape is, and how the error reads.

The rule for the exception type follows Python's: a value of the wrong type (a str, a float, a
bool where an int is meant) is a ``TypeError``; a value of the right type but out of range (a
negative size, a pair of three) is a ``ValueError``. Every message names where (``where``),
what (``name``) and the bad value.
"""
from __future__ import annotations

import numbers

import numpy as np


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(value, name: str, where: str, minimum: int | None = None) -> int:
    """`value` as an int, at least `minimum` when given."""
    if not _is_int(value):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def positive_int(value, name: str, where: str) -> int:
    """`value` as an int >= 1."""
    return integer(value, name, where, minimum=1)


def pair(value, name: str, where: str, minimum: int = 0) -> tuple[int, int]:
    """An int, or a pair of ints, as a pair, each at least `minimum` (kernel sizes, strides)."""
    if _is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or not all(_is_int(v) for v in value):
        raise TypeError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    if len(value) != 2:
        raise ValueError(f"{where}: {name} must be an int or a pair of ints, got {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return int(value[0]), int(value[1])


def number(value, name: str, where: str, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None) -> float:
    """`value` as a float in range (`above`: strictly greater). NaN is never in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {value!r}")
    value = float(value)
    ok = value == value  # not NaN
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    ok = ok and (above is None or value > above)
    if not ok:
        bounds = [f">= {minimum}" if minimum is not None else "",
                  f"<= {maximum}" if maximum is not None else "",
                  f"> {above}" if above is not None else ""]
        raise ValueError(f"{where}: {name} must be {' and '.join(b for b in bounds if b)}, got {value!r}")
    return value


def probability(value, name: str, where: str) -> float:
    """A number in [0, 1]."""
    return number(value, name, where, minimum=0.0, maximum=1.0)


def boolean(value, name: str, where: str, error: type = TypeError) -> bool:
    """A bool (not merely something truthy): a NumPy bool is accepted, a string or a number is
    not. (``Module.train`` passes ``error=ValueError``, the type PyTorch raises there.)"""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{where}: {name} is expected to be a bool, got {value!r}")
    return bool(value)


def choice(value, name: str, where: str, options) -> str:
    """One of `options`."""
    if value not in options:
        raise ValueError(f"{where}: {name} must be one of {tuple(options)}, got {value!r}")
    return value


def shape(value, name: str, where: str) -> tuple:
    """A positive int or a non-empty sequence of them, as a tuple (e.g. LayerNorm's
    ``normalized_shape``)."""
    dims = (value,) if _is_int(value) else value
    if not isinstance(dims, (tuple, list)) or not dims or not all(_is_int(n) and n > 0 for n in dims):
        raise ValueError(f"{where}: {name} must be a positive int or a non-empty tuple of them, "
                         f"got {value!r}")
    return tuple(int(n) for n in dims)
