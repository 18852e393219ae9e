# The official VMamba detection schedule (Swin's): AdamW lr 1e-4, wd 0.05, no decay on "norm" parameters,
# linear warm-up 1000 iterations, 12 epochs with steps at 8 and 11 (batch 16 = 8 GPUs x 2).
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=1)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    # exactly the official exemptions (Swin's, matched by name): with VMamba's names, every "norm" parameter;
    # the LayerNorms in patch_embed/downsample and the 2-D A_logs are decayed, as in the official runs
    paramwise_cfg=dict(
        custom_keys={
            "absolute_pos_embed": dict(decay_mult=0.0),
            "relative_position_bias_table": dict(decay_mult=0.0),
            "norm": dict(decay_mult=0.0),
        }
    ),
)
auto_scale_lr = dict(enable=False, base_batch_size=16)
