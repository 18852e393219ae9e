"""Evaluate a checkpoint (ours or an official release file) on a dataset, optionally at several resolutions.

    python tools/validate.py --model vim_small --checkpoint vim_s_midclstok_80p5acc.pth --data-dir /data/imagenet
    python tools/validate.py --model vmamba_tiny --checkpoint FILE --data-dir /data/imagenet --img-size 224 288 384
    python tools/validate.py --model vim_tiny --checkpoint output/demo/vim/model_best.pth --dataset digits \
        --model-kwargs depth=4 embed_dim=64 patch_size=4 d_state=8 num_classes=10 --img-size 16

Prints top-1 / top-5 / loss and throughput per resolution (and writes them to --results-csv).
Vim's position embedding is resampled for other resolutions; VMamba takes any size divisible by 32.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from timm.utils import ParseKwargs

from vimvision.benchmarking import write_csv
from vimvision.data import create_eval_loader
from vimvision.engine import evaluate
from vimvision.factory import create_model


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--checkpoint", default=None, help="weights file: official release, or ours (train.py output)")
    p.add_argument("--use-ema", action="store_true", help="evaluate the EMA weights of the file")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--dataset", default="", help="'' (folder), 'digits', or a timm dataset spec")
    p.add_argument("--split", default="validation")
    p.add_argument("--img-size", type=int, nargs="*", default=[None], help="one or more resolutions")
    p.add_argument("--batch-size", "-b", type=int, default=64)
    p.add_argument("--workers", "-j", type=int, default=4)
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--results-csv", type=Path, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    results = []
    for size in args.img_size:
        kwargs = dict(args.model_kwargs)
        if args.num_classes is not None:
            kwargs["num_classes"] = args.num_classes
        if args.checkpoint:
            kwargs["pretrained_cfg_overlay"] = dict(file=args.checkpoint)
        name = args.model + (".in1k_ema" if args.use_ema else "")
        model = create_model(name, size, pretrained=bool(args.checkpoint), **kwargs).to(device).eval()
        try:
            loader = create_eval_loader(args.dataset, args.data_dir, args.split, model, size, args.batch_size,
                                        args.workers)
        except ValueError as error:
            raise SystemExit(f"validate.py: {error}") from None
        start = time.perf_counter()
        metrics = evaluate(model, loader, device, torch.bfloat16 if args.amp else None)
        seconds = time.perf_counter() - start
        row = {"model": args.model, "img_size": size or "default", **{k: round(v, 4) for k, v in metrics.items()},
               "img_per_s": round(len(loader.dataset) / seconds, 1)}
        results.append(row)
        print(f"{args.model} @ {row['img_size']}: top-1 {metrics['top1']:.2f} top-5 {metrics['top5']:.2f} "
              f"loss {metrics['loss']:.4f} ({row['img_per_s']} img/s)")
    if args.results_csv:
        write_csv(results, args.results_csv)
    return results


if __name__ == "__main__":
    main()
