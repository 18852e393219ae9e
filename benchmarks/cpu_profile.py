"""Where the CPU time of a forward (inference) and a training step goes, per kernel backend (torch.profiler).

    python benchmarks/cpu_profile.py --output benchmarks/cpu_profile.md

For vim_tiny and vmamba_tiny at 224 (batch 2 and 8) and the README demo's two models (their recipes' sizes,
batch 64), on the numba backend (what 'auto' runs on CPU) and the torch backend (the chunked PyTorch scan),
each op's self time is put in a category: the scan, conv1d / conv2d, norms, layout (copies, flips, pads,
transposes made contiguous), matmuls, elementwise math, other ops; what runs inside a vimvision op counts as
that op (the torch backend's scan is many aten ops). 'overhead' is the wall time that no op accounts for
(Python, autograd bookkeeping, dispatch). The top ops of the 224 / batch-8 runs are listed too.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import timm
import torch
from tabulate import tabulate
from torch.profiler import ProfilerActivity, profile

import vimvision  # noqa: F401  (registers the models)
from vimvision.engine.options import load_recipe

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CATEGORIES = {  # first match wins; op names as torch.profiler reports them
    "scan": ("vimvision::selective_scan", "vimvision::fused_cpu_scan", "vimvision::chunked_scan"),
    "conv": ("aten::convolution", "aten::_convolution", "aten::mkldnn_convolution", "aten::conv",
             "aten::thnn_conv", "aten::_slow_conv", "aten::convolution_backward", "vimvision::causal_conv1d"),
    "norms": ("aten::native_layer_norm", "aten::layer_norm", "aten::rsqrt", "vimvision::add_norm",
              "aten::native_layer_norm_backward", "aten::native_group_norm"),
    "layout": ("aten::copy_", "aten::clone", "aten::contiguous", "aten::flip", "aten::constant_pad_nd", "aten::cat",
               "aten::pad", "aten::_to_copy", "aten::index", "aten::repeat_interleave", "aten::roll", "aten::stack",
               "vimvision::cross_scan", "vimvision::cross_merge"),
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm"),
    "elementwise": ("aten::mul", "aten::add", "aten::sub", "aten::div", "aten::silu", "aten::exp", "aten::sigmoid",
                    "aten::softplus", "aten::gelu", "aten::neg", "aten::sum", "aten::mean", "aten::fill_",
                    "aten::zero_", "aten::where", "aten::addcmul", "aten::pow", "aten::sqrt", "aten::softmax",
                    "aten::_softmax", "aten::_log_softmax", "aten::max", "aten::clamp"),
}


def category(name: str) -> str:
    for cat, prefixes in CATEGORIES.items():
        if name.startswith(prefixes):
            return cat
    return "other ops"


def build(name: str, backend: str) -> tuple[torch.nn.Module, int]:
    """A model and its input size: a registered name at 224, or a demo recipe's model at its size."""
    if not name.endswith(".yaml"):
        return timm.create_model(name, kernel_backend=backend), 224
    recipe = load_recipe(CONFIGS / name)
    return timm.create_model(recipe["model"], kernel_backend=backend, **recipe["model_kwargs"]), recipe["img_size"]


def run_once(model: torch.nn.Module, x: torch.Tensor, mode: str) -> None:
    if mode == "infer":
        with torch.no_grad():
            model(x)
    else:
        model(x).logsumexp(-1).mean().backward()


def profile_case(model: torch.nn.Module, size: int, batch: int, mode: str, calls: int) -> tuple[dict, float, list]:
    """Seconds per category (self CPU time of the ops, plus 'overhead') per call, over `calls` calls."""
    model.train(mode == "train")
    x = torch.randn(batch, 3, size, size)
    run_once(model, x, mode)  # warm-up: numba compiles / loads its cache, scratch buffers are made
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(calls):
            run_once(model, x, mode)
        wall = time.perf_counter() - start
    times: dict = defaultdict(float)
    ops: dict = defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if e.self_cpu_time_total <= 0:
            continue
        name = _outermost_op(e)
        if not name.startswith(("aten::", "vimvision::")):
            continue
        times[category(name)] += e.self_cpu_time_total / 1e6 / calls
        ops[name][0] += int(name == e.name)
        ops[name][1] += e.self_cpu_time_total / 1e6 / calls
    wall /= calls
    times["overhead"] = max(0.0, wall - sum(times.values()))
    return times, wall, sorted(((k, n // calls, s) for k, (n, s) in ops.items()), key=lambda o: -o[2])


def _outermost_op(event) -> str:
    """A vimvision op's name for everything it runs (the torch backend's scan is many aten ops), else the event's."""
    name, parent = event.name, event.cpu_parent
    while parent is not None:
        if parent.name.startswith("vimvision::"):
            name = parent.name
        parent = parent.cpu_parent
    return name


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backends", nargs="+", default=["numba", "torch"])
    p.add_argument("--batches", nargs="+", type=int, default=[2, 8])
    p.add_argument("--top", type=int, default=10, help="ops listed for the 224 / batch-8 runs")
    p.add_argument("--calls", type=int, default=3, help="profiled calls per case (after one warm-up)")
    p.add_argument("--output", type=Path, default=None, help="write the tables (markdown) to this file")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    cases = [(name, b) for name in ("vim_tiny", "vmamba_tiny") for b in args.batches]
    cases += [(config, 64) for config in ("demo_vim.yaml", "demo_vmamba.yaml")]
    cats = list(CATEGORIES) + ["other ops", "overhead"]
    rows, tops = [], []
    for name, batch in cases:
        for backend in args.backends:
            for mode in ("infer", "train"):
                torch.manual_seed(0)
                model, res = build(name, backend)
                times, wall, ops = profile_case(model, res, batch, mode, args.calls)
                label = f"{name} {res}px b{batch}"
                rows.append([label, backend, mode, f"{wall:.3f}"] + [f"{times[c] / wall:.0%}" for c in cats])
                print(" | ".join(rows[-1]), flush=True)
                if res == 224 and batch == max(args.batches):
                    table = tabulate([(k, n, f"{s * 1e3:.1f}") for k, n, s in ops[: args.top]],
                                     headers=["op", "calls", "self ms"], tablefmt="github")
                    tops.append(f"### {label}, {backend}, {mode} ({wall:.3f} s)\n\n{table}\n")
    env = f"torch {torch.__version__}, {args.threads} threads, {time.strftime('%Y-%m-%d')}"
    text = (f"`python benchmarks/cpu_profile.py {' '.join(argv if argv is not None else sys.argv[1:])}` ({env})\n\n"
            "Share of a call's wall time by category (self CPU time of the ops; mean of --calls calls).\n\n"
            + tabulate(rows, headers=["case", "backend", "mode", "wall s"] + cats, tablefmt="github")
            + "\n\n## Top ops\n\n" + "\n".join(tops))
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
