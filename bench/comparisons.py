"""What the paired comparisons add to ``evaluate run``: their seconds against the run's wall time,
measured in the same run (results.json records both).

    python bench/comparisons.py runs/demo            # a finished run (make demo writes runs/demo)
    python bench/comparisons.py runs/demo --json bench/results/comparisons.json

The goal (issue 28): at most 10% of the wall time of a run with six encoders. The comparisons are
also recomputed here from the run's predictions, and must equal the run's records.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from evaluate.comparisons import compare_predictions, keep_line
from evaluate.metrics import Metric
from evaluate.predictions import read_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    payload = json.loads((args.run / "results.json").read_text())
    targets = {(d["name"], t): Metric(info["kind"], info.get("period"))
               for d in payload["datasets"] for t, info in d["targets"].items()}
    started = time.perf_counter()
    pairs = [(c["a"], c["b"]) for c in payload["comparisons"]]
    comparisons, _ = compare_predictions(read_predictions(args.run / "predictions.jsonl", keep_line), targets,
                                         [e["encoder"] for e in payload["encoders"]], list(dict.fromkeys(pairs)),
                                         payload.get("layer_choices", []), [], payload["config"]["n_bootstrap"])
    again_s = time.perf_counter() - started
    same = [c.row() for c in comparisons] == payload["comparisons"]
    report = {"run": str(args.run), "encoders": len(payload["encoders"]), "comparisons": len(comparisons),
              "comparisons_s": round(payload["comparisons_s"], 2), "wall_s": round(payload["wall_s"], 1),
              "share_of_wall": round(payload["comparisons_s"] / payload["wall_s"], 4),
              "recomputed_s": round(again_s, 2), "recomputed_identical": same}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
