"""tinygrad_bn.data: IDX reading, the data sets' file lookup, verification and download, the
fetch script's Debian route, and the DataLoader.

No test touches the network or runs apt-get: the `isolated` fixture (autouse) points HOME, the
system folder and $TINYGRAD_BN_DATA at temporary folders and replaces the seams through which
files are fetched (`fetch._download_url`, the script's `run`) by stubs that fail. Tests that
exercise a download install their own fakes, serving small IDX files written here. Small
generated files are not the official release: tests either read them with ``verify=False`` or
make them "official" for the test with `trust`.
"""
import gzip
import hashlib
import http.server
import importlib.util
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import backend
from tinygrad_bn.data import MNIST, DataLoader, DatasetError, FashionMNIST, fetch, read_idx
from tinygrad_bn.data.idx import IMAGES_MAGIC, LABELS_MAGIC

ALL_FILES = fetch.TRAIN_FILES + fetch.TEST_FILES
_spec = importlib.util.spec_from_file_location(
    "fetch_data", Path(__file__).resolve().parents[1] / "scripts" / "fetch_data.py")
fetch_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch_data)


# ---------------------------------------------------------------- helpers
def idx_bytes(array, magic=None) -> bytes:
    """An IDX file's bytes: magic (type code + ndim), big-endian dims, big-endian data."""
    array = np.asarray(array)
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    magic = (codes[array.dtype] << 8 | array.ndim) if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, magic=None, compress=True):
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def make_split(folder, n=12, train=True, seed=0, size=(28, 28)):
    """Write one split's image and label files into `folder`; return (images, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    images = r.integers(0, 256, size=(n, *size), dtype=np.uint8)
    labels = r.integers(0, 10, size=n, dtype=np.uint8)
    image_file, label_file = fetch.TRAIN_FILES if train else fetch.TEST_FILES
    write_idx(folder / image_file, images)
    write_idx(folder / label_file, labels)
    return images, labels


def make_all(folder, seed=0):
    """All four files (train 12 images, test 5); returns {filename: gz bytes}."""
    make_split(folder, 12, train=True, seed=seed)
    make_split(folder, 5, train=False, seed=seed + 1)
    return {f: (folder / f).read_bytes() for f in ALL_FILES}


def trust(monkeypatch, name, files):
    """Make `files` ({filename: gz bytes}) the 'official' files of data set `name`."""
    md5 = {f: (hashlib.md5(b).hexdigest(), hashlib.md5(gzip.decompress(b)).hexdigest())
           for f, b in files.items()}
    sizes = {f: len(gzip.decompress(b)) for f, b in files.items()}
    monkeypatch.setitem(fetch.SOURCES, name, fetch.Source(
        mirrors=("http://mirror.invalid/a/", "http://mirror.invalid/b/"), md5=md5, sizes=sizes,
        debian_package=fetch.SOURCES[name].debian_package, debian_dir=fetch.SOURCES[name].debian_dir))


def serve(monkeypatch, files_by_url):
    """Replace the URL download by one that writes `files_by_url[url]` (or fails with OSError)."""
    requested = []

    def fake_download(url, target, timeout=None, progress=None):
        requested.append(url)
        if url not in files_by_url:
            raise OSError(f"no route to {url}")
        target.write(files_by_url[url][:100])  # written in two parts, like a real stream
        target.write(files_by_url[url][100:])

    monkeypatch.setattr(fetch, "_download_url", fake_download)
    return requested


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real HOME, system folder, $TINYGRAD_BN_DATA, network or apt-get in any test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(fetch.ENV_VAR, raising=False)
    monkeypatch.setattr(fetch, "SYSTEM_DIR", tmp_path / "system")

    def no_network(url, target, timeout=None, progress=None):
        raise OSError("network disabled in tests")

    def no_subprocess(cmd, cwd=None):
        raise fetch_data.FetchError(f"subprocesses disabled in tests: {cmd}")

    monkeypatch.setattr(fetch, "_download_url", no_network)
    monkeypatch.setattr(fetch_data, "run", no_subprocess)
    monkeypatch.setattr(fetch, "_verified", {})  # each test verifies afresh
    return home


# ---------------------------------------------------------------- IDX files
def test_read_idx_gz_and_plain(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / "a.gz", images), magic=IMAGES_MAGIC)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, images)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b", labels, compress=False),
                                           magic=LABELS_MAGIC), labels)


def test_read_idx_multibyte_types_are_big_endian(tmp_path):
    ints = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    out = read_idx(write_idx(tmp_path / "i.gz", ints))
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, ints)


def _gz(data):
    return gzip.compress(data, mtime=0)


GOOD_IMAGES = np.zeros((3, 28, 28), np.uint8)
CORRUPT_IMAGE_FILES = {  # id: (bytes of the image file, words the error must contain)
    "wrong magic": (_gz(idx_bytes(np.zeros(3, np.uint8))), "wrong magic number 0x00000801"),
    "not idx": (_gz(b"PK\x03\x04 this is a zip file, not idx"), "magic"),
    "truncated gzip": (_gz(idx_bytes(GOOD_IMAGES))[:-40], "truncated gzip"),
    "garbage gzip": (b"\x1f\x8b" + b"\xff" * 64, "corrupt or truncated gzip"),
    "truncated data": (_gz(idx_bytes(GOOD_IMAGES)[:-28]), "data truncated"),
    "trailing bytes": (_gz(idx_bytes(GOOD_IMAGES) + b"\x00"), "trailing bytes"),
    "short header": (_gz(b"\x00\x00\x08\x03\x00\x00"), "header cut short"),
    "empty": (b"", "too short"),
    "wrong dimensions": (_gz(idx_bytes(np.zeros((3, 27, 28), np.uint8))),
                         "wrong dimensions: images are 27x28"),
}


@pytest.mark.parametrize("case", list(CORRUPT_IMAGE_FILES))
def test_corrupt_image_file_raises_naming_it(tmp_path, case):
    data, words = CORRUPT_IMAGE_FILES[case]
    make_split(tmp_path, n=3)
    bad = tmp_path / fetch.TRAIN_FILES[0]
    bad.write_bytes(data)
    with pytest.raises(DatasetError) as info:
        FashionMNIST(tmp_path, download=False, verify=False)
    assert isinstance(info.value, ValueError)
    assert str(bad) in str(info.value) and words in str(info.value), str(info.value)


def test_label_file_with_image_magic_raises(tmp_path):
    make_split(tmp_path, n=3)
    bad = write_idx(tmp_path / fetch.TRAIN_FILES[1], np.zeros((3, 1, 1), np.uint8))
    with pytest.raises(DatasetError, match="wrong magic number 0x00000803, expected 0x00000801") as info:
        MNIST(tmp_path, download=False, verify=False)
    assert str(bad) in str(info.value)


def test_count_mismatch_names_both_files(tmp_path):
    make_split(tmp_path, n=4)
    write_idx(tmp_path / fetch.TRAIN_FILES[1], np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match="holds 4 images but .* holds 5 labels") as info:
        FashionMNIST(tmp_path, download=False, verify=False)
    assert all(str(tmp_path / f) in str(info.value) for f in fetch.TRAIN_FILES)


def test_label_out_of_range(tmp_path):
    make_split(tmp_path, n=4)
    write_idx(tmp_path / fetch.TRAIN_FILES[1], np.array([0, 1, 10, 2], np.uint8))
    with pytest.raises(DatasetError, match="label 10 out of range"):
        FashionMNIST(tmp_path, download=False, verify=False)


# ---------------------------------------------------------------- data sets and lookup
def test_dataset_reads_both_splits(tmp_path):
    train_images, train_labels = make_split(tmp_path, n=12, train=True, seed=1)
    test_images, test_labels = make_split(tmp_path, n=5, train=False, seed=2)
    train = FashionMNIST(tmp_path, download=False, verify=False)
    test = FashionMNIST(tmp_path, train=False, download=False, verify=False)
    assert len(train) == 12 and len(test) == 5
    assert train.images.dtype == np.uint8 and train.images.shape == (12, 28, 28)
    assert train.labels.dtype == np.uint8 and train.labels.shape == (12,)
    np.testing.assert_array_equal(train.images, train_images)
    np.testing.assert_array_equal(test.labels, test_labels)
    image, label = test[3]
    np.testing.assert_array_equal(image, test_images[3])
    assert image.shape == (28, 28) and label == test_labels[3]
    assert len(FashionMNIST.classes) == 10 and FashionMNIST.classes[9] == "Ankle boot"
    assert len(MNIST.classes) == 10 and train.folder == tmp_path
    assert "split='train'" in repr(train) and "n=12" in repr(train)


def test_lookup_order_root_env_cache_system(tmp_path, monkeypatch, isolated):
    where = {k: tmp_path / k for k in ("root", "env", "system")}
    where["cache"] = isolated / ".cache" / "tinygrad_bn" / "fashion-mnist"
    make_split(where["system"] / "fashion-mnist", seed=4)
    make_split(where["cache"], seed=3)
    make_split(where["env"], seed=2)
    make_split(where["root"], seed=1)
    monkeypatch.setenv(fetch.ENV_VAR, str(where["env"]))
    assert FashionMNIST(where["root"], download=False, verify=False).folder == where["root"]   # root first
    empty = tmp_path / "empty"
    empty.mkdir()
    assert FashionMNIST(empty, download=False, verify=False).folder == where["env"]  # then the env var
    monkeypatch.setenv(fetch.ENV_VAR, str(empty))
    ds = FashionMNIST(empty, download=False, verify=False)                                    # then ~/.cache
    assert ds.folder == where["cache"]
    np.testing.assert_array_equal(ds.images, make_split(tmp_path / "again", seed=3)[0])
    for f in fetch.TRAIN_FILES:
        (where["cache"] / f).unlink()
    # then /usr/share
    assert FashionMNIST(download=False, verify=False).folder == where["system"] / "fashion-mnist"


def test_lookup_uses_name_subfolder_and_keeps_datasets_apart(tmp_path, monkeypatch):
    make_split(tmp_path / "mnist", seed=1)
    make_split(tmp_path / "fashion-mnist", seed=2)
    monkeypatch.setenv(fetch.ENV_VAR, str(tmp_path))
    assert MNIST(download=False, verify=False).folder == tmp_path / "mnist"
    assert FashionMNIST(download=False, verify=False).folder == tmp_path / "fashion-mnist"


def test_search_dirs_order(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv(fetch.ENV_VAR, str(tmp_path / "env"))
    assert fetch.search_dirs("mnist", tmp_path / "root") == [
        tmp_path / "root", tmp_path / "root" / "mnist", tmp_path / "env", tmp_path / "env" / "mnist",
        isolated / ".cache" / "tinygrad_bn" / "mnist", tmp_path / "system" / "mnist"]
    monkeypatch.setenv(fetch.ENV_VAR, "")      # empty means unset
    assert fetch.search_dirs("mnist") == [isolated / ".cache" / "tinygrad_bn" / "mnist",
                                          tmp_path / "system" / "mnist"]
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        fetch.search_dirs("cifar")


def test_split_needs_only_its_own_files(tmp_path):
    make_split(tmp_path, train=False)
    assert len(MNIST(tmp_path, train=False, download=False, verify=False)) == 12
    with pytest.raises(DatasetError, match="not found"):
        MNIST(tmp_path, train=True, download=False, verify=False)


def test_not_found_without_download_lists_where_it_looked(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv(fetch.ENV_VAR, str(tmp_path / "env"))
    (tmp_path / "root").mkdir()
    with pytest.raises(DatasetError) as info:
        FashionMNIST(tmp_path / "root", download=False)
    message = str(info.value)
    for place in (tmp_path / "root", tmp_path / "env", tmp_path / "env" / "fashion-mnist",
                  isolated / ".cache" / "tinygrad_bn" / "fashion-mnist",
                  tmp_path / "system" / "fashion-mnist"):
        assert str(place) in message
    assert "train-images-idx3-ubyte.gz" in message and "download=True" in message
    assert "scripts/fetch_data.py fashion-mnist" in message
    assert leftovers(isolated) == []  # looking creates nothing


def test_missing_root_is_an_error_not_a_new_folder(tmp_path, monkeypatch, isolated):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    requested = serve(monkeypatch, {"http://mirror.invalid/a/" + f: b for f, b in files.items()})
    typo = tmp_path / "dta"
    with pytest.raises(DatasetError, match=f"data folder {typo} does not exist"):
        FashionMNIST(typo)                                   # download=True: still no download
    (tmp_path / "a_file").write_bytes(b"x")
    with pytest.raises(DatasetError, match="is not a folder"):
        FashionMNIST(tmp_path / "a_file")
    assert not typo.exists() and requested == [] and leftovers(isolated) == []


# ---------------------------------------------------------------- verification
def test_files_found_on_disk_are_verified(tmp_path, monkeypatch):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    data = tmp_path / "data"
    data.mkdir()
    for name, content in files.items():
        (data / name).write_bytes(content)
    assert len(FashionMNIST(data, download=False)) == 12      # the trusted files pass

    labels = np.frombuffer(gzip.decompress(files[fetch.TRAIN_FILES[1]])[8:], np.uint8)
    write_idx(data / fetch.TRAIN_FILES[1], np.roll(labels, 1))   # labels shifted by one
    with pytest.raises(DatasetError, match="checksum mismatch for fashion-mnist train-labels") as info:
        FashionMNIST(data, download=False)
    assert str(data / fetch.TRAIN_FILES[1]) in str(info.value) and "verify=False" in str(info.value)
    assert len(FashionMNIST(data, download=False, verify=False)) == 12  # your own files: opt out

    (data / fetch.TRAIN_FILES[1]).write_bytes(files[fetch.TRAIN_FILES[1]])
    for official, renamed in zip(fetch.TEST_FILES, fetch.TRAIN_FILES):  # test set renamed as train
        (data / renamed).write_bytes(files[official])
    with pytest.raises(DatasetError, match="wrong size for fashion-mnist train-images.*decompresses to"):
        FashionMNIST(data, download=False)


def test_verification_is_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    files = make_all(tmp_path)
    trust(monkeypatch, "mnist", files)
    reads = []
    real_md5 = fetch._md5
    monkeypatch.setattr(fetch, "_md5", lambda chunks: reads.append(1) or real_md5(chunks))
    MNIST(tmp_path, train=False, download=False)
    assert len(reads) == 2                                    # one MD5 per file
    MNIST(tmp_path, train=False, download=False)
    assert len(reads) == 2                                    # remembered
    label_file = tmp_path / fetch.TEST_FILES[1]
    stat = label_file.stat()
    write_idx(label_file, np.zeros(5, np.uint8))              # changed in place...
    os.utime(label_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        MNIST(tmp_path, train=False, download=False)          # ...so checked again


def test_verify_accepts_a_recompressed_copy(tmp_path, monkeypatch):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    name = fetch.TEST_FILES[1]
    repacked = tmp_path / name
    repacked.write_bytes(gzip.compress(gzip.decompress(files[name]), compresslevel=1, mtime=12345))
    assert repacked.read_bytes() != files[name]
    assert fetch.verify(repacked, "fashion-mnist") == "content"  # same content, other gzip bytes
    same_size = bytearray(gzip.decompress(files[name]))
    same_size[-1] ^= 1                                         # one label changed
    repacked.write_bytes(_gz(bytes(same_size)))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        fetch.verify(repacked, "fashion-mnist")
    repacked.write_bytes(_gz(b"\x00\x00\x08\x01\x00\x00\x00\x00"))
    with pytest.raises(DatasetError, match="wrong size.*decompresses to 8 bytes, expected 13"):
        fetch.verify(repacked, "fashion-mnist")


def test_real_checksums_and_sizes_are_well_formed():
    for source in fetch.SOURCES.values():
        assert sorted(source.md5) == sorted(ALL_FILES) == sorted(source.sizes)
        for pair in source.md5.values():
            assert all(len(h) == 32 and int(h, 16) >= 0 for h in pair)
        assert source.sizes["train-images-idx3-ubyte.gz"] == 16 + 60000 * 28 * 28
        assert source.sizes["t10k-labels-idx1-ubyte.gz"] == 8 + 10000
    assert fetch.SOURCES["fashion-mnist"].debian_dir == "usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------- download (the library)
def test_download_fetches_verifies_and_caches(tmp_path, monkeypatch, isolated):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    # first mirror down, second up: every file falls over to the second mirror
    requested = serve(monkeypatch, {"http://mirror.invalid/b/" + f: b for f, b in files.items()})
    train = FashionMNIST()                      # downloads only the two training files
    cache = isolated / ".cache" / "tinygrad_bn" / "fashion-mnist"
    assert train.folder == cache and len(train) == 12
    assert leftovers(cache) == sorted(fetch.TRAIN_FILES)    # no .part files left behind
    mirrors = ("http://mirror.invalid/a/", "http://mirror.invalid/b/")
    assert requested == [m + f for f in fetch.TRAIN_FILES for m in mirrors]
    requested.clear()
    FashionMNIST()                              # found in the cache now: no download
    assert requested == []


def test_download_into_an_existing_root(tmp_path, monkeypatch):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "mnist", files)
    serve(monkeypatch, {m + f: b for f, b in files.items() for m in fetch.SOURCES["mnist"].mirrors})
    (tmp_path / "mine").mkdir()
    test = MNIST(tmp_path / "mine", train=False)
    assert test.folder == tmp_path / "mine" and len(test) == 5


def test_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch, isolated):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    tampered = dict(files)
    tampered[fetch.TRAIN_FILES[0]] = _gz(idx_bytes(np.ones((12, 28, 28), np.uint8)))
    serve(monkeypatch, {"http://mirror.invalid/a/" + f: b for f, b in tampered.items()})
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        FashionMNIST()
    cache = isolated / ".cache" / "tinygrad_bn" / "fashion-mnist"
    assert "http://mirror.invalid/a/" + fetch.TRAIN_FILES[0] in str(info.value)
    assert "scripts/fetch_data.py fashion-mnist" in str(info.value)  # where to go from here
    assert leftovers(cache) == [fetch.TRAIN_FILES[1]]       # the good file only: no bad, no .part


def test_ctrl_c_during_a_download_removes_the_partial_file(tmp_path, monkeypatch, isolated):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)

    def interrupted(url, target, timeout=None, progress=None):
        target.write(files[fetch.TRAIN_FILES[0]][:100])
        target.flush()
        assert [p.name for p in cache.iterdir() if p.name.endswith(".part")]  # it exists now
        raise KeyboardInterrupt

    cache = isolated / ".cache" / "tinygrad_bn" / "fashion-mnist"
    monkeypatch.setattr(fetch, "_download_url", interrupted)
    with pytest.raises(KeyboardInterrupt):
        FashionMNIST()
    assert leftovers(cache) == []


DOWNLOAD_IN_CHILD = """
import json, sys
from tinygrad_bn.data import FashionMNIST, fetch
md5, sizes = json.loads(sys.argv[2]), json.loads(sys.argv[3])
fetch.SOURCES["fashion-mnist"] = fetch.Source(
    mirrors=(sys.argv[1],), md5=md5, sizes=sizes, debian_package="-", debian_dir="-")
