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
A ``.npz`` file is a zip archive of ``.npy`` files, one per array; ``np.load`` opens it. Here:

* Every array is one entry, named by its path of dictionary keys and list indices joined with
  ``'/'``. A key's own dots are kept, not treated as nesting: the checkpoint above holds entries
  such as ``'model/features.0.weight'`` and ``'optimizer/state/0/exp_avg'``. A plain state_dict
  is stored under its own names (``'features.0.weight'``).
* Everything else -- the nesting and the non-array values -- is ONE JSON document stored as a
  string (a 0-d NumPy unicode array) in the entry ``'__structure__'``. In it, JSON's own
  ``null``, ``true``/``false``, numbers and strings stand for None, bools, ints, floats and str
  (Python's ``json`` keeps ``1`` and ``1.0`` apart). Every container or array is a JSON object
  with one key naming its type::

      {"dict":  [[key, value], ...]}    pairs, so that int keys stay ints
      {"list":  [value, ...]}
      {"tuple": [value, ...]}
      {"array": "entry name"}            the .npy entry holding that array

  For example ``{"epoch": 7, "betas": (0.9, 0.999), "w": array}`` is stored as the entry ``'w'``
  and the structure
  ``{"dict": [["epoch", 7], ["betas", {"tuple": [0.9, 0.999]}], ["w", {"array": "w"}]]}``.

A ``.npz`` without ``'__structure__'`` (written by ``np.savez``, e.g. weights converted from
PyTorch) loads as a flat dict of its entries.

Safety
------
Loading never executes code: arrays are read with ``np.load(..., allow_pickle=False)`` and the
structure is parsed as JSON. Object arrays (which NumPy can only store by pickling) are refused
when saving and when loading.

Writing is atomic: the archive is written to a temporary file in the same directory, flushed
and ``fsync``-ed to disk, then renamed over ``path`` with ``os.replace`` (atomic on POSIX and
Windows). A crash or error part-way leaves the previous checkpoint intact and no stray temporary
file: ``path`` holds either the old complete file or the new complete file, never a truncated one.
"""
from __future__ import annotations

import json
import os
import secrets
import zipfile
from typing import Any

import numpy as np

from . import backend
from .tensor import Tensor

STRUCTURE_KEY = "__structure__"
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


# ================================================================ save / load
def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a state_dict or a nested checkpoint to a ``.npz`` file, atomically and pickle-free.

    See the module docstring for what can be saved and the file format. The file is written
    exactly at `path` (unlike ``np.savez``, no ``.npz`` suffix is added).

    Args:
        obj: a dict of names -> arrays/Tensors, or any nesting of dict, list, tuple, None, bool,
            int, float, str, NumPy/CuPy arrays and Tensors.
        path (str or os.PathLike): the file to write; an existing file is replaced only once
            the new one is completely on disk.

    Example:
        >>> tg.save(model.state_dict(), "model.npz")
        >>> model.load_state_dict(tg.load("model.npz"))
    """
    arrays: dict[str, np.ndarray] = {}
    structure = json.dumps(_encode(obj, (), arrays))  # all checks happen before touching disk

    path = os.fspath(path)
    directory, filename = os.path.split(os.path.abspath(path))
    # Same directory as the target, so that os.replace is a rename within one file system.
    tmp_path = os.path.join(directory, f".{filename}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp_path, "xb") as f:
            _write_npz(f, {**arrays, STRUCTURE_KEY: np.array(structure)})
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them `path`
        os.replace(tmp_path, path)
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


def load(path: str | os.PathLike) -> Any:
    """Load what ``save`` wrote, with NumPy arrays in place of arrays and Tensors.

    Never executes code from the file (no pickle). A ``.npz`` written by ``np.savez`` loads
    as a flat dict name -> array.

    Args:
        path (str or os.PathLike): the file to read.

    Returns:
        The saved object: for a state_dict, the same flat dict of names -> NumPy arrays.
    """
    arrays = {}
    npz = np.load(path, allow_pickle=False)
    if isinstance(npz, np.ndarray):  # a single .npy file
        return npz
    with npz:
        for name in npz.files:
            try:
                arrays[name] = npz[name]
            except ValueError as err:
                if "allow_pickle" not in str(err):
                    raise
                raise ValueError(f"{os.fspath(path)}: entry {name!r} is a pickled object array; "
                                 "tg.load refuses pickles because unpickling can run arbitrary "
                                 "code") from err
    if STRUCTURE_KEY not in arrays:
        return arrays
    structure = json.loads(str(arrays.pop(STRUCTURE_KEY)[()]))
    return _decode(structure, arrays)


__all__ = ["save", "load"]
