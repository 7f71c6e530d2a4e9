"""Find the MNIST / Fashion-MNIST files on this machine, verify them, or download them.

Where the files are looked for, first match wins (a folder matches when it holds every file
asked for, named as in the official release, e.g. ``train-images-idx3-ubyte.gz``):

1. ``root``, the argument given to the dataset, then ``root/<name>``. A `root` that does not
   exist is an error (a typo must not become a new folder and a download);
2. ``$TINYGRAD_BN_DATA``, then ``$TINYGRAD_BN_DATA/<name>``;
3. ``~/.cache/tinygrad_bn/<name>``, where downloads go by default;
4. ``/usr/share/datasets/<name>``, where Debian's ``dataset-fashion-mnist`` package installs
   the four Fashion-MNIST files (there is no such package for MNIST).

``<name>`` is ``'fashion-mnist'`` or ``'mnist'``.

Every file is verified (`verify`), whichever folder it came from: first its size (the
uncompressed size that a ``.gz`` file records in its last four bytes, so a truncated file or
the test set renamed as the training set fails at once), then its MD5. Debian recompressed the
files (same images, new gzip header), so a file passes when either the MD5 of the ``.gz`` file
is the official one or the MD5 of its decompressed content is the official MD5 of the IDX file
(both published). A file that passed is remembered by path, size and modification time, so it
is checked once per process.

`download` fetches missing files from the official URLs only, with a short timeout: each file
is written under a temporary name in the destination folder and renamed into place only after
it passed `verify`; an error or Ctrl-C removes the partial file. The library never runs other
programs and never changes the system: the fallback through Debian's package, which needs
``apt-get``, is the script ``scripts/fetch_data.py`` (what ``make data`` runs).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from .idx import DatasetError

TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
ENV_VAR = "TINYGRAD_BN_DATA"
SYSTEM_DIR = Path("/usr/share/datasets")
URL_TIMEOUT = 10.0      # seconds without an answer before a download gives up
FETCH_COMMAND = "python scripts/fetch_data.py"  # the script with the Debian-package fallback
_CHUNK = 1 << 16

# The uncompressed sizes: a 16-byte header + 60,000 or 10,000 images of 28x28 bytes, or an
# 8-byte header + one byte per label. The same for MNIST and Fashion-MNIST.
_SIZES = {"train-images-idx3-ubyte.gz": 16 + 60000 * 784, "train-labels-idx1-ubyte.gz": 8 + 60000,
          "t10k-images-idx3-ubyte.gz": 16 + 10000 * 784, "t10k-labels-idx1-ubyte.gz": 8 + 10000}


@dataclass(frozen=True)
class Source:
    """Where a data set comes from and how to check it.

    Args:
        mirrors: base URLs, tried in order; a file's URL is the base + its name.
        md5: file name -> (MD5 of the official ``.gz`` file, MD5 of its decompressed content).
        sizes: file name -> size of its decompressed content in bytes.
        debian_package: a Debian package that ships the same files, or None (used by the script).
        debian_dir: where that package installs them.
    """
    mirrors: tuple
    md5: dict
    sizes: dict
    debian_package: str | None = None
    debian_dir: str | None = None


# The checksums of the official releases, as published with them (and as torchvision lists them).
SOURCES = {
    "fashion-mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                           "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",
                                           "9018921c3c673c538a1fc5bad174d6f9"),
            "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",
                                          "8181f5470baa50b63fa0f6fddb340f0a"),
            "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",
                                          "15d484375f8d13e6eb1aabb0c3f46965"),
        },
        sizes=_SIZES,
        debian_package="dataset-fashion-mnist",
        debian_dir="usr/share/datasets/fashion-mnist",
    ),
    "mnist": Source(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
        md5={
            "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                           "6bbc9ace898e44ae57da46a324031adb"),
            "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432",
                                           "a25bea736e30d166cdddb491f175f624"),
            "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3",
                                          "2646ac647ad5339dbf082846283269ea"),
            "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c",
                                          "27ae3e4e09519cfbb04c329615203637"),
        },
        sizes=_SIZES,
    ),
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(SOURCES)}")
    return SOURCES[name]


def _check_files(name: str, files) -> tuple:
    source = _source(name)
    files = tuple(files) if files is not None else tuple(source.md5)
    unknown = [f for f in files if f not in source.md5]
    if unknown:
        raise ValueError(f"unknown files {unknown} for {name}; expected some of {list(source.md5)}")
    return files


# ---------------------------------------------------------------- finding files
def cache_dir(name: str) -> Path:
    """``~/.cache/tinygrad_bn/<name>``: where downloaded files are kept."""
    return Path.home() / ".cache" / "tinygrad_bn" / name


def check_root(root) -> Path:
    """`root` as a Path, or a DatasetError when it is not an existing folder."""
    path = Path(root).expanduser()
    if not path.is_dir():
        problem = "is not a folder" if path.exists() else "does not exist"
        raise DatasetError(f"data folder {path} {problem}")
    return path


def search_dirs(name: str, root=None) -> list[Path]:
    """The folders searched for data set `name`, in order (see the module docstring)."""
    _source(name)
    dirs = []
    for base in (root, os.environ.get(ENV_VAR) or None):
        if base is not None:
            base = Path(base).expanduser()
            dirs += [base, base / name]
    dirs += [cache_dir(name), SYSTEM_DIR / name]
    return dirs


def find(name: str, root=None, files=None) -> Path | None:
    """The first folder of `search_dirs` that holds all of `files` (default: all four), or None.

    Raises:
        DatasetError: `root` is given but is not an existing folder.
    """
    files = _check_files(name, files)
    if root is not None:
        check_root(root)
    for folder in search_dirs(name, root):
        if all((folder / f).is_file() for f in files):
            return folder
    return None


# ---------------------------------------------------------------- verifying files
_verified: dict = {}  # (name, filename, real path, size, mtime in ns) -> 'gz' or 'content'


def _md5(chunks) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _read_chunks(f):
    return iter(lambda: f.read(_CHUNK), b"")


def verify(path, name: str, filename: str | None = None, label: str | None = None) -> str:
    """Check a file against the official size and checksums of data set `name`.

    It passes when its MD5 is the official ``.gz`` one, or when its decompressed content has
    the official size and MD5 (a recompressed copy, as Debian ships). A file that passed is not
    read again while its path, size and modification time stay the same.

    Args:
        path (str or os.PathLike): the file to check.
        name (str): ``'fashion-mnist'`` or ``'mnist'``.
        filename (str, optional): which official file it should be (default: its own name).
        label (str, optional): how to name the file in errors, e.g. its URL (default: its path).

    Returns:
        ``'gz'`` when the ``.gz`` file itself matched, ``'content'`` when its decompressed content did.

    Raises:
        DatasetError: naming the file and what differs (its size, or both checksums).
    """
    path = Path(path)
    filename = filename or path.name
    label = label or str(path)
    source = _source(name)
    if filename not in source.md5:
        raise ValueError(f"unknown file {filename!r} for {name}; expected one of {list(source.md5)}")
    md5_gz, md5_raw = source.md5[filename]
    try:
        key = _cache_key(path, name, filename)
    except OSError as e:
        raise DatasetError(f"{label}: cannot read: {e.strerror or e}") from e
    if key in _verified:
        return _verified[key]

    with open(path, "rb") as f:
        got_gz = _md5(_read_chunks(f))
    if got_gz == md5_gz:
        _verified[key] = "gz"
        return "gz"
    expected_size = source.sizes[filename]
    size = _uncompressed_size(path)
    if size is not None and size != expected_size % 2**32:  # gzip records the size modulo 2**32
        raise DatasetError(f"{label}: wrong size for {name} {filename}: it decompresses to {size} "
                           f"bytes, expected {expected_size}: a truncated copy, or another file")
    try:
        with gzip.open(path, "rb") as f:
            got_raw = _md5(_read_chunks(f))
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetError(f"{label}: checksum mismatch for {name} {filename}: MD5 {got_gz}, "
                           f"expected {md5_gz}, and it does not decompress ({e})") from e
    if got_raw != md5_raw:
        raise DatasetError(f"{label}: checksum mismatch for {name} {filename}: MD5 {got_gz}, "
                           f"expected {md5_gz} (decompressed: {got_raw}, expected {md5_raw})")
    _verified[key] = "content"
    return "content"


def _cache_key(path: Path, name: str, filename: str) -> tuple:
    stat = path.stat()
    return (name, filename, os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


def _uncompressed_size(path: Path) -> int | None:
    """The size a gzip file records in its last four bytes (modulo 2**32), None if not gzip."""
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return None
        f.seek(0, os.SEEK_END)
        if f.tell() < 18:  # shorter than a gzip header and trailer
            return None
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def install(tmp, dest, name: str, filename: str, origin: str) -> str:
    """Verify `tmp` (fetched from `origin`) and rename it to ``dest/filename``; on failure, or
    Ctrl-C, delete it. `tmp` must be on the same file system as `dest` (the rename is atomic).
    Returns what `verify` returned."""
    tmp, target = Path(tmp), Path(dest) / filename
    try:
        matched = verify(tmp, name, filename, label=origin)
        os.replace(tmp, target)  # atomic: the file appears whole or not at all
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _verified[_cache_key(target, name, filename)] = matched  # a rename keeps size and mtime
    return matched


# ---------------------------------------------------------------- downloading
def prepare_folder(dest, create: bool) -> Path:
    """`dest` as an existing, writable folder: created (with its parents) when `create`, else it
    must exist. Raises DatasetError naming the folder otherwise."""
    dest = Path(dest).expanduser()
    if create:
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DatasetError(f"cannot create the data folder {dest}: {e.strerror or e}") from e
    else:
        check_root(dest)
    if not os.access(dest, os.W_OK | os.X_OK):
        raise DatasetError(f"cannot write into the data folder {dest}: permission denied")
    return dest


def _download_url(url: str, target, timeout: float = URL_TIMEOUT, progress=None) -> None:
    """Stream `url` into the open binary file `target`; ``progress(done, total)`` after each chunk."""
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_bn"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total, done = (int(length) if length else None), 0
        for chunk in _read_chunks(response):
            target.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)


def _fetch_one(name: str, dest: Path, filename: str, progress=None) -> list:
    """Try each mirror for one file; returns the list of errors (empty when the file arrived)."""
    errors = []
    for mirror in _source(name).mirrors:
        url = mirror + filename
        _log(f"downloading {url}")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest)
        except OSError as e:
            raise DatasetError(f"cannot write into the data folder {dest}: {e.strerror or e}") from e
        tmp = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as target:
                _download_url(url, target, progress=(lambda d, t: progress(filename, d, t))
                              if progress else None)
        except Exception as e:  # URLError, timeouts, connection resets, HTTP errors: next mirror
            tmp.unlink(missing_ok=True)
            errors.append(f"{url}: {e}")
            continue
        except BaseException:  # Ctrl-C: no partial file left behind, and stop
            tmp.unlink(missing_ok=True)
            raise
        try:
            install(tmp, dest, name, filename, url)
        except DatasetError as e:  # a bad copy on this mirror: try the next one
            errors.append(str(e))
            continue
        return []
    return errors


def download(name: str, dest=None, files=None, progress=None) -> Path:
    """Download the files of data set `name` that `dest` lacks from the official URLs, verify
    them, and return `dest`.

    Files already in `dest` are left as they are; a fetched file is kept only after it passed
    `verify`. Nothing else is tried: on a machine without internet, ``scripts/fetch_data.py``
    can also get Fashion-MNIST from Debian's package.

    Args:
        name (str): ``'fashion-mnist'`` or ``'mnist'``.
        dest (str or os.PathLike, optional): an existing folder to fill (default:
            ``cache_dir(name)``, created when missing).
        files (sequence of str, optional): which files (default: all four).
        progress (callable, optional): called as ``progress(filename, bytes_done, total_or_None)``
            while downloading.

    Returns:
        The folder holding the files.

    Raises:
        DatasetError: `dest` is missing or not writable, or some file could not be fetched; the
            message says what each mirror answered.
    """
    files = _check_files(name, files)
    dest = prepare_folder(cache_dir(name) if dest is None else dest, create=dest is None)
    failures = []
    for filename in files:
        if not (dest / filename).is_file():
            errors = _fetch_one(name, dest, filename, progress)
            if errors:
                failures.append(f"{filename}: " + "; ".join(errors))
    if failures:
        raise DatasetError(f"could not download {name} into {dest}:\n  " + "\n  ".join(failures))
    return dest


__all__ = ["TRAIN_FILES", "TEST_FILES", "ENV_VAR", "SOURCES", "Source", "cache_dir", "check_root",
           "search_dirs", "find", "verify", "install", "prepare_folder", "download"]
