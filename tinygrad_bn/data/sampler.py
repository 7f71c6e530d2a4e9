"""DistributedSampler: which samples each process of a data-parallel job sees, PyTorch's
``torch.utils.data.DistributedSampler``.

Every epoch, every process draws THE SAME permutation of the N indices (seeded by
``seed + epoch``, so no communication is needed), pads it by repeating its head until its
length divides by the number of processes K (or, with ``drop_last``, cuts its tail), and keeps
every K-th index starting at its rank: process r gets ``perm[r::K]``. The K shards are disjoint
(up to the padding), cover the data set, and have equal length, so each step every process
holds the same number of samples. Call ``set_epoch(epoch)`` before each epoch, or every epoch
repeats the first one's order.
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate
from .datasets import as_arrays


class DistributedSampler:
    """The indices of this process's shard of a data set, a new shuffle each epoch.

    Pass it to ``DataLoader(dataset, batch_size, sampler=sampler)``; the loader's batch size is
    then the LOCAL batch (the global batch is K times larger).

    Args:
        dataset: a data set (``.images`` / ``.labels``, or a pair of arrays) or anything with a
            length.
        num_replicas (int, optional): K, the number of processes (default: the world size of
            ``tinygrad_bn.distributed``).
        rank (int, optional): this process's rank (default: ``distributed.get_rank()``).
        shuffle (bool, optional): a new permutation each epoch (default: True).
        seed (int, optional): the permutation of epoch e is seeded with seed + e; the same on
            every process (default: 0).
        drop_last (bool, optional): cut the tail so that every shard has ⌊N/K⌋ indices instead
            of padding to ⌈N/K⌉ (default: False).

    Example:
        >>> sampler = DistributedSampler(train_set, shuffle=True, seed=0)
        >>> loader = DataLoader(train_set, batch_size=128, sampler=sampler)
        >>> for epoch in range(epochs):
        ...     sampler.set_epoch(epoch)
        ...     for images, labels in loader: ...
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from .. import distributed  # lazily: plain (non-distributed) use needs no MPI
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        num_replicas = validate.positive_int(num_replicas, "num_replicas", "DistributedSampler")
        rank = validate.integer(rank, "rank", "DistributedSampler", minimum=0)
        seed = validate.integer(seed, "seed", "DistributedSampler", minimum=0)
        if rank >= num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset_size = _length(dataset)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n, k = self.dataset_size, self.num_replicas
        # PyTorch's sizes: cut to a multiple of K with drop_last, else pad up to one
        self.num_samples = math.ceil((n - k) / k) if drop_last and n % k else math.ceil(n / k)
        self.total_size = self.num_samples * k

    def indices(self) -> np.ndarray:
        """This process's indices for the current epoch, as an int64 array."""
        n = self.dataset_size
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:  # pad by repeating the permutation from its start
            order = np.resize(order, self.total_size)  # np.resize repeats the array cyclically
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch `epoch`'s permutation (the same on every process)."""
        self.epoch = int(epoch)

    def __repr__(self) -> str:
        return (f"DistributedSampler(n={self.dataset_size}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch})")


def _length(dataset) -> int:
    try:
        return len(as_arrays(dataset)[1])
    except TypeError:
        return len(dataset)
