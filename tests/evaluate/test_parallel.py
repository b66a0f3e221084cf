"""Probing and report drawing in worker processes give the same bytes as in one process."""

import json
import shutil

from evaluate.config import RunConfig
from evaluate.report.probe import write_reports
from evaluate.tasks.probe import run

VIEWS = ["original", "shuffled", "reversed"]


def _rows(out):
    payload = json.loads((out / "results.json").read_text())
    return {k: payload[k] for k in ("results", "temporal_margins", "reversal_sensitivity", "comparisons", "verdict")}


def test_probe_workers_write_the_same_predictions_and_rows(tiny_falling_rising, falling_rising_64, tmp_path):
    def config(out: str, workers: int) -> RunConfig:
        return RunConfig(datasets=[str(tiny_falling_rising), str(falling_rising_64)], out=str(tmp_path / out),
                         encoders=["pixels,size=8", "motion,size=8", "oracle-full"], views=VIEWS, device="cpu",
                         cache=str(tmp_path / "cache"), n_bootstrap=100, probe_workers=workers)

    one, two = run(config("one", 1)), run(config("two", 2))
    assert len(one.results) > 20
    assert (tmp_path / "one/predictions.jsonl").read_bytes() == (tmp_path / "two/predictions.jsonl").read_bytes()
    assert _rows(tmp_path / "one") == _rows(tmp_path / "two")
    assert [e.timings["probe_s"] > 0 for e in two.encoders] == [True] * 3

    # The report's per-dataset plots drawn in two processes: the same files as drawn here, from one run folder.
    (tmp_path / "copy").mkdir()
    for name in ("results.json", "predictions.jsonl"):
        shutil.copy(tmp_path / "one" / name, tmp_path / "copy" / name)
    write_reports(tmp_path / "one", workers=1)
    write_reports(tmp_path / "copy", workers=2)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("report*") if p.is_file())
    assert {"report-falling_rising_64.html", "report-falling_rising.html"} <= {p.name for p in files}
    assert files == sorted(p.relative_to(tmp_path / "copy") for p in (tmp_path / "copy").rglob("report*") if p.is_file())
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "copy" / name).read_bytes(), name


def test_lanes_and_the_batch_memo_embed_what_each_encoder_embeds_alone(tiny_falling_rising, tmp_path):
    """A model lane (V-JEPA 2 and the album, which share a resize, and the album's two readouts, which share a
    forward) beside a host lane (pixels, track): every cached vector is what that encoder gives run alone."""
    from evaluate.embed.shared import lanes

    encoders = ["random-vjepa2:tiny", "random-image:tiny", "random-image:tiny,pool=trajectory", "pixels,size=8",
                "track"]

    def embed(out: str, names: list[str]) -> dict:
        run(RunConfig(datasets=[str(tiny_falling_rising)], encoders=names, out=str(tmp_path / out), views=VIEWS,
                      probes=[], device="cpu", batch_size=3))
        root = tmp_path / out / "embeddings"
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*.npy")}

    together = embed("together", encoders)
    alone = {}
    for name in encoders:
        alone.update(embed(f"alone-{len(alone)}", [name]))
    assert len(together) == 5 * 3 * 16 and together == alone

    from types import SimpleNamespace

    jobs = [SimpleNamespace(encoder=SimpleNamespace(host_numpy=h)) for h in (False, True, False)]
    assert [[j.encoder.host_numpy for j in lane] for lane in lanes(jobs)] == [[False, False], [True]]


def test_the_two_lanes_take_a_batchs_jobs_once_each_and_steal_only_cpu_models():
    from types import SimpleNamespace

    from evaluate.embed.shared import BatchJobs

    def job(name: str, host: bool, device: str = "cpu"):
        return SimpleNamespace(name=name, encoder=SimpleNamespace(host_numpy=host, device=device))

    jobs = [job("vjepa2", False), job("cnn3d", False), job("pixels", True), job("image", False), job("track", True)]
    lanes = BatchJobs(jobs)
    assert [lanes.for_host_lane().name for _ in range(2)] == ["pixels", "track"]
    assert lanes.for_model_lane().name == "vjepa2"
    assert lanes.for_host_lane().name == "image"  # the host lane, done, takes the last model
    assert lanes.for_model_lane().name == "cnn3d"
    assert lanes.for_model_lane() is None and lanes.for_host_lane() is None
    lanes = BatchJobs([job("vjepa2", False, "cuda:0"), job("pixels", True), job("motion", True)])
    assert lanes.for_host_lane().name == "pixels"
    assert lanes.for_model_lane().name == "vjepa2"
    assert lanes.for_model_lane().name == "motion"  # the model lane, done, takes the host lane's last job
    assert lanes.for_host_lane() is None
    gpu_left = BatchJobs([job("vjepa2", False, "cuda:0")])
    assert gpu_left.for_host_lane() is None  # a GPU's forwards stay on one thread
    assert gpu_left.for_model_lane().name == "vjepa2"


def test_the_batch_memo_makes_a_value_once_whichever_lane_asks_first():
    import threading
    import time

    from evaluate.encoders.batch_memo import BatchMemo, remembered

    memo, made, started = BatchMemo(), [], threading.Event()

    def make():
        started.set()
        time.sleep(0.05)  # the second lane asks while the first is making it
        made.append(1)
        return object()

    results = []
    first = threading.Thread(target=lambda: results.append(remembered(memo, "resize", make)))
    first.start()
    started.wait()
    results.append(remembered(memo, "resize", make))
    first.join()
    assert len(made) == 1 and results[0] is results[1]

    def fails():
        raise RuntimeError("out of memory")

    try:
        remembered(memo, "forward", fails)
    except RuntimeError:
        pass
    assert remembered(memo, "forward", lambda: 7) == 7  # a failed make leaves nothing behind
    assert remembered(None, "x", lambda: 1) == 1 and remembered({}, "x", lambda: 2) == 2


def test_process_maps_give_each_jobs_result_in_order_in_workers_or_here():
    from operator import mul

    from evaluate.parallel import process_imap, process_map_async

    jobs = [(i, i + 1) for i in range(5)]
    expected = [i * (i + 1) for i in range(5)]
    assert list(process_imap(mul, jobs, 2)) == expected == list(process_imap(mul, jobs, 1))
    ran = []
    wait = process_map_async(lambda a, b: ran.append(a) or a * b, jobs, 1)
    assert ran == []  # in this process the jobs run when their results are asked for
    assert wait() == expected and ran == list(range(5))
    assert process_map_async(mul, jobs, 2)() == expected
