"""pybullet, silenced: its C code prints a "pybullet build time" banner that clutters the terminal."""

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

_libc = ctypes.CDLL(None)


@contextlib.contextmanager
def quiet_c_output() -> Iterator[None]:
    """Send C-level stdout and stderr to /dev/null for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        _libc.fflush(None)  # C's stdio buffers still hold the text: drop it before restoring
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


with quiet_c_output():
    import pybullet as p  # noqa: E402

__all__ = ["p", "quiet_c_output"]
