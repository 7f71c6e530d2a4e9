"""The layers, one kind per file, all built on `Module` (module.py)."""
from .activation import ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module
from .normalization import LayerNorm
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["Module", "Sequential", "Identity", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d",
           "BatchNorm1d", "BatchNorm2d", "LayerNorm", "ReLU", "Sigmoid", "Tanh", "Flatten",
           "Dropout", "CrossEntropyLoss", "MSELoss"]

from .syncbatchnorm import SyncBatchNorm  # noqa: E402  (data-parallel batch norm)

__all__ += ["SyncBatchNorm"]
