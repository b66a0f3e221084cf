"""The on-disk dataset (contract in the README): writer, reader, resume and merge.

Layout::

    DIR/dataset.json                  manifest: format, generator, resolved spec, targets
    DIR/{train,val,test}/<clip>.mp4   the clip
    DIR/{train,val,test}/<clip>.json  its full ground truth
    DIR/{train,val,test}/metadata.jsonl  one line per clip, sorted by clip_id
    DIR/SHA256SUMS                    sha256 of every file above, written when the dataset is complete
    DIR/.journal/shard-K-of-N.jsonl   completion journal of a run in progress

A clip exists only once its metadata line is recorded, and that happens after its mp4 and
json were renamed into place. Each run (or shard) appends to its own journal; journals are
folded into the sorted ``metadata.jsonl`` files under a file lock, so shards can share a
directory and the result does not depend on completion order.

This module must not import pybullet: ``evaluate`` reads datasets on machines without it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simgen.dataset.io import atomic_path, atomic_write, atomic_write_json, leftover_temporaries

# Version of the on-disk format (dataset.json's format_version): the writer records it, the reader
# refuses a newer one.
FORMAT_VERSION = 1
DATASET_FILE = "dataset.json"
METADATA_FILE = "metadata.jsonl"
JOURNAL_DIR = ".journal"
LOCK_FILE = ".lock"
CHECKSUMS_FILE = "SHA256SUMS"  # `sha256sum -c SHA256SUMS` in DIR checks it too
SPLITS = ("train", "val", "test")


class DatasetError(RuntimeError):
    """A dataset directory that cannot be used as asked; the message is one line."""


def dumps_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":")) + "\n"


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class DatasetInfo:
    """The content of dataset.json."""

    format_version: int
    generator: dict[str, str]
    family: str
    fingerprint: str
    seed: int
    fps: int
    frames: int
    width: int
    height: int
    counts: dict[str, int]
    targets: dict[str, dict[str, Any]]
    spec: dict[str, Any]
    # Generators of runs that added clips after ``generator`` although their simgen version differs
    # (`simgen render --allow-mixed-versions`), in order. Written only when there are any.
    resumed_by: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, kind in (("format_version", int), ("generator", dict), ("family", str), ("fingerprint", str),
                           ("seed", int), ("fps", int), ("frames", int), ("width", int), ("height", int),
                           ("counts", dict), ("targets", dict), ("spec", dict), ("resumed_by", list)):
            value = getattr(self, name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DatasetError(f"field {name!r} is {value!r}, not a {kind.__name__}")
        for split, n in self.counts.items():
            if split not in SPLITS or not isinstance(n, int) or n < 0:
                raise DatasetError(f"counts.{split} is {n!r}; counts are whole numbers ≥ 0 for {', '.join(SPLITS)}")
        if any(not isinstance(t, dict) for t in self.targets.values()):
            raise DatasetError("targets: each target must be an object")
        if any(not isinstance(g, dict) for g in self.resumed_by):
            raise DatasetError("resumed_by: each generator must be an object")
        if self.format_version > FORMAT_VERSION:
            raise DatasetError(f"dataset format_version {self.format_version} is newer than this simgen "
                               f"({FORMAT_VERSION}); upgrade simgen")
        for name, t in self.targets.items():
            if t.get("kind") not in ("class", "regression"):
                raise DatasetError(f"target {name!r}: kind must be 'class' or 'regression', got {t.get('kind')!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if not self.resumed_by:
            del d["resumed_by"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInfo:
        fields = cls.__dataclass_fields__
        missing = [k for k, f in fields.items() if k not in d and f.default_factory is MISSING]
        if missing:
            raise DatasetError(f"missing fields {missing}")
        return cls(**{k: d[k] for k in fields if k in d})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def versions(self) -> list[str]:
        """The simgen versions whose clips the dataset holds: the first run's, then each mixed-in one."""
        return [g.get("version", "?") for g in (self.generator, *self.resumed_by)]


