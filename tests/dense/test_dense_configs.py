"""Every mmdet/mmseg config parses with mmengine's Config (no mmdet/mmseg needed), and its backbone
section builds from the registry and feeds the neck/head the channels the config declares."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS

from tests.helpers import ROOT as REPO

ROOT = REPO / "configs"
CONFIGS = sorted(p for d in ("mmdet", "mmseg") for p in (ROOT / d).glob("*.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_parses_and_backbone_runs(path):
    cfg = Config.fromfile(str(path))
    assert "vimvision" in cfg.custom_imports["imports"]
    assert cfg.dump()  # mmengine's Runner dumps the config: it must serialize
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg.pop("init_cfg")  # official weights are not here; the contract is tested in test_dense.py
    backbone = MODELS.build(backbone_cfg).eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 64, 64))
    neck = cfg.model.get("neck")
    if neck is not None and "in_channels" not in neck:  # parameter-free (LastLevelMaxPool): the RPN sees every map
        expected = [cfg.model.rpn_head.in_channels] * len(feats)
    else:
        expected = list((neck or cfg.model.decode_head).in_channels)
    assert [f.shape[1] for f in feats] == expected
    assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]
