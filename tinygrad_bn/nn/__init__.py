"""Neural-network building blocks.

``functional`` (imported as ``F``) holds stateless functions of tensors; ``modules`` wraps them
in classes that own their parameters and state (``Linear`` owns a weight, ``BatchNorm2d`` its
running statistics); ``init`` fills parameters; ``reference`` holds the composed, unfused batch
norm and layer norm that the fused ops are checked against; ``summary`` prints a model's layers.
"""
from . import functional, init, reference
from .modules import *  # noqa: F401,F403  (the layers; their list is modules.__all__)
from .modules import __all__ as _modules
from .parameter import Parameter
from .summary import summary

from . import parallel  # noqa: E402  (DistributedDataParallel; it builds on the modules)

__all__ = ["functional", "init", "reference", "parallel", "Parameter", "summary", *_modules]
