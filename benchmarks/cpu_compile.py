"""Eager vs regional torch.compile (vimvision.compile_blocks) on CPU: compile CPU-seconds and images per second.

    TORCHINDUCTOR_COMPILE_THREADS=1 TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 python benchmarks/cpu_compile.py

Prints one markdown row per (model, mode): model, mode, eager img/s, compile CPU-s (the compiled model's first
call less one eager call, this process and its finished children, e.g. the C++ compiler) and the first call's
wall s, compiled img/s, compiled / eager. Eager and compiled calls alternate (--repeats pairs) and the ratio is
the median of the pairs' ratios, so the machine's drift between minutes cancels. One compile thread keeps
Inductor's work in this process, where its CPU time is counted; disabled caches make every run compile from
scratch. Results: benchmarks/cpu_compile.md.
"""
from __future__ import annotations

import argparse
import copy
import resource
import statistics
import time
import warnings

import timm
import torch

import vimvision  # noqa: F401  (registers the models)
from vimvision.benchmarking import measure_throughput
from vimvision.compile import compile_blocks


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["vim_tiny", "vmamba_tiny"])
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=9, help="eager/compiled pairs")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    print("| model | mode | eager img/s | compile CPU-s | compile wall s | compiled img/s | compiled / eager |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        for mode in ("infer", "train"):
            torch._dynamo.reset()
            torch.manual_seed(0)
            eager = timm.create_model(name)
            compiled = copy.deepcopy(eager)
            measure_throughput(eager, args.img_size, args.batch_size, mode, warmup=1, repeats=1)
            start_cpu = cpu_seconds()
            measure_throughput(eager, args.img_size, args.batch_size, mode, warmup=0, repeats=1)
            step_cpu = cpu_seconds() - start_cpu
            compile_blocks(compiled)
            start_cpu, start = cpu_seconds(), time.perf_counter()
            measure_throughput(compiled, args.img_size, args.batch_size, mode, warmup=0, repeats=1)
            compile_cpu, compile_wall = cpu_seconds() - start_cpu - step_cpu, time.perf_counter() - start
            pairs = [[measure_throughput(m, args.img_size, args.batch_size, mode, warmup=0, repeats=1)["img_per_s"]
                      for m in (eager, compiled)] for _ in range(args.repeats)]
            e, c = (statistics.median(p[i] for p in pairs) for i in (0, 1))
            ratio = statistics.median(pc / pe for pe, pc in pairs)
            print(f"| {name} | {mode} | {e:.1f} | {compile_cpu:.0f} | {compile_wall:.0f} | {c:.1f} | {ratio:.2f} |",
                  flush=True)

if __name__ == "__main__":
    main()
