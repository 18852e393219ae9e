# Cascade Mask R-CNN on COCO with vim_small and ViTDet's simple feature pyramid (the Vim paper's detector).
_base_ = ["./_base_/cascade_mask_rcnn_fpn.py", "./_base_/coco_instance.py", "./_base_/schedule_1x.py"]
model = dict(
    backbone=dict(
        type="VimBackbone",
        model_name="vim_small",
        neck="simple_fpn",
        out_channels=256,
        drop_path_rate=0.1,
        init_cfg=dict(type="Pretrained", checkpoint="vim_s_midclstok_80p5acc.pth"),
    ),
    neck=dict(in_channels=[256, 256, 256, 256]),
)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=dict(pos_embed=dict(decay_mult=0.0), cls_token=dict(decay_mult=0.0)))
)
