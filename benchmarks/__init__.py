"""Benchmarks of the prediction server: `python -m benchmarks.server_bench` (make bench)."""
