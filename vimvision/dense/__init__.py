"""Backbones for detection and segmentation: mmengine-registered (mmdet/mmseg) and torchvision builders."""
from .backbones import SimpleFeaturePyramid, VimBackbone, VMambaBackbone
from .mm_checkpoints import allow_mmengine_checkpoints
from .optim import LayerDecayOptimWrapperConstructor
from .torchvision import UperNetHead, segmentation_model, torchvision_detector
from .vitdet import LastLevelMaxPool, LN2d

__all__ = [
    "LN2d", "LastLevelMaxPool", "LayerDecayOptimWrapperConstructor", "SimpleFeaturePyramid", "UperNetHead",
    "VMambaBackbone", "VimBackbone", "allow_mmengine_checkpoints", "segmentation_model", "torchvision_detector",
]

allow_mmengine_checkpoints()  # custom_imports=['vimvision'] makes resume / load_from work on torch >= 2.6
