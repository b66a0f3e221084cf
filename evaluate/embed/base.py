"""Where embeddings are computed: the executor interface and its registry.

An executor takes one encoder spec and fills the embedding cache for every (dataset, view, clip)
still missing from it. ``local`` (evaluate/embed/local.py) runs the encoder in this process;
``ray`` (evaluate/embed/ray.py) on Ray actors, one per GPU. Both write the same cache keys, so a
run stopped part-way resumes with either.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from evaluate.config import ExecutorName, RunConfig, choices
from evaluate.data.dataset import EvalDataset
from evaluate.embed.cache import EmbeddingCache
from evaluate.progress import Log, Progress
from simgen.registry import Registry

Bad = dict[tuple[str, str], str]  # (dataset, clip id) -> why the clip is left out


@dataclass
class Embedded:
    """One encoder's embeddings of every dataset: where they are in the cache, and what it cost."""

    encoder: str  # the spec, normalised
    identity: dict[str, Any]
    notes: list[str]
    groups: dict[tuple[str, str], Path]  # (dataset, view) -> cache folder holding its embeddings
    timings: dict[str, float]


def cache_groups(cache: EmbeddingCache, kind: str, identity: dict[str, Any], datasets: list[EvalDataset],
                 views: list[str]) -> dict[tuple[str, str], Path]:
    return {(d.name, v): cache.group_dir(kind, identity, v, d.fingerprint) for d in datasets for v in views}


class Executor(ABC):
    name: ClassVar[str]

    def __init__(self, config: RunConfig, cache: EmbeddingCache, log: Log, progress: Progress):
        self.config, self.cache, self.log, self.progress = config, cache, log, progress

    @abstractmethod
    def embed(self, spec: str, datasets: list[EvalDataset], views: list[str], bad: Bad) -> Embedded:
        """Embed every dataset under every view with ``spec`` into the cache. Clips that cannot be
        decoded go into ``bad`` (with ``skip_bad``) or raise. Raises EncoderError when the encoder
        cannot be built: the run skips it and goes on."""


def _load_executors() -> None:
    for name in choices(ExecutorName):
        importlib.import_module(f"evaluate.embed.{name}")


EXECUTORS: Registry[type[Executor]] = Registry("executor", load=_load_executors)
