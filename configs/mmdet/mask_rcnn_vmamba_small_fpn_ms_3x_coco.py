# Mask R-CNN 3x with multi-scale training (short side 480-800) on COCO with vmamba_small.
_base_ = ["./mask_rcnn_vmamba_small_fpn_1x_coco.py"]
# 3x schedule: 36 epochs, steps at 27 and 33
train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type="MultiStepLR", begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomChoiceResize", scales=[(1333, s) for s in range(480, 801, 32)], keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
