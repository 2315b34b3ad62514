"""Number of Statistically-Different Bins and JS divergence (Richardson & Weiss 2018; Foley Music §4.2 Table 3,
MI Net §4.2 Table 1).

The training examples' log-spectrograms are clustered into ``k`` = 50 Voronoi cells by k-means; generated examples
are assigned to the nearest cell centre (L2); for every cell a two-sided pooled two-proportion z-test compares the
share of training examples with the share of generated examples (``p = (p1 n1 + p2 n2) / (n1 + n2)``,
``z = (p1 − p2) / sqrt(p (1 − p) (1/n1 + 1/n2))``) and NDB counts the cells with p-value < α = 0.05 (cells empty
on both sides are not counted). JS is the Jensen-Shannon divergence (natural log) between the two cell histograms.

Pinned where the papers and the reference code leave it open (reproducible: nothing unseeded): scikit-learn
``KMeans(n_clusters=k, n_init=10, max_iter=100, random_state=seed)`` (max_iter as the reference code) on all
feature dimensions (the reference code's unseeded random dimension subsampling is not used) and without whitening
(the reference default); training cell shares from nearest-centre assignment of the training examples. Features
(:func:`log_spectrogram_features`, MI Net §4.1): 16 kHz audio cut or zero-padded to 4 s (MI Net's segment
length), ``log(1 + |STFT|)`` with a 1024-point Hann window and hop 256 (centred frames), flattened.

DDP: the cell centres must be the same on every process (fit on identical data, or fit on one process and share
them with :meth:`NDB.set_bins`); per-cell counts of generated examples are summed across processes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import Metric

from metrics.fad import clip_list
from metrics.log_mel import as_mono, resample

N_FFT = 1024
HOP = 256
SECONDS = 4.0
SAMPLE_RATE = 16000


def log_spectrogram_features(
    audio: Any, sample_rate: int = SAMPLE_RATE, seconds: float = SECONDS, n_fft: int = N_FFT, hop: int = HOP
) -> torch.Tensor:
    """Clips (``[B, N]``, ``[N]`` or a list) -> ``[B, (n_fft/2+1) * frames]`` flattened ``log(1 + |STFT|)``."""
    length = int(round(seconds * SAMPLE_RATE))
    window = torch.hann_window(n_fft)
    rows = []
    for clip in clip_list(audio):
        signal = resample(as_mono(clip), sample_rate, SAMPLE_RATE)[:length]
        signal = np.pad(signal, (0, length - signal.size))
        spectrum = torch.stft(torch.from_numpy(signal), n_fft, hop, window=window, return_complex=True).abs()
        rows.append(torch.log1p(spectrum).reshape(-1))
    return torch.stack(rows)


def two_proportion_z_test(p1: np.ndarray, n1: float, p2: np.ndarray, n2: float) -> np.ndarray:
    """Two-sided p-values of the pooled two-proportion z-test, per bin (NaN where both proportions are 0 or 1)."""
    from scipy.stats import norm

    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 2.0 * norm.cdf(-np.abs(z))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of two histograms given as proportions."""
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        keep = a > 0
        return float(np.sum(a[keep] * np.log(a[keep] / b[keep])))

    return 0.5 * (kl(p, m) + kl(q, m))


