"""Tiled Triton selective scan: the sequence in tiles of CHUNK steps, each tile scanned in parallel.

Why a second kernel: the sequential one (fused.py) takes L dependent steps per program and, at each
step, loads one element per channel, L apart in memory. Here a program loads [BLOCK_D, CHUNK] tiles
that are contiguous along time, and for each state n solves the tile's first-order recurrence
h_t = a_t h_{t-1} + b_t with ``tl.associative_scan``, carrying h from tile to tile: L / CHUNK
dependent steps. Its checkpoints (the state at the end of every tile) are the sequential kernel's,
so either backward follows either forward. The backward scans the adjoint
g_t = C_t dy_t + a_{t+1} g_{t+1} in reverse over the tile, with a_{t+1} from a second load of delta
shifted by one step, and uses a_t h_{t-1} = h_t - b_t, so it never shifts a register tile.
"""
from __future__ import annotations

from functools import partial

import triton
import triton.language as tl

from .common import _add_param_grads, _gate, _gate_grad, _load_dt, _position, _program_setup, launch_bwd, launch_fwd

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _linear(a1, b1, a2, b2):
    """(a1, b1) then (a2, b2), as maps h -> a h + b: h -> a2 (a1 h + b1) + b2."""
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _column(x, idx, j):
    """x[:, j] of a register tile (Triton has no register indexing)."""
    return tl.sum(tl.where(idx[None, :] == j, x, 0.0), axis=1)


@triton.jit
def _with_column(x, idx, j, col):
    return tl.where(idx[None, :] == j, col[:, None], x)


@triton.jit
def _state_k(ptr_k, fixed, n, k, p, in_seq, VAR: tl.constexpr):
    """B or C of state k over the tile: a [1, CHUNK] row when input-dependent, else [BLOCK_D, 1]."""
    if VAR:
        x = tl.load(ptr_k + p, mask=in_seq, other=0.0).to(tl.float32)[None, :]
    else:
        x = _column(fixed, n, k)[:, None]
    return x


@triton.jit
def _load_tile(u_ptr, delta_ptr, bias, seq, d_mask, c, i, L, CHUNK: tl.constexpr, HAS_BIAS: tl.constexpr,
               SOFTPLUS: tl.constexpr, REVERSE: tl.constexpr):
    """Tile c: its steps, positions, masks and offsets, u, and delta before and after softplus, in fp32."""
    t = c * CHUNK + i
    in_seq = t < L
    p = _position(t, L, REVERSE)
    m = d_mask[:, None] & in_seq[None, :]
    offs = seq[:, None] + p[None, :]
    u = tl.load(u_ptr + offs, mask=m, other=0.0).to(tl.float32)
    pre, dt = _load_dt(delta_ptr + offs, bias[:, None], m, HAS_BIAS, SOFTPLUS)
    return t, in_seq, p, m, offs, u, pre, dt


@triton.jit
def _tile_states(dt, dtu, a_k, b_k, h0, i):
    """(a, b, h) over the tile for one state: a = exp(dt A), b = dt u B, h the scan from h0."""
    a = tl.exp2(dt * (a_k * LOG2E)[:, None])  # steps past L have dt = 0: a = 1, b = 0, h holds
    b = dtu * b_k
    _, h = tl.associative_scan((a, tl.where(i[None, :] == 0, b + a * h0[:, None], b)), 1, _linear)
    return a, b, h


