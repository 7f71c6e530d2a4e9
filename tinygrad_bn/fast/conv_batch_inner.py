"""Conv2d with the batch axis innermost in memory (as cuda-convnet), in blocks of ``BLOCK``
samples split over the threads: faster on the CPU for narrow outputs. The math is the
reference's (``ops/conv.py``); only where numbers sit in memory differs.

Why: in the reference (NCHW), one kernel tap's slice of the image is made of runs of OW numbers,
and NumPy pays an overhead per run. With the samples innermost, (C, H, W, n), a tap's slice is
made of runs of OW·n numbers, so im2col and col2im copy fast; the price is transposing the
input and output between NCHW and that layout. Short rows make the first worth it: on LeNet's
second layer (8×8 outputs) col2im ran 3-4x faster this way; on its first layer (24×24 outputs)
the transposes cost more than they save (``conv_per_sample`` takes those). So this variant
applies to outputs narrower than ``BATCH_INNER_BELOW`` on the CPU.

Blocks: the batch is cut into blocks of ``BLOCK`` samples, each laid out (C, H, W, BLOCK) and
stacked as (blocks, C, H, W, BLOCK). Each block's matrix products are small enough for BLAS's
small-matrix kernels and its transposes stay in the cache; a thread goes through its blocks in
chunks whose columns fit the cache (``COLS_BYTES``). On LeNet's second layer, batch 256,
float32, one thread: forward 2.7 → 1.8 ms and backward 7.7 → 5.1 ms against the unblocked
version this file held before (one block of 256 samples: 2.3 and 7.1 ms); 1.1 and 3.0 ms on
two threads, which take whole blocks. dW and db are summed per block and the blocks added in
order, so results are the same bit for bit whatever the number of threads.
"""
from __future__ import annotations

from .. import threads
from ..ops.conv import Conv2d, conv_output_size

BATCH_INNER_BELOW = 16  # output rows narrower than this run with the batch innermost
BLOCK = 8               # samples per block
COLS_BYTES = 2**21      # a thread goes through its blocks in chunks whose columns take about this


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


def _to_batch_inner(xp, x, padding, block=None):
    """NCHW -> zero-padded (blocks, C, H + 2ph, W + 2pw, block), the transpose and the padding in
    one copy; a last, partial block is filled with zero samples. Without `block`: one block of
    all N samples, (C, H + 2ph, W + 2pw, N)."""
    N, C, H, W = x.shape
    (ph, pw), n = padding, block or N
    full, rest = divmod(N, n)
    shape = (full + (rest > 0), C, H + 2 * ph, W + 2 * pw, n)
    xt = (xp.zeros if ph or pw or rest else xp.empty)(shape, dtype=x.dtype)
    inner = xt[:, :, ph:ph + H, pw:pw + W]
    inner[:full] = x[:full * n].reshape(full, n, C, H, W).transpose(0, 2, 3, 4, 1)
    if rest:
        inner[full, ..., :rest] = x[full * n:].transpose(1, 2, 3, 0)
    return xt if block else xt[0]


def _store_nchw(a, out):
    """(blocks, C, H, W, block) -> `out`, the NCHW array of its first len(out) samples."""
    n = a.shape[-1]
    full, rest = divmod(out.shape[0], n)
    out[:full * n].reshape(full, n, *out.shape[1:])[...] = a[:full].transpose(0, 4, 1, 2, 3)
    if rest:
        out[full * n:] = a[full, ..., :rest].transpose(3, 0, 1, 2)


def _im2col(xp, xt, kernel, stride, dilation, out_size):
    """(..., C, H, W, n) -> columns (..., C, kH, kW, OH, OW, n): the patches as a strided view
    (as ``ops.conv.windows`` builds it for NCHW), copied once. Element [..., c, i, j, oh, ow, n]
    is xt[..., c, s₀·oh + d₀·i, s₁·ow + d₁·j, n]. (One copy instead of one per tap: 0.3 ms
    less on LeNet's second layer.)"""
    (sh, sw), (dh, dw), (s_h, s_w, s_n) = stride, dilation, xt.strides[-3:]
    patches = xp.lib.stride_tricks.as_strided(
        xt, shape=xt.shape[:-3] + tuple(kernel) + tuple(out_size) + xt.shape[-1:],
        strides=xt.strides[:-3] + (dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_n))
    return xp.ascontiguousarray(patches)


def _col2im(xp, cols, padded_shape, stride, dilation):
    """The adjoint of ``_im2col``: overlapping patches add up, so ``+=`` per tap."""
    dxt = xp.zeros(padded_shape, dtype=cols.dtype)
    for i, j, rows, columns in _taps(cols.shape[-5:-3], stride, dilation, cols.shape[-3:-1]):
        dxt[..., rows, columns, :] += cols[..., i, j, :, :, :]
    return dxt


