"""``evaluate``: placeholder until the evaluator lands."""

import sys


def main() -> None:
    print("evaluate: coming soon (frozen encoders, probes and temporal-margin reports)", file=sys.stderr)
    sys.exit(0)
