"""Vim in timm: official parity and checkpoints, Vim-specific options and errors (tests/models/test_contract.py
holds the timm model contract every family meets)."""
from __future__ import annotations

import json

import pytest
import timm
import torch

import vimvision  # noqa: F401  (registers the models)
from tests.helpers import assert_triton_matches_torch
from vimvision.models.vim import OFFICIAL_NAMES, Vim

SHORT = list(OFFICIAL_NAMES)


def small(**kwargs) -> Vim:
    return timm.create_model("vim_tiny", depth=2, **kwargs)


@pytest.mark.parametrize("short", SHORT)
def test_full_size_keys_shapes_and_params_match_official(short, fixtures_dir):
    official = json.loads((fixtures_dir / "keys_vim.json").read_text())["models"][OFFICIAL_NAMES[short]]
    for name in (short, OFFICIAL_NAMES[short]):
        model = timm.create_model(name)
        ours = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
        assert ours == official["state_dict"]
        assert sum(p.numel() for p in model.parameters()) == official["num_params"]


def _fixture(fixtures_dir, name="vim_tiny_depth2"):
    meta = json.loads((fixtures_dir / f"{name}.json").read_text())
    io = torch.load(fixtures_dir / f"{name}.io.pt", map_location="cpu", weights_only=True)
    return fixtures_dir / f"{name}.pth", meta, io


@pytest.mark.parametrize("name", ["vim_tiny", OFFICIAL_NAMES["vim_tiny"]])
def test_official_checkpoint_reproduces_official_logits(name, fixtures_dir):
    path, meta, io = _fixture(fixtures_dir)
    model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), depth=2).eval()
    tol = meta["suggested_tolerance"]
    with torch.no_grad():
        torch.testing.assert_close(model(io["input"]), io["logits"], atol=tol["atol"], rtol=tol["rtol"])


def test_ema_tag_loads_the_ema_copy(fixtures_dir):
    path, meta, io = _fixture(fixtures_dir)
    model = timm.create_model("vim_tiny.in1k_ema", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                              depth=2)
    with torch.serialization.safe_globals(vimvision.models.SAFE_GLOBALS):
        ema = torch.load(path, map_location="cpu", weights_only=True)["model_ema"]
    torch.testing.assert_close(model.state_dict()["head.weight"], ema["head.weight"])


@pytest.mark.parametrize("tag,key", [("in1k", "model"), ("in1k_ema", "model_ema")])
def test_hub_and_local_file_load_the_same_weights_safely(tag, key, fixtures_dir, monkeypatch):
    """timm's hub branch (hf_hub_download pointed at the local fixture) goes through our reader too: the tag's
    weights, read with weights_only and the one allowed global (argparse.Namespace, in every official file)."""
    import timm.models._hub as hub

    path, _, _ = _fixture(fixtures_dir)
    asked = []

    def download(repo, filename, **kwargs):
        asked.append((repo, filename))
        return str(path)

    monkeypatch.setattr(hub, "hf_hub_download", download)
    from_hub = timm.create_model(f"vim_tiny.{tag}", pretrained=True, depth=2)
    from_file = timm.create_model(f"vim_tiny.{tag}", pretrained=True, depth=2,
                                  pretrained_cfg_overlay=dict(file=str(path)))
    assert asked == [("hustvl/Vim-tiny-midclstok", "vim_t_midclstok_76p1acc.pth")]
    with torch.serialization.safe_globals(vimvision.models.SAFE_GLOBALS):
        expected = torch.load(path, map_location="cpu", weights_only=True)[key]
    for name, value in from_hub.state_dict().items():
        assert torch.equal(value, from_file.state_dict()[name]), name
    torch.testing.assert_close(from_hub.state_dict()["head.weight"], expected["head.weight"])


