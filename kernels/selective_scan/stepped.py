"""The scan as plain functional tensor ops in about 2*sqrt(L) steps: what exporters lower.

ONNX, ``torch.export``'s core-ATen decomposition and AOTInductor need the op as standard ops, with no
in-place writes and no data-dependent control flow. A loop over L would unroll into thousands of
nodes, and a closed form (masked T x T matrices per state) costs L*T work per state, which ONNX
Runtime pays in full (measured 6-13x slower than eager on vim_tiny). So the recurrence
h_t = exp(a_t) h_{t-1} + x_t runs as the torch backend's two levels, unrolled:

- level 1: T steps, each advancing every chunk at once from a zero state (one slice per step);
- level 2: nC steps carrying the state across chunk ends;
- one broadcast multiply-add fixes each position up with its chunk's entering state.

Time is laid out chunk-major, (T, nC, batch, dim, N), so each step reads one contiguous slice; B and C
stay at their group width (never repeated to every channel). The decay inside a chunk is the exp of
a cumulative sum of at most T log-decays, so precision does not depend on L. Accumulates in fp32
(fp64 stays fp64), as the other backends.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .activations import gate


def chunk_length(L: int) -> int:
    """T minimizing the unrolled steps, T + ceil(L / T)."""
    return math.isqrt(max(L, 1) - 1) + 1  # ceil(sqrt(L))


def stepped_scan(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
    D: torch.Tensor | None = None, z: torch.Tensor | None = None, delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False, gate_act: str = "silu", reverse: bool = False, checkpoint_every: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, states (batch, dim, n, N) in fp32) on validated inputs (B, C: (batch, groups, N, L) or (dim, N)).

    The states are those after every ``checkpoint_every`` steps and after the last, in scan order (the
    Triton kernels' checkpoints); without ``checkpoint_every`` only the final state (the torch backend's).
    """
    dtype_in = u.dtype
    work = torch.float64 if dtype_in == torch.float64 else torch.float32
    if reverse:
        u, delta, z = (t.flip(-1) if t is not None else None for t in (u, delta, z))
        B, C = (t.flip(-1) if t.dim() == 4 else t for t in (B, C))
    batch, dim, L = u.shape
    T = chunk_length(L)
    n_chunks = math.ceil(L / T)
    pad = n_chunks * T - L  # padded steps: no decay, no drive, so the state passes through unchanged

    def time_major(x: torch.Tensor) -> torch.Tensor:  # (..., L) -> (T, nC, ...)
        x = F.pad(x.to(work), (0, pad)).reshape(*x.shape[:-1], n_chunks, T)
        return x.permute(x.dim() - 1, x.dim() - 2, *range(x.dim() - 2))

    def per_channel(x: torch.Tensor, BC: torch.Tensor) -> torch.Tensor:  # x (T, nC, b, dim) * B -> (.., dim, N)
        if BC.dim() == 2:
            return x[..., None] * BC.to(work)
        groups = BC.shape[1]
        bc = time_major(BC)[..., None, :]  # (T, nC, b, groups, 1, N)
        return (x.reshape(T, n_chunks, batch, groups, dim // groups, 1) * bc).reshape(T, n_chunks, batch, dim, -1)

    dt = delta.to(work)
    if delta_bias is not None:
        dt = dt + delta_bias.to(work)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    u_tm, dt_tm = time_major(u), time_major(dt)
    log_decay = dt_tm[..., None] * A.to(work)  # (T, nC, batch, dim, N)
    drive = per_channel(dt_tm * u_tm, B)
    decay = log_decay.exp()

    state, local = drive[0], [drive[0]]
    for t in range(1, T):  # every chunk from a zero state
        state = decay[t] * state + drive[t]
        local.append(state)
    local = torch.stack(local)
    from_start = log_decay.cumsum(0)  # decay from each chunk's start through step t
    chunk_decay = from_start[-1].exp()
    state, carry = torch.zeros_like(local[0, 0]), [torch.zeros_like(local[0, 0])]
    for c in range(1, n_chunks):  # the state entering chunk c
        state = chunk_decay[c - 1] * state + local[-1, c - 1]
        carry.append(state)
    h = local + from_start.exp() * torch.stack(carry)

    if C.dim() == 2:
        y = (h * C.to(work)).sum(-1)
    else:
        groups = C.shape[1]
        c_tm = time_major(C)[..., None, :]
        y = (h.reshape(T, n_chunks, batch, groups, dim // groups, -1) * c_tm).sum(-1).reshape(T, n_chunks, batch, dim)
    if D is not None:
        y = y + u_tm * D.to(work)
    if z is not None:
        y = y * gate(time_major(z), gate_act)
    out = y.permute(2, 3, 1, 0).reshape(batch, dim, n_chunks * T)[..., :L].to(dtype_in)
    if reverse:
        out = out.flip(-1)
    every = checkpoint_every or L
    steps = [min(c * every + every - 1, L - 1) for c in range(math.ceil(L / every))]
    return out, torch.stack([h[s % T, s // T] for s in steps], dim=2)
