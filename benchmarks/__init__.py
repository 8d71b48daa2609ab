"""Benchmarks for jwe-middleware; run ``python -m benchmarks.decode``."""
