"""vimvision: Vim and VMamba state-space vision backbones for timm, on Triton kernels."""
from . import kernels

__version__ = "0.1.0"
__all__ = ["kernels", "__version__"]
