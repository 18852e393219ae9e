"""Forgetting attention: the decay bias against its definition, the limits it must reach, and the
forgetting-attention / hybrid Vim models."""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F

import vimvision  # noqa: F401
from tests.helpers import DEVICE, assert_triton_matches_torch
from vimvision.kernels.forgetting_attention import decay_bias, forgetting_attention_fn
from vimvision.layers.forgetting_attention import ForgettingAttention

# fp32 dots: exact in the interpreter; on a GPU Triton runs them in TF32 (10-bit mantissa), as flash attention does
FP32_DOT_TOL = dict(rtol=1e-4, atol=1e-4) if DEVICE.type == "cpu" else dict(rtol=3e-3, atol=3e-3)


def decay_bias_ref(log_fwd: torch.Tensor, log_bwd: torch.Tensor) -> torch.Tensor:
    """The definition entry by entry, in float64: for j <= i the sum of log f_l over j < l <= i,
    for j > i the sum of log f'_l over i < l <= j."""
    *lead, L = log_fwd.shape
    out = torch.zeros(*lead, L, L, dtype=torch.float64)
    for i in range(L):
        for j in range(L):
            if j <= i:
                out[..., i, j] = log_fwd[..., j + 1 : i + 1].double().sum(-1)
            else:
                out[..., i, j] = log_bwd[..., i + 1 : j + 1].double().sum(-1)
    return out


def test_decay_bias_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    log_fwd = F.logsigmoid(torch.randn(2, 3, 9, generator=g))
    log_bwd = F.logsigmoid(torch.randn(2, 3, 9, generator=g))
    torch.testing.assert_close(decay_bias(log_fwd, log_bwd).double(), decay_bias_ref(log_fwd, log_bwd),
                               atol=1e-5, rtol=1e-5)


def test_directions_are_independent_and_diagonal_is_zero():
    g = torch.Generator().manual_seed(1)
    log_fwd, log_bwd = (F.logsigmoid(torch.randn(1, 1, 6, generator=g)) for _ in range(2))
    bias = decay_bias(log_fwd, log_bwd)[0, 0]
    other = decay_bias(log_fwd, log_bwd * 3)[0, 0]
    assert torch.equal(bias.tril(), other.tril()) and not torch.equal(bias.triu(1), other.triu(1))
    assert torch.all(bias.diagonal() == 0) and torch.all(bias <= 0)


def test_zero_gate_scale_is_plain_attention():
    torch.manual_seed(0)
    layer = ForgettingAttention(32, num_heads=4, gate_scale=0.0).eval()
    x = torch.randn(2, 7, 32)
    q, k, v = layer.qkv(x).view(2, 7, 3, 4, 8).permute(2, 0, 3, 1, 4)
    plain = layer.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 7, 32))
    torch.testing.assert_close(layer(x), plain)


def test_strong_forgetting_attends_to_self():
    """Gates near 0 (log f -> -inf) leave each token only itself to attend to."""
    layer = ForgettingAttention(16, num_heads=2, gate_bias_init=-30.0).eval()
    with torch.no_grad():
        layer.forget_gate.weight.zero_()
    x = torch.randn(1, 5, 16)
    v = layer.qkv(x)[..., 32:]
    torch.testing.assert_close(layer(x), layer.proj(v), atol=1e-5, rtol=1e-5)


def test_gates_get_gradients_and_bad_heads_are_named():
    layer = ForgettingAttention(16, num_heads=2)
    layer(torch.randn(2, 5, 16)).sum().backward()
    assert layer.forget_gate.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="dim 30 is not divisible by num_heads 4"):
        ForgettingAttention(30, num_heads=4)


@pytest.mark.parametrize("name,kinds", [("vim_fox_tiny", ["ForgettingAttention"] * 4),
                                        ("vim_hybrid_tiny", ["BiMambaMixer"] * 3 + ["ForgettingAttention"])])
def test_models(name, kinds):
    model = timm.create_model(name, depth=4, num_classes=3)
    assert [type(layer.mixer).__name__ for layer in model.layers] == kinds
    x = torch.randn(2, 3, 64, 64)
    with pytest.raises(ValueError):
        model(x)  # fixed 224 input unless dynamic
    model = timm.create_model(name, depth=4, num_classes=3, img_size=64)
    model(x).sum().backward()
    inter = model.forward_intermediates(x, indices=[1, 3], intermediates_only=True)
    assert [t.shape for t in inter] == [(2, 192, 4, 4)] * 2
    ssm_names = {n for n in model.no_weight_decay() if n.endswith(("A_log", "A_b_log", "D", "D_b"))}
    assert ssm_names == {f"layers.{i}.mixer.{p}" for i, kind in enumerate(kinds) if kind == "BiMambaMixer"
                         for p in ("A_log", "A_b_log", "D", "D_b")}


@pytest.mark.parametrize("L,D,dtype", [(37, 16, torch.float32), (5, 32, torch.float32), (64, 16, torch.float32),
                                       (29, 16, torch.bfloat16)])
def test_triton_kernel_matches_reference(L, D, dtype):
    """The fused kernel (decay built per tile) against SDPA with the materialized bias: output and every gradient."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, L, D, generator=g).to(dtype).to(DEVICE).requires_grad_() for _ in range(3))
    log_f, log_b = (F.logsigmoid(torch.randn(2, 2, L, generator=g) + 2).to(DEVICE).requires_grad_() for _ in range(2))
    grad = torch.randn(2, 2, L, D, generator=g).to(dtype).to(DEVICE)
    results = {}
    for backend in ("torch", "triton"):
        out = forgetting_attention_fn(q, k, v, log_f, log_b, backend=backend)
        results[backend] = (out, *torch.autograd.grad(out, (q, k, v, log_f, log_b), grad))
    tol = dict(rtol=3e-2, atol=5e-2) if dtype != torch.float32 else FP32_DOT_TOL
    for name, got, want in zip(("out", "dq", "dk", "dv", "dlog_f", "dlog_b"), results["triton"], results["torch"]):
        torch.testing.assert_close(got.float(), want.float(), **tol, msg=lambda m, n=name: f"{n}: {m}")


def test_kernel_rejects_bad_shapes():
    q = torch.randn(1, 2, 5, 12)
    with pytest.raises(ValueError, match="head_dim 12 must be a power of two"):
        forgetting_attention_fn(q, q, q, torch.zeros(1, 2, 5), torch.zeros(1, 2, 5), backend="triton")
    with pytest.raises(ValueError, match="expected q, k, v"):
        forgetting_attention_fn(q, q, q, torch.zeros(1, 2, 4), torch.zeros(1, 2, 5))


def test_fox_model_triton_path_matches_torch_path():
    torch.manual_seed(0)
    tol = dict(rtol=1e-3, atol=1e-4) if DEVICE.type == "cpu" else FP32_DOT_TOL
    assert_triton_matches_torch(
        lambda b: timm.create_model("vim_fox_tiny", depth=2, img_size=32, num_classes=4, kernel_backend=b),
        torch.randn(2, 3, 32, 32), lambda m: (m.layers[0].mixer.forget_gate.weight, m.layers[1].mixer.qkv.weight),
        **tol)
