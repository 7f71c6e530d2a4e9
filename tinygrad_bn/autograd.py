"""Reverse-mode automatic differentiation: Function, its context, grad mode, the backward engine.

How the pieces fit:

* An op is a subclass of ``Function`` with two static methods working on backend arrays
  (NumPy or CuPy): ``forward(ctx, *arrays, **kwargs) -> array`` and
  ``backward(ctx, grad_output) -> one gradient per input``.
* ``Op.apply(*tensors, **kwargs)`` unwraps the tensors, runs ``forward`` and, when a gradient
  will be needed, wraps the result in a Tensor whose ``_ctx`` remembers the op, its inputs and
  what ``forward`` saved. Those contexts ARE the graph.
* ``backward(tensor)`` sorts the graph topologically, seeds the output gradient, walks the list
  from the output back, and *accumulates* each op's input gradients (a tensor used twice gets
  the sum). Leaves that require grad receive theirs in ``.grad``. Then the graph is freed.

The import cycle tensor -> autograd -> tensor is broken here, in one place: ``apply`` imports
Tensor lazily (``_tensor_class``), because Tensor's methods are written with ``Op.apply``.
"""
from __future__ import annotations

import contextlib
import threading
import time

from . import backend

# ---------------------------------------------------------------- grad mode
_state = threading.local()


def is_grad_enabled() -> bool:
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


# ---------------------------------------------------------------- Function
class Context:
    """What an op's forward leaves for its backward.

    Attributes:
        xp: the array module of the op's device (numpy or cupy): call ``ctx.xp.exp`` etc.
        saved_tensors: the arrays passed to ``save_for_backward``.
        needs_input_grad: one bool per tensor input, so backward can skip unneeded work.
    Ops may put any other non-array values on the context as attributes.
    """

    def __init__(self, fn, xp, parents, needs_input_grad):
        self.fn = fn
        self.xp = xp
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self.freed = False

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


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
        ctx = Context(cls, backend.get_array_module(device), tensors if record else (), needs)
        if _profiler is None:
            out = cls.forward(ctx, *(t.data for t in tensors), **kwargs)
        else:
            out = _profiler.timed(cls, "forward", cls.forward, ctx, *(t.data for t in tensors), **kwargs)
        if not record:
            ctx.saved_tensors = ()  # under no_grad, nothing is kept for a backward that never comes
            return Tensor._wrap(out)
        return Tensor._wrap(out, ctx=ctx)


# ---------------------------------------------------------------- the backward engine
def topological_sort(root):
    """Tensors of the graph ending at `root`, each after all of its inputs.

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
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if id(parent) not in visited and parent.requires_grad:
                    stack.append((parent, False))
    return order


def backward(root, grad, retain_graph=False):
    """Backpropagate `grad` (an array of root's shape) from `root` into every leaf's ``.grad``."""
    if root._ctx is None:
        raise RuntimeError("backward: this tensor has no graph (it is a leaf, or was computed "
                           "under no_grad or from tensors that do not require grad)")
    order = topological_sort(root)
    grads = {id(root): grad}
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        ctx = node._ctx
        if ctx is None:  # a leaf: accumulate into .grad
            node._accumulate_grad(g)
            continue
        if ctx.freed:
            raise RuntimeError(f"backward through {ctx.fn.__name__} a second time: its graph was "
                               "freed by the first backward (pass retain_graph=True to keep it)")
        if _profiler is None:
            in_grads = ctx.fn.backward(ctx, g)
        else:
            in_grads = _profiler.timed(ctx.fn, "backward", ctx.fn.backward, ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(ctx.parents):
            raise RuntimeError(f"{ctx.fn.__name__}.backward returned {len(in_grads)} gradients "
                               f"for {len(ctx.parents)} inputs")
        for parent, pg in zip(ctx.parents, in_grads):
            if pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.shape:
                raise RuntimeError(f"{ctx.fn.__name__}.backward returned a gradient of shape "
                                   f"{tuple(pg.shape)} for an input of shape {parent.shape}")
            # out-of-place sum: `pg` may be the very array another input also received
            prev = grads.get(id(parent))
            grads[id(parent)] = pg if prev is None else prev + pg
        if not retain_graph:
            ctx.saved_tensors, ctx.parents, ctx.freed = (), (), True


def saved_nbytes(root) -> int:
    """Bytes of every distinct array that the graph ending at `root` keeps for backward: what
    a training step holds in memory beyond its parameters (compare a fused op with its
    composed version, or see what `no_grad` saves)."""
    seen, total = set(), 0
    for node in topological_sort(root):
        for array in (node._ctx.saved_tensors if node._ctx is not None else ()):
            if array is not None and id(array) not in seen:
                seen.add(id(array))
                total += array.nbytes
    return total


# ---------------------------------------------------------------- profiling
_profiler = None  # the active Profiler, if any; apply() and backward() time ops through it


class Profiler:
    """Wall time spent in each op's forward and backward while the profiler is active.

    Example:
        >>> with Profiler() as prof:
        ...     loss = model(x).sum(); loss.backward()
        >>> print(prof.table())

    On a GPU, ops return before their kernels finish; pass ``synchronize`` (a function that waits
    for the device) to charge each op its own kernel time, at the cost of the overlap.
    """

    def __init__(self, synchronize=None):
        self.synchronize = synchronize
        self.records = {}  # (op name, 'forward' | 'backward') -> [seconds, calls]
        self._previous = None

    def __enter__(self):
        global _profiler
        self._previous, _profiler = _profiler, self
        return self

    def __exit__(self, *exc):
        global _profiler
        _profiler = self._previous
        return False

    def timed(self, fn, phase, method, *args, **kwargs):
        start = time.perf_counter()
        result = method(*args, **kwargs)
        if self.synchronize is not None:
            self.synchronize()
        record = self.records.setdefault((fn.__name__, phase), [0.0, 0])
        record[0] += time.perf_counter() - start
        record[1] += 1
        return result

    def table(self) -> str:
        """The records as text, the most expensive first, with each one's share of the total."""
        total = sum(seconds for seconds, _ in self.records.values()) or 1.0
        lines = [f"{'op':>14} {'phase':>9} {'calls':>7} {'total ms':>10} {'ms/call':>8} {'share':>6}"]
        for (name, phase), (seconds, calls) in sorted(self.records.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"{name:>14} {phase:>9} {calls:7d} {seconds * 1e3:10.1f} "
                         f"{seconds * 1e3 / calls:8.3f} {seconds / total:6.1%}")
        lines.append(f"{'all ops':>14} {'':>9} {'':>7} {total * 1e3:10.1f}")
        return "\n".join(lines)