def test_new_classes_and_resolution_adapt_the_checkpoint(fixtures_dir):
    path, _, io = _fixture(fixtures_dir)
    model = timm.create_model("vim_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                              depth=2, num_classes=7, img_size=160).eval()
    assert model.pos_embed.shape == (1, 101, 192)
    with torch.serialization.safe_globals(vimvision.models.SAFE_GLOBALS):
        official = torch.load(path, map_location="cpu", weights_only=True)["model"]
    # the class token's position row moves from index 98 (14x14) to 50 (10x10), unchanged
    torch.testing.assert_close(model.pos_embed[0, 50], official["pos_embed"][0, 98])
    torch.testing.assert_close(model.layers[1].mixer.A_b_log, official["layers.1.mixer.A_b_log"])
    assert model(io["input"][:, :, :160, :160]).shape == (2, 7)


def test_wrong_checkpoints_fail_naming_keys(fixtures_dir, tmp_path):
    vmamba = fixtures_dir / "vmamba_tiny_s1l8_depths1121.pth"
    with pytest.raises(ValueError, match=r"missing keys \(\d+\): cls_token.*unexpected keys"):
        small(pretrained=True, pretrained_cfg_overlay=dict(file=str(vmamba)))
    path, _, _ = _fixture(fixtures_dir)
    with pytest.raises(ValueError, match="missing keys .*layers.2.mixer.A_b_log"):
        timm.create_model("vim_tiny", depth=3, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:50_000])
    with pytest.raises(ValueError, match="cannot read checkpoint .*truncated.pth"):
        small(pretrained=True, pretrained_cfg_overlay=dict(file=str(truncated)))


def test_pools_take_the_middle_class_token_or_the_mean_and_groups_follow_blocks():
    model = small(num_classes=5).eval()
    feats = model.forward_features(torch.randn(2, 3, 224, 224))
    torch.testing.assert_close(model.forward_head(feats, pre_logits=True), feats[:, 98])
    model.reset_classifier(3, "avg")
    torch.testing.assert_close(model.forward_head(feats, pre_logits=True), feats.mean(1))
    groups = timm.models.group_parameters(model, model.group_matcher())
    assert len(groups) == 4  # stem, two blocks, final norm + head


def test_options_change_the_model():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    base = small().eval()
    gelu = small(gate_act="gelu").eval()
    gelu.load_state_dict(base.state_dict())
    with torch.no_grad():
        assert not torch.allclose(base(x), gelu(x))
    plain = small(rescale_prenorm_residual=False)
    ratio = base.layers[0].mixer.out_proj.weight.std() / plain.layers[0].mixer.out_proj.weight.std()
    assert ratio.item() == pytest.approx(2**-0.5, rel=0.05)  # out_proj / sqrt(depth=2)
    # official schedule: block i drops the previous mixer's output at rates[i - 1], the model the last one's
    deep = timm.create_model("vim_tiny", depth=3, drop_path_rate=0.2)
    assert deep.layers[2].drop_path.drop_prob == pytest.approx(0.1) and deep.drop_path.drop_prob == pytest.approx(0.2)


def test_bad_inputs_are_named():
    model = small()
    with pytest.raises(ValueError, match=r"input size 160x160 differs from img_size \(224, 224\)"):
        model(torch.randn(1, 3, 160, 160))
    with pytest.raises(ValueError, match=r"input has shape \(1, 1, 224, 224\), expected \(batch, 3, H, W\)"):
        model(torch.randn(1, 1, 224, 224))
    with pytest.raises(ValueError, match="global_pool has 'max'"):
        small(global_pool="max")
    with pytest.raises(ValueError, match="img_size .* does not fit patch_size 16 with stride 8"):
        timm.create_model("vim_tiny_stride8", depth=1, img_size=227)


def test_dynamic_img_size_resamples_on_the_fly():
    model = small(dynamic_img_size=True).eval()
    assert model(torch.randn(1, 3, 160, 192)).shape == (1, 1000)
    with pytest.raises(ValueError, match=r"^Vim: input size 160x200 is not covered by the patch grid"):
        model(torch.randn(1, 3, 160, 200))  # 200 = 12 patches of 16 + 8 pixels the conv would drop


def test_triton_backend_on_cpu_tensors_is_named(monkeypatch):
    """Outside Triton's interpreter the kernels cannot take CPU tensors: the model says so, by its argument."""
    model = small(kernel_backend="triton", img_size=32)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)  # read at call time; set for the rest of the suite
    with pytest.raises(ValueError, match=r"^Vim: kernel_backend 'triton' needs CUDA tensors .* device cpu"):
        model(torch.randn(1, 3, 32, 32))


def test_triton_path_matches_torch_path():
    """The GPU path (reversed conv and scan kernels, no flipped copies) equals the CPU path."""
    torch.manual_seed(0)
    assert_triton_matches_torch(
        lambda b: timm.create_model("vim_tiny", depth=1, img_size=48, num_classes=4, kernel_backend=b),
        torch.randn(2, 3, 48, 48), lambda m: (m.layers[0].mixer.A_b_log, m.layers[0].mixer.conv1d_b.weight),
        rtol=1e-3, atol=1e-4)
