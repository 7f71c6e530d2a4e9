"""Tensor: an array (NumPy or CuPy) plus the link into the autograd graph.

This file holds what a tensor IS: its storage, attributes, conversions, its part in autograd and
the binary-operator plumbing (type promotion, broadcasting checks). What a tensor can DO is in
four method groups that ``Tensor`` mixes in, one file each:

    tensor_convert.py  conversions (numpy, item, float(t), to(device), astype, clone, ...)
    tensor_math.py     operators (+ - * / ** @, comparisons) and elementwise math
    tensor_inplace.py  in-place operations (+=, add_, copy_, t[i] = v, ...)
    tensor_reduce.py   reductions (sum, mean, max, argmax, softmax, ...)
    tensor_shape.py    movement and indexing (reshape, permute, expand, t[index], ...)

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

import numpy as np

from . import autograd, backend, dtypes, validate
from .autograd import VersionCounter, storage_root
from .ops import elementwise as E
from .tensor_convert import ConversionMethods
from .tensor_inplace import InPlaceMethods
from .tensor_math import ArithmeticMethods
from .tensor_reduce import ReductionMethods
from .tensor_shape import ShapeMethods


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


class Tensor(ConversionMethods, ArithmeticMethods, InPlaceMethods, ReductionMethods, ShapeMethods):
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
        self._known_range = None          # (low, high, version): the values' range, checked at that version

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
        return Tensor._wrap(self.array.view())  # a new array object over the same memory

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self.array = value.array.view()

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
        value = validate.boolean(value, "requires_grad", "Tensor")
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
        """The size of each dim, a tuple of ints."""
        return tuple(self.array.shape)

    @property
    def ndim(self) -> int:
        """The number of dims."""
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        """The element type, a NumPy dtype (``tg.float32`` etc.)."""
        return self.array.dtype

    @property
    def device(self) -> str:
        """``'cpu'`` or ``'cuda'``: where the values live."""
        return backend.device_of(self.array)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (no ``grad_fn``); gradients accumulate in leaves."""
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
            retain_graph (bool, optional): keep the graph for another backward (default:
                create_graph).
            create_graph (bool, optional): record the backward itself, so that the gradients in
                ``.grad`` can be differentiated again (second derivatives; default: False).
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph (it "
                               "was computed under no_grad, from tensors that do not require "
                               "grad, or detached)")
        self._check_history()  # its graph must describe its values (a write through a view?)
        seed = self._seed_gradient(gradient, create_graph)
        retain = create_graph if retain_graph is None else retain_graph
        autograd.run_backward([autograd.grad_edge(self)], [seed], bool(retain), create_graph)

    def _seed_gradient(self, gradient, as_tensor: bool):
        """The gradient a backward from self starts with, checked: `gradient` (or 1 for a
        one-element tensor) as an array of self's shape, dtype and device; as a Tensor (the
        given one itself, so a graph can reach it) when `as_tensor`."""
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward of a non-scalar tensor of shape {self.shape} needs "
                                   "`gradient` (a tensor of the same shape)")
            grad = self._xp.ones(self.array.shape, dtype=self.dtype)
            return Tensor._wrap(grad) if as_tensor else grad
        if as_tensor and isinstance(gradient, Tensor) and gradient.shape == self.shape \
                and gradient.dtype == self.dtype and gradient.device == self.device:
            return gradient
        grad = gradient.array if isinstance(gradient, Tensor) else gradient
        grad = grad if backend.is_array(grad) else np.asarray(grad)
        grad = backend.to_device(grad, self.device).astype(self.dtype, copy=False)
        if grad.shape != self.array.shape:
            raise RuntimeError(f"backward: gradient has shape {tuple(grad.shape)}, "
                               f"but the tensor has shape {self.shape}")
        return Tensor._wrap(grad) if as_tensor else grad

    def _accumulate_grad(self, grad, owned: bool = False) -> None:
        """Add `grad` into ``.grad``. An array the engine says nobody else holds (`owned`) becomes
        ``.grad`` as it is; any other is copied first, so ``.grad`` never aliases another array."""
        if isinstance(grad, Tensor):  # create_graph: the gradient carries its graph, kept out of place
            grad = grad if grad.dtype == self.dtype else grad.astype(self.dtype)
            self._grad = grad if self._grad is None else self._grad + grad
        else:
            if grad.dtype != self.dtype:
                grad, owned = grad.astype(self.dtype), True
            if self._grad is None:
                self._grad = Tensor._wrap(grad if owned else grad.copy())
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
        if isinstance(other, numbers.Number):  # a cached 0-d array: no copy to the GPU per use
            return Tensor._wrap(backend.constant(other, dtypes.scalar_dtype(other, self.dtype), self.device))
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

    # ------------------------------------------------------------ for the method groups
    @staticmethod
    def _new(array, ctx=None, requires_grad=False) -> Tensor:
        """A Tensor around `array`: how the method groups (tensor_*.py), which cannot name the
        class they are mixed into, make tensors."""
        return Tensor._wrap(array, ctx, requires_grad)

    @staticmethod
    def _is_tensor(obj) -> bool:
        return isinstance(obj, Tensor)

    @staticmethod
    def _where(condition, a, b) -> Tensor:
        return _where(condition, a, b)


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


class _RemovableHandle:
    """What registering a hook returns: ``remove()`` takes the hook out again."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks, self.id = hooks, _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)
