# UperNet on ADE20K with a Vim backbone, the official Vim segmentation recipe (hustvl/Vim seg/ and its
# ft_vim_{tiny,small}_upernet.sh): BEiT-style necks on blocks 5, 11, 17, 23, head channels = the embedding width,
# AdamW with layer-wise lr decay (lr, weight decay and rate per model), 60k iterations at batch 32 (4 GPUs x 8),
# 1500 warm-up iterations then poly decay, sliding-window test (512 crops, stride 341). Where ours differs, and why:
# - features: the residual stream after each tapped block (residual + mixer output); the official tiny taps the
#   mixer output alone, the official small the residual stream (as here);
# - layer decay: the official constructor looks for "backbone.blocks" and so leaves every Vim block at the base
#   lr (only the embeddings decay); here each block decays, as the official detector's rule does;
# - weight decay: none for 1-D tensors, biases, the embeddings and A_log / A_b_log / D / D_b, mamba's tags (the
#   official decays pos_embed and A_log; our ImageNet recipes keep the official exemptions);
# - the backbone keeps the released models' middle class token (removed from the maps); the official deletes it;
# - test inputs are padded to a multiple of 16 (Vim's patch grid) before the sliding window.
_base_ = ["./upernet_ade20k_160k.py"]
data_preprocessor = dict(test_cfg=dict(size_divisor=16))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(type="VimBackbone", neck="multi_tap", out_indices=(5, 11, 17, 23), drop_path_rate=0.1),
    test_cfg=dict(mode="slide", crop_size=(512, 512), stride=(341, 341)),
)
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.95),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", power=1.0, begin=1500, end=60000, eta_min=0.0, by_epoch=False),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=60000, val_interval=1000)
default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=1000, max_keep_ckpts=4,
                                     save_best="mIoU"))
