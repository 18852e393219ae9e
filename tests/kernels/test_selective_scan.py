"""The selective scan's backends against the sequential reference: outputs, last state, every gradient."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.helpers import DEVICE
from tests.kernels.scan_cases import Case, assert_scan_close, run_scan
from vimvision.kernels import selective_scan_fn
from vimvision.kernels.selective_scan import KERNELS
from vimvision.kernels.selective_scan.activations import GATE_IDS
from vimvision.kernels.selective_scan.op import kernel_pair

F32, BF16, F16 = torch.float32, torch.bfloat16, torch.float16

TORCH_CASES = [
    Case(),
    Case(L=1),
    Case(L=130, d_state=16, groups=2),
    Case(L=64, d_state=1, groups=4, has_z=False),
    Case(d_state=16, b_var=False, c_var=False, has_bias=False),
    Case(b_var=False, groups=2, has_D=False, softplus=False),
    Case(c_var=False, gate_act="gelu"),
    Case(gate_act="sigmoid", d_state=5),
    Case(gate_act="identity", dim=6, groups=3),
    Case(d_state=64, L=20),
    Case(dtype=BF16, L=50, d_state=16),
    Case(dtype=F16, L=50, d_state=1, groups=2),
    Case(reverse=True, L=40, groups=2),
]

# interpreter-sized: odd L, L beyond one checkpoint chunk, d_state 1/4/16, groups 1 and >1
TRITON_CASES = [
    Case(L=37),
    Case(L=67, d_state=1, groups=2, has_z=False),
    Case(L=19, d_state=16, groups=2, has_bias=False, softplus=False),
    Case(L=23, b_var=False, c_var=False, has_D=False),
    Case(L=21, b_var=False, d_state=3, gate_act="gelu"),
    Case(L=17, gate_act="sigmoid", has_bias=False),
    Case(L=17, gate_act="identity", dim=12, groups=3),
    Case(L=29, dtype=BF16, d_state=16),
    Case(L=29, dtype=F16, d_state=1, groups=2),
    Case(L=9, d_state=64, dim=4),
    Case(L=67, reverse=True, d_state=4, groups=2),
    Case(L=21, reverse=True, b_var=False, d_state=1),
]


def _id(c: Case) -> str:
    default = Case()
    changed = [f.name for f in dataclasses.fields(c) if getattr(c, f.name) != getattr(default, f.name)]
    return "-".join(f"{name}={getattr(c, name)}" for name in changed) or "default"


def _compare(case: Case, backend: str, **kw) -> None:
    ins = case.inputs(DEVICE)
    want = run_scan(selective_scan_fn, ins, case, backend="reference")
    got = run_scan(selective_scan_fn, ins, case, grad_out=want[3], backend=backend, **kw)
    assert got[0].dtype == case.dtype and got[1].dtype == torch.float32
    assert_scan_close(got, want, case.dtype)


@pytest.mark.parametrize("case", TORCH_CASES, ids=_id)
def test_torch_backend_matches_reference(case):
    _compare(case, "torch")


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", TRITON_CASES, ids=_id)
def test_triton_backend_matches_reference(case, kernel):
    _compare(case, "triton", kernel=kernel)


def _launch_args(ins: dict) -> list:
    return [ins[k] for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("block_d,chunk,reverse", [(4, 8, False), (2, 16, True)])
def test_triton_kernel_blocks_and_chunks(kernel, block_d, chunk, reverse):
    """Several channel blocks per group and several checkpoint chunks (tiles), launched directly."""
    case = Case(L=27, dim=12, groups=2, d_state=4, reverse=reverse)
    ins = case.inputs(DEVICE)
    args = _launch_args(ins)
    pair, blocks = kernel_pair(kernel), dict(block_d=block_d, chunk=chunk)
    out, ckpt = pair.scan_fwd(*args, True, GATE_IDS["silu"], reverse, **blocks)
    want = run_scan(selective_scan_fn, ins, case, backend="reference")
    torch.testing.assert_close(out, want[0], rtol=6e-4, atol=2e-3)
    torch.testing.assert_close(ckpt[:, :, -1], want[1], rtol=6e-4, atol=2e-3)
    grads = pair.scan_bwd(want[3], *args, ckpt, True, GATE_IDS["silu"], reverse, **blocks)
    for name, g in zip(("u", "delta", "A", "B", "C", "D", "z", "delta_bias"), grads):
        torch.testing.assert_close(g, want[2][name], rtol=1e-3, atol=5e-3, msg=lambda m, n=name: f"{n}: {m}")


def test_kernels_share_checkpoints():
    """Both forwards write the same per-tile states, so either backward can follow either forward."""
    case = Case(L=45, dim=8, groups=2, d_state=3)
    ins = case.inputs(DEVICE)
    args = _launch_args(ins)
    runs = {k: kernel_pair(k).scan_fwd(*args, True, GATE_IDS["silu"], False, chunk=16) for k in KERNELS}
    (out_s, ckpt_s), (out_t, ckpt_t) = runs["sequential"], runs["tiled"]
    assert ckpt_s.shape == ckpt_t.shape == (case.batch, case.dim, 3, case.d_state)
    torch.testing.assert_close(ckpt_t, ckpt_s, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out_t, out_s, rtol=1e-5, atol=1e-5)
    dout = torch.randn_like(out_s)
    crossed = kernel_pair("tiled").scan_bwd(dout, *args, ckpt_s, True, GATE_IDS["silu"], False, chunk=16)
    native = kernel_pair("sequential").scan_bwd(dout, *args, ckpt_s, True, GATE_IDS["silu"], False, chunk=16)
    for a, b in zip(crossed, native):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_unknown_kernel_is_named(monkeypatch):
    ins = Case(L=5).inputs(DEVICE)
    with pytest.raises(ValueError, match="kernel has 'blocked'.*VIMVISION_SCAN_KERNEL.*sequential"):
        selective_scan_fn(**ins, backend="triton", kernel="blocked")
    monkeypatch.setenv("VIMVISION_SCAN_KERNEL", "parallel")
    with pytest.raises(ValueError, match="kernel has 'parallel'.*VIMVISION_SCAN_KERNEL.*sequential"):
        selective_scan_fn(**ins, backend="triton")


def test_kernel_argument_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("VIMVISION_SCAN_KERNEL", "parallel")
    ins = Case(L=5).inputs(DEVICE)
    selective_scan_fn(**ins, backend="triton", kernel="tiled")


@pytest.mark.parametrize("backend", ["reference", "torch"])  # numba: test_fused_cpu_scan.py
def test_gradcheck_float64(backend):
    case = Case(batch=1, dim=4, L=7, d_state=2, groups=2, dtype=torch.float64)
    ins = case.inputs()
    names = [k for k, v in ins.items() if v is not None]

    def f(*tensors):
        kw = dict(zip(names, tensors))
        return selective_scan_fn(**kw, delta_softplus=True, backend=backend)

    assert torch.autograd.gradcheck(f, [ins[k].requires_grad_() for k in names], eps=1e-6, atol=1e-6)


def test_reverse_is_the_flipped_scan():
    """reverse=True equals flip(scan(flip(inputs))) on the reference itself (the definition)."""
    case = Case(L=15)
    ins = case.inputs()
    flipped = {k: (v.flip(-1) if v is not None and v.dim() >= 3 else v) for k, v in ins.items()}
    out = selective_scan_fn(**ins, delta_softplus=True, reverse=True, backend="torch")
    ref = selective_scan_fn(**flipped, delta_softplus=True, backend="reference").flip(-1)
    torch.testing.assert_close(out, ref, rtol=6e-4, atol=2e-3)


def test_three_dim_B_C_mean_one_group():
    case = Case(groups=1)
    ins = case.inputs()
    three = dict(ins, B=ins["B"][:, 0], C=ins["C"][:, 0])
    got = run_scan(selective_scan_fn, three, case, backend="torch")
    want = run_scan(selective_scan_fn, ins, case, grad_out=got[3], backend="reference")
    assert got[2]["B"].shape == three["B"].shape
    torch.testing.assert_close(got[0], want[0], rtol=6e-4, atol=2e-3)
    torch.testing.assert_close(got[2]["B"], want[2]["B"][:, 0], rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("backend,L,kernel",
                         [("torch", 16384, None), ("triton", 1024, "sequential"), ("triton", 384, "tiled")])
def test_long_sequence_and_large_delta_stay_finite(backend, L, kernel, monkeypatch):
    """No NaN/inf when decays underflow to zero (large delta) over long sequences (the Triton kernels over many
    checkpoint chunks and tiles: 1024 steps and 6 tiles keep the interpreter's run short)."""
    if kernel:
        monkeypatch.setenv("VIMVISION_SCAN_KERNEL", kernel)
    case = Case(batch=1, dim=4, L=L, d_state=16, has_z=True)
    ins = case.inputs(DEVICE)
    ins["delta"] = ins["delta"] * 40 + 5  # exp(dt * A) underflows for most steps
    got = run_scan(selective_scan_fn, ins, case, backend=backend)
    assert all(torch.isfinite(t).all() for t in (got[0], got[1], *got[2].values()))
    ref_out = selective_scan_fn(**{k: v for k, v in ins.items()}, delta_softplus=True, backend="reference")
    torch.testing.assert_close(got[0], ref_out, rtol=6e-4, atol=2e-3)


def test_no_gradient_flows_through_last_state():
    case = Case()
    ins = {k: v.requires_grad_() for k, v in case.inputs().items() if v is not None}
    out, last = selective_scan_fn(**ins, delta_softplus=True, return_last_state=True, backend="torch")
    (g,) = torch.autograd.grad(out.sum() + last.sum(), [ins["u"]])  # would differ if last carried gradient
    (g2,) = torch.autograd.grad(selective_scan_fn(**ins, delta_softplus=True, backend="torch").sum(), [ins["u"]])
    torch.testing.assert_close(g, g2)


@pytest.mark.parametrize("L", [1, 30])
def test_outputs_never_alias_reused_scratch(L):
    """The torch backend reuses scratch buffers across calls; results must not change afterwards."""
    case = Case(L=L, has_D=False, has_z=False, d_state=1)
    first = run_scan(selective_scan_fn, case.inputs(seed=0), case, backend="torch")
    kept = [first[0].clone(), first[1].clone()] + [g.clone() for g in first[2].values()]
    run_scan(selective_scan_fn, case.inputs(seed=1), case, backend="torch")
    for before, after in zip(kept, [first[0], first[1], *first[2].values()]):
        assert torch.equal(before, after)
