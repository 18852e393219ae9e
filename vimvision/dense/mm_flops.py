"""FLOPs of a whole mmdet detector or mmseg segmentor, counted the way VMamba's papers count them.

VMamba's ``analyze/utils.py`` (``FLOPs.mmdet_flops`` / ``mmseg_flops``) builds the config's model and counts
one ``mode='tensor'`` forward of a random image with fvcore's rules: a detector at 1280x800 (H x W) runs
backbone, FPN, the RPN's proposals (up to 1000) and the RoI heads (boxes on all, masks on the first 100); a
segmentor at 512x2048 (640x2560 for the 640 crops) runs backbone and UPerHead, not the auxiliary head.
Parameters are the whole model's, auxiliary head included. ``count_flops`` applies our op handles and
the official ignore list, so the counts are comparable with the published ones.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..flops import FlopCount, count_flops
from .mm_build import build_mm_model

DETECTOR_INPUT = (1280, 800)  # (H, W), as the official counter's input_shape=(3, 1280, 800)


def default_input_shape(cfg) -> tuple[int, int]:
    """The official counting size: 1280x800 for detectors, crop x 4*crop (512x2048, 640x2560) for segmentors."""
    if cfg.default_scope == "mmdet":
        return DETECTOR_INPUT
    crop = cfg.get("crop_size", (512, 512))
    return crop[0], 4 * crop[1]


class _TensorMode(nn.Module):
    """``model(x)`` as the official counter calls it: ``mode='tensor'`` with image metadata for a detector."""

    def __init__(self, model: nn.Module, scope: str, shape: tuple[int, int]):
        super().__init__()
        self.model, self.data_samples = model, None
        if scope == "mmdet":
            from mmdet.structures import DetDataSample

            meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                        scale_factor=(1.0, 1.0))
            self.data_samples = [DetDataSample(metainfo=meta)]

    def forward(self, x: torch.Tensor):
        return self.model._forward(x, self.data_samples)


def mm_flops(config: str | Path, input_shape: tuple[int, int] | None = None) -> tuple[FlopCount, tuple[int, int]]:
    """(count, (H, W) counted at) for the config's whole model."""
    if input_shape is not None and (len(input_shape) != 2 or min(input_shape) < 32):
        raise ValueError(f"input_shape has {tuple(input_shape)}, expected (height, width) of at least 32 pixels each")
    with torch.random.fork_rng():  # seeded: a detector's RoI count (hence its FLOPs) depends on its weights
        torch.manual_seed(0)
        model, cfg = build_mm_model(config)
        shape = tuple(input_shape) if input_shape else default_input_shape(cfg)
        return count_flops(_TensorMode(model, cfg.default_scope, shape), (3, *shape)), shape
