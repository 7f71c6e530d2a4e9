"""cupy.ufunc on the CPU: NumPy computes, CuPy's rules decide.

A CuPy ufunc takes stand-in arrays and scalars only (a NumPy array or a list raises TypeError),
the keywords ``out``, ``dtype`` and ``casting`` only, and picks its loop the way CuPy 14 does:
the first loop in its table (recorded in cupy_names.json as ``'ff->f'``, ...) that every input
casts to safely, where Python scalars are "weak" (NEP 50: ``float32_array * 2.0`` stays float32).
The result has that loop's dtype even where NumPy's would differ (``erf`` of float16 is float64 in
CuPy; ``sign`` of bool is int8). Each call on more than zero elements is one kernel launch.
"""
from __future__ import annotations

import math

import numpy as np

from . import counting
from .array import COMPARISONS, ndarray, device_index, is_scalar, standins_in, unwrap, wrap
from .names import CLASSES, MODULES, check_call, check_keywords

MEMBERS = CLASSES["cupy.ufunc"]


def _parse_loop(text: str):
    ins, outs = text.split("->")
    return tuple(np.dtype(c) for c in ins), tuple(np.dtype(c) for c in outs)


def _kind_score(t) -> int:
    return 0 if issubclass(t, (bool, np.bool_)) else 1 if issubclass(t, (int, np.integer)) else 2


def _scalar_dtype(x) -> np.dtype:
    """The dtype CuPy gives a scalar argument (a Python int past int64 is uint64)."""
    if isinstance(x, np.generic):
        return x.dtype
    if type(x) is int:
        return np.dtype(np.uint64 if x >= 2**63 else np.int64)
    return np.dtype({bool: np.bool_, float: np.float64, complex: np.complex128}[type(x)])


class ufunc:
    """One CuPy ufunc: `compute` (a NumPy ufunc or function) does the arithmetic on inputs already
    cast to the loop CuPy would choose."""

    def __init__(self, name: str, compute, nin: int, nout: int, types: list[str], module="cupy"):
        self.__name__, self.name = name, f"cupy_{name}"
        self.nin, self.nout, self.nargs = nin, nout, nin + nout
        self.types = list(types)
        self._compute, self._qualname = compute, f"{module}.{name}"
        self._loops = [_parse_loop(t) for t in types if "V" not in t]
        self._cache: dict = {}

    def __repr__(self) -> str:
        return f"<ufunc '{self.name}'>"

    def __call__(self, *args, **kwargs):
        check_keywords(self._qualname, ("out", "dtype", "casting"), kwargs)
        out, dtype = kwargs.get("out"), kwargs.get("dtype")
        if not self.nin <= len(args) <= self.nargs:
            raise TypeError(f"Wrong number of arguments for {self.name!r}. It must be either {self.nin} "
                            f"or {self.nargs} (with outputs), but given {len(args)}.")
        inputs, outs = args[:self.nin], args[self.nin:]
        if out is not None:
            if outs:
                raise ValueError("Cannot specify 'out' as both a positional and keyword argument")
            outs = out if isinstance(out, tuple) else (out,)
        if any(not isinstance(o, ndarray) for o in outs):
            raise TypeError("Output arguments must be cupy.ndarray")
        for x in inputs:
            if not (isinstance(x, ndarray) or is_scalar(x)):
                raise TypeError(f"Unsupported type {type(x)}")
        in_types, out_types = self._resolve(inputs, None if dtype is None else np.dtype(dtype))
        operands = [x._a.astype(t, copy=False) if isinstance(x, ndarray) else np.asarray(x, dtype=t)
                    for x, t in zip(inputs, in_types)]
        with np.errstate(all="ignore"):
            results = self._compute(*operands)
        results = results if isinstance(results, tuple) else (results,)
        results = [np.asarray(r).astype(t, copy=False) for r, t in zip(results, out_types)]
        if results[0].size:
            counting.launch()
        if not outs:
            made = tuple(ndarray._make(r) for r in results)
            return made[0] if self.nout == 1 else made
        casting = kwargs.get("casting", "same_kind")
        for o, r in zip(outs, results):
            if not np.can_cast(r.dtype, o.dtype, casting):
                raise TypeError(f"output (typecode '{r.dtype.char}') could not be coerced to provided "
                                f"output parameter (typecode '{o.dtype.char}') according to the "
                                f"casting rule '{casting}'")
            np.copyto(o._a, r, casting="unsafe")
        return outs[0] if self.nout == 1 else tuple(outs)

    def _resolve(self, inputs, dtype):
        """CuPy's loop choice (_kernel.pyx, _Ops.guess_routine): ``(in dtypes, out dtypes)``."""
        if dtype is not None:
            for loop in self._loops:
                if all(t == dtype for t in loop[1]):
                    return loop
            raise TypeError(f"Wrong type ({dtype}) of arguments for {self.name}")
        types = tuple(x.dtype if isinstance(x, ndarray) else _scalar_dtype(x) for x in inputs)
        weaks = tuple(type(x) if type(x) in (int, float, complex) else False for x in inputs)
        if not _use_weak_scalars(types, weaks):
            weaks = (False,) * len(inputs)
        elif self.__name__ in COMPARISONS:  # CuPy's promote_weak_int: an int scalar against an
            (wa, wb), (ta, tb) = weaks, types  # integer array compares as int64: uint8_array < 300
            if wa is int and wb is False and tb.kind in "iu":
                weaks = (False, wb)
            elif wb is int and wa is False and ta.kind in "iu":
                weaks = (wa, False)
        key = (types, weaks)
        if key not in self._cache:
            self._cache[key] = next((loop for loop in self._loops if all(
                np.can_cast(t, lt) or (w and _weak_fits(w, lt)) for t, lt, w in zip(types, loop[0], weaks))),
                None)
        if self._cache[key] is None:
            raise TypeError(f"Wrong type ({types}) of arguments for {self.name}")
        return self._cache[key]

    # -------------------------------------------------------------- reduce, accumulate, ..., at
    def _numpy_method(self, method, args, kwargs):
        qualname = f"{self._qualname}.{method}"
        check_call(qualname, MEMBERS[method]["params"], args, kwargs)
        if not isinstance(self._compute, np.ufunc):
            raise NotImplementedError(f"the CuPy stand-in has no {qualname}")
        np_args = unwrap(args, qualname)
        np_kwargs = {k: unwrap(v, qualname) for k, v in kwargs.items()}
        with np.errstate(all="ignore"):
            result = getattr(self._compute, method)(*np_args, **np_kwargs)
        value, launched = wrap(result, standins_in([*args, *kwargs.values()]))
        if launched or kwargs.get("out") is not None:
            counting.launch()
        return value

    def reduce(self, *args, **kwargs):
        return self._numpy_method("reduce", args, kwargs)

    def accumulate(self, *args, **kwargs):
        return self._numpy_method("accumulate", args, kwargs)

    def reduceat(self, *args, **kwargs):
        return self._numpy_method("reduceat", args, kwargs)

    def outer(self, *args, **kwargs):
        return self._numpy_method("outer", args, kwargs)

    def at(self, a, indices, b=None):
        """a[indices] op= b, unbuffered: repeated indices accumulate (cupyx.scatter_add)."""
        if self.__name__ not in SCATTER_DTYPES:
            raise NotImplementedError(f"cupy.{self.__name__}.at is not supported")
        if not isinstance(a, ndarray):
            raise TypeError(f"Unsupported type {type(a)}")
        np_index, kind = device_index(indices, a.shape)
        if kind == "basic":  # CuPy: the ufunc on the indexed view, in place
            view = a[indices]
            self(view, b, out=view)
            return
        if kind == "int" and a.dtype.name not in SCATTER_DTYPES[self.__name__]:
            raise TypeError(f"cupy.{self.__name__}.at only supports "
                            f"{', '.join(SCATTER_DTYPES[self.__name__])} as data type")
        if isinstance(b, ndarray):
            values = b._a.astype(a.dtype, copy=False)
        else:
            values = np.array(b, dtype=a.dtype)
            counting.h2d()
        if kind == "mask":
            counting.sync()
        counting.launch()
        with np.errstate(all="ignore"):
            self._compute.at(a._a, np_index, values)


