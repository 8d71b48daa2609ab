"""Operational scripts: a mutation fuzzer and a soak run (``python -m scripts.<name>``)."""
