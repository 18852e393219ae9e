"""Train and evaluate an image classifier (ours or any timm model), timm-style.

    python tools/train.py --config configs/vim_small.yaml --data-dir /data/imagenet
    torchrun --nproc_per_node 8 tools/train.py --config configs/vmamba_tiny.yaml --data-dir /data/imagenet --amp
    torchrun --nproc_per_node 8 tools/train.py --config configs/vim_base.yaml --data-dir /data/imagenet --fsdp
    python tools/train.py --config configs/demo_vim.yaml          # the embedded digits dataset, CPU, minutes

Built on timm's parts (datasets/loaders/transforms, Mixup/CutMix, SoftTargetCrossEntropy, create_optimizer_v2
with no-weight-decay lists and layer decay, create_scheduler_v2, ModelEmaV3, update_summary). Writes into
OUTPUT/EXPERIMENT: summary.csv (one row per epoch, with eval_top1), TensorBoard events, curves.png,
last.pth (every epoch, everything needed to resume), model_best.pth (weights only), recovery.pth (every --recovery-interval optimizer steps). All are
written atomically, and --resume restores model, EMA, optimizer, scheduler, scaler, RNG states and the
position inside the epoch (every rank's, under torchrun), so a run killed at any moment and resumed ends as
if never killed; --fsdp runs save full, unsharded weights.
"""
from __future__ import annotations

import argparse
import difflib
import inspect
import sys
from pathlib import Path

import timm
import torch
import torch.nn as nn
import yaml
from timm.data import Mixup, create_dataset, create_loader, resolve_data_config
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3, ParseKwargs, init_distributed_device, random_seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vimvision  # noqa: E402,F401
from vimvision.data import Digits  # noqa: E402
from vimvision.distributed import shard_blocks  # noqa: E402
from vimvision.engine import LoopConfig, Trainer  # noqa: E402
from vimvision.training import evaluate  # noqa: E402

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="", help="YAML of argument defaults (keys = the long option names with _)")
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", default=None, help="ImageNet-style folder with train/ and val/ class folders")
    g.add_argument("--dataset", default="", help="'' (folder), 'digits' (embedded, no download) or a timm spec")
    g.add_argument("--train-split", default="train")
    g.add_argument("--val-split", default="validation")
    g.add_argument("--img-size", type=int, default=None, help="input size (default: the model's)")
    g.add_argument("--workers", "-j", type=int, default=4)
    g.add_argument("--aa", default=None, help="RandAugment, e.g. rand-m9-mstd0.5-inc1")
    g.add_argument("--color-jitter", type=float, default=0.4)
    g.add_argument("--reprob", type=float, default=0.0, help="random erasing probability")
    g.add_argument("--train-interpolation", default="bicubic")
    g.add_argument("--aug-repeats", type=int, default=0, help="repeated augmentation (DeiT/Vim use 3)")
    g = p.add_argument_group("model")
    g.add_argument("--model", default="vim_tiny")
    g.add_argument("--pretrained", action="store_true")
    g.add_argument("--pretrained-path", default=None, help="local weight file for --pretrained (official or ours)")
    g.add_argument("--num-classes", type=int, default=None)
    g.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V")
    g.add_argument("--drop-path", type=float, default=None)
    g.add_argument("--model-ema", action="store_true")
    g.add_argument("--model-ema-decay", type=float, default=0.9998)
    g = p.add_argument_group("optimization")
    g.add_argument("--epochs", type=int, default=300)
    g.add_argument("--batch-size", "-b", type=int, default=128, help="per process")
    g.add_argument("--validation-batch-size", type=int, default=None)
    g.add_argument("--grad-accum-steps", type=int, default=1)
    g.add_argument("--opt", default="adamw")
    g.add_argument("--lr", type=float, default=None, help="absolute lr; default lr-base * global batch / lr-base-size")
    g.add_argument("--lr-base", type=float, default=5e-4)
    g.add_argument("--lr-base-size", type=int, default=512)
    g.add_argument("--weight-decay", type=float, default=0.05)
    g.add_argument("--layer-decay", type=float, default=None)
    g.add_argument("--clip-grad", type=float, default=None)
    g.add_argument("--clip-mode", default="norm")
    g.add_argument("--sched", default="cosine")
    g.add_argument("--warmup-epochs", type=int, default=5)
    g.add_argument("--warmup-lr", type=float, default=1e-6)
    g.add_argument("--min-lr", type=float, default=1e-5)
    g.add_argument("--smoothing", type=float, default=0.1)
    g.add_argument("--mixup", type=float, default=0.0)
    g.add_argument("--cutmix", type=float, default=0.0)
    g.add_argument("--mixup-prob", type=float, default=1.0)
    g.add_argument("--mixup-switch-prob", type=float, default=0.5)
    g.add_argument("--mixup-mode", default="batch")
    g = p.add_argument_group("runtime")
    g.add_argument("--amp", action="store_true", help="mixed precision (see --amp-dtype)")
    g.add_argument("--amp-dtype", default="bfloat16", choices=sorted(DTYPES))
    g.add_argument("--fsdp", action="store_true",
                   help="fully sharded data parallel (FSDP2) under torchrun: each residual block and the model "
                        "(and the EMA copy) sharded over the processes; checkpoints hold full weights")
    g.add_argument("--channels-last", action="store_true")
    g.add_argument("--torchcompile", action="store_true")
    g.add_argument("--grad-checkpointing", action="store_true")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    g.add_argument("--output", default="output/train")
    g.add_argument("--experiment", default="", help="subfolder of --output (default: the model name)")
    g.add_argument("--resume", default="", help="checkpoint to resume from; 'auto' = OUTPUT/EXPERIMENT/recovery or last")
    g.add_argument("--recovery-interval", type=int, default=0, help="optimizer steps between recovery checkpoints")
    g.add_argument("--log-interval", type=int, default=50)
    g.add_argument("--no-progress", action="store_true")
    g.add_argument("--kill-after-steps", type=int, default=0, help=argparse.SUPPRESS)  # tests: hard exit mid-run
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """CLI > --config YAML > defaults; unknown YAML keys are an error naming the key."""
    parser = build_parser()
    pre, _ = parser.parse_known_args(argv)
    if pre.config:
        path = Path(pre.config)
        if not path.is_file():
            raise SystemExit(f"train.py: --config {pre.config!r} does not exist")
        cfg = yaml.safe_load(path.read_text()) or {}
        if not isinstance(cfg, dict):
            raise SystemExit(f"train.py: --config {pre.config!r} must hold a mapping of option: value")
        known = {a.dest for a in parser._actions}
        for key in cfg:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=3)
                raise SystemExit(f"train.py: config key {key!r} in {pre.config} is not an option"
                                 + (f" (did you mean {', '.join(close)}?)" if close else ""))
        parser.set_defaults(**cfg)
    return parser.parse_args(argv)


