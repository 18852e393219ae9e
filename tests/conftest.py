"""Test set-up: without a GPU the Triton kernels run in Triton's interpreter on CPU tensors.

TRITON_INTERPRET must be set before any kernel is defined, i.e. before vimvision is imported.
"""
import os
from pathlib import Path

import pytest
import torch

from tests.helpers import FIXTURES

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"official-output fixtures not found at {FIXTURES} (they live beside the checkout in ../shared)")
    return FIXTURES
