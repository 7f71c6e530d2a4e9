"""Convolution and pooling over NCHW images: Conv2d, MaxPool2d, AvgPool2d, and the functional
wrappers ``conv2d``, ``max_pool2d``, ``avg_pool2d`` (re-exported by ``nn.functional``).

Convolution as one matrix product (im2col)
------------------------------------------
An output pixel of a convolution is the dot product of one output channel's weights (Cg·kH·kW
numbers) with the input patch under the kernel. Copy every patch into a column of a matrix
("image to columns") and the whole layer becomes ONE matrix product per group:

    out[o, p] = Σ_k W[o, k] · cols[k, p]        k = (c, i, j) runs over a patch,
                                                 p = (oh, ow, n) over output pixels and samples

``im2col`` loops over neither samples nor pixels: it loops over the kH·kW kernel taps (i, j) and,
for each, copies ONE strided slice of the padded input — the pixels that tap (i, j) sees from
every output position at once: rows i·d, i·d + s, ..., i·d + s·(OH − 1), and likewise columns
(s = stride, d = dilation; see ``_tap``). ``col2im`` is its adjoint: the same slices with ``+=``,
because neighbouring patches overlap and their gradients add up.

Where the batch axis sits in memory
-----------------------------------
Inside the convolution every array is indexed with the batch LAST: the padded input as
[c, h, w, n], the columns as [c, i, j, oh, ow, n], the product's output as [o, oh, ow, n]. How
those arrays are laid out in memory is a separate choice (NumPy arrays are views with strides,
so the same indexing works on either), made per layer by ``_batch_inner``:

* batch innermost, (..., H, W, N) in memory, as in cuda-convnet: a tap's slice is made of long
  contiguous runs (OW·N numbers), so im2col/col2im copy fast; but the output and its gradient
  must be fully transposed to and from NCHW (``_to_nchw``).
* batch outside the pixels, (..., N, H, W) in memory: the output is one cheap swap of its two
  leading axes away from NCHW; but a tap's slice is made of runs of only OW numbers, and NumPy
  pays an overhead per run.

Short rows make the second layout slow: in LeNet's second layer (10×10 outputs) its col2im (25
``+=`` over runs of 10 numbers) was 3-4x slower, the layer 1.6x. Wide rows make the transposes
of the first costly: LeNet's first layer (28×28 outputs) was 1.5-2x slower with the batch
innermost. So rows shorter than ``BATCH_INNER_BELOW`` pixels get the batch innermost
(benchmarks/bench_conv.py measures both layouts on each layer).

Pooling needs no columns: the max (or mean) over a window is an elementwise max (or sum) of the
kH·kW tap slices, so the pools loop over taps too and stay in NCHW.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor

# ================================================================ helpers: sizes, taps, layout

BATCH_INNER_BELOW = 16  # output rows narrower than this store the batch innermost (see above)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """PyTorch's output length (ceil_mode=False): ⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _tap(i, j, stride, dilation, out_size):
    """The (row, column) slices of a padded image that kernel tap (i, j) reads for every output
    position: rows i·d + s·oh for oh = 0 .. OH − 1, columns j·d + s·ow likewise."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_size
    return (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def _batch_inner(out_size) -> bool:
    """The memory layout of a convolution with outputs of `out_size`: batch innermost or not."""
    return out_size[1] < BATCH_INNER_BELOW


def _empty(xp, shape, dtype, batch_inner, zeros=False):
    """A new array indexed [..., h, w, n] (`shape`), stored as (..., H, W, N) when `batch_inner`,
    else as (..., N, H, W) and seen through a transposed view."""
    alloc = xp.zeros if zeros else xp.empty
    if batch_inner:
        return alloc(shape, dtype=dtype)
    *lead, h, w, n = shape
    k = len(lead)
    return alloc((*lead, n, h, w), dtype=dtype).transpose(*range(k), k + 1, k + 2, k)


def _as_matrix(a, rows, batch_inner):
    """An ``_empty``-made array as a (rows, -1) matrix whose columns follow its memory order:
    a view, no copy. Arrays of one layout give matrices whose columns line up."""
    if not batch_inner:
        k = a.ndim - 3
        a = a.transpose(*range(k), k + 2, k, k + 1)  # back to the memory order (..., N, H, W)
    return a.reshape(rows, -1)


def _from_matrix(m, shape, batch_inner):
    """The inverse of ``_as_matrix``: a matrix as an array indexed [..., h, w, n] (`shape`)."""
    if batch_inner:
        return m.reshape(shape)
    *lead, h, w, n = shape
    k = len(lead)
    return m.reshape(*lead, n, h, w).transpose(*range(k), k + 1, k + 2, k)


def _from_nchw(xp, x, padding, batch_inner):
    """NCHW `x` -> zero-padded [c, h, w, n], (C, H + 2ph, W + 2pw, N): the transpose and the
    padding in one copy."""
    N, C, H, W = x.shape
    ph, pw = padding
    xt = _empty(xp, (C, H + 2 * ph, W + 2 * pw, N), x.dtype, batch_inner, zeros=True)
    xt[:, ph:ph + H, pw:pw + W] = x.transpose(1, 2, 3, 0)
    return xt


def _to_nchw(xp, a, batch_inner):
    """[c, h, w, n] -> a contiguous NCHW array.

    With the batch outside the pixels this swaps two leading axes, moving whole rows. With the
    batch innermost, one direct copy would read with a stride of N numbers while writing rows of
    C·H·W numbers, touching a new memory page at almost every element; it measured 2.5x slower
    than two copies through (C, H, N, W) that keep both sides in short contiguous runs.
    """
    if not batch_inner:
        return xp.ascontiguousarray(a.transpose(3, 0, 1, 2))
    tiles = xp.ascontiguousarray(a.transpose(0, 1, 3, 2))        # (C, H, N, W): (W, N) tiles
    return xp.ascontiguousarray(tiles.transpose(2, 0, 1, 3))     # (N, C, H, W): rows of W


def im2col(xp, xt, kernel_size, stride, dilation, out_size, batch_inner):
    """Columns of a padded image: [c, h, w, n] -> [c, i, j, oh, ow, n], in the layout of `xt`.

    ``cols[c, i, j, oh, ow, n] = xt[c, i·d + s·oh, j·d + s·ow, n]``: one strided copy per tap.
    ``_as_matrix(cols, C·kH·kW)`` is the right operand of the convolution's matrix product.
    """
    kh, kw = kernel_size
    shape = (xt.shape[0], kh, kw, *out_size, xt.shape[3])
    cols = _empty(xp, shape, xt.dtype, batch_inner)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _tap(i, j, stride, dilation, out_size)
            cols[:, i, j] = xt[:, rows, columns]
    return cols


def col2im(xp, cols, padded_shape, stride, dilation, batch_inner):
    """The adjoint of ``im2col``: [c, i, j, oh, ow, n] -> [c, h, w, n] of `padded_shape`,
    summing the overlaps: a pixel seen by several taps (overlapping patches) receives the sum of
    their gradients, hence ``+=`` per tap slice rather than an assignment."""
    _, kh, kw, oh, ow, _ = cols.shape
    dxt = _empty(xp, padded_shape, cols.dtype, batch_inner, zeros=True)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _tap(i, j, stride, dilation, (oh, ow))
            dxt[:, rows, columns] += cols[:, i, j]
    return dxt


# ================================================================ convolution


class Conv2d(Function):
    """2-D convolution (a cross-correlation, as in PyTorch) as one matrix product per group.

        out[n, o, oh, ow] = b[o] + Σ_{c,i,j} W[o, c, i, j] · xpad[n, g·Cg + c, s·oh + i·d, s·ow + j·d]

    where g = o // (O / groups) is the group of output channel o and Cg = C / groups. With
    cols = im2col(xpad) as a matrix split into groups, (G, Cg·kH·kW, N·OH·OW), and W as
    (G, O/G, Cg·kH·kW):

        forward    out = W @ cols + b
        backward   dW = dout @ colsᵀ,   db = Σ_{n,oh,ow} dout,   dx = col2im(Wᵀ @ dout)

    Saves the input x (only when W needs a gradient) and W, not the columns: the columns are
    kH·kW times larger than x (25x for a 5×5 kernel), while x is alive anyway as the previous
    layer's output, so saving it costs nothing. Backward rebuilds the columns for dW; keeping them
    instead was 10-25% faster on LeNet's convolutions but tripled the memory its training graph
    holds (33 MB instead of 11 MB at batch 256). Backward skips what is not needed: col2im when
    the input needs no gradient (a first layer), dW and db when they are frozen.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                groups=1):
        xp = ctx.xp
        N, _, H, W = x.shape
        O, _, kh, kw = weight.shape
        out_size = (conv_output_size(H, kh, stride[0], padding[0], dilation[0]),
                    conv_output_size(W, kw, stride[1], padding[1], dilation[1]))
        inner = _batch_inner(out_size)
        cols = im2col(xp, _from_nchw(xp, x, padding, inner), (kh, kw), stride, dilation, out_size,
                      inner)
        cols = _as_matrix(cols, groups, inner).reshape(groups, -1, N * out_size[0] * out_size[1])
        out = (weight.reshape(groups, O // groups, -1) @ cols).reshape(O, -1)
        if bias is not None:
            out += bias[:, None]
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.conv = x.shape, stride, padding, dilation, groups, out_size, inner
        ctx.has_bias = bias is not None
        return _to_nchw(xp, _from_matrix(out, (O, *out_size, N), inner), inner)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        (N, C, H, W), stride, padding, dilation, groups, out_size, inner = ctx.conv
        xp = ctx.xp
        O, _, kh, kw = weight.shape
        g = _empty(xp, (O, *out_size, N), grad.dtype, inner)  # dout in the output's layout
        g[...] = grad.transpose(1, 2, 3, 0)
        g = _as_matrix(g, groups, inner).reshape(groups, O // groups, -1)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            (ph, pw), w_t = padding, weight.reshape(groups, O // groups, -1).transpose(0, 2, 1)
            dcols = _from_matrix(w_t @ g, (C, kh, kw, *out_size, N), inner)
            dxt = col2im(xp, dcols, (C, H + 2 * ph, W + 2 * pw, N), stride, dilation, inner)
            dx = _to_nchw(xp, dxt[:, ph:ph + H, pw:pw + W], inner)
        if ctx.needs_input_grad[1]:
            cols = im2col(xp, _from_nchw(xp, x, padding, inner), (kh, kw), stride, dilation,
                          out_size, inner)
            cols = _as_matrix(cols, groups, inner).reshape(groups, -1, g.shape[2])
            dw = (g @ cols.transpose(0, 2, 1)).reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = g.reshape(O, -1).sum(axis=1)
        return (dx, dw, db) if ctx.has_bias else (dx, dw)


# ================================================================ pooling


def _windows(x, kernel_size, stride, out_size, tiled):
    """The kH·kW tap views (N, C, OH, OW) of `x`, in row-major tap order.

    `tiled`: the windows tile x exactly (stride == kernel, no padding, sizes divide): then a
    reshape to (N, C, OH, kH, OW, kW) exposes the window axes, no padding copy is needed, and
    backward assigns instead of accumulating. The pools still combine the taps one at a time:
    reducing the reshaped array with ``.max(axis=(3, 5))`` measured 30x slower in NumPy than
    three elementwise maxima over the 2×2 taps (its inner loops run over the two short axes).
    """
    kh, kw = kernel_size
    if tiled:
        N, C, OH, OW = x.shape[0], x.shape[1], *out_size
        x6 = x.reshape(N, C, OH, kh, OW, kw)
        return [x6[:, :, :, i, :, j] for i in range(kh) for j in range(kw)]
    return [x[(..., *_tap(i, j, stride, (1, 1), out_size))] for i in range(kh) for j in range(kw)]


def _pool_geometry(x, kernel_size, stride, padding):
    """(out_size, tiled) of a pool: see ``_windows`` for `tiled`, the fast path."""
    H, W = x.shape[2:]
    out_size = (conv_output_size(H, kernel_size[0], stride[0], padding[0]),
                conv_output_size(W, kernel_size[1], stride[1], padding[1]))
    tiled = (stride == kernel_size and padding == (0, 0)
             and H % kernel_size[0] == 0 and W % kernel_size[1] == 0)
    return out_size, tiled


def _pad(xp, x, padding, value):
    """NCHW `x` with `padding` rows/columns of `value` on both sides of H and W (x if none)."""
    N, C, H, W = x.shape
    ph, pw = padding
    if ph == pw == 0:
        return x
    out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def _scatter_windows(xp, parts, dtype, x_shape, kernel_size, stride, padding, out_size, tiled):
    """The adjoint of ``_windows``: an array of x's shape holding the sum of each tap's part
    (N, C, OH, OW) at that tap's view; overlapping windows add up, padding is cut off at the end.
    `parts` yields one array per tap, in ``_windows`` order."""
    if tiled:  # every element of x lies in exactly one window: assign, no zero fill, no sums
        dx = xp.empty(x_shape, dtype=dtype)
        for view, part in zip(_windows(dx, kernel_size, stride, out_size, True), parts):
            view[...] = part
        return dx
    N, C, H, W = x_shape
    ph, pw = padding
    dx = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    for view, part in zip(_windows(dx, kernel_size, stride, out_size, False), parts):
        view += part
    return dx[:, :, ph:ph + H, pw:pw + W]


class MaxPool2d(Function):
    """y = max over each kH×kW window (padding counts as −inf);  dx = dy at the window's max.

    On ties the whole gradient goes to ONE position, the first maximum of the window in
    row-major order, as PyTorch does (its saved index is the first argmax). Saves that index
    per output, as the smallest unsigned integer type that can hold kH·kW − 1 (one byte up to a
    16×16 window), instead of the input.
    """

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
        xp = ctx.xp
        out_size, tiled = _pool_geometry(x, kernel_size, stride, padding)
        source = x if tiled else _pad(xp, x, padding, -np.inf)
        taps = _windows(source, kernel_size, stride, out_size, tiled)
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
        ctx.pool = x.shape, kernel_size, stride, padding, out_size, tiled
        return y

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        x_shape, kernel_size, stride, padding, out_size, tiled = ctx.pool
        parts = (grad * (index == t) for t in range(kernel_size[0] * kernel_size[1]))
        return _scatter_windows(ctx.xp, parts, grad.dtype, x_shape, kernel_size, stride, padding,
                                out_size, tiled)


class AvgPool2d(Function):
    """y = (1 / kH·kW) Σ_window x  (padding zeros count, PyTorch's count_include_pad=True);
    dx = dy / (kH·kW) at every position of the window. Saves nothing but shapes."""

    @staticmethod
    def forward(ctx, x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0)):
        out_size, tiled = _pool_geometry(x, kernel_size, stride, padding)
        source = x if tiled else _pad(ctx.xp, x, padding, 0)
        taps = _windows(source, kernel_size, stride, out_size, tiled)
        y = taps[0].copy()
        for tap in taps[1:]:
            y += tap
        y /= len(taps)  # in place: a Python int keeps y's dtype
        ctx.pool = x.shape, kernel_size, stride, padding, out_size, tiled
        return y

    @staticmethod
    def backward(ctx, grad):
        x_shape, kernel_size, stride, padding, out_size, tiled = ctx.pool
        share = grad / (kernel_size[0] * kernel_size[1])
        parts = [share] * (kernel_size[0] * kernel_size[1])
        return _scatter_windows(ctx.xp, parts, grad.dtype, x_shape, kernel_size, stride, padding,
                                out_size, tiled)


# ================================================================ functional interface


def _pair(value, name: str, fn: str, minimum: int) -> tuple:
    """An int or a pair of ints as a pair, each at least `minimum`."""
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair)):
        raise TypeError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_image(x, fn: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{fn}: expected a 4-D input (N, C, H, W) or an unbatched 3-D one "
                         f"(C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got {x.dtype}")


