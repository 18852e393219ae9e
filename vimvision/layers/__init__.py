"""Token mixers and blocks shared by the model families."""
from .bimamba import BiMambaMixer
from .ss2d import SS2D

__all__ = ["BiMambaMixer", "SS2D"]
