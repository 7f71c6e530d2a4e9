"""What a valid input to a layer is: the checks ``nn.functional`` (the fused ops) and
``nn.reference`` (the composed ones) share, so both raise the same errors before any work is
done. They look at shapes, dtypes and devices only; generic values (ints, pairs, probabilities)
are checked by ``tinygrad_bn.validate``."""
from __future__ import annotations

from .. import validate
from ..ops.conv import conv_output_size
from ..tensor import Tensor


def same_dtype_and_device(op: str, x: Tensor, named) -> None:
    """`x` is floating, and every given tensor in `named` ((name, tensor) pairs) has its dtype
    and device: layers never promote (float32 stays float32) and never mix devices."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op} expects a floating point input, got {x.dtype}")
    for name, t in named:
        if t is None:
            continue
        if t.dtype != x.dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype}, but the input has {x.dtype}")
        if t.device != x.device:
            raise RuntimeError(f"{op}: {name} is on {t.device}, but the input is on {x.device}")


# ---------------------------------------------------------------- normalisation
def batch_norm_args(x, running_mean, running_var, weight, bias, training, momentum=0.1) -> None:
    if momentum is None:
        raise ValueError("batch_norm: momentum must be a float; momentum=None (a cumulative "
                         "average) is computed by the BatchNorm modules, which pass the factor")
    if not isinstance(x, Tensor) or x.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm expects (N, C), (N, C, L) or (N, C, H, W) input, "
                         f"got shape {getattr(x, 'shape', type(x).__name__)}")
    channels = x.shape[1]
    named = (("running_mean", running_mean), ("running_var", running_var),
             ("weight", weight), ("bias", bias))
    for name, t in named:
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)}, but the input "
                             f"{x.shape} has {channels} channels")
    if training and x.numel() == channels:  # (an empty batch is allowed: an empty output)
        raise ValueError("Expected more than 1 value per channel when training, "
                         f"got input size {x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm in eval mode (training=False) needs running_mean and "
                         "running_var")
    same_dtype_and_device("batch_norm", x, named)


def layer_norm_args(x, normalized_shape, weight, bias) -> tuple:
    """Returns `normalized_shape` as a tuple (an int is one dim)."""
    shape = validate.shape(normalized_shape, "normalized_shape", "layer_norm")
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the trailing dims "
                         f"of the input {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected {shape}")
    same_dtype_and_device("layer_norm", x, (("weight", weight), ("bias", bias)))
    return shape


# ---------------------------------------------------------------- convolution and pooling
def image(x, fn: str) -> None:
    """`x` is a floating (N, C, H, W) Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{fn}: expected a 4-D input (N, C, H, W) or an unbatched 3-D one "
                         f"(C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got {x.dtype}")


def output_size(x, kernel, stride, padding, dilation, fn: str) -> None:
    """The output of a window of `kernel` over x's H and W has at least one pixel."""
    out = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                zip(x.shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{fn}: input of shape {x.shape} is too small: kernel {tuple(kernel)} with "
                         f"padding {padding} and dilation {dilation} gives an output of size {out}")


def conv2d_args(x, weight, bias, stride, padding, dilation, groups) -> dict:
    """The checked geometry of a convolution, as keyword arguments of the Conv2d op."""
    fn = "conv2d"
    image(x, fn)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{fn}: weight must be a 4-D Tensor (out_channels, in_channels / groups, "
                         f"kH, kW), got {getattr(weight, 'shape', type(weight).__name__)}")
    geometry = dict(stride=validate.pair(stride, "stride", fn, 1),
                    padding=validate.pair(padding, "padding", fn, 0),
                    dilation=validate.pair(dilation, "dilation", fn, 1),
                    groups=validate.positive_int(groups, "groups", fn))
    groups = geometry["groups"]
    O, Cg = weight.shape[:2]
    if O % groups:
        raise ValueError(f"{fn}: weight of shape {weight.shape} has {O} output channels, "
                         f"not divisible by groups={groups}")
    if Cg * groups != x.shape[1]:
        raise ValueError(f"{fn}: weight of shape {weight.shape} with groups={groups} expects an "
                         f"input with {Cg * groups} channels, got input of shape {x.shape}")
    if bias is not None and (not isinstance(bias, Tensor) or bias.shape != (O,)):
        raise ValueError(f"{fn}: bias must be a Tensor of shape ({O},) for weight of shape "
                         f"{weight.shape}, got {getattr(bias, 'shape', type(bias).__name__)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{fn}: {name} dtype {t.dtype} does not match input dtype {x.dtype}")
    output_size(x, weight.shape[2:], geometry["stride"], geometry["padding"], geometry["dilation"], fn)
    return geometry


def pool_args(fn: str, x, kernel_size, stride, padding) -> dict:
    """The checked geometry of a pool, as keyword arguments of the pool ops."""
    image(x, fn)
    kernel_size = validate.pair(kernel_size, "kernel_size", fn, 1)
    stride = kernel_size if stride is None else validate.pair(stride, "stride", fn, 1)
    padding = validate.pair(padding, "padding", fn, 0)
    if any(2 * p > k for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{fn}: padding should be at most half of the kernel size, got "
                         f"padding={padding} and kernel_size={kernel_size}")
    output_size(x, kernel_size, stride, padding, (1, 1), fn)
    return dict(kernel_size=kernel_size, stride=stride, padding=padding)