FashionMNIST()
"""


def test_real_ctrl_c_during_a_download_removes_the_partial_file(tmp_path):
    """A real SIGINT to a real process, while it is blocked reading a download from a local
    server that has sent part of a file (its .part file exists): no .part file is left."""
    files = make_all(tmp_path / "official")
    release = threading.Event()

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files[self.path.rsplit("/", 1)[-1]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:50])
            self.wfile.flush()
            release.wait(60)  # the rest never comes while the test runs

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    md5 = {f: (hashlib.md5(b).hexdigest(), hashlib.md5(gzip.decompress(b)).hexdigest())
           for f, b in files.items()}
    sizes = {f: len(gzip.decompress(b)) for f, b in files.items()}
    home = tmp_path / "child_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != fetch.ENV_VAR}
    env["HOME"] = str(home)
    cache = home / ".cache" / "tinygrad_bn" / "fashion-mnist"
    child = subprocess.Popen([sys.executable, "-c", DOWNLOAD_IN_CHILD,
                              f"http://127.0.0.1:{server.server_port}/", json.dumps(md5),
                              json.dumps(sizes)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (cache.exists() and any(p.name.endswith(".part") for p in cache.iterdir())):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.02)
        time.sleep(0.5)  # the child is now blocked reading the rest of the file
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        release.set()
        server.shutdown()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err
    assert [p.name for p in cache.iterdir() if p.name.endswith(".part")] == []


def test_unwritable_cache_is_a_dataset_error_naming_it(tmp_path, monkeypatch):
    # Tests run as root, for whom permission bits do not stop writes: a HOME below a regular
    # file is a folder that nobody, root included, can create.
    (tmp_path / "plain_file").write_bytes(b"")
    monkeypatch.setenv("HOME", str(tmp_path / "plain_file" / "home"))
    with pytest.raises(DatasetError) as info:
        FashionMNIST()
    expected = tmp_path / "plain_file" / "home" / ".cache" / "tinygrad_bn" / "fashion-mnist"
    assert str(info.value).startswith(f"cannot create the data folder {expected}")


def test_the_library_never_runs_programs(tmp_path, monkeypatch, isolated):
    """No apt-get (nor anything else) from a data set constructor, even when everything fails."""
    started = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a) or 1 / 0)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a) or 1 / 0)
    monkeypatch.setattr(os, "system", lambda *a: started.append(a) or 1 / 0)
    with pytest.raises(DatasetError, match="could not download fashion-mnist"):
        FashionMNIST()
    assert started == []
    library = Path(fetch.__file__).parent
    for source in library.glob("*.py"):
        assert "subprocess" not in source.read_text(), source


# ---------------------------------------------------------------- the fetch script
def fake_apt(tmp_path, files, monkeypatch, lists_empty=True):
    """Stand-ins for apt-get and dpkg-deb: the .deb 'contains' `files` under debian_dir."""
    commands = []
    state = {"updated": not lists_empty}

    class Done:
        def __init__(self, returncode=0, stderr=""):
            self.returncode, self.stderr, self.stdout = returncode, stderr, ""

    def run(cmd, cwd=None):
        commands.append(" ".join(cmd[:2]))
        if cmd[:2] == ["apt-get", "update"]:
            state["updated"] = True
            return Done()
        if cmd[:2] == ["apt-get", "download"]:
            if not state["updated"]:
                return Done(100, "E: Unable to locate package dataset-fashion-mnist")
            (tmp_path.joinpath(cwd) / "dataset-fashion-mnist_1.0_all.deb").write_bytes(b"!<arch>")
            return Done()
        if cmd[:2] == ["dpkg-deb", "-x"]:
            target = tmp_path.joinpath(cmd[3]) / "usr/share/datasets/fashion-mnist"
            target.mkdir(parents=True)
            for f, b in files.items():
                (target / f).write_bytes(b)
            return Done()
        raise AssertionError(f"unexpected command {cmd}")

    monkeypatch.setattr(fetch_data, "run", run)
    monkeypatch.setattr(fetch_data.shutil, "which", lambda program: "/usr/bin/" + program)
    monkeypatch.setattr(fetch_data.os, "geteuid", lambda: 0, raising=False)
    return commands


def test_script_debian_route_says_it_updates_lists_then_installs(tmp_path, monkeypatch, isolated, capsys):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    commands = fake_apt(tmp_path, files, monkeypatch)          # the URLs fail (isolated)
    assert fetch_data.main(["fashion-mnist"]) == 0
    cache = isolated / ".cache" / "tinygrad_bn" / "fashion-mnist"
    assert leftovers(cache) == sorted(ALL_FILES)               # work folder removed
    assert commands == ["apt-get download", "apt-get update", "apt-get download", "dpkg-deb -x"]
    out = capsys.readouterr()
    assert out.out.strip() == str(cache)
    err = out.err
    assert err.index("running `apt-get update`") < err.index("refreshes the machine's package lists") \
        < err.index("unpacking")                               # said before it was done
    assert len(FashionMNIST(train=False, download=False)) == 5


def test_script_debian_route_rejects_bad_files(tmp_path, monkeypatch, isolated, capsys):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    bad = dict(files)
    bad[fetch.TEST_FILES[0]] = files[fetch.TRAIN_FILES[0]]
    fake_apt(tmp_path, bad, monkeypatch, lists_empty=False)
    assert fetch_data.main(["fashion-mnist"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "wrong size for fashion-mnist t10k-images" in err
    cache = isolated / ".cache" / "tinygrad_bn" / "fashion-mnist"
    assert ".debian-" not in " ".join(leftovers(cache)) and fetch.TEST_FILES[0] not in leftovers(cache)


def test_script_debian_route_needs_apt(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fetch_data.shutil, "which", lambda program: None)
    (tmp_path / "data").mkdir()
    assert fetch_data.main(["fashion-mnist", "--root", str(tmp_path / "data")]) == 1
    assert "apt-get or dpkg-deb not found" in capsys.readouterr().err
    assert fetch_data.main(["mnist", "--root", str(tmp_path / "data")]) == 1
    assert "could not download mnist" in capsys.readouterr().err
    assert leftovers(tmp_path / "data") == []
    assert fetch_data.main(["mnist", "--root", str(tmp_path / "nowhere")]) == 1
    assert f"data folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_script_urls_first_then_no_debian(tmp_path, monkeypatch, capsys):
    files = make_all(tmp_path / "official")
    trust(monkeypatch, "fashion-mnist", files)
    serve(monkeypatch, {"http://mirror.invalid/a/" + f: b for f, b in files.items()})
    commands = fake_apt(tmp_path, files, monkeypatch)
    (tmp_path / "data").mkdir()
    assert fetch_data.main(["fashion-mnist", "--root", str(tmp_path / "data")]) == 0
    assert commands == [] and leftovers(tmp_path / "data") == sorted(ALL_FILES)


def test_script_verifies_what_it_finds(tmp_path, monkeypatch, capsys, isolated):
    files = make_all(isolated / ".cache" / "tinygrad_bn" / "fashion-mnist")
    trust(monkeypatch, "fashion-mnist", files)
    assert fetch_data.main(["fashion-mnist"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(isolated / ".cache" / "tinygrad_bn" / "fashion-mnist")
    assert "verified" in out.err
    (isolated / ".cache" / "tinygrad_bn" / "fashion-mnist" / fetch.TEST_FILES[1]).write_bytes(
        files[fetch.TRAIN_FILES[1]])
    assert fetch_data.main(["fashion-mnist"]) == 1
    assert "wrong size for fashion-mnist t10k-labels" in capsys.readouterr().err


# ---------------------------------------------------------------- DataLoader
def pixels(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def test_loader_batches_shapes_dtypes_scaling(tmp_path, device):
    images, labels = make_split(tmp_path, n=10)
    loader = DataLoader(FashionMNIST(tmp_path, download=False, verify=False), batch_size=4, device=device)
    assert len(loader) == 3
    batches = list(loader)
    assert [x.shape for x, _ in batches] == [(4, 1, 28, 28), (4, 1, 28, 28), (2, 1, 28, 28)]
    x, y = batches[0]
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.device == device == y.device
    np.testing.assert_array_equal(x.numpy(), images[:4, None].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), labels)
    assert 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0


def test_loader_drop_last():
    data = (pixels(10), np.arange(10))
    assert len(DataLoader(data, 4, drop_last=True)) == 2
    assert [y.shape for _, y in DataLoader(data, 4, drop_last=True)] == [(4,), (4,)]
    assert len(DataLoader(data, 5, drop_last=True)) == len(DataLoader(data, 5)) == 2
    assert len(DataLoader(data, 11)) == 1 and len(DataLoader(data, 11, drop_last=True)) == 0


def epoch_order(loader):
    return np.concatenate([y.numpy() for _, y in loader])


def test_shuffle_visits_every_index_once_per_epoch(device):
    loader = DataLoader((pixels(23), np.arange(23)), 5, shuffle=True, seed=0, device=device)
    first, second = epoch_order(loader), epoch_order(loader)
    np.testing.assert_array_equal(np.sort(first), np.arange(23))
    np.testing.assert_array_equal(np.sort(second), np.arange(23))
    assert not np.array_equal(first, second) and not np.array_equal(first, np.arange(23))
    x, y = next(iter(loader))                 # images travel with their labels
    np.testing.assert_array_equal(x.numpy(), pixels(23)[y.numpy(), None] / np.float32(255))


def test_shuffle_same_seed_same_order():
    data = (pixels(30), np.arange(30))
    a, b, c = (DataLoader(data, 7, shuffle=True, seed=s) for s in (1, 1, 2))
    for _ in range(2):
        order_a = epoch_order(a)
        np.testing.assert_array_equal(order_a, epoch_order(b))
        assert not np.array_equal(order_a, epoch_order(c))


def test_state_dict_restore_reproduces_shuffling():
    data = (pixels(30), np.arange(30))
    loader = DataLoader(data, 8, shuffle=True, seed=0)
    epoch_order(loader)
    state = json.loads(json.dumps(loader.state_dict()))  # a checkpoint may store it as JSON
    expected = [epoch_order(loader) for _ in range(2)]
    resumed = DataLoader(data, 8, shuffle=True, seed=99)
    resumed.load_state_dict(state)
    for order in expected:
        np.testing.assert_array_equal(epoch_order(resumed), order)
    with pytest.raises(ValueError, match="generator"):
        resumed.load_state_dict({"seed": 0})


def test_seed_none_follows_manual_seed():
    data = (pixels(30), np.arange(30))
    tg.manual_seed(5)
    first = epoch_order(DataLoader(data, 8, shuffle=True))
    tg.manual_seed(5)
    np.testing.assert_array_equal(epoch_order(DataLoader(data, 8, shuffle=True)), first)


@pytest.mark.parametrize("shuffle", [False, True])
def test_changing_a_batch_never_changes_the_data(shuffle):
    images = pixels(9)
    loader = DataLoader((images, np.arange(9)), 4, shuffle=shuffle, seed=0)
    assert loader.images.shape == (9, 1, 28, 28) and loader.images.dtype == np.float32
    for x, y in loader:                        # a user normalising batches in place
        x -= 0.5
        x.array[...] = -1.0
        y.array[...] = 0
    for x, y in loader:                        # the next epoch sees the original data
        np.testing.assert_array_equal(x.numpy(), images[y.numpy(), None] / np.float32(255))
        assert not np.shares_memory(x.array, loader.images)
    assert sorted(np.concatenate([y.numpy() for _, y in loader])) == list(range(9))


def test_loader_accepts_generic_datasets():
    class Custom:
        images = np.full((6, 3, 4, 4), 0.5, np.float64)   # float: cast, not scaled; 4-D kept
        labels = np.arange(6, dtype=np.uint8)

    x, y = next(iter(DataLoader(Custom(), 6)))
    assert x.shape == (6, 3, 4, 4) and x.dtype == np.float32 and float(x.numpy().max()) == 0.5
    assert y.dtype == np.int64
    x, y = next(iter(DataLoader(([[[0, 255]]], [1]), 1)))  # nested lists work too
    np.testing.assert_array_equal(x.numpy(), [[[[0, 255]]]])  # ints other than uint8: not scaled
    x, _ = next(iter(DataLoader((np.array([[[0, 255]]], np.uint8), [1]), 1)))
    np.testing.assert_array_equal(x.numpy(), [[[[0.0, 1.0]]]])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=True), ValueError, "batch_size"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(device="tpu"), ValueError, "tpu"),
])
def test_loader_validates_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        DataLoader((pixels(4), np.arange(4)), **kwargs)


def test_loader_validates_data():
    with pytest.raises(ValueError, match=r"\(4, 28, 28\) and \(3,\)"):
        DataLoader((pixels(4), np.arange(3)))
    with pytest.raises(TypeError, match="labels should be integers"):
        DataLoader((pixels(4), np.zeros(4)))
    with pytest.raises(TypeError, match="pair"):
        DataLoader(pixels(4))
    assert "batch_size=2" in repr(DataLoader((pixels(4), np.arange(4)), 2))


def test_cuda_loader_keeps_data_on_device(device):
    loader = DataLoader((pixels(8), np.arange(8)), 3, shuffle=True, seed=0, device=device)
    assert backend.device_of(loader.images) == device == backend.device_of(loader.labels)
    for x, y in loader:
        assert x.device == device and y.device == device


def test_labels_changed_in_place_are_checked_again(device):
    """The range a DataLoader checked once is trusted only while the labels are unchanged."""
    images, labels = np.zeros((4, 3), np.float32), np.array([0, 1, 2, 1])
    _, y = next(iter(DataLoader((images, labels), batch_size=4, device=device)))
    logits = tg.zeros(4, 3, requires_grad=True, device=device)
    F.cross_entropy(logits, y)  # in range
    y += 1                      # now [1, 2, 3, 2]: 3 is out of range for 3 classes
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(logits, y)


def test_loader_seed_must_be_an_int():
    with pytest.raises(TypeError, match="seed"):
        DataLoader((np.zeros((4, 2)), np.arange(4)), 2, shuffle=True, seed=1.7)
