"""An interrupted `evaluate run` recomputes only the embeddings that are missing: after an
exception mid-run, and after a real SIGKILL of the process (no cleanup code runs)."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluate.config import RunConfig
from evaluate.encoders.pixels import Pixels
from evaluate.tasks.probe import run

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ["original", "reversed"]
FORWARD = Pixels._embed  # one call per (batch, view)


def config(dataset, out, **kwargs) -> RunConfig:
    return RunConfig(datasets=[str(dataset)], encoders=["pixels,size=8"], out=str(out), views=VIEWS, probes=[], batch_size=3,
                     device="cpu", **kwargs)


def embeddings(run_dir: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(run_dir / "embeddings"): np.load(p) for p in (run_dir / "embeddings").rglob("*.npy")}


@pytest.fixture
def reference(tiny_falling_rising, tmp_path):
    run(config(tiny_falling_rising, tmp_path / "reference"))
    return embeddings(tmp_path / "reference")


def encoded_clip_ids(monkeypatch) -> list:
    """Record which clips reach the encoder (views of one clip count once per view)."""
    seen = []
    real = FORWARD

    def spy(self, clips):
        seen.append(len(clips))
        return real(self, clips)

    monkeypatch.setattr(Pixels, "_embed", spy)
    return seen


def test_exception_mid_run_then_rerun_recomputes_only_the_missing(tiny_falling_rising, tmp_path, reference,
                                                                   monkeypatch):
    real = FORWARD
    calls = []

    def interrupted(self, clips):
        if len(calls) == 3:  # the 4th forward: 1.5 batches of 3 clips x 2 views are in the cache
            raise KeyboardInterrupt
        calls.append(1)
        return real(self, clips)

    monkeypatch.setattr(Pixels, "_embed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(config(tiny_falling_rising, tmp_path / "run"))
    done = embeddings(tmp_path / "run")
    assert len(done) == 9  # batch 1: 3 clips x 2 views; batch 2: 3 clips x original
    seen = encoded_clip_ids(monkeypatch)
    timings = run(config(tiny_falling_rising, tmp_path / "run")).row()["encoders"][0]["timings"]
    assert timings["cache_hits"] == 9 and timings["clips"] == sum(seen) == 2 * 16 - 9
    after = embeddings(tmp_path / "run")
    assert after.keys() == reference.keys()
    assert all(np.array_equal(after[k], reference[k]) for k in reference)
    assert all(np.array_equal(after[k], done[k]) for k in done)  # what was there was kept, not redone


KILLER = """
import os, signal, sys
from evaluate.embed.cache import EmbeddingCache
from evaluate.config import RunConfig
from evaluate.tasks.probe import run
puts, real = [], EmbeddingCache.put
def put(self, group, clip, vec):
    if len(puts) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: like kill -9 from outside
    puts.append(1)
    real(self, group, clip, vec)
EmbeddingCache.put = put
run(RunConfig(datasets=[sys.argv[1]], encoders=["pixels,size=8"], out=sys.argv[2], views=["original", "reversed"], probes=[],
              batch_size=3, device="cpu"))
"""


def test_sigkill_mid_run_then_rerun_recomputes_only_the_missing(tiny_falling_rising, tmp_path, reference):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(tiny_falling_rising), str(out), "11"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (out / "results.json").exists() and len(embeddings(out)) == 11
    payload = run(config(tiny_falling_rising, out)).row()
    timings = payload["encoders"][0]["timings"]
    assert timings["cache_hits"] == 11 and timings["clips"] == 2 * 16 - 11
    after = embeddings(out)
    assert after.keys() == reference.keys()
    assert all(np.array_equal(after[k], reference[k]) for k in reference)
    assert json.loads((out / "results.json").read_text())["encoders"][0]["timings"]["clips"] == 21


def test_a_run_that_fails_while_probing_keeps_the_previous_outputs(tiny_falling_rising, tmp_path, monkeypatch):
    from evaluate.probes.linear import LinearProbe

    out = tmp_path / "run"
    run(RunConfig(datasets=[str(tiny_falling_rising)], encoders=["pixels,size=8"], out=str(out), views=VIEWS, device="cpu"))
    before = {name: (out / name).read_bytes() for name in ("results.json", "predictions.jsonl")}

    def broken(self, *args, **kwargs):
        raise RuntimeError("probe failed")

    monkeypatch.setattr(LinearProbe, "fit_predict", broken)
    with pytest.raises(RuntimeError, match="probe failed"):
        run(RunConfig(datasets=[str(tiny_falling_rising)], encoders=["pixels,size=8"], out=str(out), views=VIEWS, device="cpu"))
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not list(out.glob(".*tmp*"))  # the half-written predictions are gone
