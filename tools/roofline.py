"""The selective scan's Triton kernels at the models' real shapes: correct, and how close to the roofline.

    python tools/roofline.py                                    # on a GPU: every shape, both kernels
    python tools/roofline.py --output benchmarks/gpu_scan.md    # also append the tables there
    python tools/roofline.py --quick                            # CPU smoke test (Triton interpreter)

Correctness: each kernel's output and gradients against the torch backend in float64 on the same
device, as max over tensors of |got - ref| / |ref| (norms), for fp32, bf16 and fp16 inputs, on a
small batch of each shape. Speed: medians of triton.testing.do_bench (CUDA events) at the full
batch, forward and backward launched directly; achieved bandwidth is the least traffic (every
input read once, every output written once) over the time, as a fraction of a device-to-device
copy measured in the same run. The torch backend (autograd included) is the baseline ratio.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

from vimvision.benchmarking import ScanShape, copy_bandwidth, median_seconds, nbytes, scan_inputs
from vimvision.kernels import selective_scan_fn
from vimvision.kernels.selective_scan.activations import GATE_IDS
from vimvision.kernels.selective_scan.op import KERNELS, kernel_pair

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# |got - ref| / |ref| above which a check fails: fp32 arithmetic, then the inputs' own rounding
LIMITS = {"fp32": 1e-4, "bf16": 2e-2, "fp16": 4e-3}
GRADS = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


SHAPES = [
    ScanShape("Vim-S 224", 128, 768, 197, 16, 1, True),
    ScanShape("Vim-Ti 1248 (6085 tokens)", 8, 384, 6085, 16, 1, True),
    ScanShape("VMamba-T stage 1", 128, 192, 3136, 1, 2, False),
    ScanShape("VMamba-T stage 2", 128, 384, 784, 1, 2, False),
    ScanShape("VMamba-T stage 3", 128, 768, 196, 1, 2, False),
    ScanShape("VMamba-T stage 4", 128, 1536, 49, 1, 2, False),
]
QUICK = [ScanShape("tiny N=16", 1, 8, 20, 16, 1, True), ScanShape("tiny N=1", 2, 8, 40, 1, 2, False)]


def _launch_args(ins: dict) -> list:
    return [ins[k] for k in GRADS]


def _poison(device, nbytes: int) -> None:
    """Fill freed memory with NaN: the caching allocator hands it to the kernels' next outputs, so
    an element a kernel never writes shows up as NaN instead of as a stale, plausible value."""
    torch.full((nbytes // 4,), float("nan"), device=device)


def _rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    return ((got.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def check(s: ScanShape, kernel: str, dtype: str, device, batch: int) -> float:
    """Largest relative error over the output and every gradient, against float64."""
    ins = scan_inputs(s, batch, DTYPES[dtype], device)
    leaves = {k: v.double().requires_grad_() for k, v in ins.items() if v is not None}
    ref = selective_scan_fn(**leaves, delta_softplus=True, backend="torch")
    dout = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1)).to(device)
    ref_grads = torch.autograd.grad(ref, list(leaves.values()), dout)
    args = _launch_args(ins)
    _poison(device, 4 * nbytes(*ins.values()))
    pair = kernel_pair(kernel)
    out, ckpt = pair.scan_fwd(*args, True, GATE_IDS["silu"], False)
    _poison(device, 4 * nbytes(*ins.values()))
    grads = pair.scan_bwd(dout.to(out.dtype), *args, ckpt, True, GATE_IDS["silu"], False)
    present = [g for g, k in zip(grads, GRADS) if ins[k] is not None]
    errors = [_rel(out, ref)] + [_rel(g, r) for g, r in zip(present, ref_grads)]
    return float("nan") if any(math.isnan(e) for e in errors) else max(errors)


def least_bytes(ins: dict) -> tuple[int, int]:
    """(forward, backward) traffic if every input is read once and every output written once; the
    backward reads dout and writes du, ddelta, dz, and dB, dC in fp32 (the kernels accumulate them)."""
    u = ins["u"]
    fwd = nbytes(*ins.values()) + nbytes(u)
    grad_bc = 2 * ins["B"].numel() * 4
    bwd = nbytes(*ins.values()) + nbytes(u) + nbytes(u, ins["delta"], ins["z"]) + grad_bc
    return fwd, bwd


def speed(s: ScanShape, dtype: str, device, peak: float) -> list[dict]:
    ins = scan_inputs(s, s.batch, DTYPES[dtype], device)
    args = _launch_args(ins)
    fwd_bytes, bwd_bytes = least_bytes(ins)
    rows = []
    for kernel in KERNELS:
        pair = kernel_pair(kernel)
        out, ckpt = pair.scan_fwd(*args, True, GATE_IDS["silu"], False)
        dout = torch.randn_like(out)
        t_fwd = median_seconds(lambda: pair.scan_fwd(*args, True, GATE_IDS["silu"], False), device)
        t_bwd = median_seconds(lambda: pair.scan_bwd(dout, *args, ckpt, True, GATE_IDS["silu"], False), device)
        rows.append(dict(impl=f"triton {kernel}", fwd=t_fwd, both=t_fwd + t_bwd,
                         fwd_peak=fwd_bytes / t_fwd / peak, both_peak=(fwd_bytes + bwd_bytes) / (t_fwd + t_bwd) / peak))
    leaves = {k: v.detach().requires_grad_() for k, v in ins.items() if v is not None}

    def torch_both():
        y = selective_scan_fn(**leaves, delta_softplus=True, backend="torch")
        torch.autograd.grad(y, list(leaves.values()), torch.ones_like(y))

    with torch.no_grad():
        t_fwd = median_seconds(lambda: selective_scan_fn(**leaves, delta_softplus=True, backend="torch"), device)
    t_both = median_seconds(torch_both, device)
    rows.append(dict(impl="torch backend", fwd=t_fwd, both=t_both,
                     fwd_peak=fwd_bytes / t_fwd / peak, both_peak=(fwd_bytes + bwd_bytes) / t_both / peak))
    return rows


def run(shapes: list[ScanShape], device, check_batch: int, check_dtypes: list[str],
        time_dtypes: list[str]) -> tuple[str, bool]:
    peak = copy_bandwidth(device, 2**28 if device.type == "cuda" else 2**20)
    lines = [f"Copy bandwidth (read + write): {peak / 1e9:.0f} GB/s", "",
             "| shape | kernel | " + " | ".join(f"rel err {d}" for d in check_dtypes) + " |",
             "|" + "---|" * (2 + len(check_dtypes))]
    ok = True
    for s in shapes:
        for kernel in KERNELS:
            errors = [check(s, kernel, d, device, check_batch) for d in check_dtypes]
            ok &= all(e <= LIMITS[d] for e, d in zip(errors, check_dtypes))
            marks = [f"{e:.1e}" + ("" if e <= LIMITS[d] else " FAIL") for e, d in zip(errors, check_dtypes)]
            lines.append(f"| {s.name} | {kernel} | " + " | ".join(marks) + " |")
    lines += ["", f"Limits: {LIMITS} (float64 reference on batch {check_batch}; the max over output and gradients)", ""]
    for dtype in time_dtypes:
        lines += [f"Time, {dtype} activations (ms; fraction of copy bandwidth at least traffic):", "",
                  "| shape | batch | impl | fwd ms | fwd % peak | fwd+bwd ms | fwd+bwd % peak | fwd+bwd vs torch |",
                  "|" + "---|" * 8]
        for s in shapes:
            rows = speed(s, dtype, device, peak)
            base = rows[-1]["both"]
            for r in rows:
                lines.append(f"| {s.name} | {s.batch} | {r['impl']} | {r['fwd'] * 1e3:.3f} | {r['fwd_peak']:.0%} | "
                             f"{r['both'] * 1e3:.3f} | {r['both_peak']:.0%} | {base / r['both']:.1f}x |")
        lines.append("")
    return "\n".join(lines), ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny shapes (the CPU smoke test)")
    p.add_argument("--check-batch", type=int, default=2, help="batch of the float64 correctness checks")
    p.add_argument("--check-dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    p.add_argument("--time-dtypes", nargs="*", default=["bf16", "fp32"], choices=list(DTYPES))
    p.add_argument("--output", type=Path, default=None, help="append the tables (markdown) to this file")
    args = p.parse_args(argv)
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
        sys.exit("tools/roofline.py: no CUDA device; run on a GPU, or with TRITON_INTERPRET=1 for a smoke test in "
                 "Triton's interpreter (--quick)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    table, ok = run(QUICK if args.quick else SHAPES, device, args.check_batch, args.check_dtypes, args.time_dtypes)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (Triton interpreter)"
    header = (f"`python tools/roofline.py {' '.join(argv if argv is not None else sys.argv[1:])}` on {name}, "
              f"torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    print(f"{header}\n\n{table}")
    if args.output:
        with args.output.open("a") as f:
            f.write(f"\n{header}\n\n{table}\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
