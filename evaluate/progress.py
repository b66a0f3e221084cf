"""Progress of long steps (embedding, probing), reported through one small interface so that the
tasks do not depend on a terminal: the CLI passes a rich progress display, tests and library
callers the silent default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Log = Callable[[str], None]
Advance = Callable[[int], None]


class Progress:
    """Silent: every step is counted by nobody."""

    def task(self, description: str, total: int) -> Advance:
        """Start a step of ``total`` units; the returned function advances it."""
        return lambda _n: None

    def done(self, advance: Advance) -> None:
        """The step is over (its bar is removed or completed)."""


class RichProgress(Progress):
    """Bars on a rich console (stderr in the CLI); on a console that is not a terminal rich draws
    nothing, so piped output and CI logs keep only the log lines."""

    def __init__(self, progress):
        self._progress = progress
        self._tasks: dict[Advance, int] = {}

    def task(self, description: str, total: int) -> Advance:
        task_id = self._progress.add_task(description, total=total)

        def advance(n: int) -> None:
            self._progress.advance(task_id, n)

        self._tasks[advance] = task_id
        return advance

    def done(self, advance: Advance) -> None:
        task_id = self._tasks.pop(advance, None)
        if task_id is not None:
            self._progress.remove_task(task_id)


@contextmanager
def rich_progress(console) -> Iterator[RichProgress]:
    from simgen.cli.support import progress_bar

    with progress_bar(console) as bars:
        bars.live.transient = True  # the bars go when the run ends; the log lines and tables stay
        yield RichProgress(bars)