def build_model(args) -> nn.Module:
    kwargs = dict(args.model_kwargs)
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.drop_path is not None:
        kwargs["drop_path_rate"] = args.drop_path
    if args.pretrained_path:
        kwargs["pretrained_cfg_overlay"] = dict(file=args.pretrained_path)
    entry = timm.models.model_entrypoint(args.model)
    model = entry(pretrained=args.pretrained, **kwargs)
    accepts_size = "img_size" in inspect.signature(type(model).__init__).parameters
    if args.img_size and accepts_size and "img_size" not in kwargs:
        model = entry(pretrained=args.pretrained, img_size=args.img_size, **kwargs)
    return model


def build_data(args, model: nn.Module, distributed: bool):
    """(train loader, eval loader, sampler-epoch setter). The digits set uses plain loaders."""
    eval_bs = args.validation_batch_size or args.batch_size
    if args.dataset == "digits":
        size = args.img_size or 32
        train_set, eval_set = Digits("train", size, augment=True), Digits("validation", size)
        sampler = torch.utils.data.DistributedSampler(train_set, seed=args.seed) if distributed else None
        train = torch.utils.data.DataLoader(train_set, args.batch_size, shuffle=sampler is None, sampler=sampler,
                                            drop_last=True, num_workers=0)
        evals = torch.utils.data.DataLoader(eval_set, eval_bs, num_workers=0)
        return train, evals, sampler
    if not args.dataset:
        root = Path(args.data_dir or "")
        if not args.data_dir or not root.is_dir():
            raise SystemExit(f"train.py: --data-dir {args.data_dir!r} is not a folder (expected train/ and val/ class folders)")
        for split in (args.train_split, args.val_split):
            split_dir = root / split if (root / split).is_dir() else root / ("val" if split == "validation" else split)
            if not split_dir.is_dir() or not any(d.is_dir() for d in split_dir.iterdir()):
                raise SystemExit(f"train.py: {split_dir} is missing or has no class folders")
    data_config = resolve_data_config(vars(args), model=model)
    train_set = create_dataset(args.dataset, root=args.data_dir, split=args.train_split, is_training=True)
    eval_set = create_dataset(args.dataset, root=args.data_dir, split=args.val_split, is_training=False)
    train = create_loader(
        train_set, input_size=data_config["input_size"], batch_size=args.batch_size, is_training=True,
        no_aug=False, re_prob=args.reprob, auto_augment=args.aa, color_jitter=args.color_jitter,
        interpolation=args.train_interpolation, mean=data_config["mean"], std=data_config["std"],
        num_workers=args.workers, distributed=distributed, num_aug_repeats=args.aug_repeats, use_prefetcher=False,
    )
    evals = create_loader(
        eval_set, input_size=data_config["input_size"], batch_size=eval_bs, is_training=False,
        interpolation=data_config["interpolation"], mean=data_config["mean"], std=data_config["std"],
        crop_pct=data_config["crop_pct"], num_workers=args.workers, distributed=distributed, use_prefetcher=False,
    )
    return train, evals, getattr(train, "sampler", None)


