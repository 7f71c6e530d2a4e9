"""The array backend: the ONLY module that knows CuPy exists.

A device name maps to an array module with NumPy's interface: ``'cpu'`` -> NumPy,
``'cuda'`` -> CuPy. Everything above this file asks ``get_array_module(device)`` (or reads
``ctx.xp`` inside an op) and calls the same functions on whichever module it gets, so the NumPy
and CuPy paths are one source. Where the two libraries differ, the difference is absorbed here,
behind a small function (``scatter_add``), never with an ``if cupy`` inside an op.
"""
from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

try:  # CuPy is an optional extra: `pip install -e .[cuda12]` or `.[cuda13]`
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy whose CUDA libraries fail to load
    _cupy = None

DEVICES = ("cpu", "cuda")


def _keep_freed_memory_for_reuse() -> bool:
    """Ask glibc's malloc to recycle large freed blocks instead of returning them to the OS.

    A training step allocates and frees the same activation-sized arrays (megabytes each) every
    step. By default glibc serves each from fresh `mmap` pages and unmaps it on free, so every
    step pays a page fault per 4 KiB and the kernel zeroes every page: measured here, a fused
    batch norm forward+backward on (256, 6, 24, 24) took 10.5 ms instead of 4.1 ms. Raising the
    mmap threshold (to glibc's 32 MiB maximum) and the trim threshold keeps those blocks in the
    heap for the next step: the same effect as PyTorch's caching allocators. The trim threshold
    (64 MiB) bounds the freed memory kept from the OS: LeNet's step ran 27.8 ms with 512 MiB,
    28.1 ms with 64 MiB and 38.4 ms with 16 MiB. This setting is process-wide; Linux/glibc
    only; set TINYGRAD_BN_NO_MALLOPT=1 to leave malloc alone.
    """
    if not sys.platform.startswith("linux") or os.environ.get("TINYGRAD_BN_NO_MALLOPT"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 * 2**20)
                    and libc.mallopt(M_TRIM_THRESHOLD, 64 * 2**20))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False


MALLOC_TUNED = _keep_freed_memory_for_reuse()


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


def to_numpy(array, copy: bool = False) -> np.ndarray:
    """A NumPy array, copied off the GPU when needed. With ``copy=True`` it never shares memory
    with `array` (a GPU array is copied exactly once, by the transfer itself)."""
    if device_of(array) == "cuda":
        return _cupy.asnumpy(array)
    return np.array(array, copy=True) if copy else np.asarray(array)


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
