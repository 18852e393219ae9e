"""Official VMamba detector and segmentor files load into our configs' models as users load them: strictly
through mmengine's load_checkpoint (what ``load_from=`` and the frameworks' tools/test.py use), the legacy v0
names too, and the loaded model computes the official backbone features (the fixture's official outputs)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint

from tests.dense.mm.official import framework_head_shapes, official_backbone_shapes, official_checkpoint
from tests.dense.mm.stack import build_model, require_mm_stack
from tests.helpers import ROOT, TOOLS

require_mm_stack()

CASES = [  # our config, the released model it holds (keys_vmamba.json), official key spelling
    ("mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py", "vmambav2v_tiny_224", False),
    ("mmdet/mask_rcnn_vmamba_base_fpn_1x_coco.py", "vmambav2_base_224", False),
    ("mmseg/upernet_vmamba_small_ade20k_512x512_160k.py", "vmambav2_small_224", False),
    ("mmdet/mask_rcnn_vmamba_tiny_v0_fpn_1x_coco.py", "vmambav0_tiny_224", True),
    ("mmseg/upernet_vmamba_tiny_v0_ade20k_512x512_160k.py", "vmambav0_tiny_224", False),
]


@pytest.mark.parametrize("config,official,legacy", CASES, ids=[c[0].split("/")[1][:-3] for c in CASES])
def test_official_dense_checkpoint_loads_strictly(config, official, legacy, fixtures_dir, tmp_path):
    model = build_model(ROOT / "configs" / config)
    scope = config.split("/")[0]
    shapes = {f"backbone.{k}": v for k, v in official_backbone_shapes(fixtures_dir, official, legacy).items()}
    shapes.update(framework_head_shapes(scope, list(model.backbone.out_channels)))
    state = official_checkpoint(shapes, {}, tmp_path / "official.pth")
    if not legacy:  # our names are the official ones, key for key
        assert set(model.state_dict()) == set(shapes)
    load_checkpoint(model, str(tmp_path / "official.pth"), map_location="cpu", strict=True)
    probe = "backbone.layers.0.blocks.0.self_attention.A_logs" if legacy else "backbone.layers.0.blocks.0.op.A_logs"
    ours = probe.replace("self_attention", "op")
    torch.testing.assert_close(model.state_dict()[ours], state[probe], rtol=0, atol=0)
    torch.testing.assert_close(model.state_dict()["backbone.outnorm3.weight"], state["backbone.outnorm3.weight"])


def test_loaded_official_detector_computes_the_official_features(fixtures_dir, tmp_path):
    """The fixture's official classification weights inside an official-format detector file: after strict
    loading, our detector's backbone reproduces the official Backbone_VSSM's feature maps."""
    classification = torch.load(fixtures_dir / "vmamba_tiny_s1l8_depths1121.pth", weights_only=True)["model"]
    io = torch.load(fixtures_dir / "vmamba_tiny_s1l8_depths1121.io.pt", weights_only=True)
    model = build_model(ROOT / "configs/mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py", depths=[1, 1, 2, 1])
    backbone = {f"backbone.{k}": v for k, v in classification.items() if not k.startswith("classifier.")}
    backbone.update({f"backbone.outnorm{i}.{p}": (torch.ones if p == "weight" else torch.zeros)(c)
                     for i, c in enumerate((96, 192, 384, 768)) for p in ("weight", "bias")})
    shapes = {k: tuple(v.shape) for k, v in backbone.items()}
    shapes.update(framework_head_shapes("mmdet", [96, 192, 384, 768]))
    official_checkpoint(shapes, backbone, tmp_path / "official.pth")
    load_checkpoint(model, str(tmp_path / "official.pth"), map_location="cpu", strict=True)
    with torch.no_grad():
        feats = model.eval().backbone(io["input"])
    for i, feat in enumerate(feats):
        torch.testing.assert_close(feat, io[f"features.{i}"], atol=1.6e-4, rtol=1e-4)


def test_a_foreign_file_is_named_key_by_key(fixtures_dir, tmp_path):
    model = build_model(ROOT / "configs/mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py")
    shapes = {f"backbone.{k}": v for k, v in official_backbone_shapes(fixtures_dir, "vmambav2_small_224").items()}
    shapes.update(framework_head_shapes("mmdet", [96, 192, 384, 768]))
    official_checkpoint(shapes, {}, tmp_path / "small.pth")
    with pytest.raises(RuntimeError, match=r"unexpected key in source state_dict: .*backbone\.layers\.2\.blocks\.8"):
        load_checkpoint(model, str(tmp_path / "small.pth"), map_location="cpu", strict=True)


def test_convert_checkpoint_reports_every_key_of_a_legacy_detector_file(fixtures_dir, tmp_path):
    """tools/convert_checkpoint.py on an official v0 Mask R-CNN file (older names): every renamed key reported,
    neck and heads kept, the whole checked against the config's model; the output loads strictly with no help
    from our load hook, and a file without --config says its neck/head keys went unchecked."""
    config = ROOT / "configs/mmdet/mask_rcnn_vmamba_tiny_v0_fpn_1x_coco.py"
    shapes = {f"backbone.{k}": v for k, v in official_backbone_shapes(fixtures_dir, "vmambav0_tiny_224", True).items()}
    heads = framework_head_shapes("mmdet", [96, 192, 384, 768])
    state = official_checkpoint({**shapes, **heads}, {}, tmp_path / "official.pth")
    out, report_file = tmp_path / "converted.pth", tmp_path / "report.json"
    tool = [sys.executable, str(TOOLS / "convert_checkpoint.py"), "--model", "vmamba_tiny_v0", "--input",
            str(tmp_path / "official.pth")]
    result = subprocess.run([*tool, "--output", str(out), "--config", str(config), "--report", str(report_file)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_file.read_text())
    renamed = report["renamed"]
    assert renamed["backbone.layers.0.blocks.0.self_attention.A_logs"] == "backbone.layers.0.blocks.0.op.A_logs"
    assert renamed["backbone.patch_embed.proj.weight"] == "backbone.patch_embed.0.weight"
    assert not report["dropped"] and not report["missing"] and "unchecked" not in report
    assert set(heads) <= set(report["kept"])
    assert len(report["kept"]) + len(report["renamed"]) == len(state)
    model = build_model(config)
    model.backbone._load_state_dict_pre_hooks.clear()  # the file itself must carry our names
    load_checkpoint(model, str(out), map_location="cpu", strict=True)
    torch.testing.assert_close(model.state_dict()["backbone.layers.0.blocks.0.op.A_logs"],
                               state["backbone.layers.0.blocks.0.self_attention.A_logs"], rtol=0, atol=0)
    unchecked = subprocess.run([*tool, "--output", str(tmp_path / "unchecked.pth")], capture_output=True, text=True)
    assert unchecked.returncode == 0, unchecked.stderr[-3000:]
    assert f"unchecked {len(heads):5d} neck/head keys" in unchecked.stdout


def test_convert_checkpoint_names_what_does_not_fit(fixtures_dir, tmp_path):
    shapes = {f"backbone.{k}": v for k, v in official_backbone_shapes(fixtures_dir, "vmambav2v_tiny_224").items()}
    heads = framework_head_shapes("mmdet", [96, 192, 384, 768])
    heads.pop("roi_head.mask_head.conv_logits.weight")
    official_checkpoint({**shapes, **heads}, {}, tmp_path / "official.pth")
    config = ROOT / "configs/mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py"
    tool = [sys.executable, str(TOOLS / "convert_checkpoint.py"), "--model", "vmamba_tiny", "--input",
            str(tmp_path / "official.pth"), "--config", str(config)]
    wrong = subprocess.run([*tool, "--output", str(tmp_path / "out.safetensors")], capture_output=True, text=True)
    assert wrong.returncode != 0 and "--output has" in wrong.stderr and "expected a .pth file" in wrong.stderr
    missing = subprocess.run([*tool, "--output", str(tmp_path / "out.pth")], capture_output=True, text=True)
    assert missing.returncode != 0
    assert "missing keys (1): roi_head.mask_head.conv_logits.weight" in missing.stderr
