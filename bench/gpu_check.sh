#!/usr/bin/env bash
# The GPU check (issues 5 and 15), run from the repository root with the machine's own python3: it needs
# torch, transformers, scikit-learn, numpy, scipy, rich (matplotlib for the report, optional) and a
# video decoder (PyAV, imageio-ffmpeg, OpenCV or an ffmpeg binary), not pybullet, typer or pydantic.
# Nothing is installed. Phases: the forward (simgen's against transformers', ViT-L and ViT-g:
# bench/forward.py), the pipeline (bench/embed.py), and with --demo DIRS `make demo`'s evaluate step
# with ViT-L. About 3 minutes on an H200 without --demo, ~3 more with it.
#
#   beforehand, where simgen renders:  .venv/bin/python bench/gpu_check.py --render bench/gpu_data
#                                      make demo   (for --demo: data/falling_rising, data/impact, data/lights)
#   on the GPU box:                    bash bench/gpu_check.sh [--datasets data/falling_rising
#                                        bench/gpu_data/falling_rising_64] [--demo data/falling_rising
#                                        data/impact data/lights]
#   here, as a smoke run:              PYTHON=.venv/bin/python bash bench/gpu_check.sh --quick --simulate-gpu-box
#
# Results: bench/results/gpu_check.json, rewritten after each phase, and under $OUT (when set) with the
# evaluate runs' report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
exec "$PY" bench/gpu_check.py --data bench/gpu_data "$@"
