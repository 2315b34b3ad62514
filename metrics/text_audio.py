"""Text-audio consistency: mean cosine similarity of paired text and audio embeddings from a joint model.

The open substitute for V2Meow's MuLan Cycle Consistency (MCC, §4: cosine similarity between the MuLan text
embedding of the prompt and the MuLan audio embedding of the generated music); MuLan's weights are not public, so
the joint model is pluggable: any object with ``embed_text(list[str]) -> [B, D]`` and
``embed_audio(audio [B, N], sample_rate) -> [B, D]`` (a CLAP-style model loaded from a local checkpoint), or no
model and precomputed embeddings passed to :meth:`TextAudioConsistency.update_embeddings`. The logged name says
which model (``text_audio_consistency_<name>``).
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

import torch
from torchmetrics import Metric


@runtime_checkable
class JointTextAudioModel(Protocol):
    name: str

    def embed_text(self, text: list[str]) -> torch.Tensor: ...

    def embed_audio(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor: ...


class TextAudioConsistency(Metric):
    """Mean over pairs of ``cos(text_embedding, audio_embedding)``."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, model: Optional[JointTextAudioModel] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.name = f"text_audio_consistency_{getattr(model, 'name', 'embeddings')}"
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(
        self,
        text: Optional[list[str]] = None,
        audio: Any = None,
        sample_rate: int = 16000,
        text_embeddings: Optional[torch.Tensor] = None,
        audio_embeddings: Optional[torch.Tensor] = None,
    ) -> None:
        """Add paired captions and clips (embedded by the joint model), or paired embeddings ``[B, D]``."""
        if text is not None or audio is not None:
            if self.model is None:
                raise RuntimeError("TextAudioConsistency has no joint model: pass text_embeddings/audio_embeddings")
            with torch.no_grad():
                text_embeddings = self.model.embed_text(list(text))
                audio_embeddings = self.model.embed_audio(audio, sample_rate)
        self._add(text_embeddings, audio_embeddings)

    def update_embeddings(self, text_embeddings: torch.Tensor, audio_embeddings: torch.Tensor) -> None:
        """Add paired embeddings ``[B, D]`` (no joint model needed)."""
        self.update(text_embeddings=text_embeddings, audio_embeddings=audio_embeddings)

    def _add(self, text_embeddings: Any, audio_embeddings: Any) -> None:
        text_embeddings, audio_embeddings = torch.as_tensor(text_embeddings), torch.as_tensor(audio_embeddings)
        if text_embeddings.dim() != 2 or text_embeddings.shape != audio_embeddings.shape:
            raise ValueError(
                f"paired embeddings must both be [B, D]; got {text_embeddings.shape} and {audio_embeddings.shape}"
            )
        cosine = torch.nn.functional.cosine_similarity(text_embeddings.double(), audio_embeddings.double(), dim=-1)
        self.total += cosine.sum()
        self.count += cosine.numel()

    def compute(self) -> torch.Tensor:
        return self.total / self.count.clamp_min(1)


__all__ = ["JointTextAudioModel", "TextAudioConsistency"]
