"""The array backend: the ONLY module that knows CuPy exists.

A device name maps to an array module with NumPy's interface: ``'cpu'`` -> NumPy,
``'cuda'`` -> CuPy. Everything above this file asks ``get_array_module(device)`` (or reads
``ctx.xp`` inside an op) and calls the same functions on whichever module it gets, so the NumPy
and CuPy paths are one source. Where the two libraries differ, the difference is absorbed here,
behind a small function (``scatter_add``), never with an ``if cupy`` inside an op.
"""
from __future__ import annotations

import math
import sys

import numpy as np

try:  # CuPy is an optional extra: `pip install -e .[cuda12]` or `.[cuda13]`
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy whose CUDA libraries fail to load
    _cupy = None

DEVICES = ("cpu", "cuda")


def cuda_is_available() -> bool:
    """True when CuPy is installed, sees a GPU, and its first kernels run. Never raises; the
    reason when not is ``cuda_status()[1]``."""
    return cuda_status()[0]


_cuda_status = None  # (available, reason), found once: see cuda_status


def cuda_status() -> tuple[bool, str]:
    """(available, why not) for device 'cuda', tested once per process: CuPy imports, sees a
    GPU, and runs an elementwise kernel, a matrix product and a random draw. The last part
    matters: CuPy 14's wheels carry no NVRTC/cuBLAS/cuRAND, so on a machine with only the GPU
    driver CuPy imports and counts the GPU, then fails at its first kernel (install the
    ``[ctk]`` extra of cupy-cuda12x / cupy-cuda13x, as tinygrad_bn's cuda12 / cuda13 extras do)."""
    global _cuda_status
    if _cuda_status is None:
        _cuda_status = _probe_cuda()
    return _cuda_status


def _probe_cuda() -> tuple[bool, str]:
    if _cupy is None:
        return False, "CuPy is not installed (pip install -e '.[cuda12]' or '.[cuda13]')"
    try:
        if _cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "CuPy is installed but sees no GPU"
    except Exception as err:
        return False, f"CuPy is installed but cannot reach a GPU ({err})"
    try:
        a = _cupy.arange(4, dtype=np.float32).reshape(2, 2)
        ((a * 2 + 1) @ a).sum()
        _cupy.random.default_rng(0).random(2, dtype=np.float32)
        _cupy.cuda.Device().synchronize()
    except Exception as err:
        return False, (f"CuPy sees a GPU but its first kernels fail ({type(err).__name__}: {err}); "
                       "install CuPy with its CUDA libraries: pip install -e '.[cuda12]' or '.[cuda13]'")
    return True, ""


def synchronize(device) -> None:
    """Wait until `device` has finished the work queued on it (a no-op on the CPU). CuPy calls
    return as soon as their kernels are queued: read a clock only after this."""
    if check_device(device) == "cuda":
        _cupy.cuda.Device().synchronize()


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or a GPU). Never raises."""
    if not cuda_is_available():
        return 0
    try:
        return int(_cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


class device:
    """A device, as ``torch.device``: ``device('cpu')``, ``device('cuda')``, ``device('cuda:0')``
    or ``device('cuda', 0)``. Accepted wherever a device is; ``str(d)`` is its name, and it
    compares equal to that name (``tensor.device`` is the plain string ``'cpu'`` or ``'cuda'``).
    """

    def __init__(self, type, index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, number = str(type).partition(":")
        if name not in DEVICES:
            raise ValueError(f"unknown device {type!r}; expected one of {DEVICES}")
        if number:
            if index is not None or not number.isdigit():
                raise ValueError(f"invalid device string {type!r}")
            index = int(number)
        if index is not None and (name == "cpu" and index != 0 or index < 0):
            raise ValueError(f"invalid device index {index} for {name}")
        self.type, self.index = name, index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, (device, str)):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


def check_device(device_) -> str:
    """Normalise a device ('cpu', 'cuda', 'cuda:0' or a `device`) to 'cpu' or 'cuda', and make
    sure it can be used (only the current GPU, index 0, is supported)."""
    d = device(device_)
    if d.type == "cuda":
        if not cuda_is_available():
            raise RuntimeError(f"device 'cuda' is not available: {cuda_status()[1]}")
        if d.index not in (None, 0):
            raise RuntimeError(f"device {d} is not supported: tinygrad_bn uses one GPU, cuda:0")
    return d.type


def get_array_module(device: str):
    """The array module (numpy or cupy) that holds arrays of `device`."""
    if device == "cpu":  # every op asks: skip parsing the common case
        return np
    return _cupy if check_device(device) == "cuda" else np


def device_of(array) -> str:
    """'cuda' for a CuPy array, 'cpu' for anything else."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return "cuda"
    return "cpu"


def is_array(obj) -> bool:
    return isinstance(obj, np.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray))


_constants: dict = {}  # (device, dtype, value) -> a 0-d array holding it; see `constant`


