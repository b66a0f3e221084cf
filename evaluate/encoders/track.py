"""``track``: the positive control, a weight-free blob tracker that reads the pixels.

Per frame, at the rendered resolution:

1. **Background.** simgen's backdrops are flat: a painted sky (lights), or an untouched white sky
   and a flat-shaded floor (falling_rising, impact). So the background of a frame is its
   *backdrop colours*: every colour (binned at 5 bits a channel) that covers at least ``bg_frac``
   of the frame and shows on the frame's border, at the mean colour of its bin. A pixel is
   foreground when it differs from every backdrop colour by more than ``tol`` in some channel.
   Computed from each frame alone.
2. **Blobs.** Foreground pixels are grouped into 4-connected blobs (``scipy.ndimage.label``), cut
   where neighbouring pixels differ in colour *direction* by more than ``split`` degrees: shading
   and simgen's grey textures scale a body's colour, so they never cut a body, while two touching
   bodies of different colours (impact's object landing on its target) stay two blobs.
3. **Per blob:** present (0/1), centroid x and y (divided by the width and height), area (a
   fraction of the frame), mean colour (r, g, b in [0, 1]) and peak brightness (the largest
   pixel mean of r, g, b, in [0, 1]).
4. **Tracks** (:func:`link`), through the frames in the view's order: blobs are matched to the
   nearest track; the track that moved farthest fills the first slot (the main object or light),
   the next ``blobs=K`` (default 2) by area. A slot with no track is all zeros; a track not seen in
   a frame holds its last features with present 0.
5. **Odometers** (``odometer=1``, the default): per frame and slot, Σ|Δ| of present, x, y, area and
   peak brightness over the view's frames so far.

The per-frame vectors ((1 + K) × 13 numbers) are concatenated in the view's time order.

Why odometers: a linear probe on stacked positions cannot tell a static light from a moving one.
Static and moving lights have the same position distribution at every frame (lights' params.py),
so the classes have the same feature means and differ in how much positions vary over time, which
is not linear in them; blinking versus steady is the same with brightness, and impact's speeds
and rebound are magnitudes of displacements. An odometer makes "how far did it move, how much did
it change" linear. (Per-frame |Δ| alone, tried first, made spiky features that a few mistracked
clips turned into outliers; the running sum reads the same information and is stable.) Odometers
run in the order the view shows the frames: ``shuffled`` keeps them large (moving and blinking
need several frames, not their order) and ``single_frame`` makes them zero (one frame repeated
never moves). ``odometer=0`` leaves them out.

**Views.** Like ``pixels``, the encoder receives each clip's original frames and makes every
view itself (:func:`evaluate.data.views.frame_index`): blobs are found once per clip, then each
view's frames are tracked in the view's order; ``frame_mean`` is the mean frame's blobs, repeated.

**Why not the per-pixel median over the clip** (the textbook background for a static camera,
``background=median`` here, to measure it): a light that stays put for more than half the clip
*is* the median, so static lights vanish into the background while moving lights stay
foreground. Segmenting the ``single_frame`` view against the median of the original clip then
leaks time into the static view: "is there a blob at all" says whether the light moved, and a
static blinking light shows only in frames at its minority level. A per-frame backdrop has no
such leak by construction: a frame's blobs are a function of that frame only, so
``single_frame`` is one frame's blobs, repeated. Other backgrounds considered: the sky colour
from the clip's json (reads the labels: the oracles' job, not the tracker's); a spatial median
filter (slower, and it erodes large bodies); a median over the whole dataset (the camera moves
from clip to clip).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluate.encoders.base import Encoder, register
from evaluate.encoders.base import odometers as running_change
from evaluate.errors import EncoderError

BLOB_FEATURES = ("present", "x", "y", "area", "r", "g", "b", "peak")
ODOMETER_FEATURES = ("present", "x", "y", "area", "peak")  # Σ|Δ| of these over the view's frames so far
_ODOMETER_COLUMNS = [BLOB_FEATURES.index(f) for f in ODOMETER_FEATURES]
CANDIDATES = 8  # blobs per frame offered to the tracker beyond the slots it fills
GATE = 0.2  # farthest a blob may be from its track's last position, as a fraction of the frame
GROW = (1.5, 0.002)  # a track takes no blob larger than 1.5 × its largest area so far + 0.2% of the frame
_BITS = 5  # colour bins of the backdrop search: 2^(3*5) = 32768 per frame


def backdrop_colours(frame: np.ndarray, bg_frac: float) -> np.ndarray:
    """(k, 3) int: the backdrop colours of ``frame``: colours (binned at 5 bits a channel) that cover
    at least ``bg_frac`` of the frame and also show on its border, each the mean colour of its bin.
    A large flat face of a body can cover 2% of a frame, but it does not touch the frame's edge.
    Counted on every 4th pixel of every 4th row, and on every pixel of the border."""
    shift = 8 - _BITS

    def codes(pixels: np.ndarray) -> np.ndarray:
        q = (pixels >> shift).astype(np.int32)
        return (q[:, 0] << (2 * _BITS)) | (q[:, 1] << _BITS) | q[:, 2]

    grid = frame[::4, ::4].reshape(-1, 3)
    code = codes(grid)
    counts = np.bincount(code, minlength=1 << (3 * _BITS))
    border = np.concatenate([frame[0], frame[-1], frame[1:-1, 0], frame[1:-1, -1]])
    on_border = np.bincount(codes(border), minlength=1 << (3 * _BITS)) >= 4
    big = np.flatnonzero((counts >= bg_frac * len(grid)) & on_border)
    return np.array([np.round(grid[code == b].mean(axis=0)) for b in big], dtype=np.int64).reshape(-1, 3)


def clip_backdrops(frames: np.ndarray, bg_frac: float, most: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """:func:`backdrop_colours` of every frame of a clip at once, the first ``most`` of each frame:
    ((m, 3) int colours, (m,) the frame of each), frame by frame in the same order. Integer sums
    are exact in float64, so each bin's mean is the one the per-frame function computes."""
    shift, bins = 8 - _BITS, 1 << (3 * _BITS)
    t = len(frames)

    def codes(pixels: np.ndarray) -> np.ndarray:  # (t, n, 3) -> (t, n) bin codes offset by frame
        q = (pixels >> shift).astype(np.int32)
        code = (q[..., 0] << (2 * _BITS)) | (q[..., 1] << _BITS) | q[..., 2]
        return code + (np.arange(t, dtype=np.int32) * bins)[:, None]

    grid = frames[:, ::4, ::4].reshape(t, -1, 3)
    code = codes(grid).ravel()
    counts = np.bincount(code, minlength=t * bins)
    border = np.concatenate([frames[:, 0], frames[:, -1], frames[:, 1:-1, 0], frames[:, 1:-1, -1]], axis=1)
    on_border = np.bincount(codes(border).ravel(), minlength=t * bins) >= 4
    big = np.flatnonzero((counts >= bg_frac * grid.shape[1]) & on_border)  # ascending: frame, then bin
    frame_of = big // bins
    rank = np.arange(len(big)) - np.searchsorted(frame_of, frame_of)
    big, frame_of = big[rank < most], frame_of[rank < most]
    # Which chosen bin each grid pixel is in: a search of the few chosen bins, not a table of all t·2^15.
    member = np.searchsorted(big, code).clip(max=max(len(big) - 1, 0))
    chosen = big[member] == code if len(big) else np.zeros(len(code), bool)
    member = member[chosen]
    # Each bin's sum of r, g and b in one pass, packed 2^20 apart: a bin holds at most 4096 pixels of one
    # frame's grid, so each channel's sum stays below 2^20 and the packed sum below 2^60, exact in int64.
    rgb = grid.reshape(-1, 3)[chosen].astype(np.int64)
    packed = np.zeros(len(big), np.int64)
    np.add.at(packed, member, (rgb[:, 0] << 40) | (rgb[:, 1] << 20) | rgb[:, 2])
    sums = np.stack([packed >> 40, (packed >> 20) & 0xFFFFF, packed & 0xFFFFF], axis=1).astype(np.float64)
    return np.round(sums / counts[big][:, None]).astype(np.int64), frame_of


