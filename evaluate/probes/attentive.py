"""``--probe attentive``: V-JEPA 2's frozen-evaluation probe. A learned query cross-attends over
all of a clip's tokens (after depth − 1 self-attention blocks over the tokens), then a linear
head; AdamW with linear warm-up and a cosine schedule, over a grid of learning rate × weight
decay, each trained on the train split and selected on the val split; the selected probe
predicts test (V-JEPA 2 keeps its best head the same way, without refitting).

Size: V-JEPA 2 uses 4 blocks and 16 heads on ViT-L/g tokens (1024+ dims). By default the probe
is that size at 1024+ dims, and 1 block (the cross-attention only) with 64-dim heads below;
``depth=`` and ``heads=`` override. Options go after the name: ``attentive,epochs=20,lrs=1e-3:3e-4``.

Inputs: (n, N, D) token features from an encoder with ``pool=tokens`` (cached as float16 and cast
to float32 a batch at a time on the device); pooled (n, D) vectors are read as a single token.
Without a val split (or with one class in it), the first grouped fold of train+val is held out.

Temporal positions: cross-attention is blind to the order of its tokens, and V-JEPA 2's tokens carry
their positions only as the rotations RoPE applied inside the encoder, which leave no absolute time in
the output. So the probe learns one embedding per time step, added to every token of that step,
before its blocks: it can read order (a clip against its time reversal) from the tokens. They start
at a random half of the tokens' scale (POS_INIT × the train tokens' standard deviation), not at
the 0.02 usual for ViT position embeddings: at the probe's learning rates (1e-3 and below) embeddings that start near zero grow
too slowly to be read within 20 epochs (a toy of 4 steps × 4 tokens × 32 dims, where only order
tells the classes apart: 0.77 accuracy from 0.02, 0.97 from this, at lr 1e-3). The tokens
are time major, N = time steps × tokens per step; the tokens per step (``token_grid``, height ×
width) are in the encoder's identity, which the probe reads from the cache's ``key.json`` beside
the token files, so the time steps follow each dataset's clip length. ``time_steps=T`` sets them
(for features not read from the cache; ``time_steps=1`` gives the order-blind probe); when neither
says, each token gets its own position. ``params`` records the count and where it came from.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.probes.base import (
    PROBES,
    VALIDATION_SCORE,
    Probe,
    ProbeFit,
    ProbeSkipped,
    check_target,
    grouped_folds,
)
from evaluate.probes.rows import as_array

LIMITS = {"depth": 32, "heads": 256, "epochs": 10_000, "batch": 65_536, "time_steps": 100_000}
# Flat (pooled) features wider than this are not tokens: the probe's MLP is 8 × width², e.g. 12,288-wide
# pixels would need nn.Linear(12288, 49152), 2.4 GB alone. Such features belong to the linear probe.
MAX_TOKEN_WIDTH = 8192
DEFAULT_LRS = (1e-3, 3e-4, 1e-4)
DEFAULT_WDS = (0.01, 0.1)
POS_INIT = 0.5  # the time-step embeddings' initial std, in units of the train tokens' std
OPTIONS = {"depth": int, "heads": int, "epochs": int, "batch": int, "lrs": str, "wds": str, "device": str, "seed": int,
           "time_steps": int}


def default_size(dim: int) -> tuple[int, int]:
    """(depth, heads): V-JEPA 2's 4 blocks × 16 heads at 1024+ dims; 1 block and 64-dim heads below."""
    if dim >= 1024:
        return 4, 16
    heads = next((h for h in (16, 8, 4, 2) if dim % h == 0 and dim // h >= 64), 1)
    return 1, heads


def _modules():
    import torch
    from torch import nn

    class Mlp(nn.Sequential):
        def __init__(self, dim: int):
            super().__init__(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    class SelfBlock(nn.Module):
        def __init__(self, dim: int, heads: int):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.mlp = Mlp(dim)

        def forward(self, x):
            h = self.norm1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    class CrossBlock(nn.Module):
        """V-JEPA's CrossAttentionBlock: q + xattn(q, norm(x)), then q + mlp(norm(q))."""

        def __init__(self, dim: int, heads: int):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.mlp = Mlp(dim)

        def forward(self, q, x):
            h = self.norm1(x)
            q = q + self.attn(q, h, h, need_weights=False)[0]
            return q + self.mlp(self.norm2(q))

    class AttentiveHead(nn.Module):
        def __init__(self, dim: int, heads: int, depth: int, n_out: int, time_steps: int = 1, pos_std: float = 0.02):
            super().__init__()
            self.time_steps = time_steps
            # One learned embedding per time step, added to each of its tokens (see the module docstring).
            self.time_pos = nn.Parameter(torch.zeros(1, time_steps, 1, dim))
            nn.init.trunc_normal_(self.time_pos, std=pos_std, a=-2 * pos_std, b=2 * pos_std)
            self.blocks = nn.ModuleList([SelfBlock(dim, heads) for _ in range(depth - 1)])
            self.query = nn.Parameter(torch.zeros(1, 1, dim))
            nn.init.trunc_normal_(self.query, std=0.02)
            self.cross = CrossBlock(dim, heads)
            self.head = nn.Linear(dim, n_out)

        def forward(self, x):
            b, n, d = x.shape
            x = (x.view(b, self.time_steps, n // self.time_steps, d) + self.time_pos).view(b, n, d)
            for block in self.blocks:
                x = block(x)
            return self.head(self.cross(self.query.expand(len(x), -1, -1), x)[:, 0])

    return AttentiveHead


class AttentiveProbe(Probe):
    name = "attentive"
    takes_options = True
    description = ("V-JEPA 2's frozen-eval probe: learned-query cross-attention over all tokens (use an encoder "
                   "with pool=tokens), with learned time-step embeddings so it can read order; AdamW + cosine, "
                   "lr × wd grid selected on val")
    uses_val_split: ClassVar[bool] = True

    def __init__(self, **options: str):
        for key in options:
            if key not in OPTIONS:
                from simgen.spec.registry import did_you_mean

                raise ValueError(f"probe attentive: unknown option {key!r}{did_you_mean(key, OPTIONS)}; "
                                 f"options: {', '.join(OPTIONS)}")
        try:
            opts = {k: OPTIONS[k](v) for k, v in options.items()}
            self.lrs = [float(x) for x in opts.get("lrs", ":".join(map(str, DEFAULT_LRS))).split(":")]
            self.wds = [float(x) for x in opts.get("wds", ":".join(map(str, DEFAULT_WDS))).split(":")]
        except ValueError as e:
            raise ValueError(f"probe attentive: bad option value ({e})") from None
        self.depth, self.heads = opts.get("depth"), opts.get("heads")
        self.epochs, self.batch = opts.get("epochs", 20), opts.get("batch", 32)
        self.device, self.seed = opts.get("device", "auto"), opts.get("seed", 0)
        self.time_steps = opts.get("time_steps")
        for key in ("depth", "heads", "epochs", "batch", "time_steps"):
            if opts.get(key) is not None and not 1 <= opts[key] <= LIMITS[key]:
                raise ValueError(f"probe attentive: {key}={opts[key]}; a whole number from 1 to {LIMITS[key]}")
        for key, values in (("lrs", self.lrs), ("wds", self.wds)):
            if not values or not all(0 <= v < 10 and v == v for v in values) or (key == "lrs" and min(values) <= 0):
                raise ValueError(f"probe attentive: {key}={':'.join(map(str, values))}; numbers in "
                                 f"{'(0' if key == 'lrs' else '[0'}, 10) joined by ':'")

    def fit_predict(self, kind, x_train, y_train, groups, x_test, is_val: np.ndarray | None = None):
        import torch

        from evaluate.encoders.hf import pick_device

        check_target(kind, y_train)
        grid = cached_token_grid(x_train)
        x_train, x_test = as_array(x_train), as_array(x_test)  # minibatch training reads rows at random
        if x_train.ndim == 2:  # pooled vectors: one token each
            x_train, x_test = x_train[:, None], x_test[:, None]
        dim = x_train.shape[-1]
        time_steps, time_source = self._time_steps(x_train.shape[1], grid)
        pos_std = POS_INIT * (float(x_train[:256].astype(np.float32).std()) or 1.0)
        depth, heads = default_size(dim)
        depth, heads = self.depth or depth, self.heads or heads
        check_size(dim, depth, x_train.shape[1], self.batch)
        if dim % heads:
            raise EvaluateError(f"probe attentive: heads={heads} does not divide the token dimension {dim}")
        val, selection = self._val_rows(kind, y_train, groups, is_val)
        train = ~val
        if kind == "class":
            classes, y_index = np.unique(y_train, return_inverse=True)
            target, n_out, mu, sd = torch.as_tensor(y_index), len(classes), 0.0, 1.0
        else:
            y = y_train.astype(float)
            mu, sd = float(y[train].mean()), float(y[train].std()) or 1.0
            target, n_out, classes = torch.as_tensor((y - mu) / sd, dtype=torch.float32), 1, None
        device = pick_device(self.device)
        xt, xs = torch.from_numpy(np.ascontiguousarray(x_train)), torch.from_numpy(np.ascontiguousarray(x_test))
        best: tuple[float, Any, dict[str, float]] | None = None
        grid = []
        for lr in self.lrs:
            for wd in self.wds:
                model = self._train(xt[train], target[train], kind, dim, heads, depth, n_out, lr, wd, device,
                                    time_steps, pos_std)
                score = self._score(kind, model, xt[val], y_train[val], classes, mu, sd, device)
                grid.append({"lr": lr, "wd": wd, "val_score": score})
                if best is None or score > best[0]:
                    best = (score, model, {"lr": lr, "wd": wd})
        score, model, hp = best
        pred = self._predict(model, xs, device)
        y_pred = classes[pred.argmax(1)] if kind == "class" else pred[:, 0] * sd + mu
        return ProbeFit(y_pred, {**hp, "val_score": score, VALIDATION_SCORE: score, "val_metric": "balanced_accuracy" if kind == "class" else
                                 "r2", "selection": selection, "depth": depth, "heads": heads, "tokens": x_train.shape[1],
                                 "time_steps": time_steps, "time_steps_from": time_source,
                                 "epochs": self.epochs, "n_fit": int(train.sum()), "n_val": int(val.sum()),
                                 "grid": grid})

    def _time_steps(self, n_tokens: int, grid: list[int] | None) -> tuple[int, str]:
        """(time steps the N tokens split into, where that came from)."""
        if n_tokens == 1:  # a pooled vector
            return 1, "one token"
        if self.time_steps is not None:
            if n_tokens % self.time_steps:
                raise EvaluateError(f"probe attentive: time_steps={self.time_steps} does not divide the {n_tokens} "
                                    f"tokens of a clip")
            return self.time_steps, "option"
        per_step = int(np.prod(grid)) if grid else 0
        if per_step and n_tokens % per_step == 0:
            return n_tokens // per_step, f"token_grid {'x'.join(map(str, grid))} of the encoder"
        return n_tokens, "no token_grid: one position per token"

    @staticmethod
    def _val_rows(kind, y, groups, is_val) -> tuple[np.ndarray, str]:
        if is_val is not None and 0 < is_val.sum() < len(is_val):
            usable = kind != "class" or (len(np.unique(y[~is_val])) > 1)
            if usable:
                return is_val.astype(bool), "val split"
        _, held = grouped_folds(groups, y)[0]
        val = np.zeros(len(y), bool)
        val[held] = True
        return val, "grouped holdout of train+val (no usable val split)"

    def _train(self, x, y, kind, dim, heads, depth, n_out, lr, wd, device, time_steps=1, pos_std=0.02):
        import torch
        import torch.nn.functional as F

        head_cls = _modules()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = head_cls(dim, heads, depth, n_out, time_steps, pos_std).to(device)
            order = torch.Generator().manual_seed(self.seed)
            opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
            steps_per_epoch = math.ceil(len(x) / self.batch)
            total = max(self.epochs * steps_per_epoch, 1)
            warmup = max(total // 10, 1)
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(total - warmup, 1))))
            model.train()
            for _ in range(self.epochs):
                perm = torch.randperm(len(x), generator=order)
                for i in range(0, len(x), self.batch):
                    rows = perm[i:i + self.batch]
                    out = model(x[rows].to(device, torch.float32))
                    yb = y[rows].to(device)
                    loss = F.cross_entropy(out, yb) if kind == "class" else F.mse_loss(out[:, 0], yb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
        return model.eval()

    def _predict(self, model, x, device) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return torch.cat([model(x[i:i + 256].to(device, torch.float32)).float().cpu()
                              for i in range(0, len(x), 256)]).numpy()

    def _score(self, kind, model, x, y, classes, mu, sd, device) -> float:
        from evaluate.metrics import balanced_accuracy, r2

        pred = self._predict(model, x, device)
        if kind == "class":
            return balanced_accuracy(y, classes[pred.argmax(1)])
        value = r2(y.astype(float), pred[:, 0] * sd + mu)
        return -math.inf if value != value else value


def probe_bytes(dim: int, depth: int, tokens: int, batch: int) -> int:
    """Training memory, estimated: float32 weights with their gradient and AdamW's two moments (4 copies of
    ~12·dim² per block: attention 4·dim², MLP 8·dim²), plus a batch's activations (tokens × 4·dim per block,
    kept for backward, and the attention maps)."""
    weights = 4 * 4 * 12 * dim * dim * depth
    activations = 4 * batch * tokens * (10 * dim * depth + tokens)
    return weights + activations


def available_bytes() -> int | None:
    """Memory this machine has free now (MemAvailable), or None where it cannot tell."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_size(dim: int, depth: int, tokens: int, batch: int) -> None:
    """ProbeSkipped, with the estimate, for features the probe cannot or should not be built on."""
    need = probe_bytes(dim, depth, tokens, batch)
    if tokens == 1 and dim > MAX_TOKEN_WIDTH:
        raise ProbeSkipped(f"probe attentive: pooled features {dim} wide are not tokens (it would need ~{need / 1e9:.1f} "
                           f"GB to train); use an encoder with pool=tokens, or the linear probe")
    free = available_bytes()
    if free is not None and need > free:
        raise ProbeSkipped(f"probe attentive: training needs ~{need / 1e9:.1f} GB (width {dim}, {tokens} tokens, "
                           f"depth {depth}, batch {batch}); {free / 1e9:.1f} GB is free: lower batch= or depth=")


def cached_token_grid(rows: Any) -> list[int] | None:
    """The encoder's ``token_grid`` (tokens per time step, height × width) from the cache's key.json
    beside the token files of ``rows`` (evaluate.probes.rows.CachedRows); None for anything else."""
    paths = getattr(rows, "paths", None)
    if not paths:
        return None
    try:
        key = json.loads((Path(paths[0]).parent / "key.json").read_text())
        grid = key["encoder"]["token_grid"]
        return [int(g) for g in grid] if grid else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


PROBES.register(AttentiveProbe.name, AttentiveProbe)
