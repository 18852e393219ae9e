"""Token mixers and blocks shared by the model families."""
from .bimamba import BiMambaMixer
from .forgetting_attention import ForgettingAttention
from .ss2d import SS2D

__all__ = ["BiMambaMixer", "ForgettingAttention", "SS2D"]
