"""The pluggable audio model behind FAD and KL: a network over VGGish log-mel examples (0.96 s windows).

An :class:`AudioWindowModel` turns one clip into per-window embeddings (``embed``, for FAD) and, when it has a
classifier head, per-window class logits (``logits``, for KL). ``name`` says which model it is; metrics put it in
their logged names (``fad_vggish``, ``kl_suite_embedder``), so numbers from different embedders are never mixed up.
Implementations: :class:`metrics.vggish.VGGish` (user's checkpoint) and
:class:`metrics.suite_embedder.SuiteAudioEmbedder` (trained by this project on its synthetic world).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from metrics.log_mel import SAMPLE_RATE, as_mono, log_mel_examples, resample


class AudioWindowModel(nn.Module):
    """Base class: ``forward_examples([W, 96, 64]) -> ([W, D] embeddings, [W, C] logits or None)``.

    Subclasses set ``name`` and ``embedding_dim`` (and ``num_classes`` when they classify).
    """

    name: str = "audio_model"
    embedding_dim: int = 128
    num_classes: int = 0
    max_windows_per_call: int = 256

    def forward_examples(self, examples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def _run(self, audio: Any, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        examples = log_mel_examples(audio, sample_rate)
        device = next(self.parameters()).device
        embeddings, logits = [], []
        was_training = self.training
        self.eval()
        with torch.no_grad():
            for chunk in examples.split(self.max_windows_per_call):
                embedding, logit = self.forward_examples(chunk.to(device))
                embeddings.append(embedding.double().cpu())
                if logit is not None:
                    logits.append(logit.double().cpu())
        self.train(was_training)
        return torch.cat(embeddings), (torch.cat(logits) if logits else None)

    def embed(self, audio: Any, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
        """One mono clip -> ``[windows, embedding_dim]`` float64 embeddings (one per 0.96 s window)."""
        return self._run(audio, sample_rate)[0]

    def logits(self, audio: Any, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
        """One mono clip -> ``[windows, num_classes]`` float64 class logits."""
        logits = self._run(audio, sample_rate)[1]
        if logits is None:
            raise RuntimeError(f"audio model {self.name!r} has no classifier head; KL needs one")
        return logits


class CallableAudioModel(AudioWindowModel):
    """Adapter for a plain callable (module or function) ``f(waveform [1, N] at 16 kHz) -> [D] or [W, D]``.

    Used for embedders/classifiers that do their own framing: the whole clip (resampled to 16 kHz) is one call.
    ``embed`` and ``logits`` both return the callable's output as ``[W, D]`` float64.
    """

    def __init__(self, function: Any, embedding_dim: int, name: str | None = None) -> None:
        super().__init__()
        self.function = function
        self.embedding_dim = self.num_classes = int(embedding_dim)
        self.name = name or getattr(function, "name", None) or type(function).__name__.lower()
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=False)  # gives the adapter a device

    def _run(self, audio: Any, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
        signal = torch.from_numpy(resample(as_mono(audio), sample_rate)).to(self._anchor.device)[None]
        with torch.no_grad():
            out = torch.as_tensor(self.function(signal)).double().cpu().reshape(-1, self.embedding_dim)
        return out, out


def as_audio_model(model: Any, embedding_dim: int | None = None, name: str | None = None) -> AudioWindowModel:
    """``model`` itself when it is an :class:`AudioWindowModel`, else wrapped in :class:`CallableAudioModel`."""
    if isinstance(model, AudioWindowModel):
        return model
    if not callable(model):
        raise TypeError(f"expected an AudioWindowModel or a callable, got {type(model).__name__}")
    dim = embedding_dim or getattr(model, "embedding_dim", None) or getattr(model, "num_classes", None)
    if not dim:
        raise ValueError("a plain callable audio model needs embedding_dim= (its output size)")
    return CallableAudioModel(model, int(dim), name)


__all__ = ["AudioWindowModel", "CallableAudioModel", "as_audio_model"]
