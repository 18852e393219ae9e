# Cascade Mask R-CNN with vim_small, the official Vim detector's recipe (hustvl/Vim cascade_mask_rcnn_vimdet_s_100ep:
# layer decay 0.837). Differs: the official run starts from an unreleased rope Vim-S (bc_vim_s_79p8acc.pth,
# 79.8 % top-1); this loads the released middle-class-token Vim-S (80.5 %).
_base_ = ["./_base_/vitdet_cascade_lsj_184k.py"]
model = dict(
    backbone=dict(model_name="vim_small", init_cfg=dict(type="Pretrained", checkpoint="vim_s_midclstok_80p5acc.pth")),
)
