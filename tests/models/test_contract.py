"""timm's model contract for every name vimvision registers, in the spirit of timm's tests/test_models.py.

Parametrized over ``timm.list_models(module=...)`` for our modules, at reduced depths and widths (as timm's
``test_*`` variants) on the PyTorch kernels (tests/kernels covers the Triton path). Fixed-size models (Vim) run
at their cfg's input size; the others, as timm shrinks them, at SMALL_INPUT except where the cfg's size is the
point (pool_size).
"""
from __future__ import annotations

import warnings

import pytest
import timm
import torch
from timm.models import create_feature_extractor, get_graph_node_names
from timm.models._manipulate import group_parameters

import vimvision  # noqa: F401  (registers the models)
from vimvision.models import Vim

FAMILIES = ("vim", "vim_fox", "vmamba")
FAMILY_OF = {name: family for family in FAMILIES for name in timm.list_models(module=family)}
MODELS = sorted(FAMILY_OF)
REDUCED = {
    "vim": dict(depth=2, embed_dim=48),
    "vim_fox": dict(depth=2, embed_dim=48),  # 48 splits into the variants' 3 or 6 heads
    "vmamba": dict(depths=(1, 1, 1, 1), dims=16),
}
SMALL_INPUT = (3, 64, 64)  # small enough for every family, four halvings to 2x2 in VMamba
BATCH = 2

REL_ERROR_AFTER_CAST = {torch.bfloat16: 3e-2, torch.float16: 4e-3}  # |y - y_fp32| / |y_fp32|: 8 / 11 mantissa bits


def create(name: str, **kwargs) -> torch.nn.Module:
    reduced = dict(REDUCED[FAMILY_OF[name]], kernel_backend="torch")
    if name.startswith("vim_hybrid"):
        reduced["attn_every"] = 2  # so the two blocks hold both mixers
    return timm.create_model(name, **dict(reduced, **kwargs))


def input_for(model: torch.nn.Module, cfg_size: bool = False) -> torch.Tensor:
    cfg = model.pretrained_cfg
    size = cfg["input_size"] if cfg_size or cfg.get("fixed_input_size") else SMALL_INPUT
    return torch.randn(BATCH, *size, generator=torch.Generator().manual_seed(0))


def unpooled_shape(model: torch.nn.Module, x: torch.Tensor) -> tuple:
    """forward_features' shape: Vim's tokens (class token included), or VMamba's map in its output_fmt."""
    if isinstance(model, Vim):
        grid = model.patch_embed.grid_for(*x.shape[-2:])
        return (BATCH, grid[0] * grid[1] + 1, model.num_features)
    h, w = x.shape[-2] // 32, x.shape[-1] // 32
    return (BATCH, model.num_features, h, w) if model.output_fmt == "NCHW" else (BATCH, h, w, model.num_features)


def _gradients(model: torch.nn.Module, x: torch.Tensor) -> dict:
    torch.manual_seed(0)  # the same drop-path draws with and without checkpointing
    model.zero_grad()
    out = model(x)
    out.mean().backward()
    return {"out": out.detach(), **{n: p.grad for n, p in model.named_parameters()}}


@pytest.mark.parametrize("name", MODELS)
def test_backward_gives_every_parameter_a_finite_gradient_with_or_without_checkpointing(name):
    model = create(name, num_classes=42).train()
    x = input_for(model)
    plain = _gradients(model, x)
    assert plain["out"].shape == (BATCH, 42)
    missing = [n for n, p in model.named_parameters() if plain[n] is None or not torch.isfinite(plain[n]).all()]
    assert not missing, f"parameters without a finite gradient: {missing}"
    model.set_grad_checkpointing(True)
    checkpointed = _gradients(model, x)
    for key, value in plain.items():
        torch.testing.assert_close(checkpointed[key], value, rtol=1e-4, atol=1e-5, msg=lambda m, k=key: f"{k}: {m}")


