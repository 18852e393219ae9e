"""kernels/ ships as vimvision.kernels, never as a top-level `kernels` (another PyPI package's name)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import vimvision.kernels
from tests.helpers import ROOT


def test_installed_package_maps_kernels_folder():
    assert Path(vimvision.kernels.__file__).resolve().parent == ROOT / "kernels"


@pytest.mark.slow
def test_wheel_contains_kernels_under_vimvision_only(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("vimvision-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "vimvision/kernels/selective_scan/fused.py" in names
    assert "vimvision/kernels/selective_scan/naive.py" in names
    assert not [n for n in names if n.startswith("kernels/")]
    for init in [*ROOT.glob("kernels/**/__init__.py"), *ROOT.glob("vimvision/**/__init__.py")]:
        rel = init.relative_to(ROOT).as_posix()
        packaged = "vimvision/" + rel if rel.startswith("kernels/") else rel
        assert packaged in names, f"{rel} is not in the wheel: add its package to pyproject.toml"
