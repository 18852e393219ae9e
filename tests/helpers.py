"""What several test modules share: paths, the device the kernels run on, and running a tool as a user does."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
FIXTURES = ROOT.parent / "shared" / "fixtures"
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
    result = subprocess.run([str(launcher), "--standalone", "--nproc_per_node", str(nproc), str(TOOLS / tool),
                             *map(str, args)], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"torchrun tools/{tool} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-3000:]}")
    return result
