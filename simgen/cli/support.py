"""What both command lines (``simgen``, ``evaluate``) do with errors: one red line and exit 1 for
problems a user can fix, tracebacks only with ``--debug``, and a resume hint on Ctrl-C.

Problems a user can fix are the project's own error types, and ``OSError``s about a path the user
gave (a file where a directory belongs, permission denied, a full disk...): those carry the path, and
each gets a line that says what to do. Any other exception is a bug and keeps its traceback."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import Any

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
        if isinstance(e, _click_exceptions()):  # usage errors: click's message, on one line
            prog = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else "the command"
            fail_code = getattr(e, "exit_code", 2)
            console.print(f"[red]error:[/red] {escape(e.format_message())} (see `{prog} --help`)", highlight=False,
                          soft_wrap=True)
            sys.exit(fail_code)
        raise


def _click_exceptions() -> tuple[type[BaseException], ...]:
    """click's ClickException, and typer's vendored copy of it (typer ≥ 0.17 ships its own click)."""
    import importlib

    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def progress_bar(console: Any, *, rate: bool = False, disable: bool = False) -> Any:
    """The rich progress display both CLIs use: description, bar, done/total, [clips/s,] elapsed, eta.
    With ``rate``, each task carries a ``rate`` field (text) shown as clips/s."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if rate:
        columns.append(TextColumn("{task.fields[rate]} clips/s"))
    columns += [TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    return Progress(*columns, console=console, disable=disable)
