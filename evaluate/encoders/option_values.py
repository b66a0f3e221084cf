"""The values an encoder option may take, checked when a spec is parsed: a bad value (``size=abc``,
``frames=0``) is refused before any encoder is built or any clip read, with one line naming the option
and its range, rather than skipping the encoder mid-run. String options with a fixed set of values
(``pool``, ``resize``...) are checked by their encoder when it is built, which loads no weights first.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluate.errors import EncoderError


@dataclass(frozen=True)
class Range:
    cast: type
    lo: float
    hi: float
    why: str = ""

    def check(self, spec: str, key: str, value: str) -> None:
        try:
            number = self.cast(value)
        except ValueError:
            number = None
        if number is None or not self.lo <= number <= self.hi or number != number:
            kind = "a whole number" if self.cast is int else "a number"
            raise EncoderError(f"encoder {spec!r}: option {key}={value!r}; {kind} from {self.lo:g} to "
                               f"{self.hi:g}{self.why}")


# Frames a clip can hold, and sides a frame can have: a size beyond this is an accident (96,000 px wide).
MAX_FRAMES, MAX_SIDE = 1024, 1024
RANGES = {
    "size": Range(int, 1, MAX_SIDE, " (pixels on a side)"),
    "frames": Range(int, 1, MAX_FRAMES),
    "step": Range(int, 1, MAX_FRAMES),
    "seed": Range(int, 0, 2**32 - 1),
    "layer": Range(int, -1000, 1000, " (negative: from the last)"),
    "odometer": Range(int, 0, 1, " (0 or 1)"),
    "compile": Range(int, 0, 1, " (0 or 1)"),
    "blobs": Range(int, 1, 64),
    "tol": Range(int, 0, 255, " (grey levels)"),
    "bg_frac": Range(float, 0.0, 1.0),
    "split": Range(float, 0.0, 180.0, " (degrees)"),
    "C": Range(float, 1e-12, 1e12),  # frame-classifier's regularisation
    "penalty": Range(float, 0.0, 1e6, " (metres)"),  # the oracle's
}


def check_option_values(spec: str, options: dict[str, str]) -> None:
    """EncoderError (one line) for an option whose value is out of its range."""
    for key, value in options.items():
        if key in RANGES:
            RANGES[key].check(spec, key, value)
