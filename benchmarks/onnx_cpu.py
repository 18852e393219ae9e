"""ONNX Runtime (CPU) against eager PyTorch on the same model, same inputs, same thread count.

    python benchmarks/onnx_cpu.py --models vim_tiny vmamba_tiny --batch-size 1 8 --threads 2

Exports each model as tools/export.py does (dynamic batch), then prints one markdown row per (model, batch):
export seconds, largest relative difference, eager and ORT seconds per batch (median of --repeats after one
warm-up, eager under inference_mode) and eager / ORT (above 1: ORT is faster). Results: benchmarks/onnx_cpu.md.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import timm
import torch

import vimvision  # noqa: F401  (registers the models)
from vimvision.export import export_program, onnx_session, save_onnx


def _median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["vim_tiny", "vmamba_tiny"])
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    print("| model | batch | export s | rel. diff | eager s | ORT s | eager / ORT |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model = timm.create_model(name).eval()
            start = time.perf_counter()
            path = save_onnx(export_program(model, (args.img_size, args.img_size)), Path(tmp) / f"{name}.onnx")
            export_s = time.perf_counter() - start
            session = onnx_session(path, threads=args.threads)
            for batch in args.batch_size:
                x = torch.randn(batch, 3, args.img_size, args.img_size)
                with torch.inference_mode():
                    want = model(x)
                    eager_s = _median_seconds(lambda: model(x), args.repeats)
                feed = {"image": x.numpy()}
                got = torch.from_numpy(session.run(None, feed)[0])
                ort_s = _median_seconds(lambda: session.run(None, feed), args.repeats)
                rel = float((got - want).abs().max() / want.abs().max())
                print(f"| {name} | {batch} | {export_s:.0f} | {rel:.1e} | {eager_s:.3f} | {ort_s:.3f} | "
                      f"{eager_s / ort_s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
