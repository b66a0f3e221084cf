"""V-JEPA 2's encoder forward, computed as transformers' ``VJEPA2Model(..., skip_predictor=True)``
computes it, with less work around the matrix products.

What transformers' forward spends besides the products (read off its source, and the reasons each
change here is safe):

- **RoPE tables every layer.** ``rotate_queries_or_keys`` builds its frequencies, sines and cosines
  from ``arange`` for each of the three axes, for queries and keys, in each of the 24 layers, then
  concatenates the rotated slices. Here the tables are built once per (token grid, dtype, device)
  with the very same operations in the same dtype, so their values are bit-identical, and the
  rotation is one pass over queries and keys together. The rotation is ``x*cos + rot(x)*sin`` in
  the same order of the same rounded operations; the dimensions past the three rotated slices get
  cos 1 and sin 0, which leaves them exactly as they are.
- **Three projections for q, k and v.** One fused product with the three weights stacked. The
  model's own q/k/v parameters become views of the stacked weight, so no memory is doubled and
  transformers' forward still runs on the same weights (the benchmark compares the two).
- **The predictor's masks.** With ``skip_predictor`` transformers still builds a (B, N, D) int64
  index (512 MiB for 32 ViT-L clips) to gather ``masked_hidden_state`` = every token. Not here.
- **The patch embedding** is a Conv3d whose stride equals its kernel: the same arithmetic as one
  matrix product over the unfolded tubelets, which is what this does on a GPU (a view of the conv
  weight). On a CPU it stays the conv: the CPU's GEMM splits that 1,536-long reduction differently
  with the number of threads, so embeddings would change with the thread count (a Ray actor has one).
- **Attention** is ``scaled_dot_product_attention`` on (B, H, N, d) views of the (B, N, H, d)
  projections, as transformers' "sdpa" path calls it: on a GPU in bf16 PyTorch picks its flash or
  cuDNN kernel (``sdpa_backend`` says which runs; bench/gpu_check measures it).

``compile=True`` wraps each block's function in ``torch.compile`` (once: every block shares the
code, its weights are inputs), which fuses the layer norms, the rotation, GELU and the residual adds.
Shapes are static: each new (batch, tokens) shape compiles once (~7 s for ViT-L on an H200), and
past dynamo's recompile limit a new shape runs eagerly, with the same result to rounding.

Tested against transformers' forward on the same weights: equal to float32 rounding on the CPU,
and within bf16 tolerance on a GPU (tests/evaluate/test_fast_vjepa2.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def rope_tables(config: Any, num_tokens: int, dtype: torch.dtype, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, head_dim) cos and sin of V-JEPA 2's 3-D rotary embedding, in ``dtype``, by the operations
    of transformers' ``rotate_queries_or_keys`` (frequencies computed in ``dtype``, the half-width
    tables repeated, not interleaved), with cos 1 / sin 0 past the three rotated slices."""
    head_dim = config.hidden_size // config.num_attention_heads
    grid = config.crop_size // config.patch_size  # transformers' positions use the config's grid
    axis_dim = 2 * ((head_dim // 3) // 2)
    ids = torch.arange(num_tokens, device=device)
    frame = ids // (grid * grid)
    height = (ids - grid * grid * frame) // grid
    width = (ids - grid * grid * frame) - grid * height
    cos, sin = [], []
    for pos in (frame, height, width):
        omega = torch.arange(axis_dim // 2, dtype=dtype, device=device)
        omega /= axis_dim / 2.0
        omega = 1.0 / 10000**omega
        freq = pos.unsqueeze(-1) * omega
        cos.append(freq.cos().repeat(1, 2))
        sin.append(freq.sin().repeat(1, 2))
    rest = head_dim - 3 * axis_dim
    cos.append(torch.ones(num_tokens, rest, dtype=dtype, device=device))
    sin.append(torch.zeros(num_tokens, rest, dtype=dtype, device=device))
    return torch.cat(cos, dim=-1), torch.cat(sin, dim=-1)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x*cos + rot(x)*sin`` where rot turns each (even, odd) pair (a, b) into (-b, a)."""
    a, b = x.unflatten(-1, (-1, 2)).unbind(-1)
    return x * cos + torch.stack((-b, a), dim=-1).flatten(-2) * sin


def block(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b,
          ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b, *, heads: int, eps: float, scale: float) -> torch.Tensor:
    """One V-JEPA 2 layer: x + attn(norm1(x)), then + mlp(norm2(.)). x (B, N, D); cos/sin (N, 1, 1, d)."""
    b, n, d = x.shape
    h = F.layer_norm(x, (d,), ln1_w, ln1_b, eps)
    qkv = F.linear(h, qkv_w, qkv_b).view(b, n, 3, heads, d // heads)
    qk = rotate(qkv[:, :, :2], cos, sin)  # queries and keys in one pass
    q, k, v = qk[:, :, 0], qk[:, :, 1], qkv[:, :, 2]
    att = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=scale)
    x = x + F.linear(att.transpose(1, 2).reshape(b, n, d), proj_w, proj_b)
    h = F.layer_norm(x, (d,), ln2_w, ln2_b, eps)
    return x + F.linear(F.gelu(F.linear(h, fc1_w, fc1_b)), fc2_w, fc2_b)


def tubelets(x: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, N, C*tubelet*patch*patch): each tubelet's pixels in the order of the
    Conv3d weight's (C, t, p, p), tubelets in (time, height, width) order."""
    b, t, c, h, w = x.shape
    x = x.reshape(b, t // tubelet, tubelet, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 1, 4, 6, 3, 2, 5, 7).reshape(b, -1, c * tubelet * patch * patch)


class FastVJEPA2Encoder(nn.Module):
    """The encoder of a transformers ``VJEPA2Model``, sharing its weights (no copy). Build it once the
    model is on its device and in its dtype: ``model.to(...)`` afterwards replaces the parameters
    this holds views of."""

    def __init__(self, model: Any, compile: bool = False):
        super().__init__()
        config = model.config
        if config.hidden_act != "gelu":
            raise ValueError(f"FastVJEPA2Encoder implements hidden_act='gelu', not {config.hidden_act!r}")
        self.config = config
        self.heads = config.num_attention_heads
        self.eps = config.layer_norm_eps
        self.tubelet, self.patch = config.tubelet_size, config.patch_size
        encoder = model.encoder
        conv = self.conv = encoder.embeddings.patch_embeddings.proj
        self.patch_w = conv.weight.view(conv.weight.shape[0], -1)  # (D, C*t*p*p): a view, as is qkv below
        self.patch_b = conv.bias
        self.layers = []
        for layer in encoder.layer:
            att = layer.attention
            self.scale = att.scaling
            qkv_w = _fuse(att.query, att.key, att.value, "weight")
            qkv_b = _fuse(att.query, att.key, att.value, "bias") if att.query.bias is not None else None
            self.layers.append((layer.norm1.weight, layer.norm1.bias, qkv_w, qkv_b, att.proj.weight, att.proj.bias,
                                layer.norm2.weight, layer.norm2.bias, layer.mlp.fc1.weight, layer.mlp.fc1.bias,
                                layer.mlp.fc2.weight, layer.mlp.fc2.bias))
        self.norm = encoder.layernorm
        self.block = torch.compile(block, dynamic=False) if compile else block
        self._tables: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B, N, D) tokens in (time, height, width) order."""
        if x.shape[1] < self.tubelet:  # as transformers: too few frames are repeated up to a tubelet
            x = x.repeat(1, self.tubelet, 1, 1, 1)
        x = x.to(self.patch_w.dtype)
        if not x.is_cuda:  # the CPU's GEMM splits this long reduction by thread count; the conv does not
            return F.conv3d(x.transpose(1, 2), self.conv.weight, self.conv.bias, stride=self.conv.stride
                            ).flatten(2).transpose(1, 2)
        return F.linear(tubelets(x, self.tubelet, self.patch), self.patch_w, self.patch_b)

    def tables(self, n: int, dtype: torch.dtype, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
        key = (n, dtype, str(device))
        if key not in self._tables:
            cos, sin = rope_tables(self.config, n, dtype, device)
            self._tables[key] = (cos[:, None, None], sin[:, None, None])  # broadcast over (q|k, heads)
        return self._tables[key]

    def forward(self, pixel_values_videos: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """last_hidden_state (``layer`` None), or hidden_states[layer] as transformers numbers them:
        0 the patch embedding, i the output of block i (1..L, negative from the end), before the
        final norm. Blocks after ``layer`` are not run."""
        if layer is None:
            x = self.embed(pixel_values_videos)
            cos, sin = self.tables(x.shape[1], x.dtype, x.device)
            for weights in self.layers:
                x = self.block(x, cos, sin, *weights, heads=self.heads, eps=self.eps, scale=self.scale)
            return self.norm(x)
        return self.hidden_states(pixel_values_videos, [layer])[0]

    def hidden_states(self, pixel_values_videos: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        """hidden_states[layer] for each of ``layers`` (numbered as in :meth:`forward`), from one pass
        that stops at the deepest one requested: a layer sweep costs one forward, not one per layer."""
        n_layers = len(self.layers)
        for layer in layers:
            if not -(n_layers + 1) < layer <= n_layers:
                raise IndexError(f"layer={layer} out of range; this model has layers 0..{n_layers}")
        wanted = [layer % (n_layers + 1) for layer in layers]
        x = self.embed(pixel_values_videos)
        cos, sin = self.tables(x.shape[1], x.dtype, x.device)
        keep = set(wanted)  # only the requested states stay in memory
        states = {0: x} if 0 in keep else {}
        for i, weights in enumerate(self.layers[:max(wanted)], start=1):
            x = self.block(x, cos, sin, *weights, heads=self.heads, eps=self.eps, scale=self.scale)
            if i in keep:
                states[i] = x
        return [states[layer] for layer in wanted]


def _fuse(q: nn.Linear, k: nn.Linear, v: nn.Linear, name: str) -> torch.Tensor:
    """The three parameters stacked into one tensor; q, k and v then hold views of it, so the model
    keeps working and its weights are stored once."""
    fused = torch.cat([getattr(m, name).detach() for m in (q, k, v)])
    size = fused.shape[0] // 3
    for i, m in enumerate((q, k, v)):
        setattr(m, name, nn.Parameter(fused[i * size:(i + 1) * size], requires_grad=False))
    return fused


def attention_kernels(run: Any) -> list[str]:
    """The SDPA kernels that ``run()`` actually calls, read off PyTorch's profiler (aten op names such as
    ``aten::_scaled_dot_product_flash_attention``, ``..._cudnn_attention``, ``..._efficient_attention``,
    or the math fallback)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    names = {e.name for e in prof.events()}
    return sorted(n.removeprefix("aten::") for n in names
                  if "scaled_dot_product" in n and n != "aten::scaled_dot_product_attention")
