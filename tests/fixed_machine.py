"""A fixed machine profile: speed predictions in tests never depend on how fast this machine is."""

from __future__ import annotations

from typing import Any


def fixed_profile(**overrides: Any) -> Any:
    """A machine profile with this machine's identity and fixed, round rates: 10 GB/s while
    decoding, 0.1 ms per layer per output token, 50 GFLOP/s on prompts, 20 us per layer per prompt token."""
    from bakeoff.models.machine import MachineProfile, identity, identity_key

    ident = identity()
    values = dict(key=identity_key(ident), identity=ident, bandwidth_gbs=20.0, compute_gflops=100.0,
                  decode_bytes_per_s=10e9, decode_s_per_layer=1e-4, prefill_flops_per_s=50e9,
                  prefill_s_per_layer=2e-5, measured_at="fixed for tests")
    return MachineProfile(**{**values, **overrides})
