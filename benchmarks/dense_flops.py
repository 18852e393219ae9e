"""Whole-model parameters and FLOPs of every mm config (tools/flops.py --config), next to VMamba's published ones.

    python benchmarks/dense_flops.py    # prints the table of benchmarks/dense_flops.md (progress on stderr)

Published figures: MzeroMiko/VMamba README / assets/performance.md (rounded; v0 FLOPs with the current scan
formula) and, exact, the results printed in its analyze/flops.py. Vim's dense results come without FLOPs.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from vimvision.dense.mm_flops import mm_flops

ROOT = Path(__file__).resolve().parents[1]
# config stem (3x configs share their 1x model) -> (published params M, published GFLOPs, exact analyze/flops.py)
PUBLISHED = {
    "mask_rcnn_vmamba_tiny_fpn": ("50", "271", 271_163_376_640),
    "mask_rcnn_vmamba_tiny_s2l5_fpn": ("50", "270", 270_186_480_640),
    "mask_rcnn_vmamba_small_fpn": ("70", "384 (flops.py: 348.9)", 348_921_708_640),
    "mask_rcnn_vmamba_base_fpn": ("108", "485", 485_496_108_640),
    "mask_rcnn_vmamba_tiny_v0_fpn": ("42", "286", 285_883_020_640),
    "mask_rcnn_vmamba_small_v0_fpn": ("64", "400", 400_260_276_640),
    "mask_rcnn_vmamba_base_v0_fpn": ("96", "540", 539_797_328_640),
    "upernet_vmamba_tiny_ade20k_512x512": ("62", "949", 948_780_189_696),
    "upernet_vmamba_tiny_s2l5_ade20k_512x512": ("62", "948", 947_779_848_192),
    "upernet_vmamba_small_ade20k_512x512": ("82", "1028", 1_028_404_888_464),
    "upernet_vmamba_base_ade20k_512x512": ("122", "1170", 1_170_344_288_224),
    "upernet_vmamba_small_ade20k_640x640": ("82", "1607 (flops.py)", 1_606_868_259_600),
    "upernet_vmamba_tiny_v0_ade20k_512x512": ("55", "964", None),
    "upernet_vmamba_small_v0_ade20k_512x512": ("76", "1081", None),
    "upernet_vmamba_base_v0_ade20k_512x512": ("110", "1226", None),
}


def published(stem: str) -> tuple:
    for key in sorted(PUBLISHED, key=len, reverse=True):
        if stem.startswith(key):
            return PUBLISHED[key]
    return ("-", "-", None)


def main() -> None:
    configs = sorted((ROOT / "configs").glob("mm*/*.py"))
    print("| config | input (HxW) | params M | GFLOPs (fvcore) | published params M | published GFLOPs | "
          "vs analyze/flops.py |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for config in tqdm(configs, file=sys.stderr):
        count, (h, w) = mm_flops(config)
        params, gflops, exact = published(config.stem)
        same = "-" if exact is None else "equal" if count.macs == exact else f"{count.macs / exact - 1:+.4%}"
        print(f"| {config.parent.name}/{config.stem} | {h}x{w} | {count.params / 1e6:.2f} | {count.macs / 1e9:.1f} | "
              f"{params} | {gflops} | {same} |", flush=True)


if __name__ == "__main__":
    main()
