"""Tests build tiny models with the package's own builder (the speed calibration uses it too)."""

from bakeoff.models.tiny import N_CTX, N_EMBD, N_LAYER, SPECS, write_tiny

__all__ = ["N_CTX", "N_EMBD", "N_LAYER", "SPECS", "write_tiny"]
