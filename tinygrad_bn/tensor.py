"""Tensor: an array (NumPy or CuPy) plus the link into the autograd graph.

Every differentiable method is one call of an op's ``apply`` (``ops/``) or a short composition
of such calls; the composition's math is in the trailing comment. Non-differentiable methods
(comparisons, argmax) work on the arrays directly and return tensors without a graph.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import autograd, backend
from .ops import elementwise as E
from .ops import matmul as M
from .ops import movement as V
from .ops import reduce as R
from .ops.utils import normalize_dims

_SUPPORTED_KINDS = "biuf"  # bool, signed/unsigned int, float; no complex, object, strings


def _as_dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


def _to_array(data, dtype, device):
    """Turn user data into a backend array following PyTorch's rules:
    Python floats (and lists of them) -> float32, Python ints -> int64, NumPy arrays keep theirs."""
    if isinstance(data, Tensor):
        arr = data.data.copy()
    elif backend.is_array(data) or isinstance(data, np.generic):  # NumPy scalars keep theirs too
        arr = np.array(data) if isinstance(data, np.generic) else data.copy()
    else:
        arr = np.array(data)
        if arr.dtype == np.float64 and dtype is None:  # Python floats: float32, like torch
            arr = arr.astype(np.float32)
    if dtype is not None and dtype.kind in _SUPPORTED_KINDS:
        arr = arr.astype(dtype, copy=False)
    if arr.dtype.kind not in _SUPPORTED_KINDS or (dtype is not None and dtype != arr.dtype):
        raise TypeError(f"unsupported dtype {dtype or arr.dtype} "
                        "(tensors hold bool, int or float data)")
    if device is None:
        device = backend.device_of(arr)
    return backend.to_device(arr, device)


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a Python scalar or nested list, a NumPy or CuPy array, or a Tensor (copied).
        requires_grad (bool, optional): record operations on this tensor for backward (default: False).
        device (str, optional): ``'cpu'`` or ``'cuda'`` (default: where `data` lives).
        dtype (optional): a NumPy dtype (default: float32 for Python floats, int64 for ints,
            the array's own dtype for arrays).

    Example:
        >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.]])
    """

    __array_priority__ = 1000  # so `ndarray * Tensor` calls Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, device: str | None = None, dtype=None):
        self.data = _to_array(data, _as_dtype(dtype), device)
        self.grad: Tensor | None = None
        self._ctx = None
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require grad, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)

    @classmethod
    def _wrap(cls, array, ctx=None, requires_grad=False):
        """A Tensor around an existing backend array, no copy, no checks (the ops' fast path)."""
        if isinstance(array, np.generic):  # NumPy reductions return scalars; .data is an ndarray
            array = np.asarray(array)
        t = cls.__new__(cls)
        t.data, t.grad, t._ctx = array, None, ctx
        t.requires_grad = ctx is not None or requires_grad
        return t

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = ""
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras += f", dtype={self.dtype}"
        if self.device != "cpu":
            extras += f", device='{self.device}'"
        if self._ctx is not None:
            extras += f", grad_fn=<{self._ctx.fn.__name__}Backward>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied off the GPU). On the CPU it shares memory."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, device: str) -> Tensor:
        device = backend.check_device(device)
        return self if device == self.device else E.ToDevice.apply(self, device=device)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def detach(self) -> Tensor:
        """The same data (shared, not copied) cut off from the graph."""
        return Tensor._wrap(self.data)

    def astype(self, dtype) -> Tensor:
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind == "f" and self.dtype.kind == "f":
            return E.Cast.apply(self, dtype=dtype)
        return Tensor._wrap(self.data.astype(dtype))  # int/bool results carry no gradient

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def clone(self) -> Tensor:
        return self * 1 if self.requires_grad else Tensor._wrap(self.data.copy())

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · gradient into ``.grad`` of every leaf that requires grad.

        Args:
            gradient (Tensor or array, optional): the upstream gradient, of self's shape; may be
                omitted only for a one-element tensor (it is then 1).
            retain_graph (bool, optional): keep the graph for another backward (default: False).
        """
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward of a non-scalar tensor of shape {self.shape} needs "
                                   "`gradient` (a tensor of the same shape)")
            grad = self._xp.ones(self.data.shape, dtype=self.dtype)
        else:
            grad = gradient.data if isinstance(gradient, Tensor) else gradient
            grad = grad if backend.is_array(grad) else np.asarray(grad)
            grad = backend.to_device(grad, self.device).astype(self.dtype, copy=False)
            if grad.shape != self.data.shape:
                raise RuntimeError(f"backward: gradient has shape {tuple(grad.shape)}, "
                                   f"but the tensor has shape {self.shape}")
        autograd.backward(self, grad, retain_graph=retain_graph)

    def _accumulate_grad(self, grad) -> None:
        grad = grad.astype(self.dtype, copy=False)
        if self.grad is None:
            self.grad = Tensor._wrap(grad.copy())  # a copy: `grad` may be shared with other nodes
        else:
            self.grad.data += grad

    def zero_grad(self) -> None:
        self.grad = None

    @property
    def _xp(self):
        return backend.get_array_module(self.device)

    # ------------------------------------------------------------ binary operators
    def _operand(self, other) -> Tensor:
        """`other` as a Tensor on self's device. A Python scalar takes self's dtype, as in
        PyTorch (x_float32 * 2.5 stays float32), unless it is a float and self is not."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number):
            if self.dtype.kind == "f" or isinstance(other, (bool, np.bool_)):
                dtype = self.dtype
            elif isinstance(other, numbers.Integral):  # bool_tensor + 2 is int64, as in torch
                dtype = self.dtype if self.dtype.kind in "iu" else np.int64
            else:
                dtype = np.float32
            return Tensor._wrap(self._xp.asarray(other, dtype=dtype))
        return Tensor(other, device=self.device)

    def _binary(self, op, other, reverse=False):
        a, b = self, self._operand(other)
        if reverse:
            a, b = b, a
        if a.dtype != b.dtype:
            dtype = _promote(a, b)
            a, b = a.astype(dtype), b.astype(dtype)
        if a.shape != b.shape:
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise ValueError(f"{op.__name__}: shapes {a.shape} and {b.shape} cannot be "
                                 "broadcast together") from None
        return op.apply(a, b)

    def __add__(self, other):
        return self._binary(E.Add, other)

    def __radd__(self, other):
        return self._binary(E.Add, other, reverse=True)

    def __sub__(self, other):
        return self._binary(E.Sub, other)

    def __rsub__(self, other):
        return self._binary(E.Sub, other, reverse=True)

    def __mul__(self, other):
        return self._binary(E.Mul, other)

    def __rmul__(self, other):
        return self._binary(E.Mul, other, reverse=True)

    def __truediv__(self, other):
        return self._true_division(other, reverse=False)

    def __rtruediv__(self, other):
        return self._true_division(other, reverse=True)

    def _true_division(self, other, reverse):
        a = self if self.dtype.kind == "f" else self.float()  # int / int is float32, as in torch
        other = self._operand(other)
        if other.dtype.kind != "f":
            other = other.float() if a.dtype == np.float32 else other.astype(a.dtype)
        return a._binary(E.Div, other, reverse=reverse)

    def __pow__(self, other):
        return self._binary(E.Pow, other)

    def __rpow__(self, other):
        return self._binary(E.Pow, other, reverse=True)

    def __neg__(self):
        return E.Neg.apply(self)

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return self._operand(other).matmul(self)

    def matmul(self, other) -> Tensor:
        other = self._operand(other)
        a, b = self.shape, other.shape
        if not a or not b:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {a} and {b}")
        k_a = a[-1]
        k_b = b[0] if len(b) == 1 else b[-2]
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {a} and {b} do not match ({k_a} != {k_b})")
        try:
            np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch dims of shapes {a} and {b} cannot be broadcast "
                             "together") from None
        x = self
        if x.dtype != other.dtype:
            if x.dtype.kind == "f" and other.dtype.kind == "f":  # as torch: no silent float64
                raise TypeError(f"matmul: both operands must have the same dtype, got {x.dtype} "
                                f"and {other.dtype}")
            dtype = _promote(x, other)  # an int operand takes the float one's dtype
            x, other = x.astype(dtype), other.astype(dtype)
        return M.MatMul.apply(x, other)

    # ------------------------------------------------------------ comparisons (no gradient)
    def _compare(self, fn, other):
        other = other.data if isinstance(other, Tensor) else other
        if backend.is_array(other):
            other = backend.to_device(other, self.device)  # a NumPy array against a CUDA tensor
        return Tensor._wrap(fn(self.data, other))

    def __eq__(self, other):
        return self._compare(lambda a, b: a == b, other)

    def __ne__(self, other):
        return self._compare(lambda a, b: a != b, other)

    def __lt__(self, other):
        return self._compare(lambda a, b: a < b, other)

    def __le__(self, other):
        return self._compare(lambda a, b: a <= b, other)

    def __gt__(self, other):
        return self._compare(lambda a, b: a > b, other)

    def __ge__(self, other):
        return self._compare(lambda a, b: a >= b, other)

    __hash__ = object.__hash__  # defining __eq__ would otherwise make tensors unhashable

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    # ------------------------------------------------------------ unary math
    def exp(self):
        return E.Exp.apply(self)

    def log(self):
        return E.Log.apply(self)

    def sqrt(self):
        return E.Sqrt.apply(self)

    def abs(self):
        return E.Abs.apply(self)

    def tanh(self):
        return E.Tanh.apply(self)

    def sigmoid(self):
        return E.Sigmoid.apply(self)

    def relu(self):
        return E.Relu.apply(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        # NumPy scalars as plain Python numbers, which never change the tensor's dtype
        min, max = (v.item() if isinstance(v, np.generic) else v for v in (min, max))
        x = self
        if x.dtype.kind != "f" and any(isinstance(v, float) for v in (min, max)):
            x = x.float()  # an int tensor clamped to a float bound is float32, as in torch
        return E.Clamp.apply(x, min=min, max=max)

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False):
        return R.Sum.apply(self, axes=normalize_dims(dim, self.ndim), keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        axes = normalize_dims(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axes, keepdim) * (1.0 / count if count else float("nan"))  # mean = Σx / n

    def max(self, dim=None, keepdim: bool = False):
        return R.Max.apply(self, axes=normalize_dims(dim, self.ndim), keepdim=keepdim)

    def min(self, dim=None, keepdim: bool = False):
        return -((-self).max(dim, keepdim))  # min x = -max(-x)

    def var(self, dim=None, keepdim: bool = False, correction: int = 1):
        axes = normalize_dims(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(axes, keepdim=True)
        scale = 1.0 / (count - correction) if count > correction else float("inf")
        return (centred * centred).sum(axes, keepdim) * scale
        # var = Σ(x - mean)² / (n - correction); n <= correction gives nan (0·inf), as in torch

    def std(self, dim=None, keepdim: bool = False, correction: int = 1):
        return self.var(dim, keepdim, correction).sqrt()  # std = √var

    def softmax(self, dim: int):
        return R.Softmax.apply(self, dim=_one_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int):
        return R.LogSoftmax.apply(self, dim=_one_dim(dim, self.ndim, "log_softmax"))

    def argmax(self, dim=None, keepdim: bool = False):
        if dim is None:
            out = self.data.argmax()
            return Tensor._wrap(out.reshape((1,) * self.ndim) if keepdim else out)
        return Tensor._wrap(self.data.argmax(axis=dim, keepdims=keepdim))

    # ------------------------------------------------------------ movement
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        new_shape = _resolve_shape(tuple(shape), self.shape)
        return V.Reshape.apply(self, shape=new_shape)  # a new tensor even when the shape is the same

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.ndim == 0:
            return self.reshape(1)
        (s,), (e,) = normalize_dims(start_dim, self.ndim), normalize_dims(end_dim, self.ndim)
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if len(dims) != self.ndim or any(not -self.ndim <= d < self.ndim for d in dims):
            raise ValueError(f"permute: {dims} is not an ordering of the {self.ndim} dims")
        dims = tuple(d % self.ndim for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not an ordering of the {self.ndim} dims")
        return V.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int, dim1: int):
        normalize_dims((dim0, dim1) if dim0 != dim1 else dim0, self.ndim)  # raises if out of range
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def unsqueeze(self, dim: int):
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of {self.ndim} dims")
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        axes = normalize_dims(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        target = tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                       for i, n in enumerate(shape))
        try:  # each old dim must equal its new size or be 1; new leading dims may not be -1
            ok = lead >= 0 and min(target, default=0) >= 0 and \
                np.broadcast_shapes(self.shape, target) == target
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {tuple(shape)}")
        return V.Expand.apply(self, shape=target)

    def __getitem__(self, index):
        def unwrap(i):
            if isinstance(i, list):  # x[[0, 2]] is integer-array indexing, as in NumPy/torch
                return self._xp.asarray(i)
            return i.data if isinstance(i, Tensor) else i
        index = tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)
        return V.GetItem.apply(self, index=index)

    # ------------------------------------------------------------ layer-style shortcuts
    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _one_dim(dim, ndim, name):
    """`dim` as one non-negative axis (None for a 0-d tensor: the whole of it)."""
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    axes = normalize_dims(int(dim), ndim)
    return axes[0] if axes else None


_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def _promote(a: Tensor, b: Tensor) -> np.dtype:
    """PyTorch's type promotion for a binary op. Categories rank bool < int < float, and the
    higher category wins (int + float tensor -> the float's dtype); within one category a 0-d
    tensor (like a Python scalar) does not widen a tensor with dims (float32 tensor + float64
    0-d tensor stays float32); otherwise the wider dtype wins."""
    rank_a, rank_b = (_CATEGORY[t.dtype.kind] for t in (a, b))
    if rank_a != rank_b:
        return a.dtype if rank_a > rank_b else b.dtype
    if (a.ndim == 0) != (b.ndim == 0):
        return b.dtype if a.ndim == 0 else a.dtype
    return np.promote_types(a.dtype, b.dtype)


def _resolve_shape(shape, old_shape):
    """`shape` with its one -1 filled in; raises if the element counts differ."""
    numel = int(np.prod(old_shape))
    known = int(np.prod([n for n in shape if n != -1]))
    if shape.count(-1) == 1 and known and numel % known == 0:
        shape = tuple(numel // known if n == -1 else n for n in shape)
    if shape.count(-1) or int(np.prod(shape)) != numel or any(n < 0 for n in shape):
        raise ValueError(f"cannot reshape a tensor of shape {old_shape} ({numel} elements) "
                         f"into {shape}")
    return tuple(int(n) for n in shape)


# ================================================================ factories
def tensor(data, requires_grad: bool = False, device: str | None = None, dtype=None) -> Tensor:
    """The same as ``Tensor(data, ...)``."""
    return Tensor(data, requires_grad=requires_grad, device=device, dtype=dtype)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _factory(array, requires_grad):
    if requires_grad and array.dtype.kind != "f":
        raise TypeError(f"only floating point tensors can require grad, got {array.dtype}")
    return Tensor._wrap(array, requires_grad=requires_grad)


def zeros(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _factory(backend.get_array_module(device).zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _factory(backend.get_array_module(device).ones(_shape(shape), dtype=dtype), requires_grad)


def empty(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _factory(backend.get_array_module(device).empty(_shape(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    if dtype is None:  # like torch: a float fill gives float32, an int fill int64
        dtype = np.bool_ if isinstance(fill_value, bool) else (
            np.int64 if isinstance(fill_value, numbers.Integral) else np.float32)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _factory(backend.get_array_module(device).full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1), from the device's generator (see `manual_seed`)."""
    dtype = np.dtype(dtype)  # the generators sample float32 and float64; others are cast
    sample = dtype if dtype in (np.float32, np.float64) else np.float64
    array = backend.rng(device).random(_shape(shape), dtype=sample).astype(dtype, copy=False)
    return _factory(array, requires_grad)


def randn(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Standard normal samples, from the device's generator (see `manual_seed`)."""
    dtype = np.dtype(dtype)
    sample = dtype if dtype in (np.float32, np.float64) else np.float64
    array = backend.rng(device).standard_normal(_shape(shape), dtype=sample).astype(dtype, copy=False)
    return _factory(array, requires_grad)


def arange(start, end=None, step=1, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if is_int else np.float32
    array = backend.get_array_module(device).arange(start, end, step, dtype=dtype)
    return _factory(array, requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float32, device: str = "cpu",
        requires_grad: bool = False) -> Tensor:
    return _factory(backend.get_array_module(device).eye(n, m, dtype=dtype), requires_grad)


def manual_seed(seed: int) -> None:
    """Seed every device's random generator (factories, parameter init, dropout, shuffling)."""
    backend.manual_seed(seed)
