"""The plumbing the families share (vimvision/models/_builder.py): decay tags, entrypoints from data, mixer factory."""
from __future__ import annotations

import copy

import pytest
import timm
import torch.nn as nn

import vimvision  # noqa: F401  (registers the models)
from vimvision.models import vim, vim_fox, vmamba
from vimvision.models.vim import Vim, bimamba_mixers

# what no_weight_decay() listed by name before the parameters were tagged where they are created
VIM_NAMED = ("A_log", "A_b_log", "D", "D_b")
VMAMBA_NAMED = ("A_logs", "Ds", "dt_projs_bias")


def _named_before(model: nn.Module) -> set:
    names = {n for n, _ in model.named_parameters()}
    if isinstance(model, Vim):
        return {"pos_embed", "cls_token"} | {n for n in names if n.rsplit(".", 1)[-1] in VIM_NAMED}
    return {n for n in names if n.rsplit(".", 1)[-1] in VMAMBA_NAMED}


@pytest.mark.parametrize("name", ["vim_tiny", "vim_small_stride8", "vim_fox_tiny", "vim_hybrid_small",
                                  "vmamba_tiny", "vmamba_base_s1l20", "vmamba_tiny_v0"])
def test_no_weight_decay_names_are_unchanged_and_survive_new_parameter_objects(name):
    model = timm.create_model(name, kernel_backend="torch")
    assert model.no_weight_decay() == _named_before(model)
    assert copy.deepcopy(model).no_weight_decay() == _named_before(model)  # as FSDP2, deepcopy makes new Parameters


@pytest.mark.parametrize("module,aliases", [
    (vim, {official: short for short, official in vim.OFFICIAL_NAMES.items()}),
    (vim_fox, {}),
    (vmamba, vmamba.ALIASES),
])
def test_entrypoints_are_registered_from_data(module, aliases):
    family = module.__name__.rsplit(".", 1)[-1]
    assert set(timm.list_models(module=family)) == set(module.ARCHS) | set(aliases)
    for name in (*module.ARCHS, *aliases):
        entrypoint = getattr(module, name)
        assert entrypoint is timm.models.model_entrypoint(name) and name in module.__all__
        assert entrypoint.__doc__ == (module.ARCHS[name].doc if name in module.ARCHS else
                                      f"{aliases[name]} under another name, with its own pretrained cfgs.")


def test_alias_builds_its_target_under_its_own_cfg():
    model = timm.create_model(vim.OFFICIAL_NAMES["vim_tiny"], depth=1)
    assert model.embed_dim == 192 and model.pretrained_cfg["architecture"] == vim.OFFICIAL_NAMES["vim_tiny"]


def test_injected_mixer_factory_builds_each_block():
    calls = []

    def mixers(dim: int, index: int, kernel_backend: str) -> nn.Module:
        calls.append((dim, index, kernel_backend))
        return bimamba_mixers(d_state=4)(dim, index, kernel_backend)

    model = Vim(img_size=32, patch_size=8, embed_dim=16, depth=3, kernel_backend="torch", mixer_layer=mixers)
    assert calls == [(16, i, "torch") for i in range(3)]
    assert model.layers[2].mixer.d_state == 4


def test_fox_arguments_live_with_the_fox_models():
    model = timm.create_model("vim_hybrid_tiny", depth=4, attn_every=2, d_state=8, num_heads=4)
    kinds = [type(layer.mixer).__name__ for layer in model.layers]
    assert kinds == ["BiMambaMixer", "ForgettingAttention"] * 2
    assert model.layers[0].mixer.d_state == 8 and model.layers[1].mixer.num_heads == 4
    with pytest.raises(TypeError, match="num_heads"):
        timm.create_model("vim_tiny", depth=1, num_heads=4)  # the Vim class no longer takes FoX arguments
