"""vimvision: Vim and VMamba state-space vision backbones for timm, on Triton kernels.

Importing it registers the models with timm (``timm.create_model('vim_small')``) and the dense
backbones with mmengine (``type='VMambaBackbone'`` in mmdet/mmseg configs), and teaches fvcore
to count our ops (``FlopCountAnalysis`` anywhere, e.g. timm's ``benchmark.py``, counts the scan).
"""
from . import dense, kernels, layers, models
from .compile import compile_blocks
from .flops import register_fvcore_handles

register_fvcore_handles()

__version__ = "0.1.0"
__all__ = ["compile_blocks", "dense", "kernels", "layers", "models", "__version__"]
