# UperNet on ADE20K at 640x640 with vmamba_small (the official ..._ade20k-640x640_small.py).
_base_ = ["./_base_/upernet_ade20k_640x640_160k.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_small",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        init_cfg=dict(type="Pretrained", checkpoint="vssm_small_0229_ckpt_epoch_222.pth"),
    ),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
