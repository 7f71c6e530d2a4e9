"""Loss functions as modules: each holds its options and calls the functional form."""
from __future__ import annotations

from ... import validate
from .. import functional as F
from .module import Module

_REDUCTIONS = ("none", "mean", "sum")


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = validate.choice(reduction, "reduction", type(self).__name__, _REDUCTIONS)


class CrossEntropyLoss(_Loss):
    r"""Cross entropy between logits and integer class targets, via a stable log-softmax.

    .. math::
        \ell_n = -\log \frac{\exp(x_{n, y_n})}{\sum_c \exp(x_{n, c})}

    With ``label_smoothing`` ε the target is the mixture (1 − ε)·one_hot(y) + ε/C.

    Args:
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over the batch
            (default: ``'mean'``).
        label_smoothing (float, optional): ε in [0, 1] (default: 0.0).

    Shape:
        - Input: (N, C) logits (unnormalised scores).
        - Target: (N,) integer class indices in [0, C).
        - Output: a scalar, or (N,) with ``reduction='none'``.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.label_smoothing = validate.probability(label_smoothing, "label_smoothing", "CrossEntropyLoss")

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class MSELoss(_Loss):
    r"""Mean squared error: :math:`\ell_i = (x_i - y_i)^2`, reduced over all elements.

    Args:
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` (default: ``'mean'``).

    Shape:
        - Input: any shape; Target: the same shape.
        - Output: a scalar, or the input's shape with ``reduction='none'``.
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    r"""Negative log-likelihood of log-probabilities and integer class targets:
    :math:`\ell_n = -x_{n, y_n}` (feed it ``log_softmax`` outputs).

    Args:
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` (default: ``'mean'``).

    Shape:
        - Input: (N, C) log-probabilities; Target: (N,) integer classes in [0, C).
        - Output: a scalar, or (N,) with ``reduction='none'``.
    """

    def forward(self, input, target):
        return F.nll_loss(input, target, reduction=self.reduction)
