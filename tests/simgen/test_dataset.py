"""The on-disk contract: determinism across workers and shards, crash-safe resume, refusal, loaders."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simgen.dataset.format import FORMAT_VERSION, JOURNAL_DIR, Dataset, DatasetError
from simgen.families import FAMILIES
from simgen.run.parallel import render_dataset
from simgen.spec import parse_spec
from tests.conftest import tiny_spec_dict, write_spec


def tree_hashes(root: Path) -> dict[str, str]:
    """Hash of every file of a dataset (hidden bookkeeping files excluded)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not any(part.startswith(".") for part in
                                                                         p.relative_to(root).parts)}


@pytest.fixture(scope="module")
def spec():
    return parse_spec(tiny_spec_dict(counts=(8, 4, 4), seed=3))


@pytest.fixture(scope="module")
def reference(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ds"
    summary = render_dataset(spec, out, workers=1)
    assert summary.clips_rendered == 16 and summary.clips_missing == 0
    return tree_hashes(out)


def test_layout_matches_contract(spec, tmp_path, reference):
    assert "dataset.json" in reference
    for split in ("train", "val", "test"):
        assert f"{split}/metadata.jsonl" in reference
    assert len([k for k in reference if k.endswith(".mp4")]) == 16
    assert len([k for k in reference if k.endswith(".json") and k != "dataset.json"]) == 16


def test_two_workers_give_identical_bytes(spec, tmp_path, reference):
    render_dataset(spec, tmp_path / "ds", workers=2)
    assert tree_hashes(tmp_path / "ds") == reference


def test_two_workers_taking_chunks_of_groups_give_identical_bytes(spec, tmp_path, reference, monkeypatch):
    import simgen.run.parallel as parallel

    # Big datasets go to the workers several groups at a time; this one is too small for that.
    monkeypatch.setattr(parallel, "chunk_tasks",
                        lambda tasks, workers: [tasks[i:i + 3] for i in range(0, len(tasks), 3)])
    render_dataset(spec, tmp_path / "ds", workers=2)
    assert tree_hashes(tmp_path / "ds") == reference


def test_chunks_cover_every_group_in_order_and_leave_each_worker_many():
    from simgen.run.parallel import chunk_tasks

    for n, workers, size in ((8, 2, 1), (100, 2, 3), (1000, 2, 8), (1000, 64, 1)):
        chunks = chunk_tasks(list(range(n)), workers)
        assert [t for c in chunks for t in c] == list(range(n))
        assert max(len(c) for c in chunks) == size
        assert len(chunks) >= min(n, 16 * workers)


def test_shards_into_one_dir_give_identical_bytes(spec, tmp_path, reference):
    first = render_dataset(spec, tmp_path / "ds", workers=1, shard=(1, 2))
    assert first.clips_rendered == 8 and first.clips_missing == 8
    assert (tmp_path / "ds" / JOURNAL_DIR).is_dir()  # journals stay until the dataset is complete
    second = render_dataset(spec, tmp_path / "ds", workers=2, shard=(2, 2))
    assert second.clips_missing == 0
    assert tree_hashes(tmp_path / "ds") == reference
    assert not (tmp_path / "ds" / JOURNAL_DIR).exists()


def test_rerun_on_complete_dataset_renders_nothing(spec, tmp_path):
    render_dataset(spec, tmp_path / "ds", workers=1)
    again = render_dataset(spec, tmp_path / "ds", workers=1)
    assert again.clips_rendered == 0 and again.clips_skipped == 16


def test_resume_after_lost_files_and_torn_journal(spec, tmp_path, reference):
    out = tmp_path / "ds"
    render_dataset(spec, out, workers=1, shard=(1, 2))
    # Simulate a crash mid-clip: a torn journal line, a stray temp file, a clip without its metadata line.
    journal = next((out / JOURNAL_DIR).glob("*.jsonl"))
    journal.write_text(journal.read_text() + '{"split": "train", "line": {"clip_')
    (out / "train" / ".train-000001-falling.mp4.tmp-999").write_bytes(b"partial")
    (out / "val" / "val-000001-falling.mp4").write_bytes(b"not yet recorded")  # shard 2 owns it
    render_dataset(spec, out, workers=2)
    assert tree_hashes(out) == reference
    assert not list(out.rglob("*.tmp-*"))


def test_mismatched_spec_is_refused_and_nothing_is_touched(spec, tmp_path):
    out = tmp_path / "ds"
    render_dataset(spec, out, workers=1)
    before = tree_hashes(out)
    other = parse_spec(tiny_spec_dict(counts=(8, 4, 4), seed=4))
    with pytest.raises(DatasetError, match="another spec, -n or seed.*--force"):
        render_dataset(other, out, workers=1)
    assert tree_hashes(out) == before
    render_dataset(other, out, workers=1, force=True)
    assert tree_hashes(out) != before and Dataset(out).info.seed == 4


def test_resume_by_another_simgen_version_is_refused_unless_allowed(spec, tmp_path, reference, monkeypatch):
    import simgen

    out = tmp_path / "ds"
    made_by = simgen.__version__
    render_dataset(spec, out, workers=1, shard=(1, 2))  # half of it
    before = tree_hashes(out)
    monkeypatch.setattr(simgen, "__version__", "9.9.9")
    with pytest.raises(DatasetError, match=f"partly rendered by simgen {made_by}, and this is simgen 9.9.9: .*"
                                           f"--force.*--allow-mixed-versions"):
        render_dataset(spec, out, workers=1)
    assert tree_hashes(out) == before

    assert render_dataset(spec, out, workers=1, allow_mixed_versions=True).clips_missing == 0
    info = Dataset(out).info
    assert info.generator["version"] == made_by and info.resumed_by[0]["version"] == "9.9.9"
    assert info.versions == [made_by, "9.9.9"]
    assert {k: v for k, v in tree_hashes(out).items() if k not in ("dataset.json", "SHA256SUMS")} == \
        {k: v for k, v in reference.items() if k not in ("dataset.json", "SHA256SUMS")}
    assert Dataset(out).verify_checksums() == []

    # A version already mixed in needs no flag; a complete dataset gets no clips, so any version may open it.
    (out / "train" / "train-000000-falling.mp4").unlink()
    assert render_dataset(spec, out, workers=1).clips_rendered == 2  # the clip's group
    monkeypatch.setattr(simgen, "__version__", "10.0.0")
    assert render_dataset(spec, out, workers=1).clips_rendered == 0
    assert Dataset(out).info.versions == [made_by, "9.9.9"] and Dataset(out).verify_checksums() == []


def test_an_ordinary_manifest_has_no_resumed_by(tiny_falling_rising):
    assert "resumed_by" not in json.loads((tiny_falling_rising / "dataset.json").read_text())


def test_foreign_directory_is_refused(spec, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not a simgen dataset"):
        render_dataset(spec, tmp_path, workers=1)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_kill_9_then_rerun_gives_identical_bytes(tmp_path):
    # small clips: the kill lands after 4 journal lines, with the val and test splits still to render
    spec_file = write_spec(tmp_path / "spec.yaml", tiny_spec_dict(counts=(12, 4, 4), size=64, frames=8))
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "simgen.cli.app", "render", str(spec_file), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    journal = out / JOURNAL_DIR / "shard-1-of-1.jsonl"
    while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") < 4):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "test" / "metadata.jsonl").read_text()  # it really was interrupted
    subprocess.run(cmd, check=True, capture_output=True)
    reference = tmp_path / "ref"
    subprocess.run([*cmd[:-4], "--out", str(reference), "--workers", "2"], check=True, capture_output=True)
    assert tree_hashes(out) == tree_hashes(reference)


def test_reader_and_manifest(tiny_falling_rising):
    ds = Dataset(tiny_falling_rising)
    assert ds.info.targets["direction"] == {"kind": "class", "description": "vertical direction of travel",
                                            "classes": ["falling", "rising"], "reversal": {"rule": "swap_classes"},
                                            "in_one_frame": True,
                                            "question": FAMILIES["falling_rising"].targets["direction"].question}
    assert ds.targets["vz_start"]["unit"] == "m/s" and ds.missing() == 0
    assert ds.info.format_version == FORMAT_VERSION
    clips = ds.clips("train")
    assert len(clips) == 8 and len({c.group_id for c in clips}) == 4
    frames = ds.read_frames(clips[0])
    assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
    labels = ds.read_labels(clips[0])
    assert labels["targets"] == clips[0].targets and len(labels["frames"]) == 8


def test_default_video_is_bit_exact_and_yuv444_is_near_lossless(tiny_falling_rising, tmp_path):
    from simgen.dataset.video import read_mp4, write_mp4
    from simgen.run.engine import plan, render_group

    ds = Dataset(tiny_falling_rising)
    spec = parse_spec(ds.info.spec)
    original = render_group(spec, plan(spec)[0])[0].frames
    assert np.array_equal(ds.read_frames(ds.clips("train")[0]), original)
    write_mp4(tmp_path / "yuv.mp4", original, 24, codec="libx264", pix_fmt="yuv444p", crf=0)
    assert np.abs(read_mp4(tmp_path / "yuv.mp4").astype(int) - original).max() <= 3


def test_pandas_reads_metadata(tiny_falling_rising):
    pd = pytest.importorskip("pandas")
    frame = pd.read_json(tiny_falling_rising / "train" / "metadata.jsonl", lines=True)
    assert list(frame.columns[:3]) == ["file_name", "clip_id", "group_id"]
    assert set(frame["direction"]) == {"falling", "rising"} and len(frame) == 8


def test_huggingface_videofolder_loads_with_labels(tiny_falling_rising):
    datasets = pytest.importorskip("datasets")
    os.environ["HF_HUB_OFFLINE"] = "1"
    loaded = datasets.load_dataset("videofolder", data_dir=str(tiny_falling_rising))
    assert {"train", "validation", "test"} <= set(loaded)
    train = loaded["train"]
    assert train.num_rows == 8 and {"video", "clip_id", "group_id", "direction", "vz_start"} <= set(train.features)
    meta = json.loads((tiny_falling_rising / "train" / "metadata.jsonl").read_text().splitlines()[0])
    # Decoding needs torchcodec (not installed in CI); the file paths and labels are what we own.
    row = train.cast_column("video", datasets.Video(decode=False))[0]
    assert row["clip_id"] == meta["clip_id"] and row["video"]["path"].endswith(meta["file_name"])
    assert sorted(train["direction"]) == ["falling"] * 4 + ["rising"] * 4


def test_shards_rendered_apart_then_merged_give_identical_bytes(spec, tmp_path, reference):
    from simgen.dataset.merge import merge_datasets

    render_dataset(spec, tmp_path / "a", workers=1, shard=(1, 2))
    render_dataset(spec, tmp_path / "b", workers=1, shard=(2, 2))
    summary = merge_datasets(tmp_path / "all", [tmp_path / "a", tmp_path / "b"])
    assert summary.clips_copied == 16 and summary.clips_missing == 0
    assert tree_hashes(tmp_path / "all") == reference
    other = parse_spec(tiny_spec_dict(counts=(8, 4, 4), seed=9))
    render_dataset(other, tmp_path / "c", workers=1, shard=(1, 2))
    with pytest.raises(DatasetError, match="another spec or seed"):
        merge_datasets(tmp_path / "all2", [tmp_path / "a", tmp_path / "c"])
    manifest = json.loads((tmp_path / "b" / "dataset.json").read_text())
    manifest["generator"]["version"] = "0.0.1"  # shard b as if rendered by another simgen
    (tmp_path / "b" / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="made by simgen 0.0.1.*merging would mix"):
        merge_datasets(tmp_path / "all3", [tmp_path / "a", tmp_path / "b"])


def test_ray_executor_gives_identical_bytes(spec, tmp_path, reference):
    ray = pytest.importorskip("ray")
    try:
        summary = render_dataset(spec, tmp_path / "ds", workers=2, executor="ray")
    finally:
        ray.shutdown()
    assert summary.clips_missing == 0
    assert tree_hashes(tmp_path / "ds") == reference


@pytest.mark.parametrize("width,height", [(64, 64), (100, 36), (66, 50)])
def test_reading_planar_rgb_equals_swscale_for_any_width(tmp_path, width, height):
    """read_mp4 interleaves libx264rgb's planar frames itself (rows padded to the plane's line
    size at widths that are not a multiple of 32); it must give the frames written, and what
    PyAV's own conversion gives."""
    import av

    from simgen.dataset.video import read_mp4, write_mp4

    frames = np.random.default_rng(width).integers(0, 256, size=(5, height, width, 3), dtype=np.uint8)
    write_mp4(tmp_path / "clip.mp4", frames, 24)
    assert np.array_equal(read_mp4(tmp_path / "clip.mp4"), frames)
    with av.open(str(tmp_path / "clip.mp4")) as container:
        converted = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert np.array_equal(converted, frames)


@pytest.mark.parametrize("height,width", [(64, 64), (36, 100), (5, 7)])
def test_rgba_to_rgb_equals_dropping_alpha(height, width):
    """The word-packing RGBA → RGB copy (and its fallback where pixels do not come in fours) gives
    exactly the first three channels."""
    from simgen.render.renderer import rgba_to_rgb

    rgba = np.random.default_rng(height).integers(0, 256, size=(height, width, 4), dtype=np.uint8)
    out = np.zeros((2, height, width, 3), np.uint8)
    rgba_to_rgb(rgba, out[1])
    assert np.array_equal(out[1], rgba[..., :3]) and not out[0].any()


def test_resume_with_another_pybullet_or_pyav_is_refused_naming_the_package(spec, tmp_path):
    """The clips' bytes depend on the physics and the encoder too, not only on simgen's version."""
    out = tmp_path / "ds"
    render_dataset(spec, out, workers=1, shard=(1, 2))  # half of it
    manifest = json.loads((out / "dataset.json").read_text())
    for package, old in (("pybullet", "3.0.0"), ("av", "10.0.0")):
        edited = {**manifest, "generator": {**manifest["generator"], package: old}}
        (out / "dataset.json").write_text(json.dumps(edited))
        before = tree_hashes(out)
        with pytest.raises(DatasetError, match=f"partly rendered by {package} {old}, and this is {package} "
                                               f"{manifest['generator'][package]}: .*--allow-mixed-versions"):
            render_dataset(spec, out, workers=1)
        assert tree_hashes(out) == before  # nothing touched
    # a generator that did not record a package (an older dataset.json) is not refused over it
    (out / "dataset.json").write_text(json.dumps({**manifest, "generator": {
        k: v for k, v in manifest["generator"].items() if k != "av"}}))
    assert render_dataset(spec, out, workers=1).clips_missing == 0
