"""Mamba S6 selective scan: sequential reference, fast chunked PyTorch, fused Triton, one library op."""
from .activations import GATE_ACTS
from .interface import KERNELS, selective_scan_fn
from .naive import selective_scan_ref
from .op import scan_flops

__all__ = ["GATE_ACTS", "KERNELS", "scan_flops", "selective_scan_fn", "selective_scan_ref"]
