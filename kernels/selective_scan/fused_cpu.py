"""Fused CPU selective scan in numba (the "numba" backend): one pass over the inputs, the state in L1.

Why: the chunked torch scan makes several passes over (batch, dim, L, d_state) intermediates, and on a CPU
those passes are the cost. Here one task owns (batch, block of W channels) and walks the sequence with its
(d_state, W) state in a small local array; tasks run in parallel (numba's prange). Sequences are
time-major, (batch, L, dim), so the W channels of one step are contiguous and LLVM vectorizes over them
for any d_state, d_state = 1 included. Bias, softplus, D and the z gate are fused, as in the Triton kernels.
The forward writes the output and the state at the end of every ``chunk`` steps (the Triton kernels'
checkpoints, same layout). The backward walks the chunks in reverse: it recomputes a chunk's decays and
states from its checkpoint into a (chunk, d_state, W) buffer, then runs the adjoint
g_t = C_t dout_t + a_{t+1} g_{t+1} back through it; nothing of size (L, d_state) is ever kept.

The kernels compile on first use (seconds; cached on disk by numba) for fp32 (fp16/bf16 inputs run in
fp32) and fp64. Only ``op.py`` imports this module, so numba is needed only where this backend runs.
"""
from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange

from .activations import GATE_IDS
from .cpu_math import cast, gate, scan_exp, softplus
from .op import default_chunk

FASTMATH = {"contract", "reassoc"}  # FMA and vectorized sums over a channel block; no nnan/ninf assumptions
WIDTHS = (64, 32, 16, 8, 4, 2, 1)  # channels per task (measured: 64 hides the loops' latency), or what divides a group


@njit(inline="always")
def _gate_rows(z, b, d0, p, act, rows, gated, slope):
    """gated[j] = rows[j] * act(z), slope[j] = act'(z) over the block: one loop per activation, so each vectorizes."""
    if act == 0:
        for j in range(rows.shape[0]):
            gz, slope[j] = gate(z[b, d0 + j, p], 0)
            gated[j] = rows[j] * gz
    elif act == 1:
        for j in range(rows.shape[0]):
            gz, slope[j] = gate(z[b, d0 + j, p], 1)
            gated[j] = rows[j] * gz
    elif act == 2:
        for j in range(rows.shape[0]):
            gz, slope[j] = gate(z[b, d0 + j, p], 2)
            gated[j] = rows[j] * gz
    else:
        for j in range(rows.shape[0]):
            gated[j] = rows[j] * z[b, d0 + j, p]
            slope[j] = cast(slope[j], 1.0)


@njit(inline="always")
def _step_inputs(u, delta, bias, D, b, d0, p, use_softplus, dtv, slope, dtu, yv):
    """This step's dt (and d dt / d delta), dt * u and D * u for the channel block (bias, D: the block's)."""
    for j in range(dtv.shape[0]):
        dtv[j] = delta[b, d0 + j, p] + bias[j]
    if use_softplus:
        for j in range(dtv.shape[0]):
            dtv[j], slope[j] = softplus(dtv[j])
    for j in range(dtv.shape[0]):
        uv = u[b, d0 + j, p]
        dtu[j], yv[j] = dtv[j] * uv, D[j] * uv


