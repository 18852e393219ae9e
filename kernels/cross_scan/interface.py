"""``cross_scan_fn`` / ``cross_merge_fn``: VMamba's route layouts over an H x W map, with a choice of backend."""
from __future__ import annotations

import torch

from ..backend import resolve_backend
from .naive import cross_merge_ref, cross_scan_ref
from .op import cross_merge, cross_scan

ROUTES = (2, 4)


def cross_scan_fn(x: torch.Tensor, backend: str = "auto", routes: int = 4) -> torch.Tensor:
    """(batch, dim, H, W) -> (batch, routes, dim, H * W): row-major, column-major, and (routes=4) both
    reversed. backend: 'triton' (one kernel pass), 'torch' and 'reference' (both the PyTorch reference)."""
    backend = resolve_backend(backend, x, "cross_scan_fn")
    if x.dim() != 4:
        raise ValueError(f"cross_scan_fn: x has shape {tuple(x.shape)}, expected (batch, dim, H, W)")
    if routes not in ROUTES:
        raise ValueError(f"cross_scan_fn: routes has {routes!r}, expected one of {ROUTES}")
    return cross_scan(x.contiguous(), routes) if backend == "triton" else cross_scan_ref(x, routes)


def cross_merge_fn(y: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """(batch, routes, dim, H, W), each route in its own order -> (batch, dim, H * W) row-major, summed."""
    backend = resolve_backend(backend, y, "cross_merge_fn")
    if y.dim() != 5 or y.shape[1] not in ROUTES:
        raise ValueError(f"cross_merge_fn: y has shape {tuple(y.shape)}, expected (batch, 4, dim, H, W) "
                         "or (batch, 2, dim, H, W)")
    return cross_merge(y.contiguous()) if backend == "triton" else cross_merge_ref(y)
