"""cupy.ndarray on the CPU: a NumPy array kept private (`_a`) behind CuPy's rules.

What CuPy refuses, this refuses: implicit conversion to NumPy (``np.asarray(a)`` raises TypeError;
``a.get()`` is the way), NumPy arrays as operands, names and keywords CuPy's ndarray lacks. What
CuPy does differently from NumPy, this does too: reductions and ``a[0]`` give 0-d arrays (never
NumPy scalars), views know their owner in ``.base``, integer-array indices wrap around instead
of raising, ``a[:] = [1, 2]`` (a host sequence through a basic index) raises. Every kernel launch,
host sync and host->device copy is counted (counting.py).
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from . import counting
from .names import CLASSES, CUPY_VERSION, check_call

MEMBERS = CLASSES["cupy.ndarray"]
PYTHON_SCALARS = (bool, int, float, complex)  # exact types, as CuPy's kernel arguments take them
COMPARISONS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
# Methods that read values back to the host (a sync) or write the array in place (a launch).
SYNCING_METHODS = {"tobytes", "tofile", "dump", "dumps", "nonzero", "compress"}
INPLACE_METHODS = {"sort", "partition", "put"}


def is_scalar(x) -> bool:
    """A value CuPy passes to a kernel as a scalar: a Python or NumPy number (not a 0-d array)."""
    return type(x) in PYTHON_SCALARS or (isinstance(x, np.generic) and x.dtype.kind in "biufc")


def check_dtype(dtype) -> np.dtype:
    """CuPy holds booleans and numbers only: no object, string, datetime or long double arrays."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc" or dtype.itemsize > {"f": 8, "c": 16}.get(dtype.kind, 8):
        raise ValueError(f"Unsupported dtype {dtype}")
    return dtype


def from_host(obj, dtype=None, order="K", ndmin=0) -> ndarray:
    """A host->device copy (counted). The device array never aliases the host memory."""
    a = np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    check_dtype(a.dtype)
    counting.h2d()
    return ndarray._make(a)


