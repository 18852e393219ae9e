"""The run's record people read: timm's summary.csv (one row per epoch) and its curves as a PNG."""
from __future__ import annotations

import csv
import os
from pathlib import Path


def keep_summary_before(summary_csv: Path, epoch: int) -> None:
    """Drop summary.csv rows of epochs >= epoch: a fresh run (epoch 0) starts a fresh log, and a run
    resumed from inside epoch e, killed after writing e's row but before last.pth, does not log e twice."""
    if not summary_csv.exists():
        return
    with open(summary_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if int(r["epoch"]) < epoch]
    if not kept:
        summary_csv.unlink()
    elif len(kept) < len(rows):
        tmp = summary_csv.with_name(f".{summary_csv.name}.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, summary_csv)


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

    def col(name: str):
        return [float(r[name]) for r in rows] if name in rows[0] else None

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
