"""What the sequential (fused.py) and tiled (fused_tiled.py) kernel pairs share: Triton helpers, and
the host side (launch sizes, output allocation, the launches). The pairs take the same arguments and
write the same checkpoints, so each pair's launchers are these two with its kernels and how many
channels one program owns bound."""
from __future__ import annotations

from typing import Callable

import torch
import triton
import triton.language as tl

from .op import default_chunk  # the checkpoint rule lives beside the op, which imports without Triton


@triton.jit
def _gate(z, GATE: tl.constexpr):
    if GATE == 0:  # silu
        return z * tl.sigmoid(z)
    elif GATE == 1:  # exact gelu
        return 0.5 * z * (1.0 + tl.math.erf(z * 0.7071067811865476))
    elif GATE == 2:
        return tl.sigmoid(z)
    else:
        return z


@triton.jit
def _gate_grad(z, GATE: tl.constexpr):
    if GATE == 0:
        s = tl.sigmoid(z)
        return s * (1.0 + z * (1.0 - s))
    elif GATE == 1:
        cdf = 0.5 * (1.0 + tl.math.erf(z * 0.7071067811865476))
        return cdf + z * tl.exp(-0.5 * z * z) * 0.3989422804014327
    elif GATE == 2:
        s = tl.sigmoid(z)
        return s * (1.0 - s)
    else:
        return z * 0.0 + 1.0


@triton.jit
def _position(t, L, REVERSE: tl.constexpr):
    """Sequence position of scan step t: the scan may walk the sequence backwards (Vim's second direction)."""
    if REVERSE:
        return L - 1 - t
    return t


