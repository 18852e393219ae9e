"""VMamba's cross-scan (4 routes over an H x W map) and cross-merge, Triton with PyTorch references."""
from __future__ import annotations

import torch

from .naive import cross_merge_ref, cross_scan_ref
from .op import cross_merge, cross_scan

BACKENDS = ("auto", "triton", "torch", "reference")


def _backend(backend: str, t: torch.Tensor) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"cross-scan: backend has {backend!r}, expected one of {BACKENDS}")
    return ("triton" if t.device.type == "cuda" else "torch") if backend == "auto" else backend


def cross_scan_fn(x: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """(batch, dim, H, W) -> (batch, 4, dim, H * W): row-major, column-major, and both reversed."""
    if x.dim() != 4:
        raise ValueError(f"cross_scan_fn: x has shape {tuple(x.shape)}, expected (batch, dim, H, W)")
    return cross_scan(x.contiguous()) if _backend(backend, x) == "triton" else cross_scan_ref(x)


def cross_merge_fn(y: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """(batch, 4, dim, H, W), each route in its own order -> (batch, dim, H * W) row-major, summed."""
    if y.dim() != 5 or y.shape[1] != 4:
        raise ValueError(f"cross_merge_fn: y has shape {tuple(y.shape)}, expected (batch, 4, dim, H, W)")
    return cross_merge(y.contiguous()) if _backend(backend, y) == "triton" else cross_merge_ref(y)


__all__ = ["cross_merge_fn", "cross_merge_ref", "cross_scan_fn", "cross_scan_ref"]
