"""Physics: the PyBullet world (one DIRECT client per clip), the bodies, materials and textures it can
build, the contacts it reports, and the plain data a simulation records (trajectories, frames, labels),
with the edits that make a clip's twin (time reversal, violations)."""
