# UperNet on ADE20K with vim_tiny and BEiT-style necks on blocks 5, 11, 17, 23 (the official Vim segmentation
# backbone's design); head channels = the embedding width, as the official configs.
_base_ = ["./_base_/upernet_ade20k_160k.py"]
model = dict(
    backbone=dict(
        type="VimBackbone",
        model_name="vim_tiny",
        neck="multi_tap",
        out_indices=(5, 11, 17, 23),
        drop_path_rate=0.1,
        init_cfg=dict(type="Pretrained", checkpoint="vim_t_midclstok_76p1acc.pth"),
    ),
    decode_head=dict(in_channels=[192, 192, 192, 192], channels=192),
    auxiliary_head=dict(in_channels=192),
)
