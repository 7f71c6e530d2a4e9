"""Activation functions as modules, so they can sit in a Sequential."""
from __future__ import annotations

import warnings

from ... import validate
from .. import functional as F
from .module import Module


class ReLU(Module):
    """ReLU(x) = max(0, x), elementwise.

    Shape: any; the output has the input's shape.
    """

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """LeakyReLU(x) = x for x > 0, negative_slope · x otherwise, elementwise.

    Args:
        negative_slope (float, optional): the slope for negative inputs (default: 0.01).

    Shape: any; the output has the input's shape.
    """

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = validate.number(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    r"""GELU(x) = x · Φ(x), Φ the standard normal CDF (Hendrycks & Gimpel, 2016).

    Args:
        approximate (str, optional): ``'none'`` (the exact erf form) or ``'tanh'``
            (0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))) (default: ``'none'``).

    Shape: any; the output has the input's shape.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = validate.choice(approximate, "approximate", "GELU", ("none", "tanh"))

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


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


class Softmax(Module):
    r"""Softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ) along `dim`.

    Args:
        dim (int): the dim the probabilities sum to 1 along. Left out (None), PyTorch's legacy
            choice is made with a warning: dim 0 for 0-, 1- and 3-D inputs, else dim 1.

    Shape: any; the output has the input's shape.
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = None if dim is None else validate.integer(dim, "dim", "Softmax")

    def forward(self, x):
        dim = self.dim
        if dim is None:
            dim = 0 if x.ndim in (0, 1, 3) else 1
            warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the "
                          "call to include dim=X as an argument.", stacklevel=2)
        return F.softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
