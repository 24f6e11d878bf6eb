"""Benchmarks and harnesses that run the engine on real servers (not part of the package)."""
