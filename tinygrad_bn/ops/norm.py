"""Fused normalisation ops: batch norm and layer norm, each ONE Function with a hand-derived
backward. Their composed twins (built from primitive ops, differentiated by the autograd) are in
``nn/reference.py``; the tests check that both give the same values and gradients.

Derivation of the backward, shared by both ops. For one group of m values (a channel of a batch
for batch norm, one sample for layer norm):

    μ = Σx/m,  σ² = Σ(x-μ)²/m,  r = 1/√(σ²+ε),  x̂ = (x-μ)·r,  y = γ·x̂ + β

With upstream gradient g = ∂L/∂y, let ĝ = γ·g = ∂L/∂x̂. Through x̂ = (x-μ)·r, x enters directly,
through μ and through r:

    ∂L/∂r  = Σ ĝ·(x-μ)                   ∂r/∂x_i = -r³·(x_i-μ)/m
    ∂L/∂μ  = -r·Σ ĝ                      (the term of ∂r/∂μ vanishes: Σ(x-μ) = 0)
    ∂L/∂x_i = ĝ_i·r + ∂L/∂μ/m + ∂L/∂r·(-r³(x_i-μ)/m)

and writing (x-μ)·r = x̂ this collapses to the closed form

    dx = r/m · (m·ĝ − Σĝ − x̂·Σ(ĝ·x̂)),    dγ = Σ g·x̂,    dβ = Σ g.

For BATCH norm γ is one number per group (channel), so Σĝ = γ·dβ and Σ(ĝ·x̂) = γ·dγ and the
backward needs only the two reductions for dγ and dβ:  dx = γ·r · (g − dβ/m − x̂·dγ/m). The
middle term is the mean's path, the last the variance's; drop either and the result is wrong
(the tests prove the check would notice).

For LAYER norm the group is one sample and γ varies along it, so ĝ = γ·g is formed per element
and the two sums in dx are taken over the normalised axes, while dγ = Σ g·x̂ and dβ = Σ g sum
over the other axes (the samples that share γ and β).

Memory: forward saves x̂ (one array the size of the input), r (one value per group) and γ,
not the five or six activation-sized intermediates the composed version keeps.
In eval mode μ and σ² are constants (the running statistics), so dx = γ·r·g.
"""
from __future__ import annotations

from ..autograd import Function
from .norm_grad import batch_norm_graph_backward, layer_norm_graph_backward


def _per_channel(vector, ndim):
    """A (C,) vector shaped (1, C, 1, ...) to broadcast against an (N, C, ...) input."""
    return vector.reshape((1, -1) + (1,) * (ndim - 2))


def _channel_sum(a):
    """Σ over every axis but the channel axis 1, as a (C,) vector.

    For (N, C, L...) inputs, adding the N samples first is one contiguous elementwise pass and
    the remaining (C, L) sum is small: NumPy reduces over axes (0, 2, 3) of NCHW in one call
    about 2x slower. An (N, C) input is one reduction.
    """
    s = a.sum(axis=0)
    return s if s.ndim == 1 else s.reshape(s.shape[0], -1).sum(axis=1)


def update_running_stats(running_mean, running_var, mean, var, m, momentum):
    """PyTorch's rule, in place: running = (1 − momentum)·running + momentum·batch statistic,
    with the UNBIASED variance m/(m−1)·σ² for running_var (`var` is the biased σ² that the output
    is normalised with). Either buffer may be None."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += (momentum * mean).astype(running_mean.dtype, copy=False)
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += ((momentum * m / (m - 1)) * var).astype(running_var.dtype, copy=False)


class BatchNorm(Function):
    """Batch normalisation over every axis but the channel axis 1 (see the module docstring).

    forward(x, [weight, bias], running_mean=, running_var=, training=, momentum=, eps=):
    `weight` and `bias` are both given or both omitted. In training, the running buffers (arrays
    or None) are updated IN PLACE with PyTorch's rule: running = (1-momentum)·running +
    momentum·batch_stat, using the UNBIASED batch variance (m/(m-1)·σ²) for running_var, while the
    output is normalised with the biased σ². Saves x̂, r = 1/√(σ²+ε) per channel, and γ.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        m = x.size // x.shape[1]  # values per channel
        if training:
            mean = _channel_sum(x) / m
            centred = x - _per_channel(mean, x.ndim)
            var = _channel_sum(centred * centred) / m  # biased: divides by m
            update_running_stats(running_mean, running_var, mean, var, m, momentum)
        else:
            mean = running_mean.copy()  # (a copy: the buffer may change before a double backward)
            centred = x - _per_channel(mean, x.ndim)
            var = running_var
        inv_std = (var + eps) ** -0.5  # r = 1/√(σ² + ε)
        x_hat = centred  # x − μ is a fresh array: scale it into x̂ = (x − μ)·r in place
        x_hat *= _per_channel(inv_std, x.ndim)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.training, ctx.eps, ctx.mean = training, eps, mean  # μ: (C,), for graph_backward
        if weight is None:
            return x_hat.copy()  # x̂ is saved for backward and must not alias the output
        y = x_hat * _per_channel(weight, x.ndim)
        y += _per_channel(bias, x.ndim)
        return y

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        m = grad.size // grad.shape[1]
        d_bias = _channel_sum(grad)
        d_weight = _channel_sum(grad * x_hat)
        a = inv_std if weight is None else inv_std * weight  # γ·r per channel
        if not ctx.training:  # μ and σ² were constants
            return (grad * _per_channel(a, grad.ndim),) + (() if weight is None else (d_weight, d_bias))
        # dx = γ·r·(g − dβ/m − x̂·dγ/m): the mean's path and the variance's path subtracted
        dx = x_hat * _per_channel(d_weight / m, grad.ndim)
        dx += _per_channel(d_bias / m, grad.ndim)
        dx = grad - dx
        dx *= _per_channel(a, grad.ndim)
        if weight is None:
            return dx
        return dx, d_weight, d_bias

    graph_backward = staticmethod(batch_norm_graph_backward)  # second order: norm_grad.py


class LayerNorm(Function):
    """Layer normalisation over the last `n_axes` axes of each sample (see the module docstring).

    forward(x, [weight, bias], n_axes=, eps=): `weight` and `bias` have the normalised shape
    (x.shape[-n_axes:]) and are both given or both omitted. Saves x̂, r per sample, and γ.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, n_axes=1, eps=1e-5):
        axes = tuple(range(x.ndim - n_axes, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        inv_std = 1 / ctx.xp.sqrt(var + eps)
        x_hat = centred  # scaled in place into x̂ = (x − μ)·r
        x_hat *= inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.axes, ctx.eps, ctx.mean = axes, eps, mean  # μ: one per sample, for graph_backward
        if weight is None:
            return x_hat.copy()
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        axes = ctx.axes
        g_hat = grad if weight is None else grad * weight  # ĝ = γ·g, per element here
        dx = inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                        - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
        if weight is None:
            return dx
        rows = tuple(range(grad.ndim - len(axes)))  # γ and β are shared by every sample
        return dx, (grad * x_hat).sum(axis=rows), grad.sum(axis=rows)

    graph_backward = staticmethod(layer_norm_graph_backward)  # second order: norm_grad.py
