"""The optimizer and schedule options the official recipes need: which parameters decay, scaled warm-up
and min lr, warm-up as a prefix, per-epoch stepping."""
from __future__ import annotations

import timm

from vimvision.engine.driver import build_optimization, build_parser
from vimvision.engine.options import parse_args
from vimvision.tasks.classification import ClassificationTask


def _args(*argv: str):
    return parse_args(build_parser(ClassificationTask(), ""), list(argv), "train.py")


def _decayed(optimizer, model) -> set:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)] for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}


def test_official_rule_decays_the_2d_state_parameters():
    vim = timm.create_model("vim_tiny", depth=1, embed_dim=32, img_size=32, num_classes=4)
    tagged, _ = build_optimization(vim, _args(), 512, 10)
    official, _ = build_optimization(vim, _args("--no-decay", "official"), 512, 10)
    assert "layers.0.mixer.A_log" not in _decayed(tagged, vim)  # mamba's tag, timm's factory honours it
    assert {"layers.0.mixer.A_log", "layers.0.mixer.A_b_log"} <= _decayed(official, vim)
    for name in ("pos_embed", "cls_token", "layers.0.mixer.D", "layers.0.mixer.dt_proj.bias", "head.bias"):
        assert name not in _decayed(official, vim), name
    vmamba = timm.create_model("vmamba_tiny", depths=[1, 1, 1, 1], dims=8, num_classes=4)
    official, _ = build_optimization(vmamba, _args("--no-decay", "official", "--layer-decay", "0.9"), 512, 10)
    decayed = _decayed(official, vmamba)
    assert {"layers.0.blocks.0.op.A_logs", "layers.0.blocks.0.op.dt_projs_bias"} <= decayed
    assert "layers.0.blocks.0.op.Ds" not in decayed
    assert len({g["lr_scale"] for g in official.param_groups}) > 1  # layer decay kept


def test_scaled_warmup_and_min_lr_with_a_warmup_prefix():
    """VMamba's trainer at 1024: 1e-3 / 1e-6 / 1e-5, 20 warm-up epochs before a full cosine."""
    model = timm.create_model("vmamba_tiny", depths=[1, 1, 1, 1], dims=8, num_classes=4)
    args = _args("--lr-base", "5e-4", "--warmup-lr", "5e-7", "--min-lr", "5e-6", "--scale-warmup-min-lr",
                 "--warmup-prefix", "--warmup-epochs", "2", "--epochs", "4")
    optimizer, scheduler = build_optimization(model, args, 1024, updates_per_epoch=10)
    scheduler.step_update(0)
    assert optimizer.param_groups[0]["lr"] == 1e-6
    scheduler.step_update(20)  # the end of the warm-up is the start of the cosine: the full base lr
    assert abs(optimizer.param_groups[0]["lr"] - 1e-3) < 1e-12
    scheduler.step_update(60)
    assert abs(optimizer.param_groups[0]["lr"] - 1e-5) < 1e-9


def test_per_epoch_schedule_ignores_updates():
    model = timm.create_model("vim_tiny", depth=1, embed_dim=32, img_size=32, num_classes=4)
    optimizer, scheduler = build_optimization(model, _args("--sched-on-epochs", "--warmup-epochs", "0"), 512, 10)
    first = optimizer.param_groups[0]["lr"]
    scheduler.step_update(35)
    assert optimizer.param_groups[0]["lr"] == first
    scheduler.step(150)
    assert optimizer.param_groups[0]["lr"] < first
