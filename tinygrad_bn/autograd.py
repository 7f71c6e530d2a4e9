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

import functools
import weakref

from . import backend, dispatch
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: F401
                        set_grad_enabled)


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
    (``tinygrad_bn.profiler``) observe the engine. Each active observer wraps the call (so
    nested profilers all see it), under the method's own name."""
    call = method
    for observer in _observers:
        call = functools.update_wrapper(functools.partial(observer, call), method)
    return call(*args, **kwargs)


_observers: list = []  # functions (method, *args) -> result that wrap every op call; see profiler.py


def _tensor_class():
    global _Tensor
    if _Tensor is None:
        from .tensor import Tensor  # lazy: tensor.py imports this module (see the module docstring)
        _Tensor = Tensor
    return _Tensor


_Tensor = None


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
        grad_mode = is_grad_enabled()
        needs = tuple(grad_mode and t.requires_grad for t in tensors)
        record = any(needs)
        if grad_mode:  # even a constant may hide a gradient written into it through a view
            for t in tensors:
                t._check_history()
        arrays = tuple(t.array for t in tensors)
        impl = dispatch.implementation(cls, device, arrays, kwargs)  # the fast-path seam
        ctx = Context(cls, backend.get_array_module(device), needs, impl)
        out = _call_op(impl.forward, ctx, *arrays, **kwargs)
        if backend.is_scalar(out):  # NumPy gives scalars for 0-d results: make it (and its save) an array
            scalar, out = out, backend.as_0d_array(out)
            ctx.saved_tensors = tuple(out if a is scalar else a for a in ctx.saved_tensors)
        result = Tensor._wrap(out)
        result._share_storage_with(tensors)  # a view of an input shares its version counter
        if not record:
            ctx.saved_tensors = ()  # under no_grad, nothing is kept for a backward that never comes
            return result
        ctx.next_functions = tuple((grad_edge(t) if need else None, 0)
                                   for t, need in zip(tensors, needs))
        ctx.input_meta = tuple((t.shape, t.dtype) for t in tensors)
        ctx.saved_owners, ctx.saved_versions = _saved_info(ctx.saved_tensors, tensors + (result,))
        result._ctx, result.requires_grad = ctx, True
        return result


def _saved_info(saved, tensors):
    """For each saved array: its owner, the position of the tensor (an input, or the output
    last) whose array it IS, or -1 for an array of the op's own (a mask, an index, x̂, or a view
    made inside forward); and, for backward's check, the version counter of the storage it lives
    in with the version now (None for an array with a storage of its own). Identity, not shared
    storage, decides the owner: in ``x * x.T`` the saved ``x.T`` is the second input's array, a
    view of the first's storage, and a second derivative must reach it through the transpose."""
    roots = [storage_root(t.array) for t in tensors]
    owners, versions = [], []
    for array in saved:
        if array is None:
            owners.append(None)
            versions.append(None)
            continue
        owners.append(next((i for i, t in enumerate(tensors) if t.array is array), -1))
        root = storage_root(array)
        holder = next((t for t, r in zip(tensors, roots) if r is root), None)
        counter = None if holder is None else holder._version
        versions.append(None if counter is None else (counter, counter.version, array.shape, array.dtype))
    return tuple(owners), tuple(versions)


def _check_versions(ctx) -> None:
    for counter, expected, shape, dtype in filter(None, ctx.saved_versions):
        if counter.version != expected:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: the {dtype} array of shape {tuple(shape)} saved by "
                f"{ctx.name()} is at version {counter.version}; expected version {expected} "
                "instead. Compute it again after the in-place change, or use an out-of-place "
                "operation (the optimizer's step() and `x += ...` are in-place).")


# ---------------------------------------------------------------- the backward engine
def topological_sort(roots):
    """The nodes of the graph ending at `roots` (a node or a list of nodes), each after all the
    nodes it feeds gradients to.

    An iterative depth-first search (an explicit stack instead of recursion), so graphs deeper
    than Python's recursion limit work. It visits an op's inputs in their order (first input
    first), so the order reads like the forward pass (``viz`` numbers nodes by it).
    """
    order, visited = [], set()
    roots = list(roots) if isinstance(roots, (list, tuple)) else [roots]
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for child, _ in reversed(node.next_functions):  # reversed: the first input pops first
            if child is not None and child not in visited:
                stack.append((child, False))
    return order


