"""Benchmarks: HTTP (`python -m benchmarks.server_bench`), the release gate, in-process."""
