"""Dropout: a regulariser that is active in training mode only."""
from __future__ import annotations

from ... import validate
from .. import functional as F
from .module import Module


class Dropout(Module):
    """In training, zeroes each element with probability `p` and scales the rest by 1/(1-p), so
    the expected value is unchanged; in eval mode it is the identity ("inverted dropout").

    The mask comes from the device's seeded generator (``tg.manual_seed``).

    Args:
        p (float, optional): probability of zeroing an element (default: 0.5).

    Shape: any; the output has the input's shape.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = validate.probability(p, "dropout probability", "Dropout")

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
