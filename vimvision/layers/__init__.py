"""Token mixers and blocks shared by the model families."""
from .bimamba import BiMambaMixer

__all__ = ["BiMambaMixer"]
