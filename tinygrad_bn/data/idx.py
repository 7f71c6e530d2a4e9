"""The IDX file format of MNIST and Fashion-MNIST, read with NumPy.

An IDX file is a tiny header followed by the raw array, row-major::

    bytes 0-1   0x00 0x00           always zero
    byte  2     type code           0x08 = uint8 (the only one MNIST uses), see _DTYPES
    byte  3     number of dims      1 for labels, 3 for images
    then        one big-endian uint32 per dimension: N, then rows, cols for images
    then        prod(dims) values, big-endian

So the four header bytes read as one big-endian int give the "magic number": 0x00000801 for a
label file (uint8, 1 dim) and 0x00000803 for an image file (uint8, 3 dims). The official files
are gzipped; `read_idx` sniffs the gzip signature, so plain files work too.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

LABELS_MAGIC = 0x00000801  # uint8, 1 dimension:  (N,)
IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions: (N, rows, cols)

# type code -> dtype of the values in the file (multi-byte types are big-endian)
_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_SIGNATURE = b"\x1f\x8b"


class DatasetError(ValueError):
    """A data file is missing, corrupt or not what it claims to be. The message names the file."""


def parse_idx(data: bytes, source: str = "<bytes>", magic: int | None = None) -> np.ndarray:
    """Turn the bytes of an (uncompressed) IDX file into an array, without copying the data.

    Args:
        data (bytes): the whole file.
        source (str, optional): the file's name, used in error messages.
        magic (int, optional): the magic number the header must have, e.g. ``IMAGES_MAGIC``
            (default: any valid IDX header).

    Returns:
        A read-only array of the header's shape (a view of `data`; multi-byte types are
        converted to native byte order, which copies).

    Raises:
        DatasetError: bad magic number, a header cut short, or a data size that does not match
            the dimensions (truncated or trailing bytes).
    """
    if len(data) < 4:
        raise DatasetError(f"{source}: not an IDX file: only {len(data)} bytes, too short for a header")
    (found,) = struct.unpack(">I", data[:4])
    type_code, ndim = data[2], data[3]
    if magic is not None and found != magic:
        raise DatasetError(f"{source}: wrong magic number 0x{found:08X}, expected 0x{magic:08X} "
                           f"({_describe_magic(magic)})")
    if data[:2] != b"\x00\x00" or type_code not in _DTYPES or ndim == 0:
        raise DatasetError(f"{source}: wrong magic number 0x{found:08X}: not an IDX file")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(f"{source}: header cut short: {ndim} dimensions need {header_size} bytes, "
                           f"the file has {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = _DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header_size
    if got != expected:
        problem = "truncated" if got < expected else "has trailing bytes"
        raise DatasetError(f"{source}: data {problem}: dimensions {shape} need {expected} bytes "
                           f"of {dtype.name}, found {got}")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def read_idx(path, magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzipped (``.gz``, as distributed) or not.

    Args:
        path (str or os.PathLike): the file.
        magic (int, optional): the magic number the header must have: ``IMAGES_MAGIC``
            (0x00000803) or ``LABELS_MAGIC`` (0x00000801) (default: any valid IDX header).

    Returns:
        The array, e.g. uint8 of shape (N, 28, 28) for an MNIST image file (read-only).

    Raises:
        DatasetError: the file cannot be read, the gzip stream is corrupt or truncated, or
            the IDX content is invalid (see `parse_idx`). The message starts with the path.

    Example:
        >>> images = read_idx("t10k-images-idx3-ubyte.gz", magic=IMAGES_MAGIC)
        >>> images.shape, images.dtype
        ((10000, 28, 28), dtype('uint8'))
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError(f"{source}: cannot read: {e.strerror or e}") from e
    if data[:2] == _GZIP_SIGNATURE:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:  # EOFError: the stream ends early
            raise DatasetError(f"{source}: corrupt or truncated gzip file ({e})") from e
    return parse_idx(data, source, magic)


def _describe_magic(magic: int) -> str:
    kind = {LABELS_MAGIC: "a label file", IMAGES_MAGIC: "an image file"}.get(magic, "IDX")
    dtype = _DTYPES.get((magic >> 8) & 0xFF)
    return f"{kind}: {dtype.name if dtype is not None else '?'} values, {magic & 0xFF} dimensions"
