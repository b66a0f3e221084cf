"""Gravity family: is the acceleration the one gravity gives? (see params.py)."""
