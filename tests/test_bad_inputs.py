"""Bad input, as a new user gives it, to both command lines: one line on stderr, a non-zero exit, and
nothing on disk changed. Damaged datasets are never read short without --skip-bad, and thin test
splits are said to be thin."""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import tiny_spec_dict, write_spec


def cli(which: str, monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``simgen`` or ``evaluate`` in this process, as its console script would: (exit code,
    stdout, stderr)."""
    if which == "simgen":
        from simgen.cli.app import main
    else:
        from evaluate.cli import main
    monkeypatch.setattr(sys, "argv", [which, *map(str, args)])
    capsys.readouterr()
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) by content hash: what "nothing changed" means."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_line_failure(result: tuple[int, str, str]) -> str:
    code, _, err = result
    lines = err.strip().splitlines()
    assert code != 0, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    return lines[0]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A small finished falling_rising dataset (8 train, 4 val, 4 test; 8 frames at 32²)."""
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec

    out = tmp_path_factory.mktemp("pristine") / "ds"
    render_dataset(parse_spec(tiny_spec_dict(counts=(8, 4, 4), size=32)), out, workers=1)
    return out


@pytest.fixture
def dataset(pristine, tmp_path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(pristine, copy)
    return copy


def tear(path: Path, line: int) -> None:
    """Cut ``path`` in the middle of its ``line``-th line (1-based), as a bad copy would."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:line - 1]) + lines[line - 1][: len(lines[line - 1]) // 2])


# --------------------------------------------------------------------------- the reader verifies


def test_a_fresh_dataset_passes_check_with_hashes(dataset, monkeypatch, capsys):
    code, out, err = cli("simgen", monkeypatch, capsys, "check", dataset, "--hashes")
    assert code == 0, err
    assert "16 clips" in out and "sha256" in out
    assert (dataset / "SHA256SUMS").read_text().count("\n") == 1 + 2 * 16 + 3  # dataset.json, clips, metadata


def test_check_names_each_problem_of_a_damaged_dataset(dataset, monkeypatch, capsys):
    tear(dataset / "train" / "metadata.jsonl", 3)
    victim = sorted((dataset / "test").glob("*.mp4"))[0]
    victim.unlink()
    (dataset / "val" / sorted(p.name for p in (dataset / "val").glob("*.json"))[0]).write_bytes(b"")
    before = snapshot(dataset)
    code, _, err = cli("simgen", monkeypatch, capsys, "check", dataset, "--hashes")
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("problem:")]
    text = "\n".join(problems)
    assert "train/metadata.jsonl:3: torn or unparsable" in text
    assert "train/metadata.jsonl: lists 2 clip(s), dataset.json says 8" in text
    assert f"{victim.name} missing or empty" in text
    assert "missing or empty" in text and "content differs from SHA256SUMS" in text
    assert snapshot(dataset) == before


def test_a_torn_metadata_line_stops_evaluate_unless_skip_bad(dataset, tmp_path, monkeypatch, capsys):
    """The silent loss of the issue: a train/metadata.jsonl cut mid-line used to score fewer clips and exit 0."""
    tear(dataset / "train" / "metadata.jsonl", 5)
    before = snapshot(dataset)
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", dataset, "-e", "pixels",
                                       "--out", tmp_path / "run", "--bootstrap", "20"))
    assert "train/metadata.jsonl:5: torn or unparsable" in line and "--skip-bad" in line
    assert "re-running the `simgen render`" in line
    assert not (tmp_path / "run").exists() and snapshot(dataset) == before
    code, _, err = cli("evaluate", monkeypatch, capsys, "run", dataset, "-e", "pixels", "--out", tmp_path / "run",
                       "--bootstrap", "20", "--skip-bad")
    assert code == 0, err
    payload = json.loads((tmp_path / "run" / "results.json").read_text())
    skipped = [c["clip"] for c in payload["skipped"]["clips"]]
    assert any("metadata.jsonl:5" in s for s in skipped) and any("lists 4 clip(s)" in s for s in skipped)
    assert payload["datasets"][0]["clips"] == 12  # 4 train + 4 val + 4 test read; the loss is listed


def test_re_rendering_repairs_a_torn_dataset_byte_identically(pristine, dataset, monkeypatch, capsys):
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec

    tear(dataset / "val" / "metadata.jsonl", 2)
    render_dataset(parse_spec(tiny_spec_dict(counts=(8, 4, 4), size=32)), dataset, workers=1)
    assert snapshot(dataset) == snapshot(pristine)
    code, _, err = cli("simgen", monkeypatch, capsys, "check", dataset, "--hashes")
    assert code == 0, err


def render_tiny(root: Path) -> None:
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec

    render_dataset(parse_spec(tiny_spec_dict(counts=(8, 4, 4), size=32)), root, workers=1)


def test_a_re_run_never_blesses_a_damaged_file(pristine, dataset, monkeypatch, capsys):
    """Re-rendering a complete dataset renders nothing, so it must not hash the damage into SHA256SUMS;
    deleting the damaged file and re-rendering re-makes it, and the check passes again."""
    victim = sorted((dataset / "train").glob("*.mp4"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    render_tiny(dataset)
    code, _, err = cli("simgen", monkeypatch, capsys, "check", dataset, "--hashes")
    assert code == 1 and f"{victim.name}: content differs from SHA256SUMS" in err and "--repair" in err
    victim.unlink()
    render_tiny(dataset)
    assert snapshot(dataset) == snapshot(pristine)


@pytest.mark.parametrize("damage_kind", ["object_without_ids", "no_group_id", "bad_bytes", "garbage"])
def test_render_repairs_every_kind_of_damaged_line(pristine, dataset, damage_kind):
    """Whatever line the reader refuses, the writer drops and re-makes: the repair the error suggests works."""
    meta = dataset / "val" / "metadata.jsonl"
    lines = meta.read_bytes().split(b"\n")
    first = json.loads(lines[0])
    lines[0] = {"object_without_ids": b"{}", "garbage": b"{not json",
                "no_group_id": json.dumps({k: v for k, v in first.items() if k != "group_id"}).encode(),
                "bad_bytes": b"\xff\xfe" + lines[0]}[damage_kind]
    meta.write_bytes(b"\n".join(lines))
    from simgen.dataset.format import Dataset

    assert Dataset(dataset).verify()[1]  # refused by the reader...
    render_tiny(dataset)  # ...repaired by the writer
    assert Dataset(dataset).verify(hashes=True)[1] == []
    assert snapshot(dataset) == snapshot(pristine)


def test_usage_errors_are_one_line(tmp_path, monkeypatch, capsys):
    for which, args in (("simgen", ["chek"]), ("simgen", ["check"]), ("simgen", ["render", "x.yaml", "-o", "y",
                                                                                 "-n", "abc"]),
                        ("evaluate", ["run", tmp_path, "--bogus"])):
        code, _, err = cli(which, monkeypatch, capsys, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and f"see `{which} --help`" in err, (args, err)


def test_an_incomplete_dataset_is_refused_and_says_so(dataset, tmp_path, monkeypatch, capsys):
    """Fewer clips than dataset.json lists (a render still running, or stopped): no command reads it short."""
    lines = (dataset / "test" / "metadata.jsonl").read_text().splitlines(keepends=True)
    (dataset / "test" / "metadata.jsonl").write_text("".join(lines[:2]))
    (dataset / ".journal").mkdir()
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", dataset, "-e", "pixels", "--out",
                                       tmp_path / "run"))
    assert "lists 2 clip(s), dataset.json says 4 (a render is in progress or was interrupted" in line
    assert "simgen merge" in line and not (tmp_path / "run").exists()
    # A contact sheet still works on what is there (a shard's directory, a render in progress).
    code, _, err = cli("simgen", monkeypatch, capsys, "preview", dataset, "--out", tmp_path / "p.png")
    assert code == 0, err


# --------------------------------------------------------------------------- OS errors: one line


def test_os_errors_about_user_paths_are_one_line(tmp_path, monkeypatch, capsys, tiny_spec_file):
    spec = tiny_spec_file()
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    before = snapshot(tmp_path)
    cases = [
        ("simgen", ["validate", tmp_path], "is a directory"),
        ("simgen", ["render", spec, "--out", a_file, "-n", "40"], "a file is in the way"),
        ("evaluate", ["run", tmp_path / "nothing", "-e", "pixels", "--out", tmp_path / "r"], "not a simgen dataset"),
        ("simgen", ["check", a_file], "is a file, not a dataset directory"),
    ]
    for which, args, expected in cases:
        assert expected in assert_one_line_failure(cli(which, monkeypatch, capsys, *args)), args
    assert snapshot(tmp_path) == before


def test_evaluate_out_that_is_a_file(dataset, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", dataset, "-e", "pixels", "--out",
                                       a_file, "--bootstrap", "20"))
    assert f"{a_file}: already exists" in line and a_file.read_text() == "x"


@pytest.mark.parametrize("error,expected", [
    (PermissionError(errno.EACCES, "Permission denied", "/data/out"), "/data/out: permission denied"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/out/x.mp4"), "no space left on the device writing"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "scenes"), "scenes: is a directory"),
])
def test_each_os_error_says_what_to_do(error, expected, monkeypatch, capsys):
    """Permission and a full disk cannot be made for real here (root ignores permissions), so a command
    raises them as the OS would, and run_app maps them; an OSError with no path stays a traceback."""
    import typer
    from rich.console import Console

    from simgen.cli.support import run_app

    def app_raising(exc):
        app = typer.Typer()

        @app.command()
        def go() -> None:
            raise exc

        return app

    console = Console(stderr=True)
    monkeypatch.setattr(sys, "argv", ["simgen"])
    with pytest.raises(SystemExit) as stopped:
        run_app(app_raising(error), console=console, user_errors=(), debug=lambda: False, interrupted="")
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err
    with pytest.raises(OSError):  # a bug, not a path the user gave: the traceback stays
        run_app(app_raising(OSError(errno.EIO, "I/O error")), console=console, user_errors=(),
                debug=lambda: False, interrupted="")


# --------------------------------------------------------------------------- precision and surprises


def test_a_thin_test_split_is_flagged_beside_every_ci(tmp_path, monkeypatch, capsys, tiny_spec_file):
    spec = tiny_spec_file(size=32)
    code, _, err = cli("simgen", monkeypatch, capsys, "render", spec, "--out", tmp_path / "ds", "-n", "20",
                       "--workers", "1")
    assert code == 0, err
    code, out, err = cli("evaluate", monkeypatch, capsys, "run", tmp_path / "ds", "-e", "pixels", "--out",
                         tmp_path / "run", "--bootstrap", "20")
    assert code == 0, err
    assert re.search(r"the test split has \d+ group\(s\); the 95% CIs", err), err
    assert "skipped target ds/accel_z: constant target" in err  # on the console, not only in the report
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## Warnings" in md and "unreliable below 20" in md
    cis = [cell for line in md.splitlines() if line.startswith("| ds |") for cell in line.split("|") if "[" in cell]
    assert cis and all(cell.strip().endswith("†") for cell in cis)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["warnings"]


def test_an_empty_test_split_is_an_error_naming_the_targets(tmp_path, monkeypatch, capsys, tiny_spec_file):
    spec = tiny_spec_file(size=32)
    cli("simgen", monkeypatch, capsys, "render", spec, "--out", tmp_path / "ds", "-n", "4", "--workers", "1")
    line = assert_one_line_failure(cli("evaluate", monkeypatch, capsys, "run", tmp_path / "ds", "-e", "pixels",
                                       "--out", tmp_path / "run", "--bootstrap", "20"))
    assert "no target could be scored: ds has no test clips (render more clips: a larger -n)" in line
    assert not (tmp_path / "run" / "report.md").exists() and not (tmp_path / "run" / "results.json").exists()


def test_rounding_to_whole_groups_is_said(tmp_path, monkeypatch, capsys, tiny_spec_file):
    code, _, err = cli("simgen", monkeypatch, capsys, "render", tiny_spec_file(size=32), "--out", tmp_path / "ds",
                       "-n", "3", "--workers", "1")
    assert code == 0 and "-n 3 is not a whole number of groups of 2 clips; rendering 2" in err


def test_a_missing_local_checkpoint_is_no_such_directory(dataset, tmp_path, monkeypatch, capsys):
    (tmp_path / "checkpoints").mkdir()
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("evaluate", monkeypatch, capsys, "run", dataset, "-e", "vjepa2:checkpoints/nothere",
                       "--out", tmp_path / "run")
    line = err.strip().splitlines()[-1]  # after the "skipped encoder" line a run with others would go on from
    assert code == 1 and line.startswith("error: every encoder was skipped")
    assert "no such directory (checkpoints has no nothere)" in line and "huggingface-cli" not in err
    assert "nothing was evaluated, no report written" in line
    assert not (tmp_path / "run" / "results.json").exists()


# --------------------------------------------------------------------------- the property test

DAMAGE = st.sampled_from(["tear", "garbage_line", "delete_mp4", "delete_json", "empty_mp4", "empty_json",
                          "truncate_dataset_json", "drop_field", "wrong_type", "not_json_object"])
COMMANDS = st.sampled_from([("simgen", ["check", "{ds}"]), ("simgen", ["check", "{ds}", "--hashes"]),
                            ("evaluate", ["run", "{ds}", "-e", "pixels", "--out", "{tmp}/run", "--bootstrap", "20"])])


def damage(root: Path, kind: str, pick: int) -> None:
    split = ("train", "val", "test")[pick % 3]
    meta = root / split / "metadata.jsonl"
    clips = sorted(p.stem for p in (root / split).glob("*.mp4"))
    clip = clips[pick % len(clips)]
    info = json.loads((root / "dataset.json").read_text())
    if kind == "tear":
        tear(meta, 1 + pick % len(meta.read_text().splitlines()))
    elif kind == "garbage_line":
        lines = meta.read_text().splitlines(keepends=True)
        lines.insert(pick % len(lines), "{not json\n")
        meta.write_text("".join(lines))
    elif kind in ("delete_mp4", "delete_json"):
        (root / split / f"{clip}.{kind[-4:].strip('_')}").unlink()
    elif kind in ("empty_mp4", "empty_json"):
        (root / split / f"{clip}.{kind[-4:].strip('_')}").write_bytes(b"")
    elif kind == "truncate_dataset_json":
        text = (root / "dataset.json").read_text()
        (root / "dataset.json").write_text(text[: len(text) * (1 + pick % 9) // 10])
    elif kind == "drop_field":
        del info[sorted(info)[pick % len(info)]]
        (root / "dataset.json").write_text(json.dumps(info))
    elif kind == "wrong_type":
        info[("counts", "targets", "frames")[pick % 3]] = "many"
        (root / "dataset.json").write_text(json.dumps(info))
    elif kind == "not_json_object":
        (root / "dataset.json").write_text(json.dumps([info]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=DAMAGE, pick=st.integers(0, 1000), command=COMMANDS)
def test_damaged_datasets_fail_in_one_line_and_change_nothing(pristine, tmp_path_factory, monkeypatch, capsys,
                                                              kind, pick, command):
    tmp = tmp_path_factory.mktemp("damaged")
    root = tmp / "ds"
    shutil.copytree(pristine, root)
    damage(root, kind, pick)
    before = snapshot(root)
    which, args = command
    args = [a.format(ds=root, tmp=tmp) for a in args]
    if args[0] == "check":  # check lists every problem, one line each, then fails
        code, _, err = cli(which, monkeypatch, capsys, *args)
        assert code != 0 and err.strip(), (kind, err)
        assert all(line.startswith(("problem:", "error:", "note:")) or "problem(s)" in line
                   for line in err.strip().splitlines()), err
    else:
        assert_one_line_failure(cli(which, monkeypatch, capsys, *args))
    assert snapshot(root) == before
    assert not (tmp / "run" / "results.json").exists() and not (tmp / "p.png").exists()


SPEC_DAMAGE = st.sampled_from(["unknown_field", "unknown_param", "bad_range", "wrong_type", "not_yaml", "empty",
                               "negative_count"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=SPEC_DAMAGE, command=st.sampled_from(["validate", "render"]))
def test_bad_specs_fail_in_one_line_and_write_nothing(tmp_path_factory, monkeypatch, capsys, kind, command):
    tmp = tmp_path_factory.mktemp("spec")
    spec = tiny_spec_dict(size=32)
    path = tmp / "spec.yaml"
    if kind == "unknown_field":
        spec["rendr"] = {}
    elif kind == "unknown_param":
        spec["params"]["sise"] = {"uniform": [0.1, 0.2]}
    elif kind == "bad_range":
        spec["params"]["size"] = {"uniform": [0.3, 0.1]}
    elif kind == "wrong_type":
        spec["render"]["frames"] = "sixteen"
    elif kind == "negative_count":
        spec["counts"]["train"] = -2
    write_spec(path, spec)
    if kind == "not_yaml":
        path.write_text("render: [unclosed\n  - : :\n")
    elif kind == "empty":
        path.write_text("")
    before = snapshot(tmp)
    args = ["validate", path] if command == "validate" else ["render", path, "--out", tmp / "out", "-n", "2"]
    assert_one_line_failure(cli("simgen", monkeypatch, capsys, *args))
    assert snapshot(tmp) == before and not (tmp / "out").exists()


def test_spec_yaml_round_trip_is_still_valid(tmp_path, monkeypatch, capsys):
    """The property test's base spec is itself valid (so each failure above is the damage's doing)."""
    path = write_spec(tmp_path / "ok.yaml", tiny_spec_dict(size=32))
    code, out, err = cli("simgen", monkeypatch, capsys, "validate", path)
    assert code == 0, err
    assert yaml.safe_load(out.split("\n", 1)[1])["family"] == "falling_rising"


def test_a_spec_that_is_not_utf8_or_is_a_folder_is_named(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("family: falling_rising\nname: caf\xe9\n".encode("latin-1"))
    for path, says in ((spec, "not UTF-8 text (byte 0xe9"), (tmp_path, "is a directory")):
        code, _, err = cli("simgen", monkeypatch, capsys, "validate", path)
        assert code == 1 and str(path) in err and says in err and len(err.strip().splitlines()) == 1


def test_merge_into_another_dataset_gives_merge_advice(dataset, tmp_path, monkeypatch, capsys, tiny_spec_file):
    other = tmp_path / "other"
    code, _, err = cli("simgen", monkeypatch, capsys, "render", tiny_spec_file(counts=(8, 4, 4), size=32), "--out",
                       other, "--seed", "7", "--workers", "1")
    assert code == 0, err
    before = (other / "dataset.json").read_bytes()
    code, _, err = cli("simgen", monkeypatch, capsys, "merge", other, dataset)
    assert code == 1 and "another spec" in err and "merge into another directory" in err and "--force" not in err
    assert (other / "dataset.json").read_bytes() == before
