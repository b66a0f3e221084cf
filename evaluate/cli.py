"""``evaluate``: run | ls | report.

Errors a user can fix print as one red line and exit 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from evaluate.config import ConfigError, ExecutorName, LoaderName, SplitName, ViewName, choice_enum
from evaluate.errors import EvaluateError
from evaluate.outputs import staged
from evaluate.report.page import print_tables
from evaluate.results import SCHEMA_FILES
from simgen.cli.support import run_app
from simgen.dataset.format import DatasetError
from simgen.dataset.video import VideoError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Frozen video encoders, probes with temporal controls, and reports.")
console = Console(stderr=True)
out_console = Console()
_state = {"debug": False}

USER_ERRORS = (EvaluateError, DatasetError, VideoError, ValueError, FileNotFoundError)


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False) -> None:
    _state["debug"] = debug


# The CLI's choices are the config's Literals.
ViewChoice = choice_enum("ViewChoice", ViewName)
LoaderChoice = choice_enum("LoaderChoice", LoaderName)
ExecutorChoice = choice_enum("ExecutorChoice", ExecutorName)
SplitChoice = choice_enum("SplitChoice", SplitName)
SchemaChoice = Enum("SchemaChoice", {"all": "all", **{name: name for name in SCHEMA_FILES}}, type=str)


def _value(choice: Any) -> Any:
    return getattr(choice, "value", choice)


def _log(msg: str) -> None:
    console.print(msg, highlight=False, soft_wrap=True)


@app.command()
def run(
    datasets: Annotated[list[Path], typer.Argument(help="simgen dataset directories")],
    encoder: Annotated[list[str], typer.Option("--encoder", "-e", help="encoder spec (repeat); see `evaluate ls`")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run directory")],
    view: Annotated[list[ViewChoice] | None, typer.Option("--view", help="view (repeat); default: all five")] = None,
    probe: Annotated[list[str] | None, typer.Option("--probe", help="probe (repeat): linear, attentive[,epochs=N,lrs=a:b,...]; default: linear")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", help="target (repeat); default: all")] = None,
    cache: Annotated[Path | None, typer.Option(help="shared embedding cache; default: OUT/embeddings")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="skip clips that cannot be decoded")] = False,
    batch_size: Annotated[int | None, typer.Option(help="clips per encoder forward; default 32 on CUDA, 8 "
                                                        "elsewhere")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N]")] = "auto",
    workers: Annotated[int, typer.Option(help="decoding threads (DataLoader processes with --loader torch)")] = 2,
    probe_workers: Annotated[int | None, typer.Option(help="processes fitting the probes; default: one per core "
                                                         "(the results do not depend on it)")] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the 95% CIs")] = 1000,
    loader: Annotated[LoaderChoice, typer.Option(help="auto (= threads; batches in pinned memory on CUDA), threads or "
                                             "torch")] = "auto",
    executor: Annotated[ExecutorChoice, typer.Option(help="local, or ray: one actor per GPU, clips sharded (pip install "
                                               "'simgen\\[ray]'; the cache must be on a shared filesystem)")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster: auto or ray://host:port; default: a local "
                                                     "Ray instance")] = None,
    actors: Annotated[int | None, typer.Option(help="Ray actors; default: one per GPU (or per 2 CPUs)")] = None,
    compare: Annotated[list[str] | None, typer.Option(
        "--compare", help="a pair of encoders to compare, 'A vs B' (repeat); default: every pair of contenders "
                          "(controls left out)")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="replace a finished run in --out made with another "
                                                          "configuration (default: refuse)")] = False,
    no_hash_check: Annotated[bool, typer.Option("--no-hash-check", help="skip checking every clip against the "
                                                                      "dataset's SHA256SUMS")] = False,
) -> None:
    """Embed datasets with encoders under every view, fit probes, compare the encoders pairwise, write results
    and reports."""
    from evaluate.config import RunConfig
    from evaluate.progress import rich_progress
    from evaluate.report.probe import rich_tables, write_reports
    from evaluate.tasks.probe import run as run_eval

    config = RunConfig.build(
        datasets=[str(d) for d in datasets], encoders=list(encoder), out=str(out), **({"views": [v.value for v in view]} if view else {}),
        probes=list(probe or ["linear"]), targets=list(target) if target else None, cache=str(cache) if cache else None,
        skip_bad=skip_bad, batch_size=batch_size, device=device, workers=workers, probe_workers=probe_workers,
        n_bootstrap=bootstrap, loader=_value(loader),
        executor=_value(executor), address=address, actors=actors, compare=list(compare) if compare else None,
        verify_hashes=not no_hash_check)
    with staged(out) as stage, rich_progress(console) as progress:  # into place only when all succeeded
        results = run_eval(config, log=_log, progress=progress, replace=replace, write_to=stage)
        md, page = write_reports(stage)
    print_tables(rich_tables(results.row()), out_console)
    for clip in results.skipped.clips:
        console.print(f"[yellow]skipped clip[/yellow] {escape(clip.dataset)} {escape(clip.clip)}", soft_wrap=True)
    out_console.print(f"[green]wrote[/green] {out}/results.json, predictions.jsonl, {md.name}, {page.name} "
                      f"({results.wall_s:.1f} s)")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="run folders of `evaluate run` on the same datasets")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where comparisons.json and its reports go")],
    pair: Annotated[list[str] | None, typer.Option(
        "--compare", help="a pair 'A vs B' (repeat); default: every pair of contenders")] = None,
    bootstrap: Annotated[int | None, typer.Option(min=1, help="bootstrap resamples and permutations; default: the "
                                                          "runs' own when they agree, else 1000")] = None,
) -> None:
    """Compare encoders of runs made apart (another machine, another day) on the same test clips."""
    from evaluate.comparisons import parse_pairs
    from evaluate.report.verdict import rich_verdict, write_compare_reports
    from evaluate.tasks.compare import COMPARISONS_FILE, compare_runs

    pairs = None
    if pair:  # names are checked against the runs' encoders in compare_runs
        pairs = [tuple(p.strip() for p in text.split(" vs ", 1)) for text in pair]
        pairs = parse_pairs(pair, [n for p in pairs for n in p])
    result = compare_runs(list(runs), out, pairs, bootstrap, log=_log)
    md, page = write_compare_reports(out, result.row())
    print_tables(rich_verdict(result.row()), out_console)
    out_console.print(f"[green]wrote[/green] {out}/{COMPARISONS_FILE}, {md.name}, {page.name}")


@app.command()
def schema(file: Annotated[SchemaChoice, typer.Argument(help="which file's schema")] = "all") -> None:
    """The JSON Schema of results.json (evaluate run) and surprise.json (evaluate surprise)."""
    import json

    from evaluate.results import json_schemas

    schemas = json_schemas()
    print(json.dumps(schemas if _value(file) == "all" else schemas[_value(file)], indent=1))


@app.command("ls")
def ls_all() -> None:
    """Encoders, views and probes available."""
    from evaluate.data.views import VIEW_HELP
    from evaluate.encoders import ENCODERS
    from evaluate.probes import PROBES

    out_console.print("[bold]encoders[/bold] (spec: kind[:arg][,option=value...])")
    for kind, cls in ENCODERS.items():
        opts = ", ".join(cls.option_help) or "none"
        out_console.print(f"  [bold]{kind}[/bold]  {escape(cls.description)}  [dim](e.g. {escape(cls.example)}; "
                          f"options: {opts})[/dim]", highlight=False)
    out_console.print("[bold]views[/bold]")
    for name, text in VIEW_HELP.items():
        out_console.print(f"  [bold]{name}[/bold]  {text}", highlight=False)
    out_console.print("[bold]probes[/bold]")
    for name, cls in PROBES.items():
        out_console.print(f"  [bold]{name}[/bold]  {cls.description}", highlight=False)


@app.command()
def report(rundir: Annotated[Path, typer.Argument(help="run directory holding results.json")]) -> None:
    """Rebuild report.md and report.html from RUNDIR/results.json and predictions.jsonl."""
    from evaluate.io import load_results
    from evaluate.report.probe import rich_tables, write_reports

    payload = load_results(rundir)  # a missing, unreadable or foreign results.json is refused in one line
    try:
        md, page = write_reports(rundir)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise EvaluateError(f"{rundir}/results.json: a field is missing or of the wrong type ({type(e).__name__}: "
                            f"{e}); not a results.json this version of evaluate wrote") from None
    print_tables(rich_tables(payload), out_console)
    out_console.print(f"[green]wrote[/green] {md} and {page}")


@app.command()
def surprise(
    datasets: Annotated[list[Path], typer.Argument(help="simgen datasets rendered with a `violations:` section")],
    encoder: Annotated[list[str], typer.Option("--encoder", "-e", help="vjepa2:<id|dir>, random-vjepa2[:size][,seed=N], "
                                               "or a control: extrapolate[,order=1,size=32], "
                                               "frame-classifier[,size=16,folds=5,C=1], oracle[,penalty=10] "
                                               "(repeat)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory")],
    context: Annotated[list[int] | None, typer.Option("--context", help="context frames (repeat; every one is "
                                                      "reported); default 4 and 6")] = None,
    horizon: Annotated[int, typer.Option(help="frames predicted per window")] = 2,
    stride: Annotated[int, typer.Option(help="frames between windows")] = 2,
    split: Annotated[SplitChoice | None, typer.Option(help="only this split; default: all (nothing is trained)")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N]")] = "auto",
    workers: Annotated[int, typer.Option(help="decoding threads")] = 2,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the 95% CIs")] = 1000,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="skip clips that cannot be decoded")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="replace a finished run in --out made with another "
                                                          "configuration (default: refuse)")] = False,
    no_hash_check: Annotated[bool, typer.Option("--no-hash-check", help="skip checking every clip against the "
                                                                      "dataset's SHA256SUMS")] = False,
) -> None:
    """Violation-of-expectation surprise on possible/impossible groups: relative and pairwise accuracy, AUROC,
    the certification of each violation kind by the controls, plots."""
    from evaluate.config import SurpriseConfig
    from evaluate.report.surprise import rich_tables
    from evaluate.tasks.surprise import run_surprise

    contexts = {"contexts": list(context)} if context else {}  # default: SurpriseConfig's
    config = SurpriseConfig.build(datasets=[str(d) for d in datasets], encoders=list(encoder), out=str(out),
                                  horizon=horizon, stride=stride, split=_value(split), device=device, workers=workers,
                                  n_bootstrap=bootstrap, skip_bad=skip_bad, verify_hashes=not no_hash_check,
                                  **contexts)
    results = run_surprise(config, log=_log, replace=replace)
    print_tables(rich_tables(results.row()), out_console)
    out_console.print(f"[green]wrote[/green] {out}/surprise.json, surprise_curves.jsonl, surprise_report.md, "
                      f"surprise_report.html ({results.wall_s:.1f} s)")


@app.command()
def sweep(
    source: Annotated[Path, typer.Argument(help="run directory (results.json + predictions.jsonl) or a dataset")],
    param: Annotated[str | None, typer.Option("--param", "-p", help="clip parameter (params, dotted, or a target), "
                                              "e.g. speed_start, blink_hz, impact_speed, violation.distance")] = None,
    frame_steps: Annotated[str | None, typer.Option("--frame-steps", help="instead of --param, with a dataset: "
                                                    "the timescale, e.g. 1,2,4: each encoder reads --frames frames "
                                                    "every S-th frame")] = None,
    frames: Annotated[int, typer.Option(help="frames per clip in a --frame-steps sweep")] = 16,
    target: Annotated[list[str] | None, typer.Option("--target", help="target (repeat); default: all")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder; default: the run directory")] = None,
    encoder: Annotated[list[str] | None, typer.Option("--encoder", "-e", help="with a dataset: encoders to run")] = None,
    view: Annotated[ViewChoice, typer.Option(help="view whose predictions are swept")] = "original",
    probe: Annotated[str | None, typer.Option(help="probe; default: every probe in the run")] = None,
    bins: Annotated[int, typer.Option(help="quantile bins of the parameter on the test set")] = 5,
    bootstrap: Annotated[int, typer.Option(help="bootstrap refits for the threshold CI")] = 300,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N] (dataset mode)")] = "auto",
    replace: Annotated[bool, typer.Option("--replace", help="replace a finished sweep (or run) in --out made with "
                                                          "another configuration (default: refuse)")] = False,
) -> None:
    """Score against one scene parameter, binned on test, with a psychometric threshold and its CI; or,
    with --frame-steps, score and temporal margins against the span an encoder sees."""
    from evaluate.config import SweepConfig
    from evaluate.report.page import table
    from evaluate.report.sweep import frame_step_rows, result_rows
    from evaluate.tasks.sweep import run_sweep

    steps = _int_list("--frame-steps", frame_steps) if frame_steps else None
    config = SweepConfig.build(source=str(source), param=param, frame_steps=steps, frames=frames,
                               out=str(out) if out else None,
                               targets=list(target) if target else None, view=_value(view), probe=probe, bins=bins,
                               n_bootstrap=bootstrap, encoders=list(encoder or []), device=device)
    result = run_sweep(config, log=_log, replace=replace)
    if steps:
        print_tables([table("sweep over the frame step", *frame_step_rows(result))], out_console)
    else:
        print_tables([table(f"sweep over {param}", *result_rows(result))], out_console)
    out_console.print(f"[green]wrote[/green] {out or source}/sweep-{param or 'frame_step'}.json, .md, .html")


def _int_list(flag: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: a comma-separated list of whole numbers, e.g. 1,2,4") from None


def main() -> None:
    run_app(app, console=console, user_errors=USER_ERRORS, debug=lambda: _state["debug"],
            interrupted="re-run the same command; cached embeddings are kept")


if __name__ == "__main__":
    main()
