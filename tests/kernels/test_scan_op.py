"""The scan as a library op: torch.compile, fx, fvcore's jit trace, the FLOP counter, input errors."""
from __future__ import annotations

import pytest
import torch

from tests.helpers import DEVICE
from tests.kernels.scan_cases import Case
from vimvision.kernels import scan_flops, selective_scan_fn


class ScanLayer(torch.nn.Module):
    def __init__(self, backend: str = "torch"):
        super().__init__()
        self.backend = backend

    def forward(self, u, delta, A, B, C, D, z):
        return selective_scan_fn(u, delta, A, B, C, D, z=z, delta_softplus=True, backend=self.backend)


def _args(case: Case = Case(batch=2, dim=8, L=12, d_state=4, groups=2)):
    ins = case.inputs()
    return [ins[k] for k in ("u", "delta", "A", "B", "C", "D", "z")]


def test_compiles_fullgraph_with_gradients():
    args = _args()
    eager_in = [a.clone().requires_grad_() for a in args]
    comp_in = [a.clone().requires_grad_() for a in args]
    eager = ScanLayer()(*eager_in)
    compiled = torch.compile(ScanLayer(), fullgraph=True, backend="aot_eager")(*comp_in)
    torch.testing.assert_close(compiled, eager)
    eager.square().sum().backward()
    compiled.square().sum().backward()
    for a, b in zip(comp_in, eager_in):
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("op", ["chunked_scan", "chunked_scan_bwd"])
def test_torch_backend_ops_pass_opcheck(op):
    """The torch backend's own ops: schema, fake kernels (shapes, strides: L=37 is padded to 7 x 6 inside)."""
    args = _args(Case(batch=2, dim=8, L=37, d_state=4, groups=2))
    delta_bias = torch.rand(8)
    if op == "chunked_scan":
        torch.library.opcheck(torch.ops.vimvision.chunked_scan, (*args, delta_bias, True, "silu"))
    else:
        torch.library.opcheck(torch.ops.vimvision.chunked_scan_bwd, (torch.randn(2, 8, 37), *args, delta_bias, True,
                                                                     "silu"))


@pytest.mark.parametrize("backend,op", [("torch", "chunked_scan"), ("numba", "fused_cpu_scan")])
def test_compiler_sees_the_cpu_backends_as_one_opaque_call(backend, op):
    """torch.compile traces a triton_op's body; the CPU scan inside it must stay one call (forward and
    backward graphs), not hundreds of inlined steps for Inductor."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    graphs = []

    def keep(gm, example_inputs):
        graphs.append([str(n.target) for n in gm.graph.nodes if n.op == "call_function"])
        return make_boxed_func(gm.forward)

    args = [a.requires_grad_() for a in _args(Case(batch=2, dim=8, L=37, d_state=4, groups=2))]
    compiler = aot_autograd(fw_compiler=keep, bw_compiler=keep)
    out = torch.compile(ScanLayer(backend), fullgraph=True, backend=compiler)(*args)
    out.sum().backward()
    forward, backward = graphs
    assert forward.count(f"vimvision.{op}.default") == 1
    assert backward.count(f"vimvision.{op}_bwd.default") == 1
    assert not any("addcmul" in t for t in forward + backward), forward + backward


def test_op_is_one_node_when_traced():
    args = _args()
    gm = torch.fx.experimental.proxy_tensor.make_fx(ScanLayer())(*args)
    targets = [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
    assert targets.count("vimvision.selective_scan.default") == 1, targets
    torch.testing.assert_close(gm(*args), ScanLayer()(*args))


def test_fvcore_jit_trace_sees_the_op_by_name():
    from fvcore.nn import FlopCountAnalysis

    args = tuple(_args())
    graph = str(torch.jit.trace(ScanLayer(), args, check_trace=False).graph)
    assert "vimvision::selective_scan" in graph
    analysis = FlopCountAnalysis(ScanLayer(), args)
    analysis.unsupported_ops_warnings(False)
    analysis.set_op_handle("vimvision::selective_scan", lambda inputs, outputs: 123)
    assert analysis.total() == 123


@pytest.mark.parametrize("with_D,with_z", [(True, True), (False, False)])
def test_flop_counter_counts_the_published_formula_in_flops(with_D, with_z):
    """The published count is in multiply-adds; FlopCounterMode's unit is two FLOPs per multiply-add."""
    from torch.utils.flop_counter import FlopCounterMode

    batch, dim, L, N = 2, 8, 12, 4
    ins = Case(batch=batch, dim=dim, L=L, d_state=N).inputs()
    with FlopCounterMode(display=False) as counter:
        selective_scan_fn(ins["u"], ins["delta"], ins["A"], ins["B"], ins["C"], D=ins["D"] if with_D else None,
                          z=ins["z"] if with_z else None, backend="torch")
    macs = 9 * batch * L * dim * N + (batch * dim * L if with_D else 0) + (batch * dim * L if with_z else 0)
    assert macs == scan_flops(batch, dim, L, N, with_D, with_z)
    assert counter.get_total_flops() == 2 * macs


def _bad(**changes):
    ins = Case(batch=2, dim=8, L=12, d_state=4, groups=2).inputs()
    ins.update(changes)
    return ins


@pytest.mark.parametrize(
    "changes,exc,words",
    [
        (dict(delta=torch.randn(2, 8, 11)), ValueError, ["delta", "(2, 8, 11)", "(2, 8, 12)"]),
        (dict(B=torch.randn(2, 3, 4, 12)), ValueError, ["B", "3 groups", "dividing dim=8"]),
        (dict(A=torch.randn(8, 4, dtype=torch.complex64)), TypeError, ["A", "complex"]),
        (dict(A=torch.randn(8, 4, device="meta")), ValueError, ["A", "device meta", "device of u"]),
        (dict(u=torch.randint(0, 3, (2, 8, 12))), TypeError, ["u", "torch.int64", "floating"]),
        (dict(D=torch.randn(7)), ValueError, ["D", "(7,)", "(8,)"]),
        (dict(C=torch.randn(2, 4, 4, 12)), ValueError, ["C", "4 groups", "same number of groups as B (2)"]),
        (dict(u=torch.randn(8, 12)), ValueError, ["u", "(8, 12)", "(batch, dim, L)"]),
    ],
)
@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_bad_input_names_argument_and_expectation(changes, exc, words, backend):
    with pytest.raises(exc) as info:
        selective_scan_fn(**_bad(**changes), backend=backend)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_bad_gate_backend_and_dtype_for_triton():
    with pytest.raises(ValueError, match="gate_act has 'tanh', expected one of"):
        selective_scan_fn(**_bad(), gate_act="tanh")
    with pytest.raises(ValueError, match="backend has 'cuda', expected one of"):
        selective_scan_fn(**_bad(), backend="cuda")
    ins = {k: (v.double().to(DEVICE) if v is not None else None) for k, v in _bad().items()}
    with pytest.raises(TypeError, match="u has dtype torch.float64, expected one of"):
        selective_scan_fn(**ins, backend="triton")
