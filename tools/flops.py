"""Parameters and FLOPs of any registered model (ours or timm's), in both conventions.

    python tools/flops.py --model vmamba_tiny
    python tools/flops.py --model vim_small deit_small_patch16_224 --img-size 224

fvcore counts one FLOP per multiply-add (what VMamba and timm publish as FLOPs / GMACs); torch's
counter counts two. The selective scan is counted with the published 9·B·L·D·N (+ B·D·L for D and z).
"""
from __future__ import annotations

import argparse

import timm
from timm.utils import ParseKwargs

from vimvision.flops import count_flops


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="+", required=True, help="registered model names")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V",
                   help="constructor overrides")
    args = p.parse_args(argv)
    for name in args.model:
        model = timm.create_model(name, **args.model_kwargs)
        print(f"{name} @ {args.img_size}: {count_flops(model, (3, args.img_size, args.img_size))}")


if __name__ == "__main__":
    main()
