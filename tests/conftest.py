"""Test set-up: without a GPU the Triton kernels run in Triton's interpreter on CPU tensors.

TRITON_INTERPRET must be set before any kernel is defined, i.e. before vimvision is imported.
"""
import os
from pathlib import Path

import pytest
import torch

from tests.helpers import FIXTURES, WORKER_ENV

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# pytest-xdist workers share the cores: one torch thread pool per worker, not one per core each. numba's pool
# too: the fused scan uses only torch's thread count, but its OpenMP pool's idle threads spin, and with one per
# core in every worker the tests ran 6-8 times slower. The variable stays set for the worker's life (tools it
# launches inherit it; helpers.torchrun's processes do not): numba re-reads it whenever it compiles and refuses a
# change once its pool is running
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _THREADS = max(1, (os.cpu_count() or 1) // _WORKERS)
    torch.set_num_threads(_THREADS)
    if "NUMBA_NUM_THREADS" not in os.environ:
        os.environ["NUMBA_NUM_THREADS"] = str(_THREADS)
        WORKER_ENV.add("NUMBA_NUM_THREADS")


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"official-output fixtures not found at {FIXTURES} (they live beside the checkout in ../shared)")
    return FIXTURES
