"""Triton residual add + RMSNorm/LayerNorm, forward and backward, one row per program step.

Forward: total = x + residual (fp32), out = norm(total) * w (+ b); writes out (x's dtype) and the new
residual (fp32 when asked). Backward takes the gradients of both outputs: the new residual feeds the
next block, so d_total = d_residual_out + dnorm(d_out). Weight/bias gradients are per-program partial
sums reduced on the host (deterministic, no atomics).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _add_norm_fwd_kernel(x_ptr, res_ptr, w_ptr, b_ptr, out_ptr, res_out_ptr, rstd_ptr, M, D, eps,
                         ROWS: tl.constexpr, BLOCK: tl.constexpr, HAS_RES: tl.constexpr, HAS_BIAS: tl.constexpr,
                         IS_RMS: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    mask = cols < D
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    if HAS_BIAS:
        b = tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    for r in range(0, ROWS):
        row = tl.program_id(0) * ROWS + r
        if row < M:
            total = tl.load(x_ptr + row * D + cols, mask=mask, other=0.0).to(tl.float32)
            if HAS_RES:
                total += tl.load(res_ptr + row * D + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(res_out_ptr + row * D + cols, total.to(res_out_ptr.dtype.element_ty), mask=mask)
            if IS_RMS:
                centered = total
            else:
                centered = tl.where(mask, total - tl.sum(total, axis=0) / D, 0.0)
            rstd = 1.0 / tl.sqrt(tl.sum(centered * centered, axis=0) / D + eps)
            out = centered * rstd * w
            if HAS_BIAS:
                out += b
            tl.store(out_ptr + row * D + cols, out.to(out_ptr.dtype.element_ty), mask=mask)
            tl.store(rstd_ptr + row, rstd)


@triton.jit
def _add_norm_bwd_kernel(dout_ptr, dres_out_ptr, res_out_ptr, w_ptr, rstd_ptr, dtotal_ptr, dw_part_ptr,
                         db_part_ptr, M, D, ROWS: tl.constexpr, BLOCK: tl.constexpr, HAS_DRES: tl.constexpr,
                         HAS_BIAS: tl.constexpr, IS_RMS: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    mask = cols < D
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros([BLOCK], dtype=tl.float32)
    db = tl.zeros([BLOCK], dtype=tl.float32)
    for r in range(0, ROWS):
        row = tl.program_id(0) * ROWS + r
        if row < M:
            total = tl.load(res_out_ptr + row * D + cols, mask=mask, other=0.0).to(tl.float32)
            rstd = tl.load(rstd_ptr + row)
            if IS_RMS:
                xhat = total * rstd
            else:
                xhat = tl.where(mask, (total - tl.sum(total, axis=0) / D) * rstd, 0.0)
            dout = tl.load(dout_ptr + row * D + cols, mask=mask, other=0.0).to(tl.float32)
            dw += dout * xhat
            db += dout
            dxhat = dout * w
            dtotal = dxhat - xhat * (tl.sum(dxhat * xhat, axis=0) / D)
            if not IS_RMS:
                dtotal -= tl.sum(dxhat, axis=0) / D
            dtotal *= rstd
            if HAS_DRES:
                dtotal += tl.load(dres_out_ptr + row * D + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(dtotal_ptr + row * D + cols, dtotal, mask=mask)
    tl.store(dw_part_ptr + tl.program_id(0) * D + cols, dw, mask=mask)
    if HAS_BIAS:
        tl.store(db_part_ptr + tl.program_id(0) * D + cols, db, mask=mask)


ROWS = 8


def add_norm_fwd(x, residual, weight, bias, eps: float, is_rms: bool, residual_in_fp32: bool):
    """x, residual (M, D) -> (out like x, new residual, rstd (M,))."""
    M, D = x.shape
    out = torch.empty_like(x)
    res_out = torch.empty_like(x, dtype=torch.float32 if residual_in_fp32 else x.dtype)
    rstd = x.new_empty(M, dtype=torch.float32)
    torch.library.wrap_triton(_add_norm_fwd_kernel)[(triton.cdiv(M, ROWS),)](
        x, residual if residual is not None else x, weight, bias if bias is not None else weight, out, res_out, rstd,
        M, D, eps, ROWS=ROWS, BLOCK=triton.next_power_of_2(D), HAS_RES=residual is not None,
        HAS_BIAS=bias is not None, IS_RMS=is_rms,
    )
    return out, res_out, rstd


def add_norm_bwd(dout, dres_out, res_out, weight, bias, rstd, is_rms: bool):
    """Gradient w.r.t. the sum x + residual (the same for both), dweight, dbias (or None)."""
    M, D = dout.shape
    n_prog = triton.cdiv(M, ROWS)
    dtotal = dout.new_empty(M, D, dtype=torch.float32)
    dw_part = dout.new_empty(n_prog, D, dtype=torch.float32)
    db_part = dout.new_empty(n_prog, D, dtype=torch.float32)
    torch.library.wrap_triton(_add_norm_bwd_kernel)[(n_prog,)](
        dout, dres_out if dres_out is not None else dout, res_out, weight, rstd, dtotal, dw_part, db_part, M, D,
        ROWS=ROWS, BLOCK=triton.next_power_of_2(D), HAS_DRES=dres_out is not None, HAS_BIAS=bias is not None,
        IS_RMS=is_rms,
    )
    dbias = db_part.sum(0).to(bias.dtype) if bias is not None else None
    return dtotal, dw_part.sum(0).to(weight.dtype), dbias
