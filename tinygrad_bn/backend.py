"""The array backend: the ONLY module that knows CuPy exists.

A device name maps to an array module with NumPy's interface: ``'cpu'`` -> NumPy,
``'cuda'`` -> CuPy. Everything above this file asks ``get_array_module(device)`` (or reads
``ctx.xp`` inside an op) and calls the same functions on whichever module it gets, so the NumPy
and CuPy paths are one source. Where the two libraries differ, the difference is absorbed here,
behind a small function (``scatter_add``), never with an ``if cupy`` inside an op.
"""
from __future__ import annotations

import numpy as np

try:  # CuPy is an optional extra: `pip install -e .[cuda12]` or `.[cuda13]`
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy whose CUDA libraries fail to load
    _cupy = None

DEVICES = ("cpu", "cuda")


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU. Never raises."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def check_device(device) -> str:
    """Normalise a device name ('cpu', 'cuda', 'cuda:0') and make sure it can be used."""
    name = str(device).split(":")[0]
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    if name == "cuda" and not cuda_is_available():
        why = ("CuPy is not installed (pip install -e .[cuda12] or .[cuda13])" if _cupy is None
               else "CuPy is installed but sees no GPU")
        raise RuntimeError(f"device 'cuda' is not available: {why}")
    return name


def get_array_module(device: str):
    """The array module (numpy or cupy) that holds arrays of `device`."""
    return _cupy if check_device(device) == "cuda" else np


def device_of(array) -> str:
    """'cuda' for a CuPy array, 'cpu' for anything else."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return "cuda"
    return "cpu"


def is_array(obj) -> bool:
    return isinstance(obj, np.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray))


def to_device(array, device: str):
    """Move an array to `device` (a no-op when it is already there)."""
    device = check_device(device)
    if device_of(array) == device:
        return array
    return _cupy.asarray(array) if device == "cuda" else _cupy.asnumpy(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy array, copied off the GPU when needed."""
    return _cupy.asnumpy(array) if device_of(array) == "cuda" else np.asarray(array)


def scatter_add(target, index, values) -> None:
    """target[index] += values, where repeated indices ACCUMULATE (plain `+=` would keep one).

    NumPy spells this ``np.add.at``; CuPy ``cupyx.scatter_add``.
    """
    if device_of(target) == "cuda":
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)


# ---------------------------------------------------------------- random numbers
# One generator per device, reseeded together by `manual_seed`, so a run is reproducible.
_rngs: dict = {}


def manual_seed(seed: int) -> None:
    _rngs.clear()
    _rngs["seed"] = int(seed)


def rng(device: str):
    """The random Generator of `device` (NumPy's or CuPy's; both have .random/.standard_normal)."""
    device = check_device(device)
    if device not in _rngs:
        seed = _rngs.get("seed")
        xp = get_array_module(device)
        _rngs[device] = xp.random.default_rng(seed)
    return _rngs[device]


def get_rng_state() -> dict:
    """The CPU generator's state (a dict of plain values), for checkpoints."""
    return rng("cpu").bit_generator.state


def set_rng_state(state: dict) -> None:
    rng("cpu").bit_generator.state = state
