"""The embedding cache: any change of an input misses; a re-run recomputes only what is missing."""

import copy

import numpy as np
import pytest

from evaluate.config import RunConfig
from evaluate.embed.cache import EmbeddingCache, stack_files
from evaluate.tasks.probe import run

IDENTITY = {"kind": "vjepa2", "checkpoint": {"weights_sha256": "abc"}, "preprocessing": {"height": 32, "mean": [0.5]},
            "pool": "mean", "layer": None, "frames": None}
CLIP = {"split": "test", "clip_id": "test-000000-falling", "bytes": 1234}


def test_hit_after_put(tmp_path):
    cache = EmbeddingCache(tmp_path)
    group = cache.group_dir("vjepa2", IDENTITY, "original", "fp")
    assert cache.get(group, CLIP) is None
    cache.put(group, CLIP, np.arange(4, dtype=np.float32))
    assert np.array_equal(cache.get(EmbeddingCache(tmp_path).group_dir("vjepa2", IDENTITY, "original", "fp"), CLIP),
                          np.arange(4))
    assert not list(tmp_path.rglob(".*tmp*"))  # atomic writes leave no temporary files


def test_has_reads_headers_and_stack_files_keeps_clip_order(tmp_path):
    cache = EmbeddingCache(tmp_path)
    group = cache.group_dir("vjepa2", IDENTITY, "original", "fp")
    clips = [{**CLIP, "clip_id": f"c{i}"} for i in range(3)]
    for i, clip in enumerate(clips):
        assert not cache.has(group, clip)
        cache.put(group, clip, np.full(4, i, dtype=np.float32))
        assert cache.has(group, clip)
    assert (cache.hits, cache.misses) == (3, 3)
    np.testing.assert_array_equal(stack_files([cache.path(group, c) for c in clips[::-1]])[:, 0], [2, 1, 0])
    cache.path(group, clips[0]).write_bytes(b"not an npy file")
    assert not cache.has(group, clips[0]) and not cache.path(group, clips[0]).exists()  # recomputed, not trusted
    with pytest.raises(FileNotFoundError):
        stack_files([cache.path(group, c) for c in clips])


@pytest.mark.parametrize("change", [
    ("checkpoint", {"weights_sha256": "abd"}), ("preprocessing", {"height": 64, "mean": [0.5]}),
    ("preprocessing", {"height": 32, "mean": [0.4]}), ("pool", "time"), ("layer", 20), ("frames", 16),
])
def test_changing_the_encoder_identity_misses(tmp_path, change):
    cache = EmbeddingCache(tmp_path)
    cache.put(cache.group_dir("vjepa2", IDENTITY, "original", "fp"), CLIP, np.ones(3))
    other = copy.deepcopy(IDENTITY)
    other[change[0]] = change[1]
    assert cache.get(cache.group_dir("vjepa2", other, "original", "fp"), CLIP) is None


def test_changing_view_dataset_or_clip_misses(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put(cache.group_dir("vjepa2", IDENTITY, "original", "fp"), CLIP, np.ones(3))
    assert cache.get(cache.group_dir("vjepa2", IDENTITY, "reversed", "fp"), CLIP) is None
    assert cache.get(cache.group_dir("vjepa2", IDENTITY, "original", "fp2"), CLIP) is None
    group = cache.group_dir("vjepa2", IDENTITY, "original", "fp")
    assert cache.get(group, {**CLIP, "bytes": 999}) is None  # re-rendered or truncated file
    assert cache.get(group, {**CLIP, "clip_id": "test-000000-rising"}) is None


def test_rerun_hits_and_interrupted_run_recomputes_only_the_missing(tiny_falling_rising, tmp_path):
    config = RunConfig(datasets=[str(tiny_falling_rising)], encoders=["pixels,size=8"], out=str(tmp_path / "run"),
                       views=["original", "frame_mean"], targets=["direction"], n_bootstrap=50)
    first = run(config).row()["encoders"][0]["timings"]
    assert first["clips"] == 32 and first["cache_hits"] == 0  # 16 clips x 2 views
    files = sorted((tmp_path / "run" / "embeddings").rglob("*.npy"))
    assert len(files) == 32
    second = run(config).row()["encoders"][0]["timings"]
    assert second["clips"] == 0 and second["cache_hits"] == 32
    for f in files[:5]:  # as if the run had been killed before these were written
        f.unlink()
    third = run(config).row()["encoders"][0]["timings"]
    assert third["clips"] == 5 and third["cache_hits"] == 27
    changed = run(config.model_copy(update={"encoders": ["pixels,size=4"]}), replace=True).row()["encoders"][0]["timings"]
    assert changed["clips"] == 32 and changed["cache_hits"] == 0


@pytest.mark.parametrize("spec", ["pixels,size=8", "random-vjepa2:tiny"])
def test_queueing_more_forwards_ahead_writes_the_same_cache(tiny_falling_rising, tmp_path, spec):
    """embed_work's queue depth changes only how far the device runs ahead of the cache writes: every
    depth (including one deeper than the number of batches) writes the same vectors for every clip."""
    from evaluate.data.dataset import clip_identity, open_dataset
    from evaluate.data.views import VIEWS
    from evaluate.embed.local import embed_work
    from evaluate.encoders import build_encoder

    dataset, encoder = open_dataset(tiny_falling_rising), build_encoder(spec)
    written = {}
    for depth in (1, 2, 50):
        cache = EmbeddingCache(tmp_path / f"depth{depth}")
        groups = {v: cache.group_dir(encoder.kind, encoder.identity(), v, dataset.fingerprint) for v in VIEWS}
        embed_work(encoder, dataset, [(c, VIEWS) for c in dataset.clips], groups,
                   {c.clip_id: clip_identity(c) for c in dataset.clips}, cache, batch_size=3, workers=1,
                   loader="threads", skip_bad=False, bad={}, log=print, queue_depth=depth)
        written[depth] = {p.relative_to(cache.root): np.load(p) for p in cache.root.rglob("*.npy")}
    assert len(written[1]) == len(dataset.clips) * len(VIEWS)
    for depth in (2, 50):
        assert written[depth].keys() == written[1].keys()
        for key, vector in written[1].items():
            np.testing.assert_array_equal(written[depth][key], vector)
