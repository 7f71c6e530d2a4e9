"""Allocator tuning: ask glibc's malloc to keep large freed blocks for reuse.

A training step allocates and frees the same activation-sized arrays (megabytes each) every
step. By default glibc serves each from fresh ``mmap`` pages and unmaps it on free, so every
step pays a page fault per 4 KiB and the kernel zeroes every page. Raising malloc's mmap
threshold (to glibc's 32 MiB maximum) and its trim threshold (64 MiB) keeps those blocks in the
heap for the next step: the same effect as PyTorch's caching allocators. The trim threshold bounds
the freed memory kept from the OS.

This is process-wide and Linux/glibc only. ``import tinygrad_bn`` calls ``keep_freed_memory()``
once (see the end of ``__init__.py``; the README has the measurements); set the environment
variable ``TINYGRAD_BN_NO_MALLOPT=1`` before importing to leave malloc alone.
"""
from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 32 * 2**20  # blocks below this come from the heap (glibc's maximum)
TRIM_THRESHOLD = 64 * 2**20  # free memory kept at the top of the heap before returning it


def keep_freed_memory() -> bool:
    """Set malloc's mmap and trim thresholds (see the module docstring). Returns True when they
    were set, False where there is nothing to tune (not Linux/glibc) or the user opted out."""
    if not sys.platform.startswith("linux") or os.environ.get("TINYGRAD_BN_NO_MALLOPT", "") not in ("", "0"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl): nothing to tune
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
