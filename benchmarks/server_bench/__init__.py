"""The HTTP benchmark of the prediction server under its real Gunicorn config.

Run it with `python -m benchmarks.server_bench` (see run.py for what it measures).
"""