def read_info(root: Path) -> DatasetInfo:
    path = root / DATASET_FILE
    if not path.is_file():
        raise DatasetError(f"{root}: not a simgen dataset (no {DATASET_FILE})")
    try:
        raw = json.loads(path.read_text(errors="replace"))
        if not isinstance(raw, dict):
            raise DatasetError(f"{path}: not a JSON object")
        return DatasetInfo.from_dict(raw)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e}); re-render the dataset") from None
    except DatasetError as e:
        raise DatasetError(str(e) if str(e).startswith(str(path)) else f"{path}: {e}") from None
    except (TypeError, AttributeError, KeyError, ValueError) as e:  # fields of the wrong type
        raise DatasetError(f"{path}: malformed ({type(e).__name__}: {e}); re-render the dataset") from None


# What a clip's bytes depend on besides the spec and seed: simgen itself, the physics, the random streams
# (numpy does not promise them across versions) and the video encoder (PyAV and the FFmpeg it ships).
BYTE_PACKAGES = {"version": "simgen", "pybullet": "pybullet", "numpy": "numpy", "av": "av"}


def same_bytes(a: dict[str, str], b: dict[str, str]) -> bool:
    """Two generators make the same bytes: every byte-relevant package both record has one version."""
    return all(a[key] == b[key] for key in BYTE_PACKAGES if key in a and key in b)


def differing_packages(existing: DatasetInfo, mine: dict[str, str]) -> tuple[str, str]:
    """('simgen 0.3.0', 'simgen 0.4.0'): the byte-relevant packages in which this run differs from the
    dataset's generators, as the dataset's and as this run's."""
    generators = (existing.generator, *existing.resumed_by)
    keys = [k for k in BYTE_PACKAGES if k in mine and any(k in g and g[k] != mine[k] for g in generators)]
    theirs = "; ".join(f"{BYTE_PACKAGES[k]} {' and '.join(dict.fromkeys(g[k] for g in generators if k in g))}"
                       for k in keys)
    return theirs, "; ".join(f"{BYTE_PACKAGES[k]} {mine[k]}" for k in keys)


# --------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class ClipRef:
    """One clip of a dataset, as listed in its split's metadata.jsonl."""

    root: Path
    split: str
    clip_id: str
    group_id: str
    targets: dict[str, Any]

    @property
    def video_path(self) -> Path:
        return self.root / self.split / f"{self.clip_id}.mp4"

    @property
    def label_path(self) -> Path:
        return self.root / self.split / f"{self.clip_id}.json"


def metadata_line(clip_id: str, group_id: str, targets: dict[str, Any]) -> dict[str, Any]:
    scalars = {k: v for k, v in targets.items() if isinstance(v, str | int | float | bool) or v is None}
    return {"file_name": f"{clip_id}.mp4", "clip_id": clip_id, "group_id": group_id, **scalars}


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Complete JSON lines of a journal; a torn last line (from a kill) is skipped. Journals are
    append-only, so a torn line is expected there; metadata files are written whole (see
    :func:`read_metadata`)."""
    if not path.is_file():
        return
    with open(path, errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                return
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def _journal_entries(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(split, metadata line) of each well-formed entry of a journal."""
    for entry in _read_lines(path):
        line = entry.get("line") if isinstance(entry, dict) else None
        if isinstance(line, dict) and entry.get("split") in SPLITS and {"clip_id", "group_id"} <= line.keys():
            yield entry["split"], line


REPAIR_HINT = ("repair it by re-running the `simgen render` that made it (same spec, -n and --seed: dataset.json "
               "records them); what is missing is re-made byte-identical")
# A file that is present but differs from SHA256SUMS is not missing: a plain re-run renders nothing.
HASH_REPAIR_HINT = ("repair it with `simgen render SPEC --out {root} -n {total} --seed {seed} --repair` (the spec that "
                    "made it): files that differ from SHA256SUMS are removed and re-made byte-identical")
DIFFERS = f"content differs from {CHECKSUMS_FILE}"