def wrap_distributed(model: nn.Module, args, device: torch.device) -> nn.Module:
    if not args.distributed or args.fsdp:  # a sharded model synchronises its own gradients
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = init_distributed_device(args)
    primary = args.rank == 0
    random_seed(args.seed, args.rank)
    out_dir = Path(args.output) / (args.experiment or args.model)
    out_dir.mkdir(parents=True, exist_ok=True)
    amp_dtype = DTYPES[args.amp_dtype] if args.amp else None

    model = build_model(args)
    if args.grad_checkpointing:
        model.set_grad_checkpointing(True)
    model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    ema = ModelEmaV3(model, decay=args.model_ema_decay) if args.model_ema else None
    if args.fsdp:  # before the optimizer is made: sharding replaces the parameters
        if not args.distributed:
            raise SystemExit("train.py: --fsdp needs several processes: launch with torchrun --nproc_per_node N")
        if args.channels_last:
            raise SystemExit("train.py: --fsdp cannot shard channels-last weights (FSDP2 needs contiguous "
                             "parameters): drop --channels-last")
        shard_blocks(model)
        if ema is not None:
            shard_blocks(ema.module)  # sharded like the model, so the EMA update stays shard-local
    global_batch = args.batch_size * args.world_size * args.grad_accum_steps
    lr = args.lr or args.lr_base * global_batch / args.lr_base_size
    optimizer = create_optimizer_v2(model, args.opt, lr=lr, weight_decay=args.weight_decay, layer_decay=args.layer_decay)
    scaler = torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 else None
    train_loader, eval_loader, sampler = build_data(args, model, args.distributed)
    if len(train_loader) < args.grad_accum_steps:
        raise SystemExit(f"train.py: batch size {args.batch_size} x {args.grad_accum_steps} accumulation steps leaves "
                         f"{len(train_loader)} batches per epoch: lower --batch-size or --grad-accum-steps")
    updates_per_epoch = len(train_loader) // args.grad_accum_steps
    scheduler, _ = create_scheduler_v2(
        optimizer, args.sched, num_epochs=args.epochs, warmup_epochs=args.warmup_epochs, warmup_lr=args.warmup_lr,
        min_lr=args.min_lr, step_on_epochs=False, updates_per_epoch=updates_per_epoch,
    )
    num_classes = model.num_classes
    mixup = (Mixup(mixup_alpha=args.mixup, cutmix_alpha=args.cutmix, prob=args.mixup_prob,
                   switch_prob=args.mixup_switch_prob, mode=args.mixup_mode, label_smoothing=args.smoothing,
                   num_classes=num_classes) if args.mixup > 0 or args.cutmix > 0 else None)
    criterion = (SoftTargetCrossEntropy() if mixup else
                 LabelSmoothingCrossEntropy(args.smoothing) if args.smoothing else nn.CrossEntropyLoss())

    train_model = wrap_distributed(model, args, device)
    if args.torchcompile:
        train_model = torch.compile(train_model)
    cfg = LoopConfig(epochs=args.epochs, grad_accum_steps=args.grad_accum_steps, clip_grad=args.clip_grad,
                     clip_mode=args.clip_mode, recovery_interval=args.recovery_interval,
                     kill_after_steps=args.kill_after_steps, progress=not args.no_progress, amp_dtype=amp_dtype)
    trainer = Trainer(model, train_model, optimizer, scheduler, scaler, ema, out_dir, primary, cfg, vars(args), args.model)
    resume = trainer.find_resume(args.resume)
    if resume:
        try:
            trainer.resume(resume)
        except (ValueError, FileNotFoundError) as error:  # unreadable, unsafe or not fitting this run
            raise SystemExit(f"train.py: {error}") from None

    def step_loss(batch):
        images, targets = (t.to(device) for t in batch)
        if args.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if mixup is not None:
            images, targets = mixup(images, targets)
        return criterion(train_model(images), targets), images.shape[0]

    def run_eval() -> dict:
        return evaluate(ema.module if ema is not None else model, eval_loader, device, amp_dtype, args.channels_last)

    return trainer.fit(train_loader, step_loss, run_eval, sampler)


if __name__ == "__main__":
    main()
