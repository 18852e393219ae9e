"""Fused Triton selective scan: forward and backward kernels (the "triton" backend).

One program owns (batch, group, block of channels) and keeps the state tile
[BLOCK_D, BLOCK_N] in fp32 registers while it walks the sequence. The forward writes only the
output and the state at the end of every CHUNK steps. The backward walks the chunks in reverse:
it recomputes the chunk's states from the saved checkpoint into a small scratch buffer, then runs
the adjoint recurrence backwards through the chunk, so no per-step state is ever kept for the whole
sequence. Bias, softplus (threshold 20), D, and the z gate (a compile-time activation) are fused.

The tiled pair (fused_tiled.py) takes the same arguments and writes the same checkpoints; the
launchers below run this, the sequential pair.
"""
from __future__ import annotations

from functools import partial

import triton
import triton.language as tl

from .common import _add_param_grads, _gate, _gate_grad, _load_dt, _position, _program_setup, launch_bwd, launch_fwd


@triton.jit
def _scan_fwd_kernel(
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
    A2 = A * 1.4426950408889634
    h = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    for t in range(0, L):
        p = _position(t, L, REVERSE)
        u = tl.load(u_ptr + seq + p, mask=d_mask, other=0.0).to(tl.float32)
        pre, dt = _load_dt(delta_ptr + seq + p, bias, d_mask, HAS_BIAS, SOFTPLUS)
        if B_VAR:
            b_t = tl.load(B_ptr + bc + p, mask=n_mask, other=0.0).to(tl.float32)[None, :]
        else:
            b_t = Bt
        if C_VAR:
            c_t = tl.load(C_ptr + bc + p, mask=n_mask, other=0.0).to(tl.float32)[None, :]
        else:
            c_t = Ct
        h = tl.exp2(dt[:, None] * A2) * h + (dt * u)[:, None] * b_t
        y = tl.sum(h * c_t, axis=1)
        if HAS_D:
            y += Dv * u
        if HAS_Z:
            y *= _gate(tl.load(z_ptr + seq + p, mask=d_mask, other=0.0).to(tl.float32), GATE)
        tl.store(out_ptr + seq + p, y.to(out_ptr.dtype.element_ty), mask=d_mask)
        if (t % CHUNK == CHUNK - 1) or (t == L - 1):
            ck = ((pid_b * dim + d[:, None]) * n_ckpt + t // CHUNK) * N + n[None, :]
            tl.store(ckpt_ptr + ck, h, mask=dn_mask)


@triton.jit
def _scan_bwd_kernel(
    dout_ptr, u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, ckpt_ptr, scratch_ptr,
    du_ptr, ddelta_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dz_ptr, dbias_ptr,
    L, dim, dim_per_group, n_ckpt,
    N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    B_VAR: tl.constexpr, C_VAR: tl.constexpr, GATE: tl.constexpr, REVERSE: tl.constexpr,
):
    pid_b, d, d_mask, n, n_mask, dn_mask, A, Dv, bias, Bt, Ct, seq, bc = _program_setup(
        A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, dim, dim_per_group,
        N, BLOCK_D, BLOCK_N, HAS_D, HAS_BIAS, B_VAR, C_VAR,
    )
    A2 = A * 1.4426950408889634
    dB_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)  # fixed B / C: summed over (batch, L)
    dC_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    scr = (pid_b * dim + d[:, None]) * (CHUNK * BLOCK_N) + n[None, :]
    g_next = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)  # a_{t+1} * g_{t+1}
    dA_acc = tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32)
    dD_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    for c_rev in range(0, n_ckpt):
        c = n_ckpt - 1 - c_rev
        ck = ((pid_b * dim + d[:, None]) * n_ckpt + c - 1) * N + n[None, :]
        h = tl.load(ckpt_ptr + ck, mask=dn_mask & (c > 0), other=0.0)
        for i in range(0, CHUNK):  # recompute h_{t-1} for every t of the chunk
            t = c * CHUNK + i
            p = _position(t, L, REVERSE)
            valid = d_mask & (t < L)
            tl.store(scratch_ptr + scr + i * BLOCK_N, h, mask=dn_mask)
            u = tl.load(u_ptr + seq + p, mask=valid, other=0.0).to(tl.float32)
            pre, dt = _load_dt(delta_ptr + seq + p, bias, valid, HAS_BIAS, SOFTPLUS)
            if B_VAR:
                b_t = tl.load(B_ptr + bc + p, mask=n_mask & (t < L), other=0.0).to(tl.float32)[None, :]
            else:
                b_t = Bt
            h = tl.exp2(dt[:, None] * A2) * h + (dt * u)[:, None] * b_t
        tl.debug_barrier()
        for i in range(0, CHUNK):  # adjoint, backwards through the chunk
            j = CHUNK - 1 - i
            t = c * CHUNK + j
            p = _position(t, L, REVERSE)
            in_seq = t < L
            valid = d_mask & in_seq
            h_prev = tl.load(scratch_ptr + scr + j * BLOCK_N, mask=dn_mask, other=0.0)
            u = tl.load(u_ptr + seq + p, mask=valid, other=0.0).to(tl.float32)
            pre, dt = _load_dt(delta_ptr + seq + p, bias, valid, HAS_BIAS, SOFTPLUS)
            if B_VAR:
                b_t = tl.load(B_ptr + bc + p, mask=n_mask & in_seq, other=0.0).to(tl.float32)[None, :]
            else:
                b_t = Bt
            if C_VAR:
                c_t = tl.load(C_ptr + bc + p, mask=n_mask & in_seq, other=0.0).to(tl.float32)[None, :]
            else:
                c_t = Ct
            decay = tl.exp2(dt[:, None] * A2)
            h = decay * h_prev + (dt * u)[:, None] * b_t
            dout = tl.load(dout_ptr + seq + p, mask=valid, other=0.0).to(tl.float32)
            if HAS_Z:
                zt = tl.load(z_ptr + seq + p, mask=valid, other=0.0).to(tl.float32)
                y = tl.sum(h * c_t, axis=1)
                if HAS_D:
                    y += Dv * u
                tl.store(dz_ptr + seq + p, (dout * y * _gate_grad(zt, GATE)).to(dz_ptr.dtype.element_ty), mask=valid)
                dout = dout * _gate(zt, GATE)
            g = dout[:, None] * c_t + g_next
            term = g * decay * h_prev
            dA_acc += term * dt[:, None]
            gB = tl.sum(g * b_t, axis=1)
            ddt = tl.sum(term * A, axis=1) + u * gB
            du = dt * gB
            if HAS_D:
                du += Dv * dout
                dD_acc += dout * u
            if B_VAR:
                tl.atomic_add(dB_ptr + bc + p, tl.sum(g * (dt * u)[:, None], axis=0), mask=n_mask & in_seq)
            else:
                dB_acc += g * (dt * u)[:, None]
            if C_VAR:
                tl.atomic_add(dC_ptr + bc + p, tl.sum(dout[:, None] * h, axis=0), mask=n_mask & in_seq)
            else:
                dC_acc += dout[:, None] * h
            if SOFTPLUS:
                ddt = tl.where(pre <= 20.0, ddt * tl.sigmoid(pre), ddt)
            dbias_acc += tl.where(valid, ddt, 0.0)
            tl.store(du_ptr + seq + p, du.to(du_ptr.dtype.element_ty), mask=valid)
            tl.store(ddelta_ptr + seq + p, ddt.to(ddelta_ptr.dtype.element_ty), mask=valid)
            g_next = decay * g
        tl.debug_barrier()
    _add_param_grads(dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr, dA_acc, dB_acc, dC_acc, dD_acc, dbias_acc,
                     d, n, d_mask, dn_mask, N, HAS_D, HAS_BIAS, B_VAR, C_VAR)


def channels_per_program(dim_per_group: int, block_n: int) -> int:
    """A state tile of at most 512 fp32 and at most 64 channels, so that even d_state=1 spreads a
    batch over many programs. Untuned: choosing the kernel pair and blocks is the GPU issue's job."""
    return min(triton.next_power_of_2(dim_per_group), max(16, 512 // block_n), 64)


# this pair's launchers: common.launch_fwd / launch_bwd (the same arguments for both pairs) with its kernels
scan_fwd = partial(launch_fwd, _scan_fwd_kernel, channels_per_program)
scan_bwd = partial(launch_bwd, _scan_bwd_kernel, channels_per_program, True)
