"""Find the MNIST / Fashion-MNIST files on this machine, or fetch them and check them.

Where the files are looked for, first match wins (a folder matches when it holds every file
asked for, named as in the official release, e.g. ``train-images-idx3-ubyte.gz``):

1. ``root``, the argument given to the dataset (or ``--root``), then ``root/<name>``;
2. ``$TINYGRAD_BN_DATA``, then ``$TINYGRAD_BN_DATA/<name>``;
3. ``~/.cache/tinygrad_bn/<name>``, where downloads go by default;
4. ``/usr/share/datasets/<name>``, where Debian's ``dataset-fashion-mnist`` package installs
   the four Fashion-MNIST files (there is no such package for MNIST).

``<name>`` is ``'fashion-mnist'`` or ``'mnist'``.

How missing files are fetched (`download`), in this order:

1. the official URLs, with a short timeout. A machine without internet fails here at once
   (the name does not resolve), so trying them first costs nothing offline, and online it gets
   the files from their source;
2. for Fashion-MNIST, Debian's package: ``apt-get download dataset-fashion-mnist`` (no install,
   no root needed; as root, an ``apt-get update`` is run once if the package lists are empty),
   then ``dpkg-deb -x`` to unpack it. This works on machines that reach only a package mirror.

Every file is checked against the official MD5 before it is kept. It is written under a
temporary name in the destination folder and renamed into place only after the check passes,
so a failed or interrupted fetch never leaves a half-written file where it would be found.

Debian recompressed the files (same images, new gzip header: no stored file name, another
timestamp), so the MD5 of their ``.gz`` files differs from the official one. A file therefore
passes when either the MD5 of the ``.gz`` file matches the official one, or the MD5 of its
decompressed content matches the official MD5 of the uncompressed IDX file (both published).

Command line (used by ``make train``): prints progress on stderr and the folder on stdout::

    python -m tinygrad_bn.data.fetch fashion-mnist [--root DIR]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
APT_TIMEOUT = 300.0     # seconds for a whole apt-get / dpkg-deb command (a backstop)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Source:
    """Where a data set comes from and how to check it.

    Args:
        mirrors: base URLs, tried in order; a file's URL is the base + its name.
        md5: file name -> (MD5 of the official ``.gz`` file, MD5 of its decompressed content).
        debian_package: a Debian package that ships the same files, or None.
        debian_dir: where that package installs them.
    """
    mirrors: tuple
    md5: dict
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
    ),
}


class FetchError(Exception):
    """One way of getting the files failed; `download` then tries the next one."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(SOURCES)}")
    return SOURCES[name]


# ---------------------------------------------------------------- finding files
def cache_dir(name: str) -> Path:
    """``~/.cache/tinygrad_bn/<name>``: where downloaded files are kept."""
    return Path.home() / ".cache" / "tinygrad_bn" / name


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
    """The first folder of `search_dirs` that holds all of `files` (default: all four), or None."""
    files = tuple(files) if files is not None else tuple(_source(name).md5)
    for folder in search_dirs(name, root):
        if all((folder / f).is_file() for f in files):
            return folder
    return None


# ---------------------------------------------------------------- checking files
def _md5(chunks) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _read_chunks(f):
    return iter(lambda: f.read(_CHUNK), b"")


def verify(path, name: str, filename: str | None = None, label: str | None = None) -> str:
    """Check a file against the official checksums of data set `name`.

    It passes when its MD5 is the official ``.gz`` one, or when the MD5 of its decompressed
    content is the official one of the uncompressed IDX file (a recompressed copy, as Debian ships).

    Args:
        path (str or os.PathLike): the file to check.
        name (str): ``'fashion-mnist'`` or ``'mnist'``.
        filename (str, optional): which official file it should be (default: its own name).
        label (str, optional): how to name the file in errors, e.g. its URL (default: its path).

    Returns:
        ``'gz'`` when the ``.gz`` file itself matched, ``'content'`` when its decompressed content did.

    Raises:
        DatasetError: naming the file and both checksums, when it matches neither.
    """
    path = Path(path)
    filename = filename or path.name
    label = label or str(path)
    md5_gz, md5_raw = _source(name).md5[filename]
    with open(path, "rb") as f:
        got_gz = _md5(_read_chunks(f))
    if got_gz == md5_gz:
        return "gz"
    try:
        with gzip.open(path, "rb") as f:
            got_raw = _md5(_read_chunks(f))
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetError(f"{label}: checksum mismatch for {name} {filename}: MD5 {got_gz}, "
                           f"expected {md5_gz}, and it does not decompress ({e})") from e
    if got_raw != md5_raw:
        raise DatasetError(f"{label}: checksum mismatch for {name} {filename}: MD5 {got_gz}, "
                           f"expected {md5_gz} (decompressed: {got_raw}, expected {md5_raw})")
    return "content"


