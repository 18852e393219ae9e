# Cascade Mask R-CNN on COCO with vim_tiny and ViTDet's simple feature pyramid (the Vim paper's detector).
# Differs from the official Vim detector (hustvl/Vim det/, detectron2 ViTDet): that trains 184,375 iterations
# ("100 epochs") at batch 64 with large-scale jitter at 1024 px, drop path 0.1, LayerNorm in the RPN/box/mask
# heads and 4conv1fc box heads; here the mmdet 1x schedule (12 epochs, 1333x800, batch 16) and mmdet's heads,
# with the official optimizer (AdamW 1e-4, wd 0.1, layer decay). Official features: the last block's residual
# stream (hidden + residual, no final norm), as VimBackbone's simple_fpn taps.
_base_ = ["./_base_/cascade_mask_rcnn_fpn.py", "./_base_/coco_instance.py", "./_base_/schedule_1x.py"]
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
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    # the official Vim detector's layer-wise lr decay (vimdet_t: 0.7): block i at 0.7 ** (24 - i), embeddings at
    # 0.7 ** 25; no weight decay for 1-D tensors, biases, the embeddings and A_log / A_b_log / D / D_b (the
    # official exempts only pos_embed: its RMSNorm weights and D are decayed)
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.7),
)
