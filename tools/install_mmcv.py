"""Install mmcv 2.1.0 with its compiled ops from ../shared/wheels, for mmdet 3.3.0 / mmsegmentation 1.2.2.

    python tools/install_mmcv.py [--wheels DIR]

PyPI ships mmcv only as source (about 50 minutes to build on 2 cores, and torch >= 2.14 needs a one-line
C++20 change to its setup.py: see ../shared/wheels/README.md), so the test setup installs the prebuilt
wheel beside the checkout. It fits one torch (C++ ABI), CPython and platform: where the wheel is absent or
does not fit, this says why and exits 0, and the mmdet/mmseg tests skip with that reason. Users on other
stacks bring their own mmcv (OpenMMLab's `mim install mmcv==2.1.0` or a source build) and the `[mm]` extra.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
WHEEL = "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
BUILT_FOR = dict(torch="2.14.1", python="3.11", machine="x86_64", system="Linux")


def mismatch() -> str | None:
    """Why the shared wheel cannot work here, or None."""
    here = dict(torch=torch.__version__.split("+")[0], python=".".join(platform.python_version_tuple()[:2]),
                machine=platform.machine(), system=platform.system())
    wrong = [f"{k} {here[k]} (the wheel needs {v})" for k, v in BUILT_FOR.items() if here[k] != v]
    return ", ".join(wrong) or None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheels", type=Path, default=ROOT.parent / "shared" / "wheels", help="folder holding " + WHEEL)
    args = p.parse_args(argv)
    wheel = args.wheels / WHEEL
    reason = None if wheel.is_file() else f"{wheel} does not exist"
    reason = reason or mismatch()
    if reason:
        print(f"install_mmcv: not installing mmcv: {reason}; the mmdet/mmseg tests will skip")
        return 0
    command = [sys.executable, "-m", "pip", "install", "--no-deps", str(wheel)]
    print("install_mmcv:", " ".join(command))
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
