"""The docs show only commands that exist: every ``simgen ...`` and ``evaluate ...`` line in README.md and
docs/ is parsed by the real command line (subcommand, options, their values; nothing is run), the CLI
reference page is what ``--help`` prints now, and no page names a path of the machine it was written on."""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLI_PAGE = DOCS / "cli.md"  # generated from --help; its usage lines are not examples
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
SHELL_LANGS = {"", "bash", "sh", "shell", "console"}
PROGRAM = re.compile(r"^(?:\$ )?(?:\S*/)?(simgen|evaluate)(?=\s|$)")
# A value that stands for one the reader fills in: DIR, N, K/N, <hub id or dir>, ${SLURM_ARRAY_TASK_ID}...
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$|<[^>]*>|\$\{?\w+|\.\.\.")


def _load_gen_cli():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN_CLI = _load_gen_cli()


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if p != CLI_PAGE)]


def command_lines(text: str) -> list[str]:
    """The ``simgen``/``evaluate`` command lines of the shell code blocks of a markdown page: continuation
    lines joined, comments, redirections and what follows ``&&``/``;``/``|`` split off."""
    found = []
    for block in FENCE.finditer(text):
        if block.group("lang") not in SHELL_LANGS:
            continue
        body = re.sub(r"\\\n\s*", " ", block.group("body"))
        for line in body.splitlines():
            for part in re.split(r"&&|;|\|(?![^<]*>)", line.strip()):
                part = part.strip()
                if PROGRAM.match(part):
                    found.append(part)
    return found


def inline_commands(text: str) -> list[str]:
    """``simgen ...``/``evaluate ...`` written in the prose as inline code, outside the code blocks: fragments
    of a command line, so only what they name (subcommand, options, values) is checked."""
    prose = FENCE.sub("", text)
    return [span for span in re.findall(r"`([^`\n]+)`", prose) if PROGRAM.match(span) and " " in span]


def tokens(line: str) -> tuple[list[str], bool]:
    """argv of a documented command line, and whether it elides something (``...``). Optional parts
    written ``[--flag value]`` are kept as given; a redirection ends the command."""
    words = shlex.split(line, comments=True)
    argv = []
    for word in words[1:]:
        if word in (">", ">>", "2>&1", "<") or word.startswith(">"):
            break
        argv.append(word.strip("[]") if word not in ("[", "]") else "")
    elided = "..." in argv or "…" in line
    return [w for w in argv if w and w != "..."], elided


@functools.cache
def click_group(app: typer.Typer):
    """The click group typer builds for ``app`` (built once: it costs tens of ms)."""
    return typer.main.get_command(app)


def parse_error(app: typer.Typer, argv: list[str], elided: bool) -> str | None:
    """Why the command line ``argv`` would not parse, or None: click's own parsing of the subcommand, its
    options and their values (``make_context``; nothing is invoked). A placeholder value (``DIR``, ``N``,
    ``<hub id or dir>``) is parsed as ``1``; where the line elides something (``...``, or a fragment in the
    prose), missing arguments, extra ones and a last option's value are not counted."""
    group = click_group(app)
    argv = ["1" if PLACEHOLDER.search(word) else word for word in argv]
    at = next((i for i, word in enumerate(argv) if not word.startswith("-")), len(argv))
    if at == len(argv):
        return None if elided else "no subcommand"
    try:
        ctx = group.make_context("prog", list(argv))  # the group's own options; the rest is left for the command
        command = group.get_command(ctx, argv[at])
        if command is None:
            return f"no subcommand {argv[at]!r}"
        command.make_context(argv[at], argv[at + 1:], parent=ctx)
    except typer.TyperException as error:  # click's UsageError and its kinds
        message = error.format_message()
        incomplete = (type(error).__name__ == "MissingParameter" or message.startswith("Got unexpected extra")
                      or (message.endswith("requires an argument.") and argv[-1].startswith("-")))
        return None if elided and incomplete else message
    return None


def documented_commands() -> list[tuple[str, str, bool]]:
    """(page, command line, whether it is a fragment) for every command the pages show."""
    found = []
    for page in doc_pages():
        text, name = page.read_text(), str(page.relative_to(ROOT))
        found += [(name, line, False) for line in command_lines(text)]
        found += [(name, span, True) for span in inline_commands(text)]
    return found


def test_the_docs_show_commands():
    commands = documented_commands()
    blocks = [line for _, line, fragment in commands if not fragment]
    assert len(blocks) >= 20 and len(commands) > len(blocks), commands  # the extraction itself works
    assert {PROGRAM.match(line).group(1) for _, line, _ in commands} == {"simgen", "evaluate"}


def test_every_documented_command_parses():
    apps = GEN_CLI.cli_apps()
    failures = []
    for page, line, fragment in documented_commands():
        program = PROGRAM.match(line).group(1)
        argv, elided = tokens(line)
        error = parse_error(apps[program], argv, elided or fragment)
        if error:
            failures.append(f"{page}: {line!r}: {error}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("line, problem", [
    ("simgen render scenes/x.yaml --out d --no-such-option", "no such option"),
    ("simgen rendr scenes/x.yaml", "no subcommand 'rendr'"),
    ("simgen render scenes/x.yaml --out d -n many", "valid integer"),
    ("simgen preview d --split training", "'training' is not one of"),
    ("evaluate run data/x -e pixels --out", "requires an argument"),
    ("simgen render --out d -n 10", "missing argument"),
])
def test_a_wrong_command_is_caught(line, problem):
    program = PROGRAM.match(line).group(1)
    argv, elided = tokens(line)
    error = parse_error(GEN_CLI.cli_apps()[program], argv, elided)
    assert error is not None and problem.lower() in error.lower(), error


def test_command_lines_are_read_from_shell_blocks_only():
    text = ("```bash\nsimgen render s.yaml --out d \\\n    -n 4   # four clips\nmake demo && evaluate ls\n```\n"
            "```python\nsimgen = 1\n```\n"
            "!!! note\n    ```bash\n    evaluate report runs/x > out.txt\n    ```\n")
    assert command_lines(text) == ["simgen render s.yaml --out d  -n 4   # four clips", "evaluate ls",
                                   "evaluate report runs/x > out.txt"]
    assert tokens("evaluate report runs/x > out.txt") == (["report", "runs/x"], False)
    assert tokens("simgen check DIR [--hashes]") == (["check", "DIR", "--hashes"], False)
    assert inline_commands("Run `simgen check DIR`, not `simgen`; `evaluate ls` lists.\n```bash\nevaluate run x\n```") == [
        "simgen check DIR", "evaluate ls"]


def test_cli_reference_is_what_help_prints_now():
    assert CLI_PAGE.read_text() == GEN_CLI.render(), "docs/cli.md is stale: run python docs/gen_cli.py"


def test_no_page_names_a_path_of_the_machine_it_was_written_on():
    machine = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users)/")
    found = [f"{page.relative_to(ROOT)}:{n}: {line.strip()}" for page in [*doc_pages(), CLI_PAGE]
             for n, line in enumerate(page.read_text().splitlines(), 1) if machine.search(line)]
    assert not found, "\n".join(found)
