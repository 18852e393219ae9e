"""Mamba S6 selective scan: sequential reference, fast chunked PyTorch, fused Triton, one library op."""
from .activations import GATE_ACTS
from .chunked import free_scan_workspace
from .interface import KERNELS, selective_scan_fn
from .naive import selective_scan_ref
from .op import scan_flops

__all__ = ["GATE_ACTS", "KERNELS", "free_scan_workspace", "scan_flops", "selective_scan_fn", "selective_scan_ref"]
