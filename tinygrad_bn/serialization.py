"""Checkpoints: ``save(obj, path)`` and ``load(path)``, in NumPy's ``.npz`` format, pickle-free.

What can be saved
-----------------
A model's ``state_dict()`` (names -> arrays) or a whole training checkpoint nesting ``dict``,
``list``, ``tuple``, ``None``, ``bool``, ``int``, ``float``, ``str`` and arrays::

    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "epoch": 7, "rng": rng_state}, "ckpt.npz")

Tensors and CuPy arrays are saved as NumPy arrays (copied off the GPU), so ``load`` always
returns NumPy arrays; ``Module.load_state_dict`` / ``Optimizer.load_state_dict`` put them back on
the right device. Every value round-trips exactly: dtypes (float32 stays float32), Python ints of
any size, floats to the last bit (NaN and infinities too), int dictionary keys (the optimizer's
parameter indices), and tuples stay tuples. Two references to one array are saved, and loaded, as
two copies.

File format
-----------
A ``.npz`` file is a zip archive of ``.npy`` files, one per array; ``np.load`` opens it.

* A FLAT state_dict -- a dict whose keys are all ``str`` and whose values are all arrays or
  Tensors, such as ``model.state_dict()`` -- is stored as exactly its keys: one entry per key,
  named by the key, and nothing else, so ``np.load(path).files`` lists the state_dict's keys.
  ``load`` returns it as the same flat dict of names -> NumPy arrays.
* Anything else (a training checkpoint nesting dicts, lists, numbers, ...) stores every array as
  one entry, named by its path of dictionary keys and list indices joined with ``'/'``. A key's
  own dots are kept, not treated as nesting: the checkpoint above holds entries such as
  ``'model/features.0.weight'`` and ``'optimizer/state/0/exp_avg'``. Everything else -- the
  nesting and the non-array values -- is ONE JSON document stored as a string (a 0-d NumPy
  unicode array) in the entry ``'__structure__'``. In it, JSON's own ``null``,
  ``true``/``false``, numbers and strings stand for None, bools, ints, floats and str (Python's
  ``json`` keeps ``1`` and ``1.0`` apart). Every container or array is a JSON object with one
  key naming its type::

      {"dict":  [[key, value], ...]}    pairs, so that int keys stay ints
      {"list":  [value, ...]}
      {"tuple": [value, ...]}
      {"array": "entry name"}            the .npy entry holding that array

  For example ``{"epoch": 7, "betas": (0.9, 0.999), "w": array}`` is stored as the entry ``'w'``
  and the structure
  ``{"dict": [["epoch", 7], ["betas", {"tuple": [0.9, 0.999]}], ["w", {"array": "w"}]]}``.

A ``.npz`` without ``'__structure__'`` (a flat state_dict, or a file written by ``np.savez``,
e.g. weights converted from PyTorch) loads as a flat dict of its entries.

Safety
------
Loading never executes code: every member must be a ``.npy`` array, read with NumPy's
``.npy`` header parser (object arrays are refused before any of their bytes are read), and the
structure is parsed as JSON. What is not a checkpoint -- random bytes, a pickle, a zip with
members that are not ``.npy`` arrays, object arrays, a corrupt structure entry -- is refused
with a ``CheckpointError`` (a ValueError) whose message starts with
``not a tinygrad_bn checkpoint: <path>``. Object arrays are also refused when saving.

Writing is atomic: the archive is written to a temporary file in the target's directory,
flushed and ``fsync``-ed to disk, then renamed over the target with ``os.replace`` (atomic on
POSIX and Windows). A crash or error part-way leaves the previous checkpoint intact: ``path``
holds either the old complete file or the new complete file, never a truncated one. An error or
Ctrl-C removes the temporary file at once; a process killed outright (``kill -9``, a power cut)
cannot, so the temporary file names the writer's process id and the next ``save`` to the same
path removes temporary files whose writer is no longer running. When ``path`` is a symbolic
link, the file it points to is replaced and the link is kept.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import zipfile
from typing import Any

import numpy as np

from . import backend
from .tensor import Tensor

STRUCTURE_KEY = "__structure__"


class CheckpointError(ValueError):
    """A file that ``load`` refuses: not a tinygrad_bn checkpoint, or a corrupt one. The message
    starts with ``not a tinygrad_bn checkpoint: <path>``."""


_SCALARS = (type(None), bool, int, float, str)


# ================================================================ encoding
def _encode(obj, path: tuple, arrays: dict) -> Any:
    """The JSON description of `obj`; its arrays go into `arrays` (entry name -> NumPy array)."""
    if isinstance(obj, Tensor):
        obj = obj.array
    if backend.is_array(obj) or isinstance(obj, np.generic):  # a NumPy scalar saves as a 0-d array
        array = np.asarray(backend.to_numpy(obj))
        where = "/".join(path) or "the object"
        if array.dtype.hasobject:
            raise TypeError(f"cannot save {where}: object arrays can only be stored by pickling, "
                            "which tg.save never does; convert it to a numeric array")
        name = "/".join(path) or "root"
        if name in arrays or name == STRUCTURE_KEY:
            raise ValueError(f"cannot save {where}: its entry name {name!r} is already taken "
                             "(keys that differ only as int/str, or that contain '/', can collide)")
        arrays[name] = array
        return {"array": name}
    if isinstance(obj, _SCALARS):
        return obj
    if isinstance(obj, dict):
        pairs = []
        for key, value in obj.items():
            if not isinstance(key, _SCALARS):
                raise TypeError(f"cannot save dict key {key!r} of type {type(key).__name__} at "
                                f"{'/'.join(path) or 'the top level'}: keys must be str, int, "
                                "float, bool or None")
            pairs.append([key, _encode(value, path + (str(key),), arrays)])
        return {"dict": pairs}
    if isinstance(obj, (list, tuple)):
        items = [_encode(value, path + (str(i),), arrays) for i, value in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    raise TypeError(f"cannot save an object of type {type(obj).__name__} at "
                    f"{'/'.join(path) or 'the top level'}: checkpoints hold dicts, lists, "
                    "tuples, None, bool, int, float, str, arrays and Tensors")


def _decode(node, arrays: dict) -> Any:
    """Rebuild the object that `_encode` described as `node`."""
    if not isinstance(node, dict):
        return node  # None, bool, int, float or str
    if len(node) != 1:
        raise ValueError(f"corrupt checkpoint structure: {node!r}")
    (kind, content), = node.items()
    if kind == "array":
        if content not in arrays:
            raise ValueError(f"corrupt checkpoint: the structure names a missing array {content!r}")
        return arrays[content]
    if kind == "dict":
        return {key: _decode(value, arrays) for key, value in content}
    if kind == "list":
        return [_decode(value, arrays) for value in content]
    if kind == "tuple":
        return tuple(_decode(value, arrays) for value in content)
    raise ValueError(f"corrupt checkpoint structure: unknown type {kind!r}")


# ================================================================ save
def _is_flat_state_dict(obj) -> bool:
    """A non-empty dict of str -> arrays/Tensors: stored as exactly its keys, no structure entry."""
    return (isinstance(obj, dict) and len(obj) > 0 and STRUCTURE_KEY not in obj
            and all(isinstance(key, str) and key for key in obj)
            and all(isinstance(v, Tensor) or backend.is_array(v) or isinstance(v, np.generic)
                    for v in obj.values()))


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a state_dict or a nested checkpoint to a ``.npz`` file, atomically and pickle-free.

    See the module docstring for what can be saved and the file format. The file is written
    exactly at `path` (unlike ``np.savez``, no ``.npz`` suffix is added); when `path` is a
    symbolic link, the file it points to is replaced.

    Args:
        obj: a dict of names -> arrays/Tensors (stored as exactly those names), or any nesting
            of dict, list, tuple, None, bool, int, float, str, NumPy/CuPy arrays and Tensors.
        path (str or os.PathLike): the file to write; an existing file is replaced only once
            the new one is completely on disk.

    Example:
        >>> tg.save(model.state_dict(), "model.npz")
        >>> model.load_state_dict(tg.load("model.npz"))
    """
    arrays: dict[str, np.ndarray] = {}
    if _is_flat_state_dict(obj):
        for key, value in obj.items():
            _encode(value, (key,), arrays)  # the same checks (no object arrays); entry = key
    else:  # all checks happen before touching disk
        arrays[STRUCTURE_KEY] = np.array(json.dumps(_encode(obj, (), arrays)))

    target = os.path.realpath(os.fspath(path))  # through a symlink: replace the file it names
    directory, filename = os.path.split(target)
    _remove_stale_temporaries(directory, filename)
    # Same directory as the target, so that os.replace is a rename within one file system. The
    # process id in the name lets a later save tell a dead writer's leftover from a live one.
    tmp_path = os.path.join(directory, f".{filename}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp_path, "xb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them `path`
        os.replace(tmp_path, target)
    except BaseException:  # includes KeyboardInterrupt: never leave the temporary file behind
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    _fsync_directory(directory)  # make the rename itself durable


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` as an uncompressed .npz (a zip of .npy files) into the open file `f`."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", mode="w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)


def _remove_stale_temporaries(directory: str, filename: str) -> None:
    """Remove the temporary files that saves to `filename` left when their process was killed.

    A temporary file is ``.<filename>.<pid>.<8 hex digits>.tmp``; it is stale when process
    <pid> no longer runs (a live writer's file is left alone). Names without a process id come
    from older versions, which removed their temporary files themselves unless killed: stale too.
    """
    pattern = re.compile(rf"\.{re.escape(filename)}\.(?:(\d+)\.)?[0-9a-f]{{8}}\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:
        return  # the save itself will report the problem with the directory
    for name in names:
        match = pattern.fullmatch(name)
        if match and (match.group(1) is None or not _process_alive(int(match.group(1)))):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass  # another save removed it first, or it is not ours to remove


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows, os.kill(pid, 0) would signal it
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, ValueError, OverflowError):  # another user's process, or no way to tell
        return True
    return True


def _fsync_directory(directory: str) -> None:
    """Flush a directory's entry list to disk (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ================================================================ load
def load(path: str | os.PathLike) -> Any:
    """Load what ``save`` wrote, with NumPy arrays in place of arrays and Tensors.

    Never executes code from the file. A flat state_dict, or a ``.npz`` written by ``np.savez``,
    loads as a flat dict name -> array; a single ``.npy`` file as its array.

    Args:
        path (str or os.PathLike): the file to read.

    Returns:
        The saved object: for a state_dict, the same flat dict of names -> NumPy arrays.

    Raises:
        FileNotFoundError: no file at `path`.
        CheckpointError (a ValueError): the file is not a tinygrad_bn checkpoint (random bytes,
            a pickle, a truncated archive, members that are not ``.npy`` arrays, object arrays,
            a corrupt structure entry); the message names the path and what is wrong.
    """
    where = os.fspath(path)
    with open(where, "rb") as f:
        if f.read(6) == b"\x93NUMPY":  # a single .npy file
            f.seek(0)
            return _read_array(f, where, "the array", os.fstat(f.fileno()).st_size)
        f.seek(0)
        if not zipfile.is_zipfile(f):
            raise CheckpointError(f"not a tinygrad_bn checkpoint: {where} (not a .npz archive, "
                                  "or a truncated one)")
        f.seek(0)
        arrays = _read_npz(f, where)
    if STRUCTURE_KEY not in arrays:
        return arrays
    text = arrays.pop(STRUCTURE_KEY)
    try:
        if text.dtype.kind != "U" or text.ndim != 0:
            raise ValueError(f"a {text.dtype} array of shape {text.shape}, not a string")
        return _decode(json.loads(str(text[()])), arrays)
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: corrupt structure entry "
                              f"{STRUCTURE_KEY!r}: {err}") from None


def _read_npz(f, where: str) -> dict:
    """Every member of the archive `f` as name -> array; anything but plain .npy arrays is refused."""
    arrays = {}
    try:
        with zipfile.ZipFile(f) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: member "
                                          f"{info.filename!r} is not a .npy array")
                name = info.filename[:-len(".npy")]
                with archive.open(info) as entry:
                    arrays[name] = _read_array(entry, where, f"entry {name!r}", info.file_size)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as err:
        raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: corrupt archive ({err})") from None
    return arrays


def _read_array(f, where: str, what: str, size: int) -> np.ndarray:
    """One .npy array from the open file `f` of `size` bytes, refusing object arrays, and
    headers that promise more data than the file holds, BEFORE reading (or allocating) it."""
    try:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = header(f)
    except ValueError as err:
        raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: {what} is not a valid "
                              f".npy array ({err})") from None
    if dtype.hasobject:
        raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: {what} holds Python "
                              "objects, not numbers; tg.load reads only numeric and string arrays, "
                              "because reading objects could run code")
    count = math.prod(shape)  # Python ints: a forged header cannot overflow them
    promised, held = count * dtype.itemsize, size - f.tell()
    if promised > held:
        raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: {what} is truncated (its "
                              f"header promises {promised} bytes of data, the file holds {held})")
    buffer = bytearray(promised)  # read straight into memory the array will own
    view, filled = memoryview(buffer), 0
    while filled < len(buffer):
        n = f.readinto(view[filled:])
        if not n:
            raise CheckpointError(f"not a tinygrad_bn checkpoint: {where}: {what} is truncated")
        filled += n
    array = np.frombuffer(buffer, dtype=dtype, count=count)  # writable: a bytearray's memory
    if fortran_order:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


__all__ = ["save", "load", "CheckpointError"]
