"""Neural-network building blocks.

``functional`` (imported as ``F``) holds stateless functions of tensors; ``modules`` wraps them
in classes that own their parameters and state (``Linear`` owns a weight, ``BatchNorm2d`` its
running statistics); ``init`` fills parameters; ``reference`` holds the composed, unfused batch
norm and layer norm that the fused ops are checked against.
"""
from . import functional, init, reference
from .modules import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, CrossEntropyLoss, Dropout,
                      Flatten, Identity, LayerNorm, Linear, MaxPool2d, Module, MSELoss, ReLU,
                      Sequential, Sigmoid, Tanh)
from .parameter import Parameter

__all__ = ["functional", "init", "reference", "Parameter", "Module", "Sequential", "Identity",
           "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
           "ReLU", "Sigmoid", "Tanh", "Flatten", "Dropout", "CrossEntropyLoss", "MSELoss"]

from . import parallel  # noqa: E402  (DistributedDataParallel)
from .modules import SyncBatchNorm  # noqa: E402

__all__ += ["parallel", "SyncBatchNorm"]
