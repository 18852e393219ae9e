"""vimvision.kernels: Triton kernels, each beside its plain PyTorch reference (one folder per op)."""
from .selective_scan import BACKENDS, GATE_ACTS, scan_flops, selective_scan_fn, selective_scan_ref

__all__ = ["BACKENDS", "GATE_ACTS", "scan_flops", "selective_scan_fn", "selective_scan_ref"]
