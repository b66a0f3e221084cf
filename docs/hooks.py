"""mkdocs hook: the site's home page is README.md, its links into docs/ made relative to the site, so the front
page has one source and the strict build checks the README's links and anchors too."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001  (mkdocs' hook signature)
    if page.file.src_uri != "index.md":
        return markdown
    return re.sub(r"\]\(docs/", "](", README.read_text())
