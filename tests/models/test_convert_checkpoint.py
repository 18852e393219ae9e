"""tools/convert_checkpoint.py: official file -> safetensors that reloads to the official outputs."""
from __future__ import annotations

import json
import subprocess
import sys

import timm
import torch

import vimvision  # noqa: F401
from tests.helpers import TOOLS

TOOL = TOOLS / "convert_checkpoint.py"


def test_vim_conversion_round_trip(fixtures_dir, tmp_path):
    out, report = tmp_path / "vim.safetensors", tmp_path / "report.json"
    subprocess.run([sys.executable, str(TOOL), "--model", "vim_tiny", "--input",
                    str(fixtures_dir / "vim_tiny_depth2.pth"), "--output", str(out), "--model-kwargs", "depth=2",
                    "--report", str(report)], check=True, capture_output=True)
    keys = json.loads(report.read_text())
    assert len(keys["kept"]) == 41 and not keys["dropped"] and not keys["missing"] and not keys["reshaped"]
    io = torch.load(fixtures_dir / "vim_tiny_depth2.io.pt", weights_only=True)
    model = timm.create_model("vim_tiny", depth=2, pretrained=True, pretrained_cfg_overlay=dict(file=str(out))).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(io["input"]), io["logits"], atol=1e-4, rtol=1e-4)


def test_conversion_refuses_a_wrong_model(fixtures_dir, tmp_path):
    result = subprocess.run([sys.executable, str(TOOL), "--model", "vim_tiny", "--input",
                             str(fixtures_dir / "vim_tiny_depth2.pth"), "--output", str(tmp_path / "x.safetensors")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "missing keys" in result.stderr and "layers.2.mixer" in result.stderr


def test_vmamba_v0_legacy_names_are_reported_renamed(fixtures_dir, tmp_path):
    official = json.loads((fixtures_dir / "keys_vmamba.json").read_text())["models"]["vmambav0_tiny_224"]
    release = {k: torch.zeros(shape) for k, shape, _ in official["release_state_dict"]}
    src, out, report = tmp_path / "v0.pth", tmp_path / "v0.safetensors", tmp_path / "report.json"
    torch.save({"model": release, "epoch": 292}, src)
    subprocess.run([sys.executable, str(TOOL), "--model", "vmamba_tiny_v0", "--input", str(src), "--output", str(out),
                    "--report", str(report)], check=True, capture_output=True)
    renamed = json.loads(report.read_text())["renamed"]
    assert renamed["patch_embed.proj.weight"] == "patch_embed.0.weight"
    assert renamed["layers.1.blocks.0.self_attention.A_logs"] == "layers.1.blocks.0.op.A_logs"
    assert renamed["head.weight"] == "classifier.head.weight"
    assert len(renamed) == len(release) - sum(k.startswith("layers.") and ".downsample." in k for k in release)