@pytest.mark.parametrize("name", MODELS)
def test_default_cfg_and_features_head_split(name):
    model = create(name).eval()
    cfg = model.pretrained_cfg
    assert cfg["architecture"] == name and cfg["num_classes"] == model.num_classes == 1000
    assert len(cfg["input_size"]) == 3 and cfg["input_size"][0] == 3 and len(cfg["mean"]) == len(cfg["std"]) == 3
    assert 0 < cfg["crop_pct"] <= 1 and cfg["interpolation"]
    state = model.state_dict()
    assert f"{cfg['first_conv']}.weight" in state and f"{cfg['classifier']}.weight" in state
    if isinstance(model, Vim):  # the position embedding fixes the input size
        assert cfg["fixed_input_size"] and model.patch_embed.img_size == tuple(cfg["input_size"][1:])
    assert model.num_features > 0 and model.head_hidden_size > 0
    x = input_for(model, cfg_size=True)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == unpooled_shape(model, x)
        if cfg.get("pool_size"):
            assert tuple(feats.shape[-2:] if model.output_fmt == "NCHW" else feats.shape[1:3]) == cfg["pool_size"]
        assert model.forward_head(feats, pre_logits=True).shape == (BATCH, model.head_hidden_size)
        torch.testing.assert_close(model.forward_head(feats), model(x))


@pytest.mark.parametrize("name", MODELS)
def test_reset_classifier(name):
    model = create(name).eval()
    x = input_for(model)
    with torch.no_grad():
        pre_logits = model.forward_head(model.forward_features(x), pre_logits=True)
        model.reset_classifier(0)
        assert model.num_classes == 0 and model(x).shape == pre_logits.shape == (BATCH, model.head_hidden_size)
        model.reset_classifier(0, "")
        assert model(x).shape == unpooled_shape(model, x)
        model.reset_classifier(7, create(name).global_pool)
        assert model.get_classifier().out_features == model.num_classes == 7 and model(x).shape == (BATCH, 7)
        unpooled = create(name, num_classes=0, global_pool="").eval()
        assert unpooled(x).shape == unpooled_shape(unpooled, x)


@pytest.mark.parametrize("name", MODELS)
def test_features_only_at_out_indices(name):
    probe = create(name)
    out_indices = tuple(range(len(probe.feature_info)))
    model = create(name, features_only=True, out_indices=out_indices).eval()
    x = input_for(model)
    with torch.no_grad():
        feats = model(x)
    assert len(feats) == len(out_indices)
    for feat, channels, reduction in zip(feats, model.feature_info.channels(), model.feature_info.reduction()):
        assert feat.shape[:2] == (BATCH, channels) and torch.isfinite(feat).all()
        assert all(abs(side - size / reduction) <= 1 for side, size in zip(feat.shape[2:], x.shape[2:]))


@pytest.mark.parametrize("name", MODELS)
def test_forward_intermediates_and_prune_intermediate_layers(name):
    model = create(name).eval()
    x = input_for(model)
    final, intermediates = model.forward_intermediates(x)
    assert len(intermediates) == len(model.feature_info)
    assert [t.shape[1] for t in intermediates] == [info["num_chs"] for info in model.feature_info]
    torch.testing.assert_close(final, model.forward_features(x))
    model.set_grad_checkpointing(True)
    for got, want in zip(model.forward_intermediates(x, intermediates_only=True), intermediates):
        torch.testing.assert_close(got, want)
    assert model.prune_intermediate_layers([0]) == [0]
    assert len(model.layers) == 1 and model.num_classes == 0
    pruned = model.forward_intermediates(x, indices=[0], intermediates_only=True)
    torch.testing.assert_close(pruned[0], intermediates[0])


@pytest.mark.parametrize("name", MODELS)
def test_fx_feature_extraction_and_fx_backward(name):
    """timm's fx path: eval-mode extraction equals the model, the train-mode graph gives every parameter a gradient,
    and features_only with feature_cls='fx' taps the stages."""
    model = create(name).eval()
    x = input_for(model)
    _, eval_nodes = get_graph_node_names(model)
    extractor = create_feature_extractor(model, return_nodes=[eval_nodes[-1]])
    with torch.no_grad():
        assert torch.equal(next(iter(extractor(x).values())), model(x))
    train_nodes, _ = get_graph_node_names(model.train())
    extractor = create_feature_extractor(model, return_nodes=[train_nodes[-1]])
    next(iter(extractor(x).values())).mean().backward()
    assert all(p.grad is not None for p in extractor.parameters())
    if not isinstance(model, Vim):  # Vim's taps are token streams, which timm's fx feature wrapper does not reshape
        features = create(name, features_only=True, feature_cls="fx").eval()
        with torch.no_grad():
            maps = features(input_for(features))
        channel_dim = 1 if model.output_fmt == "NCHW" else -1  # the stages' own layout (v0 runs channel-last)
        assert [m.shape[channel_dim] for m in maps] == features.feature_info.channels()


