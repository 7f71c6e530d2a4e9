"""2-D convolution layer."""
from __future__ import annotations

from ... import validate
from ...factories import empty
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class Conv2d(Module):
    r"""A 2-D convolution (cross-correlation, as in every framework) over NCHW images.

    .. math::
        out(n, c_{out}) = bias(c_{out}) + \sum_{k} weight(c_{out}, k) \star input(n, k)

    where k runs over the in_channels/groups channels of c_out's group.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels produced (number of filters).
        kernel_size (int or tuple): (kH, kW) of each filter.
        stride (int or tuple, optional): step between windows (default: 1).
        padding (int or tuple, optional): zeros added on both sides of H and W (default: 0).
        dilation (int or tuple, optional): spacing between kernel elements (default: 1).
        groups (int, optional): split the channels into this many independent groups; both
            channel counts must be divisible by it (default: 1).
        bias (bool, optional): learn an additive bias per output channel (default: True).

    Attributes:
        weight (Parameter): (out_channels, in_channels/groups, kH, kW), initialised like
            PyTorch: kaiming_uniform_(a=√5), i.e. U(-1/√fan_in, 1/√fan_in) with
            fan_in = in_channels/groups · kH · kW.
        bias (Parameter or None): (out_channels,), U(-1/√fan_in, 1/√fan_in).

    Shape:
        - Input: (N, C_in, H, W)
        - Output: (N, C_out, H_out, W_out) with
          H_out = ⌊(H + 2·padding[0] − dilation[0]·(kH − 1) − 1) / stride[0]⌋ + 1 (W likewise).

    Example:
        >>> conv = Conv2d(1, 6, 5)
        >>> conv(tg.randn(8, 1, 28, 28)).shape
        (8, 6, 24, 24)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True):
        super().__init__()
        self._check_channels("in_channels", in_channels, groups)
        self._check_channels("out_channels", out_channels, groups)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self._set_geometry(kernel_size, stride, padding, dilation)
        self.groups = groups
        self.weight = Parameter(empty(out_channels, in_channels // groups, *self.kernel_size))
        if bias:
            self.bias = Parameter(empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _set_geometry(self, kernel_size, stride, padding, dilation) -> None:
        self.kernel_size = validate.pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = validate.pair(stride, "stride", "Conv2d", 1)
        self.padding = validate.pair(padding, "padding", "Conv2d", 0)
        self.dilation = validate.pair(dilation, "dilation", "Conv2d", 1)

    @staticmethod
    def _check_channels(name: str, value, groups) -> None:
        """A channel count (and groups) must be positive ints, the count divisible by groups."""
        validate.positive_int(value, name, "Conv2d")
        validate.positive_int(groups, "groups", "Conv2d")
        if value % groups:
            raise ValueError(f"Conv2d: {name} ({value}) must be divisible by groups ({groups})")

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation (see the class docstring)."""
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        # PyTorch's format: defaults other than stride are left out
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
