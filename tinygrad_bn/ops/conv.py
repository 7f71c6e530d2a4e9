"""Convolution over NCHW images as one matrix product per group (im2col), and the window
helpers the pools share.

Convolution as one matrix product
---------------------------------
An output pixel of a convolution is the dot product of one output channel's weights (Cg·kH·kW
numbers) with the input patch under the kernel. Copy every patch into a column of a matrix
("image to columns") and the whole layer becomes ONE matrix product per group:

    out[o, p] = Σ_k W[o, k] · cols[k, p]        k = (c, i, j) runs over a patch,
                                                 p = (n, oh, ow) over samples and output pixels

``windows`` sees the padded input as a 6-D array of patches without copying anything (a strided
view: element [n, c, i, j, oh, ow] is x[n, c, s·oh + d·i, s·ow + d·j], s the stride and d the
dilation); ``im2col`` copies that view once into the column matrix. ``col2im`` is its adjoint:
it adds columns back into an image, one strided slice per kernel tap (i, j), because
neighbouring patches overlap and their gradients add up.

This file is the reference algorithm. Faster variants (another memory layout, threads, GPU
kernels) live in ``tinygrad_bn/fast/`` and are chosen by ``tinygrad_bn/dispatch.py``.
"""
from __future__ import annotations

from ..autograd import Function


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """PyTorch's output length (ceil_mode=False): ⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pad(xp, x, padding, value=0.0):
    """NCHW `x` with `padding` rows/columns of `value` on both sides of H and W (x if none)."""
    (ph, pw), (N, C, H, W) = padding, x.shape
    if ph == pw == 0:
        return x
    out = xp.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def windows(xp, x, kernel, stride, dilation, out_size):
    """The patches of a (padded) NCHW image as a view (N, C, kH, kW, OH, OW), no copy:
    ``windows[n, c, i, j, oh, ow] = x[n, c, s₀·oh + d₀·i, s₁·ow + d₁·j]``."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_size
    sN, sC, sH, sW = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(x.shape[0], x.shape[1], kh, kw, oh, ow),
        strides=(sN, sC, dh * sH, dw * sW, sh * sH, sw * sW))


def im2col(xp, x, kernel, stride, padding, dilation, out_size):
    """The column matrix (C·kH·kW, N·OH·OW) of NCHW `x`: its patch view, copied once."""
    patches = windows(xp, pad(xp, x, padding), kernel, stride, dilation, out_size)
    N, C = x.shape[:2]
    return patches.transpose(1, 2, 3, 0, 4, 5).reshape(C * kernel[0] * kernel[1], -1)


def col2im(xp, cols, x_shape, stride, padding, dilation):
    """The adjoint of the patch view: `cols` (N, C, kH, kW, OH, OW) added back into an image of
    `x_shape` (N, C, H, W). A pixel seen by several patches receives the sum of their entries,
    hence ``+=`` per kernel tap (each tap's slice holds every pixel at most once)."""
    N, C, H, W = x_shape
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    _, _, kh, kw, oh, ow = cols.shape
    if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1) and (ph, pw) == (0, 0) and (oh * kh, ow * kw) == (H, W):
        # the windows tile the image: each pixel is in exactly one, so the sum is a permutation
        return cols.transpose(0, 1, 4, 2, 5, 3).reshape(x_shape)
    dx = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            tap = dx[:, :, rows, columns]  # a view: `dx[...] += ...` would also copy it back
            tap += cols[:, :, i, j]
    return dx[:, :, ph:ph + H, pw:pw + W]


