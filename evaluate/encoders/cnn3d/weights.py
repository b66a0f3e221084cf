"""Finding, reading and strictly loading a published 3D-CNN checkpoint file.

Where ``cnn3d:<name>`` looks, in order: the ``weights=/path`` option; ``$SIMGEN_CNN3D_DIR/<file>``; torch
hub's cache (``$TORCH_HOME/hub/checkpoints/<file>``, where ``torch.hub.load_state_dict_from_url`` keeps what
it downloads); then the published URL, downloaded into that cache (not with ``HF_HUB_OFFLINE=1``). A file
that cannot be found or fetched is one line saying where to put it.

Loading is strict: every tensor the network has must be in the file under the same name and shape, and
the file may hold nothing else; a file that differs is refused in one line naming what differs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evaluate.encoders.cnn3d.recipes import CHECKPOINTS, Checkpoint
from evaluate.errors import EncoderError, WeightsMissingError

ENV_DIR = "SIMGEN_CNN3D_DIR"


def hub_cache() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(spec: str, name: str, path: str | None) -> Path:
    """The local file of checkpoint ``name`` (downloading it if it is nowhere local and a download may run)."""
    checkpoint = CHECKPOINTS[name]
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise WeightsMissingError(f"{spec}: weights={path}: no such file")
        return file
    places = ([Path(os.environ[ENV_DIR]).expanduser()] if os.environ.get(ENV_DIR) else []) + [hub_cache()]
    for place in places:
        if (place / checkpoint.filename).is_file():
            return place / checkpoint.filename
    return _download(spec, checkpoint, places)


def _download(spec: str, checkpoint: Checkpoint, places: list[Path]) -> Path:
    import torch

    where = " or ".join(str(p) for p in places)
    advice = f"put {checkpoint.filename} (from {checkpoint.url}) in {where}, or pass weights=/path/to/{checkpoint.filename}"
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        raise WeightsMissingError(f"{spec}: weights not on this machine and HF_HUB_OFFLINE is set; {advice}")
    try:
        torch.hub.load_state_dict_from_url(checkpoint.url, map_location="cpu", progress=False, weights_only=True)
    except Exception as e:  # no network, a proxy, a partial file: the advice is the same
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise WeightsMissingError(f"{spec}: cannot download the weights ({reason}); {advice}") from None
    return hub_cache() / checkpoint.filename


def read_state_dict(spec: str, file: Path, checkpoint: Checkpoint) -> dict[str, Any]:
    """The state dict in ``file``: the file itself (torchvision), or under its wrapper key (PyTorchVideo's
    ``model_state``); either form is accepted whatever the checkpoint's source, so a re-saved plain state
    dict loads too."""
    import torch

    try:
        content = torch.load(str(file), map_location="cpu", weights_only=True)
    except Exception as e:
        raise EncoderError(f"{spec}: cannot read {file}: {(str(e).strip().splitlines() or [type(e).__name__])[0][:160]}"
                           ) from None
    if isinstance(content, dict) and checkpoint.wrapped_in and isinstance(content.get(checkpoint.wrapped_in), dict):
        content = content[checkpoint.wrapped_in]
    elif isinstance(content, dict) and isinstance(content.get("model_state"), dict):
        content = content["model_state"]
    if not isinstance(content, dict) or not all(hasattr(v, "shape") for v in content.values()):
        raise EncoderError(f"{spec}: {file} holds no state dict (a dict of tensors, or one under 'model_state')")
    return content


def load_strict(spec: str, network: Any, state: dict[str, Any], file: Path | str) -> None:
    """``network.load_state_dict(state, strict=True)``, with what differs named in one line."""
    own = network.state_dict()
    # torch fills a batch norm's num_batches_tracked when a file predates it (as load_state_dict does).
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    extra = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", extra), ("of another shape", shapes)):
            if keys:
                parts.append(f"{len(keys)} tensor(s) {what} (e.g. {keys[0]})")
        raise EncoderError(f"{spec}: {file} does not match the network: {'; '.join(parts)}; is it the "
                           f"checkpoint the name says?")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as e:  # what the check above cannot see (a batch norm's counter under a newer format)
        raise EncoderError(f"{spec}: {file} does not load: {str(e).strip().splitlines()[-1].strip()[:200]}") from None
