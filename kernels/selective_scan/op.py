"""The scan as one ``torch.library`` op, ``vimvision::selective_scan``, with its backward op.

A library op (unlike an ``autograd.Function``) stays one opaque node under torch.fx, shows up by
name under ``torch.jit.trace`` (fvcore), compiles under ``torch.compile(fullgraph=True)`` and can
carry a FLOP formula. ``triton_op`` lets the compiler see the Triton launches inside it. The
"torch" backend (the CPU kernel) is a plain custom op of its own, ``vimvision::chunked_scan``:
torch.compile traces a triton_op's body into the graph, and Inductor given the whole chunked scan
compiles for minutes and runs slower than the eager loop, so the compiler sees it as one opaque call.
The "numba" backend (the fused CPU kernels, ``fused_cpu.py``) is another such pair,
``vimvision::fused_cpu_scan``, and writes the Triton kernels' checkpoints. ``kernel`` names the Triton pair.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import chunked
from .activations import GATE_IDS

_NS = "vimvision"
KERNELS = ("sequential", "tiled")  # the Triton kernel pairs: the same arguments and checkpoints


def kernel_pair(kernel: str):
    """The kernel pair's module, imported on first use: the package imports without Triton."""
    if kernel == "tiled":
        from . import fused_tiled

        return fused_tiled
    from . import fused

    return fused


def default_chunk(L: int) -> int:
    """Steps between state checkpoints (the tiled kernels' tile length): a power of two in [16, 64]."""
    return min(64, max(16, 1 << max(L - 1, 0).bit_length()))


def checkpoint_chunk(L: int, backend: str) -> int | None:
    """Steps between the checkpoints a backend returns: the fused kernels (Triton, numba) write one every
    ``default_chunk(L)`` steps; the torch backend returns the final state only (None)."""
    return default_chunk(L) if backend in ("triton", "numba") else None


def _num_checkpoints(L: int, backend: str) -> int:
    chunk = checkpoint_chunk(L, backend)
    return 1 if chunk is None else (L + chunk - 1) // chunk


def _acc_dtype(t: Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


@torch.library.custom_op(f"{_NS}::chunked_scan", mutates_args=())
def chunked_scan(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
    delta_bias: Optional[Tensor], delta_softplus: bool, gate_act: str,
) -> tuple[Tensor, Tensor]:
    """The torch backend's forward, forwards in time: (out, final fp32 state (batch, dim, d_state)).
    Outputs are contiguous, as the fake kernel says (the chunked layout hands back padded views)."""
    out, last = chunked.scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act)
    return out.contiguous(), last.contiguous()


@chunked_scan.register_fake
def _(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act):
    return torch.empty_like(u), u.new_empty(u.shape[0], u.shape[1], A.shape[-1], dtype=_acc_dtype(u))


@torch.library.custom_op(f"{_NS}::chunked_scan_bwd", mutates_args=())
def chunked_scan_bwd(
    dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
    z: Optional[Tensor], delta_bias: Optional[Tensor], delta_softplus: bool, gate_act: str,
) -> list[Tensor]:
    """The torch backend's gradients, in ``selective_scan_bwd``'s order; absent inputs get empty tensors."""
    grads = chunked.scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act)
    return [g.contiguous() if g is not None else u.new_empty(0) for g in grads]


@chunked_scan_bwd.register_fake
def _(dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act):
    return [torch.empty_like(t) if t is not None else u.new_empty(0) for t in (u, delta, A, B, C, D, z, delta_bias)]


@torch.library.custom_op(f"{_NS}::fused_cpu_scan", mutates_args=())
def fused_cpu_scan(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
    delta_bias: Optional[Tensor], delta_softplus: bool, gate_act: str, reverse: bool,
) -> tuple[Tensor, Tensor]:
    """The numba backend's forward: (out, fp32 checkpoints (batch, dim, n, d_state)); numba is imported here."""
    from . import fused_cpu

    return fused_cpu.scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse)


@fused_cpu_scan.register_fake
def _(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse):
    n = _num_checkpoints(u.shape[-1], "numba")
    return torch.empty_like(u), u.new_empty(u.shape[0], u.shape[1], n, A.shape[-1], dtype=_acc_dtype(u))


@torch.library.custom_op(f"{_NS}::fused_cpu_scan_bwd", mutates_args=())
def fused_cpu_scan_bwd(
    dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
    z: Optional[Tensor], delta_bias: Optional[Tensor], ckpt: Tensor, delta_softplus: bool, gate_act: str,
    reverse: bool,
) -> list[Tensor]:
    """The numba backend's gradients, in ``selective_scan_bwd``'s order; absent inputs get empty tensors."""
    from . import fused_cpu

    grads = fused_cpu.scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, ckpt, delta_softplus, gate_act, reverse)
    return [g if g is not None else u.new_empty(0) for g in grads]


