"""Whole-model FLOPs of our mm configs reproduce VMamba's published counts (its analyze/flops.py figures)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.dense.mm.stack import require_mm_stack
from tests.helpers import ROOT, TOOLS

require_mm_stack()

from vimvision.dense.mm_flops import mm_flops  # noqa: E402

pytestmark = pytest.mark.slow

# MzeroMiko/VMamba analyze/flops.py, its printed results: (params, fvcore FLOPs) of the v2 tiny (s1l8) models
OFFICIAL = {
    "mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py": ((1280, 800), 49_755_312, 271_163_376_640),
    "mmseg/upernet_vmamba_tiny_ade20k_512x512_160k.py": ((512, 2048), 61_902_572, 948_780_189_696),
}


@pytest.mark.parametrize("config", OFFICIAL)
def test_counts_equal_the_official_ones(config):
    count, shape = mm_flops(ROOT / "configs" / config)
    assert (shape, count.params, count.macs) == OFFICIAL[config]


def test_tool_counts_a_config_at_a_given_size():
    config = ROOT / "configs/mmseg/upernet_vmamba_tiny_ade20k_512x512_160k.py"
    result = subprocess.run([sys.executable, str(TOOLS / "flops.py"), "--config", str(config), "--input-shape",
                             "64", "128"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "@ 64x128: params 61.90 M" in result.stdout


def test_bad_input_shape_is_named():
    with pytest.raises(ValueError, match=r"input_shape has \(16, 16\)"):
        mm_flops(ROOT / "configs/mmseg/upernet_vmamba_tiny_ade20k_512x512_160k.py", (16, 16))
