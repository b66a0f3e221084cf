"""`evaluate run --executor ray`: actors on a local Ray instance give the same embeddings as the
local path, write them to the shared cache, resume from it, and keep --skip-bad semantics."""

import shutil

import numpy as np
import pytest

from evaluate.config import RunConfig
from evaluate.tasks.probe import run

ray = pytest.importorskip("ray")

ENCODERS = ["pixels,size=8", "random-vjepa2:tiny"]
VIEWS = ["original", "reversed"]


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def embeddings(cache) -> dict:
    return {p.relative_to(cache): np.load(p) for p in cache.rglob("*.npy")}


def test_ray_actors_match_the_local_path_and_resume_from_the_shared_cache(local_ray, tiny_falling_rising, tmp_path):
    data = tmp_path / "falling_rising"
    shutil.copytree(tiny_falling_rising, data)
    victim = sorted((data / "test").glob("*.mp4"))[0]
    victim.write_bytes(victim.read_bytes()[:200])

    def config(out, **kwargs):
        return RunConfig(datasets=[str(data)], encoders=ENCODERS, out=str(tmp_path / out), views=VIEWS, probes=[], batch_size=3,
                         device="cpu", skip_bad=True, verify_hashes=False, **kwargs)  # the decoder meets the bad clip

    local = run(config("local")).row()
    expected = embeddings(tmp_path / "local" / "embeddings")
    assert len(expected) == 2 * 2 * 15
    # Half of the cache survives, as if an earlier Ray run had been stopped part-way.
    shutil.copytree(tmp_path / "local" / "embeddings", tmp_path / "ray" / "embeddings")
    kept = sorted((tmp_path / "ray" / "embeddings").rglob("*.npy"))
    for path in kept[::2]:
        path.unlink()
    remote = run(config("ray", executor="ray", actors=2)).row()
    assert [e["timings"]["actors"] for e in remote["encoders"]] == [2, 2]
    assert sum(e["timings"]["clips"] for e in remote["encoders"]) == len(kept[::2])
    assert [c["clip"].split(":")[0] for c in remote["skipped"]["clips"]] == [f"test/{victim.stem}"]
    assert remote["skipped"]["clips"] == local["skipped"]["clips"]
    got = embeddings(tmp_path / "ray" / "embeddings")
    assert got.keys() == expected.keys()
    for key, vec in expected.items():
        assert np.array_equal(got[key], vec), key
    assert [e["identity"] for e in remote["encoders"]] == [e["identity"] for e in local["encoders"]]


def test_ray_without_skip_bad_names_the_clip(local_ray, tiny_falling_rising, tmp_path):
    from evaluate.errors import BadClipError

    data = tmp_path / "falling_rising"
    shutil.copytree(tiny_falling_rising, data)
    victim = sorted((data / "train").glob("*.mp4"))[2]
    victim.write_bytes(b"not a video")
    with pytest.raises(BadClipError, match=victim.stem):
        run(RunConfig(datasets=[str(data)], encoders=["pixels,size=8"], out=str(tmp_path / "r"), views=["original"], probes=[],
                      executor="ray", actors=1, verify_hashes=False))  # the decoder, not the hash check, meets it
