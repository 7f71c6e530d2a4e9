"""Write CuPy's namespace, as an installed CuPy has it, to tests/standin/cupy_names.json.

The CPU stand-in for CuPy (tests/standin) exposes exactly these names and refuses keyword
arguments that these signatures do not list, so the test suite catches code that works on NumPy
but not on CuPy. Importing CuPy needs no GPU, so this runs on any machine:

    python3 -m venv /tmp/cupyenv && /tmp/cupyenv/bin/pip install 'cupy-cuda12x==14.2.*'
    /tmp/cupyenv/bin/python tools/cupy_names.py            # rewrites tests/standin/cupy_names.json

CuPy itself is not a dependency of the project: only this script imports it, by hand.

Each namespace maps a public name to what it is:
    {"kind": "numpy", "object": "numpy.float32"}     the very object NumPy has (dtypes, constants, ...)
    {"kind": "ufunc", "nin": 2, "nout": 1, "types": ["??->?", "bb->b", ...]}
                                                     a CuPy ufunc and its loops, in the order CuPy
                                                     tries them (keywords: out, dtype, casting)
    {"kind": "function", "params": [...] | null}     a function; params as in a signature:
                                                     "a", "dtype=None", "*", "*args", "/", "**kwargs"
    {"kind": "method", "params": [...] | null}       the same, for a class member (without self)
    {"kind": "class"}, {"kind": "module"}, {"kind": "attribute"}, {"kind": "constant", "value": 1.0},
    {"kind": "object", "type": "nd_grid"}            anything else (cupy.ogrid is an nd_grid instance)
"params" is null where neither Python nor the docstring gives a signature.
"""
from __future__ import annotations

import inspect
import json
import pathlib
import re
import sys
import types
import warnings

import numpy

import cupy
import cupy.cuda.runtime
import cupy.lib.stride_tricks
import cupyx
import cupyx.scipy.special

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "standin" / "cupy_names.json"

# The namespaces the stand-in mirrors: the library reaches cupy, cupy.random, cupy.cuda (devices,
# streams), cupyx.scatter_add and cupyx.scipy.special.erf; linalg is listed for ops that may come.
MODULES = {
    "cupy": cupy, "cupy.random": cupy.random, "cupy.linalg": cupy.linalg, "cupy.cuda": cupy.cuda,
    "cupy.cuda.runtime": cupy.cuda.runtime, "cupyx": cupyx, "cupyx.scipy": cupyx.scipy,
    "cupyx.scipy.special": cupyx.scipy.special, "cupy.lib": cupy.lib,
    "cupy.lib.stride_tricks": cupy.lib.stride_tricks,
}
CLASSES = {
    "cupy.ndarray": cupy.ndarray, "cupy.ufunc": cupy.ufunc,
    "cupy.random.Generator": cupy.random.Generator, "cupy.cuda.Device": cupy.cuda.Device,
    "cupy.cuda.Stream": cupy.cuda.Stream, "cupy.cuda.Event": cupy.cuda.Event,
}
# Dunder members of ndarray that are part of its behaviour (operators, conversions, protocols).
NDARRAY_DUNDERS_SKIPPED = {
    "__class__", "__delattr__", "__dir__", "__doc__", "__getattribute__", "__init__",
    "__init_subclass__", "__module__", "__new__", "__pyx_vtable__", "__reduce_ex__", "__setattr__",
    "__sizeof__", "__slots__", "__subclasshook__", "__getstate__", "__format__",
}


