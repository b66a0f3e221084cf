"""The first screen of the probe report: the answer. A compact verdict (per certified target, the
tubelet encoder's paired difference to each album or pixel encoder, with its CI and call), what
each encoder is (its role, and whether its weights are pretrained, random or none), and a plain
sentence when the run cannot answer "video vs image" at all. The full verdict table, uncertified
lines included, follows in a closed <details>."""

from __future__ import annotations

from collections import Counter
from typing import Any

from evaluate.report.page import Cell, Section, Table, ci_text
from evaluate.report.rows import encoder_roles
from evaluate.report.verdict import (
    CERTIFIED_TEXT,
    RANDOM_NOTE,
    VERDICT_TEXT,
    by_opponent_role,
    summary,
    verdict_table,
)
from evaluate.roles import ROLE_TEXT, role_label

KIND_TEXT = {
    "vjepa2": "V-JEPA 2 video transformer (2-frame tubelets)",
    "random-vjepa2": "V-JEPA 2's architecture (2-frame tubelets)",
    "videomae": "VideoMAE video transformer (tubelets)",
    "image": "image transformer, each frame embedded alone",
    "random-image": "V-JEPA 2's architecture with 1-frame tubelets, each frame embedded alone",
    "cnn3d": "3D CNN (R3D, I3D, SlowFast, X3D...) trained on Kinetics-400",
    "random-cnn3d": "a 3D CNN of R3D's shape (3×3×3 kernels throughout)",
    "timesformer": "TimeSformer video transformer (2-D patches per frame, attention across time)",
    "vlm": "multimodal LLM reading the frames as a video, its hidden states probed",
    "vlm-zero-shot": "multimodal LLM answering each target's question, no probe",
    "pixels": "the frames' downsampled pixels",
    "motion": "frame differences of the downsampled pixels",
    "oracle-static": "the true state of one frame",
    "oracle-full": "the true states of all frames in order",
    "track": "blobs tracked in the pixels",
}
CALL_MARK = {"a": "▲ ahead", "b": "▼ behind", "tie": "tie"}


def weights(e: dict[str, Any]) -> str:
    """'random', 'pretrained' or 'none', read off the encoder's identity."""
    identity = e.get("identity") or {}
    checkpoint = identity.get("checkpoint")
    if str(identity.get("kind", "")).startswith("random-") or (isinstance(checkpoint, dict)
                                                              and "random_size" in checkpoint):
        return "random"
    return "pretrained" if "checkpoint" in identity else "none"


def encoder_line(e: dict[str, Any], role: str) -> str:
    """'random-vjepa2:tiny — V-JEPA 2's architecture (2-frame tubelets); weights: random; tubelet: …'."""
    spec = e["encoder"]
    kind = (e.get("identity") or {}).get("kind") or spec.split(":")[0].split(",")[0]
    what = KIND_TEXT.get(kind, kind)
    if "pool=trajectory" in spec:
        what += ", its per-frame features read as a trajectory"
    return f"{spec} — {what}; weights: {weights(e)}; {ROLE_TEXT.get(role, role)}"


def cannot_answer(payload: dict[str, Any]) -> list[str]:
    """Plain sentences for what keeps this run from answering "does video beat the album?"."""
    roles = encoder_roles(payload)
    encoders = {e["encoder"]: e for e in payload.get("encoders", [])}
    tubelets = [n for n, r in roles.items() if r == "tubelet"]
    albums = [n for n, r in roles.items() if r == "album"]
    out = []
    if not tubelets:
        out.append("This run cannot answer “video vs image”: it has no tubelet (video) encoder.")
    elif not any(weights(encoders[n]) == "pretrained" for n in tubelets):
        out.append("This run cannot answer “video vs image” for real models: its tubelet encoder has random "
                   "weights, so the verdict tests the machinery, not what a pretrained video model knows.")
    if not albums:
        out.append("It has no album (an image encoder reading the same frames one at a time): the tubelet "
                   "is compared with pixel baselines only.")
    return out


