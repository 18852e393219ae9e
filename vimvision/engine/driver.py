"""One training driver for every task: a task says how to build its model and data, what one batch's loss
is and how to score the model; the driver does everything else the same way for all of them (distributed
set-up, EMA, FSDP or DDP, optimizer with layer decay, scheduler, AMP and its scaler, torch.compile,
gradient accumulation, resume, logging and checkpoints)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
from timm.optim import create_optimizer_v2, param_groups_layer_decay, param_groups_weight_decay
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3, init_distributed_device, random_seed

from ..compile import compile_blocks
from .distributed import shard_blocks
from .options import AMP_DTYPES, add_training_arguments, parse_args
from .trainer import LoopConfig, Trainer

StepLoss = Callable[[object], tuple]  # batch -> (scalar loss, number of samples)


class Task:
    """What differs between classification, detection and segmentation. `prog` names the tool in errors."""

    prog = "train.py"
    best_metric = "top1"
    experiment_name = "{model}"  # the default --experiment folder and the curves' title, from the options
    title_text = "{model}"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The task's own options and its defaults for the shared ones (parser.set_defaults)."""

    def experiment(self, args: argparse.Namespace) -> str:
        return self.experiment_name.format(**vars(args))

    def title(self, args: argparse.Namespace) -> str:
        return self.title_text.format(**vars(args))

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        raise NotImplementedError

    def build_data(self, args: argparse.Namespace, model: nn.Module):
        """(train loader, eval loader, the train sampler or None)."""
        raise NotImplementedError

    def step_loss(self, args: argparse.Namespace, model: nn.Module, train_model: nn.Module,
                  device: torch.device) -> StepLoss:
        raise NotImplementedError

    def evaluate(self, args: argparse.Namespace, model: nn.Module, loader, device: torch.device,
                 amp_dtype: Optional[torch.dtype]) -> dict:
        """Metrics of `model` (the raw model, and the EMA copy when there is one); must hold `best_metric`."""
        raise NotImplementedError


