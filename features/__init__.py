"""Health indicators and the deterministic metric core.

Everything here is a pure, deterministic function of DataFrames (and an ``as_of`` date):
the same inputs give the same numbers, bit for bit. Only :mod:`features.io` reads files and
only :mod:`features.demo_data` (with :mod:`features.demo_comments`, its comment text) draws
random numbers, behind an explicit seed.
"""
