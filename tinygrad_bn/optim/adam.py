"""Adam and AdamW: adaptive moment estimation, with coupled (L2) or decoupled weight decay."""
from __future__ import annotations

import math
from typing import Iterable

from ..factories import zeros_like
from .optimizer import Optimizer, _check_nonnegative


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), exactly as ``torch.optim.Adam``.

    For each parameter :math:`p` with gradient :math:`g`, at step :math:`t = 1, 2, \dots`:

    .. math::
        g &\leftarrow g + \lambda p          && \text{(L2 weight decay, } \lambda \ne 0)\\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g \\
        v &\leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat m &= m / (1 - \beta_1^t), \qquad \hat v = v / (1 - \beta_2^t) \\
        p &\leftarrow p - \eta \, \hat m / (\sqrt{\hat v} + \epsilon)

    :math:`m, v` start at 0; the bias corrections undo that start's pull towards 0. Note that
    :math:`\epsilon` is added to the bias-corrected :math:`\sqrt{\hat v}` (PyTorch's and the
    paper's choice), not to :math:`\sqrt{v}`.

    Weight decay here is added to the gradient, so it is rescaled by :math:`1/\sqrt{\hat v}`
    like the rest of it; ``AdamW`` (or ``decoupled_weight_decay=True``) decays the weights
    directly instead, which is usually what you want.

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate :math:`\eta` (default: 1e-3).
        betas (Tuple[float, float], optional): decay rates :math:`(\beta_1, \beta_2)` of the
            running averages of the gradient and its square (default: (0.9, 0.999)).
        eps (float, optional): :math:`\epsilon`, added to the denominator (default: 1e-8).
        weight_decay (float, optional): weight decay :math:`\lambda` (default: 0).
        decoupled_weight_decay (bool, optional): decay the weights as AdamW does (default: False).

    State (per parameter): ``'step'`` (int), ``'exp_avg'`` (:math:`m`), ``'exp_avg_sq'``
    (:math:`v`). (PyTorch keeps ``'step'`` as a one-element float tensor; here it is an int.)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_nonnegative("learning rate", group["lr"])
        _check_nonnegative("epsilon", group["eps"])
        _check_nonnegative("weight_decay", group["weight_decay"])
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta} (must be in [0, 1))")

    def _update_group(self, group: dict, params: list) -> None:
        # float(): a NumPy float64 hyper-parameter would otherwise upcast float32 arrays.
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            step = state["step"] = int(state["step"]) + 1
            m, v = state["exp_avg"], state["exp_avg_sq"]

            g = p.grad
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * weight_decay)  # AdamW: shrink the weights themselves
                else:
                    g = g + weight_decay * p  # L2: a new tensor, p.grad is left untouched

            m.mul_(beta1).add_(g, alpha=1 - beta1)
            v.mul_(beta2).add_(g * g, alpha=1 - beta2)

            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            denom = v.sqrt()
            denom /= math.sqrt(bias_correction2)
            denom += eps  # sqrt(v_hat) + eps, built in one buffer
            p.sub_(m / denom, alpha=lr / bias_correction1)  # lr * m_hat / (sqrt(v_hat) + eps)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Identical to :class:`Adam` except for where weight decay enters: before the Adam step the
    weights are shrunk directly, :math:`p \leftarrow p (1 - \eta \lambda)`, and the gradient is
    left alone. The decay is therefore the same for every weight, not rescaled by Adam's
    per-weight :math:`1/\sqrt{\hat v}`.

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate :math:`\eta` (default: 1e-3).
        betas (Tuple[float, float], optional): :math:`(\beta_1, \beta_2)` (default: (0.9, 0.999)).
        eps (float, optional): :math:`\epsilon` (default: 1e-8).
        weight_decay (float, optional): decoupled weight decay :math:`\lambda` (default: 1e-2).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=True)


__all__ = ["Adam", "AdamW"]
