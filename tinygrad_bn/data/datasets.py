"""MNIST and Fashion-MNIST: 28x28 grey images of 10 classes, 60,000 for training, 10,000 for test.

A data set here is just two arrays held in memory, ``images`` uint8 (N, 28, 28) and ``labels``
uint8 (N,), read from the official IDX files (see ``idx.py``). Turning them into float batches
is the `DataLoader`'s job.
"""
from __future__ import annotations

from . import fetch
from .idx import IMAGES_MAGIC, LABELS_MAGIC, DatasetError, read_idx


class MNIST:
    """The MNIST handwritten digits, read from the four official IDX ``.gz`` files.

    The files are looked for in `root`, ``$TINYGRAD_BN_DATA``, ``~/.cache/tinygrad_bn/mnist``
    and ``/usr/share/datasets/mnist`` (each folder, then its ``mnist/`` subfolder for the first
    two). Wherever they are found, they are verified against the official size and MD5 (once
    per process; see ``tinygrad_bn/data/fetch.py``), so a truncated file, shifted labels or the
    test set renamed as the training set are refused. With ``download=True``, files found
    nowhere are downloaded from the official URLs (only: ``python scripts/fetch_data.py NAME``
    can also use an OS package). Constructing a data set never runs other programs.

    Args:
        root (str or os.PathLike, optional): an existing folder to look in first, and to
            download into (default: None, download into ``~/.cache/tinygrad_bn/mnist``). A
            `root` that does not exist is an error, not a new folder.
        train (bool, optional): the 60,000 training images, else the 10,000 test images
            (default: True).
        download (bool, optional): download the files when they are found nowhere (default: True).
        verify (bool, optional): check the files against the official size and MD5 (default:
            True). False reads any valid IDX files of the right names, e.g. your own small ones.

    Attributes:
        images (np.ndarray): uint8, (N, 28, 28), values 0..255 (read-only).
        labels (np.ndarray): uint8, (N,), values 0..9 (read-only).
        classes (list of str): the class names, indexed by label.
        folder (pathlib.Path): where the files were read from.

    Raises:
        DatasetError (a ValueError): `root` missing, files missing with ``download=False`` (the
            message lists where it looked), a failed download, an unwritable cache folder, or a
            file that fails verification or is corrupt (the message names it).

    Example:
        >>> test = MNIST(train=False)
        >>> image, label = test[0]
        >>> image.shape, test.classes[label]
        ((28, 28), '7 - seven')
    """

    name = "mnist"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    image_size = (28, 28)

    def __init__(self, root=None, train: bool = True, download: bool = True, verify: bool = True):
        self.root, self.train, self.verify = root, bool(train), bool(verify)
        files = fetch.TRAIN_FILES if self.train else fetch.TEST_FILES
        folder = fetch.find(self.name, root, files)  # a missing root raises here
        if folder is None:
            if not download:
                places = "\n  ".join(str(d) for d in fetch.search_dirs(self.name, root))
                raise DatasetError(
                    f"{type(self).__name__}: {' and '.join(files)} not found. Looked in:\n  {places}\n"
                    f"Pass download=True, set ${fetch.ENV_VAR} to a folder that holds them, or run "
                    f"`{fetch.FETCH_COMMAND} {self.name}`.")
            try:
                folder = fetch.download(self.name, root, files)
            except DatasetError as e:
                if not str(e).startswith("could not download"):
                    raise  # the folder itself is the problem
                raise DatasetError(f"{e}\nWithout internet, `{fetch.FETCH_COMMAND} {self.name}` "
                                   "may find another way (e.g. an OS package).") from None
        if self.verify:
            for filename in files:
                try:
                    fetch.verify(folder / filename, self.name)
                except DatasetError as e:
                    raise DatasetError(f"{e}; pass verify=False to read IDX files that are not "
                                       "the official release") from None
        self.folder = folder
        self.images, self.labels = self._load(folder / files[0], folder / files[1])

    def _load(self, image_file, label_file):
        images = read_idx(image_file, magic=IMAGES_MAGIC)
        labels = read_idx(label_file, magic=LABELS_MAGIC)
        if images.shape[1:] != self.image_size:
            raise DatasetError(f"{image_file}: wrong dimensions: images are {images.shape[1]}x"
                               f"{images.shape[2]}, expected {self.image_size[0]}x{self.image_size[1]}")
        if len(images) != len(labels):
            raise DatasetError(f"{image_file} holds {len(images)} images but {label_file} holds "
                               f"{len(labels)} labels")
        if len(labels) and labels.max() >= len(self.classes):
            raise DatasetError(f"{label_file}: label {labels.max()} out of range: "
                               f"{type(self).__name__} has {len(self.classes)} classes")
        return images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        """``(image, label)``: a uint8 (28, 28) array and a uint8 scalar (or (B, 28, 28) and (B,)
        for a slice or an index array)."""
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split!r}, n={len(self)}, folder='{self.folder}')"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grey images of clothes, a drop-in replacement for MNIST.

    Same arguments, attributes and files as `MNIST`, looked for under the name
    ``fashion-mnist`` (so ``~/.cache/tinygrad_bn/fashion-mnist``, and
    ``/usr/share/datasets/fashion-mnist``, where Debian's ``dataset-fashion-mnist`` package puts
    them; ``python scripts/fetch_data.py fashion-mnist`` fetches that package without installing it).

    Example:
        >>> train = FashionMNIST()
        >>> len(train), train.images.dtype, train.classes[train.labels[0]]
        (60000, dtype('uint8'), 'Ankle boot')
    """

    name = "fashion-mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def as_arrays(dataset) -> tuple:
    """The ``(images, labels)`` arrays of a data set: an object with ``.images`` and ``.labels``,
    or a pair ``(images, labels)``."""
    if hasattr(dataset, "images") and hasattr(dataset, "labels"):
        return dataset.images, dataset.labels
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        return dataset[0], dataset[1]
    raise TypeError(f"expected a data set with .images and .labels, or a pair (images, labels), "
                    f"got {type(dataset).__name__}")


__all__ = ["MNIST", "FashionMNIST", "DatasetError", "as_arrays"]
