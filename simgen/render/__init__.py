"""Render: the camera and TinyRenderer frames, the occluder panel the occluded design slides across
the view, and the visible state (what a camera can see of a clip, from its labels, no PyBullet)."""
