"""Reference cross-scan / cross-merge of VMamba's SS2D (4 routes over an H x W map, or the first 2).

Routes: 0 row-major (h * W + w), 1 column-major (w * H + h), 2 = 0 reversed, 3 = 1 reversed.
cross_merge is cross_scan's transpose: it maps each route back to row-major order and sums.
"""
from __future__ import annotations

import torch


def cross_scan_ref(x: torch.Tensor, routes: int = 4) -> torch.Tensor:
    """(batch, dim, H, W) -> (batch, routes, dim, H * W)."""
    rows = x.flatten(2)
    cols = x.transpose(2, 3).flatten(2)
    both = [rows, cols] + ([rows.flip(-1), cols.flip(-1)] if routes == 4 else [])
    return torch.stack(both, dim=1)


def cross_merge_ref(y: torch.Tensor) -> torch.Tensor:
    """(batch, routes, dim, H, W) with each route in its own order -> (batch, dim, H * W) in row-major order."""
    batch, routes, dim, H, W = y.shape
    y = y.flatten(3)
    rows, cols = y[:, 0], y[:, 1]
    if routes == 4:
        rows, cols = rows + y[:, 2].flip(-1), cols + y[:, 3].flip(-1)
    return rows + cols.view(batch, dim, W, H).transpose(2, 3).reshape(batch, dim, H * W)
