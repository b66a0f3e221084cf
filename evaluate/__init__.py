"""evaluate: frozen video encoders, probes with temporal controls, and reports."""

__version__ = "0.1.0"
