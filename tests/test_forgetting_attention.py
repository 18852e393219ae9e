"""Forgetting attention: the decay bias against its definition, the limits it must reach, and the
forgetting-attention / hybrid Vim models."""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F

import vimvision  # noqa: F401
from vimvision.layers.forgetting_attention import ForgettingAttention, decay_bias, decay_bias_ref


def test_decay_bias_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    log_fwd = F.logsigmoid(torch.randn(2, 3, 9, generator=g))
    log_bwd = F.logsigmoid(torch.randn(2, 3, 9, generator=g))
    torch.testing.assert_close(decay_bias(log_fwd, log_bwd).double(), decay_bias_ref(log_fwd, log_bwd), atol=1e-5, rtol=1e-5)


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
    assert "layers.0.mixer.A_log" in model.no_weight_decay() or name == "vim_fox_tiny"
