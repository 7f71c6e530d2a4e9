"""``tg.cuda``: PyTorch's ``torch.cuda`` helpers that learners' code calls (``is_available``,
``device_count``), answered by the backend without raising when CuPy or a GPU is missing."""
from __future__ import annotations

from . import backend


def is_available() -> bool:
    """True when CuPy is installed and sees a GPU."""
    return backend.cuda_is_available()


def device_count() -> int:
    """The number of GPUs visible (0 without CuPy or a GPU)."""
    return backend.device_count()


__all__ = ["is_available", "device_count"]
