"""Reverse-mode automatic differentiation: Function, the graph's nodes, grad mode, the engine.

How the pieces fit:

* An op is a subclass of ``Function`` with two static methods working on backend arrays
  (NumPy or CuPy): ``forward(ctx, *arrays, **kwargs) -> array`` and
  ``backward(ctx, grad_output) -> one gradient per input``.
* ``Op.apply(*tensors, **kwargs)`` unwraps the tensors, runs ``forward`` and, when a gradient
  will be needed, gives the result a ``grad_fn``: the op's context, a node of the graph that
  remembers what ``forward`` saved and, in ``next_functions``, the node of each input (the
  input's own ``grad_fn``, or an ``AccumulateGrad`` node for a leaf that requires grad). As in
  PyTorch, the graph links nodes, not tensors: a tensor may later be changed in place and get a
  new ``grad_fn`` without rewiring the graph that earlier ops built from its old value.
* ``backward(tensor)`` sorts the nodes topologically, seeds the output gradient, walks them from
  the output back, and *accumulates* each node's input gradients (a tensor used twice gets the
  sum). ``AccumulateGrad`` nodes add theirs into the leaf's ``.grad``. Then the graph is freed.

Every storage has a version counter (``VersionCounter``), bumped by each in-place write. An op
records the version of each array it saves; backward refuses to use an array that was written
since (the values it would use are no longer the ones forward saw).

The import cycle tensor -> autograd -> tensor is broken here, in one place: ``apply`` imports
Tensor lazily (``_tensor_class``), because Tensor's methods are written with ``Op.apply``.
"""
from __future__ import annotations

import contextlib
import threading
import weakref

from . import backend, dispatch

# ---------------------------------------------------------------- grad mode
_state = threading.local()


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default); False inside ``no_grad``."""
    return getattr(_state, "enabled", True)


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode, restoring the old mode on exit."""

    def __init__(self, mode: bool):
        self.mode = mode
        self.prev = []

    def __enter__(self):
        self.prev.append(is_grad_enabled())
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev.pop()
        return False


class no_grad(_GradMode):
    """Inside ``with tg.no_grad():`` (or a function decorated ``@tg.no_grad()`` or
    ``@tg.no_grad``), ops record no graph and save nothing for backward."""

    def __new__(cls, func=None):
        if func is not None:  # `@tg.no_grad` without parentheses, as PyTorch allows
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None):
        super().__init__(False)


class enable_grad(_GradMode):
    """Turns graph recording back on inside a ``no_grad`` region (also a decorator)."""

    def __new__(cls, func=None):
        if func is not None:  # `@tg.enable_grad` without parentheses
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None):
        super().__init__(True)


class inference_mode(_GradMode):
    """PyTorch's faster ``no_grad`` for inference; here it is exactly ``no_grad``.
    ``inference_mode(False)`` leaves grad mode as it is. Also a decorator."""

    def __new__(cls, mode=True):
        if callable(mode):  # `@tg.inference_mode` without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        super().__init__(False if mode else is_grad_enabled())
        self.active = bool(mode)

    def __enter__(self):
        self.prev.append(is_grad_enabled())
        if self.active:
            _state.enabled = False
        return self


