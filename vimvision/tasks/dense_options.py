"""Options the detection and segmentation tasks share: a backbone by name, and the dense recipes' defaults."""
from __future__ import annotations

import argparse


def add_backbone_arguments(p: argparse.ArgumentParser, *, lr: float, weight_decay: float, sched: str, epochs: int,
                           batch_size: int, output: str) -> None:
    p.add_argument("--backbone", default="vmamba_tiny")
    # a dense recipe states its lr outright (no batch scaling); timm's scheduler defaults for warm-up and floor
    p.set_defaults(lr=lr, weight_decay=weight_decay, sched=sched, epochs=epochs, batch_size=batch_size, output=output,
                   warmup_epochs=1, warmup_lr=1e-5, min_lr=0.0, seed=0)


def init_cfg(args: argparse.Namespace) -> dict:
    """mmengine-style init_cfg that loads --pretrained-path into the backbone (official or ours)."""
    return dict(init_cfg=dict(type="Pretrained", checkpoint=args.pretrained_path)) if args.pretrained_path else {}
