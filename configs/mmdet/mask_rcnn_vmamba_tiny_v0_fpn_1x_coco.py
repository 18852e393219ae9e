# Mask R-CNN 1x on COCO with vmamba_tiny_v0: the official VMamba detection setting
# (detection/configs/vssm/mask_rcnn_vssm_fpn_coco_tiny.py; Swin-T's Mask R-CNN 1x otherwise: batch 16 = 8 GPUs x 2).
_base_ = ["./_base_/mask_rcnn_fpn.py", "./_base_/coco_instance.py", "./_base_/schedule_1x.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_tiny_v0",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type="Pretrained", checkpoint="vssmtiny_dp01_ckpt_epoch_292.pth"),
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
