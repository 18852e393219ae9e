"""Causal depthwise conv1d with fused SiLU (the x branch of the Mamba mixer), either time direction."""
from .interface import causal_conv1d_fn
from .naive import causal_conv1d_ref, causal_conv1d_torch

__all__ = ["causal_conv1d_fn", "causal_conv1d_ref", "causal_conv1d_torch"]
