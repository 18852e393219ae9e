"""Dense-prediction backbones: mmengine registry contract, official dense features, torchvision models."""
from __future__ import annotations

import sys

import pytest
import torch
from mmengine.registry import MODELS

import vimvision  # noqa: F401  (registers VMambaBackbone / VimBackbone in mmengine's MODELS)
from vimvision.dense import segmentation_model, torchvision_detector

TINY_VMAMBA = dict(depths=[1, 1, 1, 1], dims=16)
TINY_VIM = dict(depth=2, embed_dim=64)


def test_vmamba_backbone_reproduces_the_official_dense_features(fixtures_dir):
    path = fixtures_dir / "vmamba_tiny_s1l8_depths1121.pth"
    backbone = MODELS.build(dict(type="VMambaBackbone", model_name="vmamba_tiny", out_indices=(0, 1, 2, 3),
                                 init_cfg=dict(type="Pretrained", checkpoint=str(path)), depths=[1, 1, 2, 1]))
    backbone.init_weights()
    backbone.eval()
    io = torch.load(fixtures_dir / "vmamba_tiny_s1l8_depths1121.io.pt", weights_only=True)
    with torch.no_grad():
        feats = backbone(io["input"])
    assert isinstance(feats, tuple) and backbone.strides == [4, 8, 16, 32]
    for i, feat in enumerate(feats):
        torch.testing.assert_close(feat, io[f"features.{i}"], atol=1.6e-4, rtol=1e-4)


def test_vim_backbone_any_size_both_necks(fixtures_dir):
    path = str(fixtures_dir / "vim_tiny_depth2.pth")
    for neck, channels, depth in (("simple_fpn", 256, 2), ("multi_tap", 192, 4)):
        init = dict(type="Pretrained", checkpoint=path) if depth == 2 else None
        backbone = MODELS.build(dict(type="VimBackbone", model_name="vim_tiny", depth=depth, neck=neck, init_cfg=init))
        backbone.init_weights()
        feats = backbone.eval()(torch.randn(1, 3, 160, 224))
        assert [tuple(f.shape) for f in feats] == [(1, channels, 40, 56), (1, channels, 20, 28),
                                                   (1, channels, 10, 14), (1, channels, 5, 7)]


def test_wrong_checkpoint_is_named(fixtures_dir):
    init = dict(type="Pretrained", checkpoint=str(fixtures_dir / "vim_tiny_depth2.pth"))
    backbone = MODELS.build(dict(type="VimBackbone", model_name="vim_tiny", depth=3, init_cfg=init))
    with pytest.raises(ValueError, match="missing keys .*layers.2.mixer"):
        backbone.init_weights()


def test_frozen_stages_stay_frozen_in_train_mode():
    backbone = MODELS.build(dict(type="VMambaBackbone", frozen_stages=1, **TINY_VMAMBA)).train()
    assert not any(p.requires_grad for p in backbone.patch_embed.parameters())
    assert not any(p.requires_grad for p in backbone.layers[0].parameters())
    assert all(p.requires_grad for p in backbone.layers[1].parameters())
    assert not backbone.layers[0].training and backbone.layers[1].training


