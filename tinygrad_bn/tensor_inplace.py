"""Tensor's in-place operations: ``+=`` and friends, ``add_``, ``copy_``, ``fill_``, ``t[i] = v``,
random fills. A method group of ``Tensor`` (tensor.py), which mixes it in.

Every one of them goes through ``_write``: without a graph to record it writes straight into the
tensor's array; while recording it computes the new value out of place from a copy that carries
the old history, writes it into the same storage, and the tensor takes the new value's node as
its ``grad_fn``. Either way the storage's version counter is bumped (see autograd.VersionCounter).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numbers

import numpy as np

from . import dtypes
from .autograd import is_grad_enabled
from .ops import elementwise as E
from .ops import movement as V
from .tensor_math import _check_clamp

if TYPE_CHECKING:  # for annotations only: tensor.py imports this file
    from .tensor import Tensor


class InPlaceMethods:
    """The in-place operations of Tensor (see tensor.py)."""

    def _check_inplace(self) -> None:
        """PyTorch's rule: while grad mode is on, a leaf that requires grad (a weight) or a
        view of one may not be changed in place: its history would be lost. Update weights
        inside ``with tg.no_grad():``."""
        if not is_grad_enabled():
            return
        if self.is_leaf and self.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation. (Update parameters inside `with tg.no_grad():`.)")
        base = self._base
        if base is not None and base.is_leaf and base.requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation. (Update parameters inside `with tg.no_grad():`.)")

    def _write(self, compute, direct, inputs=()) -> Tensor:
        """The one path of every in-place op.

        `compute(t)` returns the new value as a tensor computed out of place from `t` (standing
        for self); `direct(array)` writes the new value straight into self's array. Without a
        graph to record (grad mode off, or nothing requires grad) `direct` runs. Otherwise the
        new value is computed from a copy of self that carries self's history, written into
        self's storage, and self takes the new value's graph node as its ``grad_fn``.
        """
        self._check_inplace()
        recording = is_grad_enabled() and (self.requires_grad or any(t.requires_grad for t in inputs))
        if not recording:
            direct(self.array)
            self._version.bump()
            return self
        old = self._new(self.array.copy(), ctx=self._ctx, requires_grad=self.requires_grad)
        new = self._shape_checked(compute(old))
        if new.dtype != self.dtype:
            new = new.astype(self.dtype)
        self.array[...] = new.array
        self._version.bump(recorded=True)
        self._ctx, self._requires_grad = new._ctx, new.requires_grad
        self._stale_history = False
        if self._base is not None:  # the base's graph no longer describes its values
            self._base._stale_history = True
            self._rebases_seen = self._version.rebases
        return self

    def _shape_checked(self, new: Tensor) -> Tensor:
        if new.shape != self.shape:
            raise RuntimeError(f"in-place operation: the result has shape {new.shape}, but the "
                               f"tensor written has shape {self.shape}")
        return new

    def _inplace_binary(self, op, ufunc: str, other, alpha=1) -> Tensor:
        """self = self <op> alpha·other, in place. A Python number goes to the ufunc as it is (on
        a GPU a kernel argument, not an array copied to the device)."""
        number = isinstance(other, numbers.Number)
        operand = None if number else self._operand(other)
        result_dtype = dtypes.promote_scalar(self.dtype, other) if number else dtypes.promote(self, operand)
        if alpha != 1:
            result_dtype = dtypes.promote_scalar(result_dtype, alpha)
        if op is E.Div:
            result_dtype = dtypes.float_result(result_dtype)
        if not dtypes.can_write(result_dtype, self.dtype):
            raise RuntimeError(f"result type {result_dtype} can't be cast to the desired output "
                               f"type {self.dtype} (in-place {op.__name__})")
        if not number and np.broadcast_shapes(self.shape, operand.shape) != self.shape:
            raise RuntimeError(f"output with shape {self.shape} doesn't match the broadcast shape "
                               f"{np.broadcast_shapes(self.shape, operand.shape)}")

        def direct(array):
            value = other if number else operand.array
            if alpha != 1:
                value = value * alpha if number else self._xp.multiply(value, alpha)
            getattr(self._xp, ufunc)(array, value, out=array, casting="unsafe")

        def compute(old):
            value = other if alpha == 1 else self._operand(other) * alpha
            return old / value if op is E.Div else old._binary(op, value)
        return self._write(compute, direct, () if number else (operand,))

    def __iadd__(self, other):
        return self._inplace_binary(E.Add, "add", other)

    def __isub__(self, other):
        return self._inplace_binary(E.Sub, "subtract", other)

    def __imul__(self, other):
        return self._inplace_binary(E.Mul, "multiply", other)

    def __itruediv__(self, other):
        return self._inplace_binary(E.Div, "true_divide", other)

    def __ipow__(self, other):
        return self._inplace_binary(E.Pow, "power", other)

    def __imatmul__(self, other):
        """self = self @ other, in place (the product must have self's shape)."""
        other = self._operand(other)

        def direct(array):
            array[...] = self._shape_checked(self._new(array).matmul(other)).array
        return self._write(lambda old: old.matmul(other), direct, (other,))

    def add_(self, other, alpha=1) -> Tensor:
        """self += alpha · other, in place."""
        return self._inplace_binary(E.Add, "add", other, alpha)

    def sub_(self, other, alpha=1) -> Tensor:
        """self -= alpha · other, in place."""
        return self._inplace_binary(E.Sub, "subtract", other, alpha)

    def mul_(self, other) -> Tensor:
        """self *= other, in place."""
        return self._inplace_binary(E.Mul, "multiply", other)

    def div_(self, other) -> Tensor:
        """self /= other, in place."""
        return self._inplace_binary(E.Div, "true_divide", other)

    def pow_(self, exponent) -> Tensor:
        """self **= exponent, in place."""
        return self._inplace_binary(E.Pow, "power", exponent)

    def copy_(self, src) -> Tensor:
        """Copy `src`'s values (broadcast to self's shape, cast to self's dtype) into self, in
        place; the gradient flows to `src`."""
        src = self._operand(src)
        if src.device != self.device:
            src = src.to(self.device)
        try:
            np.broadcast_to(np.empty(src.shape, dtype=np.bool_), self.shape)
        except ValueError:
            raise RuntimeError(f"copy_: the source of shape {src.shape} cannot be broadcast to "
                               f"{self.shape}") from None

        def direct(array):
            array[...] = src.array
        return self._write(lambda old: src.expand(self.shape) if src.shape != self.shape else src * 1,
                           direct, (src,))

    def fill_(self, value) -> Tensor:
        """Set every element to `value`, in place."""
        if self._is_tensor(value):  # a 0-d tensor: copied in, so its gradient flows (PyTorch)
            if value.ndim != 0:
                raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor "
                                   f"with {value.ndim} dimensions")
            return self.copy_(value)

        def direct(array):
            array[...] = value
        return self._write(lambda old: self._new(self._xp.full(self.shape, value, self.dtype)),
                           direct)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def clamp_(self, min=None, max=None) -> Tensor:
        """Clamp every element into [min, max], in place."""
        _check_clamp(min, max)

        def direct(array):
            self._xp.clip(array, min, max, out=array)
        return self._write(lambda old: old.clamp(min, max), direct)

    clip_ = clamp_

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Fill with samples of U(a, b), in place, from the device's seeded generator."""
        if self.dtype.kind != "f":
            raise TypeError(f"uniform_: expected a floating point tensor, got {self.dtype}")
        if not a <= b:
            raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
        from . import factories  # (lazy: factories imports tensor.py, which imports this module)
        u = factories.rand(self.shape, dtype=self.dtype, device=self.device)
        return self.copy_(u * (b - a) + a)

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with samples of N(mean, std²), in place, from the device's seeded generator."""
        if self.dtype.kind != "f":
            raise TypeError(f"normal_: expected a floating point tensor, got {self.dtype}")
        if std < 0:
            raise ValueError(f"normal_: expects std >= 0, got {std}")
        from . import factories
        z = factories.randn(self.shape, dtype=self.dtype, device=self.device)
        return self.copy_(z * std + mean)

    def __setitem__(self, index, value) -> None:
        """``t[index] = value`` in place (value: a number or a tensor broadcast to the slot)."""
        index = self._index(index)
        value = self._operand(value)
        if not dtypes.can_write(value.dtype, self.dtype):
            raise RuntimeError(f"cannot write {value.dtype} values into a {self.dtype} tensor")

        def direct(array):
            array[index] = value.array
        self._write(lambda old: V.SetItem.apply(old, value.astype(self.dtype), index=index),
                    direct, (value,))
