"""A report as a reader sees it: open an HTML report in headless Chromium (the system browser, no
driver library), measure what matters and save the first screen.

``measure`` copies the page with a small script appended that, once laid out at 1400 × 900 CSS px,
writes its findings into the DOM, which ``--dump-dom`` returns: the page's height with its sections
closed and open, where the verdict sits (the lead block, and its table when a task is certified), tables and figures wider than their column that do
not scroll, links to anchors that do not exist, and pairs of plot labels that overprint (the plots'
text is SVG text, so the browser knows each label's box). ``python -m evaluate.report.browser
report.html`` prints them, checks them against the goals below (and each per-dataset page the report
links, by the same goals but the verdict's) and saves ``report_first_screen.png``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 1400, 900
MAX_BYTES = 2_000_000  # the demo's report
MAX_SCREENS = 15  # the page's height with its sections closed, in screens of HEIGHT
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Runs in the page after layout. Labels: SVG <text> that is not rotated; two overprint when their
# boxes share more than a third of the smaller one's height and 2 px of width.
MEASURE_JS = r"""
(function () {
  function rect(e) { return e.getBoundingClientRect(); }
  function scrolls(e) { for (var p = e.parentElement; p; p = p.parentElement) {
    if (p.classList && p.classList.contains("scroll")) return true; } return false; }
  var out = {};
  var main = document.querySelector("main") || document.body;
  var right = rect(main).right + 1;
  var closedHeight = document.documentElement.scrollHeight;
  function box(e) { return e && rect(e).height > 0 ? {top: rect(e).top + scrollY, bottom: rect(e).bottom + scrollY}
                                                    : null; }
  // The verdict as shown (a table inside the closed "every line" details does not count) and the whole
  // lead block: its sentences, certified tasks and encoder list.
  var shown = Array.prototype.filter.call(document.querySelectorAll("#verdict table"),
                                          function (t) { return !t.closest("details"); });
  out.verdict_table = box(shown[0]);
  out.verdict = box(document.querySelector("#verdict"));
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  out.height_closed = closedHeight;
  out.height_open = document.documentElement.scrollHeight;
  out.overflow = [];
  document.querySelectorAll("main table, main img, main svg, main .scroll, main p, main pre").forEach(function (e) {
    if (e.tagName === "PRE" || scrolls(e) && e.tagName !== "DIV") return;
    if (rect(e).right > right) out.overflow.push(e.tagName + " " + (e.textContent || "").slice(0, 60));
  });
  out.scaled_images = [];
  document.querySelectorAll("main img").forEach(function (e) {
    if (e.naturalWidth > rect(e).width + 1) out.scaled_images.push(e.alt + ": drawn " + e.naturalWidth +
      " px, shown " + Math.round(rect(e).width));
  });
  out.broken_anchors = [];
  document.querySelectorAll('a[href^="#"]').forEach(function (a) {
    var id = decodeURIComponent(a.getAttribute("href").slice(1));
    if (id && !document.getElementById(id)) out.broken_anchors.push(id);
  });
  out.overprinted = [];
  out.labels = 0;
  document.querySelectorAll("main svg").forEach(function (svg, k) {
    var boxes = [];
    svg.querySelectorAll("text").forEach(function (t) {
      var tr = t.getAttribute("transform") || "";
      var turn = /rotate\(\s*(-?[\d.]+)/.exec(tr);
      if (turn && Math.abs(parseFloat(turn[1])) > 0.5 || !t.textContent.trim()) return;
      var r = rect(t); if (r.width > 0) boxes.push([r, t.textContent.trim()]);
    });
    out.labels += boxes.length;
    for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
      var a = boxes[i][0], b = boxes[j][0];
      var w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      var h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > Math.min(a.height, b.height) / 3)
        out.overprinted.push((svg.closest("[aria-label]") || svg).getAttribute("aria-label") + ": '" +
                             boxes[i][1] + "' / '" + boxes[j][1] + "'");
    }
  });
  var pre = document.createElement("pre"); pre.id = "browser-measure"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


class BrowserError(RuntimeError):
    """Chromium is missing or did not produce what was asked."""


def find_chromium() -> str | None:
    return next((p for name in BROWSERS if (p := shutil.which(name))), None)


def _run(args: list[str], timeout: float) -> str:
    browser = find_chromium()
    if browser is None:
        raise BrowserError(f"no Chromium on PATH (tried {', '.join(BROWSERS)}): apt-get install chromium")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=10000", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise BrowserError(f"{browser} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return done.stdout


def measure(html: Path, timeout: float = 120) -> dict[str, Any]:
    """What a reader sees of ``html`` at WIDTH × HEIGHT (see the module's docstring), and its bytes."""
    html = Path(html)
    text = html.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / html.name
        probe.write_text(text.replace("</body>", f"<script>{MEASURE_JS}</script>\n</body>"), encoding="utf-8")
        dom = _run(["--dump-dom", probe.as_uri()], timeout)
    start = dom.find('<pre id="browser-measure">')
    if start < 0:
        raise BrowserError(f"{html}: the measuring script left no result (did the page load?)")
    import html as htmllib

    body = dom[start + len('<pre id="browser-measure">'): dom.index("</pre>", start)]
    out = json.loads(htmllib.unescape(body))
    out["bytes"] = len(text.encode("utf-8"))
    return out


def screenshot(html: Path, png: Path, timeout: float = 120) -> Path:
    """The first screen (WIDTH × HEIGHT) of ``html`` as a PNG."""
    _run([f"--screenshot={Path(png).resolve()}", Path(html).resolve().as_uri()], timeout)
    if not Path(png).exists():
        raise BrowserError(f"{html}: Chromium wrote no screenshot to {png}")
    return Path(png)


def problems(m: dict[str, Any], verdict: bool = True) -> list[str]:
    """Where a measured page misses the goals: one line each. ``verdict``: the page is a probe report,
    which must open on its verdict (the surprise report opens on its certification instead)."""
    out = []
    if verdict and (m["verdict"] is None or m["verdict"]["bottom"] > HEIGHT):
        out.append(f"the verdict (its sentences, table and encoders) does not fit the first screen ({m['verdict']})")
    if m["bytes"] > MAX_BYTES:
        out.append(f"the page weighs {m['bytes']} bytes (goal: {MAX_BYTES})")
    if m["height_closed"] > MAX_SCREENS * HEIGHT:
        out.append(f"the page is {m['height_closed']} px tall with its sections closed (goal: {MAX_SCREENS} screens)")
    out += [f"overflows its column: {x}" for x in m["overflow"]]
    out += [f"drawn wider than shown: {x}" for x in m["scaled_images"]]
    out += [f"link to a missing anchor: #{x}" for x in m["broken_anchors"]]
    out += [f"labels overprint: {x}" for x in m["overprinted"]]
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m evaluate.report.browser REPORT.html [SCREENSHOT.png]", file=sys.stderr)
        return 2
    html = Path(argv[0])
    shot = Path(argv[1]) if len(argv) > 1 else html.with_name(html.stem + "_first_screen.png")
    m = measure(html)
    screenshot(html, shot)
    print(json.dumps({k: v for k, v in m.items()}, indent=1))
    bad = problems(m, verdict=not html.name.startswith("surprise"))
    for linked in linked_pages(html):  # a run report's per-dataset pages: the same goals, no verdict of their own
        bad += [f"{linked.name}: {line}" for line in problems(measure(linked), verdict=False)]
        print(f"checked {linked.name}")
    print("\n".join(bad) if bad else f"{html}: every goal met; first screen in {shot}")
    return 1 if bad else 0


def linked_pages(html: Path) -> list[Path]:
    """The pages of the same report that ``html`` links (report-<dataset>.html beside it)."""
    import re

    names = dict.fromkeys(re.findall(r'href="(report-[^"/#]+\.html)', Path(html).read_text(encoding="utf-8")))
    return [Path(html).with_name(n) for n in names]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