def _check_output_size(out_size, x, fn: str, detail: str) -> None:
    if min(out_size) < 1:
        raise ValueError(f"{fn}: input of shape {x.shape} is too small: {detail} gives an "
                         f"output of size {out_size}")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    r"""2-D convolution over an NCHW batch (a cross-correlation, as in PyTorch).

    .. math::
        out(n, o, h, w) = bias(o) + \sum_{c, i, j} weight(o, c, i, j)\,
                          input(n, g\,C_g + c,\; s_0 h + d_0 i - p_0,\; s_1 w + d_1 j - p_1)

    with zero padding outside the image, g the group of output channel o and C_g = C / groups.

    Args:
        input (Tensor): the images, (N, C, H, W).
        weight (Tensor): the filters, (O, C / groups, kH, kW).
        bias (Tensor, optional): one value per output channel, (O,) (default: None).
        stride (int or tuple, optional): step between kernel positions (default: 1).
        padding (int or tuple, optional): zeros added on both sides of H and W (default: 0).
        dilation (int or tuple, optional): spacing between kernel taps (default: 1).
        groups (int, optional): split the channels into this many independent convolutions;
            ``groups == C`` is a depthwise convolution (default: 1).

    Shape:
        - Output: (N, O, OH, OW) with OH = ⌊(H + 2p₀ − d₀(kH − 1) − 1) / s₀⌋ + 1, OW likewise.

    Example:
        >>> x = tg.randn(8, 1, 28, 28)
        >>> F.conv2d(x, tg.randn(6, 1, 5, 5), padding=2).shape
        (8, 6, 28, 28)
    """
    fn = "conv2d"
    if isinstance(input, Tensor) and input.ndim == 3:  # one unbatched image (C, H, W), as PyTorch
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    _check_image(input, fn)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{fn}: weight must be a 4-D Tensor (out_channels, in_channels / groups, "
                         f"kH, kW), got {getattr(weight, 'shape', type(weight).__name__)}")
    stride = _pair(stride, "stride", fn, 1)
    padding = _pair(padding, "padding", fn, 0)
    dilation = _pair(dilation, "dilation", fn, 1)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    O, Cg, kh, kw = weight.shape
    C = input.shape[1]
    if O % groups:
        raise ValueError(f"{fn}: weight of shape {weight.shape} has {O} output channels, "
                         f"not divisible by groups={groups}")
    if Cg * groups != C:
        raise ValueError(f"{fn}: weight of shape {weight.shape} with groups={groups} expects an "
                         f"input with {Cg * groups} channels, got input of shape {input.shape}")
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (O,)):
        raise ValueError(f"{fn}: bias must be a Tensor of shape ({O},) for weight of shape "
                         f"{weight.shape}, got {getattr(bias, 'shape', type(bias).__name__)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{fn}: {name} dtype {t.dtype} does not match input dtype {input.dtype}")
    out_size = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                     zip(input.shape[2:], (kh, kw), stride, padding, dilation))
    _check_output_size(out_size, input, fn, f"kernel {(kh, kw)} with padding {padding} and "
                                            f"dilation {dilation}")
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*tensors, stride=stride, padding=padding, dilation=dilation, groups=groups)


