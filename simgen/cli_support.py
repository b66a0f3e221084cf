"""What both command lines (``simgen``, ``evaluate``) do with errors: one red line and exit 1 for
problems a user can fix, tracebacks only with ``--debug``, and a resume hint on Ctrl-C.

Problems a user can fix are the project's own error types, and ``OSError``s about a path the user
gave (a file where a directory belongs, permission denied, a full disk...): those carry the path, and
each gets a line that says what to do. Any other exception is a bug and keeps its traceback."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

_OS_HINTS = {
    FileNotFoundError: "no such file or directory",
    IsADirectoryError: "is a directory; give a file",
    NotADirectoryError: "a file is in the way where a directory is needed; give another path",
    PermissionError: "permission denied; choose a path you may write (or read), or change its permissions",
    FileExistsError: "already exists and is in the way; give another path",
}


def os_error_line(e: OSError) -> str | None:
    """One line for an OSError about a user's path (or a full disk); None for anything else."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {e.filename}" if e.filename else ""
        return f"no space left on the device{where}; free some space or choose another output directory"
    if e.filename is None:
        return None
    # A subclass of one of ours (say a PermissionError subclass) takes the first hint that fits.
    hint = next((h for cls, h in _OS_HINTS.items() if isinstance(e, cls)), e.strerror or str(e))
    target = f" → {e.filename2}" if getattr(e, "filename2", None) else ""
    return f"{e.filename}{target}: {hint}"


def run_app(app: typer.Typer, *, console: Console, user_errors: tuple[type[BaseException], ...],
            debug: Callable[[], bool], interrupted: str) -> None:
    def fail(message: str) -> None:
        console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        sys.exit(1)

    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n here
        if isinstance(code, int) and code:
            sys.exit(code)
    except OSError as e:
        line = os_error_line(e)
        if line is None and not isinstance(e, user_errors) or debug():
            raise
        fail(line or str(e))
    except user_errors as e:
        if debug():
            raise
        fail(str(e))
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/yellow]: {interrupted}")
        sys.exit(130)
    except (typer.Exit, SystemExit) as e:
        sys.exit(getattr(e, "exit_code", getattr(e, "code", 0)))
    except Exception as e:
        import click

        if isinstance(e, click.ClickException):  # usage errors: click's own message
            e.show()
            sys.exit(e.exit_code)
        raise