def _install(tmp: Path, dest: Path, name: str, filename: str, origin: str) -> None:
    """Verify `tmp` (fetched from `origin`) and rename it to ``dest/filename``; on failure, delete it."""
    try:
        matched = verify(tmp, name, filename, label=origin)
        os.replace(tmp, dest / filename)  # atomic: the file appears whole or not at all
        _log(f"  {filename}: MD5 OK" + (" (of the decompressed content: a recompressed copy)"
                                        if matched == "content" else ""))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- route 1: the official URLs
class _Progress:
    """A progress bar: tqdm when it is installed, else a percentage printed on stderr."""

    def __init__(self, label: str, total: int | None):
        self.label, self.total, self.done, self.shown = label, total, 0, -1
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=label, unit="B", unit_scale=True, file=sys.stderr)
        except ImportError:
            self.bar = None

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        if self.total:
            step = 100 * self.done // self.total // 10 * 10  # every 10 %
            if step > self.shown:
                self.shown = step
                print(f"\r  {self.label}: {step:3d}% of {self.total / 1e6:.1f} MB",
                      end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            print(f"\r  {self.label}: {self.done / 1e6:.1f} MB done", file=sys.stderr, flush=True)


def _download_url(url: str, target, timeout: float = URL_TIMEOUT) -> None:
    """Stream `url` into the open binary file `target`, with a progress bar."""
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_bn"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        progress = _Progress(url.rsplit("/", 1)[-1], int(length) if length else None)
        try:
            for chunk in _read_chunks(response):
                target.write(chunk)
                progress.update(len(chunk))
        finally:
            progress.close()


def _from_urls(name: str, dest: Path, files) -> None:
    source = _source(name)
    for filename in files:
        errors = []
        for mirror in source.mirrors:
            url = mirror + filename
            _log(f"downloading {url}")
            fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest)
            tmp = Path(tmp)
            try:
                with os.fdopen(fd, "wb") as target:
                    _download_url(url, target)
            except Exception as e:  # URLError, timeouts, connection resets, HTTP errors
                tmp.unlink(missing_ok=True)
                errors.append(f"{url}: {e}")
                continue
            try:
                _install(tmp, dest, name, filename, url)
            except DatasetError as e:  # a bad copy on this mirror: try the next one
                errors.append(str(e))
                continue
            break
        else:
            raise FetchError("; ".join(errors))


# ---------------------------------------------------------------- route 2: Debian's package
def _run(cmd, cwd=None) -> subprocess.CompletedProcess:
    """Run a command, capturing its output (a seam for the tests)."""
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=APT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FetchError(f"{' '.join(cmd)} took more than {APT_TIMEOUT:.0f} s, stopped") from None
    except OSError as e:
        raise FetchError(f"cannot run {cmd[0]}: {e}") from e


def _apt_download(package: str, work: Path) -> Path:
    """``apt-get download package`` into `work`; returns the .deb file."""
    # short network timeouts so an offline machine fails fast instead of retrying for minutes
    cmd = ["apt-get", "download", "-o", "Acquire::http::Timeout=10", "-o", "Acquire::Retries=0",
           package]
    _log(f"running: {' '.join(cmd)}")
    result = _run(cmd, cwd=work)
    lists_empty = any(m in result.stderr for m in ("Unable to locate package", "no installation candidate"))
    if result.returncode != 0 and lists_empty and hasattr(os, "geteuid") and os.geteuid() == 0:
        _log("the package lists do not know it: running apt-get update once, then retrying")
        update = _run(["apt-get", "update", "-o", "Acquire::http::Timeout=10"])
        if update.returncode != 0:
            raise FetchError(f"apt-get update failed: {update.stderr.strip()[-500:]}")
        result = _run(cmd, cwd=work)
    if result.returncode != 0:
        hint = " (the package lists look empty: run `sudo apt-get update`)" if lists_empty else ""
        raise FetchError(f"apt-get download {package} failed{hint}: {result.stderr.strip()[-500:]}")
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise FetchError(f"apt-get download {package} reported success but wrote no .deb in {work}")
    return debs[-1]


