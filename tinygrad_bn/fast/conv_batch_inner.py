"""Conv2d with the batch axis innermost in memory (as cuda-convnet): faster on the CPU for narrow
outputs. The math is the reference's (``ops/conv.py``); only where numbers sit in memory differs.

Why: in the reference (NCHW), one kernel tap's slice of the image is made of runs of OW numbers,
and NumPy pays an overhead per run. With the batch innermost, (C, H, W, N), a tap's slice is
made of runs of OW·N numbers, so im2col and col2im copy fast; the price is transposing the
input and output between NCHW and that layout. Short rows make the first worth it: on LeNet's
second layer (10×10 outputs) col2im was 3-4x faster this way and the layer 1.6x; on its first
layer (28×28 outputs) the transposes cost more than they save. So this variant applies to
outputs narrower than ``BATCH_INNER_BELOW`` on the CPU (benchmarks/bench_conv.py measures).
"""
from __future__ import annotations

from ..ops.conv import Conv2d, conv_output_size

BATCH_INNER_BELOW = 16  # output rows narrower than this run with the batch innermost


def applies(device, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    out_w = conv_output_size(x.shape[3], weight.shape[3], stride[1], padding[1], dilation[1])
    return device == "cpu" and out_w < BATCH_INNER_BELOW


def _taps(kernel, stride, dilation, out_size):
    """(i, j, row slice, column slice) of each kernel tap: the pixels tap (i, j) reads for every
    output position, rows d·i + s·oh for oh = 0 .. OH − 1, columns likewise."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            yield (i, j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                   slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def _to_batch_inner(xp, x, padding):
    """NCHW -> zero-padded (C, H + 2ph, W + 2pw, N): the transpose and the padding in one copy."""
    N, C, H, W = x.shape
    ph, pw = padding
    xt = xp.zeros((C, H + 2 * ph, W + 2 * pw, N), dtype=x.dtype)
    xt[:, ph:ph + H, pw:pw + W] = x.transpose(1, 2, 3, 0)
    return xt


def _to_nchw(xp, a):
    """(C, H, W, N) -> a contiguous NCHW array, through (C, H, N, W): one direct copy would read
    with a stride of N numbers while writing rows of C·H·W, touching a new memory page at almost
    every element; two copies that keep both sides in short contiguous runs measured 2.5x faster."""
    tiles = xp.ascontiguousarray(a.transpose(0, 1, 3, 2))
    return xp.ascontiguousarray(tiles.transpose(2, 0, 1, 3))


def _im2col(xp, xt, kernel, stride, dilation, out_size):
    """(C, H, W, N) -> columns (C, kH, kW, OH, OW, N): one strided copy per kernel tap."""
    cols = xp.empty((xt.shape[0], *kernel, *out_size, xt.shape[3]), dtype=xt.dtype)
    for i, j, rows, columns in _taps(kernel, stride, dilation, out_size):
        cols[:, i, j] = xt[:, rows, columns]
    return cols


def _col2im(xp, cols, padded_shape, stride, dilation):
    """The adjoint of ``_im2col``: overlapping patches add up, so ``+=`` per tap."""
    dxt = xp.zeros(padded_shape, dtype=cols.dtype)
    for i, j, rows, columns in _taps(cols.shape[1:3], stride, dilation, cols.shape[3:5]):
        dxt[:, rows, columns] += cols[:, i, j]
    return dxt


class Conv2dBatchInner:
    """Conv2d's forward and backward (same contract, same saved arrays) in the (C, H, W, N) layout."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        xp, (N, _, H, W), (O, _, kh, kw) = ctx.xp, x.shape, weight.shape
        out_size = (conv_output_size(H, kh, stride[0], padding[0], dilation[0]),
                    conv_output_size(W, kw, stride[1], padding[1], dilation[1]))
        cols = _im2col(xp, _to_batch_inner(xp, x, padding), (kh, kw), stride, dilation, out_size)
        cols = cols.reshape(groups, -1, N * out_size[0] * out_size[1])
        out = weight.reshape(groups, O // groups, -1) @ cols
        out = out.reshape(O, *out_size, N)
        if bias is not None:
            out += bias[:, None, None, None]
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        ctx.x_shape, ctx.has_bias = x.shape, bias is not None  # the reference's context exactly
        return _to_nchw(xp, out)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        (N, C, H, W), out_size = ctx.x_shape, grad.shape[2:]
        geometry = ctx.geometry
        stride, padding = geometry["stride"], geometry["padding"]
        dilation, groups = geometry["dilation"], geometry["groups"]
        xp, (O, _, kh, kw) = ctx.xp, weight.shape
        g = xp.ascontiguousarray(grad.transpose(1, 2, 3, 0)).reshape(groups, O // groups, -1)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            (ph, pw), w_t = padding, weight.reshape(groups, O // groups, -1).transpose(0, 2, 1)
            dcols = (w_t @ g).reshape(C, kh, kw, *out_size, N)
            dxt = _col2im(xp, dcols, (C, H + 2 * ph, W + 2 * pw, N), stride, dilation)
            dx = _to_nchw(xp, dxt[:, ph:ph + H, pw:pw + W])
        if ctx.needs_input_grad[1]:
            cols = _im2col(xp, _to_batch_inner(xp, x, padding), (kh, kw), stride, dilation, out_size)
            dw = (g @ cols.reshape(groups, -1, g.shape[2]).transpose(0, 2, 1)).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = g.reshape(O, -1).sum(axis=1)
        return (dx, dw, db) if ctx.has_bias else (dx, dw)


FAST_PATHS = [(Conv2d, Conv2dBatchInner, applies)]
