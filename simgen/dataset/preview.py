"""Contact sheet: a few clips as frame strips, each row captioned with its targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from simgen.dataset.format import Dataset


def contact_sheet(root: str | Path, out: str | Path, *, clips: int = 6, frames: int = 8,
                  split: str | None = None, thumb: int = 96) -> Path:
    """Write a PNG with ``clips`` rows of ``frames`` evenly spaced frames each."""
    dataset = Dataset(root)
    # A contact sheet of whatever is there: it works on a shard directory or a render in progress too
    # (damaged metadata lines still stop it; clips whose files are missing are left out).
    refs = [c for c in dataset.clips(split) if c.video_path.is_file() and c.label_path.is_file()]
    if not refs:
        raise ValueError(f"{root}: no clips to preview" + (f" in split {split!r}" if split else ""))
    # Whole groups first (a falling clip next to its rising twin), then the first clips.
    chosen = refs[:clips]
    caption_h = 16
    sheet = Image.new("RGB", (frames * thumb, len(chosen) * (thumb + caption_h)), "black")
    draw = ImageDraw.Draw(sheet)
    for row, ref in enumerate(chosen):
        video = dataset.read_frames(ref)
        picks = np.linspace(0, len(video) - 1, min(frames, len(video))).round().astype(int)
        y = row * (thumb + caption_h)
        for col, i in enumerate(picks):
            sheet.paste(Image.fromarray(video[i]).resize((thumb, thumb), Image.BILINEAR), (col * thumb, y + caption_h))
        draw.text((3, y + 2), f"{ref.clip_id}  {_caption(ref.targets)}", fill="white")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def _caption(targets: dict) -> str:
    parts = [f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in targets.items()]
    return "  ".join(parts)
