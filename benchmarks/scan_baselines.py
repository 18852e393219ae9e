"""The plain-PyTorch scans people use today, rewritten from their algorithms for the benchmark.

Not used by the models, so not part of the package: ``benchmarks/benchmark_ops.py`` times them
against our backends and reports whether each output is finite; no test checks that they compute
the same scan as ours. All take mamba's layout
(u, delta: (batch, dim, L); A: (dim, N); B, C: (batch, groups, N, L); D: (dim,)) and do no bias,
softplus or gate, as the public versions.
"""
from __future__ import annotations

import torch

from vimvision.kernels.selective_scan.naive import expand_groups


def _discretize(u, delta, A, B, layout: str):
    dim = u.shape[1]
    Bx = expand_groups(B, dim)
    decay = torch.exp(torch.einsum("bdl,dn->" + layout, delta, A))
    drive = torch.einsum("bdl,bdnl,bdl->" + layout, delta, Bx, u)
    return decay, drive


def scan_indexing_loop(u, delta, A, B, C, D):
    """mamba-ssm's ``selective_scan_ref``: (b, d, l, n) tensors indexed step by step.

    Autograd through ``x[:, :, i]`` materializes a full-size gradient per step, so the backward is
    quadratic in L."""
    decay, drive = _discretize(u, delta, A, B, "bdln")
    Cx = expand_groups(C, u.shape[1])
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        h = decay[:, :, i] * h + drive[:, :, i]
        ys.append(torch.einsum("bdn,bdn->bd", h, Cx[:, :, :, i]))
    return torch.stack(ys, dim=2) + u * D[:, None]


def scan_time_major_loop(u, delta, A, B, C, D):
    """mamba-minimal's precompute-then-loop scan in the faster (b, l, d, n) layout."""
    decay, drive = _discretize(u, delta, A, B, "bldn")
    Cx = expand_groups(C, u.shape[1]).permute(0, 3, 1, 2)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        h = decay[:, i] * h + drive[:, i]
        ys.append((h * Cx[:, i]).sum(-1))
    return torch.stack(ys, dim=2) + u * D[:, None]


def _blelloch_(a: torch.Tensor, x: torch.Tensor) -> None:
    """In-place inclusive scan h_t = a_t h_{t-1} + x_t along dim 1 (length a power of two)."""
    L = a.shape[1]
    s = 1
    while s < L:  # up-sweep: each node i = k*2s - 1 combines its left sibling
        x[:, 2 * s - 1 :: 2 * s].addcmul_(a[:, 2 * s - 1 :: 2 * s], x[:, s - 1 : L - s : 2 * s])
        a[:, 2 * s - 1 :: 2 * s].mul_(a[:, s - 1 : L - s : 2 * s])
        s *= 2
    s = L // 4
    while s >= 1:  # down-sweep: nodes i = 2s*m + s - 1 take the full prefix ending at i - s
        x[:, 3 * s - 1 :: 2 * s].addcmul_(a[:, 3 * s - 1 :: 2 * s], x[:, 2 * s - 1 : L - s : 2 * s])
        s //= 2


class _PScan(torch.autograd.Function):
    """mamba.py's parallel scan: Blelloch forward, the same scan reversed for the backward."""

    @staticmethod
    def forward(ctx, a, x):
        L = a.shape[1]
        size = 1 << (L - 1).bit_length()
        pad = [0, 0] * (a.dim() - 2) + [0, size - L]
        a_, h = torch.nn.functional.pad(a, pad, value=1.0), torch.nn.functional.pad(x, pad)
        _blelloch_(a_.clone(), h)
        h = h[:, :L]
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, dh):
        a, h = ctx.saved_tensors
        L = a.shape[1]
        size = 1 << (L - 1).bit_length()
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], 1).flip(1)
        pad = [0, 0] * (a.dim() - 2) + [0, size - L]
        a_next = torch.nn.functional.pad(a_next, pad, value=1.0)
        g = torch.nn.functional.pad(dh.flip(1), pad)
        _blelloch_(a_next, g)
        g = g[:, :L].flip(1)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], 1)
        return g * h_prev, g


def scan_blelloch(u, delta, A, B, C, D):
    """Parallel (Blelloch) scan over full (b, l, d, n) tensors, L padded to a power of two."""
    decay, drive = _discretize(u, delta, A, B, "bldn")
    h = _PScan.apply(decay, drive)
    Cx = expand_groups(C, u.shape[1]).permute(0, 3, 1, 2)
    return (h * Cx).sum(-1).transpose(1, 2) + u * D[:, None]


def scan_chunked_cumsum(u, delta, A, B, C, D, chunk: int = 64):
    """VMamba's ``selective_scan_easy`` idea: per chunk, h_t = exp(cum_t) (h0 + sum_s drive_s / exp(cum_s)).

    Fully vectorized inside a chunk but divides by decays that underflow: NaN for large A * delta."""
    decay_log = torch.einsum("bdl,dn->bldn", delta, A)
    _, drive = _discretize(u, delta, A, B, "bldn")
    Cx = expand_groups(C, u.shape[1]).permute(0, 3, 1, 2)
    h0 = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for s in range(0, u.shape[2], chunk):
        cum = decay_log[:, s : s + chunk].cumsum(1)
        h = torch.exp(cum) * (h0[:, None] + (drive[:, s : s + chunk] / torch.exp(cum)).cumsum(1))
        ys.append((h * Cx[:, s : s + chunk]).sum(-1))
        h0 = h[:, -1]
    return torch.cat(ys, 1).transpose(1, 2) + u * D[:, None]


BASELINES = {
    "indexing loop (mamba ref)": scan_indexing_loop,
    "time-major loop (mamba-minimal)": scan_time_major_loop,
    "Blelloch pscan (mamba.py)": scan_blelloch,
    "chunked cumsum (VMamba easy)": scan_chunked_cumsum,
}
