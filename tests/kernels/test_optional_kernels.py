"""Without Triton or numba (macOS, Windows, minimal CPU installs) the package imports and both families train on
the other backends ('auto' falls back with no error); asking for the missing one is a named error. The module is
hidden in a fresh interpreter."""
import subprocess
import sys

import pytest

from tests.helpers import ROOT

SCRIPT = """
import os, sys
sys.modules[{module!r}] = None  # `import {module}` now raises ImportError, as where it is not installed
os.environ.pop("TRITON_INTERPRET", None)
import timm, torch
import vimvision
from vimvision.kernels import backend
assert not backend.{module}_available()
assert not any(name == {module!r} or name.startswith({module!r} + ".") for name in sys.modules if sys.modules[name])
for name, kwargs in [("vim_tiny", dict(depth=1, img_size=32)), ("vmamba_tiny", dict(depths=[1, 1, 1, 1], dims=8))]:
    model = timm.create_model(name, num_classes=3, **kwargs)  # kernel_backend='auto'
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    try:
        timm.create_model(name, num_classes=3, kernel_backend={module!r}, **kwargs)(torch.randn(1, 3, 32, 32))
    except ValueError as e:
        assert {message!r} in str(e), e
    else:
        raise AssertionError("kernel_backend={module!r} ran without {module}")
print("ok")
"""


@pytest.mark.parametrize("module,message", [("triton", "'triton' needs Triton, which is not installed"),
                                            ("numba", "'numba' needs numba, which is not installed")])
def test_package_works_without(module, message):
    script = SCRIPT.format(module=module, message=message)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
