"""Forwards under inference_mode, no_grad, grad-enabled eval and training, in every order: each mode's
first forward at a shape creates the torch scan backend's scratch buffers, which every other mode must
be able to reuse (an inference tensor cannot be written outside inference mode)."""
from itertools import permutations

import pytest
import timm
import torch

from vimvision.kernels import free_scan_workspace

MODELS = {
    "vim_tiny": dict(depth=2, embed_dim=32, img_size=32, patch_size=8, stride=8),
    "vmamba_tiny": dict(depths=[1, 1, 1, 1], dims=8),
}


def _forward(model: torch.nn.Module, x: torch.Tensor, mode: str) -> torch.Tensor:
    model.train(mode == "train")
    if mode == "inference":
        with torch.inference_mode():
            return model(x)
    if mode == "no_grad":
        with torch.no_grad():
            return model(x)
    out = model(x)
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)
    return out.detach()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("order", list(permutations(["inference", "no_grad", "grad", "train"])), ids="-".join)
def test_every_order_of_grad_modes(name, order):
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=5, drop_path_rate=0.0, **MODELS[name])
    x = torch.randn(2, 3, 32, 32)
    free_scan_workspace()  # each order starts without buffers, so its first mode creates them
    outputs = {mode: _forward(model, x, mode) for mode in order}
    for mode in ("no_grad", "grad", "train"):  # no dropout: train mode computes the same function
        torch.testing.assert_close(outputs[mode], outputs["inference"], rtol=1e-5, atol=1e-6, msg=mode)


def test_free_scan_workspace_returns_what_it_held():
    """The workspace is the torch backend's (the numba kernels keep theirs per call)."""
    model = timm.create_model("vim_tiny", **MODELS["vim_tiny"], kernel_backend="torch").eval()
    free_scan_workspace()
    with torch.inference_mode():
        model(torch.randn(1, 3, 32, 32))
    assert free_scan_workspace() > 0
    assert free_scan_workspace() == 0
