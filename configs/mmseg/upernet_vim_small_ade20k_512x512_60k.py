# UperNet ADE20K, vim_small: the official recipe (ft_vim_small_upernet.sh): AdamW lr 1e-4, wd 0.05, layer decay 0.95.
_base_ = ["./_base_/upernet_vim_ade20k_60k.py"]
model = dict(
    backbone=dict(model_name="vim_small", init_cfg=dict(type="Pretrained", checkpoint="vim_s_midclstok_80p5acc.pth")),
    decode_head=dict(in_channels=[384, 384, 384, 384], channels=384),
    auxiliary_head=dict(in_channels=384),
)
optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05), paramwise_cfg=dict(layer_decay_rate=0.95))