def run_backward(roots, seeds, retain_graph=False, create_graph=False, capture=None):
    """Backpropagate: walk the graph from `roots` (nodes) seeded with `seeds` (their gradients:
    arrays, or Tensors when `create_graph`), each node after every node that feeds it.

    Without `capture`, leaves that require grad receive their gradients in ``.grad``. With a set
    of nodes to `capture` (``autograd.grad``), the gradients arriving at those nodes are returned
    as a dict instead, ``.grad`` is left alone, and only the part of the graph that leads to them
    is walked. With `create_graph`, each node's backward runs on Tensors and is itself recorded
    (see higher_order.py), so the gradients can be differentiated again.
    """
    order = topological_sort(roots)
    needed = _leading_to(order, capture) if capture is not None else None
    grads, captured = {}, {}
    holders = _Holders()  # who holds which gradient array: a leaf keeps one only if nobody else does
    for root, seed in zip(roots, seeds):
        grads[root] = seed if root not in grads else grads[root] + seed
        holders.add(seed, 2)  # the caller holds its seed too
    for node in reversed(order):
        g = grads.pop(node, None)
        if g is None:
            continue
        holders.add(g, -1)  # this node's entry gives it up (its backward may pass it on)
        if capture is not None and node in capture:
            captured[node] = g
        if isinstance(node, AccumulateGrad):
            if capture is None:
                node.variable._accumulate_grad(g, owned=holders.sole(g))
            continue
        if needed is not None and not any(child in needed for child, _ in node.next_functions):
            continue  # nothing below this node is asked for (autograd.grad): skip its backward
        if node.freed:
            raise RuntimeError(f"backward through {node.name()} a second time: its graph was "
                               "freed by the first backward (pass retain_graph=True to keep it)")
        _check_versions(node)
        if create_graph:
            in_grads = _higher_order().graph_backward(node, g)
        else:
            in_grads = _call_op(node.impl.backward, node, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(node.next_functions):
            raise RuntimeError(f"{node.fn.__name__}.backward returned {len(in_grads)} gradients "
                               f"for {len(node.next_functions)} inputs")
        # a gradient the op may keep for itself (a user's Function may return an array it holds)
        kept_by_op = 0 if node.impl.__module__.startswith(__package__ + ".") else 1
        for (child, _), pg, (shape, dtype) in zip(node.next_functions, in_grads, node.input_meta):
            if pg is None or child is None or (needed is not None and child not in needed):
                continue
            if pg.shape != shape:
                raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape "
                                   f"{tuple(pg.shape)} for an input of shape {shape}")
            if pg.dtype != dtype:  # an input's gradient has the input's dtype, whatever the op did
                pg = pg.astype(dtype)
            # out-of-place sum: `pg` may be the very array another input also received
            prev = grads.get(child)
            grads[child] = pg if prev is None else prev + pg
            holders.add(grads[child], 1 + (kept_by_op if prev is None else 0))
        if not retain_graph:
            node.saved_tensors, node.freed = (), True
    return captured


class _Holders:
    """Counts, per storage, how many places a gradient array of it was handed to. A leaf may keep
    the array it receives as its ``.grad`` (no copy) only when it is the sole holder: an op may
    pass the same array, or a view of it, to several inputs (Add gives dy to both), and a user's
    Function may return an array it keeps (counted as one more holder). Never a broadcast view
    (Sum's backward gives one: its elements share memory) nor a read-only array: ``+=`` must
    be able to accumulate into ``.grad``."""

    def __init__(self):
        self.counts = {}

    def add(self, array, n=1) -> None:
        if not hasattr(array, "array"):  # arrays only: Tensor gradients (create_graph) are never copied
            key = id(storage_root(array))
            self.counts[key] = self.counts.get(key, 0) + n

    def sole(self, array) -> bool:
        if hasattr(array, "array"):  # a Tensor gradient (create_graph) is never taken over
            return False
        overlapping = any(step == 0 and n > 1 for step, n in zip(array.strides, array.shape))
        writeable = getattr(array.flags, "writeable", True)  # (CuPy's arrays always are)
        return writeable and not overlapping and self.counts.get(id(storage_root(array)), 0) <= 0


def _leading_to(order, targets) -> set:
    """The nodes of `order` from which a node of `targets` can be reached (targets included)."""
    needed = set()
    for node in order:  # every node comes after the nodes it feeds: children first
        if node in targets or any(child in needed for child, _ in node.next_functions):
            needed.add(node)
    return needed


def _higher_order():
    from . import higher_order  # lazy: it works on Tensors (see the module docstring)
    return higher_order


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, as PyTorch's ``torch.autograd.grad``.

    Computes Σ_k grad_outputs[k] · ∂outputs[k]/∂input for each input and returns them as a tuple
    of Tensors, leaving every ``.grad`` untouched.

    Args:
        outputs (Tensor or sequence): what to differentiate.
        inputs (Tensor or sequence): with respect to what (tensors that require grad).
        grad_outputs (Tensor or sequence, optional): the upstream gradient of each output
            (default: 1 for one-element outputs; required for others).
        retain_graph (bool, optional): keep the graph for another backward (default: create_graph).
        create_graph (bool, optional): record the gradients' own graph, so they can be
            differentiated again (default: False).
        allow_unused (bool, optional): return None for an input that `outputs` do not depend on,
            instead of raising (default: False).
    """
    Tensor = _tensor_class()
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    roots, seeds = [], []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no graph")
        out._check_history()
        roots.append(grad_edge(out))
        seeds.append(out._seed_gradient(g, create_graph))
    targets = {grad_edge(t): t for t in inputs}
    captured = run_backward(roots, seeds, retain_graph=create_graph if retain_graph is None else retain_graph,
                            create_graph=create_graph, capture=set(targets))
    results = []
    for i, t in enumerate(inputs):
        g = captured.get(grad_edge(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        results.append(None if g is None else g if isinstance(g, Tensor) else Tensor._wrap(g))
    return tuple(results)


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
