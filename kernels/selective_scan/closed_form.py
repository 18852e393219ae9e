"""The scan as a closed form of plain tensor ops, with no loop over time: what exporters can lower.

ONNX, ``torch.export``'s core-ATen decomposition and AOTInductor need the op as standard ops. A loop
over L would unroll into thousands of nodes, so the sequence is cut into chunks of T steps and the
recurrence h_t = exp(a_t) h_{t-1} + x_t is solved in two levels, as Mamba-2's SSD does (but with a
decay per state, not per head):

- inside a chunk, h_t = sum_{s<=t} exp(a_{s+1} + ... + a_t) x_s: a masked T x T matrix per state;
- across chunks, each chunk's start state is the earlier chunks' final local states, decayed through
  the chunks between: a masked nC x nC matrix per state.

Sums of log-decays are taken as segment sums (masked cumulative sums), never as differences of one
long cumulative sum, so long sequences keep fp32 precision. Work is L*T + nC^2 per state; T is chosen
to minimize it. Accumulates in fp32 (fp64 stays fp64), as the other backends.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .activations import gate
from .naive import expand_groups


def chunk_length(L: int) -> int:
    """T minimizing the two levels' work, L_padded * T + nC^2 (about (2L)^(1/3))."""
    return min(range(1, min(L, 64) + 1), key=lambda t: math.ceil(L / t) * t * t + math.ceil(L / t) ** 2)


def segment_sum(x: torch.Tensor) -> torch.Tensor:
    """(..., T) -> (..., T, T): [t, s] = x_{s+1} + ... + x_t for s <= t, -inf above the diagonal."""
    T = x.shape[-1]
    idx = torch.arange(T, device=x.device)
    strictly_below = idx[:, None] > idx[None, :]
    terms = torch.where(strictly_below, x[..., :, None].expand(*x.shape, T), 0.0)  # [k, s] = x_k for k > s
    sums = terms.cumsum(-2)
    return torch.where(idx[:, None] >= idx[None, :], sums, -math.inf)


def _per_state(BC: torch.Tensor, dim: int, work: torch.dtype) -> torch.Tensor:
    """B or C as (batch or 1, dim, N, L or 1)."""
    BC = BC.to(work)
    return BC[None, :, :, None] if BC.dim() == 2 else expand_groups(BC, dim)


def closed_form_scan(
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
    N = A.shape[-1]
    u, dt = u.to(work), delta.to(work)
    if delta_bias is not None:
        dt = dt + delta_bias.to(work)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    log_decay = dt[:, :, None, :] * A.to(work)[None, :, :, None]  # (batch, dim, N, L)
    drive = (dt * u)[:, :, None, :] * _per_state(B, dim, work)

    T = chunk_length(L)
    n_chunks = math.ceil(L / T)
    pad = n_chunks * T - L  # padded steps: no decay, no drive, so the state passes through unchanged
    log_decay = F.pad(log_decay, (0, pad)).reshape(batch, dim, N, n_chunks, T)
    drive = F.pad(drive, (0, pad)).reshape(batch, dim, N, n_chunks, T)

    local = (segment_sum(log_decay).exp() @ drive[..., None]).squeeze(-1)  # chunks started from zero
    from_start = log_decay.cumsum(-1)  # decay from each chunk's start through step t
    # the state entering chunk c: chunk c' < c's final local state, decayed through chunks c'+1 .. c-1
    between = F.pad(segment_sum(from_start[..., -1])[..., :-1, :], (0, 0, 1, 0), value=-math.inf)
    carry = (between.exp() @ local[..., -1:]).squeeze(-1)
    h = (local + from_start.exp() * carry[..., None]).reshape(batch, dim, N, n_chunks * T)[..., :L]

    y = (h * _per_state(C, dim, work)).sum(2)
    if D is not None:
        y = y + u * D.to(work)[:, None]
    if z is not None:
        y = y * gate(z.to(work), gate_act)
    out = y.to(dtype_in)
    if reverse:
        out = out.flip(-1)
    every = checkpoint_every or L
    steps = [min(c * every + every - 1, L - 1) for c in range(math.ceil(L / every))]
    return out, h[..., steps].permute(0, 1, 3, 2).contiguous()
