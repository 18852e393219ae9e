"""Train and evaluate an image classifier (ours or any timm model), timm-style.

    python tools/train.py --config configs/vim_small.yaml --data-dir /data/imagenet
    torchrun --nproc_per_node 8 tools/train.py --config configs/vmamba_tiny.yaml --data-dir /data/imagenet --amp
    torchrun --nproc_per_node 8 tools/train.py --config configs/vim_base.yaml --data-dir /data/imagenet --fsdp
    python tools/train.py --config configs/demo_vim.yaml          # the embedded digits dataset, CPU, minutes

Built on timm's parts (datasets/loaders/transforms, Mixup/CutMix, SoftTargetCrossEntropy, create_optimizer_v2
with no-weight-decay lists and layer decay, create_scheduler_v2, ModelEmaV3, update_summary). Writes into
OUTPUT/EXPERIMENT: summary.csv (one row per epoch, with eval_top1), TensorBoard events, curves.png,
last.pth (every epoch, everything needed to resume), model_best.pth (weights only), recovery.pth (every
--recovery-interval optimizer steps). All are written atomically and read back safely (weights_only), and
--resume restores model, EMA, optimizer, scheduler, scaler, RNG states and the position inside the epoch
(every rank's, under torchrun), so a run killed at any moment and resumed ends as if never killed; --fsdp
runs save full, unsharded weights. The same driver runs tools/train_det.py and tools/train_seg.py.
"""
from vimvision.engine import run
from vimvision.tasks import ClassificationTask


def main(argv=None) -> dict:
    return run(ClassificationTask(), argv, __doc__)


if __name__ == "__main__":
    main()
