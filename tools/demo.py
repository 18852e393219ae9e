"""The README's main job until the training demo lands: run the selective scan at a Vim-S layer
shape on every available backend, check that they agree with the sequential reference, and time them.

    python tools/demo.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.benchmark_ops import SHAPES, make_inputs  # noqa: E402
from vimvision.kernels import selective_scan_fn  # noqa: E402


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
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
        print(f"{shape.name}: batch {shape.batch}, dim {shape.dim}, L {shape.L}, d_state {shape.d_state}, groups {shape.groups}")
        for backend, (out, seconds) in results.items():
            err = (out - ref).abs().max().item()
            print(f"  {backend:9s} forward {seconds:7.3f} s   max |diff| vs reference {err:.2e}")


if __name__ == "__main__":
    main()
