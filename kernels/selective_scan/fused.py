"""Fused Triton selective scan: forward and backward kernels (the "triton" backend).

One program owns (batch, group, block of channels) and keeps the state tile
[BLOCK_D, BLOCK_N] in fp32 registers while it walks the sequence. The forward writes only the
output and the state at the end of every CHUNK steps. The backward walks the chunks in reverse:
it recomputes the chunk's states from the saved checkpoint into a small scratch buffer, then runs
the adjoint recurrence backwards through the chunk, so no per-step state is ever kept for the whole
sequence. Bias, softplus (threshold 20), D, and the z gate (a compile-time activation) are fused.

The launchers below also run the tiled kernels of fused_tiled.py (same arguments, same
checkpoints); ``kernel=`` or $VIMVISION_SCAN_KERNEL picks the pair.
"""
from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from .fused_tiled import _tiled_bwd_kernel, _tiled_fwd_kernel
from .jit_common import _add_param_grads, _gate, _gate_grad, _load_dt, _position, _program_setup


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


KERNELS = ("sequential", "tiled")


def default_chunk(L: int) -> int:
    """Steps between state checkpoints (the tiled kernels' tile length): a power of two in [16, 64]."""
    return min(64, max(16, triton.next_power_of_2(L)))


def default_kernel() -> str:
    """The kernel pair the triton backend runs: $VIMVISION_SCAN_KERNEL, else "sequential".
    Untuned: choosing between the two by measurement is the GPU issue's job."""
    return os.environ.get("VIMVISION_SCAN_KERNEL", "sequential")


def _block_d(kernel: str, dim_per_group: int, block_n: int) -> int:
    """Channels per program. Sequential: a state tile of at most 512 fp32 and at most 64 channels,
    so that even d_state=1 spreads a batch over many programs. Tiled: 8 channels, so that the
    [BLOCK_D, CHUNK] tiles of a state stay in registers. Untuned, like default_kernel."""
    if kernel == "tiled":
        return min(triton.next_power_of_2(dim_per_group), 8)
    return min(triton.next_power_of_2(dim_per_group), max(16, 512 // block_n), 64)


def _groups(B: torch.Tensor, C: torch.Tensor) -> int:
    return next((t.shape[1] for t in (B, C) if t.dim() == 4), 1)


def _meta(u, A, B, C, D, z, delta_bias, softplus, gate_id, reverse, kernel, block_d, chunk):
    batch, dim, L = u.shape
    N = A.shape[-1]
    groups = _groups(B, C)
    dim_per_group = dim // groups
    block_n = triton.next_power_of_2(N)
    kernel = kernel or default_kernel()
    if kernel not in KERNELS:
        raise ValueError(f"selective scan: kernel {kernel!r} (argument or $VIMVISION_SCAN_KERNEL), expected one of {KERNELS}")
    block_d = block_d or _block_d(kernel, dim_per_group, block_n)
    chunk = chunk or default_chunk(L)
    grid = (batch, groups, triton.cdiv(dim_per_group, block_d))
    flags = dict(
        N=N, BLOCK_D=block_d, BLOCK_N=block_n, CHUNK=chunk, HAS_D=D is not None, HAS_Z=z is not None,
        HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus, B_VAR=B.dim() == 4, C_VAR=C.dim() == 4,
        GATE=gate_id, REVERSE=reverse,
    )
    return kernel, grid, flags, (L, dim, dim_per_group, triton.cdiv(L, chunk))


def scan_fwd(u, delta, A, B, C, D, z, delta_bias, softplus: bool, gate_id: int, reverse: bool = False,
             kernel: str | None = None, block_d: int | None = None, chunk: int | None = None):
    """Returns (out in u.dtype, fp32 checkpoints (batch, dim, n_chunks, N); the last is the final state)."""
    kernel, grid, flags, sizes = _meta(u, A, B, C, D, z, delta_bias, softplus, gate_id, reverse, kernel, block_d, chunk)
    out = torch.empty_like(u)
    ckpt = u.new_empty(u.shape[0], u.shape[1], sizes[-1], A.shape[-1], dtype=torch.float32)
    launch = _tiled_fwd_kernel if kernel == "tiled" else _scan_fwd_kernel
    torch.library.wrap_triton(launch)[grid](
        u, delta, A, B, C, _or(D, u), _or(z, u), _or(delta_bias, u), out, ckpt, *sizes, **flags
    )
    return out, ckpt


def scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, ckpt, softplus: bool, gate_id: int, reverse: bool = False,
             kernel: str | None = None, block_d: int | None = None, chunk: int | None = None):
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias), None where the input is absent."""
    kernel, grid, flags, sizes = _meta(u, A, B, C, D, z, delta_bias, softplus, gate_id, reverse, kernel, block_d, chunk)
    f32 = dict(dtype=torch.float32, device=u.device)
    if kernel == "tiled":
        launch, scratch = _tiled_bwd_kernel, u.new_empty(0, dtype=torch.float32)
    else:
        launch, scratch = _scan_bwd_kernel, torch.empty(u.shape[0], u.shape[1], flags["CHUNK"], flags["BLOCK_N"], **f32)
    du, ddelta = torch.empty_like(u), torch.empty_like(delta)
    dA = torch.zeros(A.shape, **f32)
    dB, dC = torch.zeros(B.shape, **f32), torch.zeros(C.shape, **f32)
    dD = torch.zeros(D.shape, **f32) if D is not None else None
    dz = torch.empty_like(z) if z is not None else None
    dbias = torch.zeros(delta_bias.shape, **f32) if delta_bias is not None else None
    torch.library.wrap_triton(launch)[grid](
        dout, u, delta, A, B, C, _or(D, u), _or(z, u), _or(delta_bias, u), ckpt, scratch,
        du, ddelta, dA, dB, dC, _or(dD, dA), _or(dz, du), _or(dbias, dA), *sizes, **flags,
    )
    cast = lambda g, like: g.to(like.dtype) if g is not None else None  # noqa: E731
    return du, ddelta, cast(dA, A), cast(dB, B), cast(dC, C), cast(dD, D), dz, cast(dbias, delta_bias)


def _or(t: torch.Tensor | None, placeholder: torch.Tensor) -> torch.Tensor:
    """Absent optional inputs get a placeholder pointer; the kernel's constexpr flags never read it."""
    return t if t is not None else placeholder
