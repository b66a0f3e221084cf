"""Arrow of time: is this clip played forwards? A dissipative event and its exact time reversal."""
