"""Batch normalisation layers: the state around the fused ``F.batch_norm`` op.

The op does the math (normalise, scale, shift, update the running statistics); the module
owns the parameters and buffers and decides, from the mode, which statistics to use:

====================  ==========================  ===================================
mode                  normalise with              running statistics
====================  ==========================  ===================================
train()               the batch's mean / var      updated (if track_running_stats)
eval(), tracking      running_mean / running_var  unchanged
eval(), not tracking  the batch's mean / var      (there are none)
====================  ==========================  ===================================
"""
from __future__ import annotations

import numpy as np

from ... import validate
from ...autograd import no_grad
from ...factories import ones, zeros
from ...tensor import Tensor
from .. import functional as F
from ..parameter import Parameter
from .module import Module


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept."""

    _ranks: tuple = ()  # the input ranks a subclass accepts

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        validate.positive_int(num_features, "num_features", type(self).__name__)
        self._check_hyperparameters(eps, momentum)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features))   # γ = 1 and β = 0: the identity
            self.bias = Parameter(zeros(num_features))    # transform until learned
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._create_buffers()

    def _check_hyperparameters(self, eps, momentum) -> None:
        name = type(self).__name__
        validate.number(eps, "eps", name, above=0)
        if momentum is not None:  # None: a cumulative average (see forward)
            validate.probability(momentum, "momentum", name)

    def _create_buffers(self) -> None:
        """running_mean 0, running_var 1, num_batches_tracked 0 (or None without tracking)."""
        tracking = self.track_running_stats
        self.register_buffer("running_mean", zeros(self.num_features) if tracking else None)
        self.register_buffer("running_var", ones(self.num_features) if tracking else None)
        self.register_buffer("num_batches_tracked",
                             Tensor(np.array(0, dtype=np.int64)) if tracking else None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Running statistics reset, γ = 1, β = 0."""
        self.reset_running_stats()
        if self.affine:
            with no_grad():
                self.weight.fill_(1)
                self.bias.zero_()

    def _check_rank(self, x) -> None:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in self._ranks:
            expected = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{name}: expected {expected} input (got {x.ndim}D input of "
                             f"shape {x.shape})")

    def _check_input(self, x) -> None:
        name = type(self).__name__
        self._check_rank(x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}): expected {self.num_features} "
                             f"channels in dim 1, got input of shape {x.shape}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        # The weight of the new batch in the running average: the fixed `momentum`, or, when
        # momentum is None, 1/n for the n-th batch, which makes the running statistics the
        # plain (cumulative) average of all batch statistics so far.
        factor = 0.0 if self.momentum is None else self.momentum
        counting = self.training and self.track_running_stats
        if counting and self.momentum is None:  # 1/n computed where the count lives: no host sync
            factor = (1 / (self.num_batches_tracked.array + 1)).astype(self.running_mean.dtype)
        # Batch statistics in training, and in eval when there are no running statistics.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # Buffers are passed only when they are to be used or updated.
        pass_buffers = not self.training or self.track_running_stats
        out = F.batch_norm(x, self.running_mean if pass_buffers else None,
                           self.running_var if pass_buffers else None, self.weight, self.bias,
                           training=use_batch_stats, momentum=factor, eps=self.eps)
        if counting:  # counted once the batch was accepted (F.batch_norm can raise), on the device
            with no_grad():
                self.num_batches_tracked += 1
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""Batch normalisation over a 2-D (N, C) or 3-D (N, C, L) input (Ioffe & Szegedy, 2015).

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    per channel C, with the statistics over N (and L). In training they are the batch's (the
    biased variance), and the running estimates are updated as
    ``running = (1 - momentum) · running + momentum · batch_stat``, with the UNBIASED batch
    variance for ``running_var``; in eval the running estimates are used.

    Args:
        num_features (int): C, the number of channels.
        eps (float, optional): added to the variance for stability (default: 1e-5).
        momentum (float or None, optional): weight of the new batch in the running statistics;
            None for a cumulative average over all batches (default: 0.1).
        affine (bool, optional): learn a per-channel scale γ (``weight``, init 1) and shift β
            (``bias``, init 0) (default: True).
        track_running_stats (bool, optional): keep ``running_mean`` (init 0), ``running_var``
            (init 1) and ``num_batches_tracked`` (int64, init 0) as buffers; without them the
            batch statistics are used in eval mode too (default: True).

    Shape:
        - Input: (N, C) or (N, C, L)
        - Output: same shape as the input.

    Example:
        >>> bn = BatchNorm1d(100)
        >>> bn(tg.randn(20, 100)).shape
        (20, 100)
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    r"""Batch normalisation over a 4-D (N, C, H, W) input, per channel C with the statistics
    over (N, H, W). Everything else is as in :class:`BatchNorm1d`.

    Args:
        num_features (int): C, the number of channels.
        eps (float, optional): added to the variance for stability (default: 1e-5).
        momentum (float or None, optional): weight of the new batch in the running statistics;
            None for a cumulative average (default: 0.1).
        affine (bool, optional): learn γ (``weight``) and β (``bias``) (default: True).
        track_running_stats (bool, optional): keep running statistics (default: True).

    Shape:
        - Input: (N, C, H, W)
        - Output: same shape as the input.

    Example:
        >>> bn = BatchNorm2d(6)
        >>> bn(tg.randn(8, 6, 12, 12)).shape
        (8, 6, 12, 12)
    """

    _ranks = (4,)
