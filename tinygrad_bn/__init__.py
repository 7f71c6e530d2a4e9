"""tinygrad_bn: a small deep-learning framework with a fused, hand-derived batch norm.

Read it bottom-up: backend -> autograd -> tensor -> ops -> nn -> optim.
"""
from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .backend import cuda_is_available
from .gradcheck import gradcheck, relative_error
from .serialization import load, save
from .tensor import (Tensor, arange, empty, eye, full, manual_seed, ones, ones_like, rand, randn,
                     tensor, zeros, zeros_like)

from . import nn, optim  # noqa: E402  (after Tensor: both build on it)

__version__ = "0.1.0"

__all__ = ["Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled",
           "cuda_is_available", "gradcheck", "relative_error", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "rand", "randn", "arange", "eye", "manual_seed",
           "save", "load", "nn", "optim"]
