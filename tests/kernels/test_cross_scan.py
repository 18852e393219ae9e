"""Cross-scan / cross-merge, 4 routes or 2: Triton against the reference (both directions of autograd), and the
transpose identity <scan(x), y> == <x, merge(y)> that makes each the other's backward."""
from __future__ import annotations

import pytest
import torch

from tests.helpers import DEVICE
from vimvision.kernels.cross_scan import cross_merge_fn, cross_scan_fn


@pytest.mark.parametrize("routes", [4, 2])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 8, 8), (1, 2, 33, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_matches_reference(shape, dtype, routes):
    g = torch.Generator().manual_seed(0)
    batch, dim, H, W = shape
    x = torch.randn(*shape, generator=g).to(dtype).to(DEVICE).requires_grad_()
    y = torch.randn(batch, routes, dim, H, W, generator=g).to(dtype).to(DEVICE).requires_grad_()
    gs = torch.randn(batch, routes, dim, H * W, generator=g).to(dtype).to(DEVICE)
    gm = torch.randn(batch, dim, H * W, generator=g).to(dtype).to(DEVICE)
    results = {}
    for backend in ("reference", "triton"):
        s, m = cross_scan_fn(x, backend, routes), cross_merge_fn(y, backend)
        results[backend] = (s, m, *torch.autograd.grad((s, m), (x, y), (gs, gm)))
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-2, atol=2e-2)  # merge sums 4 routes
    for got, want in zip(results["triton"], results["reference"]):
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("routes", [4, 2])
def test_merge_is_the_transpose_of_scan(routes):
    x, y = torch.randn(2, 3, 4, 6, dtype=torch.float64), torch.randn(2, routes, 3, 4, 6, dtype=torch.float64)
    lhs = (cross_scan_fn(x, "reference", routes) * y.flatten(3)).sum()
    rhs = (x.flatten(2) * cross_merge_fn(y, "reference")).sum()
    torch.testing.assert_close(lhs, rhs)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"x has shape \(2, 3, 4\), expected \(batch, dim, H, W\)"):
        cross_scan_fn(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"y has shape \(2, 3, 4, 5, 6\), expected \(batch, 4, dim, H, W\)"):
        cross_merge_fn(torch.randn(2, 3, 4, 5, 6))
    with pytest.raises(ValueError, match="routes has 3, expected one of"):
        cross_scan_fn(torch.randn(2, 3, 4, 5), routes=3)
