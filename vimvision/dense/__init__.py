"""Backbones for detection and segmentation: mmengine-registered (mmdet/mmseg) and torchvision builders."""
from .backbones import SimpleFeaturePyramid, VimBackbone, VMambaBackbone
from .torchvision import UperNetHead, segmentation_model, torchvision_detector

__all__ = ["SimpleFeaturePyramid", "UperNetHead", "VMambaBackbone", "VimBackbone", "segmentation_model",
           "torchvision_detector"]
