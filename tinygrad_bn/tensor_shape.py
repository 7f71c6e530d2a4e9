"""Tensor's movement and indexing: reshape/view, flatten, permute, transpose, squeeze, expand,
repeat, split/chunk, gather and ``t[index]``. A method group of ``Tensor`` (tensor.py), which
mixes it in. None of these changes a value; their gradients move values back.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
import numbers

import numpy as np

from . import backend
from .autograd import storage_root
from .ops import movement as V
from .ops.utils import normalize_dims

if TYPE_CHECKING:  # for annotations only: tensor.py imports this file
    from .tensor import Tensor


class ShapeMethods:
    """The movement and indexing methods of Tensor (see tensor.py)."""

    def reshape(self, *shape) -> Tensor:
        """The same values in a new shape (one dim may be -1: inferred)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        new_shape = _resolve_shape(tuple(shape), self.shape)
        return V.Reshape.apply(self, shape=new_shape)  # a new tensor even when the shape is the same

    def view(self, *shape) -> Tensor:
        """``reshape`` that must share self's memory, as PyTorch's ``view``: it raises where the
        new shape cannot be read from self's strides (a transposed tensor, say) rather than copy."""
        out = self.reshape(*shape)
        if self.array.size and storage_root(out.array) is not storage_root(self.array):
            raise RuntimeError(f"view size is not compatible with input tensor's size and stride: "
                               f"shape {self.shape} cannot be viewed as {out.shape} without a copy. "
                               "Use .reshape(...) instead.")
        return out

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dims `start_dim` .. `end_dim` (inclusive) merged into one."""
        if self.ndim == 0:
            return self.reshape(1)
        (s,), (e,) = normalize_dims(start_dim, self.ndim), normalize_dims(end_dim, self.ndim)
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims) -> Tensor:
        """The dims reordered: dim i of the result is dim ``dims[i]`` of self."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if len(dims) != self.ndim or any(not -self.ndim <= d < self.ndim for d in dims):
            raise ValueError(f"permute: {dims} is not an ordering of the {self.ndim} dims")
        dims = tuple(d % self.ndim for d in dims)
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not an ordering of the {self.ndim} dims")
        return V.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Dims `dim0` and `dim1` swapped."""
        normalize_dims((dim0, dim1) if dim0 != dim1 else dim0, self.ndim)  # raises if out of range
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        """Dims `axis0` and `axis1` swapped (``transpose``'s NumPy name)."""
        return self.transpose(axis0, axis1)

    def t(self) -> Tensor:
        """The transpose of a matrix (a tensor of at most 2 dims)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but got {self.ndim}")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def unsqueeze(self, dim: int) -> Tensor:
        """A new dim of size 1 inserted at `dim`."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor of {self.ndim} dims")
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None) -> Tensor:
        """Dims of size 1 removed (only `dim`, if given)."""
        axes = normalize_dims(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def expand(self, *shape) -> Tensor:
        """A broadcast view with dims of size 1 stretched to `shape` (-1 keeps a dim)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        target = tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                       for i, n in enumerate(shape))
        try:  # each old dim must equal its new size or be 1; new leading dims may not be -1
            ok = lead >= 0 and min(target, default=0) >= 0 and \
                np.broadcast_shapes(self.shape, target) == target
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {tuple(shape)}")
        return V.Expand.apply(self, shape=target)

    def repeat(self, *sizes) -> Tensor:
        """The tensor tiled `sizes[i]` times along dim i (like ``np.tile``)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes given for a tensor of {self.ndim} dims")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        # each dim n becomes a pair (1, n) expanded to (r, n), then merged into r·n
        paired = self.reshape([d for n in shape for d in (1, n)])
        tiled = paired.expand([d for r, n in zip(sizes, shape) for d in (r, n)])
        return tiled.reshape([r * n for r, n in zip(sizes, shape)])

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Pieces along `dim`: of `split_size` each (the last may be smaller), or of the sizes
        in a list."""
        (dim,) = normalize_dims(dim, self.ndim)
        n = self.shape[dim]
        if isinstance(split_size_or_sections, numbers.Integral):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to the dim's size {n}")
        pieces, start = [], 0
        for size in sizes:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """`chunks` pieces along `dim` (fewer when the size does not allow that many)."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        (axis,) = normalize_dims(dim, self.ndim)
        return self.split(max(-(-self.shape[axis] // chunks), 1), dim)

    def gather(self, dim: int, index) -> Tensor:
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` for dim 0 (likewise for other dims)."""
        index = index.array if self._is_tensor(index) else self._xp.asarray(index)
        dim = _one_dim(dim, self.ndim, "gather") or 0
        if index.ndim != self.ndim:
            raise ValueError(f"gather: index has {index.ndim} dims, the tensor {self.ndim}")
        grids = self._xp.ogrid[tuple(slice(0, n) for n in index.shape)]
        grids = list(grids) if isinstance(grids, (list, tuple)) else [grids]
        grids[dim] = index
        return self[tuple(grids)]

    def _index(self, index):
        """An index with Tensors and lists turned into arrays on self's device."""
        def unwrap(i):
            if isinstance(i, (list, range)):  # x[[0, 2]] is integer-array indexing, as in torch
                return self._xp.asarray(i)
            if self._is_tensor(i):
                return i.array
            return backend.to_device(i, self.device) if backend.is_array(i) else i
        return tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)

    def __getitem__(self, index) -> Tensor:
        return V.GetItem.apply(self, index=self._index(index))

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _one_dim(dim, ndim, name):
    """`dim` as one non-negative axis (None for a 0-d tensor: the whole of it)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    axes = normalize_dims(int(dim), ndim)
    return axes[0] if axes else None


def _resolve_shape(shape, old_shape):
    """`shape` with its one -1 filled in; raises if the element counts differ."""
    numel = math.prod(old_shape)  # math.prod: np.prod of a tuple costs ~4 µs per call
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) == 1 and known and numel % known == 0:
        shape = tuple(numel // known if n == -1 else n for n in shape)
    if shape.count(-1) or math.prod(shape) != numel or any(n < 0 for n in shape):
        raise ValueError(f"cannot reshape a tensor of shape {old_shape} ({numel} elements) "
                         f"into {shape}")
    return tuple(int(n) for n in shape)
