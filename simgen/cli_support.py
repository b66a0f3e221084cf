"""What both command lines (``simgen``, ``evaluate``) do with errors: one red line and exit 1 for
problems a user can fix, tracebacks only with ``--debug``, and a resume hint on Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape


def run_app(app: typer.Typer, *, console: Console, user_errors: tuple[type[BaseException], ...],
            debug: Callable[[], bool], interrupted: str) -> None:
    try:
        app(standalone_mode=False)
    except user_errors as e:
        if debug():
            raise
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(1)
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
