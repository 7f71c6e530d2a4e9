"""CuPy's namespace as recorded in cupy_names.json (written by tools/cupy_names.py), and the check
that a call passes only arguments CuPy's signature takes."""
from __future__ import annotations

import functools
import inspect
import json
import pathlib

NAMES = json.loads((pathlib.Path(__file__).with_name("cupy_names.json")).read_text())
CUPY_VERSION = NAMES["cupy_version"]
MODULES: dict = NAMES["modules"]   # 'cupy' -> {'exp': {'kind': 'ufunc', ...}, ...}
CLASSES: dict = NAMES["classes"]   # 'cupy.ndarray' -> {'sum': {'kind': 'method', 'params': [...]}}


@functools.lru_cache(maxsize=None)
def signature(params: tuple) -> inspect.Signature | None:
    """An inspect.Signature from the recorded form: ('a', 'dtype=None', '*', 'copy=None')."""
    P, out, kind = inspect.Parameter, [], inspect.Parameter.POSITIONAL_OR_KEYWORD
    for text in params:
        if text == "/":
            out = [p.replace(kind=P.POSITIONAL_ONLY) for p in out]
        elif text == "*":
            kind = P.KEYWORD_ONLY
        elif text.startswith("**"):
            out.append(P(text[2:], P.VAR_KEYWORD))
        elif text.startswith("*"):
            out.append(P(text[1:], P.VAR_POSITIONAL))
            kind = P.KEYWORD_ONLY
        else:
            name, has_default, _ = text.partition("=")
            out.append(P(name, kind, default=None if has_default else P.empty))
    try:
        return inspect.Signature(out)
    except ValueError:  # a docstring signature Python would not accept: leave the call unchecked
        return None


def check_call(qualname: str, params, args, kwargs) -> None:
    """Raise TypeError, as CuPy would, for a keyword CuPy's `qualname` does not take, too many
    positional arguments, or a missing one. `params` None: CuPy's signature is unknown."""
    sig = signature(tuple(params)) if params is not None else None
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{qualname}(): {e}; CuPy {CUPY_VERSION} takes ({', '.join(params)})") from None


def check_keywords(qualname: str, allowed, kwargs) -> None:
    """Raise TypeError for a keyword outside `allowed` (for callables with **kwargs in CuPy)."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"{qualname}(): unexpected keyword argument(s) {unknown}; CuPy {CUPY_VERSION} "
                        f"takes only {sorted(allowed)}")