def _from_debian(name: str, dest: Path, files) -> None:
    source = _source(name)
    if source.debian_package is None:
        raise FetchError(f"no Debian package ships {name}")
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise FetchError("apt-get or dpkg-deb not found (not a Debian-based system)")
    # the work folder sits inside `dest`, on the same file system, so the final rename is atomic
    work = Path(tempfile.mkdtemp(prefix=".debian-", dir=dest))
    try:
        deb = _apt_download(source.debian_package, work)
        _log(f"unpacking {deb.name}")
        result = _run(["dpkg-deb", "-x", str(deb), str(work / "root")])
        if result.returncode != 0:
            raise FetchError(f"dpkg-deb -x {deb.name} failed: {result.stderr.strip()[-500:]}")
        for filename in files:
            unpacked = work / "root" / source.debian_dir / filename
            if not unpacked.is_file():
                raise FetchError(f"{deb.name} has no {source.debian_dir}/{filename}")
            _install(unpacked, dest, name, filename, f"{deb.name}:{source.debian_dir}/{filename}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- putting it together
def download(name: str, dest=None, files=None) -> Path:
    """Fetch the files of data set `name` that `dest` lacks, verify them, and return `dest`.

    Tries the official URLs first, then (Fashion-MNIST only) Debian's package; see the module
    docstring. Files already in `dest` are left as they are; a fetched file is kept only
    after it passed the checksum.

    Args:
        name (str): ``'fashion-mnist'`` or ``'mnist'``.
        dest (str or os.PathLike, optional): the folder to fill (default: ``cache_dir(name)``).
        files (sequence of str, optional): which files (default: all four).

    Returns:
        The folder holding the files.

    Raises:
        DatasetError: when no route delivered every file; the message says what each tried.
    """
    source = _source(name)
    dest = Path(dest).expanduser() if dest is not None else cache_dir(name)
    dest.mkdir(parents=True, exist_ok=True)
    files = tuple(files) if files is not None else tuple(source.md5)
    unknown = [f for f in files if f not in source.md5]
    if unknown:
        raise ValueError(f"unknown files {unknown} for {name}; expected some of {list(source.md5)}")

    def missing():
        return [f for f in files if not (dest / f).is_file()]

    failures = []
    for route, how in ((_from_urls, "official URLs"), (_from_debian, "Debian package")):
        if not missing():
            break
        _log(f"{name}: fetching {len(missing())} file(s) into {dest} from the {how}")
        try:
            route(name, dest, missing())
        except (FetchError, DatasetError) as e:  # DatasetError: a checksum mismatch
            _log(f"{name}: the {how} did not work: {e}")
            failures.append(f"{how}: {e}")
    if missing():
        raise DatasetError(f"could not fetch {name} files {missing()} into {dest}:\n  "
                           + "\n  ".join(failures))
    return dest


def main(argv=None) -> int:
    """``python -m tinygrad_bn.data.fetch NAME``: find (or fetch) and verify the files, print the folder."""
    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_bn.data.fetch",
        description="Find or fetch a data set's files, check their MD5, print their folder.")
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--root", default=None, help="look here first, and download here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        folder = find(args.name, args.root)
        if folder is None:
            _log(f"{args.name}: not found in {', '.join(map(str, search_dirs(args.name, args.root)))}")
            folder = download(args.name, args.root)  # verifies what it fetches
        else:
            _log(f"{args.name}: found in {folder}, checking MD5")
            for filename in SOURCES[args.name].md5:
                verify(folder / filename, args.name)
    except DatasetError as e:
        _log(f"error: {e}")
        return 1
    _log(f"{args.name}: 4 files verified in {time.perf_counter() - start:.1f} s")
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
