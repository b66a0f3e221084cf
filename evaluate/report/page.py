"""What every report shares: number and CI formatting, tables (markdown, HTML, rich), plots as
embedded PNGs, and writing a report's markdown and HTML pair atomically."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from evaluate.io import write_text
from evaluate.metrics import MIN_TEST_GROUPS


def fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or x != x else f"{x:.{digits}f}"


def ci_text(ci: list[float], test_groups: int | None = None) -> str:
    """'[lo, hi]', with † when the test split had too few groups for the interval to be trusted."""
    few = test_groups is not None and test_groups < MIN_TEST_GROUPS
    return f"[{fmt(ci[0], 2)}, {fmt(ci[1], 2)}]" + ("†" if few else "")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_pair(out_dir: Path, md_name: str, markdown: str, html_name: str, page: str) -> tuple[Path, Path]:
    """Write a report's markdown and html, each atomically (a reader never sees half a report)."""
    paths = out_dir / md_name, out_dir / html_name
    for path, text in zip(paths, (markdown, page), strict=True):
        write_text(path, text)
    return paths


def table(title: str, header: list[str], rows: list[list[str]]) -> Any:
    """A rich table from a header and rows of strings (the terminal twin of md_table)."""
    from rich.table import Table

    t = Table(title=title)
    for h in header:
        t.add_column(h)
    for row in rows:
        t.add_row(*row)
    return t
