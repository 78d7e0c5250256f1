"""Benchmarks: scripts that print measured figures (never timed tests). `make bench` runs all."""
