"""Regional compilation (vimvision.compile_blocks): every residual block (or the parts it names) compiled by
Inductor in place, and the compiled model's inference and training step match eager."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from tests.models.test_contract import create, input_for
from vimvision.compile import compile_blocks, compiled_regions, residual_blocks


@pytest.mark.parametrize("name", ["vim_tiny", "vmamba_tiny"])
def test_compiled_blocks_match_eager_in_inference_and_training(name):
    torch.manual_seed(0)
    eager = create(name, num_classes=10, drop_path_rate=0.0)
    compiled = compile_blocks(copy.deepcopy(eager))
    blocks = residual_blocks(compiled)
    assert len(blocks) == len([m for m in compiled.modules() if type(m).__name__ in ("VimBlock", "VSSBlock")])
    regions = compiled_regions(compiled)
    assert regions and all(region._compiled_call_impl is not None for region in regions)
    if name == "vmamba_tiny":  # VSSBlock names its norms and MLP; SS2D stays eager
        assert all(block._compiled_call_impl is None and block.op._compiled_call_impl is None for _, block in blocks)
        assert {type(r).__name__ for r in regions} == {"LayerNorm2d", "Mlp"}
    else:
        assert all(block._compiled_call_impl is not None for _, block in blocks)
    x = input_for(eager)

    torch._dynamo.reset()
    with torch.no_grad():
        torch.testing.assert_close(compiled.eval()(x), eager.eval()(x), rtol=1e-4, atol=1e-5)
    target = torch.arange(x.shape[0])
    grads = []
    for model in (eager.train(), compiled.train()):
        nn.functional.cross_entropy(model(x), target).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for key, want in grads[0].items():
        torch.testing.assert_close(grads[1][key], want, rtol=1e-3, atol=1e-5, msg=lambda m, k=key: f"{k}: {m}")


def test_a_model_without_blocks_is_named():
    with pytest.raises(ValueError, match="compile_blocks: Linear has no module whose class name ends in 'Block'"):
        compile_blocks(nn.Linear(2, 2))
