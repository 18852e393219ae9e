"""Time the selective scan's backends against the plain-PyTorch scans people use today.

    python benchmarks/benchmark_ops.py                      # Vim-S and VMamba-T stage-1 shapes
    python benchmarks/benchmark_ops.py --include-quadratic  # also fwd+bwd of the per-step-indexing loops (minutes)
    python benchmarks/benchmark_ops.py --quick              # tiny shapes, a smoke test

Prints (and with --output writes) a markdown table of seconds and of ratios against our torch
backend, all measured in the same run. It adds the fused backend (triton on a GPU, numba on a CPU) and
its forward's achieved memory bandwidth as a fraction of the device's measured copy bandwidth.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import torch
from scan_baselines import BASELINES  # the sibling file: Python puts a script's folder on sys.path
from tqdm import tqdm

from vimvision.benchmarking import ScanShape, copy_bandwidth, nbytes, scan_inputs
from vimvision.kernels import selective_scan_fn
from vimvision.kernels.backend import numba_available

QUADRATIC = ("indexing loop (mamba ref)", "time-major loop (mamba-minimal)")


SHAPES = {
    "vim_s": ScanShape("Vim-S layer", 8, 768, 197, 16, 1),
    "vmamba_t_s1": ScanShape("VMamba-T stage 1", 8, 384, 3136, 1, 4),
}
QUICK = {"tiny_n16": ScanShape("tiny N=16", 2, 32, 64, 16, 1), "tiny_n1": ScanShape("tiny N=1", 2, 32, 256, 1, 4)}


def make_inputs(s: ScanShape, device: torch.device, seed: int = 0) -> list[torch.Tensor]:
    """(u, delta, A, B, C, D) with delta already through softplus: the public scans take a ready delta."""
    ins = scan_inputs(s, device=device, seed=seed)
    delta = torch.nn.functional.softplus(ins["delta"] + ins["delta_bias"][:, None])
    return [ins["u"], delta, ins["A"], ins["B"], ins["C"], ins["D"]]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(fn, inputs, backward: bool, repeats: int, device, warmup: bool = True) -> float:
    """Median seconds of fn (and a backward with a ones gradient), after one warm-up run if asked."""
    times = []
    for i in range(repeats + int(warmup)):
        ins = [t.detach().requires_grad_(backward) for t in inputs]
        _sync(device)
        start = time.perf_counter()
        with torch.set_grad_enabled(backward):
            out = fn(*ins)
            if backward:
                out.backward(torch.ones_like(out))
        _sync(device)
        if i or not warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def fused_backend(device: torch.device) -> str | None:
    """The fused kernels on this device: Triton on a GPU, numba on a CPU (where installed)."""
    if device.type == "cuda":
        return "triton"
    return "numba" if numba_available() else None


def backends(device: torch.device) -> dict:
    names = ["torch", "reference"] + [b for b in (fused_backend(device),) if b]
    return {f"vimvision {b}": functools.partial(selective_scan_fn, backend=b) for b in names}


def scan_bytes(inputs: list[torch.Tensor]) -> int:
    """Minimum traffic of the forward: read u, delta, B, C, A, D once, write out once."""
    return nbytes(*inputs) + nbytes(inputs[0])


def run(shapes: dict, repeats: int, include_quadratic: bool, device: torch.device) -> str:
    impls = {**backends(device), **BASELINES}
    rows, cases = [], [(k, s, n, f) for k, s in shapes.items() for n, f in impls.items()]
    results: dict = {}
    for key, shape, name, fn in tqdm(cases, desc="benchmark", unit="case"):
        inputs = make_inputs(shape, device)
        fwd = time_call(fn, inputs, False, repeats, device)
        slow = name in QUADRATIC and not include_quadratic
        if slow:
            both = None
        elif name in QUADRATIC:  # minutes per run: one run, no warm-up
            both = time_call(fn, inputs, True, 1, device, warmup=False)
        else:
            both = time_call(fn, inputs, True, repeats, device)
        with torch.no_grad():
            finite = bool(torch.isfinite(fn(*inputs)).all())
        results[(key, name)] = (fwd, both, finite)
    fused = fused_backend(device)
    peak = copy_bandwidth(device) if fused else None
    header = "| shape | implementation | fwd s | fwd+bwd s | fwd vs torch | fwd+bwd vs torch | finite |"
    rows = [header, "|" + "---|" * 7]
    for key, shape in shapes.items():
        base_f, base_b, _ = results[(key, "vimvision torch")]
        for name in impls:
            fwd, both, finite = results[(key, name)]
            ratio_b = f"{both / base_b:.2f}x" if both else "skipped"
            both_s = f"{both:.4f}" if both else "—"
            rows.append(f"| {shape.name} | {name} | {fwd:.4f} | {both_s} | {fwd / base_f:.2f}x | {ratio_b} "
                        f"| {finite} |")
        if peak:
            fwd = results[(key, f"vimvision {fused}")][0]
            achieved = scan_bytes(make_inputs(shape, device)) / fwd
            rows.append(f"| {shape.name} | {fused} fwd bandwidth | {achieved / 1e9:.1f} GB/s of {peak / 1e9:.1f} GB/s "
                        f"copy ({achieved / peak:.0%}) | | | | |")
    return "\n".join(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny shapes (smoke test)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--include-quadratic", action="store_true", help="time fwd+bwd of the per-step indexing loops")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--output", type=Path, default=None, help="append the table (markdown) to this file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    table = run(QUICK if args.quick else SHAPES, args.repeats, args.include_quadratic, device)
    print(table)
    if args.output:
        env = (f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
               f"{time.strftime('%Y-%m-%d')}")
        with args.output.open("a") as f:
            f.write(f"\n`python benchmarks/benchmark_ops.py {' '.join(argv or sys.argv[1:])}` ({env})\n\n{table}\n")


if __name__ == "__main__":
    main()
