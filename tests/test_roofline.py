"""tools/roofline.py, the GPU session's kernel check, runs end to end on tiny shapes (interpreter on CPU)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
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
