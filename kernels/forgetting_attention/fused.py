"""Triton bidirectional forgetting attention, flash-attention style: the decay bias is computed per
tile from the per-token cumulative log-gates, so no (L, L) tensor is ever materialized.

bias_ij = cf_i - cf_j (j <= i) and cb_j - cb_i (j > i), with cf/cb the cumulative sums of the forward
and backward log-gates. Forward saves the row log-sum-exp; the backward recomputes probabilities and
returns dq, dk, dv and the gradients of cf and cb (the caller chains them through the cumsums).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _scores(q, k, cf_i, cb_i, cf_j, cb_j, i, j, L, scale):
    s = tl.dot(q, tl.trans(k)) * scale
    lower = j[None, :] <= i[:, None]
    s += tl.where(lower, cf_i[:, None] - cf_j[None, :], cb_j[None, :] - cb_i[:, None])
    return tl.where(j[None, :] < L, s, float("-inf"))


@triton.jit
def _fwd_kernel(q_ptr, k_ptr, v_ptr, cf_ptr, cb_ptr, o_ptr, lse_ptr, L, scale,
                D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    bh, pid_m = tl.program_id(0), tl.program_id(1)
    i = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    d = tl.arange(0, D)
    base = bh * L * D
    qmask = i < L
    q = tl.load(q_ptr + base + i[:, None] * D + d[None, :], mask=qmask[:, None], other=0.0).to(tl.float32)
    cf_i = tl.load(cf_ptr + bh * L + i, mask=qmask, other=0.0)
    cb_i = tl.load(cb_ptr + bh * L + i, mask=qmask, other=0.0)
    m = tl.full([BLOCK_M], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, D], tl.float32)
    for start in range(0, L, BLOCK_N):
        j = start + tl.arange(0, BLOCK_N)
        kmask = j < L
        k = tl.load(k_ptr + base + j[:, None] * D + d[None, :], mask=kmask[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_ptr + base + j[:, None] * D + d[None, :], mask=kmask[:, None], other=0.0).to(tl.float32)
        cf_j = tl.load(cf_ptr + bh * L + j, mask=kmask, other=0.0)
        cb_j = tl.load(cb_ptr + bh * L + j, mask=kmask, other=0.0)
        s = _scores(q, k, cf_i, cb_i, cf_j, cb_j, i, j, L, scale)
        m_new = tl.maximum(m, tl.max(s, axis=1))
        p = tl.exp(s - m_new[:, None])
        alpha = tl.exp(m - m_new)
        row_sum = row_sum * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p, v)
        m = m_new
    out = acc / row_sum[:, None]
    tl.store(o_ptr + base + i[:, None] * D + d[None, :], out.to(o_ptr.dtype.element_ty), mask=qmask[:, None])
    tl.store(lse_ptr + bh * L + i, m + tl.log(row_sum), mask=qmask)


@triton.jit
def _probs(q_ptr, k_ptr, cf_ptr, cb_ptr, lse_ptr, bh, i, j, L, scale, D: tl.constexpr):
    d = tl.arange(0, D)
    base = bh * L * D
    q = tl.load(q_ptr + base + i[:, None] * D + d[None, :], mask=(i < L)[:, None], other=0.0).to(tl.float32)
    k = tl.load(k_ptr + base + j[:, None] * D + d[None, :], mask=(j < L)[:, None], other=0.0).to(tl.float32)
    cf_i = tl.load(cf_ptr + bh * L + i, mask=i < L, other=0.0)
    cb_i = tl.load(cb_ptr + bh * L + i, mask=i < L, other=0.0)
    cf_j = tl.load(cf_ptr + bh * L + j, mask=j < L, other=0.0)
    cb_j = tl.load(cb_ptr + bh * L + j, mask=j < L, other=0.0)
    lse = tl.load(lse_ptr + bh * L + i, mask=i < L, other=0.0)
    s = _scores(q, k, cf_i, cb_i, cf_j, cb_j, i, j, L, scale)
    p = tl.where((i < L)[:, None], tl.exp(s - lse[:, None]), 0.0)
    return q, k, p


@triton.jit
def _bwd_kv_kernel(q_ptr, k_ptr, v_ptr, cf_ptr, cb_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr, dcf_ptr, dcb_ptr,
                   L, scale, D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """One key block: dk, dv, and the key-side (column) sums of the bias gradient."""
    bh, pid_n = tl.program_id(0), tl.program_id(1)
    j = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    d = tl.arange(0, D)
    base = bh * L * D
    kmask = j < L
    v = tl.load(v_ptr + base + j[:, None] * D + d[None, :], mask=kmask[:, None], other=0.0).to(tl.float32)
    dk = tl.zeros([BLOCK_N, D], tl.float32)
    dv = tl.zeros([BLOCK_N, D], tl.float32)
    dcf = tl.zeros([BLOCK_N], tl.float32)
    dcb = tl.zeros([BLOCK_N], tl.float32)
    for start in range(0, L, BLOCK_M):
        i = start + tl.arange(0, BLOCK_M)
        q, k, p = _probs(q_ptr, k_ptr, cf_ptr, cb_ptr, lse_ptr, bh, i, j, L, scale, D)
        do = tl.load(do_ptr + base + i[:, None] * D + d[None, :], mask=(i < L)[:, None], other=0.0).to(tl.float32)
        delta = tl.load(delta_ptr + bh * L + i, mask=i < L, other=0.0)
        dv += tl.dot(tl.trans(p), do)
        ds = p * (tl.dot(do, tl.trans(v)) - delta[:, None])
        dk += tl.dot(tl.trans(ds), q) * scale
        lower = j[None, :] <= i[:, None]
        dcf -= tl.sum(tl.where(lower, ds, 0.0), axis=0)  # bias_ij = cf_i - cf_j
        dcb += tl.sum(tl.where(lower, 0.0, ds), axis=0)  # bias_ij = cb_j - cb_i
    tl.store(dk_ptr + base + j[:, None] * D + d[None, :], dk.to(dk_ptr.dtype.element_ty), mask=kmask[:, None])
    tl.store(dv_ptr + base + j[:, None] * D + d[None, :], dv.to(dv_ptr.dtype.element_ty), mask=kmask[:, None])
    tl.store(dcf_ptr + bh * L + j, dcf, mask=kmask)
    tl.store(dcb_ptr + bh * L + j, dcb, mask=kmask)


@triton.jit
def _bwd_q_kernel(q_ptr, k_ptr, v_ptr, cf_ptr, cb_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr, dcf_ptr, dcb_ptr,
                  L, scale, D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """One query block: dq and the query-side (row) sums of the bias gradient, added to the key-side ones."""
    bh, pid_m = tl.program_id(0), tl.program_id(1)
    i = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    d = tl.arange(0, D)
    base = bh * L * D
    qmask = i < L
    do = tl.load(do_ptr + base + i[:, None] * D + d[None, :], mask=qmask[:, None], other=0.0).to(tl.float32)
    delta = tl.load(delta_ptr + bh * L + i, mask=qmask, other=0.0)
    dq = tl.zeros([BLOCK_M, D], tl.float32)
    dcf = tl.zeros([BLOCK_M], tl.float32)
    dcb = tl.zeros([BLOCK_M], tl.float32)
    for start in range(0, L, BLOCK_N):
        j = start + tl.arange(0, BLOCK_N)
        q, k, p = _probs(q_ptr, k_ptr, cf_ptr, cb_ptr, lse_ptr, bh, i, j, L, scale, D)
        v = tl.load(v_ptr + base + j[:, None] * D + d[None, :], mask=(j < L)[:, None], other=0.0).to(tl.float32)
        ds = p * (tl.dot(do, tl.trans(v)) - delta[:, None])
        dq += tl.dot(ds, k) * scale
        lower = j[None, :] <= i[:, None]
        dcf += tl.sum(tl.where(lower, ds, 0.0), axis=1)
        dcb -= tl.sum(tl.where(lower, 0.0, ds), axis=1)
    tl.store(dq_ptr + base + i[:, None] * D + d[None, :], dq.to(dq_ptr.dtype.element_ty), mask=qmask[:, None])
    old_f = tl.load(dcf_ptr + bh * L + i, mask=qmask, other=0.0)
    old_b = tl.load(dcb_ptr + bh * L + i, mask=qmask, other=0.0)
    tl.store(dcf_ptr + bh * L + i, old_f + dcf, mask=qmask)
    tl.store(dcb_ptr + bh * L + i, old_b + dcb, mask=qmask)


def _blocks(L: int, D: int):
    block = 16 if L <= 16 else 32
    return dict(D=D, BLOCK_M=block, BLOCK_N=block)


def fox_fwd(q, k, v, cf, cb, scale: float):
    """q, k, v (B*H, L, D); cf, cb (B*H, L) fp32 cumulative log-gates. Returns (out, lse)."""
    BH, L, D = q.shape
    out = torch.empty_like(q)
    lse = torch.empty(BH, L, device=q.device, dtype=torch.float32)
    meta = _blocks(L, D)
    grid = (BH, triton.cdiv(L, meta["BLOCK_M"]))
    torch.library.wrap_triton(_fwd_kernel)[grid](q, k, v, cf, cb, out, lse, L, scale, **meta)
    return out, lse


def fox_bwd(do, q, k, v, cf, cb, out, lse, scale: float):
    """Returns dq, dk, dv, dcf, dcb (the last two fp32)."""
    BH, L, D = q.shape
    delta = (do.float() * out.float()).sum(-1)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    dcf = torch.empty(BH, L, device=q.device, dtype=torch.float32)
    dcb = torch.empty_like(dcf)
    meta = _blocks(L, D)
    grid = (BH, triton.cdiv(L, meta["BLOCK_M"]))
    args = (q, k, v, cf, cb, do, lse, delta)
    torch.library.wrap_triton(_bwd_kv_kernel)[grid](*args, dk, dv, dcf, dcb, L, scale, **meta)
    torch.library.wrap_triton(_bwd_q_kernel)[grid](*args, dq, dcf, dcb, L, scale, **meta)
    return dq, dk, dv, dcf, dcb
