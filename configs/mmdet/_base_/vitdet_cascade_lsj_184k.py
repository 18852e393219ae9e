# The official Vim detector's recipe (hustvl/Vim det/: detectron2 ViTDet, cascade_mask_rcnn_vimdet_*_100ep),
# ported to mmdet 3.x; the base of every *_lsj_184k config, which sets the backbone and the layer-decay rate.
# Model: ViTDet's simple feature pyramid (VimBackbone neck="simple_fpn", LayerNorm) plus a max-pooled stride-64
# level and no FPN; RPN with 2 convs; three 4conv1fc box heads and the mask head with LayerNorm ("LN", eps 1e-6),
# class-agnostic boxes with L1 loss. Data: large-scale jitter at 1024 (scale 0.1-2.0, 1024 crop, flip), images
# padded to 1024x1024; tests resize the long side to 1024 and pad to 1024x1024 with the mean colour (the official
# square_pad, which a sequence model's output depends on). Schedule: 184,375 iterations at batch 64 ("100
# epochs"), steps at 163,889 / 177,546, 250 warm-up iterations, fp16 AMP; AdamW lr 1e-4, wd 0.1, only the
# position embedding exempt from weight decay, layer-wise lr decay.
# Differs from detectron2's cascade where mmdet's CascadeRoIHead has no equivalent: it trains one mask head per
# stage and averages the three at test time (detectron2: one mask head, on the last stage's boxes), and the
# stage weighting is by loss weights (below) instead of gradient scaling.
_base_ = ["./cascade_mask_rcnn_fpn.py", "./coco_instance.py"]
image_size = (1024, 1024)
mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
norm_cfg = dict(type="LN2d", eps=1e-6)


def _box_head(stds):
    return dict(
        type="Shared4Conv1FCBBoxHead",
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        norm_cfg=norm_cfg,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=stds),
        reg_class_agnostic=True,
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),  # detectron2's smooth_l1_beta=0
    )


model = dict(
    data_preprocessor=dict(
        mean=mean,
        std=std,
        batch_augments=[dict(type="BatchFixedSizePad", size=image_size, img_pad_value=0, pad_mask=True)],
    ),
    backbone=dict(type="VimBackbone", neck="simple_fpn", out_channels=256, drop_path_rate=0.1),
    neck=dict(_delete_=True, type="LastLevelMaxPool"),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        # detectron2 sums the stages' losses at weight 1 and scales each stage's gradient into the shared features
        # by 1/3; from the backbone's side that is weights 1/3, and AdamW barely sees a head's own loss scale
        stage_loss_weights=[1 / 3] * 3,
        bbox_head=[_box_head([0.1, 0.1, 0.2, 0.2]), _box_head([0.05, 0.05, 0.1, 0.1]),
                   _box_head([0.033, 0.033, 0.067, 0.067])],
        mask_head=dict(norm_cfg=norm_cfg),
    ),
)

train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomResize", scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_type="absolute_range", crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type="FilterAnnotations", min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="Resize", scale=image_size, keep_ratio=True),
    dict(type="Pad", size=image_size, pad_val=dict(img=tuple(mean[::-1]))),  # images load as BGR
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=8,  # x 8 GPUs = the official 64 (4 GPUs x 16 in hustvl/Vim's script)
    num_workers=8,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    batch_sampler=None,
    dataset=dict(pipeline=train_pipeline),
)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 184375
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=5000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type="MultiStepLR", begin=0, end=max_iters, by_epoch=False, milestones=[163889, 177546], gamma=0.1),
]
optim_wrapper = dict(
    type="AmpOptimWrapper",
    loss_scale="dynamic",
    optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.837, no_decay_names=("pos_embed",)),
)
default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=5000, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=64)
