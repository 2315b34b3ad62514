"""Seeded mini-batch k-means (models/nn/kmeans.py): deterministic for a seed, inertia as scikit-learn's KMeans."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from models.nn.kmeans import MiniBatchKMeans, kmeans, kmeans_plus_plus, squared_distances


def _blobs(seed: int = 0, n: int = 3000, k: int = 12, dim: int = 8) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (k, dim))
    labels = rng.integers(0, k, n)
    points = centres[labels] + rng.normal(0.0, 1.0, (n, dim)) * rng.uniform(0.5, 1.5, (k, 1))[labels]
    return torch.from_numpy(points.astype(np.float32))


def test_squared_distances_by_hand() -> None:
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    c = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    assert squared_distances(x, c).tolist() == [[0.0, 2.0], [25.0, 13.0]]


def test_inertia_within_one_percent_of_scikit_learn() -> None:
    x = _blobs()
    reference = KMeans(n_clusters=12, n_init=10, random_state=0).fit(x.numpy()).inertia_
    model = MiniBatchKMeans(12, batch_size=512, max_iter=150, seed=0).fit(x)
    assert model.inertia(x) == pytest.approx(reference, rel=0.01)
    assert model.centroids.shape == (12, 8)
    assert model.predict(x).shape == (3000,)
    assert model(x.reshape(30, 100, 8)).shape == (30, 100)


def test_deterministic_for_a_seed_and_state_dict() -> None:
    x = _blobs(seed=1, n=800, k=6, dim=4)
    a = MiniBatchKMeans(6, batch_size=100, max_iter=30, seed=3).fit(x)
    b = MiniBatchKMeans(6, batch_size=100, max_iter=30, seed=3).fit(x)
    c = MiniBatchKMeans(6, batch_size=100, max_iter=30, seed=4).fit(x)
    assert torch.equal(a.centroids, b.centroids)
    assert not torch.equal(a.centroids, c.centroids)
    loaded = MiniBatchKMeans(6)
    loaded.load_state_dict(a.state_dict())
    assert torch.equal(loaded.predict(x), a.predict(x))
    assert torch.equal(kmeans(x, 6, seed=2), kmeans(x, 6, seed=2))


def test_partial_fit_streams_and_mini_batch_update_rule() -> None:
    model = MiniBatchKMeans(2, seed=0)
    model.partial_fit(torch.tensor([[0.0], [10.0]]))  # seeds on these two points, then one step: each hits itself
    assert sorted(model.centroids.flatten().tolist()) == [0.0, 10.0]
    assert model.counts.tolist() == [1.0, 1.0]
    # second batch: both points go to the centre at 0, batch mean 1, rate 2/(1+2): 0 + 2/3 · (1 - 0)
    model.partial_fit(torch.tensor([[0.5], [1.5]]))
    low = int(model.centroids.flatten().argmin())
    assert model.centroids[low].item() == pytest.approx(2 / 3)
    assert model.counts[low].item() == 3.0


def test_kmeans_plus_plus_spreads_and_errors() -> None:
    x = torch.tensor([[0.0], [0.1], [100.0], [100.1]])
    centres = kmeans_plus_plus(x, 2, torch.Generator().manual_seed(0))
    assert abs(centres[0, 0] - centres[1, 0]) > 50  # D² sampling picks both clusters
    with pytest.raises(ValueError, match="NaN"):
        MiniBatchKMeans(2).fit(torch.tensor([[0.0], [float("nan")], [1.0]]))
    with pytest.raises(ValueError, match="points for 5 clusters"):
        MiniBatchKMeans(5).fit(torch.zeros(3, 2))
    with pytest.raises(RuntimeError, match="not fitted"):
        MiniBatchKMeans(2).predict(x)
