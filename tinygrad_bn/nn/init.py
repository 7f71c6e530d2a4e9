"""Parameter initialisation, in place, with PyTorch's names and formulas.

Every function overwrites the tensor in place (hence the trailing underscore, PyTorch's mark of
an in-place operation), under ``no_grad`` as PyTorch does (a weight is a leaf that requires
grad, which may only be changed in place outside the graph), and returns the tensor. Random
values come from the generator of the tensor's device, ``backend.rng(device)``, so
``tg.manual_seed(s)`` makes initialisation reproducible. Values are drawn directly in the
tensor's dtype: a float32 weight never passes through float64.

The fan of a weight is how many inputs (``fan_in``) or outputs (``fan_out``) each unit is
connected to. For a Linear weight (out, in) it is ``in`` / ``out``; for a Conv2d weight
(out, in/groups, kH, kW) each connection is a whole kernel window, so both are multiplied by
kH·kW. Kaiming (He) and Xavier (Glorot) initialisation scale the weights by the fan so that
activations (and gradients) keep roughly the same variance from layer to layer.
"""
from __future__ import annotations

import math

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def _check_float(tensor, fn_name: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn_name}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{fn_name}: expected a floating point tensor, got {tensor.dtype}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in·k and out·k, k = Π kernel."""
    if tensor.ndim < 2:
        raise ValueError("fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions, got shape {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])  # 1 for a Linear weight
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    ``linear``, ``conv*``, ``sigmoid``: 1;  ``tanh``: 5/3;  ``relu``: √2;
    ``leaky_relu``: √(2 / (1 + slope²)) with slope = `param` (default 0.01);  ``selu``: 3/4.
    """
    linear_like = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                   "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear_like:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


# ---------------------------------------------------------------- basic fills
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill `tensor` with samples of the uniform distribution U(a, b)."""
    _check_float(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    with no_grad():
        return tensor.uniform_(a, b)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill `tensor` with samples of the normal distribution N(mean, std²)."""
    _check_float(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    with no_grad():
        return tensor.normal_(mean, std)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill `tensor` with the value `val`."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"constant_: expected a Tensor, got {type(tensor).__name__}")
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with 0."""
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill `tensor` with 1."""
    return constant_(tensor, 1)


# ---------------------------------------------------------------- Xavier / Glorot
def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain · √(6 / (fan_in + fan_out)).

    That is the uniform distribution with std = gain · √(2 / (fan_in + fan_out)) (the std of
    U(-a, a) is a/√3).
    """
    _check_float(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    _check_float(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


# ---------------------------------------------------------------- Kaiming / He
def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He et al. (2015): U(-bound, bound) with bound = gain · √(3 / fan).

    Args:
        tensor (Tensor): a weight with at least 2 dimensions.
        a (float, optional): the negative slope of the leaky ReLU that follows (default: 0).
        mode (str, optional): ``'fan_in'`` keeps the variance of the forward activations,
            ``'fan_out'`` that of the backward gradients (default: ``'fan_in'``).
        nonlinearity (str, optional): ``'relu'`` or ``'leaky_relu'`` (default: ``'leaky_relu'``);
            gain = √(2 / (1 + a²)) for leaky_relu.

    PyTorch's Linear and Conv2d use ``a=√5``: gain = √(1/3), so bound = 1/√fan_in.
    """
    _check_float(tensor, "kaiming_uniform_")
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)  # the std of U(-b, b) is b/√3
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / √fan (arguments as in `kaiming_uniform_`)."""
    _check_float(tensor, "kaiming_normal_")
    fan = _calculate_correct_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def default_weight_and_bias_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default initialisation of Linear and Conv2d (their ``reset_parameters``):
    ``kaiming_uniform_(weight, a=√5)``, i.e. U(−1/√fan_in, 1/√fan_in), and the bias
    U(−1/√fan_in, 1/√fan_in)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in)
        uniform_(bias, -bound, bound)
