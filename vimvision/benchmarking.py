"""Timing and reporting shared by the tools that measure: model throughput (median of timed runs after
warm-up, synchronized on GPU), the scan's inputs at a model's launch shape, the copy-bandwidth roof, and the
CSV files the results land in (markdown tables: tabulate)."""
from __future__ import annotations

import csv
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_throughput(model: nn.Module, size: int, batch: int, mode: str = "infer", dtype: torch.dtype = torch.float32,
                       warmup: int = 3, repeats: int = 10, num_classes: int = 1000) -> dict:
    """Images per second (median over `repeats`) of inference or a training step (forward, cross-entropy,
    backward) at size x size under autocast to `dtype`, peak GPU memory in MiB (None on CPU), and the
    seconds of the first call (for a torch.compile'd model: the compile time)."""
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
        times.append(time.perf_counter() - start)
    memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"img_per_s": batch / statistics.median(times[warmup:]), "peak_mem_mib": memory, "first_call_s": times[0]}


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Rows of one shape as a CSV file (the first row's keys are the columns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class ScanShape:
    """One selective-scan launch as a model makes it: Vim scans each direction separately (z gate, 1 group);
    SS2D scans several routes per launch (`groups` routes, dim = groups * d_inner)."""

    name: str
    batch: int
    dim: int
    L: int
    d_state: int
    groups: int
    has_z: bool = False


def scan_inputs(s: ScanShape, batch: Optional[int] = None, dtype: torch.dtype = torch.float32, device="cpu",
                seed: int = 0) -> dict:
    """selective_scan_fn's inputs by Mamba's init: dt bias log-uniform in [1e-3, 0.1] through softplus, A = -(1..N)
    (S4D-real), delta a pre-softplus activation around the bias (use with delta_softplus=True)."""
    g = torch.Generator().manual_seed(seed)
    batch = batch or s.batch
    dt0 = torch.exp(torch.rand(s.dim, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))

    def act(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).to(device, dtype)

    return dict(
        u=act(batch, s.dim, s.L),
        delta=(0.5 * torch.randn(batch, s.dim, s.L, generator=g)).to(device, dtype),
        A=-torch.arange(1, s.d_state + 1, dtype=torch.float32).repeat(s.dim, 1).to(device),
        B=act(batch, s.groups, s.d_state, s.L),
        C=act(batch, s.groups, s.d_state, s.L),
        D=torch.ones(s.dim, device=device),
        z=act(batch, s.dim, s.L) if s.has_z else None,
        delta_bias=torch.log(torch.expm1(dt0)).to(device),
    )


def nbytes(*tensors: Optional[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def median_seconds(fn, device: torch.device) -> float:
    """Median seconds of fn(): CUDA events through Triton's do_bench on a GPU, one warm-up then one wall-clock
    run elsewhere (CPU figures from it are smoke tests, not measurements)."""
    if device.type == "cuda":
        import triton.testing

        return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median") / 1e3
    fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def copy_bandwidth(device: torch.device, numel: int = 2**28) -> float:
    """Bytes/s of a device-to-device fp32 copy, counting bytes read plus bytes written: the memory roof."""
    x = torch.randn(numel, device=device)
    y = torch.empty_like(x)
    return 2 * nbytes(x) / median_seconds(lambda: y.copy_(x), device)
