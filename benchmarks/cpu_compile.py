"""Eager vs torch.compile on CPU for small Vim and VMamba models: compile seconds and images per second.

    TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 python benchmarks/cpu_compile.py --tag now

Prints one markdown row per (model, mode): tag, model, mode, eager img/s, compile s (the compiled
model's first call), compiled img/s, compiled / eager. Results: benchmarks/cpu_compile.md.
"""
from __future__ import annotations

import argparse
import warnings

import timm
import torch

import vimvision  # noqa: F401  (registers the models)
from vimvision.benchmarking import measure_throughput

MODELS = [("vim_tiny", dict(depth=4, img_size=64)), ("vmamba_tiny", dict(depths=[1, 1, 2, 1]))]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tag", default="now", help="first column, e.g. which op.py was measured")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    for name, kwargs in MODELS:
        for mode in ("infer", "train"):
            torch._dynamo.reset()
            torch.manual_seed(0)
            model = timm.create_model(name, **kwargs)
            eager = measure_throughput(model, 64, args.batch_size, mode, warmup=1, repeats=args.repeats)
            comp = measure_throughput(torch.compile(model), 64, args.batch_size, mode, warmup=1, repeats=args.repeats)
            print(f"| {args.tag} | {name} {kwargs} | {mode} | {eager['img_per_s']:.1f} | {comp['first_call_s']:.1f} | "
                  f"{comp['img_per_s']:.1f} | {comp['img_per_s'] / eager['img_per_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
