"""Falling vs rising: ``params.py`` declares the family, ``sim.py`` simulates it (PyBullet)."""
