"""``simgen merge OUT SRC...``: fold shard directories rendered apart into one dataset.

Shards rendered on machines without a shared filesystem each hold part of the clips. Merging
copies every recorded clip (hard-linking where the filesystem allows) and records it in OUT,
so the result is byte-identical to one run. Sources must come from the same resolved spec.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from simgen.dataset.format import (
    Dataset,
    DatasetError,
    DatasetWriter,
    differing_packages,
    metadata_line,
    same_bytes,
)
from simgen.dataset.io import atomic_path


@dataclass
class MergeSummary:
    out: str
    clips_copied: int
    clips_present: int
    clips_missing: int


def _link_or_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def merge_datasets(out: str | os.PathLike, sources: list[str | os.PathLike]) -> MergeSummary:
    if not sources:
        raise ValueError("merge: name at least one source directory")
    datasets = [Dataset(s) for s in sources]
    first = datasets[0]
    for ds in datasets[1:]:
        if ds.info.fingerprint != first.info.fingerprint:
            raise DatasetError(f"{ds.root} was made from another spec or seed than {first.root} "
                               f"(fingerprint {ds.info.fingerprint} vs {first.info.fingerprint}); cannot merge")
        if ds.info.versions != first.info.versions:
            raise DatasetError(f"{ds.root} was made by simgen {' and '.join(ds.info.versions)}, {first.root} by "
                               f"simgen {' and '.join(first.info.versions)}; merging would mix clips of both: "
                               f"re-render the shards with one version")
        if not same_bytes(ds.info.generator, first.info.generator):
            theirs, mine = differing_packages(first.info, ds.info.generator)
            raise DatasetError(f"{ds.root} was made with {mine}, {first.root} with {theirs}; merging would mix clips "
                               f"of both: re-render the shards with one set of versions")
    try:
        writer = DatasetWriter(out, first.info)
    except DatasetError as e:  # the writer's advice (--force) is render's: merge has no such option
        raise DatasetError(str(e).split("; use another --out")[0] + "; merge into another directory, or delete this "
                           "one first") from None
    done = writer.completed()
    copied = 0
    for ds in datasets:
        if ds.root.resolve() == writer.root.resolve():
            continue
        for clip in ds.clips():
            if clip.clip_id in done or not (clip.video_path.is_file() and clip.label_path.is_file()):
                continue
            target = writer.root / clip.split
            _link_or_copy(clip.video_path, target / clip.video_path.name)
            _link_or_copy(clip.label_path, target / clip.label_path.name)
            writer.record(clip.split, metadata_line(clip.clip_id, clip.group_id, clip.targets))
            done.add(clip.clip_id)
            copied += 1
    missing = writer.finalize()
    return MergeSummary(str(writer.root), copied, first.info.total - missing, missing)
