"""Flatten: the bridge from convolutional feature maps to Linear layers."""
from __future__ import annotations

from ... import validate
from .module import Module


class Flatten(Module):
    """Flattens the dims `start_dim` .. `end_dim` (inclusive) into one.

    The default keeps the batch dim: (N, C, H, W) -> (N, C·H·W).

    Args:
        start_dim (int, optional): first dim to flatten (default: 1).
        end_dim (int, optional): last dim to flatten (default: -1).

    Shape:
        - Input: (*, S_start, ..., S_end, *)
        - Output: (*, S_start · ... · S_end, *)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = validate.integer(start_dim, "start_dim", "Flatten")
        self.end_dim = validate.integer(end_dim, "end_dim", "Flatten")

    def forward(self, x):
        for d in (self.start_dim, self.end_dim):
            if not -max(x.ndim, 1) <= d < max(x.ndim, 1):
                raise IndexError(f"Flatten: dim {d} is out of range for an input of shape {x.shape}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