@pytest.mark.parametrize("name", MODELS)
def test_factory_kwargs_meta_construction_and_to_empty(name):
    """timm's device= / dtype=: built on the meta device nothing is allocated; to_empty + load_state_dict then gives
    the real model's outputs. An unknown keyword is still a TypeError."""
    real = create(name).eval()
    meta = create(name, device="meta", dtype=torch.float64)
    assert {(p.device.type, p.dtype) for p in meta.parameters()} == {("meta", torch.float64)}
    assert meta.in_chans == meta.pretrained_cfg["input_size"][0] == 3
    meta = meta.to_empty(device="cpu").to(torch.float32).eval()
    meta.load_state_dict(real.state_dict())
    x = input_for(real)
    with torch.no_grad():
        torch.testing.assert_close(meta(x), real(x), rtol=0, atol=0)
    with pytest.raises(TypeError, match="not_a_model_arg"):
        create(name, device="meta", not_a_model_arg=1)
    with pytest.raises(ValueError, match="dtype has torch.int64"):
        create(name, device="meta", dtype=torch.int64)


@pytest.mark.parametrize("name", MODELS)
def test_reset_classifier_keeps_device_dtype_and_mode(name):
    model = create(name, device="meta").to(dtype=torch.float64).eval()
    for num_classes in (0, 5):
        model.reset_classifier(num_classes)
    head = model.get_classifier()
    assert {(p.device.type, p.dtype) for p in head.parameters()} == {("meta", torch.float64)}
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize("name", MODELS)
def test_optimizer_factory_contract(name):
    """group_matcher splits the parameters into more than one group and every no_weight_decay() entry names one."""
    model = create(name)
    names = {n for n, _ in model.named_parameters()}
    assert len(set(group_parameters(model, model.group_matcher(coarse=False), reverse=True).values())) > 1
    assert model.no_weight_decay() and model.no_weight_decay() <= names


@pytest.mark.parametrize("dtype", list(REL_ERROR_AFTER_CAST), ids=str)
@pytest.mark.parametrize("name", MODELS)
def test_low_precision_weights_without_autocast(name, dtype):
    """model.to(bf16 / fp16) on CPU runs without autocast (the ops keep their state in fp32) and stays close to fp32."""
    model = create(name).eval()
    x = input_for(model)
    with torch.no_grad():
        want = model(x)
        got = model.to(dtype)(x.to(dtype))
    assert got.dtype == dtype
    assert ((got.float() - want).norm() / want.norm()).item() < REL_ERROR_AFTER_CAST[dtype]


@pytest.mark.parametrize("name", MODELS)
def test_torchscript_tracing_works_and_scripting_says_what_does(name, tmp_path):
    """torch.jit.trace gives the eager outputs at another batch size too and survives save / load; torch.jit.script
    raises an error that names the model and the working alternatives."""
    model = create(name).eval()
    x = input_for(model)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the leaves' input checks, traced as constants
        traced = torch.jit.trace(model, x)
    torch.jit.save(traced, tmp_path / "model.pt")
    loaded = torch.jit.load(tmp_path / "model.pt")
    more = torch.cat([x, x[:1]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(more), model(more))
    with pytest.raises(RuntimeError, match=rf"{type(model).__name__}: torch.jit.script .* torch.jit.trace"):
        torch.jit.script(model)


def test_every_registered_model_is_covered():
    assert set(timm.list_models("vim*")) | set(timm.list_models("vmamba*")) == set(MODELS) and len(MODELS) == 26