class set_grad_enabled(_GradMode):
    """Set grad mode on (True) or off (False).

    As a function call it takes effect at once (``tg.set_grad_enabled(False)``); as a context
    manager (``with tg.set_grad_enabled(is_train):``) it restores the previous mode on exit.
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled expects a bool, got {mode!r}")
        super().__init__(mode)
        self.prev.append(is_grad_enabled())  # set now, as PyTorch does, and restored by __exit__
        _state.enabled = mode

    def __enter__(self):
        return self


# ---------------------------------------------------------------- version counters
class VersionCounter:
    """How many times a storage (an array and every view of it) has been written in place.

    Shared by a tensor, its views and its ``.detach()``; ``rebases`` counts the in-place writes
    that were recorded in the graph (they change the tensor's history, not only its values).
    """

    __slots__ = ("version", "rebases")

    def __init__(self):
        self.version = 0
        self.rebases = 0

    def bump(self, recorded: bool = False) -> None:
        self.version += 1
        if recorded:
            self.rebases += 1


def storage_root(array):
    """The array that owns `array`'s memory (itself unless it is a view)."""
    while getattr(array, "base", None) is not None and backend.is_array(array.base):
        array = array.base
    return array


# ---------------------------------------------------------------- the graph's nodes
class Node:
    """A node of the backward graph: what ``tensor.grad_fn`` returns.

    ``next_functions`` is a tuple with one ``(node, 0)`` pair per input of the op, as in
    PyTorch: the input's own ``grad_fn``, its ``AccumulateGrad`` node if it is a leaf that
    requires grad, or ``None`` if no gradient flows to it.
    """

    next_functions: tuple = ()

    def name(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: the gradient arriving here is added to
    ``variable.grad``. A leaf has one such node, shared by every graph that uses it."""

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"


def grad_edge(t):
    """The node that gradients for tensor `t` flow into (None when it needs none)."""
    if t._ctx is not None:
        return t._ctx
    if not t.requires_grad:
        return None
    node = t._accumulator() if t._accumulator is not None else None
    if node is None:  # the tensor holds it weakly; graphs that use it hold it strongly
        node = AccumulateGrad(t)
        t._accumulator = weakref.ref(node)
    return node


class Context(Node):
    """An op's node in the graph, and what its forward leaves for its backward.

    Attributes:
        xp: the array module of the op's device (numpy or cupy): call ``ctx.xp.exp`` etc.
        saved_tensors: the arrays passed to ``save_for_backward``.
        needs_input_grad: one bool per tensor input, so backward can skip unneeded work.
    Ops may put any other non-array values on the context as attributes.
    """

    def __init__(self, fn, xp, needs_input_grad, impl=None):
        self.fn = fn                                 # the op (its name is the node's name)
        self.impl = fn if impl is None else impl     # whose forward ran: the op, or a fast variant
        self.xp = xp
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self.freed = False

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def name(self) -> str:
        return f"{self.fn.__name__}Backward0"  # PyTorch's naming: MulBackward0, ...


def _call_op(method, *args, **kwargs):
    """Every forward and backward of an op runs through here: the one place where tools
    (``tinygrad_bn.profiler``) observe the engine."""
    if _observers:
        return _observers[-1](method, *args, **kwargs)
    return method(*args, **kwargs)


_observers: list = []  # functions (method, *args) -> result that wrap every op call; see profiler.py


def _tensor_class():
    from .tensor import Tensor  # lazy: tensor.py imports this module (see the module docstring)
    return Tensor


class Function:
    """Base class of every differentiable op. Subclass it and write, as static methods,

    ``forward(ctx, *arrays, **kwargs)``: compute the output array from the input arrays;
        call ``ctx.save_for_backward(...)`` with what backward needs (and nothing more).
    ``backward(ctx, grad)``: return the gradient w.r.t. each tensor input (a tuple, or a single
        array for a single input; None where an input needs none), each of its input's shape.

    Then call ``MyOp.apply(*tensors, **kwargs)``. Positional arguments are the op's tensor
    inputs; keyword arguments are passed to forward as they are (shapes, flags, buffers).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *tensors, **kwargs):
        Tensor = _tensor_class()
        if not tensors:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor input")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"{cls.__name__}.apply: positional argument {i} is "
                                f"{type(t).__name__}, expected a Tensor (pass other values by keyword)")
        device = tensors[0].device
        for t in tensors[1:]:
            if t.device != device:
                raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, "
                                   f"found {device} and {t.device}")
        # under no_grad nothing needs a gradient, so ops skip what they would save for backward
        needs = tuple(is_grad_enabled() and t.requires_grad for t in tensors)
        record = any(needs)
        if record:
            for t in tensors:
                t._check_history()
        arrays = tuple(t.array for t in tensors)
        impl = dispatch.implementation(cls, device, arrays, kwargs)  # the fast-path seam
        ctx = Context(cls, backend.get_array_module(device), needs, impl)
        out = _call_op(impl.forward, ctx, *arrays, **kwargs)
        result = Tensor._wrap(out)
        result._share_storage_with(tensors)  # a view of an input shares its version counter
        if not record:
            ctx.saved_tensors = ()  # under no_grad, nothing is kept for a backward that never comes
            return result
        ctx.next_functions = tuple((grad_edge(t) if need else None, 0)
                                   for t, need in zip(tensors, needs))
        ctx.input_meta = tuple((t.shape, t.dtype) for t in tensors)
        ctx.saved_versions = _saved_versions(ctx.saved_tensors, tensors + (result,))
        result._ctx, result.requires_grad = ctx, True
        return result


