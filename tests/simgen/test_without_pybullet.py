"""ls, validate and schema need only the families' declarations; render says to install PyBullet."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import SCENES

# Runs the CLI in a fresh interpreter where `import pybullet` fails, as on a machine without it.
WITHOUT_PYBULLET = ("import sys; sys.modules['pybullet'] = None; from simgen.cli.app import main; "
                    "sys.argv = ['simgen', *sys.argv[1:]]; main()")


def simgen_without_pybullet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_PYBULLET, *args], capture_output=True, text=True)


def test_ls_validate_and_schema_run_without_pybullet():
    ls = simgen_without_pybullet("ls")
    assert ls.returncode == 0, ls.stderr
    from simgen.families import FAMILIES

    families = [line.split()[0] for line in ls.stdout.splitlines() if not line.startswith(" ")]
    assert families == list(FAMILIES) and {"falling_rising", "impact", "lights"} <= set(families)
    assert "targets: direction, vz_start" in ls.stdout

    validate = simgen_without_pybullet("validate", str(SCENES / "violations.yaml"))
    assert validate.returncode == 0, validate.stderr
    header, resolved = validate.stdout.split("\n", 1)
    assert header.startswith("ok ") and "family falling_rising" in header
    violations = yaml.safe_load(resolved)["violations"]
    assert violations["design"] == "occluded"
    assert violations["kind"] == {"choice": ["permanence", "teleport"], "weights": None}

    schema = simgen_without_pybullet("schema")
    assert schema.returncode == 0, schema.stderr
    assert {"FallingRisingSpec", "ImpactSpec", "LightsSpec"} <= set(json.loads(schema.stdout)["$defs"])


def test_render_without_pybullet_is_one_line_saying_to_install_it(tmp_path):
    proc = simgen_without_pybullet("render", str(SCENES / "falling_rising.yaml"), "--out", str(tmp_path / "ds"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "pip install pybullet" in proc.stderr
    assert not (tmp_path / "ds").exists()
