"""Command lines: ``simgen`` (app) and the error, progress and Ctrl-C handling both ``simgen`` and
``evaluate`` share (support)."""
