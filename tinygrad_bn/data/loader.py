"""DataLoader: mini-batches of (images, labels) Tensors, sliced from arrays held in memory.

PyTorch's DataLoader builds each batch item by item through ``dataset[i]`` (and worker
processes to make that fast). MNIST-sized data fits in memory many times over, so this one
converts the whole set ONCE, at construction, into a float32 array (and moves it to the
GPU once, for ``device='cuda'``); a batch is then one gather with a slice of a random
permutation of that array, or one copied slice of it. No per-item Python.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, validate
from ..tensor import Tensor
from .datasets import as_arrays


class DataLoader:
    """Iterate over a data set in mini-batches of ``(images, labels)`` Tensors.

    At construction the images become one float32 array: uint8 pixels are scaled to [0, 1]
    (``x / 255``, like torchvision's ``ToTensor``), other dtypes are cast to float32 unchanged,
    and (N, H, W) images get a channel axis, (N, 1, H, W). Labels become int64. With
    ``device='cuda'`` both arrays are moved to the GPU once and every batch is cut there.

    Shuffling uses the loader's own ``np.random.Generator(seed)``: each pass over the loader
    draws a new permutation of the N indices, when the pass starts. Its state can be saved
    between epochs with `state_dict` and restored with `load_state_dict`, so a resumed run
    shuffles exactly as the uninterrupted one would.

    Args:
        dataset: an object with ``.images`` and ``.labels`` arrays (`MNIST`, `FashionMNIST`,
            or your own), or a pair ``(images, labels)`` of arrays.
        batch_size (int, optional): samples per batch (default: 1).
        shuffle (bool, optional): visit the samples in a new random order each epoch
            (default: False).
        drop_last (bool, optional): drop the last batch when it is smaller than `batch_size`
            (default: False).
        seed (int, optional): seed of the shuffling generator (default: None, drawn from the
            global CPU generator, so ``tg.manual_seed`` makes shuffling reproducible too).
        device (str, optional): ``'cpu'`` or ``'cuda'`` (default: ``'cpu'``).
        sampler (optional): an iterable of sample indices with a length, drawn anew each pass
            (a `DistributedSampler`: this process's shard); excludes ``shuffle`` (default: None).

    Shape:
        - images: (B, 1, H, W) float32 for (N, H, W) input images, (B, ...) otherwise.
        - labels: (B,) int64.

    Note:
        Every batch is a new array: changing a batch in place never changes the data that later
        epochs see. For a shuffled batch this costs nothing (a gather makes a new array
        anyway); an unshuffled batch is a copied slice, ``B x C x H x W x 4`` bytes (0.8 MB for
        256 Fashion-MNIST images), a memory copy far cheaper than the step that uses it.

    Example:
        >>> loader = DataLoader(FashionMNIST(), batch_size=128, shuffle=True, seed=0)
        >>> len(loader)
        469
        >>> images, labels = next(iter(loader))
        >>> images.shape, images.dtype, labels.dtype
        ((128, 1, 28, 28), dtype('float32'), dtype('int64'))
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, device: str = "cpu",
                 sampler=None):
        # a ValueError even for a float, as PyTorch raises
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size!r}")
        if seed is not None:
            seed = validate.integer(seed, "seed", "DataLoader", minimum=0)
        images, labels = as_arrays(dataset)
        images = images if backend.is_array(images) else np.asarray(images)
        labels = labels if backend.is_array(labels) else np.asarray(labels)
        if labels.ndim != 1 or images.ndim < 1 or len(images) != len(labels):
            raise ValueError(f"expected images (N, ...) and labels (N,), got shapes "
                             f"{tuple(images.shape)} and {tuple(labels.shape)}")
        if labels.dtype.kind not in "iu":
            raise TypeError(f"labels should be integers (class indices), got {labels.dtype}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        self.dataset, self.sampler = dataset, sampler
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.device = backend.check_device(device)
        self.images = _to_float32(backend.to_device(images, self.device))  # uint8 travels, 4x smaller
        self.labels = backend.to_device(labels, self.device).astype(np.int64)
        # checked once here, so that a loss need not read every batch's labels back from a GPU
        self.label_range = (int(labels.min()), int(labels.max())) if len(labels) else None
        if seed is None:
            seed = int(backend.rng("cpu").integers(2**63))
        self.seed = int(seed)
        self._generator = np.random.default_rng(self.seed)

    @property
    def num_samples(self) -> int:
        if self.sampler is not None:
            return len(self.sampler)
        return len(self.labels)

    def __len__(self) -> int:
        """The number of batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        b, stop = self.batch_size, len(self) * self.batch_size
        if self.shuffle or self.sampler is not None:
            # drawn on the CPU by our generator or the sampler (so the order does not depend on
            # the device), then moved once, so every batch is a gather on the device array
            if self.sampler is not None:
                indices = np.fromiter(self.sampler, dtype=np.int64, count=len(self.sampler))
            else:
                indices = self._generator.permutation(self.num_samples)
            order = backend.to_device(indices, self.device)
            for start in range(0, stop, b):
                index = order[start:start + b]
                yield Tensor._wrap(self.images[index]), self._labels(self.labels[index])
        else:
            for start in range(0, stop, b):  # copies: a batch never aliases the loader's arrays
                yield (Tensor._wrap(self.images[start:start + b].copy()),
                       self._labels(self.labels[start:start + b].copy()))

    def _labels(self, array) -> Tensor:
        """A batch of labels, carrying the range the loader checked (see cross_entropy)."""
        t = Tensor._wrap(array)
        t._known_range = (*self.label_range, t._version.version)  # valid until a write
        return t

    def state_dict(self) -> dict:
        """The shuffling generator's state, as plain Python values (JSON-serialisable).

        Save it between epochs; `load_state_dict` on a new loader then draws the same
        permutations as this one would from here on.
        """
        return {"seed": self.seed, "generator": self._generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore the state saved by `state_dict`."""
        if not isinstance(state, dict) or "generator" not in state:
            raise ValueError(f"expected a dict from DataLoader.state_dict() with key 'generator', "
                             f"got {type(state).__name__}"
                             + (f" with keys {sorted(state)}" if isinstance(state, dict) else ""))
        self._generator.bit_generator.state = state["generator"]
        self.seed = int(state.get("seed", self.seed))

    def __repr__(self) -> str:
        return (f"DataLoader(n={self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, device='{self.device}')")


def _to_float32(images):
    """(N, H, W) -> (N, 1, H, W); uint8 pixels -> float32 in [0, 1]; other dtypes -> float32."""
    if images.ndim == 3:
        images = images.reshape(images.shape[0], 1, *images.shape[1:])
    out = images.astype(np.float32)  # always a new array: the loader owns it
    if images.dtype == np.uint8:
        out /= 255  # in place: float32 / int stays float32, and no second full-size array
    return out
