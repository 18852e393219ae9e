"""Every config in configs/mmdet and configs/mmseg inside the real frameworks (mmdet 3.3, mmseg 1.2): the whole
model builds through their registries with our custom_imports and has the official size, one optimizer step
on a synthetic batch gives finite losses and moves the weights, and predict mode returns well-formed samples.
Backbones at their real width and depth; inputs small (128 px) to keep CI short."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from tests.dense.mm.stack import CONFIGS, build_model, require_mm_stack

require_mm_stack()

# whole-model sizes in millions as the VMamba README / papers report them (rounded to a million)
OFFICIAL_SIZE_M = {
    **{f"mask_rcnn_vmamba_{k}_fpn_{s}_coco": m for k, m in (("tiny", 50), ("tiny_s2l5", 50), ("small", 70),
                                                          ("base", 108), ("tiny_v0", 42), ("small_v0", 64),
                                                          ("base_v0", 96)) for s in ("1x", "ms_3x")},
    **{f"upernet_vmamba_{k}_ade20k_{s}_160k": m for k, m in (("tiny", 62), ("tiny_s2l5", 62), ("small", 82),
                                                            ("base", 122), ("tiny_v0", 55), ("small_v0", 76),
                                                            ("base_v0", 110)) for s in ("512x512", "640x640")},
}


def _det_batch(num_classes: int):
    from mmdet.testing import demo_mm_inputs

    return demo_mm_inputs(2, [[3, 128, 160], [3, 96, 128]], num_items=[3, 2], num_classes=num_classes,
                          with_mask=True)


def _seg_batch(num_classes: int):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    samples = []
    for _ in range(2):
        sample = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, num_classes, (1, 96, 120))))
        sample.set_metainfo(dict(img_shape=(96, 120), ori_shape=(96, 120), pad_shape=(96, 120)))
        samples.append(sample)
    return dict(inputs=[torch.randint(0, 256, (3, 96, 120), dtype=torch.uint8) for _ in samples],
                data_samples=samples)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_trains_and_predicts_in_its_framework(path):
    torch.manual_seed(0)
    cfg = Config.fromfile(str(path))
    detection = cfg.default_scope == "mmdet"
    if not detection:
        cfg.model.data_preprocessor.size = (128, 128)  # the training crop, 512 in the config
    for augment in cfg.model.data_preprocessor.get("batch_augments") or []:
        augment.size = (160, 160)  # BatchFixedSizePad: the LSJ configs pad to 1024
    if cfg.optim_wrapper.type == "AmpOptimWrapper" and not torch.cuda.is_available():
        cfg.optim_wrapper.type = "OptimWrapper"  # mmengine's fp16 AMP wrapper needs a GPU; the rest is the config's
        cfg.optim_wrapper.pop("loss_scale")
    model = build_model(cfg)
    size_m = sum(p.numel() for p in model.parameters()) / 1e6
    if path.stem in OFFICIAL_SIZE_M:
        assert round(size_m) == OFFICIAL_SIZE_M[path.stem], f"{size_m:.2f} M parameters"
    head = model.roi_head.bbox_head if detection else model.decode_head
    num_classes = (head[0] if isinstance(head, torch.nn.ModuleList) else head).num_classes
    packed = _det_batch(num_classes) if detection else _seg_batch(num_classes)

    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = model.data_preprocessor(packed, True)
    loss, logs = model.parse_losses(model(**data, mode="loss"))
    assert all(torch.isfinite(v) for v in logs.values()), logs
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith("backbone.layers.0.")}
    optim.update_params(loss)
    moved = [n for n, p in model.named_parameters() if n in before and not torch.equal(p, before[n])]
    assert len(moved) > len(before) // 2, f"only {len(moved)} of {len(before)} first-stage weights moved"

    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(packed, False), mode="predict")
    assert len(out) == 2
    for sample, image in zip(out, packed["inputs"]):
        if detection:
            pred = sample.pred_instances
            assert pred.bboxes.shape[1:] == (4,) and len(pred.scores) == len(pred.labels) == len(pred.masks)
            assert tuple(pred.masks.shape[1:]) == tuple(image.shape[1:])
        else:
            assert tuple(sample.pred_sem_seg.data.shape) == (1, *image.shape[1:])
            assert int(sample.pred_sem_seg.data.max()) < num_classes


def _group_of(optim, model) -> dict:
    by_param = {id(p): g for g in optim.optimizer.param_groups for p in g["params"]}
    return {name: by_param[id(p)] for name, p in model.named_parameters() if id(p) in by_param}


def test_vim_configs_decay_lr_by_layer_and_exempt_vims_own_parameters():
    """configs/mmseg Vim-T: block i at lr * 0.92 ** (24 - i), embeddings at 0.92 ** 25, heads at lr; no weight
    decay for Vim's A_log / A_b_log / D / D_b, its RMSNorm weights, biases and the embeddings."""
    cfg = Config.fromfile(str(CONFIGS[0].parents[1] / "mmseg" / "upernet_vim_tiny_ade20k_512x512_60k.py"))
    model = build_model(cfg)
    groups = _group_of(build_optim_wrapper(model, cfg.optim_wrapper), model)
    lr, wd, rate = 2e-4, 0.1, 0.92
    for name in ("backbone.layers.0.mixer.A_log", "backbone.layers.5.mixer.A_b_log", "backbone.layers.7.mixer.D_b",
                 "backbone.layers.23.norm.weight", "backbone.pos_embed", "backbone.layers.2.mixer.dt_proj.bias"):
        assert groups[name]["weight_decay"] == 0.0, name
    assert groups["backbone.layers.4.mixer.in_proj.weight"]["weight_decay"] == wd
    assert groups["backbone.layers.4.mixer.in_proj.weight"]["lr"] == pytest.approx(lr * rate ** 20)
    assert groups["backbone.layers.23.mixer.out_proj.weight"]["lr"] == pytest.approx(lr * rate)
    assert groups["backbone.patch_embed.proj.weight"]["lr"] == pytest.approx(lr * rate ** 25)
    assert groups["decode_head.conv_seg.weight"]["lr"] == pytest.approx(lr)


