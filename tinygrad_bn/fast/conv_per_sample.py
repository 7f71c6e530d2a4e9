"""Conv2d as one small matrix product per sample, the samples split over the threads: faster on
the CPU for wide outputs. The math is the reference's (``ops/conv.py``); only the shape of the
products and the order of the work differ.

Why: the reference multiplies W (O, C·kH·kW) by ONE column matrix for the whole batch,
(C·kH·kW, N·OH·OW), and then transposes the (O, N, OH, OW) result into NCHW. For LeNet's first
layer that matrix is 14.7 MB (25 × 147,456), built by copying runs of 24 numbers into a
transposed order, and BLAS streams it through memory at ~20 GFLOP/s; the transpose adds a pass
over the 3.5 MB output. Per sample, the columns (C·kH·kW, OH·OW) are the patch view of ONE
image copied as it lies, W @ cols_n is that sample's output already in NCHW order, and a block
of samples' columns (about ``COLS_BYTES``) stays in the cache between the copy and the product.
Measured on LeNet's first layer, batch 256, float32: forward 3.9 → 1.8 ms and backward (dW, db)
5.2 → 2.0 ms on one thread; 1.1 and 1.1 ms on two.

For narrow outputs (LeNet's second layer, 8×8) the per-sample patch rows are too short to copy
fast and ``conv_batch_inner`` is faster; its ``BATCH_INNER_BELOW`` draws the line.

The batch is cut into blocks that depend on the shapes only; threads take whole blocks, and
the reductions over the batch (dW, db) keep one partial per block and add them in block order,
so the result is the same bit for bit whatever the number of threads. (Keeping the columns for
backward instead of copying them again, the trade the reference declines, measured 9-12%
slower per training step: 14.7 MB written to memory and read back cost more than a copy from
the cache.)
"""
from __future__ import annotations

from .. import threads
from ..ops import conv as reference
from ..ops.conv import Conv2d, conv_output_size, pad, windows
from . import conv_batch_inner

COLS_BYTES = 2**20  # samples are processed in blocks whose columns take about this much memory


def applies(device, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    out_w = conv_output_size(x.shape[3], weight.shape[3], stride[1], padding[1], dilation[1])
    return device == "cpu" and out_w >= conv_batch_inner.BATCH_INNER_BELOW


def _columns(xp, x, kernel, geometry, out_size):
    """(n, G, Cg·kH·kW, OH·OW): each sample's columns, its patch view copied in its own order."""
    patches = windows(xp, pad(xp, x, geometry["padding"]), kernel, geometry["stride"],
                      geometry["dilation"], out_size)
    return xp.ascontiguousarray(patches).reshape(x.shape[0], geometry["groups"], -1,
                                                 out_size[0] * out_size[1])


def _blocks(N, C, kernel, out_size, itemsize):
    """(samples per block, number of blocks): blocks whose columns fill about COLS_BYTES, their
    number rounded up to a multiple of 4 so that 2 or 4 threads get equal shares (15 blocks of
    18 samples split 8/7 kept one thread waiting 0.2 ms; 16 of 16 split evenly)."""
    if N == 0:  # an empty batch: no blocks
        return 1, 0
    per_sample = C * kernel[0] * kernel[1] * out_size[0] * out_size[1] * itemsize
    n_blocks = -(-N // max(1, COLS_BYTES // per_sample))
    size = -(-N // min(N, -(-n_blocks // 4) * 4))
    return size, -(-N // size)


class Conv2dPerSample:
    """Conv2d's forward and backward (same contract, same saved arrays) sample by sample."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        xp, (N, C, H, W), (O, _, kh, kw) = ctx.xp, x.shape, weight.shape
        geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        out_size = (conv_output_size(H, kh, stride[0], padding[0], dilation[0]),
                    conv_output_size(W, kw, stride[1], padding[1], dilation[1]))
        w = weight.reshape(groups, O // groups, -1)
        out = xp.empty((N, O, *out_size), dtype=x.dtype)
        size, n_blocks = _blocks(N, C, (kh, kw), out_size, x.itemsize)

        def part(first, last):
            for a, b in ((i * size, min(i * size + size, N)) for i in range(first, last)):
                cols = _columns(xp, x[a:b], (kh, kw), geometry, out_size)
                y = out[a:b].reshape(b - a, groups, O // groups, -1)
                xp.matmul(w, cols, out=y)  # (G, O/G, K) @ (n, G, K, P): NCHW as it comes
                if bias is not None:
                    y += bias.reshape(groups, O // groups, 1)

        threads.parallel_for(n_blocks, part, work=N * C * kh * kw * out_size[0] * out_size[1])
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.geometry = geometry
        ctx.x_shape, ctx.has_bias = x.shape, bias is not None  # the reference's context exactly
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        xp, geometry, (N, C, H, W) = ctx.xp, ctx.geometry, ctx.x_shape
        (O, _, kh, kw), groups, out_size = weight.shape, geometry["groups"], grad.shape[2:]
        need_dx, need_dw, need_db = (ctx.needs_input_grad + (False,))[:3]
        need_db = need_db and ctx.has_bias
        w = weight.reshape(groups, O // groups, -1)
        size, n_blocks = _blocks(N, C, (kh, kw), out_size, grad.itemsize)
        dx = xp.empty(ctx.x_shape, dtype=grad.dtype) if need_dx else None
        dw = xp.empty((n_blocks,) + w.shape[:2] + (w.shape[2],), dtype=grad.dtype) if need_dw else None
        db = xp.empty((n_blocks, O), dtype=grad.dtype) if need_db else None

        def part(first, last):
            for i in range(first, last):
                a, b = i * size, min(i * size + size, N)
                g = grad[a:b].reshape(b - a, groups, O // groups, -1)
                if need_dx:  # dx = col2im(Wᵀ @ dout), the reference's col2im on this block
                    dcols = (w.transpose(0, 2, 1) @ g).reshape(b - a, C, kh, kw, *out_size)
                    dx[a:b] = reference.col2im(xp, dcols, (b - a, C, H, W), geometry["stride"],
                                               geometry["padding"], geometry["dilation"])
                if need_dw:  # dW = Σ_n dout_n @ cols_nᵀ: this block's share
                    cols = _columns(xp, x[a:b], (kh, kw), geometry, out_size)
                    (g @ cols.transpose(0, 1, 3, 2)).sum(axis=0, out=dw[i])
                if need_db:
                    g.sum(axis=(0, 3), out=db[i].reshape(groups, O // groups))

        threads.parallel_for(n_blocks, part, work=N * C * kh * kw * out_size[0] * out_size[1])
        dw = None if dw is None else dw.sum(axis=0).reshape(weight.shape)
        db = None if db is None else db.sum(axis=0)
        return (dx, dw, db) if ctx.has_bias else (dx, dw)


FAST_PATHS = [(Conv2d, Conv2dPerSample, applies)]
