# Cascade Mask R-CNN on COCO with vim_small and ViTDet's simple feature pyramid (the Vim paper's detector).
# A shorter recipe beside the official one (cascade_mask_rcnn_vim_*_sfp_lsj_184k_coco.py: hustvl/Vim's ViTDet
# detector, 184,375 iterations at batch 64 with large-scale jitter at 1024, LayerNorm 4conv1fc heads, no FPN):
# the mmdet 1x schedule (12 epochs, 1333x800, batch 16) with mmdet's standard heads and FPN, the setting of
# VMamba's and Swin's COCO results, for comparison with them at about an eighth of the official training cost;
# the official optimizer (AdamW 1e-4, wd 0.1, layer decay). Features: the last block's residual stream
# (hidden + residual, no final norm), the official detector's, which VimBackbone's simple_fpn taps.
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
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    # the official Vim detector's layer-wise lr decay (vimdet_s: 0.837): block i at 0.837 ** (24 - i), embeddings at
    # 0.837 ** 25; no weight decay for 1-D tensors, biases, the embeddings and A_log / A_b_log / D / D_b (the
    # official exempts only pos_embed: its RMSNorm weights and D are decayed)
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.837),
)
