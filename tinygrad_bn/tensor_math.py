"""Tensor's arithmetic: the Python operators (``+ - * / ** @``, comparisons) and the elementwise
math methods (exp, log, ..., clamp, maximum, where). A method group of ``Tensor`` (tensor.py),
which mixes it in; each method is one op's ``apply`` or a short composition.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import backend, dtypes
from .ops import elementwise as E
from .ops import matmul as M

if TYPE_CHECKING:  # for annotations only: tensor.py imports this file
    from .tensor import Tensor


class ArithmeticMethods:
    """The operators and elementwise math of Tensor (see tensor.py)."""

    def __add__(self, other):
        return self._binary(E.Add, other)

    def __radd__(self, other):
        return self._binary(E.Add, other, reverse=True)

    def __sub__(self, other):
        return self._binary(E.Sub, other)

    def __rsub__(self, other):
        return self._binary(E.Sub, other, reverse=True)

    def __mul__(self, other):
        return self._binary(E.Mul, other)

    def __rmul__(self, other):
        return self._binary(E.Mul, other, reverse=True)

    def __truediv__(self, other):
        return self._true_division(other, reverse=False)

    def __rtruediv__(self, other):
        return self._true_division(other, reverse=True)

    def _true_division(self, other, reverse):
        other = self._operand(other)
        dtype = dtypes.float_result(dtypes.promote(self, other))  # int / int is float32, as in torch
        return self.astype(dtype)._binary(E.Div, other.astype(dtype), reverse=reverse)

    def __pow__(self, other):
        return self._binary(E.Pow, other)

    def __rpow__(self, other):
        return self._binary(E.Pow, other, reverse=True)

    def __neg__(self):
        return E.Neg.apply(self)

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return self._operand(other).matmul(self)

    def add(self, other, alpha=1) -> Tensor:
        """self + alpha · other."""
        return self + (other if alpha == 1 else self._operand(other) * alpha)

    def sub(self, other, alpha=1) -> Tensor:
        """self − alpha · other."""
        return self - (other if alpha == 1 else self._operand(other) * alpha)

    def mul(self, other) -> Tensor:
        """self · other, elementwise."""
        return self * other

    def div(self, other) -> Tensor:
        """self / other, elementwise (true division: ints give float32)."""
        return self / other

    def pow(self, exponent) -> Tensor:
        """self ** exponent, elementwise."""
        return self ** exponent

    def neg(self) -> Tensor:
        """−self."""
        return -self

    def matmul(self, other) -> Tensor:
        """The matrix product with NumPy's ``matmul`` rules (1-D operands, batch broadcasting)."""
        other = self._operand(other)
        a, b = self.shape, other.shape
        if not a or not b:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {a} and {b}")
        k_a = a[-1]
        k_b = b[0] if len(b) == 1 else b[-2]
        if k_a != k_b:
            raise ValueError(f"matmul: shapes {a} and {b} do not match ({k_a} != {k_b})")
        try:
            np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch dims of shapes {a} and {b} cannot be broadcast "
                             "together") from None
        x = self
        if x.dtype != other.dtype:
            if x.dtype.kind == "f" and other.dtype.kind == "f":  # as torch: no silent float64
                raise TypeError(f"matmul: both operands must have the same dtype, got {x.dtype} "
                                f"and {other.dtype}")
            dtype = dtypes.promote(x, other)  # an int operand takes the float one's dtype
            x, other = x.astype(dtype), other.astype(dtype)
        return M.MatMul.apply(x, other)

    mm = matmul

    # ------------------------------------------------------------ comparisons (no gradient)
    def _compare(self, fn, other):
        other = other.array if self._is_tensor(other) else other
        if backend.is_array(other):
            other = backend.to_device(other, self.device)  # a NumPy array against a CUDA tensor
        return self._new(fn(self.array, other))

    def __eq__(self, other):
        return self._compare(lambda a, b: a == b, other)

    def __ne__(self, other):
        return self._compare(lambda a, b: a != b, other)

    def __lt__(self, other):
        return self._compare(lambda a, b: a < b, other)

    def __le__(self, other):
        return self._compare(lambda a, b: a <= b, other)

    def __gt__(self, other):
        return self._compare(lambda a, b: a > b, other)

    def __ge__(self, other):
        return self._compare(lambda a, b: a >= b, other)

    __hash__ = object.__hash__  # defining __eq__ would otherwise make tensors unhashable

    def eq(self, other) -> Tensor:
        """self == other, elementwise (a bool tensor)."""
        return self == other

    def ne(self, other) -> Tensor:
        """self != other, elementwise."""
        return self != other

    def lt(self, other) -> Tensor:
        """self < other, elementwise."""
        return self < other

    def le(self, other) -> Tensor:
        """self <= other, elementwise."""
        return self <= other

    def gt(self, other) -> Tensor:
        """self > other, elementwise."""
        return self > other

    def ge(self, other) -> Tensor:
        """self >= other, elementwise."""
        return self >= other

    # ------------------------------------------------------------ unary math
    def exp(self) -> Tensor:
        """eˣ, elementwise (ints and bools give float32)."""
        return E.Exp.apply(self._float_input())

    def log(self) -> Tensor:
        """ln x, elementwise."""
        return E.Log.apply(self._float_input())

    def sqrt(self) -> Tensor:
        """√x, elementwise."""
        return E.Sqrt.apply(self._float_input())

    def abs(self) -> Tensor:
        """|x|, elementwise (the gradient at 0 is 0)."""
        return E.Abs.apply(self) if self.dtype.kind == "f" else self._new(self._xp.abs(self.array))

    def erf(self) -> Tensor:
        """The error function (2/√π)∫₀ˣ e^(−t²) dt, elementwise."""
        return E.Erf.apply(self._float_input())

    def sign(self) -> Tensor:
        """−1, 0 or 1 by the sign of x (the gradient is 0 everywhere)."""
        return E.Sign.apply(self) if self.dtype.kind == "f" else self._new(self._xp.sign(self.array))

    def tanh(self) -> Tensor:
        """tanh x, elementwise."""
        return E.Tanh.apply(self._float_input())

    def sigmoid(self) -> Tensor:
        """1 / (1 + e⁻ˣ), elementwise."""
        return E.Sigmoid.apply(self._float_input())

    def relu(self) -> Tensor:
        """max(x, 0), elementwise."""
        return E.Relu.apply(self) if self.dtype.kind == "f" else self.clamp(min=0)

    def clamp(self, min=None, max=None) -> Tensor:
        """Each element clamped into [min, max] (either bound may be None); the gradient is 1
        inside the range, 0 outside."""
        _check_clamp(min, max)
        # NumPy scalars as plain Python numbers, which never change the tensor's dtype
        min, max = (v.item() if isinstance(v, np.generic) or self._is_tensor(v) else v for v in (min, max))
        x = self
        if x.dtype.kind != "f" and any(isinstance(v, float) for v in (min, max)):
            x = x.float()  # an int tensor clamped to a float bound is float32, as in torch
        if x.dtype.kind != "f":
            return self._new(x._xp.clip(x.array, min, max))
        return E.Clamp.apply(x, min=min, max=max)

    clip = clamp

    def maximum(self, other) -> Tensor:
        """The larger of self and other, elementwise; where they tie, each gets half the gradient."""
        other = self._operand(other)
        if dtypes.category(dtypes.promote(self, other)) < 2:  # ints, bools: exact, no gradient
            return self._new(self._xp.maximum(self.array, other.array))
        return self._where(self > other, self, self._where(self < other, other, (self + other) * 0.5))

    def minimum(self, other) -> Tensor:
        """The smaller of self and other, elementwise; where they tie, each gets half the gradient."""
        other = self._operand(other)
        if dtypes.category(dtypes.promote(self, other)) < 2:
            return self._new(self._xp.minimum(self.array, other.array))
        return self._where(self < other, self, self._where(self > other, other, (self + other) * 0.5))

    def where(self, condition, other) -> Tensor:
        """self where `condition` holds, else `other` (``tg.where(condition, self, other)``)."""
        return self._where(condition, self, other)


def _check_clamp(min, max) -> None:
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