@triton.jit
def _load_dt(delta_ptr, bias, mask, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr):
    """Returns (pre-activation delta + bias, dt) in fp32."""
    pre = tl.load(delta_ptr, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        pre += bias
    dt = pre
    if SOFTPLUS:
        dt = tl.where(pre <= 20.0, tl.log(1.0 + tl.exp(tl.minimum(pre, 20.0))), pre)
    return pre, tl.where(mask, dt, 0.0)


@triton.jit
def _program_setup(A_ptr, B_ptr, C_ptr, D_ptr, bias_ptr, L, dim, dim_per_group,
                   N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, HAS_D: tl.constexpr,
                   HAS_BIAS: tl.constexpr, B_VAR: tl.constexpr, C_VAR: tl.constexpr):
    """This program's channels (one block inside one group), states, per-channel parameters in fp32,
    fixed B / C tiles (zeros when input-dependent) and the base offsets of its sequences."""
    pid_b, pid_g, pid_d = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    d_loc = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    d_mask = d_loc < dim_per_group
    d = pid_g * dim_per_group + d_loc
    n = tl.arange(0, BLOCK_N)
    n_mask = n < N
    dn_mask = d_mask[:, None] & n_mask[None, :]
    dn = d[:, None] * N + n[None, :]
    A = tl.load(A_ptr + dn, mask=dn_mask, other=0.0).to(tl.float32)
    Dv = tl.load(D_ptr + d, mask=d_mask, other=0.0).to(tl.float32) if HAS_D else tl.zeros([BLOCK_D], dtype=tl.float32)
    bias = (tl.load(bias_ptr + d, mask=d_mask, other=0.0).to(tl.float32) if HAS_BIAS
            else tl.zeros([BLOCK_D], dtype=tl.float32))
    Bt = (tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32) if B_VAR
          else tl.load(B_ptr + dn, mask=dn_mask, other=0.0).to(tl.float32))
    Ct = (tl.zeros([BLOCK_D, BLOCK_N], dtype=tl.float32) if C_VAR
          else tl.load(C_ptr + dn, mask=dn_mask, other=0.0).to(tl.float32))
    seq = (pid_b * dim + d) * L
    bc = ((pid_b * (dim // dim_per_group) + pid_g) * N + n) * L
    return pid_b, d, d_mask, n, n_mask, dn_mask, A, Dv, bias, Bt, Ct, seq, bc


@triton.jit
def _add_param_grads(dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr, dA_acc, dB_acc, dC_acc, dD_acc, dbias_acc,
                     d, n, d_mask, dn_mask, N: tl.constexpr, HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr,
                     B_VAR: tl.constexpr, C_VAR: tl.constexpr):
    """Add a program's per-channel parameter gradients (summed over its batch row and the sequence)."""
    dn = d[:, None] * N + n[None, :]
    tl.atomic_add(dA_ptr + dn, dA_acc, mask=dn_mask)
    if not B_VAR:
        tl.atomic_add(dB_ptr + dn, dB_acc, mask=dn_mask)
    if not C_VAR:
        tl.atomic_add(dC_ptr + dn, dC_acc, mask=dn_mask)
    if HAS_D:
        tl.atomic_add(dD_ptr + d, dD_acc, mask=d_mask)
    if HAS_BIAS:
        tl.atomic_add(dbias_ptr + d, dbias_acc, mask=d_mask)


ChannelsPerProgram = Callable[[int, int], int]  # (dim_per_group, BLOCK_N) -> BLOCK_D


def _groups(B: torch.Tensor, C: torch.Tensor) -> int:
    return next((t.shape[1] for t in (B, C) if t.dim() == 4), 1)


def _meta(u, A, B, C, D, z, delta_bias, softplus, gate_id, reverse, channels: ChannelsPerProgram, block_d, chunk):
    batch, dim, L = u.shape
    N = A.shape[-1]
    groups = _groups(B, C)
    dim_per_group = dim // groups
    block_n = triton.next_power_of_2(N)
    block_d = block_d or channels(dim_per_group, block_n)
    chunk = chunk or default_chunk(L)
    grid = (batch, groups, triton.cdiv(dim_per_group, block_d))
    flags = dict(
        N=N, BLOCK_D=block_d, BLOCK_N=block_n, CHUNK=chunk, HAS_D=D is not None, HAS_Z=z is not None,
        HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus, B_VAR=B.dim() == 4, C_VAR=C.dim() == 4,
        GATE=gate_id, REVERSE=reverse,
    )
    return grid, flags, (L, dim, dim_per_group, triton.cdiv(L, chunk))


def launch_fwd(kernel, channels: ChannelsPerProgram, u, delta, A, B, C, D, z, delta_bias, softplus: bool,
               gate_id: int, reverse: bool = False, block_d: int | None = None, chunk: int | None = None):
    """Returns (out in u.dtype, fp32 checkpoints (batch, dim, n_chunks, N); the last is the final state)."""
    grid, flags, sizes = _meta(u, A, B, C, D, z, delta_bias, softplus, gate_id, reverse, channels, block_d, chunk)
    out = torch.empty_like(u)
    ckpt = u.new_empty(u.shape[0], u.shape[1], sizes[-1], A.shape[-1], dtype=torch.float32)
    torch.library.wrap_triton(kernel)[grid](
        u, delta, A, B, C, _or(D, u), _or(z, u), _or(delta_bias, u), out, ckpt, *sizes, **flags
    )
    return out, ckpt


def launch_bwd(kernel, channels: ChannelsPerProgram, scratch: bool, dout, u, delta, A, B, C, D, z, delta_bias, ckpt,
               softplus: bool, gate_id: int, reverse: bool = False, block_d: int | None = None,
               chunk: int | None = None):
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias), None where the input is absent.
    scratch: the kernel keeps a chunk's recomputed states in a (batch, dim, CHUNK, BLOCK_N) buffer."""
    grid, flags, sizes = _meta(u, A, B, C, D, z, delta_bias, softplus, gate_id, reverse, channels, block_d, chunk)
    f32 = dict(dtype=torch.float32, device=u.device)
    scratch_shape = (u.shape[0], u.shape[1], flags["CHUNK"], flags["BLOCK_N"]) if scratch else (0,)
    du, ddelta = torch.empty_like(u), torch.empty_like(delta)
    dA = torch.zeros(A.shape, **f32)
    dB, dC = torch.zeros(B.shape, **f32), torch.zeros(C.shape, **f32)
    dD = torch.zeros(D.shape, **f32) if D is not None else None
    dz = torch.empty_like(z) if z is not None else None
    dbias = torch.zeros(delta_bias.shape, **f32) if delta_bias is not None else None
    torch.library.wrap_triton(kernel)[grid](
        dout, u, delta, A, B, C, _or(D, u), _or(z, u), _or(delta_bias, u), ckpt, torch.empty(scratch_shape, **f32),
        du, ddelta, dA, dB, dC, _or(dD, dA), _or(dz, du), _or(dbias, dA), *sizes, **flags,
    )
    cast = lambda g, like: g.to(like.dtype) if g is not None else None  # noqa: E731
    return du, ddelta, cast(dA, A), cast(dB, B), cast(dC, C), cast(dD, D), dz, cast(dbias, delta_bias)


def _or(t: torch.Tensor | None, placeholder: torch.Tensor) -> torch.Tensor:
    """Absent optional inputs get a placeholder pointer; the kernel's constexpr flags never read it."""
    return t if t is not None else placeholder
