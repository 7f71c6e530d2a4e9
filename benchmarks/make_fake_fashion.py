"""Write four IDX files shaped like Fashion-MNIST's (random pixels and labels) into a folder and
print the folder: data for a timed epoch where the real files cannot be fetched (the GPU check).

    python benchmarks/make_fake_fashion.py FOLDER [QUICK]      (QUICK=1: 512 + 256 images)
"""
import gzip
import os
import struct
import sys

import numpy as np


def write_idx(path, array):
    magic = 0x0803 if array.ndim == 3 else 0x0801
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with open(path, "wb") as f:
        f.write(gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=1, mtime=0))


def main(folder, quick=False):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 512 if quick else 60000), ("t10k", 256 if quick else 10000)):
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), rng.integers(0, 256, (n, 28, 28)))
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), rng.integers(0, 10, n))
    print(folder)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "1")
