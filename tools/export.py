"""Export a Vim or VMamba model to ONNX, a core-ATen torch.export program or an AOTInductor package, batch dynamic.

    python tools/export.py --model vim_small --checkpoint vim_s_midclstok_80p5acc.pth --format onnx
    python tools/export.py --model vmamba_tiny --checkpoint vssm1_tiny_0230s_ckpt_epoch_264.pth --format pt2 \
        --img-size 512 --output vmamba_tiny_512.pt2

The file needs neither vimvision nor Triton to run: ONNX Runtime runs the .onnx (opset 20), plain torch
runs the .pt2 (``torch.export.load(path).module()(x)``) and the AOTInductor package, compiled C++ for this
machine's CPU (``torch._inductor.aoti_load_package(path)(x)``; minutes to build). ``--check`` runs the file at
two batch sizes and compares it with the eager model (exit status 1 if the relative difference exceeds
--tolerance).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from timm.utils import ParseKwargs

from vimvision.export import ONNX_OPSET, example_input, export_program, onnx_session, save_onnx
from vimvision.factory import create_model

SUFFIX = {"onnx": ".onnx", "pt2": ".pt2", "aoti": ".aoti.pt2"}


def _relative_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))


def check(model: torch.nn.Module, path: Path, fmt: str, img_size: tuple[int, int], batches: tuple[int, ...]
          ) -> float:
    """The largest relative difference between the exported file and the eager model over `batches`."""
    if fmt == "onnx":
        session = onnx_session(path)
        run = lambda x: torch.from_numpy(session.run(None, {"image": x.numpy()})[0])  # noqa: E731
    elif fmt == "aoti":
        run = torch._inductor.aoti_load_package(str(path))
    else:
        run = torch.export.load(str(path)).module()
    worst = 0.0
    for batch in batches:
        x = example_input(model, img_size, batch)
        with torch.no_grad():
            worst = max(worst, _relative_difference(run(x), model(x)))
    return worst


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a registered Vim or VMamba name")
    p.add_argument("--checkpoint", default=None, help="weights file: official release, or ours (train.py output)")
    p.add_argument("--format", choices=SUFFIX, default="onnx")
    p.add_argument("--img-size", type=int, nargs="+", default=None, metavar="SIZE",
                   help="H [W] of the input (default: the model's pretrained input size)")
    p.add_argument("--dynamic-batch", action=argparse.BooleanOptionalAction, default=True,
                   help="a symbolic batch dimension (default); --no-dynamic-batch fixes it to 2")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V")
    p.add_argument("--opset", type=int, default=ONNX_OPSET)
    p.add_argument("--output", type=Path, default=None, help="default: MODEL.onnx / MODEL.pt2 / MODEL.aoti.pt2 here")
    p.add_argument("--check", action="store_true", help="run the file and compare it with the eager model")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest relative difference --check accepts")
    args = p.parse_args(argv)
    if args.img_size is not None and len(args.img_size) > 2:
        p.error(f"--img-size takes H or H W, got {len(args.img_size)} values: {args.img_size}")

    kwargs = dict(args.model_kwargs)
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.checkpoint:
        kwargs["pretrained_cfg_overlay"] = dict(file=args.checkpoint)
    size = None if args.img_size is None else args.img_size[0] if len(args.img_size) == 1 else tuple(args.img_size)
    try:
        model = create_model(args.model, size, pretrained=bool(args.checkpoint), **kwargs).eval()
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        raise SystemExit(f"export.py: {error}") from None
    img_size = (args.img_size[0], args.img_size[-1]) if args.img_size else tuple(model.pretrained_cfg["input_size"][1:])
    output = args.output or Path(args.model + SUFFIX[args.format])

    start = time.perf_counter()
    try:
        program = export_program(model, img_size, args.dynamic_batch)
    except ValueError as error:  # the model's own input checks (e.g. a size VMamba cannot take)
        raise SystemExit(f"export.py: {error}") from None
    if args.format == "onnx":
        save_onnx(program, output, args.opset, "logits" if model.num_classes else "features")
    elif args.format == "aoti":
        torch._inductor.aoti_compile_and_package(program, package_path=str(output))
    else:
        torch.export.save(program, str(output))
    print(f"{args.model} @ {img_size[0]}x{img_size[1]}: wrote {output} ({output.stat().st_size / 2**20:.1f} MiB, "
          f"{'dynamic' if args.dynamic_batch else 'fixed'} batch) in {time.perf_counter() - start:.0f} s")
    if args.check:
        batches = (1, 3) if args.dynamic_batch else (2,)
        worst = check(model, output, args.format, img_size, batches)
        print(f"check: largest relative difference to eager over batches {batches}: {worst:.2e}")
        if worst > args.tolerance:
            print(f"check failed: {worst:.2e} > --tolerance {args.tolerance:g}", file=sys.stderr)
            raise SystemExit(1)
    return output


if __name__ == "__main__":
    main()
