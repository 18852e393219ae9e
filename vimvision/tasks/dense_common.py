"""What the detection and segmentation tasks share: a backbone by name, the dense recipes' defaults, loaders."""
from __future__ import annotations

import argparse

import torch


def add_backbone_arguments(p: argparse.ArgumentParser, *, lr: float, weight_decay: float, sched: str, epochs: int,
                           batch_size: int, output: str) -> None:
    p.add_argument("--data-dir", required=True)
    p.add_argument("--backbone", default="vmamba_tiny")
    # a dense recipe states its lr outright (no batch scaling); timm's scheduler defaults for warm-up and floor
    p.set_defaults(lr=lr, weight_decay=weight_decay, sched=sched, epochs=epochs, batch_size=batch_size, output=output,
                   warmup_epochs=1, warmup_lr=1e-5, min_lr=0.0, seed=0)


def init_cfg(args: argparse.Namespace) -> dict:
    """mmengine-style init_cfg that loads --pretrained-path into the backbone (official or ours)."""
    return dict(init_cfg=dict(type="Pretrained", checkpoint=args.pretrained_path)) if args.pretrained_path else {}


def dense_loaders(prog: str, args: argparse.Namespace, train_set, val_set, collate_fn):
    """(train loader, val loader of batch 1, train sampler or None); an empty epoch is a named error."""
    sampler = torch.utils.data.DistributedSampler(train_set, seed=args.seed) if args.distributed else None
    train = torch.utils.data.DataLoader(train_set, args.batch_size, shuffle=sampler is None, sampler=sampler,
                                        num_workers=args.workers, collate_fn=collate_fn, drop_last=True)
    if len(train) == 0:
        raise SystemExit(f"{prog}: batch size {args.batch_size} exceeds the {len(train_set)} training images")
    return train, torch.utils.data.DataLoader(val_set, 1, num_workers=args.workers, collate_fn=collate_fn), sampler
