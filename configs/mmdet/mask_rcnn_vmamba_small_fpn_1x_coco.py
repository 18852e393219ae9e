# Mask R-CNN 1x on COCO with vmamba_small: the official VMamba detection setting
# (detection/configs/vssm1/mask_rcnn_vssm_fpn_coco_small.py; Swin-T's Mask R-CNN 1x otherwise: batch 16 = 8 GPUs x 2).
_base_ = ["./_base_/mask_rcnn_fpn.py", "./_base_/coco_instance.py", "./_base_/schedule_1x.py"]
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
