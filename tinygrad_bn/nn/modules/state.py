"""Loading saved state into existing tensors, all or nothing.

``Module.load_state_dict`` and every ``Optimizer.load_state_dict`` load in two phases:

1. CHECK AND CONVERT every value, touching nothing: it must be present (``strict``), an array,
   Tensor or number (not None, a string, bytes or Python objects), of the target's shape, and
   castable to the target's dtype without changing its meaning. Each value is converted to the
   target's dtype and moved to its device here, so the second phase cannot fail half-way.
2. COPY the converted values into place.

Every problem of phase 1 is collected, so one error lists them all, each naming its key. On any
error the module (or optimizer) is exactly as it was.

"Without changing its meaning" is PyTorch's ``copy_`` rule made strict: float64 -> float32 is
allowed (the usual way to load a float64 file into a float32 model) unless a finite value would
overflow to infinity; a float -> an integer buffer (``num_batches_tracked``) only for whole,
finite numbers in range; an integer -> a narrower integer only within range; numbers -> bool only
when every value is 0 or 1. Complex numbers load only into complex targets.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ... import backend, dtypes
from ...autograd import no_grad
from ...tensor import Tensor

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateValueError(ValueError):
    """One value of a state_dict cannot be loaded; the message says why (the caller adds the key)."""


def as_numeric_array(value):
    """`value` (a Tensor, NumPy/CuPy array, NumPy scalar, Python number or nested list) as an
    array of numbers, without copying it; raises StateValueError for anything else."""
    if isinstance(value, Tensor):
        return value.array
    if backend.is_array(value):
        array = value
    elif value is None or isinstance(value, (str, bytes)):
        raise StateValueError(f"expected an array or a number, got {type(value).__name__} {value!r:.40}")
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as err:  # e.g. ragged nested lists
            raise StateValueError(f"cannot be read as an array ({err})") from None
    if array.dtype.kind not in dtypes.SUPPORTED_KINDS + "c":
        what = "Python objects" if array.dtype.hasobject else f"dtype {array.dtype}"
        raise StateValueError(f"expected numbers, got an array of {what}")
    return array


def convert(array, dtype, device: str):
    """`array` cast to `dtype` and moved to `device`; raises StateValueError when the cast would
    change a value's meaning (see the module docstring). May return `array` itself."""
    dtype = np.dtype(dtype)
    source = array.dtype
    if source != dtype:
        _check_cast(array, dtype)
        array = array.astype(dtype)
    return backend.to_device(array, device)


def _check_cast(array, dtype: np.dtype) -> None:
    xp = backend.get_array_module(backend.device_of(array))
    kind, source = dtype.kind, array.dtype.kind
    if array.size == 0 or kind == "c" or source == "b":
        return  # bool fits everything; complex holds everything
    if source == "c":
        raise StateValueError(f"complex values cannot be stored in {dtype} without losing their "
                              "imaginary part")
    if kind == "f":
        with np.errstate(over="ignore"):  # the overflow is what we look for, and report
            overflow = xp.isfinite(array) & ~xp.isfinite(array.astype(dtype))
        if bool(overflow.any()):
            bad = array[overflow].ravel()[0].item()
            raise StateValueError(f"value {bad!r} overflows {dtype}")
        return
    if kind == "b":
        if not bool(((array == 0) | (array == 1)).all()):
            raise StateValueError(f"values other than 0 and 1 cannot be stored as {dtype}")
        return
    # an integer target
    if source == "f":
        whole = xp.isfinite(array) & (array == xp.trunc(array))
        if not bool(whole.all()):
            bad = array[~whole].ravel()[0].item()
            raise StateValueError(f"value {bad!r} cannot be stored in {dtype} (not a whole number)")
    info = np.iinfo(dtype)
    low, high = array.min().item(), array.max().item()
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        raise StateValueError(f"value {bad!r} is out of range for {dtype} [{info.min}, {info.max}]")


# ---------------------------------------------------------------- modules
def load_module_state(module, state_dict, strict: bool = True) -> _IncompatibleKeys:
    """`Module.load_state_dict`: check and convert everything, then copy (see the module docstring)."""
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"expected a dict for state_dict, got {type(state_dict).__name__}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be a bool, got {strict!r}")
    own = OrderedDict(module._state_items())
    missing = [name for name in own if name not in state_dict]
    unexpected = [name for name in state_dict.keys() if name not in own]

    converted, problems = {}, []
    for name, target in own.items():
        if name not in state_dict:
            continue
        try:
            array = as_numeric_array(state_dict[name])
            if tuple(array.shape) != target.shape:
                problems.append(f"size mismatch for {name}: copying a value of shape "
                                f"{tuple(array.shape)} from the state_dict, the shape in the "
                                f"current model is {target.shape}.")
                continue
            converted[name] = convert(array, target.dtype, target.device)
        except StateValueError as err:
            problems.append(f'While copying the parameter named "{name}", whose shape in the current '
                            f"model is {target.shape} and dtype {target.dtype}: {err}.")

    errors = list(problems)
    if strict and unexpected:
        errors.insert(0, "Unexpected key(s) in state_dict: "
                      + ", ".join(f'"{k}"' for k in unexpected) + ".")
    if strict and missing:
        errors.insert(0, "Missing key(s) in state_dict: "
                      + ", ".join(f'"{k}"' for k in missing) + ".")
    if errors:
        raise RuntimeError(f"Error(s) in loading state_dict for {type(module).__name__}:\n\t"
                           + "\n\t".join(errors))

    # Phase 2 cannot fail: same shape, dtype and device. In place, under no_grad, as PyTorch's
    # param.copy_(value): each tensor keeps its identity (optimizers hold it) and its version
    # counter moves, so a graph built before the load refuses to backpropagate.
    with no_grad():
        for name, array in converted.items():
            own[name].copy_(Tensor._wrap(array))
    return _IncompatibleKeys(missing, unexpected)


__all__ = ["StateValueError", "as_numeric_array", "convert", "load_module_state"]
