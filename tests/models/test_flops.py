"""FLOP counts as other tools see them: plain fvcore (timm's benchmark.py), torch's FlopCounterMode and
forward hooks must count our ops and modules without any set-up of ours beyond ``import vimvision``."""
import logging
import warnings

import pytest
import timm
import torch
from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis
from torch.utils.flop_counter import FlopCounterMode

from vimvision.flops import count_flops
from vimvision.kernels import scan_flops

SMALL = {
    "vim_tiny": dict(depth=2, embed_dim=32, img_size=64),
    "vmamba_tiny": dict(depths=[1, 1, 2, 1], dims=16),
}


def _plain_fvcore(analysis_cls, model: torch.nn.Module, x: torch.Tensor, caplog):
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="fvcore"):
        warnings.simplefilter("ignore")  # torch.jit's deprecation warning
        analysis = analysis_cls(model, x)
        total = analysis.total()
    return analysis, total


@pytest.mark.parametrize("name", SMALL)
def test_plain_fvcore_counts_the_scan(name, caplog):
    model = timm.create_model(name, **SMALL[name]).eval()
    x = torch.randn(1, 3, 64, 64)
    analysis, total = _plain_fvcore(FlopCountAnalysis, model, x, caplog)
    assert "vimvision::" not in caplog.text, caplog.text
    assert total == count_flops(model, (3, 64, 64)).macs
    scan_ops = analysis.by_operator()["selective_scan"]
    assert scan_ops > 0
    _, activations = _plain_fvcore(ActivationCountAnalysis, model, x, caplog)
    assert activations > 0 and "vimvision::" not in caplog.text


def test_vim_scan_term_is_the_published_formula(caplog):
    """Vim: two scans per block (one per direction), each 9·B·L·E·N + B·E·L (D) + B·E·L (z)."""
    kw = SMALL["vim_tiny"]
    model = timm.create_model("vim_tiny", **kw).eval()
    analysis, _ = _plain_fvcore(FlopCountAnalysis, model, torch.randn(1, 3, 64, 64), caplog)
    L, E = (64 // 16) ** 2 + 1, 2 * kw["embed_dim"]
    assert analysis.by_operator()["selective_scan"] == 2 * kw["depth"] * scan_flops(1, E, L, 16, True, True)


def test_torch_flop_counter_is_twice_the_multiply_adds():
    """Vim has no op that one counter sees and the other not, so the totals differ by the unit only."""
    count = count_flops(timm.create_model("vim_tiny", **SMALL["vim_tiny"]), (3, 64, 64))
    assert count.flops == 2 * count.macs
    model = timm.create_model("vim_tiny", **SMALL["vim_tiny"]).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    assert counter.get_total_flops() == count.flops


def test_hooks_see_every_module_with_parameters(caplog):
    """conv1d, dt_proj and the norms are called as modules: forward hooks fire, fvcore lists them as called."""
    model = timm.create_model("vim_tiny", **SMALL["vim_tiny"]).eval()
    called = set()
    for name, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):
            module.register_forward_hook(lambda m, i, o, name=name: called.add(name))
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    owners = {name.rpartition(".")[0] for name, _ in model.named_parameters()} - {""}
    assert owners <= called, sorted(owners - called)
    assert {"layers.0.mixer.conv1d_b", "layers.1.mixer.dt_proj", "layers.0.norm", "norm_f"} <= called
    analysis, _ = _plain_fvcore(FlopCountAnalysis, model, torch.randn(1, 3, 64, 64), caplog)
    assert not {m for m in analysis.uncalled_modules() if any(True for _ in model.get_submodule(m).parameters())}
