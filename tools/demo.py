"""The README's main job until the training demo lands: build Vim-Ti and VMamba-T from timm, count
their parameters and FLOPs, time a forward pass, and check the selective-scan backends against the
sequential reference at the Vim-S and VMamba-T stage-1 shapes.

    python tools/demo.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import timm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import vimvision  # noqa: E402,F401
from tools.benchmark_ops import SHAPES, make_inputs  # noqa: E402
from vimvision.flops import count_flops  # noqa: E402
from vimvision.kernels import selective_scan_fn  # noqa: E402


def models(device: torch.device, batch: int = 4) -> None:
    for name in ("vim_tiny", "vmamba_tiny"):
        model = timm.create_model(name).to(device).eval()
        count = count_flops(model)
        x = torch.randn(batch, 3, 224, 224, device=device)
        with torch.no_grad():
            model(x)
            start = time.perf_counter()
            logits = model(x)
            seconds = time.perf_counter() - start
        print(f"{name}: {count}; forward of {batch} images {seconds:.2f} s ({batch / seconds:.1f} img/s), "
              f"logits {tuple(logits.shape)}")


def scans(device: torch.device) -> None:
    backends = ["reference", "torch"] + (["triton"] if device.type == "cuda" else [])
    for key in ("vim_s", "vmamba_t_s1"):
        shape = SHAPES[key]
        u, delta, A, B, C, D = make_inputs(shape, device)
        results = {}
        for backend in backends:
            start = time.perf_counter()
            out = selective_scan_fn(u, delta, A, B, C, D, backend=backend)
            results[backend] = (out, time.perf_counter() - start)
        ref = results["reference"][0]
        print(f"scan at the {shape.name} shape (batch {shape.batch}, dim {shape.dim}, L {shape.L}, d_state {shape.d_state}):")
        for backend, (out, seconds) in results.items():
            print(f"  {backend:9s} forward {seconds:7.3f} s   max |diff| vs reference {(out - ref).abs().max().item():.2e}")


if __name__ == "__main__":
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    models(dev)
    scans(dev)
