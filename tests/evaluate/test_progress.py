"""`evaluate run` reports its progress: one step per (dataset, encoder) embedding, and one probing
step whose units are (dataset, encoder, view, target, probe) fits, each counted to its total."""

import io

from evaluate.config import RunConfig
from evaluate.progress import Progress, rich_progress
from evaluate.tasks.probe import run


class Recorder(Progress):
    def __init__(self):
        self.steps: dict[str, list[int]] = {}  # description -> [total, advanced]

    def task(self, description, total):
        self.steps[description] = [total, 0]
        return lambda n: self.steps[description].__setitem__(1, self.steps[description][1] + n)


def test_every_step_is_counted_to_its_total(tiny_falling_rising, tmp_path):
    progress = Recorder()
    config = RunConfig(datasets=[str(tiny_falling_rising)], encoders=["pixels,size=8", "motion,size=8"],
                       out=str(tmp_path / "run"), views=["original", "single_frame"], n_bootstrap=20, device="cpu")
    results = run(config, progress=progress)
    embedding = {d: s for d, s in progress.steps.items() if d.startswith("embedding")}
    # one step per dataset: the two pixel encoders share one decode, so each of the 16 clips counts once
    assert len(embedding) == 1 and all(total == advanced == 16 for total, advanced in embedding.values())
    total, advanced = progress.steps["probing"]
    # 2 encoders x 2 views x 6 targets (accel_z is constant: counted, then skipped) x 1 probe; the scores are
    # within-view for both views and cross-view (fitted on original) for single_frame
    assert total == advanced == 2 * 2 * 6 and len(results.results) == 2 * 5 * (2 + 1)
    # a second run embeds nothing: its embedding steps are empty, the probing step is the same
    progress = Recorder()
    run(config, progress=progress)
    assert all(s == [0, 0] for d, s in progress.steps.items() if d.startswith("embedding"))


def test_rich_bars_are_drawn_on_a_terminal():
    from rich.console import Console

    out = io.StringIO()
    with rich_progress(Console(file=out, force_terminal=True, width=100)) as progress:
        advance = progress.task("probing falling_rising", 4)
        advance(4)
        progress.done(advance)
    assert "probing falling_rising" in out.getvalue()


def test_encoders_with_the_same_weights_are_reported_as_one_model():
    from evaluate.embed.base import Embedded
    from evaluate.tasks.probe import note_shared_weights

    records = [Embedded(name, {"encoder_sha256": digest}, [], {}, {})
               for name, digest in (("vjepa2:base", "ab"), ("vjepa2:base-ssv2,pool=classifier", "ab"), ("pixels", None))]
    logged = []
    note_shared_weights(records, logged.append)
    assert records[0].notes == [] and records[2].notes == []
    assert records[1].notes and "same encoder weights as vjepa2:base" in records[1].notes[0] and len(logged) == 1