def _saved_versions(saved, tensors):
    """For each saved array that lives in the storage of one of `tensors` (an input or the
    output), that tensor's version counter and its version now: backward checks them."""
    if not saved:
        return ()
    roots = [(storage_root(t.array), t) for t in tensors]
    checks = []
    for array in saved:
        if array is None:
            continue
        root = storage_root(array)
        for owner_root, t in roots:
            if owner_root is root:
                checks.append((t._version, t._version.version, array.shape, array.dtype))
                break
    return tuple(checks)


def _check_versions(ctx) -> None:
    for counter, expected, shape, dtype in ctx.saved_versions:
        if counter.version != expected:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: the {dtype} array of shape {tuple(shape)} saved by "
                f"{ctx.name()} is at version {counter.version}; expected version {expected} "
                "instead. Compute it again after the in-place change, or use an out-of-place "
                "operation (the optimizer's step() and `x += ...` are in-place).")


# ---------------------------------------------------------------- the backward engine
def topological_sort(root):
    """The nodes of the graph ending at `root`, each after all the nodes it feeds gradients to.

    An iterative depth-first search (an explicit stack instead of recursion), so graphs deeper
    than Python's recursion limit work.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for child, _ in node.next_functions:
            if child is not None and child not in visited:
                stack.append((child, False))
    return order


def backward(root_node, grad, retain_graph=False):
    """Backpropagate `grad` (an array of the root tensor's shape) from `root_node` into the
    ``.grad`` of every leaf that requires grad."""
    order = topological_sort(root_node)
    grads = {root_node: grad}
    for node in reversed(order):
        g = grads.pop(node, None)
        if g is None:
            continue
        if isinstance(node, AccumulateGrad):
            node.variable._accumulate_grad(g)
            continue
        if node.freed:
            raise RuntimeError(f"backward through {node.name()} a second time: its graph was "
                               "freed by the first backward (pass retain_graph=True to keep it)")
        _check_versions(node)
        in_grads = _call_op(node.impl.backward, node, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(node.next_functions):
            raise RuntimeError(f"{node.fn.__name__}.backward returned {len(in_grads)} gradients "
                               f"for {len(node.next_functions)} inputs")
        for (child, _), pg, (shape, _) in zip(node.next_functions, in_grads, node.input_meta):
            if pg is None or child is None:
                continue
            if pg.shape != shape:
                raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape "
                                   f"{tuple(pg.shape)} for an input of shape {shape}")
            # out-of-place sum: `pg` may be the very array another input also received
            prev = grads.get(child)
            grads[child] = pg if prev is None else prev + pg
        if not retain_graph:
            node.saved_tensors, node.freed = (), True


def saved_nbytes(tensor) -> int:
    """Bytes of every distinct array that the graph ending at `tensor` keeps for backward: what
    a training step holds in memory beyond its parameters (compare a fused op with its
    composed version, or see what `no_grad` saves)."""
    if tensor.grad_fn is None:
        return 0
    seen, total = set(), 0
    for node in topological_sort(tensor.grad_fn):
        for array in getattr(node, "saved_tensors", ()):
            if array is not None and id(array) not in seen:
                seen.add(id(array))
                total += array.nbytes
    return total
