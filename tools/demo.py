"""The README's main job: train and evaluate a small Vim and a small VMamba on the embedded digits
dataset (scikit-learn's 8x8 handwritten digits, upscaled; no download) on the CPU, then report test
accuracy, parameters, FLOPs and throughput. Curves land in output/demo/<model>/curves.png.

    python tools/demo.py              # the full demo (a few minutes on 2 CPU cores)
    python tools/demo.py --epochs 2   # a quick look
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools import train  # noqa: E402
from vimvision.flops import count_flops  # noqa: E402

CONFIGS = [ROOT / "configs" / "demo_vim.yaml", ROOT / "configs" / "demo_vmamba.yaml"]


@torch.no_grad()
def throughput(model: torch.nn.Module, size: int, batch: int = 64, repeats: int = 3) -> float:
    model.eval()
    x = torch.randn(batch, 3, size, size)
    model(x)
    start = time.perf_counter()
    for _ in range(repeats):
        model(x)
    return batch * repeats / (time.perf_counter() - start)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="override the recipes' epochs")
    p.add_argument("--output", default="output/demo")
    args = p.parse_args(argv)
    reports = []
    for config in CONFIGS:
        extra = ["--output", args.output] + (["--epochs", str(args.epochs)] if args.epochs else [])
        result = train.main(["--config", str(config), *extra])
        targs = train.parse_args(["--config", str(config), *extra])
        model = train.build_model(targs)
        size = targs.img_size
        count = count_flops(model, (3, size, size))
        reports.append(dict(model=targs.model, accuracy=result["eval_top1"], count=count,
                            img_per_s=throughput(model, size), curves=Path(result["output"]) / "curves.png"))
    print("\nDigits test set (360 held-out images), trained from scratch on this machine:")
    for r in reports:
        print(f"  {r['model']:12s} test top-1 {r['accuracy']:.2f} %  | {r['count']} | "
              f"inference {r['img_per_s']:.0f} img/s | curves: {r['curves']}")
    return reports


if __name__ == "__main__":
    main()
