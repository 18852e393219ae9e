"""Every ImageNet recipe in configs/ against the official scripts' effective values, transcribed below with
the file and line each comes from (hustvl/Vim at its vim/ folder, MzeroMiko/VMamba at classification/).
Effective means at the official 8 GPUs: lr after the official linear scaling, warm-up / min lr as the
official trainer uses them, which parameters skip weight decay, AMP dtype, EMA and checkpoint selection."""
from __future__ import annotations

import pytest

from tests.helpers import ROOT
from vimvision.engine.driver import build_parser
from vimvision.engine.options import parse_args
from vimvision.tasks.classification import ClassificationTask

GPUS = 8

# Vim: vim/main.py defaults, DeiT heritage, overridden by vim/scripts/*.sh
VIM = dict(
    epochs=300,  # main.py:39
    opt="adamw",  # main.py:60 (eps 1e-8, main.py:62)
    warmup_epochs=5,  # main.py:90
    warmup_lr=1e-6,  # main.py:83, not scaled (main.py:389 scales --lr only)
    min_lr=1e-5,  # main.py:85
    no_decay="official",  # timm 0.4.12 create_optimizer (main.py:391): 1-D, .bias, no_weight_decay() names
    sched_on_epochs=True,  # lr_scheduler.step(epoch), main.py:492
    warmup_prefix=False,  # timm 0.4.12's CosineLRScheduler has none
    clip_grad=None,  # main.py:66
    smoothing=0.1,  # main.py:105
    mixup=0.8, cutmix=1.0, mixup_prob=1.0, mixup_switch_prob=0.5, mixup_mode="batch",  # main.py:132-142
    aa="rand-m9-mstd0.5-inc1",  # main.py:102
    color_jitter=0.3,  # main.py:100
    reprob=0.25, remode="pixel",  # main.py:122-124
    aug_repeats=3,  # repeated aug on by default, main.py:109-111 (RASampler, 3 repeats)
    model_ema=True, model_ema_decay=0.99996,  # main.py:53-56
    best_on="model",  # max_accuracy < test_stats["acc1"] of the raw model, main.py:510
    amp=False,  # every script passes --no_amp (main.py:194-196)
    train_interpolation="bicubic",  # main.py:106
)
# VMamba: classification/config.py defaults, main.py, configs/vssm/*.yaml for the drop path
VMAMBA = dict(
    epochs=300,  # config.py:104
    opt="adamw",  # config.py:138-140: eps 1e-8, betas (0.9, 0.999)
    warmup_epochs=20,  # config.py:105
    lr=1e-3,  # BASE_LR 5e-4 (config.py:107) x 128 x 8 / 512 (main.py:396)
    warmup_lr=1e-6,  # WARMUP_LR 5e-7 (config.py:108) x 1024 / 512 (main.py:397)
    min_lr=1e-5,  # MIN_LR 5e-6 (config.py:109) x 1024 / 512 (main.py:398)
    weight_decay=0.05,  # config.py:106
    no_decay="official",  # utils/optimizer.py:60: 1-D, .bias, no_weight_decay() = {pos_embed}
    clip_grad=5.0,  # config.py:111
    sched_on_epochs=False,  # Swin's lr_scheduler.step_update every iteration
    warmup_prefix=True,  # config.py:129
    smoothing=0.1,  # config.py:68
    mixup=0.8, cutmix=1.0, mixup_prob=1.0, mixup_switch_prob=0.5, mixup_mode="batch",  # config.py:166-176
    aa="rand-m9-mstd0.5-inc1",  # config.py:158
    color_jitter=0.4,  # config.py:156
    reprob=0.25, remode="pixel",  # config.py:160-162
    aug_repeats=0,  # no repeated augmentation in the Swin trainer
    model_ema=True, model_ema_decay=0.9999,  # main.py:93-94
    best_on="model",  # max_accuracy of the raw model, main.py:212 (EMA tracked separately, main.py:217)
    amp=True, amp_dtype="float16",  # AMP_ENABLE (config.py:195): torch.cuda.amp autocast + grad scaler
    train_interpolation="bicubic",  # config.py:32
    batch_size=128,  # config.py:24
)
OFFICIAL = {
    # pt-vim-t.sh:5: --batch-size 128 --drop-path 0.0 --weight-decay 0.1, default --lr 5e-4 -> 1e-3 at 1024
    "vim_tiny": dict(VIM, batch_size=128, lr=1e-3, weight_decay=0.1, drop_path=0.0),
    # pt-vim-s.sh:5: --batch-size 64 --drop-path 0.05 --weight-decay 0.05 --lr 1e-3 -> 1e-3 at 512
    "vim_small": dict(VIM, batch_size=64, lr=1e-3, weight_decay=0.05, drop_path=0.05),
    # ft-vim-t.sh:5 / ft-vim-s.sh:5: --batch-size 128 --lr 5e-6 -> 1e-5, --min-lr 1e-5 --warmup-lr 1e-5,
    # --drop-path 0.0 --weight-decay 1e-8 --epochs 30
    "vim_tiny_stride8": dict(VIM, batch_size=128, lr=1e-5, warmup_lr=1e-5, min_lr=1e-5, weight_decay=1e-8,
                             drop_path=0.0, epochs=30),
    "vim_small_stride8": dict(VIM, batch_size=128, lr=1e-5, warmup_lr=1e-5, min_lr=1e-5, weight_decay=1e-8,
                              drop_path=0.0, epochs=30),
    # configs/vssm/vmambav2v_tiny_224.yaml etc.: MODEL.DROP_PATH_RATE
    "vmamba_tiny": dict(VMAMBA, drop_path=0.2),
    "vmamba_small": dict(VMAMBA, drop_path=0.3),
    "vmamba_base": dict(VMAMBA, drop_path=0.6),
    "vmamba_tiny_s1l8": dict(VMAMBA, drop_path=0.2),
    "vmamba_small_s1l20": dict(VMAMBA, drop_path=0.3),
    "vmamba_base_s1l20": dict(VMAMBA, drop_path=0.5),
    "vmamba_tiny_s2l5": dict(VMAMBA, drop_path=0.2),
    "vmamba_small_s2l15": dict(VMAMBA, drop_path=0.3),
    "vmamba_base_s2l15": dict(VMAMBA, drop_path=0.6),
    # vmambav0_*_224.yaml; README.md:94: "all models are trained with EMA except for the Vanilla-VMamba-T"
    "vmamba_tiny_v0": dict(VMAMBA, drop_path=0.2, model_ema=False),
    "vmamba_small_v0": dict(VMAMBA, drop_path=0.3),
    "vmamba_base_v0": dict(VMAMBA, drop_path=0.6),
}
# recipes of ours: each must say so ("deviates from the official scripts" / not called official)
OURS = ["vim_base", "vim_fox_tiny", "vim_fox_small", "vim_hybrid_tiny", "vim_hybrid_small"]


