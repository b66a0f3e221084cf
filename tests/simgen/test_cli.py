"""The simgen CLI end to end at tiny size, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import tiny_spec_dict, write_spec


def simgen(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "simgen.cli.app", *args], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_ls_lists_families_one_line_each():
    lines = simgen("ls").stdout.strip().splitlines()
    assert any(line.startswith("falling_rising") for line in lines)


def test_ls_lists_each_familys_presets_with_the_frame_step_that_reads_16_frames(tmp_path):
    write_spec(tmp_path / "falling_rising.yaml", tiny_spec_dict(frames=8))
    write_spec(tmp_path / "falling_rising_long.yaml", tiny_spec_dict(frames=64))
    (tmp_path / "broken.yaml").write_text("family: falling_rising\nrender: {fps: 7}\n")
    result = simgen("ls", "--scenes", str(tmp_path))
    lines = result.stdout.splitlines()
    family = lines.index(next(line for line in lines if line.startswith("falling_rising")))
    assert lines[family + 1].strip() == f"{tmp_path / 'falling_rising.yaml'}  8 frames at 24 fps (0.29 s)"
    assert lines[family + 2].strip().endswith("64 frames at 24 fps (2.62 s); encode as 16 frames over 2.5 s "
                                               "with frames=16,step=4")
    assert "not a valid spec" in result.stderr and "broken.yaml" in result.stderr


def test_validate_prints_resolved_spec(tmp_path):
    spec = tiny_spec_dict()
    del spec["params"]["spin"]  # a default gets filled in
    path = write_spec(tmp_path / "s.yaml", spec)
    out = simgen("validate", str(path)).stdout
    resolved = yaml.safe_load(out.split("\n", 1)[1])
    assert resolved["params"]["spin"] == {"uniform": [0.0, 4.0]}
    assert resolved["render"]["video"]["crf"] == 0


def test_schema_is_json():
    schema = json.loads(simgen("schema").stdout)
    assert schema["title"] == "simgen scene spec"


def test_render_json_preview_and_resume(tmp_path):
    path = write_spec(tmp_path / "s.yaml", tiny_spec_dict(counts=(4, 2, 2)))
    out = tmp_path / "ds"
    first = json.loads(simgen("render", str(path), "--out", str(out), "-n", "6", "--workers", "2", "--seed", "0",
                              "--json").stdout)
    assert first["clips_rendered"] == 6 and first["clips_missing"] == 0
    assert len(list(out.rglob("*.mp4"))) == 6
    again = json.loads(simgen("render", str(path), "--out", str(out), "-n", "6", "--seed", "0", "--json").stdout)
    assert again["clips_rendered"] == 0 and again["clips_skipped"] == 6
    refused = simgen("render", str(path), "--out", str(out), "-n", "6", "--seed", "1", check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    simgen("preview", str(out), "--out", str(tmp_path / "sheet.png"), "--clips", "2", "--frames", "4")
    from PIL import Image

    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size[0] == 4 * 96 and sheet.size[1] > 2 * 96


def test_bad_shard_is_one_line(tmp_path):
    path = write_spec(tmp_path / "s.yaml", tiny_spec_dict())
    proc = simgen("render", str(path), "--out", str(tmp_path / "ds"), "--shard", "3/2", check=False)
    assert proc.returncode == 1 and "--shard '3/2'" in proc.stderr
    assert not (tmp_path / "ds").exists()


def test_a_resume_by_another_version_is_refused_in_one_line_unless_allowed(tmp_path):
    import simgen as package

    path = write_spec(tmp_path / "s.yaml", tiny_spec_dict(counts=(4, 2, 2)))
    out = tmp_path / "ds"
    simgen("render", str(path), "--out", str(out), "--shard", "1/2", "--workers", "1")
    manifest = json.loads((out / "dataset.json").read_text())
    manifest["generator"]["version"] = "0.0.1"  # as if an older simgen had rendered the first half
    (out / "dataset.json").write_text(json.dumps(manifest, indent=1) + "\n")
    refused = simgen("render", str(path), "--out", str(out), "--workers", "1", check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"simgen 0.0.1, and this is simgen {package.__version__}" in refused.stderr
    assert "--force" in refused.stderr and "--allow-mixed-versions" in refused.stderr
    simgen("render", str(path), "--out", str(out), "--workers", "1", "--allow-mixed-versions")
    check = simgen("check", str(out), "--hashes")
    assert f"holds clips of simgen 0.0.1 and {package.__version__}" in check.stderr
