"""tools/export.py as a user runs it: official-format checkpoints exported to ONNX and .pt2 reproduce the
official logits outside vimvision, at any batch; bad arguments are named."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.helpers import TOOLS, run_tool

pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the [export] extra (and in [dev])")

FIXTURES = {  # fixture -> (our name, constructor overrides the fixture was made with)
    "vim_tiny_depth2": ("vim_tiny", "depth=2"),
    "vmamba_tiny_s1l8_depths1121": ("vmamba_tiny", "depths=(1,1,2,1)"),
}

# Runs the exported file with plain torch / onnxruntime, in a process that never imports vimvision.
RUN_OUTSIDE = """
import sys, torch
path, io_path = sys.argv[1], sys.argv[2]
x = torch.load(io_path, weights_only=True)["input"]
x = torch.cat([x, x.flip(0), x])  # another batch than the traced one
if path.endswith(".onnx"):
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
else:
    y = torch.export.load(path).module()(x)
ours = [m for m in sys.modules if m == "vimvision" or m.startswith("vimvision.")]
assert not ours, f"the exported file pulled in {ours}"
torch.save(y, path + ".out")
"""


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_official_checkpoint_exported_reproduces_official_logits_outside_vimvision(fixture, fmt, fixtures_dir,
                                                                                 tmp_path):
    name, kwargs = FIXTURES[fixture]
    out = tmp_path / f"{fixture}.{fmt}"
    result = run_tool("export.py", "--model", name, "--checkpoint", str(fixtures_dir / f"{fixture}.pth"),
                      "--model-kwargs", kwargs, "--format", fmt, "--output", str(out), "--check")
    assert "check: largest relative difference to eager over batches (1, 3)" in result.stdout, result.stdout
    io_path = fixtures_dir / f"{fixture}.io.pt"
    subprocess.run([sys.executable, "-c", RUN_OUTSIDE, str(out), str(io_path)], check=True)
    got = torch.load(str(out) + ".out", weights_only=True)
    logits = torch.load(io_path, weights_only=True)["logits"]
    want = torch.cat([logits, logits.flip(0), logits])
    tol = json.loads((fixtures_dir / f"{fixture}.json").read_text())["suggested_tolerance"]
    torch.testing.assert_close(got, want, atol=tol["atol"], rtol=max(tol["rtol"], 1e-4))


@pytest.mark.parametrize("args,message", [
    (["--model", "vim_tiny", "--img-size", "100"], "Vim: img_size (100, 100) does not fit patch_size 16"),
    (["--model", "vim_tiny", "--img-size", "224", "224", "3"], "--img-size takes H or H W, got 3 values"),
    (["--model", "no_such_model"], "no_such_model"),
    (["--model", "vim_tiny", "--format", "tflite"], "invalid choice: 'tflite'"),
])
def test_bad_arguments_are_named_without_a_traceback(args, message, tmp_path):
    result = subprocess.run([sys.executable, str(TOOLS / "export.py"), *args, "--output", str(tmp_path / "x.onnx"),
                             "--model-kwargs", "depths=(1,1,1,1)" if "vmamba" in args[1] else "depth=1"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "x.onnx").exists()
