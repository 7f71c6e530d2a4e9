"""The layers, one kind per file, all built on `Module` (module.py)."""
from .activation import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyConv2d, LazyLinear
from .linear import Identity, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module
from .normalization import LayerNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .syncbatchnorm import SyncBatchNorm

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "LazyLinear",
           "Conv2d", "LazyConv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LayerNorm", "ReLU", "LeakyReLU",
           "GELU", "Sigmoid", "Tanh", "Softmax", "Flatten", "Dropout", "CrossEntropyLoss",
           "NLLLoss", "MSELoss", "SyncBatchNorm"]
