"""Batch norm and layer norm composed from primitive Tensor ops only (mean, subtract, multiply,
power, sqrt, divide), so the autograd derives their backward. Same signatures, same errors and
same running-statistics update as the fused versions in ``nn/functional.py``.

They exist to check the fused ops (tests compare values AND gradients) and to teach: read this
file beside ``ops/norm.py`` to see what the hand-derived backward replaces. Each line below
becomes a node in the graph and most keep an activation-sized array for backward.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

from ..autograd import no_grad
from . import checks
from ..tensor import Tensor


def batch_norm(x: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Composed batch norm: the same contract as ``F.batch_norm``."""
    checks.batch_norm_args(x, running_mean, running_var, weight, bias, training, momentum)
    axes = (0,) + tuple(range(2, x.ndim))
    channel = (1, -1) + (1,) * (x.ndim - 2)  # a (C,) vector, broadcast over N and the spatial axes
    if training:
        mean = x.mean(axes, keepdim=True)
        var = ((x - mean) ** 2).mean(axes, keepdim=True)  # biased, to normalise
        with no_grad():  # the running statistics are buffers, not part of the graph
            m = x.numel() // x.shape[1]
            if running_mean is not None:  # running = (1 - momentum)·running + momentum·batch
                running_mean.mul_(1 - momentum).add_(mean.reshape(-1), alpha=momentum)
            if running_var is not None:   # with the unbiased batch variance m/(m-1)·σ²
                running_var.mul_(1 - momentum).add_(var.reshape(-1), alpha=momentum * m / (m - 1))
    else:
        mean = running_mean.reshape(channel)
        var = running_var.reshape(channel)
    y = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(channel)
    if bias is not None:
        y = y + bias.reshape(channel)
    return y


def layer_norm(x: Tensor, normalized_shape: Union[int, Sequence[int]], weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Composed layer norm: the same contract as ``F.layer_norm``."""
    normalized_shape = checks.layer_norm_args(x, normalized_shape, weight, bias)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axes, keepdim=True)
    var = ((x - mean) ** 2).mean(axes, keepdim=True)
    y = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
