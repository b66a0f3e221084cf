"""Where embeddings are computed: the executor interface and its registry.

An executor takes one encoder spec and fills the embedding cache for every (dataset, view, clip)
still missing from it. ``local`` (evaluate/embed/local.py) runs the encoder in this process;
``ray`` (evaluate/embed/ray.py) on Ray actors, one per GPU. Both write the same cache keys, so a
run stopped part-way resumes with either.

A layer sweep (an encoder with ``layers=``) is embedded once and cached per layer, each layer in
the folder a single-layer spec ``layer=N`` would use: its :class:`Embedded` holds one folder per
layer for each (dataset, view), and :meth:`Embedded.by_layer` splits it into one record per layer
for the probes.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from evaluate.config import ExecutorName, RunConfig, choices
from evaluate.data.dataset import EvalDataset
from evaluate.embed.cache import EmbeddingCache
from evaluate.errors import EncoderError
from evaluate.progress import Log, Progress
from simgen.spec.registry import Registry

Bad = dict[tuple[str, str], str]  # (dataset, clip id) -> why the clip is left out
GroupDirs = Path | dict[int, Path]  # a view's cache folder, or with a layer sweep one folder per layer
LayerIdentities = dict[int, dict[str, Any]]  # a sweep's layer -> the identity its embeddings are cached under


@dataclass
class Embedded:
    """One encoder's embeddings of every dataset: where they are in the cache, and what it cost."""

    encoder: str  # the spec, normalised
    identity: dict[str, Any]
    notes: list[str]
    groups: dict[tuple[str, str], GroupDirs]  # (dataset, view) -> cache folder(s) holding its embeddings
    timings: dict[str, float]
    layer: int | None = None  # which layer of a sweep this record reads (see by_layer)

    def by_layer(self) -> list[Embedded]:
        """One record per layer of a sweep, each reading that layer's folders (notes and timings
        shared with this one), in the sweep's order; [self] for an encoder that is not swept."""
        first = next(iter(self.groups.values()), None)
        if not isinstance(first, dict):
            return [self]
        return [replace(self, groups={key: dirs[layer] for key, dirs in self.groups.items()}, layer=layer)
                for layer in first]


def encoder_layer_identities(encoder: Any) -> LayerIdentities | None:
    """A sweep's identity per layer (the cache key of each), or None for an encoder that is not swept."""
    return {layer: encoder.layer_identity(layer) for layer in encoder.layers} if encoder.layers else None


def layer_dirs(dirs: GroupDirs) -> list[Path]:
    """The folder, or a sweep's folders in layer order."""
    return list(dirs.values()) if isinstance(dirs, dict) else [dirs]


def view_dirs(cache: EmbeddingCache, kind: str, identity: dict[str, Any], layers: LayerIdentities | None, view: str,
              fingerprint: str) -> GroupDirs:
    """Where one view of one dataset is cached: one folder, or one per layer of a sweep."""
    if layers:
        return {layer: cache.group_dir(kind, ident, view, fingerprint) for layer, ident in layers.items()}
    return cache.group_dir(kind, identity, view, fingerprint)


def cache_groups(cache: EmbeddingCache, kind: str, identity: dict[str, Any], datasets: list[EvalDataset],
                 views: list[str], layers: LayerIdentities | None = None) -> dict[tuple[str, str], GroupDirs]:
    return {(d.name, v): view_dirs(cache, kind, identity, layers, v, d.fingerprint) for d in datasets for v in views}


class Executor(ABC):
    name: ClassVar[str]

    def __init__(self, config: RunConfig, cache: EmbeddingCache, log: Log, progress: Progress):
        self.config, self.cache, self.log, self.progress = config, cache, log, progress

    @abstractmethod
    def embed_all(self, specs: list[str], datasets: list[EvalDataset], views: list[str],
                  bad: Bad) -> tuple[list[Embedded], list[tuple[str, EncoderError]]]:
        """Embed every dataset under every view with every encoder of ``specs`` into the cache, each
        clip decoded once for all of them (evaluate.embed.shared). Returns their records in order, and
        [(spec, EncoderError)] for those that cannot be built: the run skips them and goes on. Clips
        that cannot be decoded go into ``bad`` (with ``skip_bad``) or raise."""

    def embed(self, spec: str, datasets: list[EvalDataset], views: list[str], bad: Bad) -> Embedded:
        """One encoder (:meth:`embed_all`); raises EncoderError when it cannot be built."""
        embedded, failed = self.embed_all([spec], datasets, views, bad)
        if failed:
            raise failed[0][1]
        return embedded[0]


def _load_executors() -> None:
    for name in choices(ExecutorName):
        importlib.import_module(f"evaluate.embed.{name}")


EXECUTORS: Registry[type[Executor]] = Registry("executor", load=_load_executors)
