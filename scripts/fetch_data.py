"""Get MNIST / Fashion-MNIST onto this machine and verify it; print the folder (``make data``).

    python scripts/fetch_data.py fashion-mnist [--root DIR]

1. Files already on disk (see ``tinygrad_bn/data/fetch.py`` for where it looks) are verified.
2. Otherwise they are downloaded from the official URLs (the library's `download`), with a
   progress bar. A machine without internet fails here at once (the name does not resolve).
3. For Fashion-MNIST, if that failed: Debian's package, ``apt-get download
   dataset-fashion-mnist`` (no install, no root needed), unpacked with ``dpkg-deb -x`` into a
   work folder inside the destination. This works on machines that reach only a package mirror.
   As root, when the package lists do not know the package, ``apt-get update`` is run once --
   it refreshes this machine's package lists, so the script says so before it runs it.

Every file is verified (size and MD5) before it is renamed into place; an error or Ctrl-C
leaves no partial file. This lives in a script, not in the library, because it runs system
programs: ``FashionMNIST()`` only finds, verifies and downloads.

Progress goes to stderr, the folder to stdout; errors are one line, exit status 1.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

from tinygrad_bn.data import fetch  # noqa: E402
from tinygrad_bn.data.idx import DatasetError  # noqa: E402

APT_TIMEOUT = 300.0     # seconds for a whole apt-get / dpkg-deb command (a backstop)


class FetchError(Exception):
    """A way of getting the files failed."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Download progress on stderr: tqdm when it is installed, else every 10 %."""

    def __init__(self):
        self.bars, self.shown = {}, {}
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        self.tqdm = tqdm

    def __call__(self, filename: str, done: int, total: int | None) -> None:
        if self.tqdm is not None:
            if filename not in self.bars:
                self.bars[filename] = self.tqdm(total=total, desc=filename, unit="B", unit_scale=True,
                                                file=sys.stderr)
            bar = self.bars[filename]
            bar.update(done - bar.n)
            if total is not None and done >= total:
                bar.close()
            return
        if total:
            step = 100 * done // total // 10 * 10
            if step > self.shown.get(filename, -1):
                self.shown[filename] = step
                end = "\n" if step == 100 else ""
                print(f"\r  {filename}: {step:3d}% of {total / 1e6:.1f} MB", end=end,
                      file=sys.stderr, flush=True)


# ---------------------------------------------------------------- Debian's package
def run(cmd, cwd=None) -> subprocess.CompletedProcess:
    """Run a command, capturing its output (a seam for the tests)."""
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=APT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FetchError(f"{' '.join(cmd)} took more than {APT_TIMEOUT:.0f} s, stopped") from None
    except OSError as e:
        raise FetchError(f"cannot run {cmd[0]}: {e}") from e


def apt_download(package: str, work: Path) -> Path:
    """``apt-get download package`` into `work`; returns the .deb file."""
    # short network timeouts so an offline machine fails fast instead of retrying for minutes
    cmd = ["apt-get", "download", "-o", "Acquire::http::Timeout=10", "-o", "Acquire::Retries=0", package]
    log(f"running: {' '.join(cmd)}")
    result = run(cmd, cwd=work)
    lists_empty = any(m in result.stderr for m in ("Unable to locate package", "no installation candidate"))
    if result.returncode != 0 and lists_empty and hasattr(os, "geteuid") and os.geteuid() == 0:
        log(f"the package lists do not know {package}: running `apt-get update` once (this "
            "refreshes the machine's package lists), then retrying")
        update = run(["apt-get", "update", "-o", "Acquire::http::Timeout=10"])
        if update.returncode != 0:
            raise FetchError(f"apt-get update failed: {update.stderr.strip()[-500:]}")
        result = run(cmd, cwd=work)
    if result.returncode != 0:
        hint = " (the package lists look empty: run `sudo apt-get update`)" if lists_empty else ""
        raise FetchError(f"apt-get download {package} failed{hint}: {result.stderr.strip()[-500:]}")
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise FetchError(f"apt-get download {package} reported success but wrote no .deb in {work}")
    return debs[-1]


def from_debian(name: str, dest: Path, files) -> None:
    """Unpack `files` of data set `name` from its Debian package into `dest`, each verified."""
    source = fetch.SOURCES[name]
    if source.debian_package is None:
        raise FetchError(f"no Debian package ships {name}")
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise FetchError("apt-get or dpkg-deb not found (not a Debian-based system)")
    # the work folder sits inside `dest`, on the same file system, so the final rename is atomic
    work = Path(tempfile.mkdtemp(prefix=".debian-", dir=dest))
    try:
        deb = apt_download(source.debian_package, work)
        log(f"unpacking {deb.name}")
        result = run(["dpkg-deb", "-x", str(deb), str(work / "root")])
        if result.returncode != 0:
            raise FetchError(f"dpkg-deb -x {deb.name} failed: {result.stderr.strip()[-500:]}")
        for filename in files:
            unpacked = work / "root" / source.debian_dir / filename
            if not unpacked.is_file():
                raise FetchError(f"{deb.name} has no {source.debian_dir}/{filename}")
            origin = f"{deb.name}:{source.debian_dir}/{filename}"
            matched = fetch.install(unpacked, dest, name, filename, origin)
            log(f"  {filename}: size and MD5 OK" + (" (of the decompressed content: a recompressed copy)"
                                                    if matched == "content" else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- putting it together
def get(name: str, root=None) -> Path:
    """Find or fetch every file of data set `name`, verified; returns their folder."""
    folder = fetch.find(name, root)
    if folder is not None:
        log(f"{name}: found in {folder}, checking sizes and MD5")
    else:
        log(f"{name}: not found in {', '.join(map(str, fetch.search_dirs(name, root)))}")
        folder = fetch.prepare_folder(fetch.cache_dir(name) if root is None else root, create=root is None)
        try:
            fetch.download(name, folder, progress=Progress())
        except DatasetError as e:
            if fetch.SOURCES[name].debian_package is None:
                raise
            first = str(e).splitlines()[1].strip() if "\n" in str(e) else str(e)
            log(f"{name}: the official URLs did not work ({first}); trying Debian's package")
            missing = [f for f in fetch.SOURCES[name].md5 if not (folder / f).is_file()]
            try:
                from_debian(name, folder, missing)
            except FetchError as debian_error:
                raise DatasetError(f"could not fetch {name} into {folder}: the official URLs failed, "
                                   f"and so did Debian's package: {debian_error}") from None
    for filename in fetch.SOURCES[name].md5:
        fetch.verify(folder / filename, name)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/fetch_data.py",
        description="Find or fetch a data set's files, check their size and MD5, print their folder.")
    parser.add_argument("name", choices=sorted(fetch.SOURCES))
    parser.add_argument("--root", default=None, help="an existing folder: look here first, and fetch into it")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        folder = get(args.name, args.root)
    except (DatasetError, FetchError) as e:
        log(f"error: {' '.join(str(e).split())}")
        return 1
    except KeyboardInterrupt:
        log("interrupted: no partial file was kept")
        return 130
    log(f"{args.name}: 4 files verified in {time.perf_counter() - start:.1f} s")
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
