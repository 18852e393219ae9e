"""Parameters and FLOPs of any registered model (ours or timm's), or of a whole mmdet/mmseg model, in both
conventions.

    python tools/flops.py --model vmamba_tiny
    python tools/flops.py --model vim_small deit_small_patch16_224 --img-size 224
    python tools/flops.py --config configs/mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py \
        configs/mmseg/upernet_vmamba_tiny_ade20k_512x512_160k.py

fvcore counts one FLOP per multiply-add (what VMamba and timm publish as FLOPs / GMACs); torch's
counter counts two. The selective scan is counted with the published 9·B·L·D·N (+ B·D·L for D and z).
A config's model is counted as VMamba's papers count it (vimvision.dense.mm_flops): detectors at
1280x800, segmentors at 512x2048 (640x2560 for 640 crops) unless --input-shape says otherwise; this
needs mmdet / mmsegmentation with mmcv's ops (the [mm] extra and tools/install_mmcv.py).
"""
from __future__ import annotations

import argparse

import timm
from timm.utils import ParseKwargs

from vimvision.flops import count_flops


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", nargs="+", help="registered model names")
    what.add_argument("--config", nargs="+", help="mmdet / mmseg config files (whole detector or segmentor)")
    p.add_argument("--img-size", type=int, default=224, help="input size of --model")
    p.add_argument("--input-shape", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="input of --config (default: the official counting size)")
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V",
                   help="constructor overrides of --model")
    args = p.parse_args(argv)
    if args.config and args.model_kwargs:
        p.error("--model-kwargs applies to --model; a config sets its model itself")
    if args.model and args.input_shape:
        p.error("--input-shape applies to --config; use --img-size with --model")
    if args.config:
        from vimvision.dense.mm_flops import mm_flops

        for config in args.config:
            try:
                count, (h, w) = mm_flops(config, args.input_shape)
            except (ValueError, ImportError, FileNotFoundError) as e:
                p.exit(2, f"flops.py: {e}\n")
            print(f"{config} @ {h}x{w}: {count}")
        return
    for name in args.model:
        model = timm.create_model(name, **args.model_kwargs)
        print(f"{name} @ {args.img_size}: {count_flops(model, (3, args.img_size, args.img_size))}")


if __name__ == "__main__":
    main()
