"""Higher-order gradients: running an op's backward so that it is itself recorded in the graph.

With ``backward(create_graph=True)`` (or ``autograd.grad(..., create_graph=True)``) the engine
calls ``graph_backward(node, grad)`` instead of the op's array backward. Here the gradients are
Tensors, and the op's backward must be computed with Tensor operations so that it can be
differentiated again. An op says how, in one of two ways:

* ``differentiable_backward = True``: its ordinary ``backward(ctx, grad)`` is written so that it
  works on Tensors too: it uses only ``ctx.xp`` functions (here a NumPy-like namespace over
  Tensors, ``TensorNamespace``), operators and array methods that Tensor shares, and what it
  saved. Its saved inputs and output come back as Tensors linked into the graph (the output's
  ``grad_fn`` is the op itself, an input's is the input's own node), so a derivative that
  depends on them is differentiated correctly. An array the op computed itself may be saved
  only if it is a boolean or integer mask or index (a step function's derivative is zero); a
  saved float array of its own would be treated as a constant — DeZero's batch-norm bug, where
  r = 1/√(σ²+ε) is held fixed although it depends on x — so it is refused.
* ``graph_backward(ctx, grad)``: a separate rule written with Tensor operations, for ops whose
  backward saves intermediates (batch norm's x̂ and r) or needs array-only helpers (im2col).
  The library's convolution, pooling and normalisation ops have one; batch and layer norm's
  call a fused op whose own backward, the double backward, is derived by hand (ops/norm_grad.py).

An op with neither (a user's Function by default) raises a clear error when differentiated
twice: never a silent, wrong second derivative.
"""
from __future__ import annotations

import copy
import weakref

from . import factories, functions
from .autograd import AccumulateGrad, enable_grad
from .tensor import Tensor


class TensorNamespace:
    """The ``ctx.xp`` of a backward that is being recorded: NumPy's names, on Tensors of one
    device, each built from differentiable Tensor operations."""

    def __init__(self, device: str):
        self.device = device

    exp, log, sqrt, sign, tanh, abs = (staticmethod(f) for f in (
        functions.exp, functions.log, functions.sqrt, functions.sign, functions.tanh, functions.abs))

    @staticmethod
    def where(condition, a, b):
        return functions.where(condition, a, b)

    def zeros(self, shape, dtype=None):
        return factories.zeros(shape, dtype=dtype, device=self.device)

    @staticmethod
    def zeros_like(t):
        return factories.zeros_like(t)

    @staticmethod
    def ones_like(t):
        return factories.ones_like(t)

    @staticmethod
    def broadcast_to(t, shape):
        return t.expand(shape)

    @staticmethod
    def transpose(t, axes):
        return t.permute(axes)

    @staticmethod
    def copy(t):
        return t.clone()

    @staticmethod
    def erf(t):
        return functions.erf(t)

    @staticmethod
    def asarray(array):
        """A constant Tensor of `array` (no gradient)."""
        return Tensor._wrap(array)


def _handle(array, edge, version=None) -> Tensor:
    """A Tensor for `array` whose gradients flow into `edge`: the node of the tensor it came
    from (None: no gradient). `version`: the counter of the storage it lives in, so that an
    in-place change of it before a later backward is caught as in a first-order backward."""
    if edge is None:
        t = Tensor._wrap(array)
    elif isinstance(edge, AccumulateGrad):  # a leaf: reach the same AccumulateGrad node
        t = Tensor._wrap(array, requires_grad=True)
        t._accumulator = weakref.ref(edge)
    else:
        t = Tensor._wrap(array, ctx=edge)
    if version is not None:
        t._version = version
    return t


def saved_as_tensors(node, checked: bool) -> tuple:
    """The node's saved arrays as Tensors linked into the graph: an input's with the input's
    node, the output's with `node` itself, the op's own arrays as constants. With `checked`,
    an op's own float array is refused (see the module docstring)."""
    out = []
    for array, owner, version in zip(node.saved_tensors, node.saved_owners, node.saved_versions):
        counter = None if version is None else version[0]
        if array is None:
            out.append(None)
        elif owner == len(node.next_functions):  # the output
            out.append(_handle(array, node, counter))
        elif owner >= 0:
            out.append(_handle(array, node.next_functions[owner][0], counter))
        else:
            if checked and array.dtype.kind == "f":
                raise RuntimeError(
                    f"{node.fn.__name__}.backward cannot be differentiated: it saved a floating "
                    "point array that is neither an input nor its output, which a second "
                    "derivative would wrongly treat as a constant. Save the inputs/output and "
                    "recompute from them, or write graph_backward(ctx, grad) with Tensor ops.")
            out.append(Tensor._wrap(array))
    return tuple(out)


def graph_backward(node, grad: Tensor) -> tuple:
    """The gradients of `node`'s inputs as Tensors recorded in the graph (see the module
    docstring): the op's ``graph_backward``, or its ``backward`` run on Tensors."""
    fn = node.fn
    rule = getattr(fn, "graph_backward", None)
    if rule is None and not getattr(fn, "differentiable_backward", False):
        raise RuntimeError(
            f"{fn.__name__} does not support double backward (create_graph=True): its backward "
            "works on arrays only. To make a Function twice differentiable, set "
            "`differentiable_backward = True` if its backward uses only ctx.xp functions and "
            "arithmetic on the inputs/output it saved, or write `graph_backward(ctx, grad)` with "
            "Tensor operations (README: 'Higher-order gradients').")
    ctx = copy.copy(node)  # the node's attributes (shapes, axes, ...), with Tensors to work on
    ctx.saved_tensors = saved_as_tensors(node, checked=rule is None)
    ctx.xp = TensorNamespace(grad.device)
    ctx.input_tensor = lambda i, array: _handle(array, node.next_functions[i][0])  # an input rebuilt
    with enable_grad():
        result = (rule or fn.backward)(ctx, grad)
    return result if isinstance(result, tuple) else (result,)
