"""Fast pure-PyTorch selective scan (the "torch" backend): a two-level chunked scan with a
hand-written backward.

Why this shape: on a CPU the cost is the number of passes over the (time, batch, dim, d_state)
intermediates, not arithmetic. Time is laid out chunk-major, ``(T, n_chunks, batch, groups,
dim_per_group, d_state)``, so that

* level 1 scans all chunks at once, one contiguous slice per in-chunk position (T steps),
* level 2 carries the state across chunks on small (batch, dim, d_state) slices (n_chunks steps),
* a single fused multiply-add fixes every position up with the carried state,

which is O(sqrt(L)) Python steps and a handful of full passes, and never divides by a decay
(the cumsum/divide trick underflows). The backward recomputes the states from the inputs and runs
the adjoint as the same scan in reverse with the decay shifted by one step.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict

import torch
import torch.nn.functional as F

from .activations import gate, gate_grad


class _Workspace(threading.local):
    """Reusable full-size scratch tensors, per thread, least recently used first out.

    A fresh multi-megabyte CPU tensor is page-faulted in on first touch, which costs as much as the
    op that fills it; reusing scratch across calls (layers of the same shape) halves the backward.
    Only plain eager tensors use it: traced tensor subclasses always get fresh memory. Buffers are
    made outside inference mode whatever the caller's mode: an inference tensor could never again
    be written to outside ``torch.inference_mode()``, which would break every later forward of the
    same shape. ``free_scan_workspace()`` releases the calling thread's buffers.
    """

    max_bytes = 1 << 30

    def __init__(self):
        self.buffers: OrderedDict = OrderedDict()

    def get(self, slot: str, shape, like: torch.Tensor) -> torch.Tensor:
        if type(like) is not torch.Tensor or torch.compiler.is_compiling():
            return like.new_empty(shape)
        key = (slot, tuple(shape), like.dtype, like.device)
        buf = self.buffers.pop(key, None)
        if buf is None:
            with torch.inference_mode(False):
                buf = torch.empty(shape, dtype=like.dtype, device=like.device)
        self.buffers[key] = buf
        while sum(b.numel() * b.element_size() for b in self.buffers.values()) > self.max_bytes:
            self.buffers.popitem(last=False)
        return buf


_workspace = _Workspace()


def free_scan_workspace() -> int:
    """Release the torch backend's scratch buffers held by the calling thread; returns the bytes freed.

    The buffers (up to ``_Workspace.max_bytes`` per thread) are kept between calls so that layers of
    one shape reuse them; call this after inference at a large shape to give the memory back.
    """
    freed = sum(b.numel() * b.element_size() for b in _workspace.buffers.values())
    _workspace.buffers.clear()
    return freed


def chunk_shape(L: int) -> tuple[int, int]:
    """(chunk length T, number of chunks) with both close to sqrt(L)."""
    n_chunks = max(1, math.ceil(math.sqrt(L)))
    T = math.ceil(L / n_chunks)
    return T, math.ceil(L / T)


class _Layout:
    """Moves (batch, dim, L) and (batch, groups, N, L) tensors to and from the chunk-major layout
    (T, batch, groups, dim/groups, n_chunks, N): each (batch, channel) row becomes a small
    (n_chunks, T) block transpose, which is cache friendly, and each in-chunk step is contiguous."""

    def __init__(self, batch: int, dim: int, groups: int, L: int):
        self.batch, self.dim, self.groups, self.L = batch, dim, groups, L
        self.T, self.n_chunks = chunk_shape(L)
        self.pad = self.T * self.n_chunks - L

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, self.pad)) if self.pad else x

    def seq(self, x: torch.Tensor, slot: str) -> torch.Tensor:
        """(batch, dim, L) -> (T, batch, groups, dim/groups, n_chunks, 1), zero-padded in time."""
        x = self._padded(x).view(self.batch, self.dim, self.n_chunks, self.T).permute(3, 0, 1, 2)
        out = _workspace.get(slot, x.shape, x).copy_(x)
        return out.view(self.T, self.batch, self.groups, -1, self.n_chunks, 1)

    def unseq(self, x: torch.Tensor) -> torch.Tensor:
        """Back to (batch, dim, L), always as fresh memory (x may be a reused workspace buffer)."""
        x = x.reshape(self.T, self.batch, self.dim, self.n_chunks).permute(1, 2, 3, 0)
        out = x.new_empty(self.batch, self.dim, self.n_chunks * self.T)
        out.view(x.shape).copy_(x)
        return out[..., : self.L]

    def bc(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, groups, N, L) -> (T, batch, groups, 1, n_chunks, N); fixed (dim, N) -> (groups, dim/groups, 1, N)."""
        if x.dim() == 2:
            return x.view(self.groups, -1, 1, x.shape[-1])
        x = self._padded(x).view(*x.shape[:3], self.n_chunks, self.T)
        return x.permute(4, 0, 1, 3, 2).unsqueeze(3).contiguous()

    def unbc(self, x: torch.Tensor) -> torch.Tensor:
        x = x.squeeze(3).permute(1, 2, 4, 3, 0)
        return x.reshape(*x.shape[:3], -1)[..., : self.L]

    def channel(self, x: torch.Tensor) -> torch.Tensor:
        """(dim,) -> (groups, dim/groups, 1, 1)."""
        return x.view(self.groups, -1, 1, 1)


