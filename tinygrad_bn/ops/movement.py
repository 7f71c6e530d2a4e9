"""Movement ops: they rearrange elements without arithmetic, so each backward moves the
gradient back the inverse way. None of them saves an array, only shapes or indices.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from .utils import unbroadcast


class Reshape(Function):
    """y = x viewed with a new shape;  dx = dy reshaped back. (Also view/flatten/squeeze/unsqueeze.)"""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape)


class Permute(Function):
    """y = x with its axes reordered by `dims`;  dx = dy permuted by the inverse order."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, dims=()):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        inverse = sorted(range(len(ctx.dims)), key=ctx.dims.__getitem__)
        return ctx.xp.transpose(grad, inverse)


class Expand(Function):
    """y = x broadcast to `shape` (a view, no copy);  dx = dy summed back (unbroadcast)."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.in_shape = x.shape
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.in_shape)


def _is_basic(index) -> bool:
    """True for indices that never name an element twice: ints, slices, None, Ellipsis, and a
    boolean mask alone (integer arrays may repeat, so they must scatter-add)."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) == 1 and getattr(parts[0], "dtype", None) == bool:
        return True
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class GetItem(Function):
    """y = x[index];  dx = zeros with dy added at the indexed places.

    Integer-array indices may name one element several times; their gradients must ADD up,
    so advanced indices scatter with `backend.scatter_add` rather than plain assignment.
    """

    @staticmethod
    def forward(ctx, x, index=()):
        ctx.in_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        dx = ctx.xp.zeros(ctx.in_shape, dtype=grad.dtype)
        if _is_basic(ctx.index):
            dx[ctx.index] = grad
        else:
            backend.scatter_add(dx, ctx.index, grad)
        return dx

    @staticmethod
    def graph_backward(ctx, grad):
        return ScatterAdd.apply(grad, shape=ctx.in_shape, index=ctx.index)


class ScatterAdd(Function):
    """y = zeros of `shape` with v added at `index` (repeated places add up): GetItem's adjoint;
    dy/dv = dy[index], a GetItem again."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, values, shape=(), index=()):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=values.dtype)
        backend.scatter_add(out, index, values)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index]


class SetItem(Function):
    """z = a copy of x with z[index] = v (``x[index] = v``, recorded in the graph);
    dz/dx = 1 outside the index, 0 inside;  dz/dv = the gradient at the index, un-broadcast."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, value, index=()):
        ctx.index, ctx.value_shape = index, value.shape
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        dx = dv = None
        if ctx.needs_input_grad[0]:
            dx = ctx.xp.copy(grad)
            dx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            dv = unbroadcast(grad[ctx.index], ctx.value_shape)
        return dx, dv


class Cat(Function):
    """y = the inputs joined along `dim`;  each input's gradient is its slice of dy."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, *xs, dim=0):
        ctx.sizes, ctx.dim = [x.shape[dim] for x in xs], dim
        return ctx.xp.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        grads, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            index = (slice(None),) * ctx.dim + (slice(start, start + size),)
            grads.append(grad[index] if need else None)
            start += size
        return tuple(grads)