def backdrop_tables(frames: np.ndarray, bg_frac: float, tol: int) -> np.ndarray:
    """(T, 3, 256) uint8 lookup tables, one per frame and channel: bit k of [f, c, v] says level v is within
    ``tol`` of frame f's backdrop colour k (:func:`clip_backdrops`; the bits of one frame's colours are
    distinct, so adding them is or-ing them)."""
    colours, frame_of = clip_backdrops(frames, bg_frac)
    rank = np.arange(len(frame_of)) - np.searchsorted(frame_of, frame_of)
    near_bits = (np.abs(np.arange(256)[None, None, :] - colours[:, :, None]) <= tol).astype(np.uint8) << \
        rank.astype(np.uint8)[:, None, None]
    lut = np.zeros((len(frames), 3, 256), np.uint8)
    np.add.at(lut, frame_of, near_bits)
    return lut


def foreground(frames: np.ndarray, bg_frac: float, tol: int) -> np.ndarray:
    """(T, H, W) bool: pixels that differ by more than ``tol`` in some channel from every colour
    covering at least ``bg_frac`` of their own frame (the flat backdrop colours). Each frame alone."""
    lut = backdrop_tables(frames, bg_frac, tol)
    out = np.empty(frames.shape[:3], bool)
    # Frame by frame, so the lookups stay in cache: 1.6x faster than one gather of the whole clip
    # through (T, H, W) int64 offsets (27.6 against 44.5 ms for a clip of 48 frames at 256²).
    for f, frame in enumerate(frames):
        near = np.take(lut[f, 0], frame[..., 0])
        near &= np.take(lut[f, 1], frame[..., 1])
        near &= np.take(lut[f, 2], frame[..., 2])
        np.equal(near, 0, out=out[f])
    return out


