"""What a spawned worker sets up before its first job, so that its memory follows its work and not
what it once held or what its libraries bring along (measured on a 2,000-clip run, bench/memory.py).

- :func:`return_freed_memory`: glibc's malloc serves a block above its mmap threshold with a mapping of
  its own, given back when freed, but raises that threshold to the size of every such block freed (up to
  32 MiB). After a probe's first clips × clips matrix is freed, every later one (4–23 MiB at 2,000 clips)
  comes from the heap, which keeps what it grew to. A fixed threshold keeps the large arrays mappings,
  returned when freed: at 2,000 clips a worker peaks at 279 MiB instead of 318, for 12% more probing time
  (page faults on every large array; nothing at the demo's 200 clips, where none is that large).
- :func:`import_without` pandas: scikit-learn imports pandas (and pandas pyarrow) whenever it is
  installed, only to recognise a DataFrame given to it; a probe worker gives it numpy arrays only. Left
  out, a worker starts at 123 MiB instead of 185 MiB.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.abc
import sys

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc's malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20  # arrays from 1 MiB on (a 1,700-clip matrix is 23 MiB) are mappings of their own


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES in this process; False where the C library is not
    glibc (macOS, musl), which is left as it is."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process was linked with
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


class _Refuse(importlib.abc.MetaPathFinder):
    """Makes ``import`` of the named top-level packages fail as if they were not installed."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def find_spec(self, fullname, path, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (left out of this worker)", name=fullname)
        return None


def import_without(module: str, refused: tuple[str, ...]) -> bool:
    """Import ``module`` with the packages ``refused`` failing to import, as if they were not installed;
    afterwards they import as usual, should anything ask for them. A module that cannot do without them
    is imported with them. True when it was imported without."""
    if any(name in sys.modules for name in refused):
        return False  # too late: already here
    refuse = _Refuse(refused)
    sys.meta_path.insert(0, refuse)
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        pass
    finally:
        sys.meta_path.remove(refuse)
    top = module.partition(".")[0]
    for name in [m for m in sys.modules if m.partition(".")[0] == top]:
        del sys.modules[name]  # half-imported: start again, with them
    importlib.import_module(module)
    return False


def probe_worker() -> None:
    """The probe workers' initializer (evaluate.tasks.probe_pool)."""
    return_freed_memory()
    import_without("sklearn.linear_model", ("pandas", "pyarrow"))  # what the linear probes fit
