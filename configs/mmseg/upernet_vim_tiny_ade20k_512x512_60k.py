# UperNet ADE20K, vim_tiny: the official recipe (ft_vim_tiny_upernet.sh): AdamW lr 2e-4, wd 0.1, layer decay 0.92.
_base_ = ["./_base_/upernet_vim_ade20k_60k.py"]
model = dict(
    backbone=dict(model_name="vim_tiny", init_cfg=dict(type="Pretrained", checkpoint="vim_t_midclstok_76p1acc.pth")),
    decode_head=dict(in_channels=[192, 192, 192, 192], channels=192),
    auxiliary_head=dict(in_channels=192),
)
optim_wrapper = dict(optimizer=dict(lr=2e-4, weight_decay=0.1), paramwise_cfg=dict(layer_decay_rate=0.92))
