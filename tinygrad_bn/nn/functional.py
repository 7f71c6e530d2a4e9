"""The functional interface (``import tinygrad_bn.nn.functional as F``), PyTorch's names and
arguments. Each function validates its arguments, then calls one op (``ops/``) or composes a few
Tensor methods; modules in ``nn/modules`` are thin stateful wrappers around these.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from .. import backend, validate
from ..functions import stack
from ..ops import elementwise as E
from ..ops.conv import Conv2d
from ..ops.norm import BatchNorm, LayerNorm
from ..ops.pool import AvgPool2d, MaxPool2d
from ..tensor import Tensor
from . import checks

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
           "layer_norm", "relu", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "one_hot", "cross_entropy", "nll_loss", "mse_loss"]


# ================================================================ layers
def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """y = x @ weightᵀ + bias.

    Shape:
        x (*, in_features), weight (out_features, in_features), bias (out_features,) -> (*, out_features)
    """
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape} (expected last dim {weight.shape[1]})")
    y = x @ weight.T
    return y if bias is None else y + bias


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    r"""2-D convolution over an NCHW batch (a cross-correlation, as in PyTorch).

    .. math::
        out(n, o, h, w) = bias(o) + \sum_{c, i, j} weight(o, c, i, j)\,
                          input(n, g\,C_g + c,\; s_0 h + d_0 i - p_0,\; s_1 w + d_1 j - p_1)

    with zero padding outside the image, g the group of output channel o and C_g = C / groups.

    Args:
        input (Tensor): the images, (N, C, H, W).
        weight (Tensor): the filters, (O, C / groups, kH, kW).
        bias (Tensor, optional): one value per output channel, (O,) (default: None).
        stride (int or tuple, optional): step between kernel positions (default: 1).
        padding (int or tuple, optional): zeros added on both sides of H and W (default: 0).
        dilation (int or tuple, optional): spacing between kernel taps (default: 1).
        groups (int, optional): split the channels into this many independent convolutions;
            ``groups == C`` is a depthwise convolution (default: 1).

    Shape:
        - Output: (N, O, OH, OW) with OH = ⌊(H + 2p₀ − d₀(kH − 1) − 1) / s₀⌋ + 1, OW likewise.

    Example:
        >>> x = tg.randn(8, 1, 28, 28)
        >>> F.conv2d(x, tg.randn(6, 1, 5, 5), padding=2).shape
        (8, 6, 28, 28)
    """
    if isinstance(input, Tensor) and input.ndim == 3:  # one unbatched image (C, H, W), as PyTorch
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    geometry = checks.conv2d_args(input, weight, bias, stride, padding, dilation, groups)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*tensors, **geometry)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    r"""The maximum over each kH×kW window of each channel.

    .. math:: out(n, c, h, w) = \max_{i < kH,\; j < kW} input(n, c, s_0 h + i - p_0, s_1 w + j - p_1)

    with −inf padding. The gradient of a window goes to its maximum; on ties, to the first
    maximum in row-major order (as in PyTorch).

    Args:
        input (Tensor): (N, C, H, W).
        kernel_size (int or tuple): the window (kH, kW).
        stride (int or tuple, optional): step between windows (default: kernel_size).
        padding (int or tuple, optional): −inf added on both sides, at most half the
            kernel (default: 0).

    Shape:
        - Output: (N, C, OH, OW), OH = ⌊(H + 2p₀ − kH) / s₀⌋ + 1, OW likewise.
    """
    if isinstance(input, Tensor) and input.ndim == 3:  # unbatched (C, H, W)
        return max_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    return MaxPool2d.apply(input, **checks.pool_args("max_pool2d", input, kernel_size, stride, padding))


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    r"""The mean over each kH×kW window of each channel.

    .. math:: out(n, c, h, w) = \frac{1}{kH\,kW} \sum_{i < kH,\; j < kW}
              input(n, c, s_0 h + i - p_0, s_1 w + j - p_1)

    Padding zeros count in the mean: the divisor is always kH·kW (PyTorch's default
    ``count_include_pad=True``).

    Args:
        input (Tensor): (N, C, H, W).
        kernel_size (int or tuple): the window (kH, kW).
        stride (int or tuple, optional): step between windows (default: kernel_size).
        padding (int or tuple, optional): zeros added on both sides, at most half the
            kernel (default: 0).

    Shape:
        - Output: (N, C, OH, OW), OH = ⌊(H + 2p₀ − kH) / s₀⌋ + 1, OW likewise.
    """
    if isinstance(input, Tensor) and input.ndim == 3:  # unbatched (C, H, W)
        return avg_pool2d(input.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    return AvgPool2d.apply(input, **checks.pool_args("avg_pool2d", input, kernel_size, stride, padding))


def batch_norm(x: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    r"""Batch normalisation, per channel, as ONE fused op with a hand-derived backward.

    .. math:: y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    In training, E and Var are the batch's statistics (Var biased) and the running buffers are
    updated in place: ``running = (1 - momentum) * running + momentum * batch_stat`` with the
    UNBIASED batch variance for ``running_var``. In eval, the running buffers are used.
    The derivation of the backward is in ``tinygrad_bn/ops/norm.py``.

    Args:
        x (Tensor): (N, C), (N, C, L) or (N, C, H, W); statistics over every axis but C.
        running_mean, running_var (Tensor or None): (C,) buffers; required when not training.
        weight, bias (Tensor, optional): γ and β, (C,) (default: no affine transform).
        training (bool, optional): use batch statistics and update the buffers (default: False).
        momentum (float, optional): the weight of the new batch in the running average (default: 0.1).
            (The BatchNorm modules with momentum=None pass 1/n as a 0-d array on the input's
            device, so that reading the count never waits for a GPU.)
        eps (float, optional): added to the variance for stability (default: 1e-5).

    Example:
        >>> x = tg.randn(8, 3, 4, 4)
        >>> y = F.batch_norm(x, tg.zeros(3), tg.ones(3), training=True)
    """
    checks.batch_norm_args(x, running_mean, running_var, weight, bias, training, momentum)
    validate.number(eps, "eps", "batch_norm", above=0)
    if x.numel() == 0:  # an empty batch: an empty output, the running statistics left alone
        channel = (1, -1) + (1,) * (x.ndim - 2)
        y = x * 1
        return y if weight is None else y * weight.reshape(channel) + bias.reshape(channel)
    weight, bias = _affine(x, weight, bias, x.shape[1:2])
    return BatchNorm.apply(x, *weight_and_bias(weight, bias),
                           running_mean=None if running_mean is None else running_mean.array,
                           running_var=None if running_var is None else running_var.array,
                           training=training, momentum=momentum, eps=eps)


def layer_norm(x: Tensor, normalized_shape: Union[int, Sequence[int]], weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    r"""Layer normalisation over the last ``len(normalized_shape)`` dims of each sample, as ONE
    fused op with a hand-derived backward (``tinygrad_bn/ops/norm.py``).

    .. math:: y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    Args:
        x (Tensor): (*, *normalized_shape).
        normalized_shape (int or tuple): the trailing shape to normalise over.
        weight, bias (Tensor, optional): γ and β of shape ``normalized_shape``.
        eps (float, optional): added to the variance (default: 1e-5).
    """
    normalized_shape = checks.layer_norm_args(x, normalized_shape, weight, bias)
    weight, bias = _affine(x, weight, bias, normalized_shape)
    return LayerNorm.apply(x, *weight_and_bias(weight, bias), n_axes=len(normalized_shape), eps=eps)


def _affine(x, weight, bias, shape):
    """The fused ops take γ and β together or not at all: fill in the missing one (γ=1 or β=0)."""
    if (weight is None) == (bias is None):
        return weight, bias
    xp = backend.get_array_module(x.device)
    if weight is None:
        weight = Tensor._wrap(xp.ones(shape, dtype=x.dtype))
    else:
        bias = Tensor._wrap(xp.zeros(shape, dtype=x.dtype))
    return weight, bias


def weight_and_bias(weight, bias):
    return () if weight is None else (weight, bias)


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (OH, OW): output row i averages input rows
    ⌊i·H/OH⌋ .. ⌈(i+1)·H/OH⌉ − 1, columns likewise (PyTorch's windows). Takes (N, C, H, W) or
    (C, H, W); an int or None in `output_size` as PyTorch (None keeps that dim)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d expects (N, C, H, W) or (C, H, W), got {x.shape}")
    size = (output_size, output_size) if isinstance(output_size, int) or output_size is None \
        else tuple(output_size)
    H, W = x.shape[-2:]
    oh, ow = (H if size[0] is None else size[0]), (W if size[1] is None else size[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size!r}")
    if H % oh == 0 and W % ow == 0:  # equal windows: one average pool
        return avg_pool2d(x, (H // oh, W // ow))
    rows = []
    for i in range(oh):
        r0, r1 = (i * H) // oh, -((-(i + 1) * H) // oh)
        cols = [x[..., r0:r1, (j * W) // ow:-((-(j + 1) * W) // ow)].mean((-2, -1)) for j in range(ow)]
        rows.append(stack(cols, -1))
    return stack(rows, -2)


# ================================================================ activations
def relu(x: Tensor) -> Tensor:
    """y = max(x, 0)."""
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """y = x where x > 0, else negative_slope · x (the gradient at 0 is negative_slope, as PyTorch)."""
    return x.where(x > 0, x * negative_slope)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """y = x · Φ(x), Φ the standard normal CDF (``approximate='tanh'``: its tanh approximation)."""
    validate.choice(approximate, "approximate", "gelu", ("none", "tanh"))
    return E.Gelu.apply(x._float_input(), approximate=approximate)


def sigmoid(x: Tensor) -> Tensor:
    """y = 1 / (1 + exp(-x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """y = tanh(x)."""
    return x.tanh()


def softmax(x: Tensor, dim: int) -> Tensor:
    """y = exp(x) / Σ exp(x) along `dim` (computed stably)."""
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """y = x - log Σ exp(x) along `dim` (computed stably)."""
    return x.log_softmax(dim)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability `p` and scale the rest by 1/(1-p) (inverted dropout),
    so eval mode is the identity. Random numbers come from the device's seeded generator."""
    p = validate.probability(p, "dropout probability", "dropout")
    if not validate.boolean(training, "training", "dropout") or p == 0:
        return x
    keep = backend.rng(x.device).random(x.shape, dtype=np.float32) >= p
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    return x * Tensor._wrap((keep * scale).astype(x.dtype))


# ================================================================ losses
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    validate.choice(reduction, "reduction", "loss", ("none", "mean", "sum"))
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor with a trailing dim of `num_classes`: 1 at each value's index, else 0.
    ``num_classes=-1`` takes the largest value + 1."""
    t = tensor.array
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors, got dtype {t.dtype}")
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"{int(t.min())}..{int(t.max())}")
    xp = backend.get_array_module(tensor.device)
    return Tensor._wrap((t[..., None] == xp.arange(num_classes)).astype(np.int64))


def _one_hot(target: Tensor, n_classes: int, dtype):
    t = target.array
    if t.dtype.kind not in "iu":
        raise TypeError(f"class targets must be integers, got dtype {t.dtype}")
    low, high, version = target._known_range or (None, None, None)  # a DataLoader's labels
    if version != target._version.version or target.device == "cpu":  # written since, or cheap
        low = None
    if t.size and low is None:  # reads two numbers back: on a GPU the step waits here
        low, high = int(t.min()), int(t.max())
    if t.size and (low < 0 or high >= n_classes):
        raise IndexError(f"Target {high if high >= n_classes else low} is out of bounds for "
                         f"{n_classes} classes")
    xp = backend.get_array_module(target.device)
    return Tensor._wrap((t[:, None] == xp.arange(n_classes)).astype(dtype))


def nll_loss(log_probs: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """loss_i = -log_probs[i, target_i].

    The pick is written as a product with a one-hot mask (no scatter in backward).

    Shape:
        log_probs (N, C), target (N,) integers in [0, C) -> scalar, or (N,) with reduction='none'
    """
    if log_probs.ndim != 2 or target.shape != log_probs.shape[:1]:
        raise ValueError(f"nll_loss expects log_probs (N, C) and target (N,), got "
                         f"{log_probs.shape} and {target.shape}")
    validate.choice(reduction, "reduction", "nll_loss", ("none", "mean", "sum"))
    picked = log_probs * _one_hot(target, log_probs.shape[1], log_probs.dtype)
    if reduction == "none":
        return -picked.sum(1)
    n = log_probs.shape[0]  # 'mean' of no samples is nan, as in PyTorch
    scale = -1.0 if reduction == "sum" else (-1.0 / n if n else float("nan"))
    return picked.sum() * scale


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    r"""Cross-entropy of class logits and integer targets, through a stable log-softmax.

    .. math:: \ell_i = -(1-\varepsilon)\,\log p_{i,t_i} - \frac{\varepsilon}{C}\sum_c \log p_{i,c}

    where p = softmax(logits) and ε = ``label_smoothing`` (PyTorch's definition).

    Args:
        logits (Tensor): (N, C) unnormalised scores.
        target (Tensor): (N,) integer classes in [0, C); out-of-range targets raise IndexError.
        reduction (str, optional): 'mean' | 'sum' | 'none' (default: 'mean').
        label_smoothing (float, optional): ε in [0, 1] (default: 0.0).
    """
    validate.probability(label_smoothing, "label_smoothing", "cross_entropy")
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy expects logits (N, C) and target (N,), got "
                         f"{logits.shape} and {target.shape}")
    log_probs = logits.log_softmax(1)
    if not label_smoothing:
        return nll_loss(log_probs, target, reduction)
    loss = (1 - label_smoothing) * nll_loss(log_probs, target, reduction="none")
    return _reduce(loss - label_smoothing * log_probs.mean(1), reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """loss = (input - target)² averaged (or summed) over every element."""
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {target.shape} differ in shape")
    diff = input - target
    return _reduce(diff * diff, reduction)
