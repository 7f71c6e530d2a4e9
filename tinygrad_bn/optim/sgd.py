"""Stochastic gradient descent, with PyTorch's momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Iterable

from .optimizer import Optimizer, _check_nonnegative


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), exactly as ``torch.optim.SGD``.

    For each parameter :math:`p` with gradient :math:`g` at step :math:`t`:

    .. math::
        g &\leftarrow g + \lambda p                    && \text{(weight decay, } \lambda \ne 0)\\
        b &\leftarrow g \text{ at } t = 1, \quad
        b \leftarrow \mu b + (1 - \tau) g \text{ after}  && \text{(momentum, } \mu \ne 0)\\
        g &\leftarrow g + \mu b \text{ (Nesterov)} \quad\text{or}\quad g \leftarrow b\\
        p &\leftarrow p - \eta g

    Note the first momentum step: the buffer starts AS the gradient, without the
    :math:`(1 - \tau)` dampening factor (PyTorch's rule; dampening applies from step 2 on).
    This momentum form puts :math:`\eta` outside the buffer (Sutskever et al. put it inside);
    the two agree for a constant learning rate.

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float): learning rate :math:`\eta`.
        momentum (float, optional): momentum factor :math:`\mu` (default: 0).
        dampening (float, optional): dampening :math:`\tau` of the momentum (default: 0).
        weight_decay (float, optional): L2 penalty :math:`\lambda`, added to the gradient
            (default: 0).
        nesterov (bool, optional): Nesterov momentum; needs momentum > 0 and dampening = 0
            (default: False).

    State (per parameter): ``'momentum_buffer'`` (only when momentum != 0).

    Example:
        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad()
        >>> loss_fn(model(x), y).backward()
        >>> opt.step()
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_nonnegative("learning rate", group["lr"])
        _check_nonnegative("momentum", group["momentum"])
        _check_nonnegative("weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update_group(self, group: dict, params: list) -> None:
        # float(): a NumPy float64 hyper-parameter would otherwise upcast float32 arrays.
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        for p in params:
            g = p.grad
            if weight_decay != 0:
                g = g + weight_decay * p  # a new tensor: p.grad itself is left untouched
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()  # first step: no dampening
                else:
                    buf.mul_(momentum).add_(g, alpha=1 - dampening)
                g = g + momentum * buf if group["nesterov"] else buf
            p.sub_(g, alpha=lr)


__all__ = ["SGD"]
