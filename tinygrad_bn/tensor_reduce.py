"""Tensor's reductions: sum, mean, var, std, amax/amin, max/min (with indices), argmax/argmin,
norm, all/any, softmax/log_softmax. A method group of ``Tensor`` (tensor.py), which mixes it in.

``dim`` may be an int, a tuple of ints or None (all dims), negative counting from the end;
``axis=`` and ``keepdims=`` are accepted as aliases, as PyTorch accepts them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
import numbers
from collections import namedtuple

import numpy as np

from .ops import reduce as R
from .ops.utils import normalize_dims
from .tensor_shape import _one_dim

if TYPE_CHECKING:  # for annotations only: tensor.py imports this file
    from .tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])  # what max(dim)/min(dim) return


def _dims(dim, axis, keepdim, keepdims):
    """Resolve PyTorch's ``dim``/``keepdim`` and their NumPy-style aliases ``axis``/``keepdims``."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


class ReductionMethods:
    """The reductions of Tensor (see tensor.py)."""

    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Σ over `dim` (an int, a tuple, or None for all); integers and bools add up as int64."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        x = self if self.dtype.kind == "f" or self.dtype == np.int64 else self.astype(np.int64)
        return R.Sum.apply(x, axes=normalize_dims(dim, self.ndim), keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The mean over `dim` (floating point tensors only, as in PyTorch)."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        self._need_float("mean")
        axes = normalize_dims(dim, self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        return self.sum(axes, keepdim) * (1.0 / count if count else float("nan"))  # mean = Σx / n

    def var(self, dim=None, keepdim: bool = False, correction: int = 1, *, axis=None,
            keepdims=None, unbiased=None) -> Tensor:
        """Σ(x − mean)² / (n − correction) over `dim` (``unbiased=False`` is correction=0)."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if unbiased is not None:
            correction = int(bool(unbiased))
        self._need_float("var")
        axes = normalize_dims(dim, self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        centred = self - self.mean(axes, keepdim=True)
        scale = 1.0 / (count - correction) if count > correction else float("inf")
        return (centred * centred).sum(axes, keepdim) * scale
        # var = Σ(x - mean)² / (n - correction); n <= correction gives nan (0·inf), as in torch

    def std(self, dim=None, keepdim: bool = False, correction: int = 1, *, axis=None,
            keepdims=None, unbiased=None) -> Tensor:
        """√var over `dim`."""
        return self.var(dim, keepdim, correction, axis=axis, keepdims=keepdims,
                        unbiased=unbiased).sqrt()

    def amax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The maximum values over `dim`; tied maxima share the gradient equally."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return R.Max.apply(self, axes=normalize_dims(dim, self.ndim), keepdim=keepdim)

    def amin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The minimum values over `dim`; tied minima share the gradient equally."""
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return -((-self).amax(dim, keepdim))  # min x = -max(-x)

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """``max()``: the largest element (0-d; ties share the gradient). ``max(dim)``: a named
        tuple ``(values, indices)`` along `dim`, the gradient going to the index (the first
        maximum). ``max(other_tensor)``: ``maximum``."""
        if self._is_tensor(dim):
            return self.maximum(dim)
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if dim is None:
            return self.amax(None, keepdim)
        indices = self.argmax(dim, keepdim=True)
        values = self.gather(_one_dim(dim, self.ndim, "max") or 0, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values_indices(values, indices)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """As `max`, for the smallest elements."""
        if self._is_tensor(dim):
            return self.minimum(dim)
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if dim is None:
            return self.amin(None, keepdim)
        indices = self.argmin(dim, keepdim=True)
        values = self.gather(_one_dim(dim, self.ndim, "min") or 0, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values_indices(values, indices)

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The index of the maximum over `dim` (of the flattened tensor for None); no gradient."""
        return self._arg_reduce("argmax", dim, keepdim, axis, keepdims)

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """The index of the minimum over `dim`; no gradient."""
        return self._arg_reduce("argmin", dim, keepdim, axis, keepdims)

    def _arg_reduce(self, name, dim, keepdim, axis, keepdims) -> Tensor:
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if dim is None:
            out = getattr(self.array, name)()
            return self._new(out.reshape((1,) * self.ndim) if keepdim else out)
        dim = _one_dim(dim, self.ndim, name)
        return self._new(getattr(self.array, name)(axis=dim, keepdims=keepdim))

    def norm(self, p="fro", dim=None, keepdim: bool = False) -> Tensor:
        """The p-norm over `dim` (all elements for None): (Σ|x|ᵖ)^(1/p); 'fro' and 2 give
        √Σx², inf gives max|x|. (At an all-zero input the 2-norm's gradient is nan.)"""
        self._need_float("norm")
        if p in ("fro", 2):
            return (self * self).sum(dim, keepdim).sqrt()
        if p == float("inf"):
            return self.abs().amax(dim, keepdim)
        if p == 1:
            return self.abs().sum(dim, keepdim)
        if not isinstance(p, numbers.Real) or p <= 0:
            raise ValueError(f"norm: p must be 'fro', inf or a positive number, got {p!r}")
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def all(self, dim=None, keepdim: bool = False) -> Tensor:
        """Whether every element (over `dim`) is true (non-zero); a bool tensor, no gradient."""
        axes = normalize_dims(dim, self.ndim)
        return self._new(self.array.astype(bool).all(axis=axes, keepdims=keepdim))

    def any(self, dim=None, keepdim: bool = False) -> Tensor:
        """Whether any element (over `dim`) is true (non-zero); a bool tensor, no gradient."""
        axes = normalize_dims(dim, self.ndim)
        return self._new(self.array.astype(bool).any(axis=axes, keepdims=keepdim))

    def softmax(self, dim: int) -> Tensor:
        """eˣ / Σ eˣ along `dim`, computed stably."""
        return R.Softmax.apply(self._float_input(), dim=_one_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int) -> Tensor:
        """x − log Σ eˣ along `dim`, computed stably."""
        return R.LogSoftmax.apply(self._float_input(), dim=_one_dim(dim, self.ndim, "log_softmax"))

    def _need_float(self, what: str) -> None:
        if self.dtype.kind != "f":
            raise TypeError(f"{what}(): could not infer output dtype. Input dtype must be a "
                            f"floating point dtype, got {self.dtype} (use .float() first)")
