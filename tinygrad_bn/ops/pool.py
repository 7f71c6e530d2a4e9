"""Max and average pooling over NCHW images, on the patch view of ``conv.windows``.

A pool reduces each kH×kW window of each channel to one number. Seen through ``windows`` (a
strided view (N, C, kH, kW, OH, OW) of the padded input, no copy), that is a reduction over the
two kernel axes; the backward sends each output's gradient back into its window with
``col2im``, the same adjoint the convolution uses (overlapping windows add up).

This file is the reference algorithm; the CPU runs a faster tap-by-tap variant
(``tinygrad_bn/fast/pool_taps.py``), chosen by ``tinygrad_bn/dispatch.py``. Each pool's backward
is linear in the upstream gradient, so its derivative is its adjoint: a max pool's backward
scatters into the window maxima and gathering from them undoes it (``MaxPoolScatter`` and
``MaxPoolGather``); an average pool's backward spreads over the windows and averaging the
windows undoes it (``AvgPoolScatter`` and ``AvgPool2d``). That is how pools are differentiated
twice, and to any order.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from .conv import col2im, conv_output_size, pad, windows


def pool_output_size(x_shape, kernel_size, stride, padding) -> tuple[int, int]:
    """(OH, OW) of a pool (no dilation, PyTorch's ceil_mode=False)."""
    return tuple(conv_output_size(n, k, s, p) for n, k, s, p in
                 zip(x_shape[2:], kernel_size, stride, padding))


class MaxPool2d(Function):
    """y = max over each kH×kW window (padding counts as −inf);  dx = dy at the window's max.

    On ties the whole gradient goes to ONE position, the first maximum of the window in
    row-major order, as PyTorch does (its saved index is the first argmax). Saves that index
    per output (0 .. kH·kW − 1, in the smallest unsigned type that holds it), not the input.
    """

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
        xp, (kh, kw) = ctx.xp, kernel_size
        out_size = pool_output_size(x.shape, kernel_size, stride, padding)
        patches = windows(xp, pad(xp, x, padding, -np.inf), kernel_size, stride, (1, 1), out_size)
        patches = patches.reshape(x.shape[0], x.shape[1], kh * kw, *out_size)  # one copy
        index = patches.argmax(axis=2)[:, :, None]
        y = xp.take_along_axis(patches, index, axis=2)[:, :, 0]
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(index[:, :, 0].astype(np.min_scalar_type(kh * kw - 1)))
            ctx.pool = x.shape, kernel_size, stride, padding
        return y

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return _scatter_at(ctx.xp, grad, index, *ctx.pool)

    @staticmethod
    def graph_backward(ctx, grad):
        (index,) = ctx.saved_tensors  # a constant: the winners do not move under a small change
        return MaxPoolScatter.apply(grad, index=index.array, pool=ctx.pool)


def _scatter_at(xp, grad, index, x_shape, kernel_size, stride, padding):
    """Each output's gradient into its window's winning position (index, 0 .. kH·kW − 1)."""
    kh, kw = kernel_size
    taps = xp.arange(kh * kw, dtype=index.dtype).reshape(kh, kw, 1, 1)
    cols = (index[:, :, None, None] == taps) * grad[:, :, None, None]  # (N, C, kH, kW, OH, OW)
    return col2im(xp, cols, x_shape, stride, padding, (1, 1))


def _gather_at(xp, x, index, x_shape, kernel_size, stride, padding):
    """Each window's value at its winning position: the adjoint of ``_scatter_at``."""
    (kh, kw), out_size = kernel_size, index.shape[2:]
    patches = windows(xp, pad(xp, x, padding), kernel_size, stride, (1, 1), out_size)
    patches = patches.reshape(x.shape[0], x.shape[1], kh * kw, *out_size)
    return xp.take_along_axis(patches, index[:, :, None].astype(np.intp), axis=2)[:, :, 0]


class MaxPoolScatter(Function):
    """dx = the gradient put at each window's maximum (MaxPool2d's backward, linear in dy);
    its derivative gathers from those same positions (``MaxPoolGather``)."""

    @staticmethod
    def forward(ctx, grad, index=None, pool=()):
        ctx.index, ctx.pool = index, pool
        return _scatter_at(ctx.xp, grad, index, *pool)

    @staticmethod
    def backward(ctx, u):
        return _gather_at(ctx.xp, u, ctx.index, *ctx.pool)

    @staticmethod
    def graph_backward(ctx, u):
        return MaxPoolGather.apply(u, index=ctx.index, pool=ctx.pool)


class MaxPoolGather(Function):
    """y = x at each window's (given) maximum position; the adjoint of ``MaxPoolScatter``."""

    @staticmethod
    def forward(ctx, x, index=None, pool=()):
        ctx.index, ctx.pool = index, pool
        return _gather_at(ctx.xp, x, index, *pool)

    @staticmethod
    def backward(ctx, v):
        return _scatter_at(ctx.xp, v, ctx.index, *ctx.pool)

    @staticmethod
    def graph_backward(ctx, v):
        return MaxPoolScatter.apply(v, index=ctx.index, pool=ctx.pool)


class AvgPool2d(Function):
    """y = (1 / kH·kW) Σ_window x  (padding zeros count, PyTorch's count_include_pad=True);
    dx = dy / (kH·kW) at every position of the window. Saves nothing but shapes."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
        xp, (kh, kw) = ctx.xp, kernel_size
        out_size = pool_output_size(x.shape, kernel_size, stride, padding)
        patches = windows(xp, pad(xp, x, padding), kernel_size, stride, (1, 1), out_size)
        ctx.pool = x.shape, kernel_size, stride, padding
        y = patches.sum(axis=(2, 3))
        y /= kh * kw  # in place: a Python int keeps y's dtype
        return y

    @staticmethod
    def backward(ctx, grad):
        return _spread(ctx.xp, grad, *ctx.pool)

    @staticmethod
    def graph_backward(ctx, grad):
        return AvgPoolScatter.apply(grad, pool=ctx.pool)


def _spread(xp, grad, x_shape, kernel_size, stride, padding):
    """Each output's gradient / (kH·kW) added at every position of its window."""
    kh, kw = kernel_size
    share = grad[:, :, None, None] / (kh * kw)
    cols = xp.broadcast_to(share, (*grad.shape[:2], kh, kw, *grad.shape[2:]))
    return col2im(xp, cols, x_shape, stride, padding, (1, 1))


class AvgPoolScatter(Function):
    """dx = AvgPool2d's backward, linear in dy; its derivative is the average pool itself."""

    @staticmethod
    def forward(ctx, grad, pool=()):
        ctx.pool = pool
        return _spread(ctx.xp, grad, *pool)

    @staticmethod
    def backward(ctx, u):
        return AvgPool2d.forward(ctx, u, *ctx.pool[1:])

    @staticmethod
    def graph_backward(ctx, u):
        return AvgPool2d.apply(u, kernel_size=ctx.pool[1], stride=ctx.pool[2], padding=ctx.pool[3])
