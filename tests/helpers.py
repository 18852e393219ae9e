"""What several test modules share: paths, the device the kernels run on, and running a tool as a user does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
FIXTURES = ROOT.parent / "shared" / "fixtures"
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
WORKER_ENV: set[str] = set()  # variables conftest set for this pytest worker (torchrun's processes start without)


def run_tool(tool: str, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python tools/TOOL ARGS` in a fresh process; with check, a failure shows the tool's last output."""
    result = subprocess.run([sys.executable, str(TOOLS / tool), *map(str, args)], capture_output=True, text=True,
                            env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"tools/{tool} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}")
    return result


def torchrun(tool: str, *args: str, nproc: int = 2, check: bool = True) -> subprocess.CompletedProcess:
    """The tool under torchrun with `nproc` CPU processes (gloo)."""
    launcher = Path(sys.executable).with_name("torchrun")
    env = {k: v for k, v in os.environ.items() if not (k == "NUMBA_NUM_THREADS" and k in WORKER_ENV)}
    result = subprocess.run([str(launcher), "--standalone", "--nproc_per_node", str(nproc), str(TOOLS / tool),
                             *map(str, args)], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"torchrun tools/{tool} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}")
    return result


def assert_triton_matches_torch(build, x: torch.Tensor, grads, **tol) -> None:
    """A model built by build(kernel_backend) for 'triton' and for 'torch', with the same weights on DEVICE: the
    output and the gradients that grads(model) picks agree within tol (a loss of sum(out ** 2))."""
    models = {b: build(b).to(DEVICE) for b in ("torch", "triton")}
    models["triton"].load_state_dict(models["torch"].state_dict())
    outs = {}
    for backend, model in models.items():
        out = model(x.to(DEVICE))
        out.square().sum().backward()
        outs[backend] = (out, *(p.grad for p in grads(model)))
    for got, want in zip(outs["triton"], outs["torch"]):
        torch.testing.assert_close(got, want, **tol)
