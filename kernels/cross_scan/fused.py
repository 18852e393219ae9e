"""Triton cross-scan / cross-merge: one pass each, every tile read once and written to (or gathered
from) its routes. They are each other's transpose, so each is the other's backward.

ROUTES is 4 (row-major, column-major, both reversed: the official dataflow) or 2 (the first two only:
SS2D's Triton path scans them backwards for routes 2 and 3 instead of storing reversed copies).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _routes(h, w, H, W):
    """Positions of (h, w) in the four routes: row-major, column-major and both reversed."""
    r0 = h[:, None] * W + w[None, :]
    r1 = w[None, :] * H + h[:, None]
    L = H * W
    return r0, r1, L - 1 - r0, L - 1 - r1


@triton.jit
def _cross_kernel(src_ptr, dst_ptr, dim, H, W, MERGE: tl.constexpr, ROUTES: tl.constexpr, BLOCK_H: tl.constexpr,
                  BLOCK_W: tl.constexpr):
    pid_bd, pid_h, pid_w = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    b, d = pid_bd // dim, pid_bd % dim
    h = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    w = pid_w * BLOCK_W + tl.arange(0, BLOCK_W)
    mask = (h < H)[:, None] & (w < W)[None, :]
    L = H * W
    r0, r1, r2, r3 = _routes(h, w, H, W)
    plane = pid_bd * L  # (batch, dim, L) side
    route = (b * ROUTES * dim + d) * L  # (batch, ROUTES, dim, L) side; route k adds k * dim * L
    step = dim * L
    if MERGE:
        acc = tl.load(src_ptr + route + r0, mask=mask, other=0.0).to(tl.float32)
        acc += tl.load(src_ptr + route + step + r1, mask=mask, other=0.0).to(tl.float32)
        if ROUTES == 4:
            acc += tl.load(src_ptr + route + 2 * step + r2, mask=mask, other=0.0).to(tl.float32)
            acc += tl.load(src_ptr + route + 3 * step + r3, mask=mask, other=0.0).to(tl.float32)
        tl.store(dst_ptr + plane + r0, acc.to(dst_ptr.dtype.element_ty), mask=mask)
    else:
        x = tl.load(src_ptr + plane + r0, mask=mask, other=0.0)
        tl.store(dst_ptr + route + r0, x, mask=mask)
        tl.store(dst_ptr + route + step + r1, x, mask=mask)
        if ROUTES == 4:
            tl.store(dst_ptr + route + 2 * step + r2, x, mask=mask)
            tl.store(dst_ptr + route + 3 * step + r3, x, mask=mask)


def _launch(src: torch.Tensor, dst: torch.Tensor, batch: int, routes: int, dim: int, H: int, W: int,
            merge: bool) -> torch.Tensor:
    block_h, block_w = min(32, triton.next_power_of_2(H)), min(32, triton.next_power_of_2(W))
    grid = (batch * dim, triton.cdiv(H, block_h), triton.cdiv(W, block_w))
    torch.library.wrap_triton(_cross_kernel)[grid](src, dst, dim, H, W, MERGE=merge, ROUTES=routes,
                                                   BLOCK_H=block_h, BLOCK_W=block_w)
    return dst


def cross_scan(x: torch.Tensor, routes: int) -> torch.Tensor:
    """(batch, dim, H, W) -> (batch, routes, dim, H * W)."""
    batch, dim, H, W = x.shape
    return _launch(x, x.new_empty(batch, routes, dim, H * W), batch, routes, dim, H, W, merge=False)


def cross_merge(y: torch.Tensor) -> torch.Tensor:
    """(batch, routes, dim, H, W) -> (batch, dim, H * W)."""
    batch, routes, dim, H, W = y.shape
    return _launch(y, y.new_empty(batch, dim, H * W), batch, routes, dim, H, W, merge=True)
