"""Dense-prediction backbones registered in mmengine's root MODELS registry, so mmdet 3.x / mmseg 1.x
configs find them with ``custom_imports=dict(imports=['vimvision'])`` and ``type='VMambaBackbone'``
without vimvision importing mmdet, mmseg or mmcv. Both return a tuple of NCHW maps, shallow to deep.
"""
from __future__ import annotations

from typing import Optional, Sequence

import timm
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from timm.layers import LayerNorm2d

from ..models import format_keys, load_strict, pick_state_dict, read_checkpoint


def _strip(state_dict: dict, prefixes=("module.", "backbone.")) -> dict:
    out = {}
    for key, value in state_dict.items():
        for prefix in prefixes:
            key = key[len(prefix):] if key.startswith(prefix) else key
        out[key] = value
    return out


class _TimmBackbone(BaseModule):
    """Shared: build the timm model without its head, load checkpoints ourselves, freeze stages."""

    def __init__(self, model_name: str, frozen_stages: int, norm_eval: bool, drop_path_rate: Optional[float],
                 init_cfg: Optional[dict], pretrained: Optional[str], model_kwargs: dict):
        if pretrained is not None:
            if init_cfg is not None:
                raise ValueError(f"{type(self).__name__}: pass either pretrained= or init_cfg=, not both")
            init_cfg = dict(type="Pretrained", checkpoint=pretrained)
        super().__init__(init_cfg=init_cfg)
        if drop_path_rate is not None:
            model_kwargs["drop_path_rate"] = drop_path_rate
        self.model = timm.create_model(model_name, num_classes=0, **model_kwargs)
        # the names before the subclass prunes the layers after its last tap: a checkpoint key outside
        # them (and the classifier) means a deeper or different model, not a pruned layer
        self._unpruned_keys = frozenset(self.model.state_dict())
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval

    def init_weights(self) -> None:
        """init_cfg Pretrained: official or vimvision files ('model', 'state_dict', 'backbone.' keys),
        converted by the family's checkpoint_filter_fn; anything the backbone lacks is named in an error."""
        cfg = self.init_cfg if isinstance(self.init_cfg, dict) else None
        if not cfg or cfg.get("type") != "Pretrained":
            return super().init_weights()
        if "checkpoint" not in cfg:
            raise ValueError(f"{type(self).__name__}: init_cfg {cfg} needs a 'checkpoint' path")
        state = _strip(pick_state_dict(read_checkpoint(cfg["checkpoint"])))
        extra = {k: v for k, v in state.items() if k.startswith("outnorm")}
        converted = self.model.filter_checkpoint({k: v for k, v in state.items() if k not in extra})
        own = self.model.state_dict()
        classifier = self.model.pretrained_cfg.get("classifier") or "head"
        foreign = [k for k in converted if k not in self._unpruned_keys and not k.startswith(f"{classifier}.")]
        if foreign:
            raise ValueError(f"checkpoint {cfg['checkpoint']!r} does not fit {type(self).__name__} "
                             f"({self.model.default_cfg.get('architecture', type(self.model).__name__)}): "
                             f"unexpected keys ({len(foreign)}): {format_keys(foreign)} (a deeper or different model?)")
        load_strict(self.model, {k: v for k, v in converted.items() if k in own},
                    source=f"checkpoint {cfg['checkpoint']!r}")
        for key, value in extra.items():  # official dense checkpoints carry the per-stage norms too
            self.get_parameter(key).data.copy_(value)
        self._is_init = True

    def _frozen_modules(self) -> list[nn.Module]:
        raise NotImplementedError

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


@MODELS.register_module()
class VMambaBackbone(_TimmBackbone):
    """VMamba stages as an mmdet/mmseg/torchvision backbone, as the official Backbone_VSSM:
    stage i's block output (before its downsample) through a per-stage LayerNorm ``outnorm{i}``,
    NCHW at strides 4, 8, 16, 32. frozen_stages: -1 none, 0 the stem, k the stem and stages < k."""

    def __init__(self, model_name: str = "vmamba_tiny", out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False, drop_path_rate: Optional[float] = None,
                 init_cfg: Optional[dict] = None, pretrained: Optional[str] = None, **model_kwargs):
        super().__init__(model_name, frozen_stages, norm_eval, drop_path_rate, init_cfg, pretrained, model_kwargs)
        self.out_indices = tuple(out_indices)
        self.model.prune_intermediate_layers(list(self.out_indices), prune_norm=True, prune_head=True)
        info = self.model.feature_info
        self.out_channels = [info[i]["num_chs"] for i in self.out_indices]
        self.strides = [info[i]["reduction"] for i in self.out_indices]
        for i, channels in zip(self.out_indices, self.out_channels):
            self.add_module(f"outnorm{i}", LayerNorm2d(channels, eps=1e-5))
        self.train()

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.model.patch_embed, *self.model.layers[: self.frozen_stages]]

    def forward(self, x: torch.Tensor) -> tuple:
        feats = self.model.forward_intermediates(x, indices=list(self.out_indices), intermediates_only=True)
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
class VimBackbone(_TimmBackbone):
    """Vim made multi-scale for detection/segmentation, on any input size (the position embedding is
    resampled to each input's grid). neck='simple_fpn': ViTDet's pyramid from the last tapped block
    (out_channels each); neck='multi_tap': BEiT-style necks on four tapped blocks (embedding width each).
    Outputs are at strides 4, 8, 16, 32 for patch-16 models. frozen_stages: -1 none, 0 the patch and
    position embeddings, k those and blocks < k."""

    def __init__(self, model_name: str = "vim_small", out_indices: Optional[Sequence[int]] = None,
                 neck: str = "simple_fpn", out_channels: int = 256, frozen_stages: int = -1,
                 norm_eval: bool = False, drop_path_rate: Optional[float] = None, init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None, **model_kwargs):
        if neck not in ("simple_fpn", "multi_tap"):
            raise ValueError(f"VimBackbone: neck has {neck!r}, expected 'simple_fpn' or 'multi_tap'")
        model_kwargs.setdefault("dynamic_img_size", True)
        super().__init__(model_name, frozen_stages, norm_eval, drop_path_rate, init_cfg, pretrained, model_kwargs)
        depth = len(self.model.layers)
        self.out_indices = tuple(out_indices) if out_indices is not None else tuple(
            depth * (k + 1) // 4 - 1 for k in range(4)) if neck == "multi_tap" else (depth - 1,)
        if neck == "multi_tap" and len(self.out_indices) != 4:
            raise ValueError(f"VimBackbone: neck 'multi_tap' needs 4 out_indices, got {self.out_indices}")
        self.model.prune_intermediate_layers(list(self.out_indices), prune_norm=True, prune_head=True)
        dim = self.model.embed_dim
        self.neck_type = neck
        self.neck = SimpleFeaturePyramid(dim, out_channels) if neck == "simple_fpn" else MultiTapPyramid(dim)
        self.out_channels = [out_channels] * 4 if neck == "simple_fpn" else [dim] * 4
        stride = self.model.patch_embed.stride
        self.strides = [stride // 4, stride // 2, stride, stride * 2]
        self.train()

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.model.patch_embed, *self.model.layers[: self.frozen_stages]]

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_stages >= 0:  # the embeddings are parameters of the model itself
            self.model.pos_embed.requires_grad = False
            self.model.cls_token.requires_grad = False
        return self

    def forward(self, x: torch.Tensor) -> tuple:
        feats = self.model.forward_intermediates(x, indices=list(self.out_indices), intermediates_only=True)
        return self.neck(feats[-1]) if self.neck_type == "simple_fpn" else self.neck(feats)
