"""Each model on an accelerator against the same weights on the CPU, then a short bf16 training run.

    python tools/check_models.py                                       # GPU: vim_small, vmamba_tiny at 224
    python tools/check_models.py --device cpu --backend triton --models vim_tiny \\
        --model-kwargs depth=2 embed_dim=32 num_classes=10 --img-size 32 --steps 4 --min-drop 0   # CPU smoke test

1. Logits on --device with the --backend kernels, in fp32 and under bf16 autocast, against the CPU
   torch backend in fp32: |got - ref| / |ref| (norms) against LIMITS (TF32 off for the fp32 check).
2. --steps AdamW steps under bf16 autocast on one fixed random batch: every loss finite, and the
   last at most (1 - --min-drop) times the first: the model fits a batch, so gradients flow.
Exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from timm.utils import ParseKwargs

LIMITS = {"fp32": 1e-3, "bf16": 5e-2}


def _rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.double().cpu(), ref.double()
    return ((got - ref).norm() / ref.norm()).item()


def create(name: str, backend: str, size: int, kwargs: dict) -> torch.nn.Module:
    from vimvision.factory import create_model  # after main() chose how the kernels run

    return create_model(name, size, kernel_backend=backend, **kwargs)


def check_logits(name: str, kwargs: dict, backend: str, device, size: int, batch: int) -> dict:
    torch.manual_seed(0)
    ref_model = create(name, "torch", size, kwargs).eval()
    model = create(name, backend, size, kwargs).eval()
    model.load_state_dict(ref_model.state_dict())
    model.to(device)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = ref_model(x)
        fp32 = model(x.to(device))
        with torch.autocast(device.type, dtype=torch.bfloat16):
            bf16 = model(x.to(device)).float()
    return {"fp32": _rel(fp32, ref), "bf16": _rel(bf16, ref)}


def train_steps(name: str, kwargs: dict, backend: str, device, size: int, batch: int, steps: int,
                lr: float) -> list[float]:
    torch.manual_seed(0)
    model = create(name, backend, size, kwargs).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, model.num_classes, (batch,), generator=g).to(device)
    losses = []
    for _ in range(steps):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["vim_small", "vmamba_tiny"])
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--backend", default="auto", choices=["auto", "triton", "torch"],
                   help="kernels of the checked model")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=8, help="batch of the logits check")
    p.add_argument("--train-batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--min-drop", type=float, default=0.5, help="required fractional drop of the loss")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before vimvision defines its kernels: Triton's interpreter
    device = torch.device(args.device)
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = False, False  # a true fp32 check
    ok = True
    print("| model | logits fp32 rel err | logits bf16 rel err | train steps | first loss | last loss | all finite "
          "| s/step |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        errors = check_logits(name, args.model_kwargs, args.backend, device, args.img_size, args.batch_size)
        start = time.perf_counter()
        losses = train_steps(name, args.model_kwargs, args.backend, device, args.img_size, args.train_batch_size,
                             args.steps, args.lr)
        per_step = (time.perf_counter() - start) / max(len(losses), 1)
        finite = all(math.isfinite(v) for v in losses)
        fits = finite and losses[-1] <= (1 - args.min_drop) * losses[0]
        marks = {k: f"{v:.1e}" + ("" if v <= LIMITS[k] else " FAIL") for k, v in errors.items()}
        ok &= all(v <= LIMITS[k] for k, v in errors.items()) and fits
        print(f"| {name} | {marks['fp32']} | {marks['bf16']} | {len(losses)} | {losses[0]:.3f} | "
              f"{losses[-1]:.3f}{'' if fits else ' FAIL'} | {finite} | {per_step:.3f} |")
    print(f"limits {LIMITS}; the loss must end at most {1 - args.min_drop:.2f} x its first value")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
