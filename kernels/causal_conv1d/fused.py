"""Triton causal depthwise conv1d with fused SiLU, forward and backward, in either time direction.

REVERSE reads the sequence backwards (anti-causal: out_t = sum_k w_k x_{t + W - 1 - k}), which equals
flip(conv(flip(x))) without materializing flipped copies: Vim's backward direction uses it.
Tap k reads x at t + s_k with s_k = (k - (W - 1)) forwards and -(k - (W - 1)) in reverse.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _shift(k, WIDTH: tl.constexpr, REVERSE: tl.constexpr):
    s = k - (WIDTH - 1)
    if REVERSE:
        s = -s
    return s


@triton.jit
def _preact(x_ptr, w_ptr, bias, row, e, e_mask, t, L, WIDTH: tl.constexpr, REVERSE: tl.constexpr):
    """Convolution before the activation at positions t: tile [BLOCK_E, BLOCK_L] in fp32."""
    acc = tl.zeros([e.shape[0], t.shape[0]], dtype=tl.float32) + bias[:, None]
    for k in tl.static_range(WIDTH):
        src = t + _shift(k, WIDTH, REVERSE)
        w = tl.load(w_ptr + e * WIDTH + k, mask=e_mask, other=0.0).to(tl.float32)
        m = e_mask[:, None] & (src >= 0)[None, :] & (src < L)[None, :]
        acc += w[:, None] * tl.load(x_ptr + row[:, None] + src[None, :], mask=m, other=0.0).to(tl.float32)
    return acc


@triton.jit
def _conv_fwd_kernel(x_ptr, w_ptr, b_ptr, out_ptr, L, dim,
                     WIDTH: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr, REVERSE: tl.constexpr,
                     BLOCK_E: tl.constexpr, BLOCK_L: tl.constexpr):
    pid_b, pid_e, pid_l = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    e = pid_e * BLOCK_E + tl.arange(0, BLOCK_E)
    t = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    e_mask = e < dim
    row = (pid_b * dim + e) * L
    bias = (tl.load(b_ptr + e, mask=e_mask, other=0.0).to(tl.float32) if HAS_BIAS
            else tl.zeros([BLOCK_E], dtype=tl.float32))
    acc = _preact(x_ptr, w_ptr, bias, row, e, e_mask, t, L, WIDTH, REVERSE)
    if SILU:
        acc = acc * tl.sigmoid(acc)
    mask = e_mask[:, None] & (t < L)[None, :]
    tl.store(out_ptr + row[:, None] + t[None, :], acc.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _dpre(x_ptr, w_ptr, dout_ptr, bias, row, e, e_mask, t, L, WIDTH: tl.constexpr, SILU: tl.constexpr,
          REVERSE: tl.constexpr):
    """Gradient before the activation at positions t (zero outside the sequence)."""
    m = e_mask[:, None] & (t >= 0)[None, :] & (t < L)[None, :]
    g = tl.load(dout_ptr + row[:, None] + t[None, :], mask=m, other=0.0).to(tl.float32)
    if SILU:
        pre = _preact(x_ptr, w_ptr, bias, row, e, e_mask, t, L, WIDTH, REVERSE)
        s = tl.sigmoid(pre)
        g = g * s * (1.0 + pre * (1.0 - s))
    return g


@triton.jit
def _conv_bwd_kernel(x_ptr, w_ptr, b_ptr, dout_ptr, dx_ptr, dw_part_ptr, db_part_ptr, L, dim, n_l_blocks,
                     WIDTH: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr, REVERSE: tl.constexpr,
                     BLOCK_E: tl.constexpr, BLOCK_L: tl.constexpr):
    """dx_j = sum_k w_k dpre_{j - s_k}; per-program partial sums of dw_k = sum_t dpre_t x_{t + s_k} and db."""
    pid_b, pid_e, pid_l = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    e = pid_e * BLOCK_E + tl.arange(0, BLOCK_E)
    t = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    e_mask = e < dim
    row = (pid_b * dim + e) * L
    bias = (tl.load(b_ptr + e, mask=e_mask, other=0.0).to(tl.float32) if HAS_BIAS
            else tl.zeros([BLOCK_E], dtype=tl.float32))
    mask = e_mask[:, None] & (t < L)[None, :]
    dx = tl.zeros([BLOCK_E, BLOCK_L], dtype=tl.float32)
    part = ((pid_b * n_l_blocks + pid_l) * dim + e) * WIDTH
    for k in tl.static_range(WIDTH):
        s = _shift(k, WIDTH, REVERSE)
        w = tl.load(w_ptr + e * WIDTH + k, mask=e_mask, other=0.0).to(tl.float32)
        dx += w[:, None] * _dpre(x_ptr, w_ptr, dout_ptr, bias, row, e, e_mask, t - s, L, WIDTH, SILU, REVERSE)
    tl.store(dx_ptr + row[:, None] + t[None, :], dx.to(dx_ptr.dtype.element_ty), mask=mask)
    g = _dpre(x_ptr, w_ptr, dout_ptr, bias, row, e, e_mask, t, L, WIDTH, SILU, REVERSE)
    for k in tl.static_range(WIDTH):
        src = t + _shift(k, WIDTH, REVERSE)
        m = e_mask[:, None] & (src >= 0)[None, :] & (src < L)[None, :]
        xs = tl.load(x_ptr + row[:, None] + src[None, :], mask=m, other=0.0).to(tl.float32)
        tl.store(dw_part_ptr + part + k, tl.sum(g * xs, axis=1), mask=e_mask)
    if HAS_BIAS:
        tl.store(db_part_ptr + (pid_b * n_l_blocks + pid_l) * dim + e, tl.sum(g, axis=1), mask=e_mask)


def _launch_meta(x: torch.Tensor):
    batch, dim, L = x.shape
    block_e, block_l = 16, min(128, triton.next_power_of_2(L))
    n_l = triton.cdiv(L, block_l)
    return (batch, triton.cdiv(dim, block_e), n_l), dict(BLOCK_E=block_e, BLOCK_L=block_l), n_l


def conv_fwd(x, weight, bias, silu: bool, reverse: bool) -> torch.Tensor:
    grid, blocks, _ = _launch_meta(x)
    out = torch.empty_like(x)
    torch.library.wrap_triton(_conv_fwd_kernel)[grid](
        x, weight, bias if bias is not None else weight, out, x.shape[2], x.shape[1],
        WIDTH=weight.shape[1], HAS_BIAS=bias is not None, SILU=silu, REVERSE=reverse, **blocks,
    )
    return out


def conv_bwd(dout, x, weight, bias, silu: bool, reverse: bool):
    """(dx, dweight, dbias or None); the weight sums are per-program partials reduced here (deterministic)."""
    grid, blocks, n_l = _launch_meta(x)
    batch, dim, L = x.shape
    dx = torch.empty_like(x)
    dw_part = x.new_empty(batch, n_l, dim, weight.shape[1], dtype=torch.float32)
    db_part = x.new_empty(batch, n_l, dim, dtype=torch.float32)
    torch.library.wrap_triton(_conv_bwd_kernel)[grid](
        x, weight, bias if bias is not None else weight, dout, dx, dw_part, db_part, L, dim, n_l,
        WIDTH=weight.shape[1], HAS_BIAS=bias is not None, SILU=silu, REVERSE=reverse, **blocks,
    )
    dbias = db_part.sum((0, 1)).to(bias.dtype) if bias is not None else None
    return dx, dw_part.sum((0, 1)).to(weight.dtype), dbias
