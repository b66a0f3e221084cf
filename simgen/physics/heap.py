"""Keep freed heap memory in the process instead of handing it back to the kernel after every clip.

TinyRenderer, PyAV and numpy allocate and free a few MiB per frame and per clip. glibc's malloc
returns the top of the heap to the kernel (``brk``) as soon as ~128 KiB of it are free, so the next
clip faults every page in again: ~3,700 page faults a group, 4 ms of a 50 ms falling_rising clip.
Raising both thresholds keeps that memory for reuse; peak RSS is unchanged (see bench/render.py).
"""

from __future__ import annotations

import ctypes
import platform
import sys

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Free memory kept at the top of the heap before it is trimmed.
TRIM_THRESHOLD = 64 << 20
# glibc's largest: allocations below it come from the heap. Setting the trim threshold alone
# would switch off the dynamic mmap threshold, and then every frame-sized buffer is its own mmap.
MMAP_THRESHOLD = 32 << 20

_applied = False


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds for this process, once. False where libc is not glibc."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
