"""VMamba (Liu et al., NeurIPS 2024) in timm, faithful to MzeroMiko/VMamba and its checkpoints.

Two designs, with the official parameter names:
- v2 (the released VMamba-T/S/B, d_state 1 or 2 ratios "sxly"): overlapping conv stem ("v2"),
  VSS blocks of norm + SS2D (v05_noz: no gate) + drop path, then norm2 + MLP, 3x3 stride-2 conv
  downsample ("v3"), channel-first by default ('ln2d', as the official runs), channel-last available.
- v0 (Vanilla-VMamba): 4x4 patch stem, SS2D with d_state 16 and a z gate, no MLP, Swin patch merging,
  channel-last only. Its release files use older key names, renamed on load as the official loader does.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import DropPath, calculate_drop_path_rates, trunc_normal_
from timm.models import generate_default_cfgs

from ..layers.ss2d import SS2D, Permute, linear_layer, norm_layer
from ..validation import check_choice, check_int, check_rate
from ._builder import (
    Arch,
    FamilyModel,
    adapt_state_dict,
    build_family_model,
    check_global_pool,
    factory_kwargs,
    register_variants,
)

__all__ = ["VMamba", "create_vmamba"]

GLOBAL_POOLS = ("avg", "")


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 with 1x1-conv projections when channel-first (official key names)."""

    def __init__(self, dim: int, hidden: int, channel_first: bool):
        super().__init__()
        self.fc1 = linear_layer(dim, hidden, True, channel_first)
        self.act = nn.GELU()
        self.fc2 = linear_layer(hidden, dim, True, channel_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class VSSBlock(nn.Module):
    """x + drop_path(SS2D(norm(x))), then x + drop_path(MLP(norm2(x))) when mlp_ratio > 0."""

    def __init__(self, dim: int, drop_path: float, mlp_ratio: float, channel_first: bool, **ss2d_kwargs):
        super().__init__()
        self.norm = norm_layer(dim, channel_first)
        self.op = SS2D(dim, channel_first=channel_first, **ss2d_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.has_mlp = mlp_ratio > 0
        if self.has_mlp:
            self.norm2 = norm_layer(dim, channel_first)
            self.mlp = Mlp(dim, int(dim * mlp_ratio), channel_first)

    def compile_regions(self) -> list[nn.Module]:
        """What vimvision.compile_blocks compiles: the norms and the MLP (SS2D stays eager: see compile.py)."""
        return [self.norm, *([self.norm2, self.mlp] if self.has_mlp else [])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.op(self.norm(x)))
        if self.has_mlp:
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


def pad_to_even(x: torch.Tensor) -> torch.Tensor:
    """(batch, H, W, C) with an odd H or W zero-padded at the bottom / right, as the official patch merging
    (a torch.fx leaf: the size test runs when a traced graph runs)."""
    H, W = x.shape[1:3]
    return F.pad(x, (0, 0, 0, W % 2, 0, H % 2)) if H % 2 or W % 2 else x


torch.fx.wrap("pad_to_even")


class PatchMerging2D(nn.Module):
    """Swin patch merging on (batch, H, W, C): 2x2 neighbours concatenated, LayerNorm, Linear 4C -> 2C."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_to_even(x)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


def _stem(version: str, in_chans: int, dim: int, channel_first: bool) -> nn.Sequential:
    to_last, to_first = (nn.Identity(), nn.Identity()) if channel_first else (Permute(0, 2, 3, 1), Permute(0, 3, 1, 2))
    if version == "v1":
        return nn.Sequential(nn.Conv2d(in_chans, dim, 4, 4), to_last, norm_layer(dim, channel_first))
    return nn.Sequential(  # v2: two stride-2 3x3 convs; indices 0/2/5/7 as the official
        nn.Conv2d(in_chans, dim // 2, 3, 2, 1), to_last, norm_layer(dim // 2, channel_first), to_first, nn.GELU(),
        nn.Conv2d(dim // 2, dim, 3, 2, 1), to_last if not channel_first else nn.Identity(),
        norm_layer(dim, channel_first),
    )


def _downsample(version: str, dim: int, out_dim: int, channel_first: bool) -> nn.Module:
    if version == "v1":
        return PatchMerging2D(dim, out_dim)
    to_last, to_first = (nn.Identity(), nn.Identity()) if channel_first else (Permute(0, 2, 3, 1), Permute(0, 3, 1, 2))
    return nn.Sequential(to_first, nn.Conv2d(dim, out_dim, 3, 2, 1), to_last, norm_layer(out_dim, channel_first))


def check_vmamba_input(x: torch.Tensor, in_chans: int, least: int) -> torch.Tensor:
    """x, after the named error for a wrong layout or a side under `least` (a torch.fx leaf: it runs when a traced
    graph runs, instead of stopping the trace)."""
    if x.dim() != 4 or x.shape[1] != in_chans or min(x.shape[-2:]) < least:
        raise ValueError(f"VMamba: input has shape {tuple(x.shape)}, expected (batch, {in_chans}, H, W) "
                         f"with H, W >= {least}")
    return x


torch.fx.wrap("check_vmamba_input")


def _check_stages(depths, dims) -> None:
    if isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence) or not depths:
        raise ValueError(f"VMamba: depths has {depths!r}, expected a non-empty sequence of stage depths")
    check_int("VMamba", **{f"depths[{i}]": d for i, d in enumerate(depths)})
    if isinstance(dims, int):
        check_int("VMamba", dims=dims)
    elif not isinstance(dims, Sequence) or len(dims) != len(depths):
        raise ValueError(f"VMamba: dims has {dims!r}, expected an int or one width per stage ({len(depths)})")
    else:
        check_int("VMamba", **{f"dims[{i}]": d for i, d in enumerate(dims)})


class VMamba(FamilyModel):
    """VMamba with the official architecture and parameter names (see the module docstring).

    Inputs of any size the official model takes: the v2 stem and downsampling are stride-2 convs with
    padding 1 (ceil halving), v0's patch merging zero-pads an odd side at the bottom/right, and v0's
    4x4 stride-4 stem drops what a 4-pixel grid does not cover, all as the official code.
    global_pool: 'avg' (the official head) or '' (features).
    """

    INTERMEDIATE_FORMATS = ("NCHW", "NHWC")

    @factory_kwargs
    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        depths: Tuple[int, ...] = (2, 2, 8, 2),
        dims: Union[int, Tuple[int, ...]] = 96,
        d_state: int = 1,
        ssm_ratio: float = 1.0,
        mlp_ratio: float = 4.0,
        version: str = "v2",
        channel_first: Optional[bool] = None,
        gate_act: str = "silu",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.2,
        kernel_backend: str = "auto",
    ):
        super().__init__()
        check_choice("VMamba", "version", version, ("v2", "v0"))
        check_global_pool("VMamba", global_pool, GLOBAL_POOLS)
        _check_stages(depths, dims)
        check_int("VMamba", in_chans=in_chans, d_state=d_state)
        check_int("VMamba", minimum=0, num_classes=num_classes)
        check_rate("VMamba", drop_rate=drop_rate, drop_path_rate=drop_path_rate)
        if not ssm_ratio > 0 or not mlp_ratio >= 0:
            raise ValueError(f"VMamba: ssm_ratio has {ssm_ratio!r} and mlp_ratio {mlp_ratio!r}, expected "
                             "ssm_ratio > 0 and mlp_ratio >= 0 (0: no MLP, as v0)")
        channel_first = (version == "v2") if channel_first is None else channel_first
        if version == "v0" and channel_first:
            raise ValueError("VMamba: version 'v0' runs channel-last only (channel_first=False), as the official")
        dims = [dims * 2**i for i in range(len(depths))] if isinstance(dims, int) else list(dims)
        self.num_classes, self.global_pool, self.channel_first = num_classes, global_pool, channel_first
        self.in_chans = in_chans
        self.num_features = self.head_hidden_size = dims[-1]
        self.output_fmt = "NCHW" if channel_first else "NHWC"
        self.grad_checkpointing = False
        v0 = version == "v0"
        self.patch_embed = _stem("v1" if v0 else "v2", in_chans, dims[0], channel_first)
        rates = calculate_drop_path_rates(drop_path_rate, sum(depths))
        block = partial(
            VSSBlock, mlp_ratio=mlp_ratio, channel_first=channel_first, d_state=d_state, ssm_ratio=ssm_ratio,
            conv_bias=v0, gated=v0, gate_act=gate_act, kernel_backend=kernel_backend,
        )
        self.layers = nn.ModuleList()
        self.feature_info = []
        for i, depth in enumerate(depths):
            start = sum(depths[:i])
            blocks = nn.Sequential(*(block(dims[i], rates[start + j]) for j in range(depth)))
            last = i == len(depths) - 1
            down = nn.Identity() if last else _downsample("v1" if v0 else "v3", dims[i], dims[i + 1], channel_first)
            self.layers.append(nn.Sequential(OrderedDict(blocks=blocks, downsample=down)))
            self.feature_info.append(dict(num_chs=dims[i], reduction=4 * 2**i, module=f"layers.{i}.blocks"))
        self.classifier = nn.Sequential(OrderedDict(
            norm=norm_layer(dims[-1], channel_first),
            permute=nn.Identity() if channel_first else Permute(0, 3, 1, 2),
            avgpool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(1),
            head_drop=nn.Dropout(drop_rate),
            head=nn.Linear(dims[-1], num_classes) if num_classes > 0 else nn.Identity(),
        ))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """As the official VSSM: trunc-normal(0.02) Linear weights, zero biases, unit LayerNorms."""
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^layers\.(\d+)" if coarse else [
                (r"^layers\.(\d+)\.downsample", (0,)), (r"^layers\.(\d+)\.blocks\.(\d+)", None),
                (r"^classifier\.norm", (99999,)),
            ],
        )

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        if global_pool is not None:
            self.global_pool = check_global_pool("VMamba", global_pool, GLOBAL_POOLS)
        self.num_classes = num_classes
        self.classifier.head = self.new_head(self.num_features, num_classes)

    def _checked(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.patch_embed[0]
        least = stem.kernel_size[0] - 2 * stem.padding[0]  # v0: the 4x4 patch; v2: one pixel
        return check_vmamba_input(x, stem.in_channels, least)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(self._checked(x))
        for stage in self.layers:
            x = stage.downsample(self.run_blocks(stage.blocks, x))
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        c = self.classifier
        x = c.norm(x)
        if self.global_pool == "avg":
            x = c.flatten(c.avgpool(c.permute(x)))
        x = c.head_drop(x)
        return x if pre_logits else c.head(x)

    def walk_intermediates(self, x: torch.Tensor, stages: Sequence[nn.Module], take_indices: List[int], norm: bool,
                           output_fmt: str) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Each chosen stage's block output (before its downsample), 'NCHW' or 'NHWC'; norm applies the final
        norm to the last stage only (the official dense backbone adds its own per-stage norms)."""
        x = self.patch_embed(self._checked(x))
        intermediates = []
        for i, stage in enumerate(stages):
            feat = self.run_blocks(stage.blocks, x)
            if i in take_indices:
                out = self.classifier.norm(feat) if norm and i == len(self.layers) - 1 else feat
                if self.channel_first != (output_fmt == "NCHW"):
                    out = out.permute(0, 2, 3, 1) if self.channel_first else out.permute(0, 3, 1, 2)
                intermediates.append(out.contiguous())
            x = stage.downsample(feat)
        return x, intermediates

    def prune_end(self, prune_norm: bool) -> None:
        self.layers[-1].downsample = nn.Identity()
        if prune_norm:
            self.classifier.norm = nn.Identity()

    def filter_checkpoint(self, state_dict: dict) -> dict:
        return checkpoint_filter_fn(state_dict, self)


# the pre-2024 official code (which wrote the v0 release files) used these names
_LEGACY_RENAMES = [
    (r"^patch_embed\.proj\.", "patch_embed.0."),
    (r"^patch_embed\.norm\.", "patch_embed.2."),
    (r"^(layers\.\d+\.blocks\.\d+)\.ln_1\.", r"\1.norm."),
    (r"^(layers\.\d+\.blocks\.\d+)\.self_attention\.", r"\1.op."),
    (r"^norm\.", "classifier.norm."),
    (r"^head\.", "classifier.head."),
]


def checkpoint_filter_fn(state_dict: dict, model: VMamba) -> dict:
    """Official (MzeroMiko/VMamba, v2 or legacy v0 names) or vimvision state dict -> this model's:
    unwrap, strip DDP prefixes, apply the official loader's legacy renames, reshape 1x1-conv weights
    saved 4-D, and keep this model's classifier when the class count differs."""
    own = model.state_dict()

    def rename_and_reshape(key: str, value: torch.Tensor) -> Tuple[str, torch.Tensor]:
        for pattern, replacement in _LEGACY_RENAMES:
            key = re.sub(pattern, replacement, key)
        if key in own and value.dim() == 4 and own[key].dim() == 2:
            value = value.flatten(1)
        return key, value

    return adapt_state_dict(state_dict, model, "classifier.head", rename_and_reshape)


def create_vmamba(variant: str, pretrained: bool = False, **kwargs) -> VMamba:
    """Build a registered VMamba variant (timm's _create_vmamba)."""
    return build_family_model(VMamba, variant, pretrained, checkpoint_filter_fn, default_out_indices=(0, 1, 2, 3),
                              **kwargs)


_RELEASE = "https://github.com/MzeroMiko/VMamba/releases/download/%23"


def _cfg(tag_file: str, **kwargs) -> dict:
    return {
        "url": _RELEASE + tag_file, "custom_load": True, "num_classes": 1000, "input_size": (3, 224, 224),
        "pool_size": (7, 7), "crop_pct": 0.875, "interpolation": "bicubic", "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD, "first_conv": "patch_embed.0", "classifier": "classifier.head",
        "license": "mit", "paper_ids": "arXiv:2401.10166", "origin_url": "https://github.com/MzeroMiko/VMamba",
        **kwargs,
    }


_V0 = dict(d_state=16, ssm_ratio=2.0, mlp_ratio=0.0, version="v0")
# official parameter counts, GFLOPs and top-1
ARCHS = {
    "vmamba_tiny_s1l8": Arch(dict(depths=(2, 2, 8, 2), dims=96, d_state=1, ssm_ratio=1.0, drop_path_rate=0.2),
                             "VMamba-T[s1l8], the paper's VMamba-T: 30.2 M params, 4.9 GFLOPs, 82.6 % top-1."),
    "vmamba_small_s2l15": Arch(dict(depths=(2, 2, 15, 2), dims=96, d_state=1, ssm_ratio=2.0, drop_path_rate=0.3),
                               "VMamba-S[s2l15], the paper's VMamba-S: 50.1 M params, 8.7 GFLOPs, 83.6 %."),
    "vmamba_base_s2l15": Arch(dict(depths=(2, 2, 15, 2), dims=128, d_state=1, ssm_ratio=2.0, drop_path_rate=0.6),
                              "VMamba-B[s2l15], the paper's VMamba-B: 88.6 M params, 15.4 GFLOPs, 83.9 %."),
    "vmamba_tiny_s2l5": Arch(dict(depths=(2, 2, 5, 2), dims=96, d_state=1, ssm_ratio=2.0, drop_path_rate=0.2),
                             "VMamba-T[s2l5]: 30.7 M params, 4.9 GFLOPs, 82.5 %."),
    "vmamba_small_s1l20": Arch(dict(depths=(2, 2, 20, 2), dims=96, d_state=1, ssm_ratio=1.0, drop_path_rate=0.3),
                               "VMamba-S[s1l20]: 49.0 M params, 8.6 GFLOPs, 83.3 %."),
    "vmamba_base_s1l20": Arch(dict(depths=(2, 2, 20, 2), dims=128, d_state=1, ssm_ratio=1.0, drop_path_rate=0.5),
                              "VMamba-B[s1l20]: 86.6 M params, 15.2 GFLOPs, 83.8 %."),
    "vmamba_tiny_v0": Arch(dict(depths=(2, 2, 9, 2), dims=96, drop_path_rate=0.2, **_V0),
                           "Vanilla-VMamba-T (d_state 16, z gate, no MLP): 22.9 M params, 5.6 GFLOPs, 82.2 %."),
    "vmamba_small_v0": Arch(dict(depths=(2, 2, 27, 2), dims=96, drop_path_rate=0.3, **_V0),
                            "Vanilla-VMamba-S: 44.4 M params, 11.2 GFLOPs, 83.5 %."),
    "vmamba_base_v0": Arch(dict(depths=(2, 2, 27, 2), dims=128, drop_path_rate=0.6, **_V0),
                           "Vanilla-VMamba-B: 76.3 M params, 18.0 GFLOPs, 83.7 %."),
}
ALIASES = {"vmamba_tiny": "vmamba_tiny_s1l8", "vmamba_small": "vmamba_small_s2l15", "vmamba_base": "vmamba_base_s2l15"}
RELEASE_FILES = {
    "vmamba_tiny_s1l8": "v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth",
    "vmamba_small_s2l15": "v2cls/vssm_small_0229_ckpt_epoch_222.pth",
    "vmamba_base_s2l15": "v2cls/vssm_base_0229_ckpt_epoch_237.pth",
    "vmamba_tiny_s2l5": "v2cls/vssm_tiny_0230_ckpt_epoch_262.pth",
    "vmamba_small_s1l20": "v2cls/vssm1_small_0229s_ckpt_epoch_240.pth",
    "vmamba_base_s1l20": "v2cls/vssm1_base_0229s_ckpt_epoch_225.pth",
    "vmamba_tiny_v0": "v0cls/vssmtiny_dp01_ckpt_epoch_292.pth",
    "vmamba_small_v0": "v0cls/vssmsmall_dp03_ckpt_epoch_238.pth",
    "vmamba_base_v0": "v0cls/vssmbase_dp06_ckpt_epoch_241.pth",
}

default_cfgs = generate_default_cfgs({
    f"{name}.in1k": _cfg(RELEASE_FILES[ALIASES.get(name, name)])
    for name in (*ARCHS, *ALIASES)
})


register_variants(__name__, create_vmamba, ARCHS, ALIASES)