def conv(xp, x, weight, stride, padding, dilation, groups):
    """out (N, O, OH, OW) = W @ im2col(x) per group: the convolution itself, without bias."""
    N, _, H, W = x.shape
    O, _, kh, kw = weight.shape
    out_size = (conv_output_size(H, kh, stride[0], padding[0], dilation[0]),
                conv_output_size(W, kw, stride[1], padding[1], dilation[1]))
    cols = im2col(xp, x, (kh, kw), stride, padding, dilation, out_size)
    cols = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])  # (G, Cg·kH·kW, N·OH·OW)
    out = weight.reshape(groups, O // groups, -1) @ cols
    return out.reshape(O, N, *out_size).transpose(1, 0, 2, 3)  # a view; the caller copies


def conv_grad_input(xp, grad, weight, x_shape, stride, padding, dilation, groups):
    """dx = col2im(Wᵀ @ dout): the gradient of the convolution with respect to its input."""
    O, _, kh, kw = weight.shape
    N, C = x_shape[:2]
    g = grad.transpose(1, 0, 2, 3).reshape(groups, O // groups, grad.size // O)  # (G, O/G, N·OH·OW)
    dcols = weight.reshape(groups, O // groups, -1).transpose(0, 2, 1) @ g  # (G, Cg·kH·kW, N·OH·OW)
    dcols = dcols.reshape(C, kh, kw, N, *grad.shape[2:]).transpose(3, 0, 1, 2, 4, 5)
    return col2im(xp, dcols, x_shape, stride, padding, dilation)


def conv_grad_weight(xp, x, grad, w_shape, stride, padding, dilation, groups):
    """dW = dout @ im2col(x)ᵀ: the gradient of the convolution with respect to its weight."""
    O, _, kh, kw = w_shape
    g = grad.transpose(1, 0, 2, 3).reshape(groups, O // groups, grad.size // O)
    cols = im2col(xp, x, (kh, kw), stride, padding, dilation, grad.shape[2:])
    cols = cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
    return (g @ cols.transpose(0, 2, 1)).reshape(w_shape)


class Conv2d(Function):
    """2-D convolution (a cross-correlation, as in PyTorch) as one matrix product per group.

        out[n, o, oh, ow] = b[o] + Σ_{c,i,j} W[o, c, i, j] · xpad[n, g·Cg + c, s·oh + d·i, s·ow + d·j]

    g the group of output channel o, Cg = C / groups. With cols = im2col(x) split into groups,
    (G, Cg·kH·kW, N·OH·OW), and W as (G, O/G, Cg·kH·kW):

        forward    out = W @ cols + b
        backward   dW = dout @ colsᵀ,   db = Σ_{n,oh,ow} dout,   dx = col2im(Wᵀ @ dout)

    Saves the input x (only when W needs a gradient) and W, not the columns: the columns are
    kH·kW times larger than x, while x is alive anyway as the previous layer's output; backward
    builds them again for dW. It skips col2im when x needs no gradient (a first layer).
    Its gradients are themselves convolutions (``Conv2dGradInput``, ``Conv2dGradWeight``), which
    is how it is differentiated twice.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        out = conv(ctx.xp, x, weight, stride, padding, dilation, groups)
        out = ctx.xp.ascontiguousarray(out)
        if bias is not None:
            out += bias[None, :, None, None]
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        ctx.x_shape, ctx.has_bias = x.shape, bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = conv_grad_input(ctx.xp, grad, weight, ctx.x_shape, **ctx.geometry)
        if ctx.needs_input_grad[1]:
            dw = conv_grad_weight(ctx.xp, x, grad, weight.shape, **ctx.geometry)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = grad.sum(axis=(0, 2, 3))
        return (dx, dw, db) if ctx.has_bias else (dx, dw)

    @staticmethod
    def graph_backward(ctx, grad):
        x, weight = ctx.saved_tensors
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = Conv2dGradInput.apply(grad, weight, x_shape=ctx.x_shape, **ctx.geometry)
        if ctx.needs_input_grad[1]:
            dw = Conv2dGradWeight.apply(x, grad, w_shape=weight.shape, **ctx.geometry)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = grad.sum(axis=(0, 2, 3))
        return (dx, dw, db) if ctx.has_bias else (dx, dw)


class Conv2dGradInput(Function):
    """dx = conv_grad_input(dout, W), a function of (dout, W) in its own right. It is linear in
    each: its gradient w.r.t. dout is the convolution of the upstream u with W, and w.r.t. W
    the weight gradient of a convolution of u by dout. So Conv2d, Conv2dGradInput and
    Conv2dGradWeight differentiate into each other, to any order."""

    @staticmethod
    def forward(ctx, grad, weight, x_shape=(), **geometry):
        ctx.save_for_backward(grad, weight)
        ctx.geometry = geometry
        return conv_grad_input(ctx.xp, grad, weight, x_shape, **geometry)

    @staticmethod
    def backward(ctx, u):
        grad, weight = ctx.saved_tensors
        dg = ctx.xp.ascontiguousarray(conv(ctx.xp, u, weight, **ctx.geometry))
        return dg, conv_grad_weight(ctx.xp, u, grad, weight.shape, **ctx.geometry)

    @staticmethod
    def graph_backward(ctx, u):
        grad, weight = ctx.saved_tensors
        return (Conv2d.apply(u, weight, **ctx.geometry),
                Conv2dGradWeight.apply(u, grad, w_shape=weight.shape, **ctx.geometry))


class Conv2dGradWeight(Function):
    """dW = conv_grad_weight(x, dout), linear in x and in dout: its gradient w.r.t. x is
    conv_grad_input(dout, v) and w.r.t. dout the convolution of x with v (v the upstream)."""

    @staticmethod
    def forward(ctx, x, grad, w_shape=(), **geometry):
        ctx.save_for_backward(x, grad)
        ctx.geometry = geometry
        return conv_grad_weight(ctx.xp, x, grad, w_shape, **geometry)

    @staticmethod
    def backward(ctx, v):
        x, grad = ctx.saved_tensors
        return (conv_grad_input(ctx.xp, grad, v, x.shape, **ctx.geometry),
                ctx.xp.ascontiguousarray(conv(ctx.xp, x, v, **ctx.geometry)))

    @staticmethod
    def graph_backward(ctx, v):
        x, grad = ctx.saved_tensors
        return (Conv2dGradInput.apply(grad, v, x_shape=x.shape, **ctx.geometry),
                Conv2d.apply(x, v, **ctx.geometry))
