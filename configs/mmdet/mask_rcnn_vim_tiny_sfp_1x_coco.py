# Mask R-CNN 1x on COCO with vim_tiny made multi-scale by ViTDet's simple feature pyramid (256 channels per level).
_base_ = ["./_base_/mask_rcnn_fpn.py", "./_base_/coco_instance.py", "./_base_/schedule_1x.py"]
model = dict(
    backbone=dict(
        type="VimBackbone",
        model_name="vim_tiny",
        neck="simple_fpn",
        out_channels=256,
        drop_path_rate=0.1,
        init_cfg=dict(type="Pretrained", checkpoint="vim_t_midclstok_76p1acc.pth"),
    ),
    neck=dict(in_channels=[256, 256, 256, 256]),
)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=dict(pos_embed=dict(decay_mult=0.0), cls_token=dict(decay_mult=0.0)))
)
