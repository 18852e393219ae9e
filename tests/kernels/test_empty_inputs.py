"""Batch 0 and zero-length sequences give empty outputs (and gradients) on every backend, as torch's own
layers do, instead of reshape errors inside a backend; the models take an empty batch."""
import pytest
import timm
import torch

from vimvision.kernels import BACKENDS, add_norm_fn, causal_conv1d_fn, selective_scan_fn

RUNNABLE = [b for b in BACKENDS if b != "auto"]


@pytest.mark.parametrize("backend", RUNNABLE)
@pytest.mark.parametrize("batch,L", [(0, 8), (2, 0)])
def test_scan_conv_and_norm_of_nothing(backend, batch, L):
    u = torch.randn(batch, 4, L, requires_grad=True)
    A, Bm, C = -torch.rand(4, 3), torch.randn(batch, 3, L), torch.randn(batch, 3, L)
    out, state = selective_scan_fn(u, torch.rand(batch, 4, L), A, Bm, C, D=torch.ones(4), z=torch.randn(batch, 4, L),
                                   return_last_state=True, backend=backend, reverse=True)
    assert out.shape == (batch, 4, L) and state.shape == (batch, 4, 3) and not state.any()
    conv = causal_conv1d_fn(u, torch.randn(4, 4), torch.randn(4), "silu", backend=backend)
    normed, residual = add_norm_fn(conv.transpose(1, 2), None, torch.ones(4), None, 1e-5, backend=backend)
    assert conv.shape == (batch, 4, L) and normed.shape == residual.shape == (batch, L, 4)
    (out.sum() + normed.sum()).backward()
    assert u.grad.shape == u.shape


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("name,kwargs", [
    ("vim_tiny", dict(depth=1, img_size=32)),
    ("vmamba_tiny", dict(depths=[1, 1, 1, 1], dims=8)),
    ("vmamba_tiny_v0", dict(depths=[1, 1, 1, 1], dims=8)),
])
def test_models_take_an_empty_batch(name, kwargs, backend):
    model = timm.create_model(name, num_classes=3, kernel_backend=backend, **kwargs)
    out = model(torch.randn(0, 3, 32, 32))
    assert out.shape == (0, 3)
    out.sum().backward()


def test_a_state_size_of_zero_is_named():
    u = torch.randn(1, 4, 5)
    with pytest.raises(ValueError, match=r"^selective_scan_fn: A has shape \(4, 0\), expected .*d_state >= 1"):
        selective_scan_fn(u, u, torch.zeros(4, 0), torch.randn(1, 0, 5), torch.randn(1, 0, 5))
