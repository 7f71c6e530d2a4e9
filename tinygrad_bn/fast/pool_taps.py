"""Max and average pooling tap by tap, for the CPU: the window reduction as kH·kW elementwise
maxima (or sums) of strided slices, instead of one reduction over the patch view.

Why: NumPy reduces over the two short kernel axes of the patch view with its inner loop running
over those 2-3 numbers, which measured about 30x slower than three elementwise maxima over the
whole 2×2 taps (each a long, simple loop). When the windows tile the input exactly (stride ==
kernel, no padding, sizes divide) a reshape exposes them without a padding copy, and backward
assigns each element once instead of accumulating.
"""
from __future__ import annotations

import numpy as np

from ..ops.pool import AvgPool2d, MaxPool2d, pool_output_size


def _applies(device, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
    return device == "cpu"


def _tiled(x_shape, kernel_size, stride, padding) -> bool:
    H, W = x_shape[2:]
    return (stride == kernel_size and padding == (0, 0)
            and H % kernel_size[0] == 0 and W % kernel_size[1] == 0)


def _taps(x, kernel_size, stride, out_size, tiled):
    """The kH·kW tap views (N, C, OH, OW) of (padded) `x`, in row-major tap order."""
    (kh, kw), (sh, sw), (oh, ow) = kernel_size, stride, out_size
    if tiled:
        x6 = x.reshape(x.shape[0], x.shape[1], oh, kh, ow, kw)
        return [x6[:, :, :, i, :, j] for i in range(kh) for j in range(kw)]
    return [x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]


def _padded(xp, x, padding, value):
    (ph, pw), (N, C, H, W) = padding, x.shape
    if ph == pw == 0:
        return x
    out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def _scatter_taps(xp, parts, dtype, x_shape, kernel_size, stride, padding, out_size, tiled):
    """The adjoint of ``_taps``: each tap's part added into its view; padding cut off."""
    if tiled:  # every element of x lies in exactly one window: assign, no zero fill, no sums
        dx = xp.empty(x_shape, dtype=dtype)
        for view, part in zip(_taps(dx, kernel_size, stride, out_size, True), parts):
            view[...] = part
        return dx
    N, C, H, W = x_shape
    ph, pw = padding
    dx = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    for view, part in zip(_taps(dx, kernel_size, stride, out_size, False), parts):
        view += part
    return dx[:, :, ph:ph + H, pw:pw + W]


class MaxPool2dTaps:
    """MaxPool2d tap by tap (same contract, same saved index as the reference)."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
        xp = ctx.xp
        out_size = pool_output_size(x.shape, kernel_size, stride, padding)
        tiled = _tiled(x.shape, kernel_size, stride, padding)
        taps = _taps(x if tiled else _padded(xp, x, padding, -np.inf), kernel_size, stride, out_size, tiled)
        y = taps[0].copy()
        if not ctx.needs_input_grad[0]:  # inference: the max alone, no index to keep
            for tap in taps[1:]:
                xp.maximum(y, tap, out=y)
            return y
        index = xp.zeros(y.shape, dtype=np.min_scalar_type(len(taps) - 1))
        for t, tap in enumerate(taps[1:], start=1):
            later = tap > y  # strictly greater: on a tie the earlier tap keeps the max
            xp.maximum(y, tap, out=y)
            # t grows with each tap and index < t so far, so max() sets t exactly where `later`
            # (branch-free: a masked assignment with random masks is several times slower)
            xp.maximum(index, later * index.dtype.type(t), out=index)
        ctx.save_for_backward(index)
        ctx.pool = x.shape, kernel_size, stride, padding
        return y

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        x_shape, kernel_size, stride, padding = ctx.pool
        out_size, tiled = grad.shape[2:], _tiled(x_shape, kernel_size, stride, padding)
        parts = (grad * (index == t) for t in range(kernel_size[0] * kernel_size[1]))
        return _scatter_taps(ctx.xp, parts, grad.dtype, x_shape, kernel_size, stride, padding,
                             out_size, tiled)


class AvgPool2dTaps:
    """AvgPool2d tap by tap (same contract as the reference)."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
        out_size = pool_output_size(x.shape, kernel_size, stride, padding)
        tiled = _tiled(x.shape, kernel_size, stride, padding)
        taps = _taps(x if tiled else _padded(ctx.xp, x, padding, 0), kernel_size, stride, out_size, tiled)
        y = taps[0].copy()
        for tap in taps[1:]:
            y += tap
        y /= len(taps)  # in place: a Python int keeps y's dtype
        ctx.pool = x.shape, kernel_size, stride, padding
        return y

    @staticmethod
    def backward(ctx, grad):
        x_shape, kernel_size, stride, padding = ctx.pool
        out_size, tiled = grad.shape[2:], _tiled(x_shape, kernel_size, stride, padding)
        share = grad / (kernel_size[0] * kernel_size[1])
        parts = [share] * (kernel_size[0] * kernel_size[1])
        return _scatter_taps(ctx.xp, parts, grad.dtype, x_shape, kernel_size, stride, padding,
                             out_size, tiled)


FAST_PATHS = [(MaxPool2d, MaxPool2dTaps, _applies), (AvgPool2d, AvgPool2dTaps, _applies)]
