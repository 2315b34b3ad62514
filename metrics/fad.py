"""Fréchet Audio Distance (Kilgour et al. 2019), as reported by V2Meow (§4, Table 1: "FAD VGG", "FAD TRILL").

Each clip is cut into VGGish's 0.96 s windows at 16 kHz (:mod:`metrics.log_mel`); every window's embedding is one
sample; the generated and the reference sets are each summarised by the mean and (unbiased, ``n - 1``) covariance of
their window embeddings and FAD is :func:`metrics.frechet.frechet_distance` between the two Gaussians. Running sums
(Σx, Σxxᵀ, n) are float64 and summed across processes, so FAD is exact under DDP.

FAD∞ (Gui et al. 2024, fadtk ``score_inf``): the generated embeddings are resampled with replacement at ``steps``
sizes ``n`` evenly spaced from ``min_n`` to all of them (seeded), FAD against the full reference statistics is
computed for each, a line is fitted to FAD against 1/n, and its intercept is FAD∞. fadtk's ``min_n = 500`` and
``steps = 25`` are the defaults; with fewer than ``2 * min_n`` generated windows ``min_n`` becomes half of them.

The embedder is pluggable (:class:`metrics.audio_model.AudioWindowModel`): VGGish from a local checkpoint
(:class:`metrics.vggish.VGGish`) or the suite's own trained model (:class:`metrics.suite_embedder.SuiteAudioEmbedder`).
``FAD.name`` is ``fad_<embedder name>`` (``fad_vggish``, ``fad_suite_embedder``): values from different embedders
are not comparable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from metrics.audio_model import AudioWindowModel, as_audio_model
from metrics.frechet import frechet_distance


def clip_list(audio: Any) -> list[Any]:
    """A batch of clips as a list: a [B, N] tensor/array gives B clips, a [N] one clip, a list stays as it is."""
    if isinstance(audio, (list, tuple)):
        return list(audio)
    if getattr(audio, "ndim", 1) == 2:
        return list(audio)
    return [audio]


class FAD(Metric):
    """``update(audio, real, sample_rate=16000)``; ``compute()`` -> FAD (float64 tensor); :meth:`fad_infinity`.

    Args:
        embedder: the audio embedding model.
        keep_embeddings: also keep the generated windows' embeddings (needed by :meth:`fad_infinity`).
        seed: seed of FAD∞'s resampling.
        embedding_dim: output size when ``embedder`` is a plain callable (wrapped by
            :func:`metrics.audio_model.as_audio_model`: one call per 16 kHz clip ``[1, N]`` -> ``[D]`` or ``[W, D]``).
    """

    full_state_update = False
    higher_is_better = False

    def __init__(
        self,
        embedder: AudioWindowModel,
        keep_embeddings: bool = True,
        seed: int = 0,
        embedding_dim: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        embedder = as_audio_model(embedder, embedding_dim)
        self.embedder = embedder.eval()
        self.name = f"fad_{embedder.name}"
        self.keep_embeddings = keep_embeddings
        self.seed = int(seed)
        dim = int(embedder.embedding_dim)
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("fake_embeddings", default=[], dist_reduce_fx="cat")

    def update(self, audio: Any = None, real: bool = True, sample_rate: int = 16000, embeddings: Any = None) -> None:
        """Add clips (``[B, N]``, ``[N]`` or a list of 1-D waveforms at ``sample_rate``) to one side, or
        precomputed window ``embeddings`` ``[W, D]``."""
        if embeddings is not None:
            self._add(torch.as_tensor(embeddings), real)
        for clip in clip_list(audio) if audio is not None else []:
            self._add(self.embedder.embed(clip, sample_rate), real)

    def update_embeddings(self, embeddings: torch.Tensor, real: bool) -> None:
        """Add precomputed window embeddings ``[W, D]``."""
        self.update(real=real, embeddings=embeddings)

    def _add(self, embeddings: torch.Tensor, real: bool) -> None:
        x = embeddings.to(self.real_sum.device).double()
        if x.dim() != 2 or x.shape[1] != self.real_sum.shape[0]:
            raise ValueError(f"{self.name}: embeddings must be [W, {self.real_sum.shape[0]}], got {tuple(x.shape)}")
        side = "real" if real else "fake"
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + x.sum(0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + x.T @ x)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + x.shape[0])
        if not real and self.keep_embeddings:
            self.fake_embeddings.append(x)

    def statistics(self, real: bool) -> tuple[np.ndarray, np.ndarray]:
        """Mean and unbiased covariance of one side's window embeddings (float64 numpy)."""
        side = "real" if real else "fake"
        n = float(getattr(self, f"{side}_n"))
        if n < 2:
            raise RuntimeError(f"{self.name}: need at least 2 {side} embedding windows, have {int(n)}")
        total = getattr(self, f"{side}_sum").cpu().numpy()
        outer = getattr(self, f"{side}_outer").cpu().numpy()
        mu = total / n
        return mu, (outer - n * np.outer(mu, mu)) / (n - 1)

    def compute(self) -> torch.Tensor:
        mu_r, sigma_r = self.statistics(True)
        mu_f, sigma_f = self.statistics(False)
        return torch.tensor(frechet_distance(mu_f, sigma_f, mu_r, sigma_r), dtype=torch.float64)

    def fad_infinity(self, min_n: int = 500, steps: int = 25) -> dict[str, float]:
        """FAD∞ (fadtk convention; see the module docstring): ``{"fad_inf", "slope", "r2"}``."""
        if not self.keep_embeddings:
            raise RuntimeError(f"{self.name}: FAD∞ needs keep_embeddings=True")
        with self.sync_context():  # gather every process's embeddings and sums under DDP
            fake = dim_zero_cat(self.fake_embeddings).cpu().numpy() if len(self.fake_embeddings) else np.empty((0, 0))
            fake = fake.reshape(-1, self.real_sum.shape[0])
            mu_r, sigma_r = self.statistics(True)
        total = len(fake)
        if total < 4:
            raise RuntimeError(f"{self.name}: FAD∞ needs at least 4 generated windows, have {total}")
        low = min_n if total >= 2 * min_n else total // 2
        ns = np.unique(np.linspace(low, total, steps).astype(int))
        rng = np.random.default_rng(self.seed)
        scores = []
        for n in ns:
            sample = fake[rng.choice(total, size=n, replace=True)]
            scores.append(frechet_distance(sample.mean(0), np.cov(sample, rowvar=False), mu_r, sigma_r))
        xs, ys = 1.0 / ns, np.asarray(scores)
        slope, intercept = np.polyfit(xs, ys, 1)
        residual = ys - (slope * xs + intercept)
        spread = np.sum((ys - ys.mean()) ** 2)
        return {"fad_inf": float(intercept), "slope": float(slope), "r2": float(1 - residual @ residual / spread)}


__all__ = ["FAD", "clip_list"]
