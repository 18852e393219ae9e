"""Dense-prediction backbones registered in mmengine's root MODELS registry, so mmdet 3.x / mmseg 1.x
configs find them with ``custom_imports=dict(imports=['vimvision'])`` and ``type='VMambaBackbone'``
without vimvision importing mmdet, mmseg or mmcv. Both return a tuple of NCHW maps, shallow to deep.

Each backbone is its family's model (a subclass, as the official Backbone_VSSM is a VSSM), so a detector's
parameters are named as the official ones (``backbone.layers.0...``, ``backbone.outnorm0...``) and official
detector and segmentor files load strictly, as mmengine loads them.
"""
from __future__ import annotations

from typing import Optional, Sequence

import timm
import torch
import torch.nn as nn
from mmengine.registry import MODELS
from timm.layers import LayerNorm2d

from ..models import Vim, VMamba, format_keys, load_strict, pick_state_dict, read_checkpoint


def _backbone_keys(state_dict: dict) -> dict:
    """A classification file's keys, or the 'backbone.' part of a whole detector/segmentor file."""
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    if any(k.startswith("backbone.") for k in state_dict):
        return {k.removeprefix("backbone."): v for k, v in state_dict.items() if k.startswith("backbone.")}
    return state_dict


class _DenseBackbone:
    """What both backbones add to their family's model: construction from a registered name, checkpoint
    loading by init_cfg (classification or dense files), frozen stages, and official key names on load."""

    DENSE_MODULES: tuple = ()  # top-level names of the modules a classification file lacks

    def _build(self, model_name: str, frozen_stages: int, norm_eval: bool, drop_path_rate: Optional[float],
               init_cfg: Optional[dict], pretrained: Optional[str], model_kwargs: dict) -> None:
        if pretrained is not None:
            if init_cfg is not None:
                raise ValueError(f"{type(self).__name__}: pass either pretrained= or init_cfg=, not both")
            init_cfg = dict(type="Pretrained", checkpoint=pretrained)
        if drop_path_rate is not None:
            model_kwargs["drop_path_rate"] = drop_path_rate
        timm.create_model(model_name, num_classes=0, build_in=self, **model_kwargs)  # initializes self
        # the names before pruning the layers after the last tap: a checkpoint key outside them (and the
        # classifier) means a deeper or different model, not a pruned layer
        self._unpruned_keys = frozenset(self.state_dict())
        self.model_name, self.init_cfg, self.is_init = model_name, init_cfg, False
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.register_load_state_dict_pre_hook(_official_names)

    def init_weights(self) -> None:
        """init_cfg Pretrained: an official or vimvision classification file ('model', 'state_dict') or a whole
        detector/segmentor file ('backbone.' keys), converted by the family's checkpoint_filter_fn; anything the
        backbone lacks is named in an error. Without it, the family's own (official) init from __init__ stands."""
        cfg = self.init_cfg if isinstance(self.init_cfg, dict) else None
        if cfg and cfg.get("type") == "Pretrained":
            if "checkpoint" not in cfg:
                raise ValueError(f"{type(self).__name__}: init_cfg {cfg} needs a 'checkpoint' path")
            self._load_backbone(cfg["checkpoint"])
        elif cfg:
            raise ValueError(f"{type(self).__name__}: init_cfg has {cfg}, expected None or type='Pretrained'")
        self.is_init = True

    def _load_backbone(self, path: str) -> None:
        converted = self.filter_checkpoint(_backbone_keys(pick_state_dict(read_checkpoint(path))))
        own = self.state_dict()
        classifier = self.pretrained_cfg.get("classifier") or "head"
        foreign = [k for k in converted if k not in own and k not in self._unpruned_keys
                   and not k.startswith(f"{classifier}.")]
        if foreign:
            raise ValueError(f"checkpoint {path!r} does not fit {type(self).__name__} ({self.model_name}): unexpected "
                             f"keys ({len(foreign)}): {format_keys(foreign)} (a deeper or different model?)")
        kept = {k: v for k, v in converted.items() if k in own}
        dense_only = {k: v for k, v in own.items() if k.split(".")[0] in self.DENSE_MODULES and k not in kept}
        load_strict(self, {**kept, **dense_only}, source=f"checkpoint {path!r}")  # dense-only modules keep init

    def _check_out_indices(self, out_indices: Sequence[int], count: int, what: str) -> tuple:
        indices = tuple(out_indices)
        if not indices or not all(isinstance(i, int) and 0 <= i < count for i in indices):
            raise ValueError(f"{type(self).__name__}: out_indices has {indices}, expected {what} indices in "
                             f"0..{count - 1} ({self.model_name} has {count})")
        return indices

    def _frozen_modules(self) -> list[nn.Module]:
        return [] if self.frozen_stages < 0 else [self.patch_embed, *self.layers[: self.frozen_stages]]

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad = False
        if mode and self.norm_eval:  # BatchNorm statistics frozen; LayerNorms are unaffected
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self


