"""The probe and surprise reports in a real browser (headless Chromium, the system's): the verdict on the first
screen, nothing wider than its column unless it scrolls, no overprinted plot label, every contents
link resolves. Skipped where no Chromium is installed (``apt-get install chromium``)."""

from __future__ import annotations

import json

import pytest

from evaluate.report import browser, probe, surprise
from tests.evaluate.test_report import hand_made_curves, run_payload, surprise_payload  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(browser.find_chromium() is None, reason="no Chromium on this machine")]


def _verdict_payload(run_payload):  # noqa: F811
    """The hand-made run with a tubelet, an album and one certified verdict line, as a run writes it."""
    encoders = [{**e, "role": "pixels"} for e in run_payload["encoders"]]
    encoders[1] = {**encoders[1], "role": "tubelet"}
    tubelet, pixels = encoders[1]["encoder"], encoders[0]["encoder"]
    diff = {"dataset": "impact", "target": "heading", "kind": "regression", "metric": "r2", "fit_view": "original",
            "test_view": "original", "probe": "linear", "quantity": "original", "a": tubelet, "b": pixels,
            "a_value": 0.6, "b_value": 0.2, "diff": 0.4, "ci95": [0.2, 0.6], "p": 0.001, "p_adjusted": 0.004,
            "call": "a", "n_test": 60, "test_groups": 30}
    line = {"dataset": "impact", "target": "heading", "probe": "linear", "tubelet": tubelet, "opponent": pixels,
            "opponent_role": "pixels", "certified": "certified", "original": diff, "static_margin": None}
    return {**run_payload, "encoders": encoders, "verdict": [line], "comparisons": [diff]}


def test_the_reader_sees_the_verdict_first_and_nothing_overflows(run_payload, tmp_path):  # noqa: F811
    payload = _verdict_payload(run_payload)
    html = tmp_path / "report.html"
    html.write_text(probe.render_html(payload, []), encoding="utf-8")
    m = browser.measure(html)
    assert m["verdict_table"] is not None and m["verdict"]["bottom"] < browser.HEIGHT, json.dumps(m)
    assert m["labels"] > 20  # the plots' text is measurable text, so the overprint check has something to check
    assert browser.problems(m) == []
    shot = browser.screenshot(html, tmp_path / "first.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_browser_check_catches_what_it_should(run_payload, tmp_path):  # noqa: F811
    """A page that overflows, overprints and links nowhere is caught on each count."""
    page = probe.render_html(run_payload, [])
    bad = page.replace("<main id=\"top\">", "<main id=\"top\"><a href=\"#nowhere\">x</a>"
                       "<table><tr><td>" + "wide " * 400 + "</td></tr></table>"
                       "<svg width=\"200\" height=\"40\"><text x=\"5\" y=\"20\">−1.64</text>"
                       "<text x=\"8\" y=\"22\">overprint</text></svg>")
    html = tmp_path / "bad.html"
    html.write_text(bad, encoding="utf-8")
    found = "\n".join(browser.problems(browser.measure(html)))
    assert "missing anchor: #nowhere" in found and "overflows its column: TABLE" in found
    assert "labels overprint" in found and "'−1.64' / 'overprint'" in found


def test_the_surprise_report_fits_and_its_labels_do_not_overprint(surprise_payload, tmp_path):  # noqa: F811
    """The surprise page (no verdict table: it opens on certification) within its column, its curves'
    labels apart, every contents link resolving."""
    html = tmp_path / "surprise_report.html"
    html.write_text(surprise.render_html(surprise_payload, hand_made_curves()), encoding="utf-8")
    m = browser.measure(html)
    assert m["labels"] > 10 and m["bytes"] < browser.MAX_BYTES
    assert browser.problems(m, verdict=False) == [], json.dumps(m)
