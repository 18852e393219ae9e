"""The training loop every task runs (vimvision.engine.driver sets it up).

Nothing is lost: last.pth (every epoch), recovery.pth (every `recovery_interval` optimizer steps) and
the best weights are written atomically; resume restores model, EMA, optimizer, scheduler, scaler,
RNG states and the position inside the epoch, replaying the epoch's randomness up to that point, so
a run killed at any moment ends exactly as one never killed (workers=0, or deterministic workers).
Multi-process runs (DDP or FSDP) save every rank's RNG states and, when sharded, full unsharded state
dicts, so saving is a collective: every rank calls _checkpoint, rank 0 writes.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn as nn
from timm.utils import dispatch_clip_grad, update_summary
from tqdm import tqdm

from .checkpoint import load_training_checkpoint, plain, remove_stale_temporaries, rng_state, save_atomic, set_rng_state
from .distributed import (
    barrier,
    gather_objects,
    gradient_sync,
    load_model_state,
    load_optimizer_state,
    model_state,
    optimizer_state,
    world,
)
from .summary import keep_summary_before, plot_summary


@dataclass
class LoopConfig:
    epochs: int
    grad_accum_steps: int = 1
    clip_grad: Optional[float] = None
    clip_mode: str = "norm"
    recovery_interval: int = 0
    kill_after_steps: int = 0  # tests: hard exit after this many optimizer steps
    progress: bool = True
    amp_dtype: Optional[torch.dtype] = None
    best_metric: str = "top1"  # key of the evaluation dict that picks model_best.pth
    log_interval: int = 0  # optimizer steps between log lines when there is no progress bar


class Trainer:
    """step_loss(batch) -> scalar loss of one batch (forward only); evaluate() -> dict of metrics
    (must hold `best_metric` and may hold 'loss'). model is the unwrapped module that is saved;
    train_model the DDP/compiled wrapper that runs."""

    def __init__(self, model: nn.Module, train_model: nn.Module, optimizer, scheduler, scaler, ema,
                 out_dir: Path, primary: bool, cfg: LoopConfig, args: dict, title: str = ""):
        self.model, self.train_model, self.optimizer, self.scheduler = model, train_model, optimizer, scheduler
        self.scaler, self.ema, self.out_dir, self.primary, self.cfg = scaler, ema, Path(out_dir), primary, cfg
        self.args, self.title = args, title
        self.state = dict(epoch=0, step=0, num_updates=0, best=-math.inf, best_epoch=-1, loss_sum=0.0, seen=0)
        self.epoch_rng = None
        self.writer = None

    def find_resume(self, resume: str) -> str:
        """'auto' -> the newest intact checkpoint of recovery.pth and last.pth in the output folder ('' when
        none); a damaged one is skipped with a message naming it and why. Only safe, memory-mapped loads."""
        if resume != "auto":
            return resume
        remove_stale_temporaries(self.out_dir)
        intact = {}
        for name in ("recovery.pth", "last.pth"):
            path = self.out_dir / name
            if not path.is_file():
                continue
            try:
                intact[path] = load_training_checkpoint(path, mmap=True)["num_updates"]
            except ValueError as error:
                if self.primary:
                    print(f"resume: skipping {path}: {error}")
        return str(max(intact, key=intact.get)) if intact else ""

    def resume(self, path: str) -> None:
        ckpt = load_training_checkpoint(Path(path))
        load_model_state(self.model, ckpt["model"])
        load_optimizer_state(self.model, self.optimizer, ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.ema is not None and ckpt.get("model_ema") is not None:
            load_model_state(self.ema.module, ckpt["model_ema"])
        if self.scaler is not None and ckpt.get("scaler") is not None:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state.update({k: ckpt[k] for k in self.state})
        rank, size = world()
        if len(ckpt["rng"]) == size:  # one entry per rank
            set_rng_state(ckpt["rng"][rank])
            self.epoch_rng = ckpt["epoch_rng"][rank]
        elif self.primary:
            print(f"resume: {path} was written by {len(ckpt['rng'])} processes and this run has {size}: "
                  "random streams start afresh, so the run will not replay the interrupted one exactly")
        if self.primary:
            print(f"resumed from {path}: epoch {self.state['epoch']}, step {self.state['step']}")

    def _checkpoint(self, name: str, epoch: int, step: int, ep_rng) -> None:
        """A collective (sharded weights and every rank's RNG are gathered); rank 0 writes the file."""
        ckpt = {
            "model": model_state(self.model), "model_ema": model_state(self.ema.module) if self.ema else None,
            "optimizer": optimizer_state(self.model, self.optimizer), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None, **self.state, "epoch": epoch, "step": step,
            "rng": gather_objects(rng_state()), "epoch_rng": gather_objects(ep_rng), "args": plain(self.args),
        }
        if self.primary:
            save_atomic(ckpt, self.out_dir / name)
        barrier()

    def _save_best(self, epoch: int, ev: dict) -> None:
        """Weights only, so it loads with weights_only=True (validate.py, pretrained_cfg_overlay). A collective."""
        best = {"model": model_state(self.model), "model_ema": model_state(self.ema.module) if self.ema else None,
                "epoch": epoch, f"eval_{self.cfg.best_metric}": float(ev[self.cfg.best_metric]),
                "args": plain(self.args)}
        if self.primary:
            save_atomic(best, self.out_dir / "model_best.pth")
        barrier()

    def _optimizer_step(self) -> None:
        opt, scaler = self.optimizer, self.scaler
        if scaler is not None:
            scaler.unscale_(opt)
        if self.cfg.clip_grad:
            dispatch_clip_grad(self.model.parameters(), self.cfg.clip_grad, mode=self.cfg.clip_mode)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad()
        self.state["num_updates"] += 1
        if self.ema is not None:
            self.ema.update(self.model, step=self.state["num_updates"])
        self.scheduler.step_update(num_updates=self.state["num_updates"])

    def _train_epoch(self, epoch: int, loader, step_loss: Callable):
        start_step = self.state["step"] if epoch == self.state["epoch"] else 0
        current_rng = None
        if start_step and self.epoch_rng is not None:  # replay the epoch's randomness up to where we stopped
            current_rng = rng_state()
            set_rng_state(self.epoch_rng)
        ep_rng = rng_state()
        self.train_model.train()
        loss_sum, seen = (self.state["loss_sum"], self.state["seen"]) if start_step else (0.0, 0)
        t0 = time.perf_counter()
        batches = tqdm(loader, desc=f"epoch {epoch}", leave=False, initial=start_step) \
            if self.cfg.progress and self.primary else loader
        self.optimizer.zero_grad()
        accum = self.cfg.grad_accum_steps
        for step, batch in enumerate(batches):
            if step < start_step:
                if step == start_step - 1 and current_rng is not None:
                    set_rng_state(current_rng)
                continue
            dtype = self.cfg.amp_dtype
            last_micro_step = (step + 1) % accum == 0
            with gradient_sync(self.train_model, self.model, last_micro_step):  # one all-reduce per update
                with torch.autocast(self.model_device.type, dtype=dtype) if dtype else nullcontext():
                    loss, size = step_loss(batch)
                if not math.isfinite(loss.item()):
                    raise SystemExit(f"loss is {loss.item()} at epoch {epoch} step {step}; stopping "
                                     f"(last good checkpoint: {self.out_dir / 'last.pth'})")
                (self.scaler.scale(loss / accum) if self.scaler else loss / accum).backward()
            loss_sum += loss.item() * size
            seen += size
            if not last_micro_step:
                continue
            self._optimizer_step()
            n = self.state["num_updates"]
            if self.cfg.recovery_interval and n % self.cfg.recovery_interval == 0:
                self.state.update(loss_sum=loss_sum, seen=seen)
                self._checkpoint("recovery.pth", epoch, step + 1, ep_rng)
            if self.cfg.kill_after_steps and n == self.cfg.kill_after_steps:
                os._exit(17)  # like a kill: no cleanup, no final checkpoint
            lr = self.optimizer.param_groups[0]["lr"]
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
            elif self.primary and self.cfg.log_interval and n % self.cfg.log_interval == 0:
                print(f"epoch {epoch} step {step + 1}/{len(loader)}: loss {loss.item():.4f} "
                      f"(mean {loss_sum / max(seen, 1):.4f}), lr {lr:.3e}", flush=True)
        return {"loss": loss_sum / max(seen, 1), "img_per_s": seen / max(time.perf_counter() - t0, 1e-9)}

    @property
    def model_device(self) -> torch.device:
        return next(self.model.parameters()).device

    def fit(self, loader, step_loss: Callable, evaluate: Callable, sampler=None) -> dict:
        """Train from the current state to cfg.epochs; returns the last epoch's metrics and the best."""
        if self.primary:
            from torch.utils.tensorboard import SummaryWriter

            keep_summary_before(self.out_dir / "summary.csv", self.state["epoch"])
            self.writer = SummaryWriter(self.out_dir / "tensorboard")
        metrics = {}
        for epoch in range(self.state["epoch"], self.cfg.epochs):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            train_metrics = self._train_epoch(epoch, loader, step_loss)
            self.scheduler.step(epoch + 1)
            ev = {k: float(v) for k, v in evaluate().items()}
            self.state.update(epoch=epoch + 1, step=0, loss_sum=0.0, seen=0)
            is_best = ev[self.cfg.best_metric] > self.state["best"]
            if is_best:
                self.state.update(best=ev[self.cfg.best_metric], best_epoch=epoch)
            metrics = {"epoch": epoch, "train_loss": train_metrics["loss"], **{f"eval_{k}": v for k, v in ev.items()}}
            if self.primary:
                self._log(epoch, train_metrics, ev, metrics)
            if is_best:  # before last.pth: a kill between the two replays this epoch, which saves the best again
                self._save_best(epoch, ev)
            self._checkpoint("last.pth", epoch + 1, 0, None)
        if self.writer is not None:
            self.writer.close()
        return {**metrics, "best": self.state["best"], "output": str(self.out_dir)}

    def _log(self, epoch: int, train_metrics: dict, ev: dict, metrics: dict) -> None:
        update_summary(epoch, train_metrics, ev, self.out_dir / "summary.csv",
                       lr=self.optimizer.param_groups[0]["lr"], write_header=epoch == 0)
        for k, v in metrics.items():
            if k != "epoch":
                self.writer.add_scalar(k, v, epoch)
        plot_summary(self.out_dir / "summary.csv", self.out_dir / "curves.png", title=self.title)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in ev.items())
        print(f"epoch {epoch}: train loss {train_metrics['loss']:.4f}, eval {shown} "
              f"({train_metrics['img_per_s']:.0f} img/s)")
