"""Fixtures of the evaluate tests: a 64-clip falling_rising dataset and tiny checkpoints saved
with save_pretrained. Everything is offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

TINY_VJEPA2 = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, crop_size=32, frames_per_clip=8,
                   tubelet_size=2, patch_size=16, pred_hidden_size=24, pred_num_hidden_layers=1,
                   pred_num_attention_heads=2, pred_num_mask_tokens=2)


def preprocessor_json(crop: int, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)) -> dict:
    """What VJEPA2VideoProcessor saves (it needs torchvision to be built, so we write the json)."""
    return {"crop_size": {"height": crop, "width": crop}, "size": {"shortest_edge": int(crop * 256 / 224)},
            "do_center_crop": True, "do_normalize": True, "do_rescale": True, "rescale_factor": 1 / 255,
            "image_mean": list(mean), "image_std": list(std), "video_processor_type": "VJEPA2VideoProcessor"}


def save_tiny_vjepa2(directory: Path, seed: int = 0, with_preprocessor: bool = True, **overrides) -> Path:
    import torch
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(seed)
    config = VJEPA2Config(**{**TINY_VJEPA2, **overrides})
    VJEPA2Model(config).save_pretrained(directory)
    if with_preprocessor:
        crop = config.crop_size
        (directory / "video_preprocessor_config.json").write_text(json.dumps(preprocessor_json(crop)))
    return directory


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and 6x slower on two busy cores); restored after. A module
    opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_vjepa2(tmp_path_factory) -> Path:
    return save_tiny_vjepa2(tmp_path_factory.mktemp("ckpt") / "vjepa2-tiny")


@pytest.fixture(scope="session")
def falling_rising_64(tmp_path_factory) -> Path:
    """32 train, 16 val, 16 test falling_rising clips, 8 frames at 64x64 (about a second to render)."""
    from simgen.run.parallel import render_dataset
    from simgen.spec import parse_spec
    from tests.conftest import tiny_spec_dict

    out = tmp_path_factory.mktemp("datasets") / "falling_rising_64"
    render_dataset(parse_spec(tiny_spec_dict(counts=(32, 16, 16))), out, workers=1)
    return out
