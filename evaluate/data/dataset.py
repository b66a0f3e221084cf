"""Read simgen datasets for evaluation: targets, splits, groups, and frames decoded lazily.

Frames are decoded a batch at a time (``iter_frames``), so memory does not grow with the
dataset. Only ``simgen.dataset.format`` and ``simgen.dataset.video`` are imported: never pybullet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simgen.dataset.format import (
    CHECKSUMS_FILE,
    DATASET_FILE,
    DIFFERS,
    METADATA_FILE,
    SPLITS,
    ClipRef,
    Dataset,
    DatasetError,
    file_sha256,
    read_checksums,
)
from simgen.families.base import TargetInfo

TRAIN_SPLITS = ("train", "val")  # the probe is fitted on both; C/alpha are tuned by grouped CV inside them
TEST_SPLIT = "test"


@dataclass(frozen=True)
class Target:
    """One label a dataset offers, as declared in its dataset.json."""

    name: str
    kind: str  # "class" or "regression"
    classes: tuple[str, ...] = ()
    unit: str | None = None
    description: str = ""
    # How the value on the time-reversed clip follows from the original clip's targets:
    # {"rule": same|negate|swap_classes|rotate|undefined, "of": target?, "degrees": float?}; None: not declared.
    reversal: dict[str, Any] | None = None
    defined_when: dict[str, str] | None = None  # {class target: class}: scored only on those clips
    period: float | None = None  # circular targets (e.g. 360 for degrees)
    residual_on: tuple[str, ...] = ()  # scored as the part these targets do not explain (log-log OLS)
    in_one_frame: bool | None = None  # the family's promise (simgen audit): may one frame give it?

    @property
    def info(self) -> TargetInfo:
        """simgen's declaration of this target, whose rules (reversal, defined_when) evaluate applies."""
        return TargetInfo.from_dict({"kind": self.kind, "description": self.description, "unit": self.unit,
                                     "classes": self.classes, "reversal": self.reversal,
                                     "defined_when": self.defined_when, "period": self.period,
                                     "residual_on": self.residual_on, "in_one_frame": self.in_one_frame})


@dataclass
class EvalDataset:
    """A simgen dataset as the evaluator sees it."""

    root: Path
    name: str
    fingerprint: str  # simgen's spec+seed fingerprint: the clip bytes are a function of it
    content_hash: str  # sha256 of dataset.json and the metadata files, for results.json
    targets: list[Target]
    frames: int
    width: int
    height: int
    clips: list[ClipRef] = field(repr=False)
    skipped: list[str] = field(default_factory=list, repr=False)  # problems --skip-bad went past, one line each

    def split(self, *splits: str) -> list[ClipRef]:
        return [c for c in self.clips if c.split in splits]


def dataset_name(root: Path) -> str:
    return Path(root).resolve().name


def damaged_clips(ds: Dataset, clips: list[ClipRef]) -> tuple[list[ClipRef], list[str]]:
    """(clips whose files match SHA256SUMS, one problem per file that differs): a byte flipped in an mp4
    that still decodes would otherwise be read without a word. Nothing is checked without a SHA256SUMS
    (an older or unfinished dataset: its completeness is checked elsewhere)."""
    listed, _ = read_checksums(ds.root / CHECKSUMS_FILE)
    if not listed:
        return clips, []
    kept, problems = [], []
    for clip in clips:
        bad = [p for p in (clip.video_path, clip.label_path)
               if listed.get(str(p.relative_to(ds.root))) not in (None, file_sha256(p))]
        problems += [f"{p}: {DIFFERS}" for p in bad]
        if not bad:
            kept.append(clip)
    return kept, problems


def open_dataset(root: str | Path, *, skip_bad: bool = False, verify_hashes: bool = True) -> EvalDataset:
    """Open a dataset directory and verify it (``simgen.dataset.format.Dataset.checked_clips``): damaged
    metadata lines, counts against dataset.json, each clip's files. Raises simgen's DatasetError on
    the first problem; with ``skip_bad`` the intact clips are kept and the problems listed in
    ``skipped``."""
    ds = Dataset(root)
    info = ds.info
    targets = [Target(name, t["kind"], tuple(t.get("classes") or ()), t.get("unit"), t.get("description", ""),
                      t.get("reversal"), t.get("defined_when"), t.get("period"), tuple(t.get("residual_on") or ()),
                      t.get("in_one_frame"))
               for name, t in info.targets.items()]
    h = hashlib.sha256((ds.root / DATASET_FILE).read_bytes())
    for split in SPLITS:
        meta = ds.root / split / METADATA_FILE
        h.update(meta.read_bytes() if meta.is_file() else b"")
    clips, skipped = ds.checked_clips(skip_bad=skip_bad)
    if verify_hashes:  # every clip's bytes against SHA256SUMS (--no-hash-check skips it)
        clips, damaged = damaged_clips(ds, clips)
        if damaged and not skip_bad:
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            raise DatasetError(f"{damaged[0]}{more}; {ds.repair_hint(damaged)} (or pass --skip-bad to go on "
                               f"without them)")
        skipped = [*skipped, *damaged]
    if not clips:
        raise ValueError(f"{root}: dataset has no clips yet (render it with `simgen render`)")
    return EvalDataset(ds.root, dataset_name(ds.root), info.fingerprint, h.hexdigest()[:16], targets,
                       info.frames, info.width, info.height, clips, skipped)


def clip_identity(clip: ClipRef) -> dict[str, Any]:
    """What names one clip's bytes in a cache key: its id, split and file size (a re-render or
    truncation changes the size)."""
    path = clip.video_path
    return {"split": clip.split, "clip_id": clip.clip_id, "bytes": path.stat().st_size if path.is_file() else -1}
