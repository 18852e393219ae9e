"""The training tasks run by vimvision.engine.driver: each a small adapter (model, data, loss, metrics)."""
from .classification import ClassificationTask
from .detection import DetectionTask
from .segmentation import SegmentationTask

__all__ = ["ClassificationTask", "DetectionTask", "SegmentationTask"]