@triton.jit
def _tiled_fwd_kernel(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, out_ptr, ckpt_ptr,
    L, dim, dim_per_group, n_ckpt,
    N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    B_VAR: tl.constexpr, C_VAR: tl.constexpr, GATE: tl.constexpr, REVERSE: tl.constexpr,
):
    pid_b, d, d_mask, n, n_mask, dn_mask, A, Dv, bias, Bt, Ct, seq, bc = _program_setup(
        A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, dim, dim_per_group,
        N, BLOCK_D, BLOCK_N, HAS_D, HAS_BIAS, B_VAR, C_VAR,
    )
    bc0 = (pid_b * (dim // dim_per_group) + tl.program_id(1)) * N * L
    i = tl.arange(0, CHUNK)
    H = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    for c in range(0, n_ckpt):
        t, in_seq, p, m, offs, u, pre, dt = _load_tile(u_ptr, delta_ptr, bias, seq, d_mask, c, i, L,
                                                       CHUNK, HAS_BIAS, SOFTPLUS, REVERSE)
        dtu = dt * u
        y = Dv[:, None] * u if HAS_D else tl.zeros([BLOCK_D, CHUNK], dtype=tl.float32)
        for k in range(0, N):
            b_k = _state_k(B_ptr + bc0 + k * L, Bt, n, k, p, in_seq, B_VAR)
            a, b, h = _tile_states(dt, dtu, _column(A, n, k), b_k, _column(H, n, k), i)
            y += h * _state_k(C_ptr + bc0 + k * L, Ct, n, k, p, in_seq, C_VAR)
            H = _with_column(H, n, k, _column(h, i, CHUNK - 1))
        if HAS_Z:
            y *= _gate(tl.load(z_ptr + offs, mask=m, other=0.0).to(tl.float32), GATE)
        tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=m)
        ck = ((pid_b * dim + d[:, None]) * n_ckpt + c) * N + n[None, :]
        tl.store(ckpt_ptr + ck, H, mask=dn_mask)


@triton.jit
def _tiled_bwd_kernel(
    dout_ptr, u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, ckpt_ptr, scratch_ptr,
    du_ptr, ddelta_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dz_ptr, dbias_ptr,
    L, dim, dim_per_group, n_ckpt,
    N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    B_VAR: tl.constexpr, C_VAR: tl.constexpr, GATE: tl.constexpr, REVERSE: tl.constexpr,
):
    """Same arguments as the sequential backward (scratch_ptr unused), so both share their launch code."""
    pid_b, d, d_mask, n, n_mask, dn_mask, A, Dv, bias, Bt, Ct, seq, bc = _program_setup(
        A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, dim, dim_per_group,
        N, BLOCK_D, BLOCK_N, HAS_D, HAS_BIAS, B_VAR, C_VAR,
    )
    bc0 = (pid_b * (dim // dim_per_group) + tl.program_id(1)) * N * L
    i = tl.arange(0, CHUNK)
    dA_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dB_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)  # fixed B / C: summed over (batch, L)
    dC_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    G = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)  # a_{t+1} g_{t+1} at the first step of the next tile
    dD_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    for c_rev in range(0, n_ckpt):
        c = n_ckpt - 1 - c_rev
        ck = ((pid_b * dim + d[:, None]) * n_ckpt + c - 1) * N + n[None, :]
        H0 = tl.load(ckpt_ptr + ck, mask=dn_mask & (c > 0), other=0.0)
        t, in_seq, p, m, offs, u, pre, dt = _load_tile(u_ptr, delta_ptr, bias, seq, d_mask, c, i, L,
                                                       CHUNK, HAS_BIAS, SOFTPLUS, REVERSE)
        m_next = d_mask[:, None] & (t + 1 < L)[None, :]
        _, dt_next = _load_dt(delta_ptr + seq[:, None] + _position(t + 1, L, REVERSE)[None, :], bias[:, None],
                              m_next, HAS_BIAS, SOFTPLUS)
        dtu = dt * u
        dout = tl.load(dout_ptr + offs, mask=m, other=0.0).to(tl.float32)
        if HAS_Z:  # the gate's gradient needs y, so a first pass over the states recomputes it
            zt = tl.load(z_ptr + offs, mask=m, other=0.0).to(tl.float32)
            y = Dv[:, None] * u if HAS_D else tl.zeros([BLOCK_D, CHUNK], dtype=tl.float32)
            for k in range(0, N):
                b_k = _state_k(B_ptr + bc0 + k * L, Bt, n, k, p, in_seq, B_VAR)
                a, b, h = _tile_states(dt, dtu, _column(A, n, k), b_k, _column(H0, n, k), i)
                y += h * _state_k(C_ptr + bc0 + k * L, Ct, n, k, p, in_seq, C_VAR)
            tl.store(dz_ptr + offs, (dout * y * _gate_grad(zt, GATE)).to(dz_ptr.dtype.element_ty), mask=m)
            dout = dout * _gate(zt, GATE)
        ddt = tl.zeros([BLOCK_D, CHUNK], dtype=tl.float32)
        du = Dv[:, None] * dout if HAS_D else tl.zeros([BLOCK_D, CHUNK], dtype=tl.float32)
        if HAS_D:
            dD_acc += tl.sum(dout * u, axis=1)
        for k in range(0, N):
            a_k = _column(A, n, k)
            b_k = _state_k(B_ptr + bc0 + k * L, Bt, n, k, p, in_seq, B_VAR)
            c_k = _state_k(C_ptr + bc0 + k * L, Ct, n, k, p, in_seq, C_VAR)
            a, b, h = _tile_states(dt, dtu, a_k, b_k, _column(H0, n, k), i)
            x = dout * c_k
            x = tl.where(i[None, :] == CHUNK - 1, x + _column(G, n, k)[:, None], x)
            a_next = tl.exp2(dt_next * (a_k * LOG2E)[:, None])
            _, g = tl.associative_scan((a_next, x), 1, _linear, reverse=True)
            term = g * (h - b)  # g_t a_t h_{t-1}
            gb = g * b_k
            ddt += term * a_k[:, None] + u * gb
            du += dt * gb
            dA_acc = _with_column(dA_acc, n, k, _column(dA_acc, n, k) + tl.sum(term * dt, axis=1))
            if B_VAR:
                tl.atomic_add(dB_ptr + bc0 + k * L + p, tl.sum(g * dtu, axis=0), mask=in_seq)
            else:
                dB_acc = _with_column(dB_acc, n, k, _column(dB_acc, n, k) + tl.sum(g * dtu, axis=1))
            if C_VAR:
                tl.atomic_add(dC_ptr + bc0 + k * L + p, tl.sum(dout * h, axis=0), mask=in_seq)
            else:
                dC_acc = _with_column(dC_acc, n, k, _column(dC_acc, n, k) + tl.sum(dout * h, axis=1))
            G = _with_column(G, n, k, _column(a * g, i, 0))
        if SOFTPLUS:
            ddt = tl.where(pre <= 20.0, ddt * tl.sigmoid(pre), ddt)
        dbias_acc += tl.sum(tl.where(m, ddt, 0.0), axis=1)
        tl.store(du_ptr + offs, du.to(du_ptr.dtype.element_ty), mask=m)
        tl.store(ddelta_ptr + offs, ddt.to(ddelta_ptr.dtype.element_ty), mask=m)
    _add_param_grads(dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr, dA_acc, dB_acc, dC_acc, dD_acc, dbias_acc,
                     d, n, d_mask, dn_mask, N, HAS_D, HAS_BIAS, B_VAR, C_VAR)


def channels_per_program(dim_per_group: int, block_n: int) -> int:
    """8 channels, so that the [BLOCK_D, CHUNK] tiles of a state stay in registers. Untuned."""
    return min(triton.next_power_of_2(dim_per_group), 8)


# this pair's launchers: common.launch_fwd / launch_bwd (the same arguments for both pairs) with its kernels
scan_fwd = partial(launch_fwd, _tiled_fwd_kernel, channels_per_program)
scan_bwd = partial(launch_bwd, _tiled_bwd_kernel, channels_per_program, False)
