# Cascade Mask R-CNN with vim_tiny, the official Vim detector's recipe (hustvl/Vim
# cascade_mask_rcnn_vimdet_t_100ep_adj1, the config its scripts train: layer decay 0.837).
# Differs: the official run starts from an unreleased rope, class-token-free Vim-T (best_checkpoint.pth);
# this loads the released middle-class-token Vim-T (the token is dropped, as VimBackbone always does).
_base_ = ["./_base_/vitdet_cascade_lsj_184k.py"]
model = dict(
    backbone=dict(model_name="vim_tiny", init_cfg=dict(type="Pretrained", checkpoint="vim_t_midclstok_76p1acc.pth")),
)
