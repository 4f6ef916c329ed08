"""Offline export: scikit-learn pipeline to ONNX, parity certified, published to the store."""