def _scan(a: torch.Tensor, x: torch.Tensor, reverse: bool, prod: torch.Tensor):
    """In place on x: h_t = a_t * h_{t-1} + x_t (reverse: h_t = a_t * h_{t+1} + x_t) from a zero state.

    ``prod`` is a buffer like ``a`` for the running product of the decays inside each chunk; it may
    be ``a`` itself when the decays are not needed afterwards.
    Returns (h, carry, final): carry[..., c, :] is the state entering chunk c from its neighbour.
    """
    T, n_chunks = a.shape[0], a.shape[-2]
    steps = range(T - 2, -1, -1) if reverse else range(1, T)
    first = T - 1 if reverse else 0
    if prod is not a:
        prod[first].copy_(a[first])
    for t in steps:
        prev = t + 1 if reverse else t - 1
        x[t].addcmul_(a[t], x[prev])
        torch.mul(a[t], prod[prev], out=prod[t])
    last = 0 if reverse else T - 1
    carry = torch.empty_like(x[0])
    state = torch.zeros_like(x[0, ..., 0, :])
    for c in (range(n_chunks - 1, -1, -1) if reverse else range(n_chunks)):
        carry[..., c, :].copy_(state)
        state = torch.addcmul(x[last, ..., c, :], prod[last, ..., c, :], state)
    x.addcmul_(prod, carry.unsqueeze(0))
    return x, carry, state


