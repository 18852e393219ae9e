"""VMamba in timm: official parity (logits and dense features), legacy names, VMamba-specific options and
errors (tests/models/test_contract.py holds the timm model contract every family meets)."""
from __future__ import annotations

import json

import pytest
import timm
import torch
import torch.nn.functional as F

import vimvision  # noqa: F401
from tests.helpers import assert_triton_matches_torch
from vimvision.flops import count_flops
from vimvision.models.vmamba import ALIASES

OFFICIAL_CONFIG = {
    "vmambav2v_tiny_224": "vmamba_tiny_s1l8", "vmambav2_small_224": "vmamba_small_s2l15",
    "vmambav2_base_224": "vmamba_base_s2l15", "vmambav2_tiny_224": "vmamba_tiny_s2l5",
    "vmambav2v_small_224": "vmamba_small_s1l20", "vmambav2v_base_224": "vmamba_base_s1l20",
    "vmambav0_tiny_224": "vmamba_tiny_v0", "vmambav0_small_224": "vmamba_small_v0",
    "vmambav0_base_224": "vmamba_base_v0",
}
FIXTURE = "vmamba_tiny_s1l8_depths1121"


def small(**kwargs):
    return timm.create_model("vmamba_tiny", depths=(1, 1, 1, 1), dims=16, **kwargs)


@pytest.mark.parametrize("config", OFFICIAL_CONFIG)
def test_full_size_keys_shapes_and_params_match_official(config, fixtures_dir):
    official = json.loads((fixtures_dir / "keys_vmamba.json").read_text())["models"][config]
    names = [OFFICIAL_CONFIG[config]] + [a for a, t in ALIASES.items() if t == OFFICIAL_CONFIG[config]]
    for name in names:
        model = timm.create_model(name)
        ours = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
        assert ours == official["state_dict"], name
        assert sum(p.numel() for p in model.parameters()) == official["num_params"]


def _load_fixture(fixtures_dir, **kwargs):
    path = fixtures_dir / f"{FIXTURE}.pth"
    model = timm.create_model("vmamba_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                              depths=(1, 1, 2, 1), **kwargs).eval()
    io = torch.load(fixtures_dir / f"{FIXTURE}.io.pt", weights_only=True)
    return model, io, json.loads((fixtures_dir / f"{FIXTURE}.json").read_text())["suggested_tolerance"]


@pytest.mark.parametrize("channel_first", [True, False])
def test_official_checkpoint_reproduces_logits_and_dense_features(channel_first, fixtures_dir):
    model, io, tol = _load_fixture(fixtures_dir, channel_first=channel_first)
    with torch.no_grad():
        torch.testing.assert_close(model(io["input"]), io["logits"], atol=tol["atol"], rtol=tol["rtol"])
        feats = model.forward_intermediates(io["input"], intermediates_only=True)
    for i, feat in enumerate(feats):  # the official dense backbone: a fresh LayerNorm per stage output
        normed = F.layer_norm(feat.permute(0, 2, 3, 1), feat.shape[1:2], eps=1e-5).permute(0, 3, 1, 2)
        torch.testing.assert_close(normed, io[f"features.{i}"], atol=tol["atol"], rtol=tol["rtol"])


def test_v0_release_names_load(fixtures_dir, tmp_path):
    """A file with the v0 release's legacy names (patch_embed.proj, ln_1, self_attention, norm, head)."""
    official = json.loads((fixtures_dir / "keys_vmamba.json").read_text())["models"]["vmambav0_tiny_224"]
    g = torch.Generator().manual_seed(0)
    release = {k: torch.randn(*shape, generator=g) for k, shape, _ in official["release_state_dict"]}
    path = tmp_path / "vssmtiny.pth"
    torch.save({"model": release, "max_accuracy": 82.2, "epoch": 292}, path)
    model = timm.create_model("vmamba_tiny_v0", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    sd = model.state_dict()
    torch.testing.assert_close(sd["patch_embed.0.weight"], release["patch_embed.proj.weight"])
    torch.testing.assert_close(sd["layers.2.blocks.8.op.A_logs"], release["layers.2.blocks.8.self_attention.A_logs"])
    torch.testing.assert_close(sd["layers.0.blocks.1.norm.bias"], release["layers.0.blocks.1.ln_1.bias"])
    torch.testing.assert_close(sd["classifier.head.weight"], release["head.weight"])


def test_wrong_checkpoints_fail_naming_keys(fixtures_dir):
    expected = r"missing keys .*classifier.norm.*unexpected keys .*cls_token.*shape mismatches"
    with pytest.raises(ValueError, match=expected):
        small(pretrained=True, pretrained_cfg_overlay=dict(file=str(fixtures_dir / "vim_tiny_depth2.pth")))
    with pytest.raises(ValueError, match=r"missing keys \(\d+\): layers.2.blocks.2.mlp"):
        timm.create_model("vmamba_tiny", depths=(1, 1, 3, 1), pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(fixtures_dir / f"{FIXTURE}.pth")))


def test_any_input_divisible_by_32_and_groups_follow_stages():
    model = small(num_classes=5).eval()
    x = torch.randn(2, 3, 64, 96)
    assert model.forward_features(x).shape == (2, 128, 2, 3) and model(x).shape == (2, 5)
    inter = model.forward_intermediates(x, intermediates_only=True)
    assert [t.shape for t in inter] == [(2, 16, 16, 24), (2, 32, 8, 12), (2, 64, 4, 6), (2, 128, 2, 3)]
    channel_last = small(channel_first=False).eval()
    assert [t.shape for t in channel_last.forward_intermediates(x, output_fmt="NHWC", intermediates_only=True)] == [
        (2, 16, 24, 16), (2, 8, 12, 32), (2, 4, 6, 64), (2, 2, 3, 128)]
    assert len(timm.models.group_parameters(model, model.group_matcher())) >= 5


def test_overrides_and_v0_gate():
    model = timm.create_model("vmamba_tiny", depths=(1, 1, 1, 1), dims=[8, 16, 24, 32], d_state=2, ssm_ratio=2.0)
    assert model.layers[0].blocks[0].op.A_logs.shape == (4 * 16, 2) and model.num_features == 32
    x = torch.randn(1, 3, 64, 64)
    v0 = timm.create_model("vmamba_tiny_v0", depths=(1, 1, 1, 1), dims=16).eval()
    gelu = timm.create_model("vmamba_tiny_v0", depths=(1, 1, 1, 1), dims=16, gate_act="gelu").eval()
    gelu.load_state_dict(v0.state_dict())
    with torch.no_grad():
        assert not torch.allclose(v0(x), gelu(x))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"input has shape \(1, 4, 70, 64\), expected \(batch, 3, H, W\)"):
        small()(torch.randn(1, 4, 70, 64))
    with pytest.raises(ValueError, match=r"input has shape \(1, 3, 2, 64\), expected .* with H, W >= 4"):
        timm.create_model("vmamba_tiny_v0", depths=(1, 1, 1, 1), dims=8)(torch.randn(1, 3, 2, 64))
    with pytest.raises(ValueError, match="version 'v0' runs channel-last only"):
        timm.create_model("vmamba_tiny_v0", channel_first=True)


