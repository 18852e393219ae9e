"""Checkpoint files and values that would load silently wrong: malformed files are named, tensors of the
wrong kind or with NaN/inf are refused with their keys."""
import subprocess
import sys

import pytest
import timm
import torch

from tests.helpers import TOOLS
from vimvision.models import load_strict, read_checkpoint


@pytest.fixture(scope="module")
def model():
    return timm.create_model("vmamba_tiny", depths=[1, 1, 1, 1], dims=8, num_classes=4)


def test_malformed_safetensors_names_the_file(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ValueError, match=r"^cannot read checkpoint '.*broken\.safetensors': SafetensorError"):
        read_checkpoint(bad)
    result = subprocess.run([sys.executable, str(TOOLS / "convert_checkpoint.py"), "--model", "vim_tiny", "--input",
                             str(bad), "--output", str(tmp_path / "out.safetensors")], capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "convert_checkpoint: cannot read checkpoint" in result.stderr and "broken.safetensors" in result.stderr


@pytest.mark.parametrize("bad,what", [
    (lambda t: t.to(torch.int64), "wrong dtypes (1): patch_embed.0.weight torch.int64 vs model torch.float32"),
    (lambda t: t > 0, "wrong dtypes (1): patch_embed.0.weight torch.bool vs model torch.float32"),
    (lambda t: t.to(torch.complex64), "wrong dtypes (1): patch_embed.0.weight torch.complex64 vs model"),
    (lambda t: t.index_fill(0, torch.tensor([0]), float("nan")), "NaN or infinite values (1): patch_embed.0.weight"),
    (lambda t: t.index_fill(0, torch.tensor([0]), float("inf")), "NaN or infinite values (1): patch_embed.0.weight"),
    (lambda t: t.tolist(), "values that are not tensors (1): patch_embed.0.weight (list)"),
])
def test_values_of_the_wrong_kind_are_refused(model, bad, what):
    state = dict(model.state_dict())
    before = state["patch_embed.0.weight"].clone()
    state["patch_embed.0.weight"] = bad(state["patch_embed.0.weight"])
    with pytest.raises(ValueError) as info:
        load_strict(model, state, source="checkpoint 'x.pth'")
    assert str(info.value).startswith("checkpoint 'x.pth' does not fit VMamba: ") and what in str(info.value)
    assert torch.equal(model.state_dict()["patch_embed.0.weight"], before)  # nothing was loaded


def test_lower_precision_floats_still_load(model):
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    load_strict(model, state)
