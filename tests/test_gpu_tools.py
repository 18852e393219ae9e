"""The GPU session's tools (benchmarks/gpu_session.sh) run end to end here on tiny shapes, so the
one lease a session gets is not spent on a typo."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_models  # noqa: E402
import roofline  # noqa: E402


def test_roofline_checks_both_kernels_and_times_them(capsys, tmp_path):
    out = tmp_path / "scan.md"
    assert roofline.main(["--quick", "--check-dtypes", "fp32", "--time-dtypes", "fp32", "--output", str(out)]) == 0
    text = out.read_text()
    checks = re.findall(r"\| tiny N=\d+ \| (sequential|tiled) \| ([\d.e+-]+) \|", text)
    assert sorted(k for k, _ in checks) == ["sequential", "sequential", "tiled", "tiled"]
    assert all(float(e) < roofline.LIMITS["fp32"] for _, e in checks)
    timed = re.findall(r"\| tiny N=\d+ \| \d+ \| (triton sequential|triton tiled|torch backend) \| ([\d.]+) \|", text)
    assert len(timed) == 6 and all(float(ms) > 0 for _, ms in timed)
    assert "Copy bandwidth" in capsys.readouterr().out


def test_check_models_fits_a_batch(capsys):
    """The flow of the model check on the CPU: the logits comparison and a loss that must halve."""
    tiny = {"vim_tiny": ["depth=2", "embed_dim=32"], "vmamba_tiny": ["depths=[1,1,1,1]", "dims=8"]}
    for name, kwargs in tiny.items():
        argv = ["--device", "cpu", "--backend", "torch", "--models", name, "--model-kwargs", *kwargs, "num_classes=10",
                "--img-size", "32", "--batch-size", "2", "--train-batch-size", "8", "--steps", "15", "--lr", "3e-3"]
        assert check_models.main(argv) == 0, capsys.readouterr().out
    rows = re.findall(r"\| (vim_tiny|vmamba_tiny) \| ([\d.e+-]+) \| ([\d.e+-]+) \| 15 \|", capsys.readouterr().out)
    assert [r[0] for r in rows] == ["vim_tiny", "vmamba_tiny"]
    assert all(0 < float(bf16) < check_models.LIMITS["bf16"] for _, _, bf16 in rows)  # autocast really ran


def test_session_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu_session.sh")], check=True)