def build_parser(task: Task, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=task.prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_arguments(parser)
    task.add_arguments(parser)
    return parser


def _fail(task: Task, message: str):
    raise SystemExit(f"{task.prog}: {message}")


def _wrap(model: nn.Module, args: argparse.Namespace, device: torch.device) -> nn.Module:
    if not args.distributed or args.fsdp:  # a sharded model synchronises its own gradients
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def build_optimization(model: nn.Module, args: argparse.Namespace, global_batch: int, updates_per_epoch: int):
    """(optimizer, scheduler): lr = --lr or lr-base x global batch / lr-base-size (warm-up and min lr too
    with --scale-warmup-min-lr), weight decay by the --no-decay rule, timm's factories for both."""
    scale = global_batch / args.lr_base_size
    lr = args.lr or args.lr_base * scale
    warmup_lr, min_lr = (args.warmup_lr * scale, args.min_lr * scale) if args.scale_warmup_min_lr else \
        (args.warmup_lr, args.min_lr)
    if args.no_decay == "official":  # the groups carry weight and layer decay themselves
        optimizer = create_optimizer_v2(_decay_groups(model, args), args.opt, lr=lr, weight_decay=args.weight_decay)
    else:
        optimizer = create_optimizer_v2(model, args.opt, lr=lr, weight_decay=args.weight_decay,
                                        layer_decay=args.layer_decay)
    scheduler, _ = create_scheduler_v2(
        optimizer, args.sched, num_epochs=args.epochs, warmup_epochs=args.warmup_epochs, warmup_lr=warmup_lr,
        min_lr=min_lr, warmup_prefix=args.warmup_prefix, step_on_epochs=args.sched_on_epochs,
        updates_per_epoch=updates_per_epoch,
    )
    return optimizer, scheduler


def _decay_groups(model: nn.Module, args: argparse.Namespace) -> list:
    """Parameter groups with the official trainers' rule: no decay for 1-D tensors, biases and the
    official model's no_weight_decay() names only (timm's param-group helpers, with layer decay if asked)."""
    names = model.official_no_weight_decay() if hasattr(model, "official_no_weight_decay") else set()
    if args.layer_decay is not None:
        return param_groups_layer_decay(model, args.weight_decay, no_weight_decay_list=names,
                                        layer_decay=args.layer_decay)
    return param_groups_weight_decay(model, args.weight_decay, no_weight_decay_list=names)


def run(task: Task, argv: Optional[Sequence[str]] = None, description: str = "") -> dict:
    """Parse the options, train to the last epoch (resuming if asked) and return the final metrics."""
    args = parse_args(build_parser(task, description), argv, task.prog)
    device = init_distributed_device(args)
    try:
        return _train(task, args, device)
    finally:  # gloo's threads end before the interpreter does (a bare exit can abort: "terminate called ...")
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(task: Task, args: argparse.Namespace, device: torch.device) -> dict:
    random_seed(args.seed, args.rank)
    out_dir = Path(args.output) / (args.experiment or task.experiment(args))
    out_dir.mkdir(parents=True, exist_ok=True)
    amp_dtype = AMP_DTYPES[args.amp_dtype] if args.amp else None

    model = task.build_model(args)
    if args.grad_checkpointing:
        if not hasattr(model, "set_grad_checkpointing"):
            _fail(task, f"--grad-checkpointing: {type(model).__name__} has no set_grad_checkpointing")
        model.set_grad_checkpointing(True)
    model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    ema = ModelEmaV3(model, decay=args.model_ema_decay) if args.model_ema else None
    if args.fsdp:  # before the optimizer is made: sharding replaces the parameters
        if not args.distributed:
            _fail(task, "--fsdp needs several processes: launch with torchrun --nproc_per_node N")
        if args.channels_last:
            _fail(task, "--fsdp cannot shard channels-last weights (FSDP2 needs contiguous parameters): "
                        "drop --channels-last")
        shard_blocks(model)
        if ema is not None:
            shard_blocks(ema.module)  # sharded like the model, so the EMA update stays shard-local

    train_loader, eval_loader, sampler = task.build_data(args, model)
    if len(train_loader) < args.grad_accum_steps:
        _fail(task, f"batch size {args.batch_size} x {args.grad_accum_steps} accumulation steps leaves "
                    f"{len(train_loader)} batches per epoch: lower --batch-size or --grad-accum-steps")
    optimizer, scheduler = build_optimization(model, args, args.batch_size * args.world_size * args.grad_accum_steps,
                                              len(train_loader) // args.grad_accum_steps)
    scaler = torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 else None
    if args.torchcompile:  # regional: each residual block compiled in place, one compile per distinct block
        compile_blocks(model)
    train_model = _wrap(model, args, device)

    cfg = LoopConfig(epochs=args.epochs, grad_accum_steps=args.grad_accum_steps, clip_grad=args.clip_grad,
                     clip_mode=args.clip_mode, recovery_interval=args.recovery_interval,
                     kill_after_steps=args.kill_after_steps, progress=not args.no_progress,
                     log_interval=args.log_interval, amp_dtype=amp_dtype,
                     best_metric=task.best_metric if args.best_on == "model" else f"ema_{task.best_metric}")
    trainer = Trainer(model, train_model, optimizer, scheduler, scaler, ema, out_dir, args.rank == 0, cfg, vars(args),
                      task.title(args))
    resume = trainer.find_resume(args.resume)
    if resume:
        try:
            trainer.resume(resume)
        except (ValueError, FileNotFoundError) as error:  # unreadable, unsafe or not fitting this run
            _fail(task, str(error))
    step_loss = task.step_loss(args, model, train_model, device)

    def evaluate() -> dict:
        """The raw model's metrics, and the EMA copy's as ema_* (the official scripts report both)."""
        metrics = task.evaluate(args, model, eval_loader, device, amp_dtype)
        if ema is not None:
            metrics.update({f"ema_{k}": v for k, v in task.evaluate(args, ema.module, eval_loader, device,
                                                                    amp_dtype).items()})
        return metrics

    return trainer.fit(train_loader, step_loss, evaluate, sampler)
