"""Bidirectional forgetting attention: SDPA with a materialized decay bias (reference) or a fused
flash-style Triton kernel that builds the bias per tile from cumulative log-gates."""
from .interface import forgetting_attention_fn
from .naive import decay_bias, forgetting_attention_ref

__all__ = ["decay_bias", "forgetting_attention_fn", "forgetting_attention_ref"]
