"""The GPU session's tools (benchmarks/gpu_session.sh) run end to end here on tiny shapes, so the
one lease a session gets is not spent on a typo. Each tool exits non-zero when a check fails."""
from __future__ import annotations

import re
import subprocess

import pytest

from tests.helpers import ROOT, run_tool

pytestmark = pytest.mark.slow


def test_roofline_checks_both_kernels_and_times_them(tmp_path):
    out = tmp_path / "scan.md"
    result = run_tool("roofline.py", "--quick", "--check-dtypes", "fp32", "--time-dtypes", "fp32", "--output", out)
    text = out.read_text()
    checks = re.findall(r"\| tiny N=\d+ \| (sequential|tiled) \| ([\d.e+-]+) \|", text)
    assert sorted(k for k, _ in checks) == ["sequential", "sequential", "tiled", "tiled"]
    timed = re.findall(r"\| tiny N=\d+ \| \d+ \| (triton sequential|triton tiled|torch backend) \| ([\d.]+) \|", text)
    assert len(timed) == 6 and all(float(ms) > 0 for _, ms in timed)
    assert "Copy bandwidth" in result.stdout


def test_check_models_fits_a_batch():
    """The flow of the model check on the CPU: the logits comparison and a loss that must halve."""
    tiny = {"vim_tiny": ["depth=2", "embed_dim=32"], "vmamba_tiny": ["depths=[1,1,1,1]", "dims=8"]}
    for name, kwargs in tiny.items():
        out = run_tool("check_models.py", "--device", "cpu", "--backend", "torch", "--models", name, "--model-kwargs",
                       *kwargs, "num_classes=10", "--img-size", "32", "--batch-size", "2", "--train-batch-size", "8",
                       "--steps", "15", "--lr", "3e-3").stdout
        rows = re.findall(r"\| (vim_tiny|vmamba_tiny) \| ([\d.e+-]+) \| ([\d.e+-]+) \| 15 \|", out)
        assert [r[0] for r in rows] == [name] and float(rows[0][2]) > 0  # autocast really ran (bf16 differs)


def test_session_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu_session.sh")], check=True)
