"""The input gradient of batch norm and layer norm as ops of their own, with a hand-derived
backward: the DOUBLE backward of the normalisations.

Second derivatives need the first backward as a function that can be differentiated. For batch
norm that function is, per channel of m values (notation of norm.py: x̂ = (x − μ)·r,
r = 1/√(σ²+ε), A = Σg, B = Σ g·x̂):

    dx = γ·r/m · (m·g − A − x̂·B)                                         (1)

(dγ = Σ g·x̂ and dβ = Σ g are simple compositions and are differentiated by the autograd.)
Given the upstream gradient u of dx (u = ∂L/∂dx), write U = Σu, C = Σ u·x̂, L = Σ uᵢ·dxᵢ.
EVERYTHING that depends on x is differentiated: μ, r and x̂ (holding r or x̂ fixed is DeZero's
bug). The pieces, from x̂ = (x − μ)·r and σ² = Σ(x − μ)²/m:

    ∂r/∂xₖ  = −r²·x̂ₖ/m
    ∂x̂ᵢ/∂xₖ = r·(δᵢₖ − 1/m − x̂ᵢ·x̂ₖ/m)
    ∂B/∂xₖ  = r·(gₖ − A/m − x̂ₖ·B/m),   ∂C/∂xₖ = r·(uₖ − U/m − x̂ₖ·C/m)

With L/γ = r·Σug − r·A·U/m − (r/m)·B·C (expand (1) into L), the product rule gives

    ∂L/∂g  = γ·r/m · (m·u − U − x̂·C)          the same operator as (1): it is self-adjoint
    ∂L/∂γ  = Σ u·dx/γ  (summed per channel)
    ∂L/∂xₖ = −γ·r²/m · ( x̂ₖ·(Σug − A·U/m − 3·B·C/m) + C·(gₖ − A/m) + B·(uₖ − U/m) )

(the x̂ₖ·B·C/m term comes three times: once through ∂r, once through ∂B, once through ∂C).

LAYER norm normalises each sample over its last dims, with γ varying along them; dx depends on
g only through ĝ = γ·g, so the same formulas hold per sample with g replaced by ĝ: ∂L/∂ĝ is the
operator above applied to u, giving ∂L/∂g = γ·∂L/∂ĝ and ∂L/∂γ = Σ_samples g·∂L/∂ĝ.

In eval mode batch norm's μ and r are constants and dx = γ·r·g is a product the autograd
differentiates by itself. The tests check every second derivative here against the autograd of
the composed reference (nn/reference.py) to 1e-10, and by gradgradcheck.

``batch_norm_graph_backward`` and ``layer_norm_graph_backward`` are the norms' ``graph_backward``
(see higher_order.py): their gradients as Tensors, dx through the ops below, dγ = Σ dy·x̂ and
dβ = Σ dy composed, with x and x̂ rebuilt in the graph (x from the saved x̂, r and μ).
"""
from __future__ import annotations

from ..autograd import Function


def _stats(x, axes, eps, xp):
    """x̂ and r = 1/√(σ² + ε) over `axes` (kept as size-1 dims)."""
    centred = x - x.mean(axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
    return centred * inv_std, inv_std


def _input_grad(g_hat, x_hat, inv_std, axes):
    """r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)): formula (1), with γ already inside ĝ."""
    return inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                      - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))


def _double_backward(u, g_hat, x_hat, inv_std, axes):
    """(∂L/∂ĝ, ∂L/∂x) for L = Σ u·dx, dx = _input_grad(ĝ, ...): the formulas of the docstring."""
    mean = lambda a: a.mean(axis=axes, keepdims=True)  # noqa: E731  (Σ/m over the group)
    A, B = mean(g_hat), mean(g_hat * x_hat)            # A/m and B/m of the docstring
    U, C = mean(u), mean(u * x_hat)                    # U/m and C/m
    d_g_hat = _input_grad(u, x_hat, inv_std, axes)
    ug = mean(u * g_hat)
    d_x = -(inv_std * inv_std) * (x_hat * (ug - A * U - 3 * B * C) + C * (g_hat - A) + B * (u - U))
    return d_g_hat, d_x


def _no_third_order(ctx, u):
    raise RuntimeError(f"{ctx.fn.__name__} does not support double backward: third derivatives "
                       "through batch norm and layer norm are not supported (their second "
                       "derivative is hand-derived on arrays, ops/norm_grad.py)")


def _normalise(x, axes, eps):
    """x̂ = (x − μ)·(σ² + ε)^(−1/2) over `axes`, composed from Tensor operations (any order)."""
    centred = x - x.mean(axis=axes, keepdims=True)
    return centred * ((centred * centred).mean(axis=axes, keepdims=True) + eps) ** -0.5


