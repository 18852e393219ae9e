"""``selective_scan_fn``: mamba-ssm's selective scan with a choice of backend and gate activation."""
from __future__ import annotations

import os

import torch

from ..backend import check_backend, resolve_backend
from .activations import GATE_ACTS
from .naive import selective_scan_ref
from .op import KERNELS, selective_scan

_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def resolve_kernel(kernel: str | None) -> str:
    """The Triton kernel pair: the argument, else $VIMVISION_SCAN_KERNEL, else "sequential" (untuned:
    choosing between the two by measurement is the GPU issue's job)."""
    kernel = kernel or os.environ.get("VIMVISION_SCAN_KERNEL", "sequential")
    if kernel not in KERNELS:
        _fail("kernel", f"{kernel!r} (the argument or $VIMVISION_SCAN_KERNEL)", f"one of {KERNELS}")
    return kernel


def _fail(name: str, got, expected: str, exc=ValueError):
    raise exc(f"selective_scan_fn: {name} has {got}, expected {expected}")


def _check_tensor(name: str, t, shapes: list[tuple], like: torch.Tensor, dtypes=None) -> None:
    if not isinstance(t, torch.Tensor):
        _fail(name, f"type {type(t).__name__}", "a torch.Tensor", TypeError)
    if t.is_complex():
        _fail(name, f"complex dtype {t.dtype}", "a real floating dtype (complex A/B/C are not supported)", TypeError)
    if not t.is_floating_point():
        _fail(name, f"dtype {t.dtype}", "a floating dtype", TypeError)
    if dtypes is not None and t.dtype not in dtypes:
        _fail(name, f"dtype {t.dtype}", f"one of {[str(d) for d in dtypes]}", TypeError)
    if t.device != like.device:
        _fail(name, f"device {t.device}", f"the device of u ({like.device})")
    # lengths first: tuples compare element by element, and an exported batch must not meet a fixed size here
    if not any(len(s) == t.dim() and tuple(t.shape) == s for s in shapes):
        _fail(name, f"shape {tuple(t.shape)}", " or ".join(str(s) for s in shapes))


def _normalize_bc(name: str, t: torch.Tensor, batch: int, dim: int, N: int, L: int, u: torch.Tensor):
    """Accept (dim, N), (batch, N, L) or (batch, groups, N, L); return 2-D or 4-D."""
    if isinstance(t, torch.Tensor) and t.dim() == 4:
        groups = t.shape[1]
        if groups < 1 or dim % groups:
            _fail(name, f"{groups} groups (shape {tuple(t.shape)})", f"a number of groups dividing dim={dim}")
        _check_tensor(name, t, [(batch, groups, N, L)], u)
        return t
    _check_tensor(name, t, [(dim, N), (batch, N, L), (batch, "groups", N, L)], u)
    return t.unsqueeze(1) if t.dim() == 3 else t


def _validate(u, delta, A, B, C, D, z, delta_bias, gate_act: str, backend: str):
    """Raise a ValueError/TypeError naming the argument, what it has and what was expected;
    return B and C in their 2-D or 4-D form and the resolved backend."""
    check_backend(backend, "selective_scan_fn")
    if gate_act not in GATE_ACTS:
        _fail("gate_act", repr(gate_act), f"one of {GATE_ACTS}")
    if not isinstance(u, torch.Tensor) or u.dim() != 3:
        _fail("u", f"shape {tuple(getattr(u, 'shape', ()))}", "(batch, dim, L)")
    batch, dim, L = u.shape
    wide = _DTYPES + (torch.float64,)
    _check_tensor("u", u, [(batch, dim, L)], u, wide)
    _check_tensor("delta", delta, [(batch, dim, L)], u, wide)
    if not isinstance(A, torch.Tensor) or A.dim() != 2 or A.shape[0] != dim:
        _fail("A", f"shape {tuple(getattr(A, 'shape', ()))}", f"(dim={dim}, d_state)")
    N = A.shape[1]
    if N == 0:
        _fail("A", f"shape {tuple(A.shape)}", f"(dim={dim}, d_state) with d_state >= 1")
    _check_tensor("A", A, [(dim, N)], u)
    B = _normalize_bc("B", B, batch, dim, N, L, u)
    C = _normalize_bc("C", C, batch, dim, N, L, u)
    if B.dim() == 4 and C.dim() == 4 and B.shape[1] != C.shape[1]:
        _fail("C", f"{C.shape[1]} groups", f"the same number of groups as B ({B.shape[1]})")
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is not None:
            _check_tensor(name, t, [(dim,)], u)
    if z is not None:
        _check_tensor("z", z, [(batch, dim, L)], u, wide)
    backend = resolve_backend(backend, u, "selective_scan_fn", has_numba=True)
    if backend == "triton":
        _check_tensor("u", u, [(batch, dim, L)], u, _DTYPES)
    return B, C, backend


def selective_scan_fn(
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
    backend: str = "auto",
    reverse: bool = False,
    kernel: str | None = None,
):
    """Mamba S6 selective scan, same semantics as ``mamba_ssm.selective_scan_fn``.

    dt = softplus(delta + delta_bias) (if asked); h_t = exp(dt A) h_{t-1} + dt B_t u_t;
    y_t = C_t . h_t + D u_t; out = y * gate_act(z). Shapes: u, delta, z (batch, dim, L); A (dim, N);
    B, C (batch, groups, N, L), (batch, N, L) or fixed (dim, N); D, delta_bias (dim,). Returns out
    (u's dtype) and, if asked, the final state (batch, dim, N) in fp32, through which no gradient flows.
    backend: "triton" (fused kernels), "numba" (fused CPU kernels), "torch" (chunked PyTorch),
    "reference" (sequential loop), "auto" (triton on CUDA, numba on CPU where installed, else torch).
    reverse=True scans from the last position to the first, i.e. flip(scan(flip(inputs))), without flipped
    copies on the fused backends. kernel: the triton backend's kernel pair, "sequential" or "tiled"
    (default $VIMVISION_SCAN_KERNEL, else sequential).
    """
    if torch.jit.is_tracing():  # fvcore's jit trace: shape checks would only add TracerWarnings
        B, C = (t.unsqueeze(1) if t.dim() == 3 else t for t in (B, C))
        backend = resolve_backend(backend, u, "selective_scan_fn", has_numba=True)
    else:
        B, C, backend = _validate(u, delta, A, B, C, D, z, delta_bias, gate_act, backend)
    if not torch.jit.is_tracing() and u.numel() == 0:  # batch, dim or L 0: an empty output in u's autograd graph
        state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1], dtype=torch.float64 if u.dtype == torch.float64
                            else torch.float32)
        return (u * 0, state) if return_last_state else u * 0
    if backend == "reference":
        if reverse:
            u, delta, B, C, z = (t.flip(-1) if t is not None and t.dim() >= 3 else t for t in (u, delta, B, C, z))
        result = selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, gate_act)
        if not reverse:
            return result
        return (result[0].flip(-1), result[1]) if return_last_state else result.flip(-1)
    args = [t.contiguous() if t is not None else None for t in (u, delta, A, B, C, D, z, delta_bias)]
    pair = resolve_kernel(kernel) if backend == "triton" else "sequential"  # the torch backend runs no pair
    out, ckpt = selective_scan(*args, bool(delta_softplus), gate_act, bool(reverse), backend, pair)
    return (out, ckpt[:, :, -1]) if return_last_state else out
