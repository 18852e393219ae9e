"""Sequential PyTorch reference of the selective scan: the source of truth for every backend.

It follows mamba-ssm's ``selective_scan_ref`` step by step, in fp32 (fp64 stays fp64), with plain
autograd. Per-step slices are taken with ``unbind`` so that autograd stacks their gradients once;
indexing ``x[..., t]`` inside the loop makes the backward quadratic in L.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .activations import gate


def expand_groups(BC: torch.Tensor, dim: int) -> torch.Tensor:
    """(batch, groups, N, L) -> (batch, dim, N, L): channel d reads group d // (dim // groups)."""
    groups = BC.shape[1]
    return BC.repeat_interleave(dim // groups, dim=1)


def selective_scan_ref(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    gate_act: str = "silu",
):
    """Reference scan on already validated inputs; B and C are (batch, groups, N, L) or (dim, N)."""
    dtype_in = u.dtype
    work = torch.float64 if dtype_in == torch.float64 else torch.float32
    u, delta, A = u.to(work), delta.to(work), A.to(work)
    batch, dim, L = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias.to(work)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)  # threshold 20, as the CUDA kernel
    decay = torch.exp(torch.einsum("bdl,dn->bldn", delta, A))
    if B.dim() == 2:
        drive = torch.einsum("bdl,dn,bdl->bldn", delta, B.to(work), u)
    else:
        drive = torch.einsum("bdl,bdnl,bdl->bldn", delta, expand_groups(B.to(work), dim), u)
    if C.dim() == 2:
        Cs = [C.to(work)] * L
    else:
        Cs = expand_groups(C.to(work), dim).permute(0, 3, 1, 2).unbind(1)
    h = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for a_t, x_t, c_t in zip(decay.unbind(1), drive.unbind(1), Cs):
        h = a_t * h + x_t
        ys.append((h * c_t).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D.to(work)[:, None]
    if z is not None:
        y = y * gate(z.to(work), gate_act)
    return (y.to(dtype_in), h) if return_last_state else y.to(dtype_in)
