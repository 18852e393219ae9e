# Mask R-CNN 3x with the official multi-scale pipeline, the base of every *_ms_3x config: the 1x bases,
# then what mmdet's Swin ms-crop-3x config (which the official VMamba 3x configs copy) changes.
_base_ = ["./mask_rcnn_fpn.py", "./coco_instance.py", "./schedule_1x.py"]
# 3x schedule with the official multi-scale pipeline (mmdet's Swin ms-crop-3x, from DETR / Sparse R-CNN):
# short side 480-800, or short side 400-600, a 384-600 crop, then short side 480-800; 36 epochs, steps 27/33.
train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomFlip", prob=0.5),
    dict(
        type="RandomChoice",
        transforms=[
            [dict(type="RandomChoiceResize", scales=[(s, 1333) for s in range(480, 801, 32)], keep_ratio=True)],
            [
                dict(type="RandomChoiceResize", scales=[(400, 1333), (500, 1333), (600, 1333)], keep_ratio=True),
                dict(type="RandomCrop", crop_type="absolute_range", crop_size=(384, 600), allow_negative_crop=True),
                dict(type="RandomChoiceResize", scales=[(s, 1333) for s in range(480, 801, 32)], keep_ratio=True),
            ],
        ],
    ),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type="MultiStepLR", begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