def median_foreground(frames: np.ndarray, background: np.ndarray, tol: int) -> np.ndarray:
    """(T, H, W) bool: pixels more than ``tol`` from ``background`` (H, W, 3) in some channel."""
    return np.abs(frames.astype(np.int16) - background.astype(np.int16)).max(axis=-1) > tol


def foreground_box(fg: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns of the smallest box that holds every foreground pixel of every frame of
    ``fg`` (T, H, W); None when there is none."""
    seen = fg.any(axis=0)  # over frames first: 7x faster than reducing (0, 2) and (0, 1) of the clip
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    if not len(rows):
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def colour_edges(frames: np.ndarray, fg: np.ndarray, max_angle: float) -> np.ndarray:
    """``fg`` less the pixels where a foreground neighbour (right or below) has a colour whose
    direction in rgb differs by more than ``max_angle`` degrees: a one-pixel cut between touching
    bodies of different colours. Shading scales a colour (its direction stays), so faces and
    texture squares of one body are not cut. Only pairs of foreground neighbours are compared (a
    cut elsewhere would not change ``fg``): 0.1-6% of a frame on the demo, against every pixel of the
    box around the foreground before (the same float32 arithmetic per pair, so the same cuts)."""
    box = foreground_box(fg) if max_angle < 180 else None
    if box is None:
        return fg
    rows, cols = box
    t, h, w = fg.shape
    inner = fg[:, rows, cols]
    pixels = frames.reshape(-1, 3)  # rows of a flat index t·H·W + r·W + c
    limit = np.float32(np.cos(np.radians(max_angle)))
    out = fg.copy()
    flat_out = out.reshape(-1)
    for axis, step in ((2, 1), (1, w)):  # right neighbours, then neighbours below
        pairs = np.zeros(inner.shape, bool)  # p where p and its neighbour p + step are both foreground
        head = tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))
        tail = tuple(slice(1, None) if a == axis else slice(None) for a in range(3))
        np.logical_and(inner[head], inner[tail], out=pairs[head])
        f, r, c = np.nonzero(pairs)
        if not len(f):
            continue
        flat = (f * h + r + rows.start) * w + c + cols.start
        (ur, ug, ub), (vr, vg, vb) = unit_colours(pixels.take(flat, axis=0)), unit_colours(pixels.take(flat + step, axis=0))
        flat_out[flat[ur * vr + ug * vg + ub * vb < limit]] = False
    return out


def unit_colours(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 colours + 1 as (3, n) float32 unit vectors, a row a channel: their directions in rgb.
    Sums run channel by channel, (r + g) + b, the order numpy's sum over a last axis of 3 takes, column
    arrays being ~4x faster to work on than rows of three."""
    r, g, b = rgb.T.astype(np.float32) + np.float32(1.0)
    norm = np.sqrt(r * r + g * g + b * b)
    return np.stack([r / norm, g / norm, b / norm])


def blob_features(frames: np.ndarray, fg: np.ndarray, slots: int) -> np.ndarray:
    """(T, slots, len(BLOB_FEATURES)) float64: the ``slots`` largest 4-connected blobs of each frame,
    largest first (a missing blob is all zeros)."""
    from scipy import ndimage

    t, h, w, _ = frames.shape
    out = np.zeros((t, slots, len(BLOB_FEATURES)))
    box = foreground_box(fg)
    if box is None:
        return out
    # 4-connected within a frame, never across frames: one labelling call for the whole clip, on the box
    # around the foreground (the same blobs, numbered in the same raster order, as on the whole frames).
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    labels, n = ndimage.label(fg[:, box[0], box[1]], structure=structure)
    where = np.nonzero(labels)
    lab = labels[where] - 1
    where = where[0], where[1] + box[0].start, where[2] + box[1].start
    rgb = frames[where].astype(np.float64) / 255.0
    area = np.bincount(lab, minlength=n).astype(np.float64)
    frame_of = np.zeros(n, np.int64)
    frame_of[lab] = where[0]
    sums = np.stack([np.bincount(lab, weights=v, minlength=n)
                     for v in (where[2] + 0.5, where[1] + 0.5, *rgb.T)], axis=1)
    mean = sums / area[:, None]
    peak = np.zeros(n)
    np.maximum.at(peak, lab, rgb.mean(axis=1))
    # Rank the blobs of each frame: frame, then largest area, then top-most, left-most centroid.
    order = np.lexsort((mean[:, 0], mean[:, 1], -area, frame_of))
    ranked_frames = frame_of[order]
    first = np.searchsorted(ranked_frames, np.arange(t))
    rank = np.arange(n) - first[ranked_frames]
    keep = rank < slots
    blob, f, r = order[keep], ranked_frames[keep], rank[keep]
    out[f, r] = np.column_stack([np.ones(len(blob)), mean[blob, 0] / w, mean[blob, 1] / h, area[blob] / (h * w),
                                 mean[blob, 2:5], peak[blob]])
    return out


def link(blobs: np.ndarray, slots: int, gate: float = GATE) -> np.ndarray:
    """Tracks through the frames of a view, in its order: (T, slots, len(BLOB_FEATURES)).

    ``blobs`` (T, M, F) are each frame's candidate blobs (:func:`blob_features`). Each frame's
    blobs are matched to the tracks so far, nearest centroid to a track's last position first,
    within ``gate`` (a fraction of the frame), and never to a blob much larger than the track has
    been (:data:`GROW`: two bodies of one colour that touch make one blob, which continues neither);
    a blob left over starts a track. A track that loses its blob for a while (a merge, an
    occlusion) is picked up again where it was lost. The tracks then fill the slots: the one that
    moved farthest first (the main object), then by mean area. Without motion (one frame
    repeated) that is the largest blob first.
    """
    t = len(blobs)
    last: list[np.ndarray] = []  # each track's last centroid
    biggest: list[float] = []  # each track's largest area
    rows: list[dict[int, int]] = []  # each track's {frame: candidate}
    for f in range(t):
        present = np.flatnonzero(blobs[f, :, 0])
        if not len(present):
            continue
        taken_blobs, taken_tracks = set(), set()
        if last:
            d = np.hypot(*(blobs[f, present, None, 1:3] - np.asarray(last)[None]).transpose(2, 0, 1))
            d[blobs[f, present, 3][:, None] > GROW[0] * np.asarray(biggest)[None] + GROW[1]] = np.inf
            for flat in np.argsort(d, axis=None, kind="stable"):
                b, k = divmod(int(flat), d.shape[1])
                if d[b, k] > gate:
                    break
                if b in taken_blobs or k in taken_tracks:
                    continue
                taken_blobs.add(b)
                taken_tracks.add(k)
                rows[k][f] = present[b]
                last[k] = blobs[f, present[b], 1:3]
                biggest[k] = max(biggest[k], blobs[f, present[b], 3])
        for b in range(len(present)):
            if b not in taken_blobs:
                rows.append({f: present[b]})
                last.append(blobs[f, present[b], 1:3])
                biggest.append(blobs[f, present[b], 3])
    out = np.zeros((t, slots, blobs.shape[2]))

    def motion(track: dict[int, int]) -> float:
        frames = sorted(track)
        xy = blobs[frames, [track[f] for f in frames], 1:3]
        return float(np.abs(np.diff(xy, axis=0)).sum())

    def area(track: dict[int, int]) -> float:
        return float(np.mean([blobs[f, c, 3] for f, c in track.items()]))

    # Rounded to 1e-4 of the frame (a fortieth of a pixel at 256²): still blobs (their pixels do not change) tie.
    ranked = sorted(range(len(rows)), key=lambda k: (-round(motion(rows[k]), 4), -area(rows[k]), k))
    for slot, k in enumerate(ranked[:slots]):
        seen = sorted(rows[k])
        for f, c in rows[k].items():
            out[f, slot] = blobs[f, c]
        # Where the track's blob is not seen, it holds its nearest earlier (else first) features,
        # with present 0: a lost track stays where it was lost, as a tracker coasts.
        nearest = np.array(seen)[np.maximum(np.searchsorted(seen, np.arange(t), side="right") - 1, 0)]
        missing = np.setdiff1d(np.arange(t), seen)
        out[missing, slot, 1:] = out[nearest[missing], slot, 1:]
    return out


def odometers(tracked: np.ndarray) -> np.ndarray:
    """(T, slots, len(ODOMETER_FEATURES)): per frame, the sum of |Δ| of ODOMETER_FEATURES over the
    view's frames so far (0 at its first frame): how far each tracked blob has travelled, and how
    much its area, brightness and presence have changed."""
    return running_change(tracked[:, :, _ODOMETER_COLUMNS])


@register
class Track(Encoder):
    kind = "track"
    role = "control"
    host_numpy = True
    description = ("positive control: a blob tracker on the full-resolution pixels (per-frame backdrop, colour-cut "
                   "blobs, tracks with odometers), stacked in time order (no weights)")
    example = "track,blobs=2"
    option_help = {
        "blobs": "tracked blobs besides the main one (the one that moved farthest), per frame (default 2)",
        "odometer": "1 (default): add each tracked blob's odometers (Σ|Δ| of presence, position, area and "
                    "brightness over the view's frames so far); 0: leave them out",
        "tol": "a pixel is foreground when it differs from every backdrop colour by more than this (0-254, "
               "default 4)",
        "bg_frac": "a colour covering at least this fraction of a frame (and its border) is backdrop (default 0.02)",
        "split": "touching foreground pixels whose colours differ in direction by more than this many degrees "
                 "belong to different blobs (default 3; 180: never split)",
        "background": "frame (default: each frame's own backdrop colours) or median (the per-pixel median of the "
                      "original clip, for comparison: it leaks time into single_frame, see the module doc)",
    }
    version = 1
    builds_views = True

    def __init__(self, spec, device="cpu"):
        super().__init__(spec, device)
        self.blobs = self.option("blobs", 2, int)
        self.odometer = self.option("odometer", 1, int)
        self.tol = self.option("tol", 4, int)
        self.bg_frac = self.option("bg_frac", 0.02, float)
        self.split = self.option("split", 3.0, float)
        self.background = self.option("background", "frame")
        if self.blobs < 0 or self.odometer not in (0, 1) or not 0 <= self.tol < 255 or not 0 < self.bg_frac < 1:
            raise EncoderError(f"encoder {self.name!r}: needs blobs ≥ 0, odometer 0 or 1, 0 ≤ tol ≤ 254 and "
                               f"0 < bg_frac < 1")
        if self.background not in ("frame", "median"):
            raise EncoderError(f"encoder {self.name!r}: background must be frame or median, not {self.background!r}")

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "blobs": self.blobs, "odometer": self.odometer,
                "tol": self.tol, "bg_frac": self.bg_frac, "split": self.split, "background": self.background}

    def candidates(self, frames: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
        """(T, CANDIDATES + 1 + blobs, len(BLOB_FEATURES)): each frame's largest blobs, which the
        tracker links. With ``background=median`` the frames are segmented against ``background``
        (default: the per-pixel median of ``frames``)."""
        if self.background == "median":
            fg = median_foreground(frames, np.median(frames, axis=0) if background is None else background, self.tol)
        else:
            fg = foreground(frames, self.bg_frac, self.tol)
        return blob_features(frames, colour_edges(frames, fg, self.split), CANDIDATES + 1 + self.blobs)

    def features(self, candidates: np.ndarray) -> np.ndarray:
        """The embedding of a view from its frames' candidate blobs, in the view's order: per frame,
        the tracked main blob and the next ``blobs`` (:func:`link`), then their odometers."""
        tracked = link(candidates, 1 + self.blobs)
        parts = [tracked, odometers(tracked)] if self.odometer else [tracked]
        return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1).reshape(-1).astype(np.float32)

    def encode(self, clips: list[np.ndarray]) -> np.ndarray:
        """Each clip as given (a view already made): its frames, tracked in their order."""
        with self.timed("forward_s"):
            out = [self.features(self.candidates(frames)) for frames in clips]
        self.timings["clips"] += len(out)
        return stack(self.kind, out)

    def encode_views_async(self, clips, frames, needs, memo=None):
        """Blobs are found once per clip (each frame alone), then every view that selects frames
        tracks its selection of them, in its order: the same as finding the blobs of the view.
        ``frame_mean`` is the clip's mean frame, its blobs repeated. With ``background=median``, the
        single and mean frames are segmented against the original clip's median (the module doc
        says what that leaks)."""
        from evaluate.data.views import frame_index, mean_frame, rows_by_view

        with self.timed("forward_s"):
            medians = [np.median(raw, axis=0) if self.background == "median" else None for raw in frames]
            blobs = [self.candidates(raw, median) if set(need) - {"frame_mean"} else None
                     for raw, median, need in zip(frames, medians, needs, strict=True)]
        for view, rows in rows_by_view(needs):
            with self.timed("forward_s"):
                out = []
                for i in rows:
                    n = len(frames[i])
                    if view == "frame_mean":
                        mean = self.candidates(mean_frame(frames[i])[None], medians[i])
                        out.append(self.features(np.repeat(mean, n, axis=0)))
                    else:
                        out.append(self.features(blobs[i][frame_index(view, n, clips[i].clip_id)]))
                result = stack(self.kind, out)
            self.timings["clips"] += len(rows)
            yield view, [clips[i] for i in rows], lambda result=result: result


def stack(kind: str, vectors: list[np.ndarray]) -> np.ndarray:
    if len({len(v) for v in vectors}) > 1:
        raise ValueError(f"{kind}: clips have different frame counts")
    return np.stack(vectors)