def constant(value, dtype, device: str):
    """A read-only 0-d array of `value` on `device`, made once and reused: a Python number in
    ``x * 0.5`` would otherwise be copied to the GPU at every use. (Keyed by the value's repr,
    so 0.0 and -0.0 stay apart.)"""
    key = (device, np.dtype(dtype).str, type(value), repr(value))
    array = _constants.get(key)
    if array is None:
        if len(_constants) >= 4096:  # many distinct values (a schedule's lr): start over
            _constants.clear()
        array = get_array_module(device).asarray(value, dtype=dtype)
        if isinstance(array, np.ndarray):
            array.flags.writeable = False  # shared by every op that uses the number
        _constants[key] = array
    return array


def is_scalar(obj) -> bool:
    """True for a NumPy scalar (what NumPy returns for 0-d results instead of an array)."""
    return isinstance(obj, np.generic)


def as_0d_array(scalar):
    """A NumPy scalar as a 0-d array."""
    return np.asarray(scalar)


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
        _cupyx_module().scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)


def erf(x):
    """The error function, elementwise, in x's precision: ``cupyx.scipy.special.erf`` on a GPU;
    on the CPU (NumPy has none) ``_erf_cody`` in float64, then rounded to x's dtype."""
    if x.dtype.kind != "f":  # an integer result would truncate erf to 0 or ±1
        raise TypeError(f"erf needs a floating point array, got {x.dtype}")
    if device_of(x) == "cuda":
        return _cupyx_module().scipy.special.erf(x)
    return np.asarray(_erf_cody(np.asarray(x, dtype=np.float64))).astype(x.dtype, copy=False)


# W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969, 631-637; the
# coefficients of his SPECFUN routine CALERF). Evaluated in float64 as below, erf lies within
# 6 ulp of math.erf (just above 0.46875, where 1 − erfc halves the spacing; 4 ulp elsewhere).
_ERF_SMALL = ((3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
               3.20937758913846947e03, 1.85777706184603153e-1),
              (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
               2.84423683343917062e03))
_ERFC_MIDDLE = ((5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
                 2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
                 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8),
                (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                 3.43936767414372164e03, 1.23033935480374942e03))
_ERFC_LARGE = ((3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
                1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2),
               (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
                6.05183413124413191e-2, 2.33520497626869185e-3))


def _rational(t, coefficients):
    """Cody's R(t) = P(t)/Q(t), his nesting: the last numerator coefficient leads and the one
    before it is added at the end; Q is monic."""
    p, q = coefficients
    num, den = p[-1] * t, t
    for a, b in zip(p[:len(q) - 1], q[:-1]):
        num, den = (num + a) * t, (den + b) * t
    return (num + p[len(q) - 1]) / (den + q[-1])


def _erf_cody(x):
    """erf of a float64 array, vectorised: |x| ≤ 0.46875 as x·R(x²); beyond, 1 − erfc(|x|)
    with erfc(y) = e^(−y²)·R(y) up to 4 and e^(−y²)/y·(1/√π − R(1/y²)/y²) after, e^(−y²)
    taken as e^(−s²)·e^(−(y−s)(y+s)) with s = y rounded down to 1/16 (exact s²). Each formula
    runs on the whole array and ``where`` keeps the right one (picking elements out by a mask
    and putting them back cost more than the formulas); NaN stays NaN, ±inf gives ±1."""
    y = np.abs(x)
    with np.errstate(all="ignore"):  # a formula outside its range may overflow: it is not kept
        near_zero = x * _rational(x * x, _ERF_SMALL)
        if (y <= 0.46875).all():
            return near_zero
        erfc = _rational(y, _ERFC_MIDDLE)
        if (y > 4.0).any():
            r = 1 / (y * y)
            far = (1 / math.sqrt(math.pi) - r * _rational(r, _ERFC_LARGE)) / y
            erfc = np.where(y <= 4.0, erfc, far)
        s = np.floor(y * 16) / 16
        erfc *= np.exp(-s * s) * np.exp(-(y - s) * (y + s))
        erfc = np.where(y >= 27.0, 0.0, erfc)  # e^(−27²) underflows; at inf the split gives NaN
        return np.where(y <= 0.46875, near_zero, np.copysign((0.5 - erfc) + 0.5, x))


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


# ---------------------------------------------------------------- cupyx, and the seam for tests
# cupyx (scatter_add, scipy.special.erf) is imported on first use: most programs never need it.
_cupyx = None


def _cupyx_module():
    global _cupyx
    if _cupyx is None:
        import cupyx.scipy.special  # noqa: F401  (loads cupyx and the submodule erf needs)
        _cupyx = sys.modules["cupyx"]
    return _cupyx


def _use_cuda_module(cupy_module, cupyx_module):
    """Tests only: make `cupy_module` (and `cupyx_module`) what 'cuda' runs on, in place of CuPy.

    The test suite passes a strict CPU stand-in for CuPy here (tests/standin, ``pytest
    --cuda=standin``) so that the cuda path runs on machines without a GPU. Returns the modules
    it replaced, to be handed back the same way. Forgets the cuda random generator (it belongs
    to the old module).
    """
    global _cupy, _cupyx, _cuda_status
    previous = (_cupy, _cupyx)
    _cupy, _cupyx = cupy_module, cupyx_module
    _rngs.pop("cuda", None)
    _constants.clear()      # arrays of the old module
    _cuda_status = None     # to be probed again
    return previous
