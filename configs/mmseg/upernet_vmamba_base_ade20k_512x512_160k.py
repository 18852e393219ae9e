# UperNet on ADE20K (512x512, 160k iterations) with vmamba_base: the official VMamba segmentation setting
# (segmentation/configs/vssm1/upernet_vssm_4xb4-160k_ade20k-512x512_base.py; mmseg's Swin UperNet otherwise: batch 16
# = 8 GPUs x 2).
_base_ = ["./_base_/upernet_ade20k_160k.py"]
model = dict(
    backbone=dict(
        type="VMambaBackbone",
        model_name="vmamba_base",
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.6,
        init_cfg=dict(type="Pretrained", checkpoint="vssm_base_0229_ckpt_epoch_237.pth"),
    ),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
)
