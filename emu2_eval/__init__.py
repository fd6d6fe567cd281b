"""emu2_eval: an evaluation harness for Emu2 and other multimodal models."""

__version__ = "0.1.0"