@njit(inline="always")
def _block(AT, Bf, Cf, D, bias, d0, width):
    """The task's columns of the per-channel parameters, copied: indexed by the loop variable alone, the
    loops over channels load them as vectors (``AT[n, d0 + j]`` makes LLVM gather)."""
    e = d0 + width
    return (AT[:, d0:e].copy(), Bf[:, d0:e].copy(), Cf[:, d0:e].copy(), D[d0:e].copy(), bias[d0:e].copy())


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def scan_fwd_kernel(u, delta, bias, AT, Bv, Cv, Bf, Cf, D, z, b_var, c_var, use_softplus, has_z, act, reverse,
                    width, per_group, chunk, y, ckpt):
    """y and ckpt (batch, dim, n_chunks, N). u, delta, z, y: (batch, dim, L); AT: A transposed (N, dim); bias, D:
    (dim,), zeros when absent; B (and C): Bv (batch, groups, N, L) when b_var, else Bf (N, dim) (the other a
    placeholder). A var B is Bv[b, g, n, p] * Bf[n, d] with Bf ones, a fixed one Bf[n, d] alone: no branch in the
    loop over channels, so it vectorizes for every combination of flags."""
    batch, dim, L = u.shape
    N = AT.shape[0]
    blocks = dim // width
    for task in prange(batch * blocks):
        b, d0 = task // blocks, (task % blocks) * width
        g = d0 // per_group
        one = cast(u[0, 0, 0], 1.0)
        at, bf, cf, dl, bl = _block(AT, Bf, Cf, D, bias, d0, width)
        h = np.zeros((N, width), dtype=u.dtype)
        dtv, slope = np.empty(width, dtype=u.dtype), np.empty(width, dtype=u.dtype)
        dtu, yv = np.empty(width, dtype=u.dtype), np.empty(width, dtype=u.dtype)
        for c in range(ckpt.shape[2]):
            for t in range(c * chunk, min(L, (c + 1) * chunk)):
                p = L - 1 - t if reverse else t
                _step_inputs(u, delta, bl, dl, b, d0, p, use_softplus, dtv, slope, dtu, yv)
                for n in range(N):
                    bn = Bv[b, g, n, p] if b_var else one
                    cn = Cv[b, g, n, p] if c_var else one
                    if b_var and c_var:  # the models' case, without the per-channel factors (15 % at Vim-S)
                        for j in range(width):
                            hv = scan_exp(dtv[j] * at[n, j]) * h[n, j] + dtu[j] * bn
                            h[n, j] = hv
                            yv[j] += hv * cn
                    else:
                        for j in range(width):
                            hv = scan_exp(dtv[j] * at[n, j]) * h[n, j] + dtu[j] * (bn * bf[n, j])
                            h[n, j] = hv
                            yv[j] += hv * (cn * cf[n, j])
                if has_z:
                    _gate_rows(z, b, d0, p, act, yv, yv, slope)
                for j in range(width):
                    y[b, d0 + j, p] = yv[j]
            for j in range(width):
                for n in range(N):
                    ckpt[b, d0 + j, c, n] = h[n, j]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def scan_bwd_kernel(dout, u, delta, bias, AT, Bv, Cv, Bf, Cf, D, z, ckpt, b_var, c_var, use_softplus, has_z, act,
                    reverse, width, per_group, chunk, du, ddelta, dz, dA, dBv, dCv, dBf, dCf, dD, dbias):
    """Gradients by recompute from the checkpoints; arguments as the forward's, dout and du, ddelta, dz
    (batch, dim, L). Partial sums that the caller reduces: dA, dBf, dCf (batch, dim, N), dD and dbias
    (batch, dim); dBv, dCv (channel blocks per group, batch, groups, N, L)."""
    batch, dim, L = u.shape
    N = AT.shape[0]
    blocks = dim // width
    for task in prange(batch * blocks):
        b, d0 = task // blocks, (task % blocks) * width
        g, part = d0 // per_group, (d0 % per_group) // width
        one = cast(u[0, 0, 0], 1.0)
        at, bf, cf, dl, bl = _block(AT, Bf, Cf, D, bias, d0, width)
        decay = np.empty((chunk, N, width), dtype=u.dtype)
        states = np.empty((chunk + 1, N, width), dtype=u.dtype)  # states[i + 1] after step i; [0] the entry
        dts = np.empty((chunk, width), dtype=u.dtype)  # per step of the chunk: dt, d dt / d delta, gated dout
        slopes = np.ones((chunk, width), dtype=u.dtype)
        gds = np.empty((chunk, width), dtype=u.dtype)
        adj = np.zeros((N, width), dtype=u.dtype)  # the adjoint of the state after the step being walked
        next_decay = np.ones((N, width), dtype=u.dtype)
        dA_acc = np.zeros((N, width), dtype=u.dtype)
        dB_acc = np.zeros((N, width), dtype=u.dtype)
        dC_acc = np.zeros((N, width), dtype=u.dtype)
        dtu, yv = np.empty(width, dtype=u.dtype), np.empty(width, dtype=u.dtype)
        gB, dec = np.empty(width, dtype=u.dtype), np.empty(width, dtype=u.dtype)
        slope_z = np.empty(width, dtype=u.dtype)
        dD_acc = np.zeros(width, dtype=u.dtype)
        dbias_acc = np.zeros(width, dtype=u.dtype)
        for c in range(ckpt.shape[2] - 1, -1, -1):
            t0, t1 = c * chunk, min(L, (c + 1) * chunk)
            for n in range(N):
                for j in range(width):
                    states[0, n, j] = ckpt[b, d0 + j, c - 1, n] if c > 0 else cast(states[0, n, j], 0.0)
            for t in range(t0, t1):  # recompute: decays, states, and the gate's dz from the ungated output
                p, i = (L - 1 - t if reverse else t), t - t0
                _step_inputs(u, delta, bl, dl, b, d0, p, use_softplus, dts[i], slopes[i], dtu, yv)
                for n in range(N):
                    bn = Bv[b, g, n, p] if b_var else one
                    cn = Cv[b, g, n, p] if c_var else one
                    if b_var and c_var:
                        for j in range(width):
                            a = scan_exp(dts[i, j] * at[n, j])
                            hv = a * states[i, n, j] + dtu[j] * bn
                            decay[i, n, j] = a
                            states[i + 1, n, j] = hv
                            yv[j] += hv * cn
                    else:
                        for j in range(width):
                            a = scan_exp(dts[i, j] * at[n, j])
                            hv = a * states[i, n, j] + dtu[j] * (bn * bf[n, j])
                            decay[i, n, j] = a
                            states[i + 1, n, j] = hv
                            yv[j] += hv * (cn * cf[n, j])
                for j in range(width):
                    gds[i, j] = dout[b, d0 + j, p]
                if has_z:
                    _gate_rows(z, b, d0, p, act, gds[i], gds[i], slope_z)
                    for j in range(width):
                        dz[b, d0 + j, p] = dout[b, d0 + j, p] * yv[j] * slope_z[j]
            for t in range(t1 - 1, t0 - 1, -1):  # the adjoint, backwards through the chunk
                p, i = (L - 1 - t if reverse else t), t - t0
                for j in range(width):
                    dtu[j] = dts[i, j] * u[b, d0 + j, p]
                    gB[j] = cast(gB[j], 0.0)
                    dec[j] = cast(dec[j], 0.0)
                for n in range(N):
                    bn = Bv[b, g, n, p] if b_var else one
                    cn = Cv[b, g, n, p] if c_var else one
                    sum_b, sum_c = cast(one, 0.0), cast(one, 0.0)
                    if b_var and c_var:
                        for j in range(width):
                            gd = gds[i, j]
                            gv = adj[n, j] * next_decay[n, j] + cn * gd
                            adj[n, j] = gv
                            a = decay[i, n, j]
                            term = gv * a * states[i, n, j]
                            dA_acc[n, j] += term * dts[i, j]
                            dec[j] += term * at[n, j]
                            gB[j] += gv * bn
                            next_decay[n, j] = a
                            sum_b += gv * dtu[j]
                            sum_c += states[i + 1, n, j] * gd
                    else:  # a var B's gradient sums over channels, a fixed one's over steps
                        for j in range(width):
                            gd = gds[i, j]
                            gv = adj[n, j] * next_decay[n, j] + (cn * cf[n, j]) * gd
                            adj[n, j] = gv
                            a = decay[i, n, j]
                            term = gv * a * states[i, n, j]
                            dA_acc[n, j] += term * dts[i, j]
                            dec[j] += term * at[n, j]
                            gB[j] += gv * (bn * bf[n, j])
                            next_decay[n, j] = a
                            wb, wc = gv * dtu[j], states[i + 1, n, j] * gd
                            sum_b += wb * bf[n, j]
                            sum_c += wc * cf[n, j]
                            dB_acc[n, j] += wb * bn
                            dC_acc[n, j] += wc * cn
                    if b_var:
                        dBv[part, b, g, n, p] = sum_b
                    if c_var:
                        dCv[part, b, g, n, p] = sum_c
                for j in range(width):
                    uv, gd = u[b, d0 + j, p], gds[i, j]
                    du[b, d0 + j, p] = dts[i, j] * gB[j] + dl[j] * gd
                    dd = (uv * gB[j] + dec[j]) * slopes[i, j]
                    ddelta[b, d0 + j, p] = dd
                    dbias_acc[j] += dd
                    dD_acc[j] += gd * uv
        for j in range(width):
            for n in range(N):
                dA[b, d0 + j, n] = dA_acc[n, j]
                dBf[b, d0 + j, n] = dB_acc[n, j]
                dCf[b, d0 + j, n] = dC_acc[n, j]
            dD[b, d0 + j] = dD_acc[j]
            dbias[b, d0 + j] = dbias_acc[j]


