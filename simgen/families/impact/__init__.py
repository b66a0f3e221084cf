"""Impact: ``params.py`` declares the family, ``sim.py`` simulates it (PyBullet)."""
