"""2-D max and average pooling layers."""
from __future__ import annotations

from ... import validate
from .. import functional as F
from .module import Module


class _Pool2d(Module):
    """What the two pools share: the window hyper-parameters and their repr."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        where = type(self).__name__
        kernel = validate.pair(kernel_size, "kernel_size", where, 1)
        if stride is not None:
            validate.pair(stride, "stride", where, 1)
        if any(2 * p > k for p, k in zip(validate.pair(padding, "padding", where, 0), kernel)):
            raise ValueError(f"{where}: padding should be at most half of the kernel size, got "
                             f"padding={padding} and kernel_size={kernel_size}")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size  # PyTorch's default
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""The maximum over each kH×kW window of each channel.

    .. math:: out(n, c, h, w) = \max_{i < kH,\, j < kW} input(n, c, s_0 h + i, s_1 w + j)

    Args:
        kernel_size (int or tuple): the window (kH, kW).
        stride (int or tuple, optional): step between windows (default: kernel_size).
        padding (int or tuple, optional): implicit -inf padding on both sides (default: 0).

    Shape:
        - Input: (N, C, H, W)
        - Output: (N, C, H_out, W_out), H_out = ⌊(H + 2·padding − kH) / stride⌋ + 1.
    """

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    r"""The mean over each kH×kW window of each channel.

    Padding zeros count in the mean (PyTorch's default ``count_include_pad=True``).

    Args:
        kernel_size (int or tuple): the window (kH, kW).
        stride (int or tuple, optional): step between windows (default: kernel_size).
        padding (int or tuple, optional): implicit zero padding on both sides (default: 0).

    Shape:
        - Input: (N, C, H, W)
        - Output: (N, C, H_out, W_out), H_out = ⌊(H + 2·padding − kH) / stride⌋ + 1.
    """

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    r"""Average pooling to a fixed output size, whatever the input's: output cell (i, j) averages
    input rows ⌊i·H/OH⌋ .. ⌈(i+1)·H/OH⌉ − 1 and the same columns for W. ``(1, 1)`` is global
    average pooling.

    Args:
        output_size (int or tuple): (OH, OW); an int for both; None in a place keeps that size.

    Shape:
        - Input: (N, C, H, W) or (C, H, W)
        - Output: (N, C, OH, OW) or (C, OH, OW).
    """

    def __init__(self, output_size):
        super().__init__()
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        if len(sizes) != 2:
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be an int, None, or a pair of "
                             f"them, got {output_size!r}")
        for size in sizes:
            if size is not None:
                validate.positive_int(size, "output_size", "AdaptiveAvgPool2d")
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
