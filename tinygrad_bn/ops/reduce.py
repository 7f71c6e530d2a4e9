"""Reduction ops: sum, max, and the softmax pair (reductions along one axis).

Mean, var, std and min are compositions of these and live in tensor.py.
"""
from __future__ import annotations

from ..autograd import Function
from .utils import keepdim_shape


class Sum(Function):
    """y = Σ_axes x;  dy/dx = 1: the gradient is broadcast back over the summed axes.

    Saves only the input shape. `axes` is a normalised tuple (see utils.normalize_dims).
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, axes=(), keepdim=False):
        ctx.in_shape, ctx.axes = x.shape, axes
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        kept = grad.reshape(keepdim_shape(ctx.in_shape, ctx.axes))
        return ctx.xp.broadcast_to(kept, ctx.in_shape)


class Max(Function):
    """y = max_axes x;  dy/dx = 1/k at the k positions that attain the maximum, 0 elsewhere.

    Tied maxima share the gradient equally (like torch.amax). Saves a boolean mask of the
    maxima (its tie counts are summed again in backward), not the input.
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, axes=(), keepdim=False):
        y = x.max(axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x == y)
            ctx.axes = axes
        return y if keepdim else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    @staticmethod
    def backward(ctx, grad):
        (is_max,) = ctx.saved_tensors
        count = is_max.sum(axis=ctx.axes, keepdims=True).astype(grad.dtype)  # ties per output
        return is_max * (grad.reshape(count.shape) / count)


class LogSoftmax(Function):
    """y = x - max(x) - log Σ exp(x - max(x))  along `dim`;  dx = g - softmax(x)·Σ g.

    Subtracting the max first keeps every exp in [0, 1]: finite for logits of any size.
    Saves the output (softmax = exp(y)).
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, dim=-1):
        xp = ctx.xp
        shifted = x - x.max(axis=dim, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad - ctx.xp.exp(y) * grad.sum(axis=ctx.dim, keepdims=True)


class Softmax(Function):
    """y = exp(x - max(x)) / Σ exp(x - max(x))  along `dim`;  dx = y·(g - Σ g·y).

    Saves the output.
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, dim=-1):
        e = ctx.xp.exp(x - x.max(axis=dim, keepdims=True))
        y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(axis=ctx.dim, keepdims=True))
