"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

from typing import Iterable

from ..factories import zeros_like
from .optimizer import Optimizer, _check_nonnegative


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), exactly as ``torch.optim.RMSprop`` (not centered).

    For each parameter :math:`p` with gradient :math:`g`:

    .. math::
        g &\leftarrow g + \lambda p                  && \text{(weight decay, } \lambda \ne 0)\\
        s &\leftarrow \alpha s + (1 - \alpha) g^2 \\
        a &= \sqrt{s} + \epsilon \\
        b &\leftarrow \mu b + g / a, \quad p \leftarrow p - \eta b  && \text{(momentum, } \mu > 0)\\
        p &\leftarrow p - \eta g / a                 && \text{(otherwise)}

    :math:`s` and :math:`b` start at 0 and, unlike Adam, there is no bias correction, so the
    first steps are large (:math:`s` is small). :math:`\epsilon` is added AFTER the square
    root, as in PyTorch (Keras/TF add it inside).

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate :math:`\eta` (default: 1e-2).
        alpha (float, optional): smoothing constant :math:`\alpha` (default: 0.99).
        eps (float, optional): :math:`\epsilon`, added to the denominator (default: 1e-8).
        momentum (float, optional): momentum factor :math:`\mu` (default: 0).
        weight_decay (float, optional): L2 penalty :math:`\lambda`, added to the gradient
            (default: 0).

    State (per parameter): ``'step'`` (int), ``'square_avg'`` (:math:`s`) and, when
    momentum > 0, ``'momentum_buffer'`` (:math:`b`).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0, weight_decay: float = 0):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_nonnegative("learning rate", group["lr"])
        _check_nonnegative("epsilon", group["eps"])
        _check_nonnegative("momentum", group["momentum"])
        _check_nonnegative("weight_decay", group["weight_decay"])
        _check_nonnegative("alpha", group["alpha"])

    def _update_group(self, group: dict, params: list) -> None:
        # float(): a NumPy float64 hyper-parameter would otherwise upcast float32 arrays.
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum, weight_decay = float(group["momentum"]), float(group["weight_decay"])
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = zeros_like(p)
            if momentum > 0 and "momentum_buffer" not in state:  # also if momentum is turned on later
                state["momentum_buffer"] = zeros_like(p)
            state["step"] = int(state["step"]) + 1
            square_avg = state["square_avg"]

            g = p.grad
            if weight_decay != 0:
                g = g + weight_decay * p  # a new tensor: p.grad itself is left untouched

            square_avg.mul_(alpha).add_(g * g, alpha=1 - alpha)
            avg = square_avg.sqrt()
            avg += eps  # sqrt(s) + eps

            if momentum > 0:
                buf = state["momentum_buffer"]
                buf.mul_(momentum).add_(g / avg)
                p.sub_(buf, alpha=lr)
            else:
                p.sub_(g / avg, alpha=lr)


__all__ = ["RMSprop"]
