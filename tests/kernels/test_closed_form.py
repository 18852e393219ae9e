"""The closed-form scan (what exporters lower) against the sequential reference, and the decomposition
table: a decomposed torch.export graph holds only core ATen ops and matches eager."""
from __future__ import annotations

import pytest
import torch

from tests.kernels.scan_cases import Case, assert_scan_close, run_scan
from vimvision.kernels import decompositions, selective_scan_fn
from vimvision.kernels.selective_scan.closed_form import closed_form_scan

CASES = [
    Case(),
    Case(L=1, d_state=1, has_D=False, has_z=False, has_bias=False, softplus=False),
    Case(L=200, d_state=16, groups=2, reverse=True, gate_act="gelu"),
    Case(L=64, b_var=False, c_var=False, gate_act="sigmoid"),
    Case(L=129, d_state=1, groups=4, reverse=True, gate_act="identity", dtype=torch.float64),
    Case(L=50, dtype=torch.bfloat16),
]


def _closed(**kw):
    ret_last = kw.pop("return_last_state")
    out, states = closed_form_scan(**kw)
    return (out, states[:, :, -1]) if ret_last else out


@pytest.mark.parametrize("case", CASES, ids=str)
def test_closed_form_matches_reference(case):
    ins = case.inputs()
    want = run_scan(selective_scan_fn, ins, case, backend="reference")
    got = run_scan(_closed, ins, case, grad_out=want[3])
    assert_scan_close(got, want, case.dtype)


def test_long_sequence_stays_finite_and_exact():
    case = Case(batch=1, dim=2, L=16384, d_state=2)
    ins = case.inputs()
    want = selective_scan_fn(**ins, delta_softplus=True, backend="reference")
    got, _ = closed_form_scan(**ins, delta_softplus=True)
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
