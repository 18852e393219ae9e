"""Train and evaluate semantic segmentation (our backbone + UperNet) on image/mask folders.

    python tools/train_seg.py --data-dir DATA --backbone vmamba_tiny --num-classes 150 --pretrained-path FILE
    torchrun --nproc_per_node 8 tools/train_seg.py --data-dir DATA --backbone vim_small --num-classes 150 \
        --eval-mode slide --eval-stride 341 --flip-tta

DATA holds images/{train,val}/NAME.jpg and masks/{train,val}/NAME.png (class ids, 255 = ignore).
Reports mIoU and pixel accuracy every epoch, on the whole image or sliding windows (mmseg's ``slide``), with
flip and multi-scale test-time augmentation on request; progress, summary.csv, TensorBoard, curves.png, atomic
checkpoints and --resume behave as in tools/train.py (the same driver, vimvision.engine).
"""
from vimvision.engine import run
from vimvision.tasks import SegmentationTask


def main(argv=None) -> dict:
    return run(SegmentationTask(), argv, __doc__)


if __name__ == "__main__":
    main()
