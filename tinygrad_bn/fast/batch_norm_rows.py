"""BatchNorm with its sums taken row by row as matrix products, and its passes split over the
threads by ranges of samples.

Why: batch norm is memory-bound: a few passes over the activation, each one NumPy call on one
core. Two things make those passes cheaper.

* The sums. Seen as (N, C, L), L the pixels of one channel of one sample, each sum batch norm
  needs is a sum over the rows of length L and then over the N samples. BLAS takes the row sums
  Σx = rows @ 1 and the row dot products Σ dy·x̂ as matrix products in one read, without the
  temporary array that ``(dy * x̂).sum(...)`` writes first, and twice as fast as NumPy's
  ``sum(axis=-1)`` (0.07-0.08 ms against 0.16 ms on 256×6×576 float32).
* The threads. Every pass but the last tiny (N, C) → (C,) sums treats samples independently,
  so the threads take ranges of samples; each range of rows gives its own row sums, and the
  per-channel totals are added over all N samples in order afterwards.

Forward makes three sweeps (row sums → μ; x − μ and its row sums of squares → σ²; the scaling
and γ·x̂ + β), backward two (row sums of dy and dy·x̂ → dβ, dγ; dx = a·dy + b·x̂ + c, as in
``ops/norm.py``). On LeNet's first BN (256×6×24×24, float32), forward + backward took 1.87 ms
in the reference, 1.75 ms here on one thread and 1.27 ms on two. (Splitting by channels
instead, which would keep the reference's sums bit for bit, measured slower on two threads than
the reference on one: NumPy goes through a channel slice of an NCHW array at half speed.)

σ² is the reference's two-pass Σ(x − μ)²/m; the sums are added in another order, so results
agree with the reference to float32 rounding, not bit for bit. Each row's sum does not depend
on how the rows are split, so results are the same bit for bit for any number of threads.
The context and the saved arrays are the reference's (x̂, r = 1/√(σ²+ε), γ; the training flag,
ε and μ), so ``BatchNorm.graph_backward`` differentiates this node as well.
"""
from __future__ import annotations

from .. import threads
from ..ops.norm import BatchNorm, update_running_stats


def _applies(device, x, weight=None, bias=None, **kwargs):
    return device == "cpu" and x.ndim > 2  # (N, C) inputs: too small to gain (0.06 ms either way)


def _row_sums(xp, a):
    """Σ over the last axis of (n, C, L) `a`, as (n, C): a matrix product with a vector of ones."""
    if a.shape[2] == 1:  # (N, C) inputs: nothing to add
        return a[:, :, 0]
    return a @ xp.ones(a.shape[2], dtype=a.dtype)


def _row_dots(a, b):
    """Σ a·b over the last axis of (n, C, L) `a` and `b`, as (n, C): n·C dot products."""
    if a.shape[2] == 1:
        return a[:, :, 0] * b[:, :, 0]
    return (a[:, :, None, :] @ b[:, :, :, None])[:, :, 0, 0]


def _sweep(x, body, passes):
    """body(start, stop) for ranges of the samples of `x`, on the threads; `passes` over arrays
    of x's size."""
    threads.parallel_for(x.shape[0], body, work=passes * x.size)


class BatchNormRows:
    """BatchNorm's forward and backward (same contract, same saved arrays). Arrays are viewed
    as (N, C, L)."""

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        xp, (N, C), m = ctx.xp, x.shape[:2], x.size // x.shape[1]
        x3 = x.reshape(N, C, -1)
        x_hat = xp.empty_like(x3)
        if training:
            rows = xp.empty((N, C), dtype=x.dtype)

            def sums(start, stop):
                rows[start:stop] = _row_sums(xp, x3[start:stop])

            def centre(start, stop):  # x − μ into x̂'s buffer, and its row sums of squares
                c = xp.subtract(x3[start:stop], mean[:, None], out=x_hat[start:stop])
                rows[start:stop] = _row_dots(c, c)

            _sweep(x3, sums, 1)
            mean = rows.sum(axis=0) / m
            _sweep(x3, centre, 3)
            var = rows.sum(axis=0) / m  # biased: divides by m
            update_running_stats(running_mean, running_var, mean, var, m, momentum)
        else:
            mean, var = running_mean.copy(), running_var
        inv_std = 1 / xp.sqrt(var + eps)
        y = None if weight is None else xp.empty_like(x3)

        def scale(start, stop):
            xh = x_hat[start:stop]
            if not training:
                xp.subtract(x3[start:stop], mean[:, None], out=xh)
            xh *= inv_std[:, None]  # x̂ = (x − μ)·r
            if y is not None:
                ys = xp.multiply(xh, weight[:, None], out=y[start:stop])
                ys += bias[:, None]

        _sweep(x3, scale, 6)
        x_hat = x_hat.reshape(x.shape)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.training, ctx.eps, ctx.mean = training, eps, mean  # the reference's context exactly
        return x_hat.copy() if y is None else y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        xp, (N, C), m = ctx.xp, grad.shape[:2], grad.size // grad.shape[1]
        g3, xh3 = grad.reshape(N, C, -1), x_hat.reshape(N, C, -1)
        rows = xp.empty((2, N, C), dtype=grad.dtype)

        def sums(start, stop):
            rows[0, start:stop] = _row_sums(xp, g3[start:stop])
            rows[1, start:stop] = _row_dots(g3[start:stop], xh3[start:stop])

        _sweep(g3, sums, 3)
        d_bias, d_weight = rows.sum(axis=1)
        a = inv_std if weight is None else inv_std * weight  # γ·r per channel
        # dx = γ·r·(g − dβ/m − x̂·dγ/m), as  g·a + x̂·b + c  with per-channel a, b, c
        b, c = (-a * d_weight / m)[:, None], (-a * d_bias / m)[:, None]
        dx = xp.empty_like(g3)

        def input_grad(start, stop):
            d = xp.multiply(g3[start:stop], a[:, None], out=dx[start:stop])
            if ctx.training:
                d += xh3[start:stop] * b
                d += c

        _sweep(g3, input_grad, 8)
        dx = dx.reshape(grad.shape)
        return dx if weight is None else (dx, d_weight, d_bias)


FAST_PATHS = [(BatchNorm, BatchNormRows, _applies)]
