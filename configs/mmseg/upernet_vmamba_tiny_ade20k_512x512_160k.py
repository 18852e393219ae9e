# UperNet on ADE20K (512x512, 160k iterations) with vmamba_tiny: the official VMamba segmentation setting
# (segmentation/configs/vssm1/upernet_vssm_4xb4-160k_ade20k-512x512_tiny.py; mmseg's Swin UperNet otherwise: batch 16
# = 8 GPUs x 2).
_base_ = ["./_base_/upernet_ade20k_160k.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_tiny",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type="Pretrained", checkpoint="vssm1_tiny_0230s_ckpt_epoch_264.pth"),
    ),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