def _set_threads() -> None:
    """Run on as many threads as torch does (torch.set_num_threads), within numba's pool."""
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def _plan(u: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> tuple[int, int, int]:
    """(channel block width, channels per group, checkpoint chunk): a block never straddles two groups."""
    dim, L = u.shape[1], u.shape[2]
    groups = next((t.shape[1] for t in (B, C) if t.dim() == 4), 1)
    per_group = dim // groups
    width = next(w for w in WIDTHS if per_group % w == 0)
    return width, per_group, default_chunk(L)


def _prepare(u, delta, A, B, C, D, z, delta_bias, softplus: bool, gate_act: str, reverse: bool) -> tuple:
    """The work dtype, the kernels' shared leading arrays and their flags. Sequences stay (batch, dim, L):
    a task reads its channels' rows with strided loads, which costs less than transposing them."""
    work = torch.float64 if u.dtype == torch.float64 else torch.float32
    place = u.new_empty(1, 1, 1, 1, dtype=work)  # what an absent or unused array is passed as
    Bv, Cv = (t.to(work).contiguous() if t.dim() == 4 else place for t in (B, C))
    Bf, Cf = (t.to(work).t().contiguous() if t.dim() == 2 else u.new_ones(A.shape[1], u.shape[1], dtype=work)
              for t in (B, C))
    zeros = u.new_zeros(u.shape[1], dtype=work)
    bias = delta_bias.to(work).contiguous() if delta_bias is not None else zeros
    D_ = D.to(work).contiguous() if D is not None else zeros
    z_ = z.to(work).contiguous() if z is not None else place[0]
    tensors = [u.to(work).contiguous(), delta.to(work).contiguous(), bias, A.to(work).t().contiguous(), Bv, Cv, Bf,
               Cf, D_, z_]
    flags = [B.dim() == 4, C.dim() == 4, bool(softplus), z is not None, GATE_IDS[gate_act], bool(reverse),
             *_plan(u, B, C)]
    return work, tensors, flags


class _Memory:
    """A tensor's memory as numpy sees it (``__array_interface__``), holding the tensor alive. Not
    ``Tensor.numpy()``: that marks the storage non-resizable for good, and FSDP frees its unsharded
    parameters (D, delta_bias may be one) by resizing their storage to zero."""

    def __init__(self, t: torch.Tensor):
        self.tensor = t
        self.__array_interface__ = dict(
            shape=tuple(t.shape), typestr=np.dtype(str(t.dtype).removeprefix("torch.")).str,
            data=(t.data_ptr(), False), strides=tuple(s * t.element_size() for s in t.stride()), version=3)


def _numpy(tensors) -> list[np.ndarray]:
    return [np.asarray(_Memory(t)) for t in tensors]


def scan_fwd(u, delta, A, B, C, D, z, delta_bias, softplus: bool, gate_act: str, reverse: bool):
    """(out (batch, dim, L) in u's dtype, checkpoints (batch, dim, n_chunks, N) in fp32/fp64) on validated inputs."""
    batch, dim, L = u.shape
    work, tensors, flags = _prepare(u, delta, A, B, C, D, z, delta_bias, softplus, gate_act, reverse)
    y = torch.empty(batch, dim, L, dtype=work)
    ckpt = torch.empty(batch, dim, -(-L // flags[-1]), A.shape[1], dtype=work)
    _set_threads()
    scan_fwd_kernel(*_numpy(tensors), *flags, *_numpy((y, ckpt)))
    return y.to(u.dtype), ckpt


def scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, ckpt, softplus: bool, gate_act: str, reverse: bool):
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias) in the inputs' dtypes; None for absent ones."""
    batch, dim, L = u.shape
    work, tensors, flags = _prepare(u, delta, A, B, C, D, z, delta_bias, softplus, gate_act, reverse)
    width, per_group = flags[-3], flags[-2]
    N, groups = A.shape[1], dim // per_group
    new = lambda *shape: torch.empty(*shape, dtype=work)  # noqa: E731
    du, ddelta = new(batch, dim, L), new(batch, dim, L)
    dz = new(batch, dim, L) if z is not None else tensors[-1]
    dA, dBf, dCf = new(batch, dim, N), new(batch, dim, N), new(batch, dim, N)
    dD, dbias = new(batch, dim), new(batch, dim)
    dBv, dCv = (new(per_group // width, batch, groups, N, L) if t.dim() == 4 else new(1, 1, 1, 1, 1) for t in (B, C))
    _set_threads()
    grads = (du, ddelta, dz, dA, dBv, dCv, dBf, dCf, dD, dbias)
    inputs = (dout.to(work).contiguous(), *tensors, ckpt.to(work).contiguous())
    scan_bwd_kernel(*_numpy(inputs), *flags, *_numpy(grads))
    dB, dC = (v.sum(0) if t.dim() == 4 else f.sum(0) for v, f, t in ((dBv, dBf, B), (dCv, dCf, C)))
    return (
        du.to(u.dtype), ddelta.to(delta.dtype), dA.sum(0).to(A.dtype), dB.to(B.dtype), dC.to(C.dtype),
        dD.sum(0).to(D.dtype) if D is not None else None, dz.to(z.dtype) if z is not None else None,
        dbias.sum(0).to(delta_bias.dtype) if delta_bias is not None else None,
    )
