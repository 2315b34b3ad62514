"""V2Meow (Su et al., AAAI 2024): the model (:class:`V2Meow`) and its pretrained stand-ins (docs/V2MEOW.md)."""

from models.v2meow.model import V2Meow
from models.v2meow.standins import JointEmbedding, SemanticTokens, SoundStreamCodec

__all__ = ["JointEmbedding", "SemanticTokens", "SoundStreamCodec", "V2Meow"]
