"""Data: MNIST / Fashion-MNIST read from their IDX files, and a DataLoader of Tensor batches.

    from tinygrad_bn.data import FashionMNIST, DataLoader
    train = DataLoader(FashionMNIST(train=True), batch_size=128, shuffle=True, seed=0)
    for images, labels in train:   # (128, 1, 28, 28) float32 in [0, 1], (128,) int64
        ...

Where the files are looked for, and how they are verified and downloaded, is in ``fetch.py``.
On a machine without internet, ``python scripts/fetch_data.py fashion-mnist`` (``make data``)
also gets them from Debian's package; the library itself never runs other programs.
"""
from .datasets import MNIST, FashionMNIST
from .idx import DatasetError, read_idx
from .loader import DataLoader
from .sampler import DistributedSampler

__all__ = ["MNIST", "FashionMNIST", "DataLoader", "DatasetError", "read_idx",
           "DistributedSampler"]
