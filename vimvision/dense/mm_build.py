"""A whole mmdet detector or mmseg segmentor from its config file (needs mmdet / mmseg with mmcv's ops)."""
from __future__ import annotations

from pathlib import Path

import torch.nn as nn


def build_mm_model(config, **backbone_overrides) -> tuple[nn.Module, "object"]:
    """(model in eval mode, resolved config) for a config path or mmengine Config, through its framework's
    registry, without the backbone's pretrained file; `backbone_overrides` update the backbone's settings."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else config
    scope = cfg.get("default_scope")
    if scope not in ("mmdet", "mmseg"):
        raise ValueError(f"config {str(config)!r} has default_scope {scope!r}, expected 'mmdet' or 'mmseg'")
    try:
        registry = __import__(f"{scope}.registry", fromlist=["MODELS"]).MODELS
    except ImportError as e:
        raise ImportError(f"config {str(config)!r} needs {scope} ({e}): pip install -e '.[mm]' and, for mmcv's ops, "
                          "python tools/install_mmcv.py") from None
    init_default_scope(scope)
    backbone = cfg.model.get("backbone", {})
    backbone.pop("init_cfg", None)
    backbone.pop("pretrained", None)
    backbone.update(backbone_overrides)
    return registry.build(cfg.model).eval(), cfg
