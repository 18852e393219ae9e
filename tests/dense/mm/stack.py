"""Whether mmdet 3.3 / mmseg 1.2 with mmcv's compiled ops can run here; the mm tests skip, saying why, if not."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
from mmengine.config import Config

from tests.helpers import ROOT

CONFIGS = sorted(p for d in ("mmdet", "mmseg") for p in (ROOT / "configs" / d).glob("*.py"))


@functools.cache
def missing() -> str | None:
    try:
        import mmcv.ops  # noqa: F401  (needs the compiled mmcv._ext)
        import mmdet.models  # noqa: F401
        import mmseg.models  # noqa: F401
    except Exception as e:  # ImportError, or an ABI mismatch surfacing as OSError/RuntimeError
        return (f"the mm stack cannot run here ({type(e).__name__}: {e}); `python tools/install_mmcv.py` installs "
                "mmcv with its ops from ../shared/wheels on the pinned torch, `pip install -e '.[mm]'` mmdet/mmseg")
    return None


def require_mm_stack() -> None:
    if missing():
        pytest.skip(missing(), allow_module_level=True)


def build_model(config: Path | Config, **backbone_overrides):
    """The config's whole model through its framework's registry (no pretrained backbone file), initialized."""
    from vimvision.dense.mm_build import build_mm_model

    model = build_mm_model(config, **backbone_overrides)[0].train()
    model.init_weights()
    return model
