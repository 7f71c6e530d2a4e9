"""Data-parallel wrappers (PyTorch's ``torch.nn.parallel``): `DistributedDataParallel`, one
model replica per process of ``tinygrad_bn.distributed``."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