@fused_cpu_scan_bwd.register_fake
def _(dout, u, delta, A, B, C, D, z, delta_bias, ckpt, delta_softplus, gate_act, reverse):
    return [torch.empty_like(t) if t is not None else u.new_empty(0) for t in (u, delta, A, B, C, D, z, delta_bias)]


@torch.library.triton_op(f"{_NS}::selective_scan", mutates_args=())
def selective_scan(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
    delta_bias: Optional[Tensor], delta_softplus: bool, gate_act: str, reverse: bool, backend: str, kernel: str,
) -> tuple[Tensor, Tensor]:
    """Returns (out, fp32 state checkpoints (batch, dim, n, d_state)); the last checkpoint is the final state."""
    if backend == "triton":
        return kernel_pair(kernel).scan_fwd(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, GATE_IDS[gate_act], reverse
        )
    if backend == "numba":
        return fused_cpu_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse)
    u, delta, B, C, z = _flip_seq(reverse, u, delta, B, C, z)
    out, last = chunked_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act)
    (out,) = _flip_seq(reverse, out)
    return out, last.unsqueeze(2)


def _flip_seq(reverse: bool, *tensors):
    """The torch backend scans backwards by flipping time (CPU: the copies are cheap next to the scan)."""
    if not reverse:
        return tensors
    return tuple(t.flip(-1) if t is not None and t.dim() >= 3 else t for t in tensors)


@selective_scan.register_fake
def _(u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse, backend, kernel):
    n = _num_checkpoints(u.shape[-1], backend)
    return torch.empty_like(u), u.new_empty(u.shape[0], u.shape[1], n, A.shape[-1], dtype=_acc_dtype(u))


@torch.library.triton_op(f"{_NS}::selective_scan_bwd", mutates_args=())
def selective_scan_bwd(
    dout: Tensor, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor],
    z: Optional[Tensor], delta_bias: Optional[Tensor], ckpt: Tensor, delta_softplus: bool, gate_act: str,
    reverse: bool, backend: str, kernel: str,
) -> list[Tensor]:
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias); absent inputs get empty tensors."""
    if backend == "triton":
        grads = kernel_pair(kernel).scan_bwd(
            dout, u, delta, A, B, C, D, z, delta_bias, ckpt, delta_softplus, GATE_IDS[gate_act], reverse
        )
    elif backend == "numba":
        grads = fused_cpu_scan_bwd(dout, u, delta, A, B, C, D, z, delta_bias, ckpt, delta_softplus, gate_act, reverse)
    else:
        dout, u, delta, B, C, z = _flip_seq(reverse, dout, u, delta, B, C, z)
        du, ddelta, dA, dB, dC, dD, dz, ddelta_bias = chunked_scan_bwd(
            dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act
        )
        du, ddelta, dB, dC, dz = _flip_seq(reverse, du, ddelta, dB, dC, dz)
        grads = (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias)
    return [g if g is not None else u.new_empty(0) for g in grads]


@selective_scan_bwd.register_fake
def _(dout, u, delta, A, B, C, D, z, delta_bias, ckpt, delta_softplus, gate_act, reverse, backend, kernel):
    like = (u, delta, A, B, C, D, z, delta_bias)
    return [torch.empty_like(t) if t is not None else u.new_empty(0) for t in like]


def _setup_context(ctx, inputs, output):
    u, delta, A, B, C, D, z, delta_bias, delta_softplus, gate_act, reverse, backend, kernel = inputs
    ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, output[1])
    ctx.flags = (delta_softplus, gate_act, reverse, backend, kernel)


def _backward(ctx, dout, _dckpt):
    """No gradient flows through the returned state, as in mamba-ssm."""
    u, delta, A, B, C, D, z, delta_bias, ckpt = ctx.saved_tensors
    grads = selective_scan_bwd(dout.contiguous(), u, delta, A, B, C, D, z, delta_bias, ckpt, *ctx.flags)
    present = (u, delta, A, B, C, D, z, delta_bias)
    return (*(g if t is not None else None for g, t in zip(grads, present)), None, None, None, None, None)


selective_scan.register_autograd(_backward, setup_context=_setup_context)


def scan_flops(batch: int, dim: int, L: int, d_state: int, with_D: bool, with_z: bool) -> int:
    """The published count (VMamba's ``flops_selective_scan_ref``): 9·B·L·D·N, plus B·D·L each for D and z."""
    return batch * dim * L * (9 * d_state + int(with_D) + int(with_z))


def _register_flop_formula() -> None:
    from torch.utils.flop_counter import flop_registry, register_flop_formula

    op = torch.ops.vimvision.selective_scan
    if op in flop_registry:  # a module reload must not register twice
        return

    @register_flop_formula(op)
    def _flops(u_shape, delta_shape, A_shape, B_shape, C_shape, D_shape, z_shape, *args, **kwargs) -> int:
        """The counter's unit is the FLOP, two per multiply-add (as its matmul formulas)."""
        batch, dim, L = u_shape
        return 2 * scan_flops(batch, dim, L, A_shape[-1], D_shape is not None, z_shape is not None)


_register_flop_formula()
