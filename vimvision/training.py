"""Pieces of the training tools that are worth testing on their own: atomic, complete checkpoints
(model, EMA, optimizer, scheduler, scaler, RNG states, position inside the epoch), evaluation, and
the curves plot."""
from __future__ import annotations

import csv
import os
import random
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
from timm.utils import accuracy


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_atomic(obj: dict, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a kill never leaves a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_training_checkpoint(path: Path) -> dict:
    """Our own training checkpoints hold numpy RNG state and argparse values: trusted local files."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"--resume: checkpoint {str(path)!r} does not exist")
    return torch.load(path, map_location="cpu", weights_only=False)


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, amp_dtype: Optional[torch.dtype] = None,
             channels_last: bool = False, progress=None) -> dict:
    """Top-1 / top-5 accuracy (in %) and mean cross-entropy over a loader, summed over all processes
    when distributed (each rank scores its part of a distributed loader; every rank gets the totals)."""
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, top-1 hits, top-5 hits, count
    for images, targets in (progress(loader) if progress else loader):
        images, targets = images.to(device), targets.to(device)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            output = model(images).float()
        acc1, acc5 = accuracy(output, targets, topk=(1, min(5, output.shape[-1])))
        n = images.shape[0]
        totals += torch.stack([nn.functional.cross_entropy(output, targets) * n, acc1 * n / 100, acc5 * n / 100,
                               torch.tensor(float(n), device=device)]).to(totals)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(totals)
    loss, top1, top5, count = totals.tolist()
    count = max(count, 1.0)
    return {"loss": loss / count, "top1": 100 * top1 / count, "top5": 100 * top5 / count}


def plot_summary(summary_csv: Path, out_png: Path, title: str = "") -> None:
    """Loss, accuracy and learning-rate curves from timm's summary.csv, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(summary_csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    epochs = [int(r["epoch"]) for r in rows]
    col = lambda name: [float(r[name]) for r in rows] if name in rows[0] else None  # noqa: E731
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(epochs, col("train_loss"), label="train")
    if col("eval_loss"):
        axes[0].plot(epochs, col("eval_loss"), label="eval")
    axes[0].set_title("loss")
    for key in rows[0]:
        if key.startswith("eval_") and key != "eval_loss":
            axes[1].plot(epochs, col(key), label=key)
    axes[1].set_title("evaluation (%)")
    if col("lr"):
        axes[2].plot(epochs, col("lr"))
    axes[2].set_title("learning rate")
    for ax in axes:
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
