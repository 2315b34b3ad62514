"""K-nearest-neighbour classification accuracy of learned features (MI Net §4.2 "Classification with Body Motion
Features", Table 2): a K = 1 nearest-neighbour classifier with cosine similarity on the body-motion encoder's final
hidden states, scored by accuracy.

Two modes, both with scikit-learn's ``KNeighborsClassifier`` / ``NearestNeighbors`` (``metric="cosine"``, brute
force): features added with ``reference=True`` form the fitted set and the others are classified against it; without
any reference features, leave-one-out over the query set (each sample's nearest *other* sample). MI Net does not
say which it used; leave-one-out on the evaluation split is the default here because it needs no second split.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class KNNAccuracy(Metric):
    """Accuracy of a ``k``-NN (cosine) classifier; ``update(features [B, D], labels [B], reference=False)``."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, k: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = int(k)
        for name in ("features", "labels", "ref_features", "ref_labels"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, features: torch.Tensor, labels: torch.Tensor, reference: bool = False) -> None:
        features, labels = torch.as_tensor(features), torch.as_tensor(labels)
        if features.dim() != 2 or labels.shape != features.shape[:1]:
            raise ValueError(
                f"KNNAccuracy expects features [B, D] and labels [B]; got {features.shape}, {labels.shape}"
            )
        if reference:
            self.ref_features.append(features.detach().double())
            self.ref_labels.append(labels.detach().long())
        else:
            self.features.append(features.detach().double())
            self.labels.append(labels.detach().long())

    def compute(self) -> torch.Tensor:
        from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

        x, y = _gathered(self.features), _gathered(self.labels)
        if x is None:
            raise RuntimeError("KNNAccuracy.compute() called before any query features were added")
        x, y = x.cpu().numpy(), y.cpu().numpy()
        ref_x, ref_y = _gathered(self.ref_features), _gathered(self.ref_labels)
        if ref_x is not None:
            ref_x, ref_y = ref_x.cpu().numpy(), ref_y.cpu().numpy()
            classifier = KNeighborsClassifier(n_neighbors=self.k, metric="cosine", algorithm="brute").fit(ref_x, ref_y)
            predicted = classifier.predict(x)
        else:
            if len(x) <= self.k:
                raise RuntimeError(f"KNNAccuracy leave-one-out needs more than k={self.k} samples, got {len(x)}")
            neighbours = NearestNeighbors(n_neighbors=self.k, metric="cosine", algorithm="brute").fit(x)
            index = neighbours.kneighbors(return_distance=False)  # excludes each sample itself
            predicted = np.array([np.bincount(row).argmax() for row in y[index]])
        return torch.tensor(float((predicted == y).mean()), dtype=torch.float64)


def _gathered(state: list[torch.Tensor] | torch.Tensor) -> torch.Tensor | None:
    """A "cat" state as one tensor (a list before synchronisation, a tensor after it), or None when empty."""
    if isinstance(state, list):
        return dim_zero_cat(state) if state else None
    return state if state.numel() else None


__all__ = ["KNNAccuracy"]
