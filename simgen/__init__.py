"""simgen: controlled physics clips with exact ground truth."""

__version__ = "0.1.0"
