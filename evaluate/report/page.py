"""What every report shares: number and CI formatting, tables (markdown, HTML, rich), plots as
inline SVG (text stays text, drawn at the size shown) or PNG, the one HTML page renderer (jinja2 templates under ``templates/``: one base page,
one block per report, autoescaped), and writing a report's markdown and HTML pair atomically."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from evaluate.io import write_text
from evaluate.metrics import MIN_TEST_GROUPS

# Figures: readable at 100% zoom in the ~1100 px content column (matplotlib's default font is 10 pt).
DPI = 96  # a PNG pixel per CSS pixel: drawn at the size it is shown
FONT = 10
SMALL = 9
# The widest figure, in inches (96 CSS px each): the content column at 1400 px, so nothing is shrunk.
MAX_WIDTH_IN = 11.0
# Series colours of every plot (views, encoders, margin types): none of them is the blue, red or amber
# that mean "above the reference", "below the reference" and "static" everywhere on the page.
SERIES = ("#3b3b3b", "#8c6bb1", "#1b9e77", "#a6761d", "#7f7f7f", "#66a61e", "#e7298a", "#17becf")


def fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or x != x else f"{x:.{digits}f}"


def ci_text(ci: list[float], test_groups: int | None = None) -> str:
    """'[lo, hi]', with † when the test split had too few groups for the interval to be trusted."""
    few = test_groups is not None and test_groups < MIN_TEST_GROUPS
    return f"[{fmt(ci[0], 2)}, {fmt(ci[1], 2)}]" + ("†" if few else "")


def excludes(ci: list[float] | None, value: float) -> bool:
    """Whether a 95% CI lies wholly on one side of ``value`` (0 for margins, 0.5 for pairwise accuracy)."""
    return ci is not None and all(c == c for c in ci) and (ci[0] > value or ci[1] < value)


@dataclass(frozen=True)
class Cell:
    """A table cell with an HTML class (colour, emphasis), a tooltip and a badge (HTML: a pill after
    the text; markdown and terminal: '[badge]'); plain text elsewhere."""

    text: str
    cls: str = ""
    title: str = ""
    badge: str = ""

    def __str__(self) -> str:
        return with_badge(self.text, self.badge)


def with_badge(text: str, badge: str) -> str:
    """The plain-text form of a badge: 'mass [static]'."""
    return f"{text} [{badge}]" if badge else text


def scored(value: float, ci: list[float], chance: float, test_groups: int | None = None, *,
           marks: bool = False) -> Cell:
    """'value [lo, hi]', coloured where the CI excludes chance (class 'above' or 'below'); with
    ``marks``, ▲/▼ after it too."""
    side = "" if not excludes(ci, chance) else "above" if ci[0] > chance else "below"
    mark = {"above": " ▲", "below": " ▼", "": ""}[side] if marks else ""
    return Cell(f"{fmt(value)} {ci_text(ci, test_groups)}{mark}", side,
                f"95% CI excludes chance ({fmt(chance, 2)})" if side else "")


@dataclass
class Table:
    header: list[str | Cell]
    rows: list[list[str | Cell]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    src: str  # inline SVG markup (see svg) or a PNG data URI (see png)
    alt: str

    @property
    def inline(self) -> bool:
        return self.src.startswith("<svg")


@dataclass
class Section:
    """One titled part of a page: paragraphs, then figures and tables in the order given."""

    title: str
    id: str = ""
    text: list[str] = field(default_factory=list)
    parts: list[Figure | Table] = field(default_factory=list)
    level: int = 2
    badge: str = ""  # a pill after the title (e.g. 'static')
    children: list[Section] = field(default_factory=list)  # closed <details> under this one, each in the contents
    bullets: list[str] = field(default_factory=list)  # a list after the figures and tables (e.g. the encoders)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, href): links to other pages of the report


def folded(title: str, sid: str, text: list[str], groups: list[tuple[str, list[Figure | Table]]]) -> Section:
    """A section whose parts come in groups (one per dataset), each a closed <details> in the contents:
    the page stays a few screens tall with every group one click away (the markdown report lists them
    in the same order, open)."""
    return Section(title, sid, text, children=[Section(name, f"{sid}-{name}".replace(" ", "_"), parts=list(parts),
                                                       level=3) for name, parts in groups])


def md_table(header: list[str | Cell], rows: list[list[str | Cell]]) -> str:
    lines = ["| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pyplot() -> Any:
    """matplotlib (headless backend) with the reports' font sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update({"font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT,
                         "xtick.labelsize": SMALL, "ytick.labelsize": SMALL, "legend.fontsize": SMALL,
                         "figure.titlesize": FONT + 1, "axes.prop_cycle": cycler(color=SERIES),
                         "svg.fonttype": "none", "font.family": "DejaVu Sans"})
    return plt


def svg(fig: Any) -> str:
    """The figure as inline SVG markup, its text kept as text (crisp, searchable, a few kB), without
    the XML prolog or a date (the same run gives the same page); closes it. Its element ids are
    salted with the figure's content, so two figures on one page never share an id."""
    import hashlib

    import matplotlib.pyplot as plt

    buf = io.StringIO()
    salt = hashlib.sha256(repr([t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]).encode())
    with plt.rc_context({"svg.hashsalt": salt.hexdigest()[:16]}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()[buf.getvalue().index("<svg"):]


def png(fig: Any) -> str:
    """The figure as a PNG data URI at one pixel per CSS pixel (for plots of many points, whose
    SVG would weigh more); closes it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@cache
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["code"] = inline_code
    return env


def inline_code(text: Any) -> Any:
    """Escaped text with markdown's `code` spans as <code> (descriptions are written for markdown)."""
    import markupsafe

    escaped = str(markupsafe.escape(str(text)))
    return markupsafe.Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))


