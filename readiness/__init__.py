"""Readiness Review: the library behind the app and ``python -m readiness``."""

# Recorded in backup manifests; raise it with each release.
__version__ = "0.7.0"
