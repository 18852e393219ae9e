"""Fused residual add + RMSNorm/LayerNorm: the Triton kernels against the reference, both outputs' gradients."""
from __future__ import annotations

import pytest
import torch

from tests.helpers import DEVICE
from vimvision.kernels.add_norm import add_norm_fn

TOL = {torch.float32: (1e-5, 1e-5), torch.bfloat16: (2e-2, 2e-2), torch.float16: (2e-3, 2e-3)}


@pytest.mark.parametrize("is_rms", [True, False])
@pytest.mark.parametrize(
    "shape,has_res,has_bias,res_fp32,dtype",
    [
        ((2, 13, 48), True, False, True, torch.float32),
        ((3, 5, 40), False, True, True, torch.float32),  # first block: no residual yet; D not a power of 2
        ((17, 64), True, True, False, torch.float32),
        ((2, 9, 32), True, False, True, torch.bfloat16),
        ((2, 9, 32), True, True, True, torch.float16),
    ],
)
def test_triton_matches_reference(is_rms, shape, has_res, has_bias, res_fp32, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g).to(dtype).to(DEVICE)
    res = torch.randn(*shape, generator=g).to(DEVICE) if has_res else None  # residual stream in fp32
    w = (1 + 0.1 * torch.randn(shape[-1], generator=g)).to(DEVICE)
    b = (0.1 * torch.randn(shape[-1], generator=g)).to(DEVICE) if has_bias else None
    dout = torch.randn(*shape, generator=g).to(dtype).to(DEVICE)
    dres = torch.randn(*shape, generator=g).to(DEVICE)
    leaves = [t.requires_grad_() for t in (x, res, w, b) if t is not None]

    def run(backend):
        out, new_res = add_norm_fn(x, res, w, b, 1e-5, is_rms, res_fp32, backend=backend)
        grads = torch.autograd.grad((out, new_res), leaves, (dout, dres.to(new_res.dtype)))
        return (out, new_res, *grads)

    rtol, atol = TOL[dtype]
    for got, want in zip(run("triton"), run("reference")):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.float(), want.float(), rtol=rtol, atol=atol * max(1.0, want.abs().max().item()))


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"and weight \(5,\), expected weight \(dim,\) matching"):
        add_norm_fn(torch.randn(2, 4), None, torch.ones(5), None, 1e-5)
    with pytest.raises(ValueError, match=r"residual has shape \(2, 3\), expected \(2, 4\)"):
        add_norm_fn(torch.randn(2, 4), torch.randn(2, 3), torch.ones(4), None, 1e-5)