def batch_norm_graph_backward(ctx, grad):
    x_hat, inv_std, weight = ctx.saved_tensors
    shape = (1, -1) + (1,) * (grad.ndim - 2)  # a per-channel vector, broadcast
    r, mean = inv_std.array.reshape(shape), ctx.mean.reshape(shape)
    x = ctx.input_tensor(0, x_hat.array / r + mean)  # x's values again, linked to x's node
    axes = _group_axes(grad.ndim, True)
    if ctx.training:
        dx = BatchNormGradInput.apply(grad, x, *(() if weight is None else (weight,)), eps=ctx.eps)
        x_hat = _normalise(x, axes, ctx.eps)
    else:  # μ and r are constants: dx = γ·r·dy and x̂ = (x − μ)·r, plain products
        r, mean = ctx.xp.asarray(r), ctx.xp.asarray(mean)
        dx = grad * (r if weight is None else r * weight.reshape(shape))
        x_hat = (x - mean) * r
    if weight is None:
        return dx
    return dx, (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)


def layer_norm_graph_backward(ctx, grad):
    x_hat, inv_std, weight = ctx.saved_tensors
    x = ctx.input_tensor(0, x_hat.array / inv_std.array + ctx.mean)
    n_axes = len(ctx.axes)
    dx = LayerNormGradInput.apply(grad, x, *(() if weight is None else (weight,)), n_axes=n_axes, eps=ctx.eps)
    if weight is None:
        return dx
    rows = tuple(range(grad.ndim - n_axes))
    return dx, (grad * _normalise(x, ctx.axes, ctx.eps)).sum(axis=rows), grad.sum(axis=rows)


def _group_axes(ndim, batch):
    """The axes a group of values spans: all but the channel axis 1 for batch norm (batch=True),
    else the last `-batch` axes (layer norm passes the count of normalised axes as -n)."""
    return (0,) + tuple(range(2, ndim)) if batch is True else tuple(range(ndim + batch, ndim))


class BatchNormGradInput(Function):
    """dx of training-mode batch norm as a function of (dy, x, [γ]): formula (1) of the module
    docstring; its backward is the hand-derived double backward. Saves dy, x̂, r and γ."""

    @staticmethod
    def forward(ctx, grad, x, weight=None, eps=1e-5):
        axes = _group_axes(x.ndim, True)
        x_hat, inv_std = _stats(x, axes, eps, ctx.xp)
        gamma = 1 if weight is None else weight.reshape((1, -1) + (1,) * (x.ndim - 2))
        ctx.save_for_backward(grad, x_hat, inv_std, weight)
        return _input_grad(grad * gamma, x_hat, inv_std, axes)

    @staticmethod
    def backward(ctx, u):
        grad, x_hat, inv_std, weight = ctx.saved_tensors
        axes = _group_axes(grad.ndim, True)
        gamma = 1 if weight is None else weight.reshape((1, -1) + (1,) * (grad.ndim - 2))
        d_g_hat, d_x = _double_backward(u, grad * gamma, x_hat, inv_std, axes)
        if weight is None:
            return d_g_hat, d_x
        d_gamma = (u * _input_grad(grad, x_hat, inv_std, axes)).sum(axis=axes)  # Σ u·dx/γ
        return d_g_hat * gamma, d_x, d_gamma  # (ĝ = γ·dy already carries γ into d_x)

    graph_backward = staticmethod(_no_third_order)


class LayerNormGradInput(Function):
    """dx of layer norm as a function of (dy, x, [γ]) (ĝ = γ·dy per element); its backward is
    the double backward of the module docstring. Saves dy, x̂, r and γ."""

    @staticmethod
    def forward(ctx, grad, x, weight=None, n_axes=1, eps=1e-5):
        axes = _group_axes(x.ndim, -n_axes)
        x_hat, inv_std = _stats(x, axes, eps, ctx.xp)
        ctx.save_for_backward(grad, x_hat, inv_std, weight)
        ctx.axes = axes
        return _input_grad(grad if weight is None else grad * weight, x_hat, inv_std, axes)

    @staticmethod
    def backward(ctx, u):
        grad, x_hat, inv_std, weight = ctx.saved_tensors
        g_hat = grad if weight is None else grad * weight
        d_g_hat, d_x = _double_backward(u, g_hat, x_hat, inv_std, ctx.axes)
        if weight is None:
            return d_g_hat, d_x
        rows = tuple(range(grad.ndim - len(ctx.axes)))  # γ is shared by every sample
        return d_g_hat * weight, d_x, (d_g_hat * grad).sum(axis=rows)

    graph_backward = staticmethod(_no_third_order)
