"""Inference and training throughput (and peak GPU memory) of models against timm baselines, in one run.

    python tools/benchmark.py --models vim_tiny vmamba_tiny --img-size 224 512 --batch-size 128 --dtype float32 bfloat16
    python tools/benchmark.py --models vim_tiny --img-size 64 96 --batch-size 8 --mode infer --repeats 3   # CPU
    python tools/benchmark.py --models vim_tiny --baselines deit_tiny_patch16_224 --compile --batch-size 8

The baselines (default deit_tiny/small/base, swin_tiny, convnext_tiny) run in the same process, so every
figure is also a ratio (columns x_<baseline>: our throughput / the baseline's at the same resolution,
mode and dtype). Writes a CSV and a PNG of throughput and memory against resolution (the Vim paper's
figure 1 layout). Timing: warm-up runs, then the median of --repeats timed runs, synchronized on GPU.
--compile compiles every model's residual blocks (regional compilation, as tools/train.py --torchcompile);
the first call's seconds (the compile time) are reported.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from tabulate import tabulate
from tqdm import tqdm

from vimvision.benchmarking import measure_throughput, write_csv
from vimvision.compile import compile_blocks
from vimvision.factory import create_model

BASELINES = ["deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
             "swin_tiny_patch4_window7_224", "convnext_tiny"]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r["mode"], r["dtype"]) for r in rows})
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.8 * len(groups)), squeeze=False)
    for (mode, dtype), (ax_tp, ax_mem) in zip(groups, axes):
        for model in dict.fromkeys(r["model"] for r in rows):
            pts = [r for r in rows if r["model"] == model and r["mode"] == mode and r["dtype"] == dtype]
            style = "--" if model in BASELINES else "-"
            ax_tp.plot([r["img_size"] for r in pts], [r["img_per_s"] for r in pts], style, marker="o", label=model)
            if pts and pts[0]["peak_mem_mib"] is not None:
                ax_mem.plot([r["img_size"] for r in pts], [r["peak_mem_mib"] / 1024 for r in pts], style, marker="o",
                            label=model)
        if not ax_mem.lines:
            ax_mem.text(0.5, 0.5, "peak memory is measured on GPU only", ha="center", va="center")
        ax_tp.set(title=f"{mode} throughput ({dtype})", xlabel="resolution", ylabel="images / s", yscale="log")
        ax_mem.set(title=f"{mode} peak memory ({dtype})", xlabel="resolution", ylabel="GiB")
        ax_tp.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["vim_tiny", "vmamba_tiny"])
    p.add_argument("--baselines", nargs="*", default=BASELINES)
    p.add_argument("--img-size", type=int, nargs="+", default=[224])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--mode", nargs="+", default=["infer", "train"], choices=["infer", "train"])
    p.add_argument("--dtype", nargs="+", default=["float32"], choices=sorted(DTYPES))
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--compile", action="store_true",
                   help="torch.compile every model's residual blocks in place (vimvision.compile_blocks; Inductor)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--csv", type=Path, default=Path("output/benchmark.csv"))
    p.add_argument("--plot", type=Path, default=Path("output/benchmark.png"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    cases = [(m, s, mode, d) for s in args.img_size for m in [*args.models, *args.baselines]
             for mode in args.mode for d in args.dtype]
    for name, size, mode, dtype in tqdm(cases, desc="benchmark", unit="case"):
        model = create_model(name, size).to(device)
        if args.compile:
            compile_blocks(model)
        try:
            result = measure_throughput(model, size, args.batch_size, mode, DTYPES[dtype], args.warmup, args.repeats)
        except torch.OutOfMemoryError:
            result = {"img_per_s": 0.0, "peak_mem_mib": None, "first_call_s": None}  # OOM, as in the Vim paper
        rows.append({"model": name, "img_size": size, "mode": mode, "dtype": dtype, "batch": args.batch_size,
                     "compiled": args.compile, **result})
        del model
    for row in rows:
        for base in args.baselines:
            ref = next(r for r in rows if (r["model"], r["img_size"], r["mode"], r["dtype"]) ==
                       (base, row["img_size"], row["mode"], row["dtype"]))
            row[f"x_{base}"] = round(row["img_per_s"] / ref["img_per_s"], 3) if ref["img_per_s"] else None
    write_csv(rows, args.csv)
    plot(rows, args.plot)
    env = f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}"
    print(f"`python tools/benchmark.py {' '.join(argv or sys.argv[1:])}` ({env})\n")
    header = ["model", "res", "mode", "dtype", "img/s", "peak MiB", "first call s",
              *(f"x {b}" for b in args.baselines)]
    print(tabulate([
        [r["model"], r["img_size"], r["mode"], r["dtype"], f"{r['img_per_s']:.1f}",
         f"{r['peak_mem_mib']:.0f}" if r["peak_mem_mib"] is not None else "-",
         f"{r['first_call_s']:.1f}" if r["first_call_s"] is not None else "-", *(r[f"x_{b}"] for b in args.baselines)]
        for r in rows], headers=header, tablefmt="github", disable_numparse=True))
    return rows


if __name__ == "__main__":
    main()