def _contract_state(h: torch.Tensor, C: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
    """sum_n h[..., n] * C[..., n], keeping a trailing 1; ``buf`` (like h) takes the product."""
    prod = torch.mul(h, C, out=buf)
    return prod if h.shape[-1] == 1 else prod.sum(-1, keepdim=True)


def _contract_channels(w: torch.Tensor, h: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
    """sum over the channels of a group of w * h: the grouped dB / dC reduction."""
    return torch.mul(w, h, out=buf).sum(-3, keepdim=True)


def _acc(t: torch.Tensor) -> torch.Tensor:
    """The accumulation dtype: fp32, or fp64 for fp64 inputs (gradcheck)."""
    return t if t.dtype == torch.float64 else t.float()


def _full(slot: str, like: torch.Tensor, shape) -> torch.Tensor:
    return _workspace.get(slot, torch.broadcast_shapes(*shape), like)


def _shift_next(a: torch.Tensor) -> torch.Tensor:
    """a_{t+1} in the chunk-major layout; the step after the last one gets 1 (its adjoint is 0)."""
    nxt = _workspace.get("decay_next", a.shape, a)
    nxt[:-1] = a[1:]
    nxt[-1, ..., :-1, :] = a[0, ..., 1:, :]
    nxt[-1, ..., -1, :] = 1
    return nxt


def _prepare(u, delta, A, B, C, delta_bias, softplus):
    batch, dim, L = u.shape
    groups = next((t.shape[1] for t in (B, C) if t.dim() == 4), 1)
    lay = _Layout(batch, dim, groups, L)
    pre = _acc(delta)
    if delta_bias is not None:
        pre = pre + _acc(delta_bias)[:, None]
    dt = F.softplus(pre) if softplus else pre
    A_ = _acc(A).view(groups, dim // groups, 1, A.shape[-1])
    return lay, pre, dt, A_, lay.bc(_acc(B)), lay.bc(_acc(C))


def scan_fwd(u, delta, A, B, C, D, z, delta_bias, softplus: bool, gate_act: str):
    """Forward on validated inputs; returns (out in u.dtype, last state in fp32)."""
    lay, _, dt, A_, B_, C_ = _prepare(u, delta, A, B, C, delta_bias, softplus)
    dt_c, u_c = lay.seq(dt, "dt"), lay.seq(_acc(u), "u")
    full = (dt_c.shape, A_.shape, B_.shape)
    decay = torch.mul(dt_c, A_, out=_full("decay", dt_c, full)).exp_()
    x = torch.mul(dt_c * u_c, B_, out=_full("state", dt_c, full))
    h, _, last = _scan(decay, x, reverse=False, prod=decay)
    y = lay.unseq(_contract_state(h, C_, buf=decay))
    if D is not None:
        y = y + _acc(u) * _acc(D)[:, None]
    if z is not None:
        y = y * gate(_acc(z), gate_act)
    return y.to(u.dtype), last.reshape(u.shape[0], u.shape[1], A.shape[-1])


def scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, softplus: bool, gate_act: str):
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias); None for absent inputs.

    Recomputes the states, runs the adjoint g_t = C_t dout_t + a_{t+1} g_{t+1} as a reverse scan,
    then forms every gradient from (g, h, h_{t-1}). Full-size temporaries are reused (``out=``):
    on a CPU a fresh 77 MB tensor costs as much as the op that fills it.
    """
    lay, pre, dt, A_, B_, C_ = _prepare(u, delta, A, B, C, delta_bias, softplus)
    dt_c, u_c = lay.seq(dt, "dt"), lay.seq(_acc(u), "u")
    full = (dt_c.shape, A_.shape, B_.shape)
    decay = torch.mul(dt_c, A_, out=_full("decay", dt_c, full)).exp_()
    decay_next = _shift_next(decay)
    work = _full("work", dt_c, full)
    x = torch.mul(dt_c * u_c, B_, out=_full("state", dt_c, full))
    h, carry, _ = _scan(decay, x, reverse=False, prod=work)
    dout = _acc(dout)
    dz = None
    if z is not None:
        zf = _acc(z)
        y = lay.unseq(_contract_state(h, C_, buf=work))
        if D is not None:
            y = y + _acc(u) * _acc(D)[:, None]
        dz = (dout * y * gate_grad(zf, gate_act)).to(z.dtype)
        dout = dout * gate(zf, gate_act)
    dout_c = lay.seq(dout, "dout")
    g = torch.mul(dout_c, C_, out=_full("adjoint", dt_c, full))
    g, _, _ = _scan(decay_next, g, reverse=True, prod=decay_next)
    del decay_next
    # dec_term = g_t * a_t * h_{t-1}; h_{t-1} at a chunk's first position is the carried state
    dec_term = work
    dec_term[0].copy_(carry)
    dec_term[1:].copy_(h[:-1])
    dec_term.mul_(decay).mul_(g)
    buf = decay
    reduce_dims = (0, 1, 4)
    dA = torch.mul(dec_term, dt_c, out=buf).sum(reduce_dims).reshape(A.shape)
    gB = _contract_state(g, B_, buf=buf)
    du = torch.mul(dt_c, gB, out=_workspace.get("du", dt_c.shape, dt_c))
    ddt = torch.mul(gB, u_c, out=_workspace.get("ddt", dt_c.shape, dt_c)).add_(_contract_state(dec_term, A_, buf=buf))
    if D is not None:
        du.addcmul_(dout_c, lay.channel(_acc(D)))
    dtu = torch.mul(dt_c, u_c, out=_workspace.get("dtu", dt_c.shape, dt_c))
    if B.dim() == 2:
        dB = torch.mul(g, dtu, out=buf).sum(reduce_dims).reshape(B.shape)
    else:
        dB = lay.unbc(_contract_channels(dtu, g, buf=buf))
    if C.dim() == 2:
        dC = torch.mul(h, dout_c, out=buf).sum(reduce_dims).reshape(C.shape)
    else:
        dC = lay.unbc(_contract_channels(dout_c, h, buf=buf))
    dD = (dout * _acc(u)).sum((0, 2)).to(D.dtype) if D is not None else None
    ddelta = lay.unseq(ddt)
    if softplus:
        ddelta = torch.where(pre <= 20, ddelta * torch.sigmoid(pre), ddelta)
    ddelta_bias = ddelta.sum((0, 2)).to(delta_bias.dtype) if delta_bias is not None else None
    return (
        lay.unseq(du).to(u.dtype), ddelta.to(delta.dtype), dA.to(A.dtype), dB.to(B.dtype),
        dC.to(C.dtype), dD, dz, ddelta_bias,
    )