def _in_chunks(chunk, block_cols_bytes):
    """A thread's part, blocks [first, last), as calls of ``chunk`` on runs of blocks whose
    columns take about COLS_BYTES: the temporaries of a run stay in the cache (on LeNet's second
    layer the backward took 4.8 ms instead of 6.0 ms on one thread)."""
    size = max(1, COLS_BYTES // block_cols_bytes)

    def part(first, last):
        for start in range(first, last, size):
            chunk(start, min(start + size, last))
    return part


class Conv2dBatchInner:
    """Conv2d's forward and backward (same contract, same saved arrays) in blocks laid out
    (C, H, W, BLOCK)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        xp, (N, _, H, W), (O, _, kh, kw) = ctx.xp, x.shape, weight.shape
        out_size = (conv_output_size(H, kh, stride[0], padding[0], dilation[0]),
                    conv_output_size(W, kw, stride[1], padding[1], dilation[1]))
        w = weight.reshape(groups, O // groups, -1)
        out = xp.empty((N, O, *out_size), dtype=x.dtype)

        def chunk(first, last):  # blocks [first, last)
            xt = _to_batch_inner(xp, x[first * BLOCK:last * BLOCK], padding, BLOCK)
            cols = _im2col(xp, xt, (kh, kw), stride, dilation, out_size)
            y = w @ cols.reshape(last - first, groups, w.shape[2], -1)  # (b, G, O/G, OH·OW·BLOCK)
            if bias is not None:
                y += bias.reshape(groups, O // groups, 1)
            _store_nchw(y.reshape(last - first, O, *out_size, BLOCK), out[first * BLOCK:last * BLOCK])

        cols_bytes = x.shape[1] * kh * kw * out_size[0] * out_size[1] * BLOCK * x.itemsize
        threads.parallel_for(-(-N // BLOCK), _in_chunks(chunk, cols_bytes),
                             work=cols_bytes // x.itemsize * -(-N // BLOCK))  # column elements
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        ctx.x_shape, ctx.has_bias = x.shape, bias is not None  # the reference's context exactly
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        (N, C, H, W), out_size, geometry = ctx.x_shape, grad.shape[2:], ctx.geometry
        stride, (ph, pw) = geometry["stride"], geometry["padding"]
        dilation, groups = geometry["dilation"], geometry["groups"]
        xp, (O, _, kh, kw) = ctx.xp, weight.shape
        need_dx, need_dw = ctx.needs_input_grad[:2]
        need_db = ctx.has_bias and ctx.needs_input_grad[2]
        w, n_blocks = weight.reshape(groups, O // groups, -1), -(-N // BLOCK)
        dx = xp.empty(ctx.x_shape, dtype=grad.dtype) if need_dx else None
        dw = xp.empty((n_blocks, groups, w.shape[2], O // groups), dtype=grad.dtype) if need_dw else None
        db = xp.empty((n_blocks, groups, O // groups), dtype=grad.dtype) if need_db else None

        def chunk(first, last):  # blocks [first, last)
            lo, hi, b = first * BLOCK, last * BLOCK, last - first
            g = _to_batch_inner(xp, grad[lo:hi], (0, 0), BLOCK).reshape(b, groups, O // groups, -1)
            if need_dx:
                dcols = (w.transpose(0, 2, 1) @ g).reshape(b, C, kh, kw, *out_size, BLOCK)
                dxt = _col2im(xp, dcols, (b, C, H + 2 * ph, W + 2 * pw, BLOCK), stride, dilation)
                _store_nchw(dxt[:, :, ph:ph + H, pw:pw + W], dx[lo:hi])
            if need_dw:  # cols @ gᵀ: the faster orientation of the same product (1.2 vs 2.1 ms)
                cols = _im2col(xp, _to_batch_inner(xp, x[lo:hi], (ph, pw), BLOCK), (kh, kw),
                               stride, dilation, out_size)
                xp.matmul(cols.reshape(b, groups, w.shape[2], -1), g.transpose(0, 1, 3, 2),
                          out=dw[first:last])
            if need_db:
                g.sum(axis=3, out=db[first:last])

        cols_bytes = C * kh * kw * out_size[0] * out_size[1] * BLOCK * grad.itemsize
        threads.parallel_for(n_blocks, _in_chunks(chunk, cols_bytes),
                             work=cols_bytes // grad.itemsize * n_blocks)
        dw = None if dw is None else dw.sum(axis=0).transpose(0, 2, 1).reshape(weight.shape)
        db = None if db is None else db.sum(axis=0).reshape(O)
        return (dx, dw, db) if ctx.has_bias else (dx, dw)


FAST_PATHS = [(Conv2d, Conv2dBatchInner, applies)]