def read_metadata(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(lines, problems) of a split's metadata.jsonl. The file is only ever replaced whole, so a torn
    or unparsable line is damage: each is a problem naming the file and the line, never skipped
    silently."""
    if not path.is_file():
        return [], []
    lines, problems = [], []
    with open(path, errors="replace") as f:
        for number, text in enumerate(f, start=1):
            try:
                line = json.loads(text)
                if not text.endswith("\n"):
                    raise ValueError("torn (no end of line)")
                if not isinstance(line, dict) or not {"clip_id", "group_id"} <= line.keys():
                    raise ValueError("not a clip's line (no clip_id/group_id)")
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                reason = "torn or unparsable" if isinstance(e, json.JSONDecodeError) else str(e)
                problems.append(f"{path}:{number}: {reason}")
                continue
            lines.append(line)
    return lines, problems


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_checksums(path: Path) -> tuple[dict[str, str], list[str]]:
    """({relative path: sha256}, problems) of a SHA256SUMS file (`sha256sum`'s format); none if absent."""
    sums, problems = {}, []
    if path.is_file():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            digest, _, name = line.partition("  ")
            if len(digest) != 64 or not name:
                problems.append(f"{path}:{number}: not a `sha256  path` line")
            else:
                sums[name] = digest
    return sums, problems


def dataset_files(root: Path) -> list[Path]:
    """The files a complete dataset consists of (what SHA256SUMS covers), sorted."""
    files = [root / DATASET_FILE]
    for split in SPLITS:
        directory = root / split
        if directory.is_dir():
            files += sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    return files


class Dataset:
    """Read side of the format. Frames are decoded lazily, one clip at a time.

    :meth:`clips` refuses a damaged metadata line; :meth:`verify` checks everything the reader relies
    on (lines, counts against dataset.json, each listed clip's files); :meth:`checked_clips` is what
    commands read through: every problem stops them, unless ``skip_bad``, which lists what it left out.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"{self.root}: is a file, not a dataset directory")
        self.info = read_info(self.root)

    @property
    def targets(self) -> dict[str, dict[str, Any]]:
        return self.info.targets

    def _scan(self, split: str | None = None) -> tuple[list[ClipRef], list[str]]:
        out, problems = [], []
        for s in SPLITS if split is None else (split,):
            lines, bad = read_metadata(self.root / s / METADATA_FILE)
            problems += bad
            for line in lines:
                targets = {k: v for k, v in line.items() if k not in ("file_name", "clip_id", "group_id")}
                out.append(ClipRef(self.root, s, line["clip_id"], line["group_id"], targets))
        return out, problems

    def clips(self, split: str | None = None) -> list[ClipRef]:
        """The clips listed, in order; a damaged metadata line raises DatasetError naming it."""
        clips, problems = self._scan(split)
        if problems:
            raise DatasetError(f"{problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                               + f"; {REPAIR_HINT}")
        return clips

    def missing(self) -> int:
        """Clips declared in dataset.json but not (yet) present."""
        return self.info.total - len(self.clips())

    def verify(self, *, hashes: bool = False) -> tuple[list[ClipRef], list[str]]:
        """(intact clips, problems): damaged metadata lines, each split's count against dataset.json,
        listed clips whose mp4 or json is missing or empty, and with ``hashes`` every file against
        SHA256SUMS. One line per problem."""
        clips, problems = self._scan()
        journal = self.root / JOURNAL_DIR
        for split in SPLITS:
            listed = sum(c.split == split for c in clips)
            expected = self.info.counts.get(split, 0)
            if listed != expected:
                state = (" (a render is in progress or was interrupted, or this is one --shard's directory: "
                         "`simgen merge` completes those)" if journal.is_dir() else "")
                problems.append(f"{self.root / split / METADATA_FILE}: lists {listed} clip(s), {DATASET_FILE} "
                                f"says {expected}{state}")
        intact = []
        for clip in clips:
            bad = [p.name for p in (clip.video_path, clip.label_path) if not p.is_file() or p.stat().st_size == 0]
            if bad:
                problems.append(f"{clip.root / clip.split}: clip {clip.clip_id}: {' and '.join(bad)} missing or empty")
            else:
                intact.append(clip)
        if hashes:
            problems += self.verify_checksums()
        return intact, problems

    def verify_checksums(self) -> list[str]:
        """Every file against SHA256SUMS (written when the dataset was completed)."""
        sums = self.root / CHECKSUMS_FILE
        if not sums.is_file():
            return [f"{sums}: missing (datasets completed by simgen ≥ 0.1 with this check have one; "
                    f"re-run `simgen render` on the directory to write it)"]
        listed, problems = read_checksums(sums)
        for name, digest in listed.items():
            path = self.root / name
            if not path.is_file():
                problems.append(f"{path}: missing (listed in {CHECKSUMS_FILE})")
            elif file_sha256(path) != digest:
                problems.append(f"{path}: {DIFFERS} (`simgen render ... --repair` re-makes it)")
        for path in dataset_files(self.root):
            if str(path.relative_to(self.root)) not in listed:
                problems.append(f"{path}: not in {CHECKSUMS_FILE} (added after the dataset was completed?)")
        return problems

    def repair_hint(self, problems: list[str]) -> str:
        """The command that fixes ``problems``: a resume re-makes what is missing; a file present but
        changed needs --repair."""
        if any(DIFFERS in p for p in problems):
            return HASH_REPAIR_HINT.format(root=self.root, total=self.info.total, seed=self.info.seed)
        return REPAIR_HINT

    def remove_damaged(self) -> list[str]:
        """``simgen render --repair``: remove every file that differs from SHA256SUMS, with the other file
        of its clip, so that the resume re-makes them byte-identical; a changed metadata.jsonl is removed
        whole (its split's clips are re-made). Returns what was removed. A changed dataset.json cannot be
        repaired this way (it is what the resume trusts): DatasetError."""
        listed, _ = read_checksums(self.root / CHECKSUMS_FILE)
        damaged = [name for name, digest in listed.items()
                   if (self.root / name).is_file() and file_sha256(self.root / name) != digest]
        if DATASET_FILE in damaged:
            raise DatasetError(f"{self.root / DATASET_FILE}: {DIFFERS}; it records the spec a repair would follow: "
                               f"re-render the dataset whole with --force")
        removed = []
        for name in damaged:
            path = self.root / name
            siblings = [path] if path.name == METADATA_FILE else [path.with_suffix(".mp4"), path.with_suffix(".json")]
            for file in siblings:
                if file.is_file():
                    file.unlink()
                    removed.append(str(file.relative_to(self.root)))
        return removed

    def checked_clips(self, *, skip_bad: bool = False) -> tuple[list[ClipRef], list[str]]:
        """The clips a command may read: with any problem, DatasetError (the first problem, how many
        more, and how to repair); with ``skip_bad``, the intact clips and the problems left out."""
        intact, problems = self.verify()
        if problems and not skip_bad:
            more = f" (and {len(problems) - 1} more: `simgen check {self.root}` lists them)" if len(problems) > 1 else ""
            raise DatasetError(f"{problems[0]}{more}; {self.repair_hint(problems)} (or, in `evaluate`, pass "
                               f"--skip-bad to go on without them)")
        return intact, problems

    def read_frames(self, clip: ClipRef) -> np.ndarray:
        from simgen.dataset.video import read_mp4

        return read_mp4(clip.video_path)

    @staticmethod
    def read_labels(clip: ClipRef) -> dict[str, Any]:
        return json.loads(clip.label_path.read_text())


# --------------------------------------------------------------------------- writer


class DatasetWriter:
    """Write side: opens (or resumes) DIR for one spec, records clips, folds journals.

    ``shard`` is (K, N), 1-based. Opening checks that an existing DIR was made from the same
    resolved spec (fingerprint); anything else is refused unless ``force``. It also checks that
    clips it adds come from a simgen version the dataset already holds (``info.generator``): a
    dataset one version left incomplete is refused unless ``allow_mixed_versions``, which records
    the new generator in dataset.json's ``resumed_by``. A complete dataset gets no new clips, so
    any version may open it.
    """

    def __init__(self, root: str | os.PathLike, info: DatasetInfo, *, force: bool = False,
                 shard: tuple[int, int] = (1, 1), allow_mixed_versions: bool = False):
        self.root = Path(root)
        self.info = info
        self.shard = shard
        self._journal_file = None
        self._written: set[str] = set()  # files this writer put in place (relative paths), for SHA256SUMS
        self._open(force, allow_mixed_versions)

    # ---- opening

    def _open(self, force: bool, allow_mixed_versions: bool) -> None:
        manifest = self.root / DATASET_FILE
        mixing = False
        if manifest.exists() and not force:
            existing = read_info(self.root)
            if existing.fingerprint != self.info.fingerprint:
                raise DatasetError(
                    f"{self.root} holds a dataset made from another spec, -n or seed "
                    f"(family {existing.family}, seed {existing.seed}, fingerprint {existing.fingerprint}; "
                    f"this spec: family {self.info.family}, seed {self.info.seed}, fingerprint "
                    f"{self.info.fingerprint}); use another --out, or --force to overwrite it")
            mixing = not self._made_like(existing) and len(self.completed()) < existing.total
            if mixing and not allow_mixed_versions:
                theirs, mine = differing_packages(existing, self.info.generator)
                raise DatasetError(
                    f"{self.root} was partly rendered by {theirs}, and this is {mine}: finishing it would mix clips "
                    f"of both; re-render it whole with --force, or finish it anyway with --allow-mixed-versions "
                    f"(dataset.json records it)")
        elif self.root.exists() and any(self.root.iterdir()) and not manifest.exists() and not force:
            raise DatasetError(f"{self.root} exists, is not empty and is not a simgen dataset; "
                               f"use another --out, or --force to overwrite it")
        if force:
            self._clear()
        self.root.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            (self.root / split).mkdir(exist_ok=True)
        (self.root / JOURNAL_DIR).mkdir(exist_ok=True)
        with self._locked():
            if not manifest.exists():
                atomic_write_json(manifest, self.info.to_dict())
            elif mixing:
                self._record_generator()
            self._fold_journals()

    @property
    def _version(self) -> str:
        return self.info.generator.get("version", "?")

    def _made_like(self, existing: DatasetInfo) -> bool:
        """Whether a generator recorded in ``existing`` made its bytes with what this run has."""
        return any(same_bytes(self.info.generator, g) for g in (existing.generator, *existing.resumed_by))

    def _record_generator(self) -> None:
        """Add this run's generator to dataset.json's ``resumed_by`` (once per set of versions). Under the lock."""
        existing = read_info(self.root)
        if not self._made_like(existing):
            resumed = replace(existing, resumed_by=[*existing.resumed_by, self.info.generator])
            atomic_write_json(self.root / DATASET_FILE, resumed.to_dict())
            self._written.add(DATASET_FILE)

    def _clear(self) -> None:
        """--force: remove what a simgen dataset consists of, and nothing else."""
        for split in SPLITS:
            shutil.rmtree(self.root / split, ignore_errors=True)
        shutil.rmtree(self.root / JOURNAL_DIR, ignore_errors=True)
        (self.root / DATASET_FILE).unlink(missing_ok=True)
        (self.root / CHECKSUMS_FILE).unlink(missing_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ---- state

    def completed(self) -> set[str]:
        """clip_ids already present: recorded in metadata or a journal, with both files in place."""
        # A damaged metadata line is dropped here (read_metadata reports it; the reader refuses it), so
        # its clip counts as missing and is made again: that is the repair the reader's error suggests.
        recorded = [(split, line["clip_id"]) for split in SPLITS
                    for line in read_metadata(self.root / split / METADATA_FILE)[0]]
        for journal in sorted((self.root / JOURNAL_DIR).glob("*.jsonl")):
            recorded += [(split, line["clip_id"]) for split, line in _journal_entries(journal)]
        return {clip_id for split, clip_id in recorded
                if (self.root / split / f"{clip_id}.mp4").is_file()
                and (self.root / split / f"{clip_id}.json").is_file()}

    def clean_partial(self, clip_ids: set[str]) -> None:
        """Remove temporary files left by a killed run, for the clips this run owns."""
        for split in SPLITS:
            for tmp, name in leftover_temporaries(self.root / split):
                if name.rsplit(".", 1)[0] in clip_ids:
                    tmp.unlink(missing_ok=True)

    # ---- writing

    @staticmethod
    def write_clip_files(root: Path, split: str, clip_id: str, frames: np.ndarray, labels: dict[str, Any],
                         fps: int, video: dict[str, Any]) -> None:
        """Write a clip's mp4 and json atomically (safe to call from worker processes)."""
        from simgen.dataset.video import write_mp4

        directory = Path(root) / split
        with atomic_path(directory / f"{clip_id}.mp4") as tmp:
            write_mp4(tmp, frames, fps, **video)
        atomic_write(directory / f"{clip_id}.json", json.dumps(labels) + "\n")

    def record(self, split: str, line: dict[str, Any]) -> None:
        """Mark a clip complete (its files must already be in place)."""
        self._written.update({f"{split}/{line['clip_id']}.mp4", f"{split}/{line['clip_id']}.json"})
        if self._journal_file is None:
            k, n = self.shard
            self._journal_file = open(self.root / JOURNAL_DIR / f"shard-{k}-of-{n}.jsonl", "a")
        self._journal_file.write(dumps_line({"split": split, "line": line}))
        self._journal_file.flush()

    def finalize(self) -> int:
        """Fold journals into the sorted metadata files; returns the number of clips still missing."""
        if self._journal_file is not None:
            self._journal_file.close()
            self._journal_file = None
        with self._locked():
            present = self._fold_journals()
            missing = self.info.total - present
            if missing == 0:
                shutil.rmtree(self.root / JOURNAL_DIR, ignore_errors=True)
                self._write_checksums()
        return missing

    def _write_checksums(self) -> None:
        """SHA256SUMS over the complete dataset, for `simgen check --hashes` (and `sha256sum -c`).

        A digest already listed is kept for every file this writer did not put in place: a re-run
        that renders nothing must not bless a file damaged since (it hashes nothing then), and a
        repair re-hashes only what it re-made, the metadata it rewrote and files not listed yet."""
        path = self.root / CHECKSUMS_FILE
        old = read_checksums(path)[0]
        fresh = self._written | {f"{split}/{METADATA_FILE}" for split in SPLITS}
        lines = []
        for file in dataset_files(self.root):
            name = str(file.relative_to(self.root))
            digest = old.get(name) if name not in fresh else None
            lines.append(f"{digest or file_sha256(file)}  {name}\n")
        text = "".join(lines)
        if not path.is_file() or path.read_text(errors="replace") != text:
            atomic_write(path, text)

    def _fold_journals(self) -> int:
        """Rewrite each split's metadata.jsonl as the sorted union of itself and all journals.

        Journals are kept (another shard may still append to its own); lines are keyed by
        clip_id, so folding twice changes nothing. Call under the lock.
        """
        by_split: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SPLITS}
        for split in SPLITS:
            for line in read_metadata(self.root / split / METADATA_FILE)[0]:  # damaged lines dropped
                by_split[split][line["clip_id"]] = line
        journal_dir = self.root / JOURNAL_DIR
        for journal in sorted(journal_dir.glob("*.jsonl")) if journal_dir.is_dir() else []:
            for split, line in _journal_entries(journal):
                by_split[split][line["clip_id"]] = line
        for split, lines in by_split.items():
            path = self.root / split / METADATA_FILE
            data = "".join(dumps_line(lines[c]) for c in sorted(lines)).encode()
            if not path.exists() or path.read_bytes() != data:
                atomic_write(path, data)
        return sum(len(v) for v in by_split.values())
