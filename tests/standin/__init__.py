"""A strict CPU stand-in for CuPy, so every test run exercises the library's `cuda` path.

The library reaches CuPy only through tinygrad_bn/backend.py. ``pytest --cuda=standin`` (or
``TINYGRAD_BN_CUDA=standin``) hands the backend this package's `cupy` and `cupyx` in place of the
real ones when no GPU is present (a real GPU always wins), and the `cuda` copies of the tests run.

Strict where CuPy is strict, so porting slips fail here as they would on a GPU:
- only the names of CuPy 14.2's namespace exist (cupy_names.json, made by tools/cupy_names.py),
  and functions refuse keywords CuPy's signatures lack;
- arrays refuse implicit conversion (``np.asarray(a)`` raises TypeError; ``a.get()``,
  ``cupy.asnumpy(a)`` are the way), NumPy arrays as operands, and lists as ufunc arguments;
- CuPy's dtype rules (its ufunc loop tables, NEP 50 weak scalars), indexing rules (0-d arrays
  instead of scalars, out-of-bounds integer indices wrap, views with ``.base``) and Generator API.
It computes with NumPy underneath, and counts what a GPU would have been asked to do:

    import standin
    with standin.count() as c:
        ...
    c.launches, c.syncs, c.h2d      # kernel launches, host syncs, host->device copies

Layout: counting.py (the counts), names.py (the recorded namespace), array.py (ndarray),
ufunc.py (ufuncs and their loops), routines.py (module functions), random.py (Generator),
cuda.py (devices, streams), modules.py (the strict modules).
"""
from .counting import Counters, Counts, count, counters
from .modules import cupy, cupyx
from .names import CUPY_VERSION

__all__ = ["cupy", "cupyx", "count", "counters", "Counters", "Counts", "CUPY_VERSION"]
