"""Causal depthwise conv1d: triton and torch backends against the reference, both directions."""
from __future__ import annotations

import pytest
import torch

from tests.helpers import DEVICE
from vimvision.kernels.causal_conv1d import causal_conv1d_fn

TOL = {torch.float32: (1e-5, 1e-5), torch.bfloat16: (2e-2, 2e-2), torch.float16: (2e-3, 2e-3)}


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "batch,dim,L,width,activation,bias,dtype",
    [
        (2, 20, 37, 4, "silu", True, torch.float32),
        (1, 7, 3, 4, None, False, torch.float32),  # L shorter than the kernel
        (2, 33, 140, 3, "silu", True, torch.float32),  # several L and channel blocks
        (2, 16, 29, 4, "silu", True, torch.bfloat16),
        (1, 16, 29, 2, None, True, torch.float16),
    ],
)
def test_matches_reference(backend, reverse, batch, dim, L, width, activation, bias, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, dim, L, generator=g).to(dtype).to(DEVICE)
    w = torch.randn(dim, width, generator=g).to(DEVICE)
    b = torch.randn(dim, generator=g).to(DEVICE) if bias else None
    grad = torch.randn(batch, dim, L, generator=g).to(dtype).to(DEVICE)
    leaves = [t.requires_grad_() for t in (x, w, b) if t is not None]

    def run(be):
        out = causal_conv1d_fn(x, w, b, activation, reverse, backend=be)
        return (out, *torch.autograd.grad(out, leaves, grad))

    rtol, atol = TOL[dtype]
    for name, got, want in zip(("out", "dx", "dweight", "dbias"), run(backend), run("reference")):
        scale = max(1.0, want.abs().max().item())
        torch.testing.assert_close(got.float(), want.float(), rtol=rtol, atol=atol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_bad_arguments_are_named():
    x, w = torch.randn(1, 4, 8), torch.randn(4, 4)
    with pytest.raises(ValueError, match="activation has 'relu'"):
        causal_conv1d_fn(x, w, activation="relu")
    with pytest.raises(ValueError, match=r"weight \(5, 4\)"):
        causal_conv1d_fn(x, torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"bias has shape \(3,\), expected \(4,\)"):
        causal_conv1d_fn(x, w, torch.randn(3))