def _official_names(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """load_state_dict pre-hook (torch's and mmengine's loaders both run it): keys of this backbone that it
    does not have go through the family's checkpoint conversion first (the v0 files' older names), so a
    legacy official file loads strictly; what still does not fit stays for the loader to report."""
    own = module.state_dict(keep_vars=True)
    foreign = {k[len(prefix):]: k for k in state_dict if k.startswith(prefix) and k[len(prefix):] not in own}
    if not foreign:
        return
    converted = module.filter_checkpoint({name: state_dict.pop(key) for name, key in foreign.items()})
    state_dict.update({prefix + name: value for name, value in converted.items()})


@MODELS.register_module()
class VMambaBackbone(_DenseBackbone, VMamba):
    """VMamba stages as an mmdet/mmseg/torchvision backbone, as the official Backbone_VSSM:
    stage i's block output (before its downsample) through a per-stage LayerNorm ``outnorm{i}``,
    NCHW at strides 4, 8, 16, 32. frozen_stages: -1 none, 0 the stem, k the stem and stages < k."""

    DENSE_MODULES = ("outnorm0", "outnorm1", "outnorm2", "outnorm3")

    def __init__(self, model_name: str = "vmamba_tiny", out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False, drop_path_rate: Optional[float] = None,
                 init_cfg: Optional[dict] = None, pretrained: Optional[str] = None, **model_kwargs):
        self._build(model_name, frozen_stages, norm_eval, drop_path_rate, init_cfg, pretrained, model_kwargs)
        self.out_indices = self._check_out_indices(out_indices, len(self.layers), "stage")
        self.prune_intermediate_layers(list(self.out_indices), prune_norm=True, prune_head=True)
        info = self.feature_info
        self.out_channels = [info[i]["num_chs"] for i in self.out_indices]
        self.strides = [info[i]["reduction"] for i in self.out_indices]
        for i, channels in zip(self.out_indices, self.out_channels):
            self.add_module(f"outnorm{i}", LayerNorm2d(channels, eps=1e-5))
        self.train()

    def forward(self, x: torch.Tensor) -> tuple:
        feats = self.forward_intermediates(x, indices=list(self.out_indices), intermediates_only=True)
        return tuple(getattr(self, f"outnorm{i}")(f) for i, f in zip(self.out_indices, feats))


class SimpleFeaturePyramid(nn.Module):
    """ViTDet's pyramid from one stride-s map: scales 4, 2, 1, 1/2 (deconvs, identity, max-pool), each
    then 1x1 and 3x3 convs with LayerNorm to out_channels."""

    def __init__(self, dim: int, out_channels: int = 256, scales: Sequence[float] = (4.0, 2.0, 1.0, 0.5)):
        super().__init__()
        self.stages = nn.ModuleList()
        for scale in scales:
            if scale == 4.0:
                layers, width = [nn.ConvTranspose2d(dim, dim // 2, 2, 2), LayerNorm2d(dim // 2), nn.GELU(),
                                 nn.ConvTranspose2d(dim // 2, dim // 4, 2, 2)], dim // 4
            elif scale == 2.0:
                layers, width = [nn.ConvTranspose2d(dim, dim // 2, 2, 2)], dim // 2
            elif scale == 1.0:
                layers, width = [], dim
            elif scale == 0.5:
                layers, width = [nn.MaxPool2d(2)], dim
            else:
                raise ValueError(f"SimpleFeaturePyramid: scale {scale} is not one of 4, 2, 1, 0.5")
            layers += [nn.Conv2d(width, out_channels, 1, bias=False), LayerNorm2d(out_channels),
                       nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), LayerNorm2d(out_channels)]
            self.stages.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> tuple:
        return tuple(stage(x) for stage in self.stages)


class MultiTapPyramid(nn.Module):
    """BEiT-style necks over four tapped blocks (Vim's official segmentation backbone): two deconvs (x4),
    one deconv (x2), identity, max-pool (x1/2); channels stay the embedding width."""

    def __init__(self, dim: int):
        super().__init__()
        self.fpn1 = nn.Sequential(nn.ConvTranspose2d(dim, dim, 2, 2), nn.BatchNorm2d(dim), nn.GELU(),
                                  nn.ConvTranspose2d(dim, dim, 2, 2))
        self.fpn2 = nn.ConvTranspose2d(dim, dim, 2, 2)
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(2)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple:
        return tuple(op(f) for op, f in zip((self.fpn1, self.fpn2, self.fpn3, self.fpn4), feats))


@MODELS.register_module()
class VimBackbone(_DenseBackbone, Vim):
    """Vim made multi-scale for detection/segmentation, on any input size (the position embedding is
    resampled to each input's grid). neck='simple_fpn': ViTDet's pyramid from the last tapped block
    (out_channels each); neck='multi_tap': BEiT-style necks on four tapped blocks (embedding width each).
    Outputs are at strides 4, 8, 16, 32 for patch-16 models. frozen_stages: -1 none, 0 the patch and
    position embeddings, k those and blocks < k."""

    DENSE_MODULES = ("neck",)

    def __init__(self, model_name: str = "vim_small", out_indices: Optional[Sequence[int]] = None,
                 neck: str = "simple_fpn", out_channels: int = 256, frozen_stages: int = -1,
                 norm_eval: bool = False, drop_path_rate: Optional[float] = None, init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None, **model_kwargs):
        if neck not in ("simple_fpn", "multi_tap"):
            raise ValueError(f"VimBackbone: neck has {neck!r}, expected 'simple_fpn' or 'multi_tap'")
        model_kwargs.setdefault("dynamic_img_size", True)
        self._build(model_name, frozen_stages, norm_eval, drop_path_rate, init_cfg, pretrained, model_kwargs)
        depth = len(self.layers)
        self.out_indices = self._check_out_indices(out_indices, depth, "block") if out_indices is not None else tuple(
            depth * (k + 1) // 4 - 1 for k in range(4)) if neck == "multi_tap" else (depth - 1,)
        if neck == "multi_tap" and len(self.out_indices) != 4:
            raise ValueError(f"VimBackbone: neck 'multi_tap' needs 4 out_indices, got {self.out_indices}")
        self.prune_intermediate_layers(list(self.out_indices), prune_norm=True, prune_head=True)
        dim = self.embed_dim
        self.neck_type = neck
        self.neck = SimpleFeaturePyramid(dim, out_channels) if neck == "simple_fpn" else MultiTapPyramid(dim)
        self.out_channels = [out_channels] * 4 if neck == "simple_fpn" else [dim] * 4
        stride = self.patch_embed.stride
        self.strides = [stride // 4, stride // 2, stride, stride * 2]
        self.train()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_stages >= 0:  # the embeddings are parameters of the model itself
            self.pos_embed.requires_grad = False
            self.cls_token.requires_grad = False
        return self

    def forward(self, x: torch.Tensor) -> tuple:
        feats = self.forward_intermediates(x, indices=list(self.out_indices), intermediates_only=True)
        return self.neck(feats[-1]) if self.neck_type == "simple_fpn" else self.neck(feats)
