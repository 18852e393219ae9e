"""Compile every Triton kernel of vimvision for a GPU architecture, without needing that GPU.

    python tools/compile_kernels.py              # sm_90 (H100)
    python tools/compile_kernels.py --arch 80    # A100
    python tools/compile_kernels.py --report     # also registers and spills per kernel (ptxas -v)

Triton lowers each kernel to PTX and a cubin with its bundled ptxas, so type and layout errors
that the CPU interpreter (TRITON_INTERPRET=1) never sees show up here. Exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.backends.nvidia.compiler import get_ptxas
from triton.compiler import ASTSource

from vimvision.kernels.add_norm import fused as add_norm
from vimvision.kernels.causal_conv1d import fused as conv
from vimvision.kernels.cross_scan import fused as cross
from vimvision.kernels.forgetting_attention import fused as fox
from vimvision.kernels.selective_scan import fused as scan
from vimvision.kernels.selective_scan import fused_tiled as scan_tiled


def compile_for_gpu(kernel, types: dict, constexprs: dict, arch: int, num_warps: int = 4):
    """types: runtime argument -> Triton type ('*bf16', 'i32', 'fp32'); every other argument is a constexpr."""
    names = kernel.arg_names
    missing = set(names) - types.keys() - constexprs.keys()
    if missing:
        raise ValueError(f"{kernel.__name__}: no type or value for {sorted(missing)}")
    signature = {n: types.get(n, "constexpr") for n in names}
    src = ASTSource(fn=kernel, signature=signature, constexprs={(names.index(n),): v for n, v in constexprs.items()})
    return triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": num_warps})


def resource_report(compiled, arch: int) -> str:
    """Registers, spills and stack of a compiled kernel, from ptxas -v on its PTX: spills are the
    first thing to rule out when a kernel is slow, and this needs no GPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as f:
        f.write(compiled.asm["ptx"])
        f.flush()
        suffix = "a" if arch == 90 else ""
        log = subprocess.run([get_ptxas(arch).path, "-v", f"--gpu-name=sm_{arch}{suffix}", f.name, "-o", os.devnull],
                             capture_output=True, text=True, check=True).stderr
    regs = re.search(r"Used (\d+) registers", log)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return f"{regs.group(1)} registers, spills {spills.group(1)}/{spills.group(2)} bytes stored/loaded"


def _scan_cases():
    flag_sets = [
        dict(N=16, BLOCK_D=32, BLOCK_N=16, B_VAR=True, C_VAR=True, GATE=0, REVERSE=False, HAS_Z=True),
        dict(N=1, BLOCK_D=64, BLOCK_N=1, B_VAR=True, C_VAR=True, GATE=2, REVERSE=True, HAS_Z=False),
        dict(N=5, BLOCK_D=16, BLOCK_N=8, B_VAR=False, C_VAR=False, GATE=1, REVERSE=False, HAS_Z=True),
        dict(N=64, BLOCK_D=16, BLOCK_N=64, B_VAR=True, C_VAR=False, GATE=3, REVERSE=True, HAS_Z=True),
    ]
    acts = {"u_ptr", "delta_ptr", "z_ptr", "out_ptr", "dout_ptr", "du_ptr", "ddelta_ptr", "dz_ptr"}
    kernels = (scan._scan_fwd_kernel, scan._scan_bwd_kernel, scan_tiled._tiled_fwd_kernel, scan_tiled._tiled_bwd_kernel)
    for kernel in kernels:
        for act in ("fp32", "bf16"):
            types = {n: (f"*{act}" if n in acts else "*fp32") for n in kernel.arg_names if n.endswith("_ptr")}
            types.update(L="i32", dim="i32", dim_per_group="i32", n_ckpt="i32")
            for flags in flag_sets:
                if kernel.__name__.startswith("_tiled"):
                    flags = dict(flags, BLOCK_D=scan_tiled.channels_per_program(96, flags["BLOCK_N"]))
                yield kernel, types, dict(CHUNK=64, HAS_D=True, HAS_BIAS=True, SOFTPLUS=True, **flags)