def _pool_args(fn, input, kernel_size, stride, padding):
    _check_image(input, fn)
    kernel_size = _pair(kernel_size, "kernel_size", fn, 1)
    stride = kernel_size if stride is None else _pair(stride, "stride", fn, 1)
    padding = _pair(padding, "padding", fn, 0)
    if any(2 * p > k for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{fn}: padding should be at most half of the kernel size, got "
                         f"padding={padding} and kernel_size={kernel_size}")
    out_size = tuple(conv_output_size(n, k, s, p) for n, k, s, p in
                     zip(input.shape[2:], kernel_size, stride, padding))
    _check_output_size(out_size, input, fn, f"kernel_size {kernel_size} with padding {padding}")
    return dict(kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    r"""The maximum over each kH×kW window of each channel.

    .. math:: out(n, c, h, w) = \max_{i < kH,\; j < kW} input(n, c, s_0 h + i - p_0, s_1 w + j - p_1)

    with −inf padding. The gradient of a window goes to its maximum; on ties, to the first
    maximum in row-major order (as in PyTorch).

    Args:
        input (Tensor): (N, C, H, W).
        kernel_size (int or tuple): the window (kH, kW).
        stride (int or tuple, optional): step between windows (default: kernel_size).
        padding (int or tuple, optional): −inf added on both sides, at most half the
            kernel (default: 0).

    Shape:
        - Output: (N, C, OH, OW), OH = ⌊(H + 2p₀ − kH) / s₀⌋ + 1, OW likewise.
    """
    if isinstance(input, Tensor) and input.ndim == 3:  # unbatched (C, H, W)
        return max_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    return MaxPool2d.apply(input, **_pool_args("max_pool2d", input, kernel_size, stride, padding))


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    r"""The mean over each kH×kW window of each channel.

    .. math:: out(n, c, h, w) = \frac{1}{kH\,kW} \sum_{i < kH,\; j < kW}
              input(n, c, s_0 h + i - p_0, s_1 w + j - p_1)

    Padding zeros count in the mean: the divisor is always kH·kW (PyTorch's default
    ``count_include_pad=True``).

    Args:
        input (Tensor): (N, C, H, W).
        kernel_size (int or tuple): the window (kH, kW).
        stride (int or tuple, optional): step between windows (default: kernel_size).
        padding (int or tuple, optional): zeros added on both sides, at most half the
            kernel (default: 0).

    Shape:
        - Output: (N, C, OH, OW), OH = ⌊(H + 2p₀ − kH) / s₀⌋ + 1, OW likewise.
    """
    if isinstance(input, Tensor) and input.ndim == 3:  # unbatched (C, H, W)
        return avg_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    return AvgPool2d.apply(input, **_pool_args("avg_pool2d", input, kernel_size, stride, padding))
