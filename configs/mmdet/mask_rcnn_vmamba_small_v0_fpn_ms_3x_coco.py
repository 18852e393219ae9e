# Mask R-CNN 3x multi-scale on COCO with vmamba_small_v0 (the official _ms_3x config).
_base_ = ["./_base_/ms_3x.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_small_v0",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type="Pretrained", checkpoint="vssmsmall_dp03_ckpt_epoch_238.pth"),
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
