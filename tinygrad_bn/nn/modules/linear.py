"""Linear (fully connected) layer, and Identity."""
from __future__ import annotations

from ... import validate
from ...factories import empty
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a model)."""

    def forward(self, x):
        return x


class Linear(Module):
    r"""Applies an affine map to the last dimension: ``y = x Wᵀ + b``.

    Args:
        in_features (int): size of each input sample.
        out_features (int): size of each output sample.
        bias (bool, optional): learn an additive bias (default: True).

    Attributes:
        weight (Parameter): shape (out_features, in_features), initialised like PyTorch:
            kaiming_uniform_(a=√5), i.e. U(-1/√in_features, 1/√in_features).
        bias (Parameter or None): shape (out_features,), U(-1/√in_features, 1/√in_features).

    Shape:
        - Input: (*, in_features), any number of leading dimensions.
        - Output: (*, out_features).

    Example:
        >>> layer = Linear(20, 30)
        >>> layer(tg.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = validate.positive_int(in_features, "in_features", "Linear")
        self.out_features = self._check_out_features(out_features)
        self.weight = Parameter(empty(out_features, in_features))
        if bias:
            self.bias = Parameter(empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @staticmethod
    def _check_out_features(out_features) -> int:
        return validate.positive_int(out_features, "out_features", "Linear")

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation (see the class docstring)."""
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