# The dtypes CuPy's atomics support when scattering through integer-array indices
# (_routines_indexing.pyx, _scatter_op_single).
SCATTER_DTYPES = {
    "add": ("int32", "int64", "float16", "float32", "float64", "uint32", "uint64"),
    "subtract": ("int32", "uint32"),
    "maximum": ("int32", "int64", "float32", "float64", "uint32", "uint64"),
    "minimum": ("int32", "int64", "float32", "float64", "uint32", "uint64"),
    "bitwise_and": ("int32", "int64", "uint32", "uint64"),
    "bitwise_or": ("int32", "int64", "uint32", "uint64"),
    "bitwise_xor": ("int32", "int64", "uint32", "uint64"),
}


def _use_weak_scalars(types, weaks) -> bool:
    """CuPy's _check_should_use_weak_scalar: Python scalars stay weak only beside arrays (or NumPy
    scalars) of at least their kind (bool < int < float), so ``uint8_array + 1`` stays uint8 while
    ``int_array + 0.5`` is float64."""
    scalar_kinds = [_kind_score(w) for w in weaks if w]
    array_kinds = [_kind_score(t.type) for t, w in zip(types, weaks) if not w]
    return bool(scalar_kinds and array_kinds) and max(array_kinds) >= max(scalar_kinds)


def _weak_fits(weak_type, loop_type) -> bool:
    try:
        return np.result_type(weak_type(0), loop_type) == loop_type
    except TypeError:
        return False


def _erf(x):
    """The error function on the CPU (NumPy has none): Python's math.erf per element."""
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _make_ufuncs(module: str, computes) -> dict:
    """Every ufunc of CuPy's `module` that `computes` (NumPy, or a dict) has a function for."""
    made = {}
    for name, entry in MODULES[module].items():
        compute = computes.get(name) if isinstance(computes, dict) else getattr(computes, name, None)
        if entry["kind"] == "ufunc" and callable(compute):
            made[name] = ufunc(name, compute, entry["nin"], entry["nout"], entry["types"], module)
    return made


UFUNCS = _make_ufuncs("cupy", np)
SPECIAL_UFUNCS = _make_ufuncs("cupyx.scipy.special", {"erf": _erf})
# ndarray's operators use NumPy's names for two of them
UFUNCS.setdefault("left_shift", UFUNCS["bitwise_left_shift"])
UFUNCS.setdefault("right_shift", UFUNCS["bitwise_right_shift"])