def split_top_level(text: str) -> list[str]:
    """'a, b=(1, 2), c="x,y"' -> ['a', 'b=(1, 2)', 'c="x,y"']: commas outside brackets/quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def short_default(value) -> str:
    if isinstance(value, type):
        module = value.__module__
        return value.__name__ if module == "builtins" else f"{module.split('.')[0]}.{value.__name__}"
    text = repr(value)
    return text if len(text) <= 40 else "..."


def params_from_signature(sig: inspect.Signature) -> list[str]:
    out, saw_keyword_only, kinds = [], False, inspect.Parameter
    params = [p for p in sig.parameters.values() if p.name != "self"]
    for i, p in enumerate(params):
        if p.kind == kinds.KEYWORD_ONLY and not saw_keyword_only:
            out.append("*")
        saw_keyword_only |= p.kind in (kinds.KEYWORD_ONLY, kinds.VAR_POSITIONAL)
        text = {kinds.VAR_POSITIONAL: "*", kinds.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.default is not p.empty:
            text += "=" + short_default(p.default)
        out.append(text)
        last_positional_only = p.kind == kinds.POSITIONAL_ONLY and (
            i + 1 == len(params) or params[i + 1].kind != kinds.POSITIONAL_ONLY)
        if last_positional_only:
            out.append("/")
    return out


def params_from_docstring(obj) -> list[str] | None:
    """Cython methods carry their signature as the docstring's first line:
    '_ndarray_base.sum(self, axis=None, dtype=None, out=None, keepdims=False) -> _ndarray_base'."""
    first = (obj.__doc__ or "").strip().splitlines()[:1]
    match = re.match(r"^[\w.]+\((.*)\)(\s*->.*)?$", first[0]) if first else None
    if not match:
        return None
    params = []
    for part in split_top_level(match.group(1).replace("\\*", "*")):
        name, eq, default = part.partition("=")
        name = name.split()[-1]  # 'int axis' (a Cython typed argument) -> 'axis'
        if name != "self":
            params.append(name + (eq + default.strip() if eq else ""))
    return params


def params_of(obj) -> list[str] | None:
    try:
        return params_from_signature(inspect.signature(obj))
    except (TypeError, ValueError):
        return params_from_docstring(obj)


def numpy_path(obj, name: str) -> str | None:
    """'numpy.float32' when `obj` is NumPy's own object (CuPy re-exports dtypes, constants, ...)."""
    if obj is getattr(numpy, name, None) and not isinstance(obj, types.ModuleType):
        return f"numpy.{name}"
    if isinstance(obj, type) and obj.__module__.split(".")[0] == "numpy":
        path = f"{obj.__module__}.{obj.__qualname__}"
        module, _, attr = path.rpartition(".")
        if getattr(sys.modules.get(module), attr, None) is obj:
            return path
        if issubclass(obj, numpy.generic):  # numpy.float64 reports module 'numpy'
            return f"numpy.{numpy.dtype(obj).name}" if obj is numpy.dtype(obj).type else None
    return None


def describe(obj, name: str) -> dict:
    path = numpy_path(obj, name)
    if path:
        return {"kind": "numpy", "object": path}
    if isinstance(obj, cupy.ufunc):  # its loops, in the order CuPy tries them: 'ff->f', ...
        return {"kind": "ufunc", "nin": obj.nin, "nout": obj.nout, "types": list(obj.types)}
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    if isinstance(obj, type):
        return {"kind": "class"}
    if callable(obj):
        return {"kind": "function", "params": params_of(obj)}
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return {"kind": "constant", "value": obj}
    return {"kind": "object", "type": type(obj).__name__}


def describe_member(cls, name: str) -> dict:
    member = inspect.getattr_static(cls, name)
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if callable(member) and not isinstance(member, type):
        return {"kind": "method", "params": params_of(getattr(cls, name))}
    return {"kind": "attribute"}


def public(names, keep_dunders=()):
    return sorted(n for n in names if not n.startswith("_") or n in keep_dunders)


def dump(document: dict) -> str:
    """JSON with one name per line, so that a regenerated file's diff shows exactly what changed."""
    lines = ["{"]
    for key in ("about", "cupy_version", "numpy_version"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(document[key])},")
    for section in ("modules", "classes"):
        lines.append(f'  "{section}": {{')
        tables = list(document[section].items())
        for i, (path, names) in enumerate(tables):
            lines.append(f"   {json.dumps(path)}: {{")
            lines.append(",\n".join(f"    {json.dumps(name)}: {json.dumps(entry, sort_keys=True)}"
                                    for name, entry in sorted(names.items())))
            lines.append("   }" + ("," if i < len(tables) - 1 else ""))
        lines.append("  }" + ("," if section == "modules" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    warnings.simplefilter("ignore", FutureWarning)  # numpy.bytes & co. warn when looked up
    modules = {}
    for path, module in MODULES.items():
        modules[path] = {n: describe(getattr(module, n), n)
                         for n in public(dir(module), keep_dunders={"__version__"})}
    classes = {}
    for path, cls in CLASSES.items():
        dunders = set()
        if cls is cupy.ndarray:  # its operators and protocols are behaviour the stand-in mirrors
            dunders = {n for n in dir(cls) if n.startswith("__")} - NDARRAY_DUNDERS_SKIPPED
        classes[path] = {n: describe_member(cls, n) for n in public(dir(cls), keep_dunders=dunders)}
    classes["cupy.ndarray"]["__hash__"] = {"kind": "attribute", "value": None}  # unhashable
    document = {
        "about": "CuPy's namespace, written by tools/cupy_names.py; read by tests/standin",
        "cupy_version": cupy.__version__,
        "numpy_version": numpy.__version__,
        "modules": modules,
        "classes": classes,
    }
    OUT.write_text(dump(document))
    counts = ", ".join(f"{p}: {len(v)}" for p, v in {**modules, **classes}.items())
    print(f"wrote {OUT} (CuPy {cupy.__version__}; {counts})")


if __name__ == "__main__":
    main()
