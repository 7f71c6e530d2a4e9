"""Tensor: an array (NumPy or CuPy) plus the link into the autograd graph.

Every differentiable method is one call of an op's ``apply`` (``ops/``) or a short composition
of such calls; the composition's math is in the trailing comment. Non-differentiable methods
(comparisons, argmax) work on the arrays directly and return tensors without a graph.

Storage and in-place writes, as in PyTorch: ``t.array`` is the backend array that holds the
values. Views (``t[0]``, ``t.reshape(...)``, ``t.detach()``) share it, and with it a version
counter; every in-place write (``t += 1``, ``t.add_(...)``, ``t[i] = v``) changes the shared
array and bumps the counter, so an op that saved it for backward can tell. ``t.data`` is
PyTorch's escape hatch: a tensor sharing the array but with a counter of its own, so writes
through it are not seen.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from . import autograd, backend, dtypes
from .autograd import VersionCounter, is_grad_enabled, storage_root
from .ops import elementwise as E
from .ops import matmul as M
from .ops import movement as V
from .ops import reduce as R
from .ops.utils import normalize_dims

values_indices = namedtuple("values_indices", ["values", "indices"])  # what max(dim)/min(dim) return


def _to_array(data, dtype, device):
    """Turn user data into a backend array following PyTorch's rules:
    Python floats (and lists of them) -> float32, Python ints -> int64, NumPy arrays keep theirs."""
    if isinstance(data, Tensor):
        arr = data.array.copy()
    elif backend.is_array(data) or isinstance(data, np.generic):  # NumPy scalars keep theirs too
        arr = np.array(data) if isinstance(data, np.generic) else data.copy()
    else:
        try:
            arr = np.array(data)
        except (TypeError, ValueError) as err:
            raise TypeError(f"tensor: unsupported data {data!r} ({err})") from None
        if arr.dtype == np.float64 and dtype is None:  # Python floats: float32, like torch
            arr = arr.astype(np.float32)
    if arr.dtype.kind not in dtypes.SUPPORTED_KINDS:
        raise TypeError(f"tensor: unsupported dtype {arr.dtype} (tensors hold bool, int or float data)")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return backend.to_device(arr, backend.device_of(arr) if device is None else device)


def _dims(dim, axis, keepdim, keepdims):
    """Resolve PyTorch's ``dim``/``keepdim`` and their NumPy-style aliases ``axis``/``keepdims``."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: a Python scalar or nested list, a NumPy or CuPy array, or a Tensor (copied).
        requires_grad (bool, optional): record operations on this tensor for backward (default: False).
        device (str or tg.device, optional): ``'cpu'`` or ``'cuda'`` (default: where `data` lives).
        dtype (optional): a NumPy dtype or ``tg.float32`` etc. (default: float32 for Python floats,
            int64 for ints, the array's own dtype for arrays).

    Example:
        >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.]])
    """

    __array_priority__ = 1000  # so `ndarray * Tensor` calls Tensor.__rmul__
    _post_accumulate_grad_hooks: dict = {}  # set per tensor by register_post_accumulate_grad_hook

    def __init__(self, data, requires_grad: bool = False, device=None, dtype=None):
        self._init(_to_array(data, dtypes.as_dtype(dtype), device))
        self.requires_grad = requires_grad

    def _init(self, array, ctx=None) -> None:
        """Set every field: the array, no gradient, the graph node, a fresh storage."""
        self.array = array
        self._grad = None
        self._ctx = ctx
        self._requires_grad = ctx is not None
        self._version = VersionCounter()  # shared with views of this storage
        self._base = None                 # the tensor whose storage this view shares, if any
        self._rebases_seen = 0            # the base's recorded in-place writes when this view was made
        self._stale_history = False       # written in place through a view while recording
        self._accumulator = None          # weak reference to this leaf's AccumulateGrad node

    @classmethod
    def _wrap(cls, array, ctx=None, requires_grad=False):
        """A Tensor around an existing backend array, no copy, no checks (the ops' fast path)."""
        if isinstance(array, np.generic):  # NumPy reductions return scalars; .array is an ndarray
            array = np.asarray(array)
        t = cls.__new__(cls)
        t._init(array, ctx)
        if requires_grad:
            t._requires_grad = True
        return t

    def _share_storage_with(self, tensors) -> None:
        """If this tensor's array is a view of one of `tensors`' arrays, share its storage's
        version counter (and remember the base), as PyTorch's views do."""
        root = storage_root(self.array)
        if root is self.array:
            return  # owns its memory: a new storage
        for t in tensors:
            if storage_root(t.array) is root:
                self._version, self._base = t._version, t._base if t._base is not None else t
                self._rebases_seen = t._version.rebases
                return

    # ------------------------------------------------------------ attributes
    @property
    def data(self) -> Tensor:
        """A tensor sharing this tensor's values, cut off from autograd (PyTorch's ``.data``).

        In-place changes made through it are NOT seen by the version counter: PyTorch's escape
        hatch, which can make a later backward silently use changed values. Prefer
        ``with tg.no_grad():`` and in-place ops, or ``detach()``. Assigning ``t.data = other``
        makes `t` use `other`'s storage (its shape, dtype and device may differ).
        """
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self.array = value.array

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward (a Tensor of this shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"{type(value).__name__}")
            for what, mine, theirs in (("size", self.shape, value.shape),
                                       ("type", self.dtype, value.dtype),
                                       ("device", self.device, value.device)):
                if mine != theirs:
                    raise RuntimeError(f"assigned grad has data of a different {what}: "
                                       f"{theirs}, the tensor has {mine}")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether backward computes a gradient for this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and self.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require grad, got {self.dtype}")
        if not value and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables; use "
                               "detach() to get a tensor that does not require grad")
        self._requires_grad = value

    @property
    def grad_fn(self) -> autograd.Node | None:
        """The graph node of the op that made this tensor (None for leaves), as in PyTorch:
        ``.name()`` and ``.next_functions``."""
        return self._ctx

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.array)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def T(self) -> Tensor:
        """All dims reversed (the transpose of a matrix)."""
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None):
        """The shape (a tuple), or the size of dim `dim`."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        """The number of dims (``ndim``)."""
        return self.ndim

    def numel(self) -> int:
        """The number of elements."""
        return int(self.array.size)

    def element_size(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

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
            extras += f", grad_fn=<{self._ctx.name()}>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied off the GPU; on the CPU it shares memory)."""
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """NumPy's protocol: ``np.asarray(t)`` of a CPU tensor; a CUDA tensor raises (as PyTorch)."""
        if self.device != "cpu":
            raise TypeError(f"can't convert {self.device} tensor to numpy: use .cpu() or .numpy() "
                            "to copy it to host memory first")
        return self.array if dtype is None else self.array.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def __float__(self) -> float:
        return float(self._one_value("float"))

    def __int__(self) -> int:
        return int(self._one_value("int"))

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index, got {self.dtype}")
        return int(self._one_value("index"))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def _one_value(self, what: str):
        if self.array.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"({what}() of a tensor of shape {self.shape})")
        return self.item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self.numpy().tolist()

    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``: a tensor
        on that device / of that dtype (self when nothing changes); differentiable."""
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (str, backend.device)):
                device = arg
            else:
                dtype = arg
        out = self
        if device is not None:
            device = backend.check_device(device)
            if device != out.device:
                out = E.ToDevice.apply(out, device=device)
        return out if dtype is None else out.astype(dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def detach(self) -> Tensor:
        """The same storage (shared, not copied, same version counter) cut off from the graph."""
        t = Tensor._wrap(self.array)
        t._version, t._base = self._version, self._base if self._base is not None else self
        t._rebases_seen = self._version.rebases
        return t

    def astype(self, dtype) -> Tensor:
        """The values converted to `dtype` (differentiable between float dtypes)."""
        dtype = dtypes.as_dtype(dtype, "astype")
        if dtype == self.dtype:
            return self
        if dtype.kind == "f" and self.dtype.kind == "f":
            return E.Cast.apply(self, dtype=dtype)
        return Tensor._wrap(self.array.astype(dtype))  # int/bool results carry no gradient

    def type(self, dtype=None):
        """With no argument, the type's name (``'tinygrad_bn.FloatTensor'``); else ``astype(dtype)``."""
        return dtypes.type_name(self.dtype) if dtype is None else self.astype(dtype)

    def float(self) -> Tensor:
        """As float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """As float64."""
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """As int64."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """As int32."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        """As bool."""
        return self.astype(np.bool_)

    def clone(self) -> Tensor:
        """A copy with its own storage; differentiable (the gradient passes through)."""
        return E.Copy.apply(self)

    def contiguous(self) -> Tensor:
        """Self if its values lie contiguously in memory (row-major), else a contiguous copy."""
        return self if self.array.flags.c_contiguous else self.clone()

    def _float_input(self) -> Tensor:
        """Self, or self as float32 when it is an int/bool tensor: float ops (exp, sqrt, ...) on
        integers return float32, PyTorch's default dtype."""
        return self if self.dtype.kind == "f" else self.astype(dtypes.DEFAULT_FLOAT)

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) · gradient into ``.grad`` of every leaf that requires grad.

        Args:
            gradient (Tensor or array, optional): the upstream gradient, of self's shape; may be
                omitted only for a one-element tensor (it is then 1).
            retain_graph (bool, optional): keep the graph for another backward (default: False).
            create_graph (bool, optional): not supported yet (see README).
        """
        if create_graph:
            raise NotImplementedError("create_graph=True (gradients of gradients) is not supported yet")
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph (it "
                               "was computed under no_grad, from tensors that do not require "
                               "grad, or detached)")
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward of a non-scalar tensor of shape {self.shape} needs "
                                   "`gradient` (a tensor of the same shape)")
            grad = self._xp.ones(self.array.shape, dtype=self.dtype)
        else:
            grad = gradient.array if isinstance(gradient, Tensor) else gradient
            grad = grad if backend.is_array(grad) else np.asarray(grad)
            grad = backend.to_device(grad, self.device).astype(self.dtype, copy=False)
            if grad.shape != self.array.shape:
                raise RuntimeError(f"backward: gradient has shape {tuple(grad.shape)}, "
                                   f"but the tensor has shape {self.shape}")
        autograd.backward(autograd.grad_edge(self), grad, retain_graph=bool(retain_graph))

    def _accumulate_grad(self, grad) -> None:
        grad = grad.astype(self.dtype, copy=False)
        if self._grad is None:
            self._grad = Tensor._wrap(grad.copy())  # a copy: `grad` may be shared with other nodes
        else:
            self._grad.array += grad
        for hook in tuple(self._post_accumulate_grad_hooks.values()):
            hook(self)

    def register_post_accumulate_grad_hook(self, hook) -> _RemovableHandle:
        """Call ``hook(tensor)`` each time backward has added a gradient into this leaf's
        ``.grad`` (PyTorch's name): the moment the gradient of this backward is final.
        DistributedDataParallel uses it to start reducing gradients while backward goes on.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.is_leaf:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if "_post_accumulate_grad_hooks" not in self.__dict__:  # the class's {} is shared: never fill it
            self._post_accumulate_grad_hooks = {}
        handle = _RemovableHandle(self._post_accumulate_grad_hooks)
        self._post_accumulate_grad_hooks[handle.id] = hook
        return handle

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self._grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only); returns self."""
        self.requires_grad = requires_grad
        return self

    def _check_history(self) -> None:
        """Refuse to record an op on a tensor whose graph no longer describes its values."""
        if self._stale_history:
            raise RuntimeError("a tensor that was modified in place through one of its views "
                               f"(shape {self.shape}) is used while recording the graph; its graph "
                               "misses that change. Write through the tensor itself instead: "
                               "t[index] = value or t[index] += value")
        if self._base is not None and self._rebases_seen != self._version.rebases:
            raise RuntimeError(f"a view of shape {self.shape} is used after its base was modified "
                               "in place while recording the graph; take the view again after "
                               "the in-place change")

    @property
    def _xp(self):
        return backend.get_array_module(self.device)

    # ------------------------------------------------------------ binary operators
    def _operand(self, other) -> Tensor:
        """`other` as a Tensor on self's device. A Python number takes the dtype PyTorch gives it
        next to self (``dtypes.scalar_dtype``); an array is wrapped without a copy."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number):
            return Tensor._wrap(self._xp.asarray(other, dtype=dtypes.scalar_dtype(other, self.dtype)))
        if backend.is_array(other):
            return Tensor._wrap(backend.to_device(other, self.device))
        return Tensor(other, device=self.device)

    def _binary(self, op, other, reverse=False):
        a, b = self, self._operand(other)
        if reverse:
            a, b = b, a
        if a.dtype != b.dtype:
            dtype = dtypes.promote(a, b)
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
        a = self._float_input()  # int / int is float32, as in torch
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

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return self._operand(other).matmul(self)

    def add(self, other, alpha=1) -> Tensor:
        """self + alpha · other."""
        return self + (other if alpha == 1 else self._operand(other) * alpha)

    def sub(self, other, alpha=1) -> Tensor:
        """self − alpha · other."""
        return self - (other if alpha == 1 else self._operand(other) * alpha)

    def mul(self, other) -> Tensor:
        """self · other, elementwise."""
        return self * other

    def div(self, other) -> Tensor:
        """self / other, elementwise (true division: ints give float32)."""
        return self / other

    def pow(self, exponent) -> Tensor:
        """self ** exponent, elementwise."""
        return self ** exponent

    def neg(self) -> Tensor:
        """−self."""
        return -self

    def matmul(self, other) -> Tensor:
        """The matrix product with NumPy's ``matmul`` rules (1-D operands, batch broadcasting)."""
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
            dtype = dtypes.promote(x, other)  # an int operand takes the float one's dtype
            x, other = x.astype(dtype), other.astype(dtype)
        return M.MatMul.apply(x, other)

    mm = matmul

    # ------------------------------------------------------------ comparisons (no gradient)
    def _compare(self, fn, other):
        other = other.array if isinstance(other, Tensor) else other
        if backend.is_array(other):
            other = backend.to_device(other, self.device)  # a NumPy array against a CUDA tensor
        return Tensor._wrap(fn(self.array, other))

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

    def eq(self, other) -> Tensor:
        """self == other, elementwise (a bool tensor)."""
        return self == other

    def ne(self, other) -> Tensor:
        """self != other, elementwise."""
        return self != other

    def lt(self, other) -> Tensor:
        """self < other, elementwise."""
        return self < other

    def le(self, other) -> Tensor:
        """self <= other, elementwise."""
        return self <= other

    def gt(self, other) -> Tensor:
        """self > other, elementwise."""
        return self > other

    def ge(self, other) -> Tensor:
        """self >= other, elementwise."""
        return self >= other

    # ------------------------------------------------------------ in-place operations
    def _check_inplace(self) -> None:
        """PyTorch's rule: while grad mode is on, a leaf that requires grad (a weight) or a
        view of one may not be changed in place: its history would be lost. Update weights
        inside ``with tg.no_grad():``."""
        if not is_grad_enabled():
            return
        if self.is_leaf and self.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation. (Update parameters inside `with tg.no_grad():`.)")
        base = self._base
        if base is not None and base.is_leaf and base.requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation. (Update parameters inside `with tg.no_grad():`.)")

    def _write(self, compute, direct, inputs=()) -> Tensor:
        """The one path of every in-place op.

        `compute(t)` returns the new value as a tensor computed out of place from `t` (standing
        for self); `direct(array)` writes the new value straight into self's array. Without a
        graph to record (grad mode off, or nothing requires grad) `direct` runs. Otherwise the
        new value is computed from a copy of self that carries self's history, written into
        self's storage, and self takes the new value's graph node as its ``grad_fn``.
        """
        self._check_inplace()
        recording = is_grad_enabled() and (self.requires_grad or any(t.requires_grad for t in inputs))
        if not recording:
            direct(self.array)
            self._version.bump()
            return self
        old = Tensor._wrap(self.array.copy(), ctx=self._ctx, requires_grad=self.requires_grad)
        new = self._shape_checked(compute(old))
        if new.dtype != self.dtype:
            new = new.astype(self.dtype)
        self.array[...] = new.array
        self._version.bump(recorded=True)
        self._ctx, self._requires_grad = new._ctx, new.requires_grad
        self._stale_history = False
        if self._base is not None:  # the base's graph no longer describes its values
            self._base._stale_history = True
            self._rebases_seen = self._version.rebases
        return self

    def _shape_checked(self, new: Tensor) -> Tensor:
        if new.shape != self.shape:
            raise RuntimeError(f"in-place operation: the result has shape {new.shape}, but the "
                               f"tensor written has shape {self.shape}")
        return new

    def _inplace_binary(self, op, ufunc: str, other) -> Tensor:
        other = self._operand(other)
        result_dtype = dtypes.promote(self, other)
        if op is E.Div:
            result_dtype = dtypes.float_result(result_dtype)
        if not dtypes.can_write(result_dtype, self.dtype):
            raise RuntimeError(f"result type {result_dtype} can't be cast to the desired output "
                               f"type {self.dtype} (in-place {op.__name__})")
        if np.broadcast_shapes(self.shape, other.shape) != self.shape:
            raise RuntimeError(f"output with shape {self.shape} doesn't match the broadcast shape "
                               f"{np.broadcast_shapes(self.shape, other.shape)}")

        def direct(array):
            getattr(self._xp, ufunc)(array, other.array, out=array, casting="unsafe")
        return self._write(lambda old: old._binary(op, other) if op is not E.Div else old / other,
                           direct, (other,))

    def __iadd__(self, other):
        return self._inplace_binary(E.Add, "add", other)

    def __isub__(self, other):
        return self._inplace_binary(E.Sub, "subtract", other)

    def __imul__(self, other):
        return self._inplace_binary(E.Mul, "multiply", other)

    def __itruediv__(self, other):
        return self._inplace_binary(E.Div, "true_divide", other)

    def __ipow__(self, other):
        return self._inplace_binary(E.Pow, "power", other)

    def __imatmul__(self, other):
        """self = self @ other, in place (the product must have self's shape)."""
        other = self._operand(other)

        def direct(array):
            array[...] = self._shape_checked(Tensor._wrap(array).matmul(other)).array
        return self._write(lambda old: old.matmul(other), direct, (other,))

    def add_(self, other, alpha=1) -> Tensor:
        """self += alpha · other, in place."""
        return self._inplace_binary(E.Add, "add", other if alpha == 1 else self._operand(other) * alpha)

    def sub_(self, other, alpha=1) -> Tensor:
        """self -= alpha · other, in place."""
        return self._inplace_binary(E.Sub, "subtract", other if alpha == 1 else self._operand(other) * alpha)

    def mul_(self, other) -> Tensor:
        """self *= other, in place."""
        return self._inplace_binary(E.Mul, "multiply", other)

    def div_(self, other) -> Tensor:
        """self /= other, in place."""
        return self._inplace_binary(E.Div, "true_divide", other)

    def pow_(self, exponent) -> Tensor:
        """self **= exponent, in place."""
        return self._inplace_binary(E.Pow, "power", exponent)

    def copy_(self, src) -> Tensor:
        """Copy `src`'s values (broadcast to self's shape, cast to self's dtype) into self, in
        place; the gradient flows to `src`."""
        src = self._operand(src)
        if src.device != self.device:
            src = src.to(self.device)
        try:
            np.broadcast_to(np.empty(src.shape, dtype=np.bool_), self.shape)
        except ValueError:
            raise RuntimeError(f"copy_: the source of shape {src.shape} cannot be broadcast to "
                               f"{self.shape}") from None

        def direct(array):
            array[...] = src.array
        return self._write(lambda old: src.expand(self.shape) if src.shape != self.shape else src * 1,
                           direct, (src,))

    def fill_(self, value) -> Tensor:
        """Set every element to `value`, in place."""
        if isinstance(value, Tensor):
            value = value.item()

        def direct(array):
            array[...] = value
        return self._write(lambda old: Tensor._wrap(self._xp.full(self.shape, value, self.dtype)),
                           direct)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def clamp_(self, min=None, max=None) -> Tensor:
        """Clamp every element into [min, max], in place."""
        _check_clamp(min, max)

        def direct(array):
            self._xp.clip(array, min, max, out=array)
        return self._write(lambda old: old.clamp(min, max), direct)

    clip_ = clamp_

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Fill with samples of U(a, b), in place, from the device's seeded generator."""
        if self.dtype.kind != "f":
            raise TypeError(f"uniform_: expected a floating point tensor, got {self.dtype}")
        if not a <= b:
            raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
        u = backend.rng(self.device).random(self.shape, dtype=self.dtype)
        u *= b - a
        u += a
        return self.copy_(Tensor._wrap(u))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with samples of N(mean, std²), in place, from the device's seeded generator."""
        if self.dtype.kind != "f":
            raise TypeError(f"normal_: expected a floating point tensor, got {self.dtype}")
        if std < 0:
            raise ValueError(f"normal_: expects std >= 0, got {std}")
        z = backend.rng(self.device).standard_normal(self.shape, dtype=self.dtype)
        z *= std
        z += mean
        return self.copy_(Tensor._wrap(z))

    def __setitem__(self, index, value) -> None:
        """``t[index] = value`` in place (value: a number or a tensor broadcast to the slot)."""
        index = self._index(index)
        value = self._operand(value)
        if not dtypes.can_write(value.dtype, self.dtype):
            raise RuntimeError(f"cannot write {value.dtype} values into a {self.dtype} tensor")

        def direct(array):
            array[index] = value.array
        self._write(lambda old: V.SetItem.apply(old, value.astype(self.dtype), index=index),
                    direct, (value,))

    # ------------------------------------------------------------ unary math
    def exp(self) -> Tensor:
        """eˣ, elementwise (ints and bools give float32)."""
        return E.Exp.apply(self._float_input())

    def log(self) -> Tensor:
        """ln x, elementwise."""
        return E.Log.apply(self._float_input())

    def sqrt(self) -> Tensor:
        """√x, elementwise."""
        return E.Sqrt.apply(self._float_input())

    def abs(self) -> Tensor:
        """|x|, elementwise (the gradient at 0 is 0)."""
        return E.Abs.apply(self) if self.dtype.kind == "f" else Tensor._wrap(self._xp.abs(self.array))

    def sign(self) -> Tensor:
        """−1, 0 or 1 by the sign of x (the gradient is 0 everywhere)."""
        return E.Sign.apply(self) if self.dtype.kind == "f" else Tensor._wrap(self._xp.sign(self.array))

    def tanh(self) -> Tensor:
        """tanh x, elementwise."""
        return E.Tanh.apply(self._float_input())

    def sigmoid(self) -> Tensor:
        """1 / (1 + e⁻ˣ), elementwise."""
        return E.Sigmoid.apply(self._float_input())

    def relu(self) -> Tensor:
        """max(x, 0), elementwise."""
        return E.Relu.apply(self) if self.dtype.kind == "f" else self.clamp(min=0)

    def clamp(self, min=None, max=None) -> Tensor:
        """Each element clamped into [min, max] (either bound may be None); the gradient is 1
        inside the range, 0 outside."""
        _check_clamp(min, max)
        # NumPy scalars as plain Python numbers, which never change the tensor's dtype
        min, max = (v.item() if isinstance(v, (np.generic, Tensor)) else v for v in (min, max))
        x = self
        if x.dtype.kind != "f" and any(isinstance(v, float) for v in (min, max)):
            x = x.float()  # an int tensor clamped to a float bound is float32, as in torch
        if x.dtype.kind != "f":
            return Tensor._wrap(x._xp.clip(x.array, min, max))
        return E.Clamp.apply(x, min=min, max=max)

    clip = clamp

    def maximum(self, other) -> Tensor:
        """The larger of self and other, elementwise; where they tie, each gets half the gradient."""
        other = self._operand(other)
        return _where(self > other, self, _where(self < other, other, (self + other) * 0.5))

    def minimum(self, other) -> Tensor:
        """The smaller of self and other, elementwise; where they tie, each gets half the gradient."""
        other = self._operand(other)
        return _where(self < other, self, _where(self > other, other, (self + other) * 0.5))

    def where(self, condition, other) -> Tensor:
        """self where `condition` holds, else `other` (``tg.where(condition, self, other)``)."""
        return _where(condition, self, other)

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Σ over `dim` (an int, a tuple, or None for all)."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return R.Sum.apply(self, axes=normalize_dims(dim, self.ndim), keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The mean over `dim` (floating point tensors only, as in PyTorch)."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        self._need_float("mean")
        axes = normalize_dims(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axes, keepdim) * (1.0 / count if count else float("nan"))  # mean = Σx / n

    def var(self, dim=None, keepdim: bool = False, correction: int = 1, *, axis=None,
            keepdims=None, unbiased=None) -> Tensor:
        """Σ(x − mean)² / (n − correction) over `dim` (``unbiased=False`` is correction=0)."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if unbiased is not None:
            correction = int(bool(unbiased))
        self._need_float("var")
        axes = normalize_dims(dim, self.ndim)
        count = int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(axes, keepdim=True)
        scale = 1.0 / (count - correction) if count > correction else float("inf")
        return (centred * centred).sum(axes, keepdim) * scale
        # var = Σ(x - mean)² / (n - correction); n <= correction gives nan (0·inf), as in torch

    def std(self, dim=None, keepdim: bool = False, correction: int = 1, *, axis=None,
            keepdims=None, unbiased=None) -> Tensor:
        """√var over `dim`."""
        return self.var(dim, keepdim, correction, axis=axis, keepdims=keepdims,
                        unbiased=unbiased).sqrt()

    def amax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The maximum values over `dim`; tied maxima share the gradient equally."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return R.Max.apply(self, axes=normalize_dims(dim, self.ndim), keepdim=keepdim)

    def amin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The minimum values over `dim`; tied minima share the gradient equally."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return -((-self).amax(dim, keepdim))  # min x = -max(-x)

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """``max()``: the largest element (0-d; ties share the gradient). ``max(dim)``: a named
        tuple ``(values, indices)`` along `dim`, the gradient going to the index (the first
        maximum). ``max(other_tensor)``: ``maximum``."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if dim is None:
            return self.amax(None, keepdim)
        indices = self.argmax(dim, keepdim=True)
        values = self.gather(_one_dim(dim, self.ndim, "max") or 0, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values_indices(values, indices)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """As `max`, for the smallest elements."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if dim is None:
            return self.amin(None, keepdim)
        indices = self.argmin(dim, keepdim=True)
        values = self.gather(_one_dim(dim, self.ndim, "min") or 0, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values_indices(values, indices)

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The index of the maximum over `dim` (of the flattened tensor for None); no gradient."""
        return self._arg_reduce("argmax", dim, keepdim, axis, keepdims)

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The index of the minimum over `dim`; no gradient."""
        return self._arg_reduce("argmin", dim, keepdim, axis, keepdims)

    def _arg_reduce(self, name, dim, keepdim, axis, keepdims) -> Tensor:
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if dim is None:
            out = getattr(self.array, name)()
            return Tensor._wrap(out.reshape((1,) * self.ndim) if keepdim else out)
        dim = _one_dim(dim, self.ndim, name)
        return Tensor._wrap(getattr(self.array, name)(axis=dim, keepdims=keepdim))

    def norm(self, p="fro", dim=None, keepdim: bool = False) -> Tensor:
        """The p-norm over `dim` (all elements for None): (Σ|x|ᵖ)^(1/p); 'fro' and 2 give
        √Σx², inf gives max|x|. (At an all-zero input the 2-norm's gradient is nan.)"""
        self._need_float("norm")
        if p in ("fro", 2):
            return (self * self).sum(dim, keepdim).sqrt()
        if p == float("inf"):
            return self.abs().amax(dim, keepdim)
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if not isinstance(p, numbers.Real) or p <= 0:
            raise ValueError(f"norm: p must be 'fro', inf or a positive number, got {p!r}")
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def softmax(self, dim: int) -> Tensor:
        """eˣ / Σ eˣ along `dim`, computed stably."""
        return R.Softmax.apply(self._float_input(), dim=_one_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int) -> Tensor:
        """x − log Σ eˣ along `dim`, computed stably."""
        return R.LogSoftmax.apply(self._float_input(), dim=_one_dim(dim, self.ndim, "log_softmax"))

    def _need_float(self, what: str) -> None:
        if self.dtype.kind != "f":
            raise TypeError(f"{what}(): could not infer output dtype. Input dtype must be a "
                            f"floating point dtype, got {self.dtype} (use .float() first)")

    # ------------------------------------------------------------ movement
    def reshape(self, *shape) -> Tensor:
        """The same values in a new shape (one dim may be -1: inferred)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        new_shape = _resolve_shape(tuple(shape), self.shape)
        return V.Reshape.apply(self, shape=new_shape)  # a new tensor even when the shape is the same

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dims `start_dim` .. `end_dim` (inclusive) merged into one."""
        if self.ndim == 0:
            return self.reshape(1)
        (s,), (e,) = normalize_dims(start_dim, self.ndim), normalize_dims(end_dim, self.ndim)
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims) -> Tensor:
        """The dims reordered: dim i of the result is dim ``dims[i]`` of self."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if len(dims) != self.ndim or any(not -self.ndim <= d < self.ndim for d in dims):
            raise ValueError(f"permute: {dims} is not an ordering of the {self.ndim} dims")
        dims = tuple(d % self.ndim for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not an ordering of the {self.ndim} dims")
        return V.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Dims `dim0` and `dim1` swapped."""
        normalize_dims((dim0, dim1) if dim0 != dim1 else dim0, self.ndim)  # raises if out of range
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def t(self) -> Tensor:
        """The transpose of a matrix (a tensor of at most 2 dims)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but got {self.ndim}")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def unsqueeze(self, dim: int) -> Tensor:
        """A new dim of size 1 inserted at `dim`."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of {self.ndim} dims")
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None) -> Tensor:
        """Dims of size 1 removed (only `dim`, if given)."""
        axes = normalize_dims(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def expand(self, *shape) -> Tensor:
        """A broadcast view with dims of size 1 stretched to `shape` (-1 keeps a dim)."""
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

    def repeat(self, *sizes) -> Tensor:
        """The tensor tiled `sizes[i]` times along dim i (like ``np.tile``)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes given for a tensor of {self.ndim} dims")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        # each dim n becomes a pair (1, n) expanded to (r, n), then merged into r·n
        paired = self.reshape([d for n in shape for d in (1, n)])
        tiled = paired.expand([d for r, n in zip(sizes, shape) for d in (r, n)])
        return tiled.reshape([r * n for r, n in zip(sizes, shape)])

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Pieces along `dim`: of `split_size` each (the last may be smaller), or of the sizes
        in a list."""
        (dim,) = normalize_dims(dim, self.ndim)
        n = self.shape[dim]
        if isinstance(split_size_or_sections, numbers.Integral):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to the dim's size {n}")
        pieces, start = [], 0
        for size in sizes:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """`chunks` pieces along `dim` (fewer when the size does not allow that many)."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        (axis,) = normalize_dims(dim, self.ndim)
        return self.split(max(-(-self.shape[axis] // chunks), 1), dim)

    def gather(self, dim: int, index) -> Tensor:
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` for dim 0 (likewise for other dims)."""
        index = index.array if isinstance(index, Tensor) else self._xp.asarray(index)
        dim = _one_dim(dim, self.ndim, "gather") or 0
        if index.ndim != self.ndim:
            raise ValueError(f"gather: index has {index.ndim} dims, the tensor {self.ndim}")
        grids = self._xp.ogrid[tuple(slice(0, n) for n in index.shape)]
        grids = list(grids) if isinstance(grids, (list, tuple)) else [grids]
        grids[dim] = index
        return self[tuple(grids)]

    def _index(self, index):
        """An index with Tensors and lists turned into arrays on self's device."""
        def unwrap(i):
            if isinstance(i, list):  # x[[0, 2]] is integer-array indexing, as in NumPy/torch
                return self._xp.asarray(i)
            if isinstance(i, Tensor):
                return i.array
            return backend.to_device(i, self.device) if backend.is_array(i) else i
        return tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)

    def __getitem__(self, index) -> Tensor:
        return V.GetItem.apply(self, index=self._index(index))

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _where(condition, a, b) -> Tensor:
    """`a` where `condition` holds, else `b` (broadcast together; differentiable in a and b)."""
    if not isinstance(condition, Tensor):
        condition = Tensor(condition)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("where: at least one of the two value arguments must be a Tensor")
    a = a if isinstance(a, Tensor) else b._operand(a)
    b = b if isinstance(b, Tensor) else a._operand(b)
    if a.dtype != b.dtype:
        dtype = dtypes.promote(a, b)
        a, b = a.astype(dtype), b.astype(dtype)
    if condition.dtype != np.bool_:
        condition = Tensor._wrap(condition.array.astype(bool))
    try:
        np.broadcast_shapes(condition.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes {condition.shape}, {a.shape} and {b.shape} cannot be "
                         "broadcast together") from None
    return E.Where.apply(a, b, condition=condition.array)


def _check_clamp(min, max) -> None:
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")


def _one_dim(dim, ndim, name):
    """`dim` as one non-negative axis (None for a 0-d tensor: the whole of it)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    axes = normalize_dims(int(dim), ndim)
    return axes[0] if axes else None


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


class _RemovableHandle:
    """What registering a hook returns: ``remove()`` takes the hook out again."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks, self.id = hooks, _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)
