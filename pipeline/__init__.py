"""framework-adoption: reproduce the PyTorch vs TensorFlow adoption statistics, with provenance."""

__version__ = "0.1.0"