def test_vmamba_configs_exempt_the_official_norm_parameters():
    """As the official configs (Swin's custom_keys, by name): "norm" parameters undecayed, A_logs decayed."""
    cfg = Config.fromfile(str(CONFIGS[0].parent / "mask_rcnn_vmamba_tiny_fpn_1x_coco.py"))
    model = build_model(cfg, depths=[1, 1, 1, 1])
    groups = _group_of(build_optim_wrapper(model, cfg.optim_wrapper), model)
    assert groups["backbone.layers.0.blocks.0.norm.weight"]["weight_decay"] == 0.0
    assert groups["backbone.layers.1.blocks.0.op.out_norm.weight"]["weight_decay"] == 0.0
    assert groups["backbone.layers.0.blocks.0.op.A_logs"]["weight_decay"] == 0.05


def test_vim_lsj_configs_are_the_official_vitdet_detector():
    """The official Vim detector's design: LayerNorm in the 4conv1fc box heads and the mask head, a max-pooled
    stride-64 level on the simple pyramid (no FPN), 2-conv RPN; only pos_embed escapes weight decay (A_log, norms
    and biases decay, as in detectron2's run), blocks at lr * 0.837 ** (24 - i)."""
    from vimvision.dense import LN2d

    cfg = Config.fromfile(str(CONFIGS[0].parent / "cascade_mask_rcnn_vim_tiny_sfp_lsj_184k_coco.py"))
    cfg.optim_wrapper.type = "OptimWrapper"
    cfg.optim_wrapper.pop("loss_scale")
    model = build_model(cfg, depth=4)
    head = model.roi_head.bbox_head[2]
    assert len(head.shared_convs) == 4 and len(head.shared_fcs) == 1 and isinstance(head.shared_convs[0].norm, LN2d)
    assert head.shared_convs[0].norm.eps == 1e-6 and isinstance(model.roi_head.mask_head[2].convs[3].norm, LN2d)
    assert len(model.rpn_head.rpn_conv) == 2
    assert type(head.loss_bbox).__name__ == "L1Loss" and model.roi_head.stage_loss_weights == [1 / 3] * 3
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 128, 128))
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2] and all(f.shape[1] == 256 for f in feats)
    groups = _group_of(build_optim_wrapper(model, cfg.optim_wrapper), model)
    assert groups["backbone.pos_embed"]["weight_decay"] == 0.0
    for name in ("backbone.layers.0.mixer.A_log", "backbone.layers.1.norm.weight", "backbone.layers.2.mixer.D",
                 "roi_head.bbox_head.0.shared_convs.0.ln.bias", "backbone.neck.stages.0.1.weight"):
        assert groups[name]["weight_decay"] == 0.1, name
    assert groups["backbone.layers.3.mixer.in_proj.weight"]["lr"] == pytest.approx(1e-4 * 0.837 ** 21)
    cfg.optim_wrapper.paramwise_cfg.no_decay_names = ("pos_embd",)
    with pytest.raises(ValueError, match=r"no_decay_names has \['pos_embd'\], expected parameter names"):
        build_optim_wrapper(model, cfg.optim_wrapper)


def test_vim_lsj_test_images_are_padded_with_the_mean_colour(tmp_path):
    """Test images are padded to 1024x1024 as detectron2's square_pad: zeros after normalization (the pad value is
    given in the loaded BGR order), so the padding is the mean colour a sequence model was trained with."""
    import mmcv
    import numpy as np
    from mmdet.registry import MODELS
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(str(CONFIGS[0].parent / "cascade_mask_rcnn_vim_tiny_sfp_lsj_184k_coco.py"))
    init_default_scope("mmdet")
    mmcv.imwrite(np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8), str(tmp_path / "a.png"))
    pipeline = Compose([t for t in cfg.test_pipeline if t["type"] != "LoadAnnotations"])
    packed = pipeline(dict(img_path=str(tmp_path / "a.png"), img_id=0))
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    image = preprocessor(dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]]), False)["inputs"][0]
    assert image.shape == (3, 1024, 1024)
    assert image[:, :, 700:].abs().max() < 0.01  # 300x200 resized to 1024x683, the rest padding
    assert image[:, :, :680].abs().mean() > 0.5
