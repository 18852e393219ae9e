"""Official-format whole detector / segmentor state dicts, built without the official code: the backbone's keys
and shapes from keys_vmamba.json (made by running MzeroMiko/VMamba: its classification keys, minus what
Backbone_VSSM deletes, plus the outnorms it adds; for v0 optionally the release files' older names), the neck's
and heads' from mmdet's / mmseg's own Swin config, which the official configs inherit unchanged."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import torch
from mmengine.config import Config

from tests.dense.mm.stack import build_model

OFFICIAL_BASE = {
    "mmdet": "swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py",
    "mmseg": "swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py",
}


def _parse(entry):
    """keys_vmamba.json stores some fields as Python literals in strings."""
    return ast.literal_eval(entry) if isinstance(entry, str) else entry


def official_backbone_shapes(fixtures: Path, official_model: str, legacy_names: bool = False) -> dict:
    """{key: shape} of Backbone_VSSM's state dict for a released config ('vmambav2v_tiny_224', ...)."""
    entry = json.loads((fixtures / "keys_vmamba.json").read_text())["models"][official_model]
    differences = _parse(entry["backbone_state_dict_differences"])
    source = entry["release_state_dict"] if legacy_names else entry["state_dict"]
    shapes = {key: tuple(shape) for key, shape, _ in _parse(source)}
    removed = {"classifier.norm.weight": "norm.weight", "classifier.norm.bias": "norm.bias",
               "classifier.head.weight": "head.weight", "classifier.head.bias": "head.bias"}
    for key in differences["removed"]:
        shapes.pop(removed[key] if legacy_names else key, None)
    shapes.update({key: tuple(shape) for key, shape, _ in differences["added"]})
    return shapes


def framework_head_shapes(scope: str, num_backbone_channels: list[int]) -> dict:
    """{key: shape} of everything but the backbone in the framework's own Swin model (the official configs'
    base), with the neck/head input widths of the VMamba backbone."""
    package = Path(__import__(scope).__file__).parent / ".mim" / "configs"
    cfg = Config.fromfile(str(package / OFFICIAL_BASE[scope]))
    if scope == "mmdet":
        cfg.model.neck.in_channels = num_backbone_channels
    else:
        cfg.model.decode_head.in_channels = num_backbone_channels
        cfg.model.auxiliary_head.in_channels = num_backbone_channels[2]
    # a stand-in backbone (its keys are dropped below) so that only the framework's own modules are built
    cfg.model.backbone = dict(type="mmengine.VMambaBackbone", depths=(1, 1, 1, 1))
    model = build_model(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def official_checkpoint(shapes: dict, backbone: dict, path: Path, seed: int = 0) -> dict:
    """Write an mmengine-style checkpoint (meta, state_dict, message_hub with HistoryBuffers) with random values
    of the official shapes; the backbone part from `backbone` where given. Returns the state dict."""
    from mmengine.logging import HistoryBuffer

    generator = torch.Generator().manual_seed(seed)
    state = {key: backbone[key] if key in backbone else torch.tensor(1000) if key.endswith(".num_batches_tracked")
             else torch.randn(shape, generator=generator) * 0.02 for key, shape in shapes.items()}
    buffer = HistoryBuffer()
    buffer.update(1.5)
    torch.save(dict(meta=dict(epoch=12, iter=87960, mmdet_version="3.3.0"), state_dict=state,
                    message_hub=dict(log_scalars={"train/loss": buffer}, runtime_info={"epoch": 12}),
                    optimizer={}), path)
    return state
