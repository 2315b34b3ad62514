"""k-means in torch: k-means++ seeding, batch Lloyd iterations and seeded mini-batch k-means.

- :func:`kmeans_plus_plus` picks initial centres by D² sampling (Arthur & Vassilvitskii 2007).
- :func:`lloyd` runs full-batch Lloyd iterations (used, for example, to initialise a codebook on one batch).
- :class:`MiniBatchKMeans` is Sculley's (2010) mini-batch k-means: each centre moves towards the mean of the points
  assigned to it with a per-centre learning rate ``1 / count``. Every random draw comes from a ``torch.Generator``
  seeded with ``seed`` (on the CPU), so a fit is deterministic for a seed. Centres and counts are buffers: a fitted
  model lives in a ``state_dict`` (and so in a checkpoint).

Distances are squared Euclidean; inputs are ``[N, D]`` float tensors (any device; the arithmetic is float32).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn


def squared_distances(x: Tensor, centres: Tensor) -> Tensor:
    """``[N, K]`` squared Euclidean distances between rows of ``x`` [N, D] and ``centres`` [K, D] (clamped ≥ 0)."""
    dist = x.pow(2).sum(1, keepdim=True) - 2.0 * x @ centres.t() + centres.pow(2).sum(1)[None, :]
    return dist.clamp_min(0.0)


def assign(x: Tensor, centres: Tensor, chunk: int = 65536) -> tuple[Tensor, Tensor]:
    """Nearest centre of every row of ``x``: ``(index [N] long, squared distance [N])``, computed in chunks."""
    indices, dists = [], []
    for start in range(0, x.shape[0], chunk):
        d = squared_distances(x[start : start + chunk], centres)
        best, idx = d.min(dim=1)
        indices.append(idx)
        dists.append(best)
    if not indices:
        return x.new_zeros(0, dtype=torch.long), x.new_zeros(0)
    return torch.cat(indices), torch.cat(dists)


def _check_points(x: Tensor, where: str) -> Tensor:
    if x.dim() != 2:
        raise ValueError(f"{where}: expected points [N, D], got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{where}: no points given")
    if not torch.isfinite(x).all():
        raise ValueError(f"{where}: points contain NaN or Inf")
    return x.float()


def kmeans_plus_plus(x: Tensor, k: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """``k`` initial centres [k, D] drawn from the rows of ``x`` by greedy D² sampling (k-means++).

    Each new centre is the best (lowest resulting inertia) of ``2 + ⌊ln k⌋`` candidates drawn with probability
    proportional to the squared distance to the nearest chosen centre (the greedy variant of Arthur &
    Vassilvitskii 2007, §6). With fewer distinct points than ``k`` the remaining centres repeat points.
    """
    x = _check_points(x, "kmeans_plus_plus")
    n = x.shape[0]
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    trials = 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=generator))
    centres = [x[first]]
    closest = squared_distances(x, x[first][None]).squeeze(1)
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:
            candidates = torch.randint(n, (trials,), generator=generator)
        else:
            probs = (closest / total).double().cpu()
            candidates = torch.multinomial(probs, trials, replacement=True, generator=generator)
        candidates = candidates.to(x.device)
        options = torch.minimum(closest[None, :], squared_distances(x[candidates], x))
        best = int(options.sum(dim=1).argmin())
        centres.append(x[candidates[best]])
        closest = options[best]
    return torch.stack(centres)


def lloyd(x: Tensor, centres: Tensor, num_iters: int = 10) -> Tensor:
    """``num_iters`` full-batch Lloyd iterations from ``centres`` [K, D]; empty clusters keep their centre."""
    x = _check_points(x, "lloyd")
    centres = centres.float().clone()
    for _ in range(num_iters):
        idx, _ = assign(x, centres)
        sums = torch.zeros_like(centres).index_add_(0, idx, x)
        counts = torch.bincount(idx, minlength=centres.shape[0]).to(x.dtype)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def kmeans(x: Tensor, k: int, num_iters: int = 10, seed: int = 0) -> Tensor:
    """k-means++ seeding then ``num_iters`` Lloyd iterations on ``x`` [N, D]: centres [k, D] (deterministic)."""
    generator = torch.Generator().manual_seed(seed)
    return lloyd(x, kmeans_plus_plus(x, k, generator), num_iters)


class MiniBatchKMeans(nn.Module):
    """Seeded mini-batch k-means (Sculley 2010) with k-means++ seeding.

    Args:
        n_clusters: number of centres K.
        batch_size: points per mini-batch.
        max_iter: mini-batch steps of :meth:`fit`.
        init_size: points the k-means++ seeding looks at (default ``max(3 * batch_size, 3 * n_clusters)``,
            capped at N).
        n_init: complete runs (seeding + mini-batch steps) of :meth:`fit`; the one with the lowest inertia on the
            data (a 64k-point sample of larger data) is kept.
        seed: seed of every random draw (seeding, mini-batch sampling): equal seeds give equal centres.
        refine_iters: full-batch Lloyd iterations after the mini-batch phase (0 = pure mini-batch k-means); cheap
            for the data sizes this suite clusters and they close most of the gap to batch k-means.
    """

    def __init__(
        self,
        n_clusters: int,
        batch_size: int = 1024,
        max_iter: int = 100,
        init_size: Optional[int] = None,
        n_init: int = 3,
        seed: int = 0,
        refine_iters: int = 0,
    ) -> None:
        super().__init__()
        if n_clusters < 1 or batch_size < 1 or max_iter < 0 or n_init < 1:
            raise ValueError(
                f"MiniBatchKMeans: n_clusters, batch_size and n_init must be >= 1 and max_iter >= 0 "
                f"(got {n_clusters}, {batch_size}, {n_init}, {max_iter})"
            )
        self.n_clusters = n_clusters
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.init_size = init_size
        self.n_init = n_init
        self.seed = seed
        self.refine_iters = refine_iters
        self.register_buffer("centroids", torch.zeros(0))
        self.register_buffer("counts", torch.zeros(0))

    @property
    def fitted(self) -> bool:
        return self.centroids.numel() > 0

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        # A fitted model's buffers have other shapes than the empty placeholders: take them as they come.
        for name in ("centroids", "counts"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _one_run(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Seeding on ``init_size`` points, then ``max_iter`` mini-batch steps: centres [K, D]."""
        n = x.shape[0]
        size = min(self.init_size or max(3 * self.batch_size, 3 * self.n_clusters), n)
        sample = x[torch.randperm(n, generator=generator)[:size].to(x.device)]
        self.centroids = kmeans_plus_plus(sample, self.n_clusters, generator)
        self.counts = torch.zeros(self.n_clusters, device=x.device)
        for _ in range(self.max_iter):
            index = torch.randint(n, (min(self.batch_size, n),), generator=generator).to(x.device)
            self._step(x[index])
        return self.centroids

    @torch.no_grad()
    def partial_fit(self, batch: Tensor) -> MiniBatchKMeans:
        """One mini-batch step on ``batch`` [b, D] (seeds from this batch when unfitted)."""
        batch = _check_points(batch, "MiniBatchKMeans.partial_fit")
        if not self.fitted:
            generator = torch.Generator().manual_seed(self.seed)
            self.centroids = kmeans_plus_plus(batch, self.n_clusters, generator)
            self.counts = torch.zeros(self.n_clusters, device=batch.device)
        self._step(batch)
        return self

    def _step(self, batch: Tensor) -> None:
        idx, _ = assign(batch, self.centroids)
        counts = torch.bincount(idx, minlength=self.n_clusters).to(batch.dtype)
        sums = torch.zeros_like(self.centroids).index_add_(0, idx, batch)
        self.counts += counts
        hit = counts > 0
        # c <- c + (1 / n_total) * (sum_batch - count_batch * c): Sculley's per-point update, applied per batch.
        rate = counts[hit] / self.counts[hit]
        means = sums[hit] / counts[hit, None]
        self.centroids[hit] += rate[:, None] * (means - self.centroids[hit])

    @torch.no_grad()
    def fit(self, x: Tensor) -> MiniBatchKMeans:
        """Fit on ``x`` [N, D]: seeding, ``max_iter`` mini-batch steps, then ``refine_iters`` Lloyd iterations."""
        x = _check_points(x, "MiniBatchKMeans.fit")
        if x.shape[0] < self.n_clusters:
            raise ValueError(f"MiniBatchKMeans.fit: {x.shape[0]} points for {self.n_clusters} clusters")
        generator = torch.Generator().manual_seed(self.seed)
        n = x.shape[0]
        # runs are compared on one evaluation sample (all points up to 64k)
        evaluation = x if n <= 65536 else x[torch.randperm(n, generator=generator)[:65536].to(x.device)]
        best, best_inertia = None, float("inf")
        for _ in range(self.n_init):
            centres, counts = self._one_run(x, generator), self.counts
            inertia = float(assign(evaluation, centres)[1].double().sum())
            if inertia < best_inertia:
                best, best_counts, best_inertia = centres, counts, inertia
        self.centroids, self.counts = best, best_counts
        if self.refine_iters:
            self.centroids = lloyd(x, self.centroids, self.refine_iters)
        return self

    def _require_fitted(self, where: str) -> None:
        if not self.fitted:
            raise RuntimeError(f"MiniBatchKMeans.{where}: the model is not fitted (call fit or load a state_dict)")

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Index of the nearest centre of every row of ``x`` [N, D] (long [N])."""
        self._require_fitted("predict")
        return assign(x.float(), self.centroids)[0]

    def forward(self, x: Tensor) -> Tensor:
        """Cluster indices of ``x`` [..., D] (any leading shape)."""
        return self.predict(x.reshape(-1, x.shape[-1])).reshape(x.shape[:-1])

    @torch.no_grad()
    def inertia(self, x: Tensor) -> float:
        """Sum of squared distances of the rows of ``x`` to their nearest centre."""
        self._require_fitted("inertia")
        return float(assign(x.float(), self.centroids)[1].double().sum())


__all__ = ["MiniBatchKMeans", "assign", "kmeans", "kmeans_plus_plus", "lloyd", "squared_distances"]
