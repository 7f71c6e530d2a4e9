"""Layer normalisation."""
from __future__ import annotations

from ... import validate
from ...factories import ones, zeros
from .. import functional as F
from ..parameter import Parameter
from .module import Module


class LayerNorm(Module):
    r"""Layer normalisation (Ba et al., 2016) over the last ``len(normalized_shape)`` dims.

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    with the mean and the biased variance of each sample over the normalised dims. Unlike batch
    norm, nothing depends on the other samples of the batch, so train and eval modes agree and
    there are no running statistics.

    Args:
        normalized_shape (int or tuple): the trailing shape to normalise over, e.g. ``(C,)``.
        eps (float, optional): added to the variance for stability (default: 1e-5).
        elementwise_affine (bool, optional): learn a scale γ (``weight``, init 1) and shift β
            (``bias``, init 0), both of shape `normalized_shape` (default: True).

    Shape:
        - Input: (*, *normalized_shape)
        - Output: same shape as the input.

    Example:
        >>> ln = LayerNorm(10)
        >>> ln(tg.randn(20, 5, 10)).shape
        (20, 5, 10)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
        super().__init__()
        self.normalized_shape = validate.shape(normalized_shape, "normalized_shape", "LayerNorm")
        shape = self.normalized_shape
        validate.number(eps, "eps", "LayerNorm", above=0)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(shape))
            self.bias = Parameter(zeros(shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
