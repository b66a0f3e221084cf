"""Run: from a spec to clips. The engine renders one group (sample, simulate, render, through the
spec's variants); parallel plans a render and runs it over processes or Ray; audit measures what one
frame of a spec's clips tells."""
