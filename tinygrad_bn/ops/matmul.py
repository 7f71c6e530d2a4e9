"""Matrix product with NumPy's `matmul` semantics (1-D operands, batched broadcasting)."""
from __future__ import annotations

from ..autograd import Function
from .utils import unbroadcast


class MatMul(Function):
    """C = A @ B;  dA = dC @ Bᵀ, dB = Aᵀ @ dC (over the last two axes, unbroadcast over the rest).

    A 1-D A is treated as a row (1, k), a 1-D B as a column (k, 1), as NumPy does; backward
    restores those axes before the products and removes them after. Saves both inputs.
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g = grad
        if b.ndim == 1:  # restore B's column axis first: for 1-D @ 1-D, grad is 0-d
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(a2.swapaxes(-1, -2) @ g, b2.shape).reshape(b.shape)
        return ga, gb
