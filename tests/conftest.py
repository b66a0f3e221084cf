"""Shared factory fixtures: tiny specs and datasets rendered once per test session."""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

# Under pytest-xdist each core runs its own worker: torch's default of one thread per core would put
# two threads on each core, and tiny models run slower that way. Set before torch is imported.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


def tiny_spec_dict(family: str = "falling_rising", *, frames: int = 8, size: int = 64, fps: int = 24,
                   counts: tuple[int, int, int] = (4, 2, 2), seed: int = 0, **params: Any) -> dict[str, Any]:
    """The family's scene YAML, shrunk: few clips, few frames, small frames."""
    spec = yaml.safe_load((SCENES / f"{family}.yaml").read_text())
    spec = copy.deepcopy(spec)
    spec["seed"] = seed
    spec["render"].update(width=size, height=size, frames=frames, fps=fps)
    spec["counts"] = dict(zip(("train", "val", "test"), counts, strict=True))
    spec.setdefault("params", {}).update(params)
    return spec


def file_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file of a dataset folder, by relative path (hidden folders, the journals, left out)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not any(s.startswith(".") for s in
                                                                         p.relative_to(root).parts)}


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def tiny_spec_file(tmp_path: Path):
    """Factory: write a tiny spec YAML and return its path."""

    def make(family: str = "falling_rising", name: str = "spec.yaml", **kwargs: Any) -> Path:
        return write_spec(tmp_path / name, tiny_spec_dict(family, **kwargs))

    return make


@pytest.fixture(scope="session")
def tiny_falling_rising(tmp_path_factory) -> Path:
    """A rendered falling_rising dataset: 8 train, 4 val, 4 test clips of 8 frames at 64x64."""
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec

    out = tmp_path_factory.mktemp("datasets") / "falling_rising"
    spec = parse_spec(tiny_spec_dict(counts=(8, 4, 4)))
    render_dataset(spec, out, workers=1)
    return out
