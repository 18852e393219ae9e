"""How fast could ONNX Runtime run the scan as one ONNX ``Scan`` node? A lower bound, per scan call.

    python benchmarks/onnx_scan_probe.py [--batch 1] [--dim 384] [--length 197] [--d-state 16] [--threads 2]

Builds a Scan graph of the bare recurrence h = dA_t * h + dBu_t, y_t = sum_n h * C_t (decays and inputs
precomputed, i.e. without the softplus/exp passes a real export would add) and times it in ORT against eager's
whole fused scan op (vimvision.kernels.selective_scan_fn, numba on CPU) at vim_tiny's layer shape, alternating.
Result: benchmarks/onnx_cpu.md.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

from vimvision.kernels import selective_scan_fn


def scan_model(batch: int, dim: int, length: int, d_state: int) -> onnx.ModelProto:
    def value(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    step = [batch, dim, d_state]
    body = helper.make_graph(
        [helper.make_node("Mul", ["dA_t", "h_in"], ["decayed"]),
         helper.make_node("Add", ["decayed", "dBu_t"], ["h_out"]), helper.make_node("Mul", ["h_out", "C_t"], ["read"]),
         helper.make_node("ReduceSum", ["read", "axes"], ["y_t"], keepdims=0)],
        "step", [value("h_in", step), value("dA_t", step), value("dBu_t", step), value("C_t", [batch, 1, d_state])],
        [value("h_out", step), value("y_t", [batch, dim])], [helper.make_tensor("axes", TensorProto.INT64, [1], [2])])
    scan = helper.make_node("Scan", ["h0", "dA", "dBu", "C"], ["h_last", "y"], body=body, num_scan_inputs=3,
                            scan_input_axes=[2, 2, 1], scan_output_axes=[2])
    full = [batch, dim, length, d_state]
    graph = helper.make_graph([scan], "scan", [value("h0", step), value("dA", full), value("dBu", full),
                                               value("C", [batch, length, 1, d_state])],
                              [value("h_last", step), value("y", [batch, dim, length])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    onnx.checker.check_model(model)
    return model


def seconds(fn, repeats: int = 20) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--length", type=int, default=197)
    p.add_argument("--d-state", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pairs", type=int, default=5)
    args = p.parse_args(argv)
    B, D, L, N = args.batch, args.dim, args.length, args.d_state
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(scan_model(B, D, L, N).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = dict(h0=np.zeros((B, D, N), np.float32), dA=rng.random((B, D, L, N), dtype=np.float32),
                 dBu=rng.random((B, D, L, N), dtype=np.float32), C=rng.random((B, L, 1, N), dtype=np.float32))
    torch.set_num_threads(args.threads)
    u, delta, A = torch.randn(B, D, L), torch.randn(B, D, L), -torch.rand(D, N)
    Bm, Cm = torch.randn(B, N, L), torch.randn(B, N, L)
    pairs = [(seconds(lambda: session.run(None, feeds)),
              seconds(lambda: selective_scan_fn(u, delta, A, Bm, Cm, delta_softplus=True))) for _ in range(args.pairs)]
    ort_s, eager_s = (statistics.median(p[i] for p in pairs) for i in (0, 1))
    ratio = statistics.median(o / e for o, e in pairs)
    print(f"(B, D, L, N) = {(B, D, L, N)}, {args.threads} threads: ORT Scan, recurrence only {ort_s * 1e3:.2f} ms; "
          f"eager fused scan op {eager_s * 1e3:.2f} ms; ORT / eager time {ratio:.2f}")


if __name__ == "__main__":
    main()