# ---------------------------------------------------------------- between NumPy and the stand-in
def unwrap(x, qualname: str, host_ok: bool = False):
    """Stand-in arrays -> their NumPy arrays (inside lists and tuples too). A NumPy array raises
    TypeError, as in CuPy: a host array never silently becomes a device operand."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        if host_ok:
            return x
        raise TypeError(f"{qualname}: Unsupported type {type(x)}: CuPy takes no NumPy arrays here "
                        "(move it with cupy.asarray first)")
    if type(x) in (list, tuple):
        return type(x)(unwrap(item, qualname, host_ok) for item in x)
    return x


def standins_in(values) -> list:
    """The stand-in arrays among `values`, looking inside lists and tuples."""
    found = []
    for v in values:
        if isinstance(v, ndarray):
            found.append(v)
        elif type(v) in (list, tuple):
            found.extend(standins_in(v))
    return found


def wrap(result, sources=()):
    """A NumPy result as the stand-in's: ``(value, launched)``.

    The very array of a source is that source (``asarray(a) is a``); an array sharing a source's
    memory is a view whose ``.base`` is the source's owner, as in CuPy; anything else is a new
    device array (`launched`: a kernel wrote it). NumPy scalars become 0-d arrays.
    """
    if type(result) in (tuple, list):
        pairs = [wrap(r, sources) for r in result]
        return type(result)(v for v, _ in pairs), any(launched for _, launched in pairs)
    if isinstance(result, np.generic):
        result = np.asarray(result)
    if not isinstance(result, np.ndarray):
        return result, False
    for s in sources:
        if result is s._a:
            return s, False
    for s in sources:
        if np.may_share_memory(result, s._a):
            return ndarray._make(result, base=s._owner()), False
    check_dtype(result.dtype)
    return ndarray._make(result), result.size > 0


# ---------------------------------------------------------------- indices
def device_index(index, shape):
    """An index as NumPy takes it, and its kind: 'basic' (ints, slices, None, ...), 'int' (some
    integer array) or 'mask' (some boolean array).

    Lists and NumPy arrays in the index are copied to the device (counted), as CuPy does. Integer
    array indices wrap around out-of-bounds values (CuPy's rule; NumPy raises IndexError).
    """
    items = list(index) if type(index) is tuple else [index]
    kind = "basic"
    for i, s in enumerate(items):
        if s is None or s is Ellipsis or isinstance(s, slice):
            continue
        if isinstance(s, ndarray):
            array = s._a
        elif np.isscalar(s) and not isinstance(s, (bool, np.bool_)):
            continue  # an integer stays a basic index (NumPy raises for a float, as CuPy does)
        else:
            array = np.asarray(s)
            if type(s) in (list, tuple) and array.size == 0:
                array = array.astype(np.int32)  # an empty list is empty indices, not a mask
            counting.h2d()
        if array.dtype.kind not in "biu":
            raise IndexError("arrays used as indices must be of integer or boolean type "
                             f"(actual: {array.dtype.type})")
        items[i] = array
        kind = "mask" if array.dtype.kind == "b" else ("int" if kind == "basic" else kind)
    if kind != "basic":
        _wrap_out_of_bounds(items, shape)
    return tuple(items), kind


def _wrap_out_of_bounds(items, shape) -> None:
    def width(s):  # axes of the array an index item consumes
        if s is None or s is Ellipsis:
            return 0
        return s.ndim if isinstance(s, np.ndarray) and s.dtype.kind == "b" else 1

    axis = 0
    for i, s in enumerate(items):
        if s is Ellipsis:
            axis += len(shape) - sum(width(t) for t in items)
            continue
        if isinstance(s, np.ndarray) and s.dtype.kind in "iu" and axis < len(shape) and shape[axis]:
            items[i] = s % shape[axis]
        axis += width(s)


# ---------------------------------------------------------------- the array
class Flags:
    """cupy.ndarray.flags: c_contiguous, f_contiguous, owndata (no `writeable`: CuPy has none)."""

    def __init__(self, c_contiguous, f_contiguous, owndata):
        self.c_contiguous, self.f_contiguous, self.owndata = c_contiguous, f_contiguous, owndata

    fnc = property(lambda self: self.f_contiguous and not self.c_contiguous)
    forc = property(lambda self: self.f_contiguous or self.c_contiguous)

    def __getitem__(self, name):
        keys = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous", "OWNDATA": "owndata"}
        if name not in keys:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return getattr(self, keys[name])


def _should_use_rop(x, y) -> bool:
    """CuPy's NEP 13 rule for `x op y` with a non-CuPy `y`: defer to y's reflected operator?"""
    y_ufunc = getattr(y, "__array_ufunc__", _should_use_rop)
    if y_ufunc is not _should_use_rop:
        return y_ufunc is None
    return getattr(x, "__array_priority__", 0) < getattr(y, "__array_priority__", 0)


def _binary(name, reflected=False):
    """`a + b` and friends as CuPy has them: the stand-in's ufunc for stand-in arrays and
    scalars; anything else goes through NumPy's ufunc, so NEP 13 decides (a NumPy array
    operand then reaches the stand-in's ufunc, which refuses it)."""
    def operator(self, other):
        if isinstance(other, ndarray) or is_scalar(other):
            uf = UFUNCS[name]
            return uf(other, self) if reflected else uf(self, other)
        if _should_use_rop(self, other):
            return NotImplemented
        np_ufunc = getattr(np, name)
        return np_ufunc(other, self) if reflected else np_ufunc(self, other)
    return operator


def _inplace(name):
    def operator(self, other):
        return UFUNCS[name](self, other, out=self)
    return operator


class ndarray:
    """cupy.ndarray, held in NumPy. Construct through the stand-in's cupy functions."""

    __slots__ = ("_a", "_base", "__weakref__")
    __array_priority__ = 100
    __hash__ = None  # unhashable, as CuPy's

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("the CuPy stand-in has no device memory pointers")
        self._a = np.empty(shape, check_dtype(dtype), order=order)  # an allocation, no kernel
        self._base = None

    @classmethod
    def _make(cls, array: np.ndarray, base: ndarray | None = None) -> ndarray:
        obj = cls.__new__(cls)
        obj._a, obj._base = array, base
        return obj

    def _owner(self) -> ndarray:
        return self if self._base is None else self._base

    def _view(self, array: np.ndarray) -> ndarray:
        return ndarray._make(array, base=self._owner())

    def __getattr__(self, name):
        """CuPy's other methods (sum, reshape, transpose, ...), computed by NumPy's."""
        entry = MEMBERS.get(name)
        if entry is None or name.startswith("_"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        if entry["kind"] != "method" or not hasattr(np.ndarray, name):
            raise AttributeError(f"cupy.ndarray.{name} exists in CuPy {CUPY_VERSION}, but the CPU "
                                 "stand-in does not implement it (tests/standin/array.py)")
        return functools.partial(_method, self, name, entry["params"])

    # -------------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple:
        return self._a.shape

    @shape.setter
    def shape(self, shape):
        try:
            self._a = np.reshape(self._a, shape, copy=False)
        except ValueError:
            raise AttributeError("incompatible shape") from None

    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    base = property(lambda self: self._base)
    T = property(lambda self: self._view(self._a.T))
    mT = property(lambda self: self._view(self._a.mT))
    real = property(lambda self: wrap(self._a.real, (self,))[0])
    imag = property(lambda self: wrap(self._a.imag, (self,))[0])

    @property
    def flags(self) -> Flags:
        return Flags(self._a.flags.c_contiguous, self._a.flags.f_contiguous, self._base is None)

    @property
    def device(self):
        from .cuda import Device
        return Device(0)

    # -------------------------------------------------------------- to and from the host
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None, blocking=True) -> np.ndarray:
        """A NumPy copy: a device->host read, so a sync."""
        counting.sync()
        if out is not None:
            if not isinstance(out, np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            if out.dtype != self.dtype or out.shape != self.shape:
                raise ValueError(f"{out.dtype}{out.shape} array cannot be obtained from "
                                 f"{self.dtype}{self.shape} array")
            np.copyto(out, self._a)
            return out
        if order == "A":
            order = "F" if self._a.flags.f_contiguous and not self._a.flags.c_contiguous else "C"
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None) -> None:
        """Copy a NumPy array of the same dtype and shape into this one (host->device)."""
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        counting.h2d()
        np.copyto(self._a, arr)

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.get().item()

    def tolist(self):
        return self.get().tolist()

    def __int__(self):
        return int(self.get())

    def __float__(self):
        return float(self.get())

    def __complex__(self):
        return complex(self.get())

    def __bool__(self):
        if self.size == 0:
            warnings.warn("The truth value of an empty array is ambiguous. Returning False, but in "
                          "future this will result in an error. Use `array.size > 0` to check that "
                          "an array is not empty.", DeprecationWarning, stacklevel=2)
            return False
        if self.size == 1:
            return bool(self.get())
        raise ValueError("The truth value of an array with more than one element is ambiguous. "
                         "Use a.any() or a.all()")

    def __repr__(self) -> str:
        return repr(self.get())

    def __str__(self) -> str:
        return str(self.get())

    def __format__(self, spec) -> str:
        return format(self.get(), spec)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    # -------------------------------------------------------------- copies and casts
    def copy(self, order="C") -> ndarray:
        counting.launch()
        return ndarray._make(self._a.copy(order=order))

    __copy__ = copy

    def __deepcopy__(self, memo) -> ndarray:
        return self.copy()

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True) -> ndarray:
        if subok is not None:
            raise TypeError("subok is not supported yet")
        dtype = check_dtype(dtype)
        if not copy and dtype == self.dtype and (order in "KA" or self._a.flags[f"{order}_CONTIGUOUS"]):
            return self
        counting.launch()
        return ndarray._make(self._a.astype(dtype, order=order, casting=casting or "unsafe"))

    def view(self, dtype=None, type=None) -> ndarray:
        if type is not None:
            raise NotImplementedError("the CuPy stand-in has no ndarray subclasses")
        return self._view(self._a.view() if dtype is None else self._a.view(check_dtype(dtype)))

    def fill(self, value) -> None:
        """Every element := a scalar (a 0-d array is fine; anything bigger raises, as in CuPy)."""
        if isinstance(value, ndarray):
            if value.shape != ():
                raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
            value = value._a
        else:
            value = np.asarray(value, dtype=self.dtype)
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        counting.launch()
        self._a[...] = value

    def take(self, indices, axis=None, out=None) -> ndarray:
        """Gather along `axis`; out-of-bounds indices wrap around (CuPy's rule)."""
        if isinstance(indices, ndarray):
            indices = indices._a
        else:
            indices = np.asarray(indices)
            counting.h2d()
        counting.launch()
        if out is not None:
            self._a.take(indices, axis=axis, out=out._a, mode="wrap")
            return out
        return ndarray._make(self._a.take(indices, axis=axis, mode="wrap"))

    # -------------------------------------------------------------- indexing
    def __getitem__(self, index) -> ndarray:
        np_index, kind = device_index(index, self.shape)
        if kind == "basic":
            if not any(s is Ellipsis for s in np_index):
                np_index += (Ellipsis,)  # a 0-d view even when every axis gets an int: CuPy's a[0]
            return self._view(self._a[np_index])
        if kind == "mask":
            counting.sync()  # CuPy reads the number of True values back to size the result
        counting.launch()
        result = self._a[np_index]
        return ndarray._make(result.copy() if np.may_share_memory(result, self._a) else result)

    def __setitem__(self, index, value) -> None:
        np_index, kind = device_index(index, self.shape)
        if isinstance(value, ndarray):
            value = value._a
        elif kind == "basic":  # CuPy fills: the value must be a scalar, never a host sequence
            value = np.asarray(value, dtype=self.dtype)
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        else:  # scattered through an advanced index, host values travel to the device
            value = np.array(value, dtype=self.dtype)
            counting.h2d()
        if kind == "mask":
            counting.sync()
        counting.launch()
        with np.errstate(all="ignore"):
            self._a[np_index] = value

    # -------------------------------------------------------------- NumPy's protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``np.exp(a)`` runs the stand-in's exp, as ``np.exp(cupy_array)`` runs CuPy's."""
        from .modules import cupy, cupyx
        inout = inputs
        if "out" in kwargs:
            out = kwargs["out"]
            if len(out) != 1:
                raise ValueError("The 'out' parameter must have exactly one array value")
            inout += out
            kwargs["out"] = out[0]
        name = ufunc.__name__
        func = getattr(cupy, name, None) or getattr(cupyx.scipy.special, name, None)
        if func is None or method != "__call__" and not hasattr(func, method):
            return NotImplemented
        func = func if method == "__call__" else getattr(func, method)
        if not all(is_scalar(x) or isinstance(x, (ndarray, np.ndarray)) for x in inout):
            return NotImplemented
        if name in COMPARISONS:  # CuPy's workaround for numpy/numpy#12142
            inputs = tuple(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x for x in inputs)
        return func(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """``np.sum(a)`` runs the stand-in's cupy.sum; a NumPy function CuPy lacks raises."""
        from .modules import cupy
        try:
            module = functools.reduce(getattr, func.__module__.split(".")[1:], cupy)
            cupy_func = getattr(module, func.__name__)
        except AttributeError:
            return NotImplemented
        if cupy_func is func or not all(issubclass(t, (ndarray, np.ndarray)) for t in types):
            return NotImplemented
        return cupy_func(*args, **kwargs)

    # -------------------------------------------------------------- operators
    __add__, __radd__ = _binary("add"), _binary("add", reflected=True)
    __sub__, __rsub__ = _binary("subtract"), _binary("subtract", reflected=True)
    __mul__, __rmul__ = _binary("multiply"), _binary("multiply", reflected=True)
    __truediv__, __rtruediv__ = _binary("true_divide"), _binary("true_divide", reflected=True)
    __floordiv__, __rfloordiv__ = _binary("floor_divide"), _binary("floor_divide", reflected=True)
    __mod__, __rmod__ = _binary("remainder"), _binary("remainder", reflected=True)
    __divmod__, __rdivmod__ = _binary("divmod"), _binary("divmod", reflected=True)
    __lshift__, __rlshift__ = _binary("left_shift"), _binary("left_shift", reflected=True)
    __rshift__, __rrshift__ = _binary("right_shift"), _binary("right_shift", reflected=True)
    __and__, __rand__ = _binary("bitwise_and"), _binary("bitwise_and", reflected=True)
    __or__, __ror__ = _binary("bitwise_or"), _binary("bitwise_or", reflected=True)
    __xor__, __rxor__ = _binary("bitwise_xor"), _binary("bitwise_xor", reflected=True)
    __lt__, __le__ = _binary("less"), _binary("less_equal")
    __gt__, __ge__ = _binary("greater"), _binary("greater_equal")

    _power, _rpower = _binary("power"), _binary("power", reflected=True)
    _equal, _not_equal = _binary("equal"), _binary("not_equal")

    def __pow__(self, other, modulo=None):
        return self._power(other)

    def __rpow__(self, other, modulo=None):
        return self._rpower(other)

    def __matmul__(self, other):
        from .modules import cupy
        if isinstance(other, ndarray) or is_scalar(other):
            return cupy.matmul(self, other)
        return NotImplemented if _should_use_rop(self, other) else np.matmul(self, other)

    def __rmatmul__(self, other):
        from .modules import cupy
        if is_scalar(other):
            return cupy.matmul(other, self)
        return NotImplemented if _should_use_rop(self, other) else np.matmul(other, self)

    def __eq__(self, other):
        if other is None or type(other).__eq__ is object.__eq__:  # CuPy: never equal to an element
            return ndarray._make(np.zeros(self.shape, dtype=bool))
        return self._equal(other)

    def __ne__(self, other):
        if other is None or type(other).__eq__ is object.__eq__ and type(other).__ne__ is object.__ne__:
            return ndarray._make(np.ones(self.shape, dtype=bool))
        return self._not_equal(other)

    __iadd__, __isub__, __imul__ = _inplace("add"), _inplace("subtract"), _inplace("multiply")
    __itruediv__, __ifloordiv__ = _inplace("true_divide"), _inplace("floor_divide")
    __imod__, __ipow__ = _inplace("remainder"), _inplace("power")
    __ilshift__, __irshift__ = _inplace("left_shift"), _inplace("right_shift")
    __iand__, __ior__, __ixor__ = _inplace("bitwise_and"), _inplace("bitwise_or"), _inplace("bitwise_xor")

    def __neg__(self):
        return UFUNCS["negative"](self)

    def __pos__(self):
        return UFUNCS["positive"](self)

    def __abs__(self):
        return UFUNCS["absolute"](self)

    def __invert__(self):
        return UFUNCS["invert"](self)


def _method(self: ndarray, name: str, params, *args, **kwargs):
    """ndarray.<name>(...) by NumPy's method of the same name, after CuPy's signature check."""
    qualname = f"cupy.ndarray.{name}"
    check_call(qualname, params, args, kwargs)
    np_args = unwrap(args, qualname)
    np_kwargs = {k: unwrap(v, qualname) for k, v in kwargs.items()}
    with np.errstate(all="ignore"):
        result = getattr(self._a, name)(*np_args, **np_kwargs)
    value, launched = wrap(result, [self, *standins_in(args), *standins_in(kwargs.values())])
    if launched or kwargs.get("out") is not None or name in INPLACE_METHODS:
        counting.launch()
    if name in SYNCING_METHODS:
        counting.sync()
    return value


from .ufunc import UFUNCS  # noqa: E402  (ufunc.py builds on ndarray, defined above)
