"""One registry for everything a user names on the command line or in a spec: scene families,
encoders, probes, views and executors. Registering a name twice is an error; looking up an
unknown one says which names exist and the closest one ("did you mean")."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' for the closest choice, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


class UnknownNameError(ValueError):
    """A name that is not in a registry; the message is one line."""


class Registry(Generic[T]):
    """Names → entries, in registration order.

    ``what`` names the kind of entry in messages ("encoder", "scene family"). ``load`` is called
    once before the first lookup, for registries whose entries live in modules imported lazily.
    ``error`` is the exception class an unknown name raises (a subclass of the caller's own error
    type keeps its CLI's one-line handling).
    """

    def __init__(self, what: str, *, load: Callable[[], None] | None = None,
                 error: type[Exception] = UnknownNameError):
        self.what, self._load, self.error = what, load, error
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise RuntimeError(f"{self.what} {name!r} registered twice")
        self._entries[name] = entry
        return entry

    def add(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`register`."""
        return lambda entry: self.register(name, entry)

    def _loaded(self) -> dict[str, T]:
        if self._load is not None:
            load, self._load = self._load, None
            load()
        return self._entries

    def __getitem__(self, name: str) -> T:
        entries = self._loaded()
        if name not in entries:
            raise self.error(f"unknown {self.what} {name!r}{did_you_mean(name, entries)}; "
                             f"allowed: {', '.join(entries)}")
        return entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._loaded()))

    def __len__(self) -> int:
        return len(self._loaded())

    def names(self) -> list[str]:
        return list(self._loaded())

    def items(self) -> list[tuple[str, T]]:
        return list(self._loaded().items())

    def values(self) -> list[T]:
        return list(self._loaded().values())