def _conv_cases():
    for act in ("fp32", "bf16", "fp16"):
        for silu, reverse in ((True, False), (False, True)):
            flags = dict(WIDTH=4, HAS_BIAS=True, SILU=silu, REVERSE=reverse, BLOCK_E=16, BLOCK_L=128)
            fwd = dict(x_ptr=f"*{act}", w_ptr="*fp32", b_ptr="*fp32", out_ptr=f"*{act}", L="i32", dim="i32")
            yield conv._conv_fwd_kernel, fwd, flags
            bwd = {k: v for k, v in fwd.items() if k != "out_ptr"}
            bwd.update(dout_ptr=f"*{act}", dx_ptr=f"*{act}", dw_part_ptr="*fp32", db_part_ptr="*fp32", n_l_blocks="i32")
            yield conv._conv_bwd_kernel, bwd, flags


def _add_norm_cases():
    for act in ("fp32", "bf16"):
        for is_rms, has_bias in ((True, False), (False, True)):
            yield add_norm._add_norm_fwd_kernel, dict(
                x_ptr=f"*{act}", res_ptr="*fp32", w_ptr="*fp32", b_ptr="*fp32", out_ptr=f"*{act}",
                res_out_ptr="*fp32", rstd_ptr="*fp32", M="i32", D="i32", eps="fp32",
            ), dict(ROWS=8, BLOCK=256, HAS_RES=True, HAS_BIAS=has_bias, IS_RMS=is_rms)
            yield add_norm._add_norm_bwd_kernel, dict(
                dout_ptr=f"*{act}", dres_out_ptr="*fp32", res_out_ptr="*fp32", w_ptr="*fp32", rstd_ptr="*fp32",
                dtotal_ptr="*fp32", dw_part_ptr="*fp32", db_part_ptr="*fp32", M="i32", D="i32",
            ), dict(ROWS=8, BLOCK=256, HAS_DRES=True, HAS_BIAS=has_bias, IS_RMS=is_rms)


def _cross_cases():
    for act in ("fp32", "bf16"):
        for merge in (False, True):
            types = dict(src_ptr=f"*{act}", dst_ptr=f"*{act}", dim="i32", H="i32", W="i32")
            for routes in (2, 4):
                yield cross._cross_kernel, types, dict(MERGE=merge, ROUTES=routes, BLOCK_H=32, BLOCK_W=32)


def _fox_cases():
    for act in ("fp32", "bf16"):
        for D in (32, 64):
            meta = dict(D=D, BLOCK_M=32, BLOCK_N=32)
            io = dict(q_ptr=f"*{act}", k_ptr=f"*{act}", v_ptr=f"*{act}", cf_ptr="*fp32", cb_ptr="*fp32",
                      lse_ptr="*fp32", L="i32", scale="fp32")
            yield fox._fwd_kernel, dict(io, o_ptr=f"*{act}"), meta
            grads = dict(io, do_ptr=f"*{act}", delta_ptr="*fp32", dcf_ptr="*fp32", dcb_ptr="*fp32")
            yield fox._bwd_kv_kernel, dict(grads, dk_ptr=f"*{act}", dv_ptr=f"*{act}"), meta
            yield fox._bwd_q_kernel, dict(grads, dq_ptr=f"*{act}"), meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", type=int, default=90, help="CUDA compute capability x10 (80, 89, 90, ...)")
    p.add_argument("--report", action="store_true", help="print registers and spills of every configuration")
    args = p.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET") == "1":  # the kernels were defined for the interpreter, not the compiler
        sys.exit("tools/compile_kernels.py: unset TRITON_INTERPRET (the interpreter replaces the compiler)")
    failures = 0
    cases = (*_scan_cases(), *_conv_cases(), *_add_norm_cases(), *_cross_cases(), *_fox_cases())
    for kernel, types, constexprs in cases:
        label = f"{kernel.__name__} {sorted(set(types.values()) - {'i32', 'fp32', '*fp32'}) or ['fp32']} {constexprs}"
        try:
            compiled = compile_for_gpu(kernel, types, constexprs, args.arch)
            print(f"ok    {label}" + (f"\n      {resource_report(compiled, args.arch)}" if args.report else ""))
        except Exception as e:  # report every failing configuration, not just the first
            failures += 1
            print(f"FAIL  {label}\n      {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    print(f"{failures} of the configurations failed to compile for sm_{args.arch}" if failures
          else f"all compiled for sm_{args.arch}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
