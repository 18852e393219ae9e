"""Train and evaluate detection / instance segmentation (torchvision detectors on our backbones) on
COCO-format data, with COCO mAP from pycocotools.

    python tools/train_det.py --data-dir /data/coco --train-images train2017 \
        --train-ann annotations/instances_train2017.json \
        --val-images val2017 --val-ann annotations/instances_val2017.json --backbone vmamba_tiny --arch mask_rcnn
    torchrun --nproc_per_node 8 tools/train_det.py ...   (same options)

Labels are COCO category ids (num_classes = max id + 1, torchvision's convention). Progress, summary.csv,
TensorBoard, curves.png, atomic checkpoints and --resume behave as in tools/train.py (the same driver,
vimvision.engine).
"""
from vimvision.engine import run
from vimvision.tasks import DetectionTask


def main(argv=None) -> dict:
    return run(DetectionTask(), argv, __doc__)


if __name__ == "__main__":
    main()