class NDB(Metric):
    """NDB and JS of generated examples against k-means cells of training examples.

    Use: ``ndb.fit(train_features)``, then ``ndb.update(features)`` (or ``update_audio(clips, sample_rate)``),
    ``ndb.compute()`` -> ``{"ndb", "ndb_ratio" (NDB / k), "js"}``.
    """

    full_state_update = False
    higher_is_better = False

    def __init__(
        self, k: int = 50, alpha: float = 0.05, seed: int = 0, n_init: int = 10, max_iter: int = 100, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if k < 2:
            raise ValueError(f"NDB needs k >= 2 cells, got {k}")
        self.k, self.alpha, self.seed, self.n_init, self.max_iter = int(k), float(alpha), int(seed), n_init, max_iter
        self.register_buffer("centers", torch.empty(0, dtype=torch.float64))
        self.register_buffer("train_counts", torch.zeros(self.k, dtype=torch.float64))
        self.add_state("counts", torch.zeros(self.k, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def is_fitted(self) -> bool:
        return self.centers.numel() > 0

    def fit(self, train_features: Any = None, audio: Any = None, sample_rate: int = SAMPLE_RATE) -> NDB:
        """k-means on ``[N, D]`` training features (N >= k), or on training clips ``audio`` turned into
        :func:`log_spectrogram_features`; sets the cells and the training cell shares."""
        from sklearn.cluster import KMeans

        if audio is not None:
            train_features = log_spectrogram_features(audio, sample_rate)
        if train_features is None:
            raise ValueError("NDB.fit needs train_features or audio")
        x = np.asarray(train_features.detach().cpu() if hasattr(train_features, "detach") else train_features)
        x = x.astype(np.float64).reshape(len(x), -1)
        if len(x) < self.k:
            raise ValueError(f"NDB.fit needs at least k={self.k} training examples, got {len(x)}")
        kmeans = KMeans(n_clusters=self.k, n_init=self.n_init, max_iter=self.max_iter, random_state=self.seed).fit(x)
        centers = torch.from_numpy(kmeans.cluster_centers_)
        self.set_bins(centers, torch.bincount(self._assign(torch.from_numpy(x), centers), minlength=self.k))
        return self

    def set_bins(self, centers: torch.Tensor, train_counts: torch.Tensor) -> None:
        """Install cell centres ``[k, D]`` and training counts ``[k]`` (e.g. broadcast from rank 0)."""
        if centers.shape[0] != self.k or train_counts.shape != (self.k,):
            raise ValueError(f"NDB.set_bins: need centers [{self.k}, D] and counts [{self.k}]")
        self.centers = centers.double().to(self.counts.device)
        self.train_counts = train_counts.double().to(self.counts.device)
        self._computed = None  # torchmetrics' cached compute() result is stale now

    @staticmethod
    def _assign(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x.double(), centers.double().to(x.device)).argmin(dim=1)

    def update(self, features: Any = None, audio: Any = None, sample_rate: int = SAMPLE_RATE) -> None:
        """Add generated examples: features ``[B, D]`` (same features as :meth:`fit`), or clips ``audio`` turned
        into :func:`log_spectrogram_features`."""
        if audio is not None:
            self._add(log_spectrogram_features(audio, sample_rate))
        if features is not None:
            self._add(features)

    def _add(self, features: Any) -> None:
        if not self.is_fitted:
            raise RuntimeError("NDB.update() before NDB.fit(train_features) (or set_bins)")
        x = torch.as_tensor(features).double().reshape(len(features), -1).to(self.counts.device)
        if x.shape[1] != self.centers.shape[1]:
            raise ValueError(f"NDB: features have dimension {x.shape[1]}, the cells {self.centers.shape[1]}")
        self.counts += torch.bincount(self._assign(x, self.centers), minlength=self.k).double()

    def update_audio(self, audio: Any, sample_rate: int = SAMPLE_RATE) -> None:
        """Add generated clips as :func:`log_spectrogram_features`."""
        self.update(audio=audio, sample_rate=sample_rate)

    def compute(self) -> dict[str, torch.Tensor]:
        n2 = float(self.counts.sum())
        if not self.is_fitted or n2 == 0:
            raise RuntimeError("NDB.compute() needs fitted cells and at least one generated example")
        n1 = float(self.train_counts.sum())
        p1 = self.train_counts.cpu().numpy() / n1
        p2 = self.counts.cpu().numpy() / n2
        different = int(np.count_nonzero(two_proportion_z_test(p1, n1, p2, n2) < self.alpha))
        return {
            "ndb": torch.tensor(float(different), dtype=torch.float64),
            "ndb_ratio": torch.tensor(different / self.k, dtype=torch.float64),
            "js": torch.tensor(js_divergence(p1, p2), dtype=torch.float64),
        }


__all__ = ["NDB", "js_divergence", "log_spectrogram_features", "two_proportion_z_test"]
