"""Lazy modules: layers that learn their input size from the first batch they see.

``LazyLinear(120)`` needs no ``in_features``: the first forward reads it from the input's last
dim, creates the weight and bias (PyTorch's initialisation), and the module then becomes an
ordinary ``Linear`` (its class changes, as in PyTorch), identical to one built eagerly with that
size, state_dict included. Parameters exist from the start as placeholders of shape (0,); the
first forward fills those same Parameter objects, so an optimizer built before it keeps working.
PyTorch's advice holds here too: run one batch through the model before relying on its shapes
(``load_state_dict`` into a lazy module that has not seen a batch reports the shape mismatch).
"""
from __future__ import annotations

from ... import factories
from ..parameter import Parameter
from .batchnorm import BatchNorm1d, BatchNorm2d, _BatchNorm
from .conv import Conv2d
from .linear import Linear
from .module import Module


def _placeholders(module: Module, names, present: bool) -> None:
    """Register each of `names` as a shape-(0,) placeholder Parameter (None when not `present`)."""
    for name in names:
        module.register_parameter(name, Parameter(factories.empty(0)) if present else None)


def _materialize(module: Module, shapes: dict, device, cls: type) -> None:
    """Give the placeholder parameters their real shapes (the same Parameter objects, so an
    optimizer built before keeps them), initialise them as `cls` does, and become `cls`
    (PyTorch's cls_to_become)."""
    for name, shape in shapes.items():
        param = getattr(module, name)
        if param is not None:
            param.array = factories.empty(shape).array
    module.to(device)
    module.reset_parameters()
    module.__class__ = cls


class LazyLinear(Linear):
    """``Linear`` whose ``in_features`` is inferred from the first input (its last dim).

    Args:
        out_features (int): size of each output sample.
        bias (bool, optional): learn an additive bias (default: True).
    """

    def __init__(self, out_features: int, bias: bool = True):
        Module.__init__(self)
        self.in_features = 0
        self.out_features = Linear._check_out_features(out_features)
        _placeholders(self, ("weight",), True)
        _placeholders(self, ("bias",), bias)

    def reset_parameters(self) -> None:
        if self.in_features:
            super().reset_parameters()

    def forward(self, x):
        if not self.in_features:
            self.in_features = x.shape[-1]
            _materialize(self, {"weight": (self.out_features, self.in_features),
                                "bias": (self.out_features,)}, x.device, Linear)
        return self.forward(x)  # now the eager class's forward


class LazyConv2d(Conv2d):
    """``Conv2d`` whose ``in_channels`` is inferred from the first input (its dim 1, or 0 for an
    unbatched (C, H, W) image). Arguments as Conv2d, without ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True):
        Module.__init__(self)
        Conv2d._check_channels("out_channels", out_channels, groups)
        self.in_channels, self.out_channels, self.groups = 0, out_channels, groups
        self._set_geometry(kernel_size, stride, padding, dilation)
        _placeholders(self, ("weight",), True)
        _placeholders(self, ("bias",), bias)

    def reset_parameters(self) -> None:
        if self.in_channels:
            super().reset_parameters()

    def forward(self, x):
        if not self.in_channels:
            channels = x.shape[0] if x.ndim == 3 else x.shape[1]
            Conv2d._check_channels("in_channels", channels, self.groups)
            self.in_channels = channels
            _materialize(self, {"weight": (self.out_channels, channels // self.groups, *self.kernel_size),
                                "bias": (self.out_channels,)}, x.device, Conv2d)
        return self.forward(x)  # now the eager class's forward


class _LazyBatchNorm(_BatchNorm):
    """Batch norm whose ``num_features`` is inferred from the first input's dim 1."""

    cls_to_become: type = _BatchNorm

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True):
        Module.__init__(self)
        self.num_features = 0
        self._check_hyperparameters(eps, momentum)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _placeholders(self, ("weight", "bias"), affine)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, None)

    def forward(self, x):
        if not self.num_features:
            self._check_rank(x)
            self.num_features = x.shape[1]
            self._create_buffers()
            _materialize(self, {"weight": (self.num_features,), "bias": (self.num_features,)},
                         x.device, self.cls_to_become)
        return self.forward(x)  # now the eager class's forward


class LazyBatchNorm1d(_LazyBatchNorm):
    """``BatchNorm1d`` whose ``num_features`` is inferred from the first input. Arguments as
    BatchNorm1d, without ``num_features``."""

    _ranks = BatchNorm1d._ranks
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm):
    """``BatchNorm2d`` whose ``num_features`` is inferred from the first input. Arguments as
    BatchNorm2d, without ``num_features``."""

    _ranks = BatchNorm2d._ranks
    cls_to_become = BatchNorm2d
