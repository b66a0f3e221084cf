"""``simgen``: ls | validate | schema | render | audit | merge | check | preview.

Errors a user can fix print as one red line and exit 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import os
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from simgen.cli.support import progress_bar, run_app
from simgen.dataset.format import DatasetError
from simgen.dataset.video import VideoError
from simgen.spec import SpecError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Render controlled physics clips with exact ground truth.")
console = Console(stderr=True)
out_console = Console()
_state = {"debug": False}


class MissingDependency(RuntimeError):
    """A package the command needs is not installed; the message says how to install it."""


MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_PREVIEW = 64  # rows or frames of a contact sheet: more is an accident (96,000 px wide)
SplitChoice = Enum("SplitChoice", {s: s for s in ("train", "val", "test")}, type=str)
USER_ERRORS = (SpecError, DatasetError, VideoError, MissingDependency, ValueError, FileNotFoundError,
               FileExistsError)


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False) -> None:
    _state["debug"] = debug


@app.command("ls")
def ls_families(
    scenes: Annotated[Path, typer.Option(help="folder of scene specs whose presets are listed under each family")]
    = Path("scenes"),
) -> None:
    """Scene families available, one line each, and under each the specs (presets) in ``--scenes``."""
    from simgen.families import FAMILIES

    if not scenes.is_dir():
        raise FileNotFoundError(f"--scenes {scenes}: no such folder of scene specs")
    presets = scene_presets(scenes)
    for family in FAMILIES.values():
        targets = ", ".join(family.targets)
        out_console.print(f"[bold]{family.name}[/bold]  {family.description}  [dim](targets: {targets})[/dim]",
                          soft_wrap=True)
        for line in presets.get(family.name, []):
            out_console.print(f"  {line}", soft_wrap=True, highlight=False)
    for line in presets.get("?", []):
        console.print(f"[yellow]not a valid spec:[/yellow] {escape(line)}", soft_wrap=True)


# V-JEPA 2 is pretrained on 16-frame clips at about 4 fps; a preset that holds 16 frames at a step
# gets that step suggested (`frames=16,step=S`), so a user sees which specs match its timescale.
MODEL_FRAMES = 16


def scene_presets(folder: Path) -> dict[str, list[str]]:
    """Per family, one line per spec in ``folder``: its file, frames, fps, duration and, for a long
    clip, the encoder options that read it as 16 frames (V-JEPA 2's input). Unloadable specs are
    listed with their one-line error."""
    from simgen.spec import load_spec

    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = load_spec(path)
        except SpecError as e:
            out.setdefault("?", []).append(f"{path}: {e}")
            continue
        r = spec.render
        line = f"{path}  {r.frames} frames at {r.fps} fps ({(r.frames - 1) / r.fps:.2f} s)"
        step = r.frames // MODEL_FRAMES
        if step > 1:
            line += (f"; encode as 16 frames over {(MODEL_FRAMES - 1) * step / r.fps:.1f} s with "
                     f"frames={MODEL_FRAMES},step={step}")
        if spec.violations:
            line += ("; violations: occluded quadruplets" if spec.violations.design == "occluded"
                     else "; violations: possible/impossible twins, in view")
        out.setdefault(spec.family, []).append(line)
    return out


@app.command()
def validate(spec_file: Annotated[Path, typer.Argument(help="scene spec YAML")]) -> None:
    """Check a spec and print its resolved form (every default filled in)."""
    import yaml

    from simgen.spec import load_spec

    spec = load_spec(spec_file)
    out_console.print(f"[green]ok[/green] {spec_file}: family {spec.family}, fingerprint {spec.fingerprint()}, "
                      f"{sum(n for _, n in spec.counts.items())} clips", soft_wrap=True)
    print(yaml.safe_dump(spec.canonical(), sort_keys=False, width=1000), end="")


@app.command()
def schema(out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None) -> None:
    """JSON Schema of the spec format, for editor autocompletion."""
    from simgen.spec import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2)
    if out:
        out.write_text(text + "\n")
    else:
        print(text)


@app.command()
def render(
    spec_file: Annotated[Path, typer.Argument(help="scene spec YAML")],
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset directory")],
    n: Annotated[int | None, typer.Option("-n", help="total clips, split in the spec's proportions")] = None,
    seed: Annotated[int | None, typer.Option(help="override the spec's seed", min=0, max=MAX_SEED)] = None,
    workers: Annotated[int | None, typer.Option(help="processes; default: the number of cores", min=1)] = None,
    shard: Annotated[str, typer.Option(help="render shard K of N (1-based), e.g. 2/4")] = "1/1",
    force: Annotated[bool, typer.Option(help="overwrite a dataset made from another spec")] = False,
    repair: Annotated[bool, typer.Option("--repair", help="re-make the files of DIR that differ from its SHA256SUMS "
                                                          "(same spec: what `simgen check --hashes` found)")] = False,
    allow_mixed_versions: Annotated[bool, typer.Option(
        "--allow-mixed-versions", help="finish a dataset another simgen version left incomplete (dataset.json "
                                       "records both versions)")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print a machine-readable summary")] = False,
    executor: Annotated[str, typer.Option(help="local (process pool) or ray")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster: auto or ray://host:port")] = None,
) -> None:
    """Render a dataset; an existing DIR of the same spec is resumed (only missing clips render)."""
    try:  # ls, validate and schema run without PyBullet; rendering is what needs it
        from simgen.run.parallel import parse_shard, render_dataset
    except ModuleNotFoundError as e:
        if e.name != "pybullet":
            raise
        raise MissingDependency("simgen render needs PyBullet, which is not installed here: pip install pybullet "
                                "(or pip install -e . in the project)") from None
    from simgen.spec import load_spec

    spec = load_spec(spec_file).with_overrides(seed=seed, total=n)
    total = sum(c for _, c in spec.counts.items())
    if n is not None and total != n:
        console.print(f"[yellow]note[/yellow]: -n {n} is not a whole number of groups of {spec.clips_per_group} "
                      f"clips; rendering {total} (" + ", ".join(f"{k} {c}" for k, c in spec.counts.items()) + ")",
                      highlight=False, soft_wrap=True)
    if total and not dict(spec.counts.items()).get("test"):
        console.print(f"[yellow]note[/yellow]: the test split gets 0 clips ({total} in all): `evaluate` scores "
                      f"nothing on it; render more with a larger -n", highlight=False, soft_wrap=True)
    shard_kn = parse_shard(shard)
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: must be ≥ 1")
    if repair:
        _remove_damaged(out, spec)
    with progress_bar(console, rate=True, disable=json_out or not console.is_terminal) as progress:
        bar = progress.add_task(f"{spec.family} → {out}", total=None, rate="–")
        first: list[tuple[int, float]] = []  # (clips already done, time) at the first call: rate excludes resumed clips

        def on_progress(done: int, total: int) -> None:
            now = time.perf_counter()
            first.append((done, now)) if not first else None
            rendered, elapsed = done - first[0][0], now - first[0][1]
            rate = f"{rendered / elapsed:.1f}" if rendered and elapsed > 0 else "–"
            progress.update(bar, completed=done, total=total, rate=rate)

        summary = render_dataset(spec, out, workers=workers, shard=shard_kn, force=force,
                                 allow_mixed_versions=allow_mixed_versions, executor=executor,
                                 address=address, on_progress=on_progress)
    if json_out:
        print(json.dumps(summary.to_dict()))
        return
    state = "complete" if summary.clips_missing == 0 else f"{summary.clips_missing} clips still missing"
    out_console.print(f"[green]rendered[/green] {summary.clips_rendered} clips "
                      f"({summary.clips_skipped} already present) in {summary.seconds:.1f} s, "
                      f"{summary.clips_per_second:.1f} clips/s with {summary.workers} workers → {out} ({state})")


@app.command()
def audit(
    spec_file: Annotated[Path, typer.Argument(help="scene spec YAML")],
    n: Annotated[int, typer.Option("-n", help="clips to simulate (whole groups)")] = 5000,
    seed: Annotated[int | None, typer.Option(help="override the spec's seed")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for audit.json")] = Path("audit"),
    workers: Annotated[int | None, typer.Option(help="processes; default: the number of cores")] = None,
    frames: Annotated[int, typer.Option("--frames", help="frames audited one by one (evenly spaced; the first, "
                                                         "middle and last among them)")] = 9,
    simulate: Annotated[bool, typer.Option("--simulate", help="simulate in PyBullet even where the family has "
                                                                "a closed form")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print audit.json instead of the table")] = False,
) -> None:
    """Certify a spec's promises at scale: simulate N clips without rendering and measure, per target, what
    one frame's visible state gives (at a dense set of frames) and what all frames give, with a linear and
    a boosted-trees probe under grouped cross-validation. Exits 1 if a target the family promises no single
    frame gives is read from one frame above chance (a leak)."""
    try:
        from simgen.run.audit import audit_spec
        from simgen.run.audit.table import HEADER, summary_rows, tolerance_line
    except ModuleNotFoundError as e:
        if e.name not in ("sklearn", "pybullet"):
            raise
        raise MissingDependency(f"simgen audit needs {e.name}: pip install 'simgen[eval]'") from None
    from rich.table import Table

    from simgen.dataset.io import atomic_write_json
    from simgen.spec import load_spec

    if n < 1 or (workers is not None and workers < 1):
        raise ValueError(f"-n {n}, --workers {workers}: both must be ≥ 1")
    spec = load_spec(spec_file).with_overrides(seed=seed)
    with progress_bar(console, disable=json_out or not console.is_terminal) as progress:
        simulating = progress.add_task(f"simulate {spec_file.name}", total=None)
        measuring = progress.add_task("measure", total=None)
        result = audit_spec(spec, n, name=str(spec_file), workers=workers or os.cpu_count() or 1,
                            closed_form=not simulate, dense=frames,
                            on_simulated=lambda d, t: progress.update(simulating, completed=d, total=t),
                            on_measured=lambda d, t: progress.update(measuring, completed=d, total=t))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "audit.json", result.to_dict())
    if json_out:
        print(json.dumps(result.to_dict()))
    else:
        table = Table(*HEADER, title=f"{spec_file}: {result.clips} clips, {result.seconds['total']:.0f} s")
        for row in summary_rows(result):
            table.add_row(*(f"[red]{c}[/red]" if c == "LEAK" else c for c in row))
        out_console.print(table)
        out_console.print(tolerance_line(), soft_wrap=True)
        out_console.print(f"wrote {out / 'audit.json'}", highlight=False)
    if result.leaks:
        console.print(f"[red]{len(result.leaks)} leak(s)[/red]: " + ", ".join(sorted({r.target for r in result.leaks}))
                      + " read from one frame above chance, against the family's promise", soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def merge(
    out: Annotated[Path, typer.Argument(help="dataset directory to fill (created if missing)")],
    sources: Annotated[list[Path], typer.Argument(help="shard directories of the same spec")],
) -> None:
    """Fold shard directories rendered apart (--shard K/N) into one dataset, byte-identical to one run."""
    from simgen.dataset.merge import merge_datasets

    summary = merge_datasets(out, sources)
    state = "complete" if summary.clips_missing == 0 else f"{summary.clips_missing} clips still missing"
    out_console.print(f"[green]merged[/green] {summary.clips_copied} clips into {out} ({state})")


@app.command()
def check(
    dataset_dir: Annotated[Path, typer.Argument(help="dataset directory")],
    hashes: Annotated[bool, typer.Option("--hashes", help="also check every file against SHA256SUMS")] = False,
) -> None:
    """Verify a dataset without rendering: metadata lines, counts against dataset.json, each clip's
    files, the generator version, and with --hashes every file's sha256. One line per problem; exits 1
    if there is any."""
    import simgen
    from simgen.dataset.format import Dataset

    dataset = Dataset(dataset_dir)
    intact, problems = dataset.verify(hashes=hashes)
    versions = dataset.info.versions
    made_by = " and ".join(versions)
    if len(versions) > 1:
        console.print(f"[yellow]note[/yellow]: holds clips of simgen {made_by} (finished with "
                      f"--allow-mixed-versions)", highlight=False, soft_wrap=True)
    elif made_by != simgen.__version__:
        console.print(f"[yellow]note[/yellow]: made by simgen {made_by}, this is {simgen.__version__}: a resume would "
                      f"mix clips of two versions", highlight=False, soft_wrap=True)
    for problem in problems:
        console.print(f"[red]problem[/red]: {escape(problem)}", highlight=False, soft_wrap=True)
    checked = "files, counts and sha256 sums" if hashes else "files and counts"
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/red] in {dataset_dir} ({len(intact)} of "
                      f"{dataset.info.total} clips intact); {dataset.repair_hint(problems)}", highlight=False,
                      soft_wrap=True)
        raise typer.Exit(1)
    out_console.print(f"[green]ok[/green] {dataset_dir}: {len(intact)} clips, {checked} as dataset.json says "
                      f"(simgen {made_by}, format {dataset.info.format_version})", highlight=False, soft_wrap=True)


@app.command()
def preview(
    dataset_dir: Annotated[Path, typer.Argument(help="dataset directory")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write")] = Path("preview.png"),
    clips: Annotated[int, typer.Option(help="rows", min=1, max=MAX_PREVIEW)] = 6,
    frames: Annotated[int, typer.Option(help="frames per row", min=1, max=MAX_PREVIEW)] = 8,
    split: Annotated[SplitChoice | None, typer.Option(help="train, val or test")] = None,
) -> None:
    """Contact sheet: a few clips as frame strips, with their labels."""
    from simgen.dataset.preview import contact_sheet

    path = contact_sheet(dataset_dir, out, clips=clips, frames=frames, split=getattr(split, "value", split))
    out_console.print(f"[green]wrote[/green] {path}")


def _remove_damaged(out: Path, spec) -> None:
    """--repair: remove the files of ``out`` that differ from SHA256SUMS (only for a dataset of this very
    spec), so that the render re-makes them."""
    from simgen.dataset.format import Dataset, read_info

    if not (out / "dataset.json").is_file():
        raise FileNotFoundError(f"--repair: {out} holds no dataset to repair")
    if read_info(out).fingerprint != spec.fingerprint():
        raise DatasetError(f"--repair: {out} was made from another spec, -n or --seed; repair it with the ones "
                           f"its dataset.json records")
    for name in Dataset(out).remove_damaged():
        console.print(f"[yellow]removed[/yellow] {escape(name)}: it differs from SHA256SUMS; re-made now",
                      highlight=False, soft_wrap=True)


def main() -> None:
    run_app(app, console=console, user_errors=USER_ERRORS, debug=lambda: _state["debug"],
            interrupted="re-run the same command to resume")


if __name__ == "__main__":
    main()
