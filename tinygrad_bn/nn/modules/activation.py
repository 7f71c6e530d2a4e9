"""Activation functions as modules, so they can sit in a Sequential."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class ReLU(Module):
    """ReLU(x) = max(0, x), elementwise.

    Shape: any; the output has the input's shape.
    """

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """Sigmoid(x) = 1 / (1 + exp(-x)), elementwise.

    Shape: any; the output has the input's shape.
    """

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """Tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)), elementwise.

    Shape: any; the output has the input's shape.
    """

    def forward(self, x):
        return F.tanh(x)
