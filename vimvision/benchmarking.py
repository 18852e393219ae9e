"""Timing and reporting shared by the tools that measure: model throughput (median of timed runs after
warm-up, synchronized on GPU) and the CSV / markdown tables the results land in."""
from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_throughput(model: nn.Module, size: int, batch: int, mode: str = "infer", dtype: torch.dtype = torch.float32,
                       warmup: int = 3, repeats: int = 10, num_classes: int = 1000) -> dict:
    """Images per second (median over `repeats`) of inference or a training step (forward, cross-entropy,
    backward) at size x size under autocast to `dtype`, and peak GPU memory in MiB (None on CPU)."""
    device = next(model.parameters()).device
    x = torch.randn(batch, 3, size, size, device=device)
    target = torch.randint(0, num_classes, (batch,), device=device)
    model.train(mode == "train")
    times = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(warmup + repeats):
        synchronize(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32), \
                torch.set_grad_enabled(mode == "train"):
            out = model(x)
            if mode == "train":
                F.cross_entropy(out.float(), target % out.shape[-1]).backward()
        if mode == "train":
            model.zero_grad(set_to_none=True)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"img_per_s": batch / statistics.median(times), "peak_mem_mib": memory}


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Rows of one shape as a CSV file (the first row's keys are the columns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table; cells are written with str()."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
