"""Helpers shared by the ops: undoing broadcasting, and normalising `dim` arguments."""
from __future__ import annotations

import numbers


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the adjoint of broadcasting is summation.

    Broadcasting first prepends size-1 axes, then stretches size-1 axes; undo both, in that order.
    Every binary op calls this for each input, so broadcasting needs no code anywhere else.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def normalize_dims(dim, ndim):
    """`dim` (None, an int or a tuple of ints, possibly negative) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (int(dim),) if isinstance(dim, numbers.Integral) else tuple(int(d) for d in dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):  # a 0-d tensor accepts dim 0 and -1, like PyTorch
            raise IndexError(f"dim {d} is out of range for a tensor of {ndim} dimensions")
        if ndim:
            out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"dim {dim} names an axis twice")
    return tuple(sorted(out))


def keepdim_shape(shape, axes):
    """The shape of a reduction over `axes` with keepdim=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
