"""Per-clip KL divergence between classifier label distributions (V2Meow §4 "KL Divergence"; AudioLDM/audiocraft).

For each (generated, reference) pair of clips a classifier gives class probabilities; the score is
``KL(reference ‖ generated) = Σ_c p_ref(c) [log p_ref(c) − log(p_gen(c) + ε)]`` with ε = 1e-6, i.e.
``torch.nn.functional.kl_div(log(p_gen + ε), p_ref, reduction="sum")`` as in audiocraft's ``kl_divergence``; the
metric is the mean over clips. Probabilities come from ``softmax`` of the logits (single-label classifier, the
default) or, with ``activation="sigmoid"``, per-class sigmoids treated the same way (audiocraft's multi-label
option; the sum then runs over unnormalised per-class probabilities). Pinned where the papers are silent: a clip
longer than the classifier's 0.96 s window gets the mean of its windows' probabilities.

The classifier is pluggable (:class:`metrics.audio_model.AudioWindowModel` with a classifier head, e.g. the suite's
own :class:`metrics.suite_embedder.SuiteAudioEmbedder`, or a user-loaded model); ``KLDivergence.name`` is
``kl_<classifier name>``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torchmetrics import Metric

from metrics.audio_model import AudioWindowModel, as_audio_model
from metrics.fad import clip_list

EPSILON = 1e-6


def kl_per_clip(generated_probs: torch.Tensor, reference_probs: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """``[B, C]`` probabilities -> ``[B]`` values of ``KL(reference ‖ generated)`` (audiocraft convention)."""
    generated_probs, reference_probs = generated_probs.double(), reference_probs.double()
    return torch.nn.functional.kl_div((generated_probs + eps).log(), reference_probs, reduction="none").sum(-1)


class KLDivergence(Metric):
    """``update(generated, reference, sample_rate=16000)`` on paired clips; ``compute()`` -> mean KL.

    ``classifier`` may also be a plain callable ``f(waveform [1, N] at 16 kHz) -> logits [C] or [W, C]`` (give
    ``num_classes``).
    """

    full_state_update = False
    higher_is_better = False

    def __init__(
        self,
        classifier: AudioWindowModel,
        activation: Literal["softmax", "sigmoid"] = "softmax",
        num_classes: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if activation not in ("softmax", "sigmoid"):
            raise ValueError(f"activation must be 'softmax' or 'sigmoid', got {activation!r}")
        classifier = as_audio_model(classifier, num_classes)
        self.classifier = classifier.eval()
        self.activation = activation
        self.name = f"kl_{classifier.name}"
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def probabilities(self, clip: Any, sample_rate: int) -> torch.Tensor:
        """Class probabilities ``[C]`` of one clip (mean over its windows)."""
        logits = self.classifier.logits(clip, sample_rate)
        probs = logits.softmax(-1) if self.activation == "softmax" else logits.sigmoid()
        return probs.mean(0)

    def update(
        self,
        generated: Any = None,
        reference: Any = None,
        sample_rate: int = 16000,
        reference_sample_rate: int | None = None,
        generated_probs: torch.Tensor | None = None,
        reference_probs: torch.Tensor | None = None,
    ) -> None:
        """Add paired clips (each ``[B, N]``, ``[N]`` or a list), or pairs of class probabilities ``[B, C]``."""
        if generated_probs is not None or reference_probs is not None:
            self._add(generated_probs, reference_probs)
        if generated is None and reference is None:
            return
        generated, reference = clip_list(generated), clip_list(reference)
        if len(generated) != len(reference):
            raise ValueError(f"{self.name}: {len(generated)} generated clips vs {len(reference)} reference clips")
        if not generated:
            return
        reference_rate = reference_sample_rate or sample_rate
        gen = torch.stack([self.probabilities(c, sample_rate) for c in generated])
        ref = torch.stack([self.probabilities(c, reference_rate) for c in reference])
        self._add(gen, ref)

    def update_probabilities(self, generated_probs: torch.Tensor, reference_probs: torch.Tensor) -> None:
        """Add pairs given as class probabilities ``[B, C]``."""
        self.update(generated_probs=generated_probs, reference_probs=reference_probs)

    def _add(self, generated_probs: Any, reference_probs: Any) -> None:
        generated_probs, reference_probs = torch.as_tensor(generated_probs), torch.as_tensor(reference_probs)
        if generated_probs.shape != reference_probs.shape or generated_probs.dim() != 2:
            raise ValueError(
                f"{self.name}: probabilities must both be [B, C]; got {generated_probs.shape}, {reference_probs.shape}"
            )
        values = kl_per_clip(generated_probs, reference_probs).to(self.total.device)
        self.total += values.sum()
        self.count += values.numel()

    def compute(self) -> torch.Tensor:
        return self.total / self.count.clamp_min(1)


__all__ = ["KLDivergence", "kl_per_clip"]
