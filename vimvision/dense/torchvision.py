"""torchvision detectors and a UperNet segmentation model on our backbones.

Detection: our backbone + torchvision's FeaturePyramidNetwork inside torchvision's FasterRCNN,
MaskRCNN or RetinaNet. Segmentation: our backbone + a UperNet head (pyramid pooling on the deepest
map, FPN fusion of all four), logits upsampled to the input size, returned as {'out': logits} like
torchvision's segmentation models.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection import FasterRCNN, MaskRCNN, RetinaNet
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from .backbones import VimBackbone, VMambaBackbone

ARCHS = ("faster_rcnn", "mask_rcnn", "retinanet")


def build_backbone(backbone: str, **overrides) -> nn.Module:
    """'vmamba_*' -> VMambaBackbone, 'vim_*' -> VimBackbone (overrides pass to them and the timm model)."""
    if backbone.startswith("vmamba"):
        return VMambaBackbone(model_name=backbone, **overrides)
    if backbone.startswith("vim"):
        return VimBackbone(model_name=backbone, **overrides)
    raise ValueError(f"backbone has {backbone!r}, expected a vmamba_* or vim_* model name")


class BackboneWithFPN(nn.Module):
    """Our multi-scale backbone followed by torchvision's FPN; `levels` picks which maps feed it."""

    def __init__(self, body: nn.Module, levels: Sequence[int], out_channels: int, extra_blocks):
        super().__init__()
        self.body, self.levels = body, tuple(levels)
        self.fpn = FeaturePyramidNetwork([body.out_channels[i] for i in self.levels], out_channels, extra_blocks)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        feats = self.body(x)
        return self.fpn(OrderedDict((str(k), feats[i]) for k, i in enumerate(self.levels)))


def torchvision_detector(backbone: str = "vmamba_tiny", arch: str = "faster_rcnn", num_classes: int = 91,
                         fpn_channels: int = 256, detector_kwargs: dict | None = None,
                         **backbone_overrides) -> nn.Module:
    """A ready torchvision FasterRCNN / MaskRCNN / RetinaNet with our backbone and an FPN.

    R-CNNs use all four maps (strides 4-32) plus a max-pool level; RetinaNet uses strides 8-32 plus
    P6/P7, as torchvision's own builders do."""
    if arch not in ARCHS:
        raise ValueError(f"torchvision_detector: arch has {arch!r}, expected one of {ARCHS}")
    body = build_backbone(backbone, **backbone_overrides)
    body.init_weights()
    if arch == "retinanet":
        neck = BackboneWithFPN(body, (1, 2, 3), fpn_channels, LastLevelP6P7(fpn_channels, fpn_channels))
        return RetinaNet(neck, num_classes=num_classes, **(detector_kwargs or {}))
    neck = BackboneWithFPN(body, (0, 1, 2, 3), fpn_channels, LastLevelMaxPool())
    cls = FasterRCNN if arch == "faster_rcnn" else MaskRCNN
    return cls(neck, num_classes=num_classes, **(detector_kwargs or {}))


def _conv_bn_relu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class UperNetHead(nn.Module):
    """UperNet (Xiao et al. 2018) as in mmseg's UPerHead: pyramid pooling (scales 1, 2, 3, 6) on the
    deepest map, lateral 1x1 + top-down FPN, 3x3 convs, all levels upsampled, concatenated and fused."""

    def __init__(self, in_channels: Sequence[int], num_classes: int, channels: int = 512,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1):
        super().__init__()
        self.ppm = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(s), _conv_bn_relu(in_channels[-1], channels, 1))
                                 for s in pool_scales)
        self.bottleneck = _conv_bn_relu(in_channels[-1] + len(pool_scales) * channels, channels, 3)
        self.lateral = nn.ModuleList(_conv_bn_relu(c, channels, 1) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(_conv_bn_relu(channels, channels, 3) for _ in in_channels[:-1])
        self.fuse = _conv_bn_relu(len(in_channels) * channels, channels, 3)
        self.classifier = nn.Sequential(nn.Dropout2d(dropout), nn.Conv2d(channels, num_classes, 1))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        top = feats[-1]
        pooled = [F.interpolate(p(top), size=top.shape[-2:], mode="bilinear", align_corners=False) for p in self.ppm]
        laterals = [lat(f) for lat, f in zip(self.lateral, feats[:-1])]
        laterals.append(self.bottleneck(torch.cat([top, *pooled], 1)))
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[-2:],
                                                              mode="bilinear", align_corners=False)
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals[:-1])] + [laterals[-1]]
        size = outs[0].shape[-2:]
        outs = [outs[0]] + [F.interpolate(o, size=size, mode="bilinear", align_corners=False) for o in outs[1:]]
        return self.classifier(self.fuse(torch.cat(outs, 1)))


class SegmentationModel(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x: torch.Tensor) -> dict:
        logits = self.head(self.backbone(x))
        return {"out": F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)}


def segmentation_model(backbone: str = "vmamba_tiny", num_classes: int = 150, head: str = "upernet",
                       head_channels: int = 512, **backbone_overrides) -> nn.Module:
    """Semantic segmentation: our backbone + a UperNet head; forward returns {'out': (B, classes, H, W)}."""
    if head != "upernet":
        raise ValueError(f"segmentation_model: head has {head!r}, expected 'upernet'")
    body = build_backbone(backbone, **backbone_overrides)
    body.init_weights()
    return SegmentationModel(body, UperNetHead(body.out_channels, num_classes, head_channels))
