"""simgen: controlled physics clips with exact ground truth."""

__version__ = "0.3.0"
