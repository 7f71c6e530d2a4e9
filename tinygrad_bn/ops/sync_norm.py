"""Synchronized batch norm: batch norm over a batch split across K processes, as ONE Function
with a hand-derived backward. Read ``norm.py`` first: this is the same op with two reductions
(one in forward, one in backward) taken over every process instead of one.

Process k holds n_k values of a channel (n_k may differ between processes, and may be 0). The
global batch has m = Σ_k n_k values, and the statistics must be those of the whole batch:

    μ = Σ_k Σ_i x_ki / m,    σ² = Σ_k Σ_i (x_ki − μ)² / m.

FORWARD: combining per-process statistics. Each process computes its own count n_k, mean μ_k
and M2_k = Σ_i (x_ki − μ_k)² (two passes over its values: no cancellation), and the processes
all-gather these 2C+1 numbers. Splitting each deviation as (x − μ_k) + (μ_k − μ), the cross term
sums to zero within a process (Σ_i (x_ki − μ_k) = 0), which leaves the exact identity

    μ = Σ_k n_k·μ_k / m,      M2 = Σ_k M2_k + Σ_k n_k·(μ_k − μ)²,      σ² = M2 / m

(Chan, Golub & LeVeque's parallel variance for K groups). Every term is a sum of squares, so
nothing cancels, unlike Σx² − m·μ². It is computed in float64 and in the same order on every
process from the same gathered numbers, so all processes get bit-identical statistics. The
running variance takes the global unbiased M2/(m − 1).

BACKWARD. Every process's loss may depend on every x through μ and σ², so the gradient the
processes compute together is that of L = Σ_k L_k, the sum of the K local losses. With upstream
g = ∂L/∂y on each process's own outputs, the derivation of ``norm.py`` holds term for term with
m the global count and the sums taken over the global batch:

    dx = γ·r · (g − Σ_global g / m − x̂ · Σ_global(g·x̂) / m)

so backward all-reduces exactly two per-channel sums, Σ g and Σ g·x̂ (one buffer of 2C
numbers), the same two sums that make dβ and dγ. The gradients of γ and β that backward returns
are the LOCAL sums, each process's contribution (DistributedDataParallel averages them over
processes like every other parameter's gradient, as PyTorch does).

Which loss is that? If each process's loss is the mean over its local batch of b_k samples and
DistributedDataParallel averages over K, the step follows the gradient of (1/K)·Σ_k L_k. With
equal shards (b_k = B/K) that is exactly the mean loss over the concatenated batch of B samples,
i.e. training with BatchNorm on one process with the whole batch; with unequal shards, weight
process k's loss by K·b_k/B to get the same.

Memory: as BatchNorm, forward saves x̂, r per channel and γ. Communication: one all-gather of
2C+1 numbers in forward, one all-reduce of 2C numbers in backward, none in eval mode.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from .norm import _channel_sum, _per_channel, update_running_stats


class SyncBatchNorm(Function):
    """Batch norm over a batch split across the processes of `group` (see the module docstring).

    forward(x, [weight, bias], running_mean=, running_var=, momentum=, eps=, group=): training
    mode only (eval is plain BatchNorm). `group` is anything with ``size``,
    ``allgather(array) -> (size, *array.shape)`` and ``allreduce_sum(array) -> array``
    (``tinygrad_bn.distributed.ProcessGroup``); every process must call forward and backward
    together. The running buffers are updated in place with the global mean and the global
    UNBIASED variance. Saves x̂, r = 1/√(σ²+ε) per channel, γ; the global count on ctx.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None,
                momentum=0.1, eps=1e-5, group=None):
        xp, nd = ctx.xp, x.ndim
        n = x.size // x.shape[1]  # this process's values per channel (may be 0)
        local_mean = _channel_sum(x) / max(n, 1)
        x_hat = x - _per_channel(local_mean, nd)
        local_m2 = _channel_sum(x_hat * x_hat)
        # one all-gather of (n_k, μ_k, M2_k) in float64, combined as in the docstring
        mine = xp.concatenate([xp.asarray([n], np.float64), local_mean.astype(np.float64),
                               local_m2.astype(np.float64)])
        stats = group.allgather(mine)
        counts, means, m2s = stats[:, :1], stats[:, 1:1 + x.shape[1]], stats[:, 1 + x.shape[1]:]
        m = int(counts.sum())
        if m == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {x.shape} on this process and 1 value per channel in all")
        mean = (counts * means).sum(axis=0) / max(m, 1)
        m2 = m2s.sum(axis=0) + (counts * (means - mean) ** 2).sum(axis=0)
        ctx.count, ctx.group = m, group
        if m > 1:  # an empty global batch leaves the running statistics alone
            update_running_stats(running_mean, running_var, mean, m2 / m, m, momentum)
        # x − μ from the x − μ_k we have, in place: no second activation-sized array
        x_hat -= _per_channel((mean - local_mean).astype(x.dtype), nd)
        inv_std = (1 / xp.sqrt(m2 / max(m, 1) + eps)).astype(x.dtype)
        x_hat *= _per_channel(inv_std, nd)
        ctx.save_for_backward(x_hat, inv_std, weight)
        if weight is None:
            return x_hat.copy()  # x̂ is saved for backward and must not alias the output
        y = x_hat * _per_channel(weight, nd)
        y += _per_channel(bias, nd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        c, m, nd, xp = grad.shape[1], ctx.count, grad.ndim, ctx.xp
        d_bias = _channel_sum(grad)  # this process's Σ g and Σ g·x̂: its dβ and dγ
        d_weight = _channel_sum(grad * x_hat)
        dx = None
        # dx needs the global sums. Every process has the same needs_input_grad (same model),
        # so all of them skip this collective together or none does; an empty global batch
        # (m = 0) has nothing to reduce, and every process knows it.
        if ctx.needs_input_grad[0]:
            a = inv_std if weight is None else inv_std * weight  # γ·r per channel
            dx = grad * _per_channel(a, nd)
            if m:
                sums = ctx.group.allreduce_sum(xp.concatenate([d_bias, d_weight]))
                dx += x_hat * _per_channel(-a * sums[c:] / m, nd)
                dx += _per_channel(-a * sums[:c] / m, nd)
        if weight is None:
            return dx
        return dx, d_weight, d_bias
