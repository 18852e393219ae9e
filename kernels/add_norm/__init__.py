"""Fused residual add + RMSNorm/LayerNorm (pre-norm blocks with an fp32 residual stream)."""
from .interface import add_norm_fn
from .naive import add_norm_ref

__all__ = ["add_norm_fn", "add_norm_ref"]
