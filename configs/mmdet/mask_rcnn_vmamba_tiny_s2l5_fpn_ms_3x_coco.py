# Mask R-CNN 3x multi-scale on COCO with vmamba_tiny_s2l5 (the official _ms_3x config).
_base_ = ["./_base_/ms_3x.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_tiny_s2l5",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type="Pretrained", checkpoint="vssm_tiny_0230_ckpt_epoch_262.pth"),
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
