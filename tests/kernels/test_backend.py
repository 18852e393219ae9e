"""The backend word: one resolver, the same error from every op and layer, auto by device."""
from __future__ import annotations

import re

import pytest
import torch

from vimvision import kernels
from vimvision.kernels import BACKENDS, resolve_backend
from vimvision.layers import SS2D, BiMambaMixer, ForgettingAttention


def _calls(backend: str) -> dict:
    """Every public op on small valid CPU inputs, with the given backend."""
    x3, w = torch.randn(1, 4, 6), torch.randn(4, 3)
    q, gates = torch.randn(1, 2, 6, 16), torch.zeros(1, 2, 6)
    A, BC = -torch.ones(4, 2), torch.randn(1, 2, 6)
    return {
        "selective_scan_fn": lambda: kernels.selective_scan_fn(x3, x3, A, BC, BC, backend=backend),
        "causal_conv1d_fn": lambda: kernels.causal_conv1d_fn(x3, w, backend=backend),
        "add_norm_fn": lambda: kernels.add_norm_fn(x3, None, torch.ones(6), None, 1e-5, backend=backend),
        "cross_scan_fn": lambda: kernels.cross_scan_fn(torch.randn(1, 4, 2, 3), backend),
        "cross_merge_fn": lambda: kernels.cross_merge_fn(torch.randn(1, 4, 4, 2, 3), backend),
        "forgetting_attention_fn": lambda: kernels.forgetting_attention_fn(q, q, q, gates, gates, backend=backend),
    }


def _message(op: str, arg: str, word: str) -> str:
    return re.escape(f"{op}: {arg} has {word!r}, expected one of {BACKENDS}")


@pytest.mark.parametrize("op", list(_calls("auto")))
def test_every_op_rejects_a_bad_word_the_same_way(op):
    with pytest.raises(ValueError, match="^" + _message(op, "backend", "cuda") + "$"):
        _calls("cuda")[op]()


@pytest.mark.parametrize("op", list(_calls("auto")))
def test_every_op_runs_every_word_on_cpu(op):
    for backend in ("auto", "numba", "torch", "reference"):
        _calls(backend)[op]()


@pytest.mark.parametrize("layer", [lambda b: BiMambaMixer(8, kernel_backend=b), lambda b: SS2D(8, kernel_backend=b),
                                   lambda b: ForgettingAttention(16, 2, kernel_backend=b)])
def test_layers_reject_a_bad_word_when_built(layer):
    with pytest.raises(ValueError, match=r"^\w+: kernel_backend has 'gpu', expected one of"):
        layer("gpu")


def test_auto_picks_torch_on_cpu_even_under_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert resolve_backend("auto", torch.zeros(1), "op") == "torch"
    assert resolve_backend("triton", torch.zeros(1), "op") == "triton"
    assert resolve_backend("reference", torch.zeros(1), "op") == "reference"


def test_triton_on_cpu_without_the_interpreter_names_the_device(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match=r"^op: backend 'triton' needs CUDA tensors .*device cpu$"):
        resolve_backend("triton", torch.zeros(1), "op")
    with pytest.raises(ValueError, match=r"^add_norm_fn: backend 'triton' needs CUDA tensors"):
        _calls("triton")["add_norm_fn"]()