def effective(name: str) -> dict:
    """The recipe's values as our trainer uses them on 8 processes."""
    args = parse_args(build_parser(ClassificationTask(), ""), ["--config", str(ROOT / "configs" / f"{name}.yaml")],
                      "train.py")
    scale = args.batch_size * GPUS * args.grad_accum_steps / args.lr_base_size
    values = vars(args)
    values["lr"] = args.lr or args.lr_base * scale
    if args.scale_warmup_min_lr:
        values["warmup_lr"], values["min_lr"] = args.warmup_lr * scale, args.min_lr * scale
    return values


@pytest.mark.parametrize("name", OFFICIAL)
def test_recipe_equals_the_official_script(name):
    ours = effective(name)
    assert ours["model"] == name
    wrong = {k: (ours[k], v) for k, v in OFFICIAL[name].items()
             if (ours[k] != pytest.approx(v, rel=1e-9) if isinstance(v, float) else ours[k] != v)}
    assert not wrong, f"configs/{name}.yaml (ours, official): {wrong}"
    assert "official" in (ROOT / "configs" / f"{name}.yaml").read_text().splitlines()[0]


def test_every_imagenet_recipe_is_checked_or_declared_ours():
    recipes = {p.stem for p in (ROOT / "configs").glob("*.yaml") if not p.stem.startswith("demo_")}
    assert recipes == set(OFFICIAL) | set(OURS)
    for name in OURS:
        text = (ROOT / "configs" / f"{name}.yaml").read_text()
        assert "deviates from the official scripts" in text or "official" not in text, name
