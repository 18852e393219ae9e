"""The numba backend (fused CPU kernels) against the sequential reference and the Triton kernels' checkpoints."""
from __future__ import annotations

import pytest
import torch

from tests.kernels.scan_cases import Case, assert_scan_close, run_scan
from tests.kernels.test_selective_scan import TORCH_CASES, TRITON_CASES, _id
from vimvision.kernels import selective_scan_fn
from vimvision.kernels.backend import resolve_backend
from vimvision.kernels.selective_scan.activations import GATE_IDS
from vimvision.kernels.selective_scan.op import kernel_pair

pytest.importorskip("numba", reason="the numba backend needs numba (a dependency of vimvision)")

# every feature and dtype of the shared cases, plus channel blocks: dim 192 in 2 groups is 3 blocks of 32 per
# group (the var B/C gradients sum over blocks), dim 128 is 2 blocks of 64 with fixed B/C, L beyond one chunk
CASES = list({_id(c): c for c in TORCH_CASES + TRITON_CASES}.values()) + [
    Case(dim=192, groups=2, L=70, d_state=3),
    Case(dim=128, L=150, b_var=False, c_var=False, reverse=True, gate_act="gelu"),
    Case(dim=96, L=65, groups=3, d_state=1, dtype=torch.bfloat16, has_z=False),
]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_numba_backend_matches_reference(case):
    ins = case.inputs()
    want = run_scan(selective_scan_fn, ins, case, backend="reference")
    got = run_scan(selective_scan_fn, ins, case, grad_out=want[3], backend="numba")
    assert got[0].dtype == case.dtype and got[1].dtype == torch.float32
    assert_scan_close(got, want, case.dtype)


def test_gradcheck_float64():
    case = Case(batch=1, dim=4, L=7, d_state=2, groups=2, dtype=torch.float64)
    ins = case.inputs()
    names = [k for k, v in ins.items() if v is not None]

    def f(*tensors):
        return selective_scan_fn(**dict(zip(names, tensors)), delta_softplus=True, backend="numba")

    assert torch.autograd.gradcheck(f, [ins[k].requires_grad_() for k in names], eps=1e-6, atol=1e-6)


def test_long_sequence_with_underflowing_decays_stays_finite():
    """L = 16384 (256 checkpoint chunks) with exp(dt * A) underflowing at most steps."""
    case = Case(batch=1, dim=4, L=16384, d_state=16)
    ins = case.inputs()
    ins["delta"] = ins["delta"] * 40 + 5
    got = run_scan(selective_scan_fn, ins, case, backend="numba")
    assert all(torch.isfinite(t).all() for t in (got[0], got[1], *got[2].values()))
    want = run_scan(selective_scan_fn, ins, case, grad_out=got[3], backend="torch")
    assert_scan_close(got, want, torch.float32)


def test_non_contiguous_inputs():
    """Views as the layers pass them: (batch, L, dim) storage seen as (batch, dim, L), B/C sliced from a
    projection, A from a wider parameter."""
    case = Case(dim=16, L=33, d_state=4, groups=1)
    ins = case.inputs()
    views = dict(ins)
    for k in ("u", "delta", "z"):
        views[k] = ins[k].transpose(1, 2).contiguous().transpose(1, 2)
    for k in ("B", "C"):
        wide = torch.cat([ins[k], torch.randn_like(ins[k])], dim=2)
        views[k] = wide[:, :, : case.d_state]
    views["A"] = torch.cat([ins["A"], torch.zeros_like(ins["A"])], dim=1)[:, : case.d_state]
    assert not any(views[k].is_contiguous() for k in ("u", "delta", "z", "B", "C", "A"))
    got = run_scan(selective_scan_fn, views, case, backend="numba")
    want = run_scan(selective_scan_fn, ins, case, grad_out=got[3], backend="reference")
    assert_scan_close(got, want, torch.float32)


def test_inputs_stay_resizable():
    """FSDP frees an unsharded parameter (D, delta_bias) by resizing its storage to zero after the step."""
    case = Case(L=9)
    ins = case.inputs()
    params = {k: torch.nn.Parameter(ins[k]) for k in ("D", "delta_bias")}
    out = selective_scan_fn(**{**ins, **params}, delta_softplus=True, backend="numba")
    out.sum().backward()
    for name, t in [*params.items(), *((k, ins[k]) for k in ("u", "delta", "z"))]:
        t.untyped_storage().resize_(0)  # raises "Trying to resize storage that is not resizable" otherwise
        assert t.untyped_storage().nbytes() == 0, name


def test_checkpoints_are_the_triton_kernels(monkeypatch):
    """Same chunking and layout as the Triton kernels: either backward can follow either forward."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    pytest.importorskip("triton")
    case = Case(L=45, dim=8, groups=2, d_state=3, reverse=True)
    ins = case.inputs()
    args = [ins[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    numba_out, numba_ckpt = torch.ops.vimvision.fused_cpu_scan(*args, True, "silu", True)
    triton_out, triton_ckpt = kernel_pair("sequential").scan_fwd(*args, True, GATE_IDS["silu"], True, chunk=64)
    assert numba_ckpt.shape == triton_ckpt.shape == (case.batch, case.dim, 1, case.d_state)
    torch.testing.assert_close(numba_ckpt, triton_ckpt, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(numba_out, triton_out, rtol=1e-5, atol=1e-5)
    dout = torch.randn_like(numba_out)
    crossed = torch.ops.vimvision.fused_cpu_scan_bwd(dout, *args, triton_ckpt, True, "silu", True)
    native = kernel_pair("sequential").scan_bwd(dout, *args, triton_ckpt, True, GATE_IDS["silu"], True, chunk=64)
    for a, b in zip(crossed, native):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op", ["fused_cpu_scan", "fused_cpu_scan_bwd"])
def test_ops_pass_opcheck(op):
    """Schema and fake kernels (shapes, strides, the checkpoint count at L = 70: two chunks of 64)."""
    ins = Case(batch=2, dim=8, L=70, d_state=4, groups=2).inputs()
    args = [ins[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    if op == "fused_cpu_scan":
        torch.library.opcheck(torch.ops.vimvision.fused_cpu_scan, (*args, True, "silu", False))
    else:
        ckpt = torch.ops.vimvision.fused_cpu_scan(*args, True, "silu", False)[1]
        assert ckpt.shape == (2, 8, 2, 4)
        torch.library.opcheck(torch.ops.vimvision.fused_cpu_scan_bwd,
                              (torch.randn(2, 8, 70), *args, ckpt, True, "silu", False))


def test_auto_picks_numba_for_the_scan_on_cpu_and_torch_elsewhere():
    x = torch.zeros(1)
    assert resolve_backend("auto", x, "op", has_numba=True) == "numba"
    assert resolve_backend("auto", x, "op") == "torch"
    assert resolve_backend("numba", x, "op") == "torch"  # an op without numba kernels runs its torch path
    with pytest.raises(ValueError, match=r"^op: backend 'numba' needs CPU tensors, got a tensor on device meta$"):
        resolve_backend("numba", torch.zeros(1, device="meta"), "op", has_numba=True)
