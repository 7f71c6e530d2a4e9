"""Learning-rate schedulers: change each parameter group's ``'lr'`` as training goes on.

Call ``scheduler.step()`` once per epoch, AFTER ``optimizer.step()``::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)   # calls optimizer.step() many times
        scheduler.step()

``last_epoch`` counts the scheduler's steps (it is -1 before the constructor's own first step,
which sets every group's lr to the schedule's value at epoch 0). Each group remembers the lr it
started from as ``'initial_lr'``, as in PyTorch; schedulers read their base lrs from there.
"""
from __future__ import annotations

import math

from .. import validate
from .optimizer import Optimizer


class LRScheduler:
    """Base class of the schedulers: subclasses compute ``get_lr()`` for ``self.last_epoch``.

    Args:
        optimizer (Optimizer): the optimizer whose groups' ``'lr'`` is scheduled.
        last_epoch (int, optional): the index of the last epoch when resuming; -1 starts fresh
            and records each group's current lr as ``'initial_lr'`` (default: -1).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   f"when resuming with last_epoch={last_epoch}")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()  # epoch 0 (or last_epoch + 1 when resuming)

    def get_lr(self) -> list[float]:
        """The lr of each group at epoch ``self.last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write the new lr into every parameter group."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lr of each group as last set by this scheduler."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (which is saved on its own): plain numbers and lists."""
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    r"""Multiply each group's lr by ``gamma`` every ``step_size`` epochs.

    .. math::
        \eta_t = \eta_0 \, \gamma^{\lfloor t / \text{step\_size} \rfloor}

    Computed as PyTorch does, recursively: at every epoch that is a multiple of ``step_size``
    the CURRENT lr is multiplied by ``gamma`` (other epochs leave it alone). This equals the
    closed form above unless something else changes the lr in between, in which case the
    change is kept and decayed further.

    Args:
        optimizer (Optimizer): the wrapped optimizer.
        step_size (int): period of the decay, in epochs.
        gamma (float, optional): multiplicative factor of the decay (default: 0.1).
        last_epoch (int, optional): the index of the last epoch when resuming (default: -1).

    Example:
        >>> # lr = 0.05 for epochs 0-29, 0.005 for 30-59, 0.0005 for 60-89, ...
        >>> scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        self.step_size = validate.positive_int(step_size, "step_size", "StepLR")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal each group's lr from its initial value to ``eta_min`` along half a cosine.

    .. math::
        \eta_t = \eta_{min} + \tfrac{1}{2} (\eta_0 - \eta_{min})
                 \left(1 + \cos\left(\frac{t \pi}{T_{max}}\right)\right)

    This is the closed form, evaluated afresh at every step. PyTorch's ``step()`` uses an
    equivalent recursive form, :math:`\eta_t = \eta_{min} + (\eta_{t-1} - \eta_{min})
    (1 + \cos(t\pi/T_{max})) / (1 + \cos((t-1)\pi/T_{max}))`, which equals the closed form in
    exact arithmetic for :math:`t \le T_{max}` (and beyond, where both climb back up along the
    cosine); the two differ only by float rounding, or if something else changes the lr
    between steps (the recursive form keeps such a change, the closed form overwrites it).
    The schedule is not restarted after ``T_max`` epochs (that is SGDR's warm restarts).

    Args:
        optimizer (Optimizer): the wrapped optimizer.
        T_max (int): number of epochs to go from the initial lr to ``eta_min``.
        eta_min (float, optional): minimum learning rate (default: 0).
        last_epoch (int, optional): the index of the last epoch when resuming (default: -1).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        self.T_max = validate.positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2  # from 1 down to 0
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]
