# Mask R-CNN 3x multi-scale on COCO with vmamba_small (the official _ms_3x config).
_base_ = ["./_base_/ms_3x.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_small",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        init_cfg=dict(type="Pretrained", checkpoint="vssm_small_0229_ckpt_epoch_222.pth"),
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
