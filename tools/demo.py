"""The README's main job: train and evaluate a small Vim and a small VMamba on the embedded digits
dataset (scikit-learn's 8x8 handwritten digits, upscaled; no download) on the CPU, then report test
accuracy, parameters, FLOPs and throughput. Curves land in output/demo/<model>/curves.png.

    python tools/demo.py              # the full demo
    python tools/demo.py --epochs 2   # a quick look
"""
from __future__ import annotations

import argparse
from pathlib import Path

from vimvision.benchmarking import measure_throughput
from vimvision.engine import build_parser, run
from vimvision.engine.options import parse_args
from vimvision.flops import count_flops
from vimvision.tasks import ClassificationTask

CONFIGS = [Path(__file__).resolve().parents[1] / "configs" / name for name in ("demo_vim.yaml", "demo_vmamba.yaml")]


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="override the recipes' epochs")
    p.add_argument("--output", default="output/demo")
    args = p.parse_args(argv)
    task = ClassificationTask()
    reports = []
    for config in CONFIGS:
        train_argv = ["--config", str(config), "--output", args.output]
        train_argv += ["--epochs", str(args.epochs)] if args.epochs else []
        result = run(task, train_argv)
        recipe = parse_args(build_parser(task, ""), train_argv, task.prog)
        model = task.build_model(recipe)
        size = recipe.img_size
        count = count_flops(model, (3, size, size))
        speed = measure_throughput(model, size, batch=64, warmup=1, repeats=3)["img_per_s"]
        reports.append(dict(model=recipe.model, accuracy=result["eval_top1"], count=count, img_per_s=speed,
                            curves=Path(result["output"]) / "curves.png"))
    print("\nDigits test set (360 held-out images), trained from scratch on this machine:")
    for r in reports:
        print(f"  {r['model']:12s} test top-1 {r['accuracy']:.2f} %  | {r['count']} | "
              f"inference {r['img_per_s']:.0f} img/s | curves: {r['curves']}")
    return reports


if __name__ == "__main__":
    main()