def compact_verdict(payload: dict[str, Any]) -> tuple[Table | None, int]:
    """Certified targets × opponents: the tubelet's score difference [95% CI] and its Holm call, in
    the page's colours (blue ahead, red behind); and how many targets are not certified."""
    rows = by_opponent_role(payload.get("verdict") or [])
    opponents = list(dict.fromkeys(v["opponent"] for v in rows))
    certified: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    uncertified = {(v["dataset"], v["target"]) for v in rows if v["certified"] != "certified"}
    for v in rows:
        if v["certified"] == "certified":
            certified.setdefault((v["dataset"], v["target"], v["tubelet"]), {})[v["opponent"]] = v["original"]
    if not certified:
        return None, len(uncertified)
    roles = {v["opponent"]: v["opponent_role"] for v in rows}
    header = ["dataset · target (certified)", "tubelet", *(f"vs {o} ({role_label(roles[o])})" for o in opponents)]
    body: list[list[str | Cell]] = []
    for (dataset, target, tubelet), by in certified.items():
        cells: list[str | Cell] = []
        for o in opponents:
            c = by.get(o)
            if c is None:
                cells.append(Cell("–", "na"))
                continue
            side = {"a": "above", "b": "below"}.get(c["call"], "")
            cells.append(Cell(f"{c['diff']:+.2f} {ci_text(c['ci95'], c['test_groups'])} {CALL_MARK[c['call']]}",
                              side, f"Holm p {c['p_adjusted']:.2g}"))
        body.append([f"{dataset} · {target}", tubelet, *cells])
    return Table(header, body), len(uncertified)


def certified_line(payload: dict[str, Any]) -> str:
    """Which (dataset, target) tasks the run's oracles certify as tests of time, and why the rest are not."""
    rows = payload.get("verdict") or []
    tasks: dict[tuple[str, str], str] = {}  # (dataset, target) -> certification, in the verdict's order
    for v in rows:
        tasks.setdefault((v["dataset"], v["target"]), v["certified"])
    certified = [f"{d} · {t}" for (d, t), c in tasks.items() if c == "certified"]
    others = Counter(c for c in tasks.values() if c != "certified")
    why = ", ".join(f"{n} {CERTIFIED_TEXT[c].lstrip('✗? ')}" for c, n in others.items())
    if not certified:
        return (f"No task is certified, so no line of the verdict is a result: of {len(tasks)} task(s), {why}. "
                "A certified task is one the run's oracles show needs more than one frame.")
    rest = f"; not certified: {why}" if others else ""
    return f"Certified tasks ({len(certified)} of {len(tasks)}): {', '.join(certified)}{rest}."


def lead_section(payload: dict[str, Any]) -> Section:
    """The verdict as the first screen shows it: what the run cannot answer, which tasks are certified,
    the counts and the compact table; the encoders; the full verdict table under details."""
    table, n_uncertified = compact_verdict(payload)
    roles = encoder_roles(payload)
    caveats = cannot_answer(payload)
    text = list(caveats)
    if payload.get("verdict"):
        text.append(certified_line(payload))
    # The counts when something is certified; the random-weights note only when not already said above.
    text += [line for line in summary(payload)
             if not (line == RANDOM_NOTE and caveats) and not (table is None and line.startswith("On 0 certified"))
             and not (table is None and line.endswith("not results."))]
    if table is not None:
        text.append("Tubelet score minus the opponent's on the same test clips, [95% CI] from a paired bootstrap "
                    "over test groups; ▲/▼: ahead/behind at Holm-adjusted p < 0.05, tie otherwise.")
    s = Section("Verdict: tubelet against album", "verdict", text, [table] if table else [],
                bullets=[encoder_line(e, roles.get(e["encoder"], "pixels")) for e in payload.get("encoders", [])])
    full = verdict_table(payload)
    if full is not None:
        s.children.append(Section("Every verdict line", "verdict-all",
                                  [f"With the static margin's difference; {n_uncertified} target(s) are not "
                                   "certified, and their lines are not results.", VERDICT_TEXT], [full], level=3))
    return s
