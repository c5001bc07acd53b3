"""Benchmarks: scripts that print tables (``python -m bench.<name>``). Never part of the test suite."""
