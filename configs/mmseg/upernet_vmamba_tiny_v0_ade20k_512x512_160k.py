# UperNet on ADE20K (512x512, 160k iterations) with vmamba_tiny_v0: the official VMamba segmentation setting
# (segmentation/configs/vssm/upernet_vssm_4xb4-160k_ade20k-512x512_tiny.py; mmseg's Swin UperNet otherwise: batch 16 =
# 8 GPUs x 2).
_base_ = ["./_base_/upernet_ade20k_160k.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_tiny_v0",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        init_cfg=dict(type="Pretrained", checkpoint="vssmtiny_dp01_ckpt_epoch_292.pth"),
    ),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
