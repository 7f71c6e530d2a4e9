"""Optimizers and learning-rate schedulers, mirroring ``torch.optim``.

Every optimizer subclasses :class:`Optimizer` (``optimizer.py``), which owns the parameter
groups, the per-parameter state and checkpointing; each subclass adds only its update rule.
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