def test_triton_path_matches_torch_path():
    torch.manual_seed(0)
    assert_triton_matches_torch(
        lambda b: timm.create_model("vmamba_tiny", depths=(1, 1, 1, 1), dims=8, num_classes=4, kernel_backend=b,
                                    drop_path_rate=0.0),
        torch.randn(1, 3, 32, 32), lambda m: (m.layers[0].blocks[0].op.A_logs, m.layers[0].blocks[0].op.x_proj_weight),
        rtol=1e-3, atol=1e-4)


def test_flops_match_the_official_count():
    """VMamba-T: 4.906 G (fvcore multiply-adds with the 9·B·L·D·N scan term), as published."""
    count = count_flops(timm.create_model("vmamba_tiny"))
    assert count.macs == pytest.approx(4.906e9, rel=0.02)
    assert count.params == 30_249_064
    assert count.flops > 1.9 * count.macs  # torch's counter: two per multiply-add


def test_any_input_size_with_the_official_semantics(fixtures_dir):
    """Sizes not divisible by 32 run as the official code runs them (its source: v2's stem and downsampling
    are Conv2d(3, stride 2, padding 1), i.e. ceil halving; v0's PatchMerging2D pads an odd bottom/right side
    with zeros before taking the 2x2 neighbours, classification/models/vmamba.py _patch_merging_pad)."""
    import torch.nn.functional as F

    from vimvision.models.vmamba import PatchMerging2D

    weights = dict(file=str(fixtures_dir / "vmamba_tiny_s1l8_depths1121.pth"))
    backbone = timm.create_model("vmamba_tiny_s1l8", depths=[1, 1, 2, 1], features_only=True, pretrained=True,
                                 pretrained_cfg_overlay=weights)
    io = torch.load(fixtures_dir / "vmamba_tiny_s1l8_depths1121.io.pt", weights_only=True)
    x = io["input"][..., :200, :216]  # 200 and 216: not divisible by 32
    with torch.no_grad():
        feats = backbone.eval()(x)
    sides = [(200, 216)]
    for _ in range(5):
        sides.append(tuple(-(-s // 2) for s in sides[-1]))
    assert [tuple(f.shape[-2:]) for f in feats] == sides[2:]  # (50, 54), (25, 27), (13, 14), (7, 7)
    assert all(torch.isfinite(f).all() for f in feats)

    merge = PatchMerging2D(8, 16)
    odd = torch.randn(2, 7, 9, 8)
    with torch.no_grad():
        official = F.pad(odd, (0, 0, 0, 1, 0, 1))  # the official pad (0, 0, 0, W % 2, 0, H % 2)
        official = torch.cat([official[:, 0::2, 0::2], official[:, 1::2, 0::2], official[:, 0::2, 1::2],
                              official[:, 1::2, 1::2]], dim=-1)
        torch.testing.assert_close(merge(odd), merge.reduction(merge.norm(official)))
    v0 = timm.create_model("vmamba_tiny_v0", depths=(1, 1, 1, 1), dims=8, num_classes=3).eval()
    assert v0(torch.randn(1, 3, 100, 90)).shape == (1, 3)  # 25x22 -> 13x11 -> 7x6 -> 4x3
