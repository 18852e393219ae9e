"""Inputs and tolerances shared by the selective-scan tests."""
from __future__ import annotations

from dataclasses import dataclass

import torch

# (rtol, atol) for the forward, after mamba-ssm's selective-scan tests; gradients get a wider
# band because they sum over batch and time: du 2x, ddelta 5x/10x, weights 1e-3 floors.
TOL = {torch.float32: (6e-4, 2e-3), torch.float16: (3e-3, 5e-3), torch.bfloat16: (3e-2, 5e-2),
       torch.float64: (1e-10, 1e-10)}
INPUT_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


@dataclass
class Case:
    batch: int = 2
    dim: int = 8
    L: int = 37
    d_state: int = 4
    groups: int = 1
    b_var: bool = True
    c_var: bool = True
    has_D: bool = True
    has_z: bool = True
    has_bias: bool = True
    softplus: bool = True
    dtype: torch.dtype = torch.float32
    gate_act: str = "silu"
    reverse: bool = False

    def inputs(self, device="cpu", seed: int = 0) -> dict:
        g = torch.Generator().manual_seed(seed)
        r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
        B_shape = (self.batch, self.groups, self.d_state, self.L)
        ins = dict(
            u=r(self.batch, self.dim, self.L).to(self.dtype),
            delta=(0.5 * torch.rand(self.batch, self.dim, self.L, generator=g)).to(self.dtype),
            A=-0.5 - torch.rand(self.dim, self.d_state, generator=g),
            B=(r(*B_shape).to(self.dtype) if self.b_var else r(self.dim, self.d_state)),
            C=(r(*B_shape).to(self.dtype) if self.c_var else r(self.dim, self.d_state)),
            D=r(self.dim) if self.has_D else None,
            z=r(self.batch, self.dim, self.L).to(self.dtype) if self.has_z else None,
            delta_bias=0.5 * torch.rand(self.dim, generator=g) if self.has_bias else None,
        )
        if self.dtype == torch.float64:
            ins = {k: v.double() if v is not None else None for k, v in ins.items()}
        return {k: v.to(device) if v is not None else None for k, v in ins.items()}


def run_scan(fn, ins: dict, case: Case, grad_out: torch.Tensor | None = None, **kw):
    """Output, last state and the gradients of (out * grad_out).sum() for every present input."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in ins.items() if v is not None}
    args = {k: leaves.get(k) for k in INPUT_NAMES}
    out, last = fn(**args, delta_softplus=case.softplus, return_last_state=True, gate_act=case.gate_act,
                   reverse=case.reverse, **kw)
    if grad_out is None:
        grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(out)
    grads = torch.autograd.grad(out, list(leaves.values()), grad_out)
    return out, last, dict(zip(leaves, grads)), grad_out


def assert_scan_close(got, want, dtype) -> None:
    """Compare (out, last, grads) of two runs with the dtype's tolerances."""
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(got[0].float(), want[0].float(), rtol=rtol, atol=atol)
    torch.testing.assert_close(got[1].float(), want[1].float(), rtol=rtol, atol=atol)
    scale = {"u": 2, "delta": 10, "A": 5, "B": 1, "C": 1, "D": 1, "z": 1, "delta_bias": 5}
    for k, g in want[2].items():
        ref = g.float()
        # gradients are sums of many terms: compare relative to the tensor's own magnitude
        torch.testing.assert_close(
            got[2][k].float(), ref, rtol=rtol * scale[k] * 2,
            atol=atol * scale[k] * max(1.0, ref.abs().max().item() / 10),
            msg=lambda m, k=k: f"gradient of {k}: {m}",
        )
