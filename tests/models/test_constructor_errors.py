"""Constructor values that would build a broken or silently different model are named errors."""
import pytest
import timm
import torch

from vimvision.layers import SS2D, BiMambaMixer

VIM = dict(depth=2, embed_dim=32, img_size=32, patch_size=8)
VMAMBA = dict(depths=[1, 1, 1, 1], dims=8)


@pytest.mark.parametrize("kwargs,message", [
    (dict(depth=0), "Vim: depth has 0, expected a positive integer"),
    (dict(d_state=0), "Vim: d_state has 0, expected a positive integer"),
    (dict(embed_dim=0), "Vim: embed_dim has 0, expected a positive integer"),
    (dict(stride=0), "Vim: stride has 0, expected a positive integer"),
    (dict(expand=1.5), "Vim: expand has 1.5, expected a positive integer"),
    (dict(num_classes=-1), "Vim: num_classes has -1, expected an integer >= 0"),
    (dict(drop_path_rate=-0.1), "Vim: drop_path_rate has -0.1, expected a rate in [0, 1)"),
    (dict(drop_rate=1.0), "Vim: drop_rate has 1.0, expected a rate in [0, 1)"),
    (dict(gate_act="relu"), "BiMambaMixer: gate_act has 'relu', expected one of"),
])
def test_vim_names_bad_values(kwargs, message):
    with pytest.raises(ValueError) as info:
        timm.create_model("vim_tiny", **{**VIM, **kwargs})
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("kwargs,message", [
    (dict(depths=[]), "VMamba: depths has [], expected a non-empty sequence"),
    (dict(depths=[1, 0, 1, 1]), "VMamba: depths[1] has 0, expected a positive integer"),
    (dict(dims=[8, 16]), "VMamba: dims has [8, 16], expected an int or one width per stage (4)"),
    (dict(dims=0), "VMamba: dims has 0, expected a positive integer"),
    (dict(d_state=0), "VMamba: d_state has 0, expected a positive integer"),
    (dict(ssm_ratio=0.0), "VMamba: ssm_ratio has 0.0 and mlp_ratio 4.0, expected ssm_ratio > 0"),
    (dict(ssm_ratio=0.05), "SS2D: d_inner has 0, expected a positive integer"),
    (dict(drop_path_rate=-0.2), "VMamba: drop_path_rate has -0.2, expected a rate in [0, 1)"),
    (dict(version="v3"), "VMamba: version has 'v3', expected one of ('v2', 'v0')"),
])
def test_vmamba_names_bad_values(kwargs, message):
    with pytest.raises(ValueError) as info:
        timm.create_model("vmamba_tiny", **{**VMAMBA, **kwargs})
    assert str(info.value).startswith(message), str(info.value)


def test_vmamba_v0_with_an_unknown_gate_is_an_error_not_an_identity():
    with pytest.raises(ValueError, match=r"^SS2D: gate_act has 'relu', expected one of \('silu'"):
        timm.create_model("vmamba_tiny_v0", depths=[1, 1, 1, 1], dims=8, gate_act="relu")
    with pytest.raises(ValueError, match="gate_act has 'relu'"):
        SS2D(8, gated=True, gate_act="relu", channel_first=False)


def test_layers_name_bad_values():
    with pytest.raises(ValueError, match="^BiMambaMixer: d_state has 0, expected a positive integer"):
        BiMambaMixer(16, d_state=0)
    with pytest.raises(ValueError, match="^SS2D: d_conv has 0, expected a positive integer"):
        SS2D(8, d_conv=0)


def test_stride_none_means_the_patch_size():
    model = timm.create_model("vim_tiny", **{**VIM, "stride": None})
    assert model.patch_embed.stride == 8 and model(torch.randn(1, 3, 32, 32)).shape == (1, 1000)
