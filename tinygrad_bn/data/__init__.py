"""Data: MNIST / Fashion-MNIST read from their IDX files, and a DataLoader of Tensor batches.

    from tinygrad_bn.data import FashionMNIST, DataLoader
    train = DataLoader(FashionMNIST(train=True), batch_size=128, shuffle=True, seed=0)
    for images, labels in train:   # (128, 1, 28, 28) float32 in [0, 1], (128,) int64
        ...

Where the files come from, and how they are fetched on a machine without internet, is in
``fetch.py`` (``python -m tinygrad_bn.data.fetch fashion-mnist``). `fetch` is not imported
here so that running it with ``-m`` does not import it twice.
"""
from .datasets import MNIST, FashionMNIST
from .idx import DatasetError, read_idx
from .loader import DataLoader
from .sampler import DistributedSampler

__all__ = ["MNIST", "FashionMNIST", "DataLoader", "DatasetError", "read_idx",
           "DistributedSampler"]
