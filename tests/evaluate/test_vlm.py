"""vlm: and vlm-zero-shot: on a tiny random LLaVA-OneVision and its processor files, built and saved here
(tokenizer from a word-level vocabulary, chat template, video preprocessor json), through from_pretrained,
then `evaluate run` end to end in both modes."""

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.encoders import build_encoder
from evaluate.encoders.vlm.prompts import NEUTRAL_PROMPT, question_tag
from evaluate.encoders.vlm.zero_shot import ZERO_SHOT, AnswerReadout, Question, questions_at
from evaluate.errors import EncoderError, EvaluateError, WeightsMissingError
from evaluate.probes.base import ProbeSkipped
from tests.evaluate.test_encoders import clips as random_clips

pytestmark = pytest.mark.usefixtures("one_torch_thread")
HIDDEN, SIDE, PATCH = 48, 28, 14  # head_dim 12; a 2x2 patch grid pooled to one token a frame
SPECIAL = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
WORDS = ("user assistant describe the video is object falling or rising ? answer a for b . A B C D "
         "Is Answer Describe").split()
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }} {% for c in m['content'] %}{% if c['type'] == 'video' "
            "%}<video> {% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|> {% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}")


def save_tiny_vlm(directory: Path, seed: int = 0, size: int = SIDE) -> Path:
    """A random LLaVA-OneVision (SigLIP tower, Qwen2 LLM) with what its processor would save: the
    tokenizer, the chat template, the image processor and (written as json: the video processor needs
    torchvision) the video processor's config."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        PreTrainedTokenizerFast,
        Qwen2Config,
        SiglipVisionConfig,
    )

    vocab = {token: i for i, token in enumerate(dict.fromkeys(SPECIAL + WORDS))}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", pad_token="<pad>",
                                        additional_special_tokens=SPECIAL[2:])
    tokenizer.save_pretrained(directory)
    (directory / "chat_template.jinja").write_text(TEMPLATE)
    LlavaOnevisionImageProcessor(size={"height": size, "width": size}, image_mean=[0.5] * 3,
                                 image_std=[0.5] * 3).save_pretrained(directory)
    (directory / "video_preprocessor_config.json").write_text(json.dumps({
        "size": {"height": size, "width": size}, "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3,
        "video_processor_type": "LlavaOnevisionVideoProcessor"}))
    vision = SiglipVisionConfig(hidden_size=HIDDEN, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                image_size=SIDE, patch_size=PATCH)
    text = Qwen2Config(hidden_size=HIDDEN, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, vocab_size=len(vocab), max_position_embeddings=256)
    config = LlavaOnevisionConfig(vision_config=vision.to_dict(), text_config=text.to_dict(),
                                  image_token_index=vocab["<image>"], video_token_index=vocab["<video>"])
    torch.manual_seed(seed)
    LlavaOnevisionForConditionalGeneration(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> Path:
    return save_tiny_vlm(tmp_path_factory.mktemp("ckpt") / "llava-ov-tiny")


def clips(n=2, t=12, size=40):
    return random_clips(n, t, size)


def test_prompt_is_the_chat_template_with_the_video_expanded(tiny_vlm):
    enc = build_encoder(f"vlm:{tiny_vlm},frames=3")
    assert enc.role == "llm-album" and enc.vlm.prep.source == "video_preprocessor_config.json"
    ids = enc.vlm.prompt_ids(NEUTRAL_PROMPT, 3)
    tokens = enc.vlm.tokenizer.convert_ids_to_tokens(ids)
    # 3 frames x one pooled token each, then the newline token: as LlavaOnevisionProcessor expands <video>.
    assert tokens.count("<video>") == 3 * 1 + 1
    assert tokens[:2] == ["<|im_start|>", "user"] and tokens[-2:] == ["<|im_start|>", "assistant"]
    assert "Describe" in tokens


def test_encoder_mode_pools_the_video_tokens_or_the_last(tiny_vlm):
    x = clips()
    visual = build_encoder(f"vlm:{tiny_vlm}")
    a = visual.encode(x)
    assert a.shape == (2, HIDDEN) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_allclose(visual.encode(x[:1]), a[:1], atol=1e-5)  # batching leaves a clip alone
    assert not np.allclose(a[0], a[1])  # the clip's frames reach the embedding
    last = build_encoder(f"vlm:{tiny_vlm},pool=last").encode(x)
    first_layer = build_encoder(f"vlm:{tiny_vlm},layer=1").encode(x)
    assert last.shape == first_layer.shape == (2, HIDDEN)
    assert not np.allclose(last, a) and not np.allclose(first_layer, a)
    # Frame selection: frames=4 of the 12 reads fewer tokens, so another embedding.
    assert not np.allclose(build_encoder(f"vlm:{tiny_vlm},frames=4").encode(x), a)
    with pytest.raises(EncoderError, match="out of range"):
        build_encoder(f"vlm:{tiny_vlm},layer=9").encode(x)


def test_identity_follows_the_weights_and_the_readout(tiny_vlm, tmp_path):
    def but_where(identity: dict) -> dict:
        return {**identity, "checkpoint": {k: v for k, v in identity["checkpoint"].items() if k != "source"}}

    mine = build_encoder(f"vlm:{tiny_vlm}").identity()
    assert but_where(mine) == but_where(build_encoder(f"vlm:{save_tiny_vlm(tmp_path / 'copy')}").identity())
    other = build_encoder(f"vlm:{save_tiny_vlm(tmp_path / 'other', seed=1)}").identity()
    assert other["checkpoint"]["weights_sha256"] != mine["checkpoint"]["weights_sha256"]
    assert build_encoder(f"vlm:{tiny_vlm},pool=last").identity() != mine
    assert build_encoder(f"vlm-zero-shot:{tiny_vlm}").identity()["mode"] == ZERO_SHOT


def test_bad_inputs_are_one_line(tiny_vlm, tmp_path):
    with pytest.raises(EncoderError, match="pool='mean'; use pool=visual"):
        build_encoder(f"vlm:{tiny_vlm},pool=mean")
    with pytest.raises(WeightsMissingError, match="no such directory") as missing:
        build_encoder(f"vlm:{tmp_path / 'nope'}")
    assert "\n" not in str(missing.value)
    with pytest.raises(EncoderError, match="not the vision tower's image_size"):
        build_encoder(f"vlm:{save_tiny_vlm(tmp_path / 'size', size=42)}")
    with pytest.raises(EncoderError, match="runs in `evaluate run`"):
        build_encoder(f"vlm-zero-shot:{tiny_vlm}").encode(clips())
    with pytest.raises(WeightsMissingError, match="could not be downloaded; get them with") as offline:
        build_encoder("vlm:nobody/no-such-vlm")  # a hub id, offline in the tests
    assert "\n" not in str(offline.value)


def test_zero_shot_asks_the_questions_of_the_clips_dataset(tiny_vlm, tiny_falling_rising):
    """One block per declared question of the clip's dataset: its tag, then each letter's log-probability as
    the model's next token (a distribution over the whole vocabulary, so the letters' mass is at most one)."""
    (question,) = questions_at(tiny_falling_rising)
    assert (question.target, question.classes, question.start) == ("direction", ("falling", "rising"), 0)
    enc = build_encoder(f"vlm-zero-shot:{tiny_vlm},frames=4")
    answers = enc.answers([tiny_falling_rising] * 3, clips(3))
    assert answers.shape == (3, 3) and (answers[:, 0] == question.tag).all()
    letters = np.exp(answers[:, 1:].astype(np.float64))
    assert (letters > 0).all() and (letters.sum(axis=1) <= 1 + 1e-6).all()
    assert not np.allclose(answers[0, 1:], answers[1, 1:])  # the frames reach the answer
    prompt = enc.vlm.tokenizer.convert_ids_to_tokens(enc.vlm.prompt_ids(question.text, 4))
    assert {"falling", "rising", "A", "B"} <= set(prompt) and prompt[-1] == "assistant"


def test_answer_readout_predicts_the_likeliest_letter_and_refuses_stale_answers():
    question = Question("direction", "Is the object falling or rising ? Answer A for falling or B for rising .",
                        ("falling", "rising"), start=0)
    readout = AnswerReadout((question,))
    answers = np.array([[question.tag, -0.1, -2.0], [question.tag, -3.0, -0.5]])
    fit = readout.fit_predict("class", answers, np.array([]), np.array([]), answers, target_name="direction")
    assert list(fit.y_pred) == ["falling", "rising"]
    with pytest.raises(ProbeSkipped, match="declares no question"):
        readout.fit_predict("class", answers, np.array([]), np.array([]), answers, target_name="speed")
    stale = answers.copy()
    stale[:, 0] = question_tag("another wording", question.classes)
    with pytest.raises(EvaluateError, match="asked another question"):
        readout.fit_predict("class", stale, np.array([]), np.array([]), stale, target_name="direction")


def test_evaluate_run_both_modes_end_to_end(tiny_vlm, tiny_falling_rising, tmp_path, monkeypatch, capsys):
    """The encoder mode is probed like any encoder; the zero-shot mode answers falling_rising's declared
    question (direction) under every view, each row scored by the probes' code, recomputable from
    predictions.jsonl; targets without a question are skipped, saying why."""
    from evaluate.data.views import VIEWS
    from evaluate.metrics import balanced_accuracy
    from tests.evaluate.test_cli import cli

    out = tmp_path / "run"
    embed, answer = f"vlm:{tiny_vlm},frames=4", f"vlm-zero-shot:{tiny_vlm},frames=4"
    code, _, err = cli(monkeypatch, capsys, "run", tiny_falling_rising, "-e", embed, "-e", answer, "--out", out,
                       "--bootstrap", "50", "--device", "cpu")
    assert code == 0, err
    payload = json.loads((out / "results.json").read_text())
    assert {e["encoder"]: e["role"] for e in payload["encoders"]} == {embed: "llm-album", answer: "llm-album"}
    probed = [r for r in payload["results"] if r["encoder"] == embed]
    assert probed and {r["probe"] for r in probed} == {"linear"}
    zero = [r for r in payload["results"] if r["encoder"] == answer]
    assert {r["target"] for r in zero} == {"direction"} and {r["probe"] for r in zero} == {ZERO_SHOT}
    within = {r["view"]: r for r in zero if r["fit_view"] == r["view"]}
    assert set(within) == set(VIEWS)  # single_frame and shuffled included: the same controls as a probe
    for row in within.values():
        assert row["metric"] == "balanced_accuracy" and row["chance"] == 0.5 and len(row["ci95"]) == 2
    assert any("declares no question" in t["reason"] for t in payload["skipped"]["targets"])
    code, listed, _ = cli(monkeypatch, capsys, "ls")
    assert code == 0 and "  vlm  " in listed and "  vlm-zero-shot  " in listed
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    for view, row in within.items():
        mine = [x for x in lines if x["encoder"] == answer and x["fit_view"] == x["test_view"] == view]
        assert len(mine) == row["n_test"]
        y_true, y_pred = (np.array([x[k] for x in mine]) for k in ("y_true", "y_pred"))
        assert row["value"] == pytest.approx(balanced_accuracy(y_true, y_pred))
