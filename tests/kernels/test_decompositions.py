"""The stepped scan (what exporters lower) against the sequential reference, every decomposition
against its op's Triton kernel (the interpreter on CPU), and a decomposed torch.export graph: only core
ATen ops, matching eager."""
from __future__ import annotations

import pytest
import torch

from tests.kernels.scan_cases import Case, assert_scan_close, run_scan
from vimvision.kernels import decompositions, selective_scan_fn
from vimvision.kernels.selective_scan.stepped import stepped_scan

CASES = [
    Case(),
    Case(L=1, d_state=1, has_D=False, has_z=False, has_bias=False, softplus=False),
    Case(L=200, d_state=16, groups=2, reverse=True, gate_act="gelu"),
    Case(L=64, b_var=False, c_var=False, gate_act="sigmoid"),
    Case(L=129, d_state=1, groups=4, reverse=True, gate_act="identity", dtype=torch.float64),
    Case(L=50, dtype=torch.bfloat16),
]


def _stepped(**kw):
    ret_last = kw.pop("return_last_state")
    out, states = stepped_scan(**kw)
    return (out, states[:, :, -1]) if ret_last else out


@pytest.mark.parametrize("case", CASES, ids=str)
def test_stepped_scan_matches_reference(case):
    ins = case.inputs()
    want = run_scan(selective_scan_fn, ins, case, backend="reference")
    got = run_scan(_stepped, ins, case, grad_out=want[3])
    assert_scan_close(got, want, case.dtype)


def test_long_sequence_stays_finite_and_exact():
    case = Case(batch=1, dim=2, L=16384, d_state=2)
    ins = case.inputs()
    want = selective_scan_fn(**ins, delta_softplus=True, backend="reference")
    got, _ = stepped_scan(**ins, delta_softplus=True)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("reverse", [False, True])
def test_decomposition_returns_the_triton_checkpoints(reverse):
    case = Case(L=70, reverse=reverse)
    ins = case.inputs()
    args = [ins[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    flags = (True, "silu", reverse, "triton", "sequential")
    want = torch.ops.vimvision.selective_scan(*args, *flags)
    got = decompositions()[torch.ops.vimvision.selective_scan.default](*args, *flags)
    assert got[1].shape == want[1].shape
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _attention_args():
    q, k, v = (_randn(3, 20, 16, seed=i) for i in range(3))
    cf, cb = (-torch.rand(3, 20, generator=torch.Generator().manual_seed(i)).cumsum(-1) for i in (3, 4))
    return q, k, v, cf, cb, 0.25


OTHER_OPS = {  # case: (op, its arguments)
    "causal_conv1d": ("causal_conv1d", lambda: (_randn(2, 8, 19), _randn(8, 4, seed=1), _randn(8, seed=2), True,
                                                True)),
    "causal_conv1d_no_bias": ("causal_conv1d", lambda: (_randn(2, 8, 19), _randn(8, 4, seed=1), None, False, False)),
    # rows of variance near eps, so that the normalization's eps shows in every output
    "add_norm_rms": ("add_norm", lambda: (3e-3 * _randn(6, 32), 3e-3 * _randn(6, 32, seed=1), _randn(32, seed=2),
                                          _randn(32, seed=3), 1e-5, True, True)),
    "layer_norm_first": ("add_norm", lambda: (1e-3 * _randn(6, 32), None, _randn(32, seed=2), None, 1e-6, False,
                                              False)),
    "cross_scan": ("cross_scan", lambda: (_randn(2, 8, 3, 5), 4)),
    "cross_scan_2_routes": ("cross_scan", lambda: (_randn(2, 8, 3, 5), 2)),
    "cross_merge": ("cross_merge", lambda: (_randn(2, 4, 8, 3, 5),)),
    "forgetting_attention": ("forgetting_attention", _attention_args),
}


@pytest.mark.parametrize("case", OTHER_OPS)
def test_decomposition_matches_the_op(case):
    name, make_args = OTHER_OPS[case]
    op, args = getattr(torch.ops.vimvision, name), make_args()
    want, got = op(*args), decompositions()[op.default](*args)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,kwargs", [("vim_tiny", dict(depth=2, img_size=64)),
                                         ("vmamba_tiny", dict(depths=(1, 1, 1, 1)))])
def test_decomposed_export_is_core_aten_and_matches_eager(name, kwargs):
    import timm

    model = timm.create_model(name, **kwargs).eval()
    x = torch.randn(2, 3, 64, 64)
    ep = torch.export.export(model, (x,)).run_decompositions(decompositions())
    calls = [n.target for n in ep.graph.nodes if n.op == "call_function"]
    compute = [t for t in calls if isinstance(t, torch._ops.OpOverload) and not t.name().startswith("aten::_assert")]
    not_core = {str(t) for t in compute if torch.Tag.core not in t.tags}  # export's own shape asserts aside
    assert not not_core, f"ops left that are not core ATen: {sorted(not_core)}"
    with torch.no_grad():
        torch.testing.assert_close(ep.module()(x), model(x), rtol=1e-4, atol=1e-4)
