"""Elementwise ops: binary (with broadcasting), unary, and casts.

Each backward returns gradients of its inputs' shapes: binary ops pass theirs through
`unbroadcast`, the one place that undoes broadcasting. Unary ops save their OUTPUT where the
derivative is a function of it (exp, sqrt, tanh, sigmoid, relu): the output is kept alive anyway
as the next op's input, so saving it costs no memory.
Backward functions never modify `grad` in place: the same array may be handed to several inputs.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Function
from .utils import unbroadcast

# ================================================================ binary ops


class Add(Function):
    """z = a + b;  dz/da = 1, dz/db = 1. Saves only the two input shapes."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class Sub(Function):
    """z = a - b;  dz/da = 1, dz/db = -1."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        gb = unbroadcast(-grad, sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(grad, sa), gb


class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a. Saves each input only if the OTHER needs a gradient."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.shapes = a.shape, b.shape
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = unbroadcast(grad * b, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(grad * a, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b² = -z/b."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        out = a / b
        ctx.save_for_backward(b, out if ctx.needs_input_grad[1] else None)
        ctx.shapes = a.shape, b.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = grad / b
        gb = unbroadcast(-ga * out, sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(ga, sa) if ctx.needs_input_grad[0] else None, gb


class Pow(Function):
    """z = a ** b;  dz/da = b·a^(b-1), dz/db = z·ln(a) (taken as 0 where a == 0, like PyTorch)."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        xp = ctx.xp
        ga = unbroadcast(grad * b * a ** (b - 1), a.shape) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            safe_log = xp.log(xp.where(a == 0, xp.ones_like(a), a))
            gb = unbroadcast(grad * out * safe_log, b.shape)
        return ga, gb


# ================================================================ unary ops


class Neg(Function):
    """y = -x;  dy/dx = -1."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Sign(Function):
    """y = sign(x) (−1, 0 or 1);  dy/dx = 0 (a step function: flat wherever it is defined)."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.zeros_like(grad)


class Copy(Function):
    """y = a copy of x in new memory;  dy/dx = 1. (``clone``, ``contiguous``.)"""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class Exp(Function):
    """y = exp(x);  dy/dx = y. Saves the output."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Function):
    """y = ln(x);  dy/dx = 1/x. Saves the input."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Sqrt(Function):
    """y = √x;  dy/dx = 1/(2y). Saves the output."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad / (2 * y)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at 0, like PyTorch). Saves the input."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.xp.sign(x)


class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y². Saves the output."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class Sigmoid(Function):
    """y = 1/(1+e^-x);  dy/dx = y(1-y). Saves the output.

    Computed as 0.5·tanh(x/2) + 0.5, the same function written so that no exp can overflow
    (1/(1+e^-x) overflows e^-x for x < -88 in float32), with no branch and one transcendental.
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x * 0.5)
        y *= 0.5
        y += 0.5
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (y * (1 - y))


class Relu(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0 else 0. Saves the output (y > 0 iff x > 0)."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (y > 0)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo <= x <= hi else 0 (PyTorch's convention).

    Saves a boolean mask (1 byte per element) instead of the input.
    """

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, min=None, max=None):
        y = ctx.xp.clip(x, min, max)
        if ctx.needs_input_grad[0]:
            inside = True
            if min is not None:
                inside = x >= min
            if max is not None:
                inside = inside & (x <= max)
            ctx.save_for_backward(inside)
        return y

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside


class Gelu(Function):
    """y = x·Φ(x), Φ the standard normal CDF;  dy/dx = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).

    `approximate='tanh'` uses Φ(x) ≈ ½(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), whose
    derivative is ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²). Saves the input.
    """

    @staticmethod
    def forward(ctx, x, approximate="none"):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return x * _gelu_cdf(ctx.xp, x, approximate)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        if ctx.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = xp.tanh(k * x * (1 + 0.044715 * (x * x)))  # (x * x, not x ** 3: NumPy's int power is slow)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return grad * (_gelu_cdf(xp, x, "none") + x * pdf)

    @staticmethod
    def graph_backward(ctx, grad):  # the same formulas on Tensors, with a differentiable erf
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            return Gelu.backward(ctx, grad)
        cdf = 0.5 * (1 + ctx.xp.erf(x * (1 / math.sqrt(2))))
        return grad * (cdf + x * ctx.xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi)))


def _gelu_cdf(xp, x, approximate):
    """Φ(x) (or its tanh approximation), in x's dtype."""
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        return 0.5 * (1 + xp.tanh(k * x * (1 + 0.044715 * (x * x))))
    return (0.5 * (1 + backend.erf(x * (1 / math.sqrt(2))))).astype(x.dtype, copy=False)


class Erf(Function):
    """y = erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt;  dy/dx = (2/√π)·e^(−x²). Saves the input."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend.erf(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (ctx.xp.exp(-x * x) * (2 / math.sqrt(math.pi)))


# ================================================================ selection


class Where(Function):
    """z = a where `condition` else b (all broadcast together);  dz/da = [condition],
    dz/db = [not condition]. Saves the boolean condition only."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, a, b, condition=None):
        ctx.shapes, ctx.condition = (a.shape, b.shape), condition
        return ctx.xp.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        zero = ctx.xp.zeros((), dtype=grad.dtype)
        ga = unbroadcast(ctx.xp.where(ctx.condition, grad, zero), sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(ctx.xp.where(ctx.condition, zero, grad), sb) if ctx.needs_input_grad[1] else None
        return ga, gb


# ================================================================ type and device


class Cast(Function):
    """y = x converted to another dtype;  the gradient is converted back to x's dtype."""

    differentiable_backward = True  # backward works on Tensors too (see higher_order.py)

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.in_dtype)


class ToDevice(Function):
    """y = x copied to another device;  the gradient is copied back."""

    @staticmethod
    def graph_backward(ctx, grad):
        return grad.to(ctx.src)

    @staticmethod
    def forward(ctx, x, device=None):
        ctx.src = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, grad):
        return backend.to_device(grad, ctx.src)
