"""vimvision.kernels: Triton kernels, each beside its plain PyTorch reference (one folder per op)."""
from .add_norm import add_norm_fn
from .backend import BACKENDS, resolve_backend
from .causal_conv1d import causal_conv1d_fn
from .cross_scan import cross_merge_fn, cross_scan_fn
from .decompositions import decompositions
from .forgetting_attention import forgetting_attention_fn
from .selective_scan import GATE_ACTS, free_scan_workspace, scan_flops, selective_scan_fn, selective_scan_ref

__all__ = [
    "BACKENDS", "GATE_ACTS", "add_norm_fn", "causal_conv1d_fn", "cross_merge_fn", "cross_scan_fn", "decompositions",
    "forgetting_attention_fn", "free_scan_workspace", "resolve_backend", "scan_flops", "selective_scan_fn",
    "selective_scan_ref",
]