def skipped_lines(payload: dict[str, Any]) -> list[str]:
    """What a run or surprise payload's ``skipped`` lists: encoders, clips, targets, each with why."""
    s = payload.get("skipped", {})
    lines = [f"encoder {e['encoder']} skipped: {e['reason']}" for e in s.get("encoders", [])]
    lines += [f"clip {c['dataset']}: {c['clip']}" for c in s.get("clips", [])]
    lines += [f"target {t['dataset']}/{t['target']} skipped: {t['reason']}" for t in s.get("targets", [])]
    return lines


def _notes(payload: dict[str, Any]) -> list[str]:
    return [f"{e['encoder']}: {n}" for e in payload.get("encoders", []) for n in e.get("notes", [])]


def md_footer(payload: dict[str, Any]) -> list[str]:
    """The markdown twin of base.html's footer: notes, skipped, versions."""
    out = ["## Notes", "", *(f"- {n}" for n in _notes(payload)), ""] if _notes(payload) else []
    out += ["## Skipped", "", *(f"- {s}" for s in skipped_lines(payload) or ["nothing was skipped"]), ""]
    if payload.get("versions"):
        out += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in payload["versions"].items()), ""]
    return out


def render_page(template: str, title: str, payload: dict[str, Any], sections: list[Section], *,
                skipped: bool = True, lead: list[Section] | None = None, **extra: Any) -> str:
    """An HTML page from ``templates/TEMPLATE`` (each extends base.html: one head, one stylesheet).
    The header and footer show what the run and surprise payloads share: creation time, datasets
    with their content hashes, notes, skipped encoders/clips/targets, versions and the config.
    ``lead`` sections come first, before the template's headline block."""
    lost = skipped_lines(payload)
    datasets = payload.get("datasets", [])
    context = {"title": title, "sections": sections, "lead": lead or [], "created": payload.get("created", ""), "datasets": datasets,
               "dataset_columns": [c for c in ("clips", "frames", "content_sha256") if any(c in d for d in datasets)],
               "versions": payload.get("versions", {}),
               "skipped": lost if skipped else None,
               "notes": _notes(payload),
               "config": json.dumps(payload["config"], indent=1) if "config" in payload else ""}
    return _env().get_template(template).render(**context, **extra)


def write_pair(out_dir: Path, md_name: str, markdown: str, html_name: str, page: str) -> tuple[Path, Path]:
    """Write a report's markdown and html, each atomically (a reader never sees half a report)."""
    paths = out_dir / md_name, out_dir / html_name
    for path, text in zip(paths, (markdown, page), strict=True):
        write_text(path, text)
    return paths


def md_images(figures: dict[str, str], alts: Any) -> list[str]:
    """Markdown links to the figures written beside a report (``figures``: alt -> file, from write_figures),
    those of ``alts`` that exist, each followed by a blank line."""
    return [x for alt in alts if alt in figures for x in (f"![{alt}]({figures[alt]})", "")]


def write_figures(out_dir: Path, folder: str, figures: list[Figure]) -> list[tuple[str, str]]:
    """Each inline-SVG figure as ``folder/NN-name.svg`` under ``out_dir`` (the folder replaced whole, so no
    stale figure stays), for the markdown report to link; returns (relative path, alt) in order."""
    import shutil

    target = Path(out_dir) / folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    out = []
    for k, f in enumerate(x for x in figures if x.inline):
        name = f"{folder}/{k + 1:02d}-{re.sub(r'[^a-z0-9]+', '-', f.alt.lower()).strip('-')[:60]}.svg"
        write_text(Path(out_dir) / name, f.src)
        out.append((name, f.alt))
    return out


def table(title: str, header: list[str | Cell], rows: list[list[str | Cell]]) -> Any:
    """A rich table from a header and rows of strings (the terminal twin of md_table). Cells fold
    rather than end in '…' when the console is narrow; print with :func:`print_tables` to get them
    on one line when stdout is not a terminal."""
    from rich.table import Table as RichTable
    from rich.text import Text

    t = RichTable(title=Text(title))
    for h in header:
        t.add_column(Text(str(h)), overflow="fold")
    for row in rows:  # Text: a cell's '[static]' or '[0.40, 0.60]' is text, not rich markup
        t.add_row(*(Text(str(c)) for c in row))
    return t


def print_tables(tables: list[Any], console: Any) -> None:
    """Print rich tables whole. On a terminal they fit its width as usual; piped (CI logs, ``make
    demo | tee``) a console is 80 columns and would fold or crop them, so each table is printed at
    the width it needs."""
    from rich.measure import Measurement

    for t in tables:
        if console.is_terminal:
            console.print(t)
            continue
        need = Measurement.get(console, console.options.update_width(100_000), t).maximum
        width = console.width
        console.width = max(width, need)
        try:
            console.print(t)
        finally:
            console.width = width