@pytest.mark.parametrize("arch", ["faster_rcnn", "mask_rcnn", "retinanet"])
def test_torchvision_detectors_train_and_infer(arch):
    torch.manual_seed(0)
    model = torchvision_detector("vmamba_tiny", arch=arch, num_classes=3,
                                 detector_kwargs=dict(min_size=128, max_size=160), **TINY_VMAMBA)
    images = [torch.rand(3, 120, 150), torch.rand(3, 128, 128)]
    target = dict(boxes=torch.tensor([[10.0, 20.0, 60.0, 90.0]]), labels=torch.tensor([1]))
    if arch == "mask_rcnn":
        target["masks"] = torch.zeros(1, 120, 150, dtype=torch.uint8)
        target["masks"][0, 20:90, 10:60] = 1
    targets = [target, {k: (v[:, :128, :128] if k == "masks" else v) for k, v in target.items()}]
    losses = model.train()(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    detections = model.eval()(images)
    assert len(detections) == 2 and {"boxes", "scores", "labels"} <= detections[0].keys()


def test_vim_faster_rcnn_and_segmentation():
    model = torchvision_detector("vim_tiny", arch="faster_rcnn", num_classes=2,
                                 detector_kwargs=dict(min_size=96, max_size=128), **TINY_VIM)
    assert len(model.eval()([torch.rand(3, 100, 120)])) == 1
    seg = segmentation_model("vmamba_tiny", num_classes=5, head_channels=32, **TINY_VMAMBA)
    out = seg.eval()(torch.randn(2, 3, 64, 96))["out"]
    assert out.shape == (2, 5, 64, 96)


def test_deeper_checkpoint_into_a_shallower_backbone_is_named(fixtures_dir):
    """vim_tiny_depth2.pth into a depth-1 VimBackbone: layers.1 is not a pruned layer but a deeper model."""
    init = dict(type="Pretrained", checkpoint=str(fixtures_dir / "vim_tiny_depth2.pth"))
    backbone = MODELS.build(dict(type="VimBackbone", model_name="vim_tiny", depth=1, init_cfg=init))
    with pytest.raises(ValueError, match=r"unexpected keys \(\d+\): layers\.1\..* \(a deeper or different model\?\)"):
        backbone.init_weights()
    pruned = MODELS.build(dict(type="VimBackbone", model_name="vim_tiny", depth=2, out_indices=(0,), init_cfg=init))
    pruned.init_weights()  # the layer after the last tap is pruned, not foreign: its keys are dropped
    assert len(pruned.layers) == 1


def test_backbone_of_the_wrong_family_or_taps_is_named():
    with pytest.raises(ValueError, match="VMambaBackbone: model_name has 'vim_tiny', a Vim model; expected a VMamba"):
        MODELS.build(dict(type="VMambaBackbone", model_name="vim_tiny"))
    with pytest.raises(ValueError, match=r"VMambaBackbone: out_indices has \(4,\), expected stage indices in 0..3"):
        MODELS.build(dict(type="VMambaBackbone", out_indices=(4,), **TINY_VMAMBA))
    with pytest.raises(ValueError, match=r"VimBackbone: out_indices has \(-1,\), expected block indices in 0..1"):
        MODELS.build(dict(type="VimBackbone", model_name="vim_tiny", out_indices=(-1,), **TINY_VIM))


class _Reduces:
    """Pickles as ``getattr(HistoryBuffer, name)``: the call an mmengine checkpoint makes, with any name."""

    def __init__(self, name: str):
        self.name = name

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer

        return getattr, (HistoryBuffer, self.name)


def test_mmengine_checkpoints_reload_with_weights_only_and_nothing_more(tmp_path):
    """import vimvision lets torch.load(weights_only=True) rebuild what mmengine saves (HistoryBuffer with its
    statistics methods, numpy arrays and scalars), and the getattr it needs returns those methods only."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    buffer = HistoryBuffer()
    buffer.update(2.5)
    torch.save(dict(message_hub=dict(loss=buffer, arrays=[np.arange(3), np.float32(1.5), np.uint8(7)])),
               tmp_path / "ok.pth")
    loaded = torch.load(tmp_path / "ok.pth", weights_only=True)
    assert loaded["message_hub"]["loss"].mean() == 2.5 and loaded["message_hub"]["arrays"][2] == 7
    torch.save(dict(x=_Reduces("__init__")), tmp_path / "bad.pth")
    with pytest.raises(Exception, match=r"refused getattr\(.*HistoryBuffer.*'__init__'\)"):
        torch.load(tmp_path / "bad.pth", weights_only=True)


def test_a_config_without_its_framework_says_what_to_install(tmp_path, monkeypatch):
    """build_mm_model (tools/flops.py --config, convert_checkpoint --config) where mmdet cannot be imported."""
    from vimvision.dense.mm_build import build_mm_model

    config = tmp_path / "det.py"
    config.write_text('default_scope = "mmdet"\nmodel = dict(type="MaskRCNN", backbone=dict(type="VMambaBackbone"))\n')
    monkeypatch.setitem(sys.modules, "mmdet.registry", None)  # import fails as if mmdet were absent
    with pytest.raises(ImportError, match=r"needs mmdet .*pip install -e '\.\[mm\]'"):
        build_mm_model(config)
    config.write_text('default_scope = "mmpretrain"\nmodel = dict(type="ImageClassifier")\n')
    with pytest.raises(ValueError, match="default_scope 'mmpretrain', expected 'mmdet' or 'mmseg'"):
        build_mm_model(config)
