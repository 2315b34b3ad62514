"""URMPFeaturesDataModule: per-second video features cached once, sliced to each clip (Foley Table 4 inputs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamodules.urmp_features import URMPFeaturesDataModule, feature_file


def test_clip_features_are_the_cached_rows(tmp_path) -> None:
    dm = URMPFeaturesDataModule(
        fields=("events", "instrument"),
        feature_kinds=("flow",),
        features_root=str(tmp_path / "features"),
        synthetic_minutes=0.5,
        batch_size=2,
        max_events=64,
    )
    dm.prepare_data()
    dm.setup("fit")
    assert dm.feature_dim == 45
    dataset = dm.dataset("val")
    sample = dataset[0]
    features = sample["visual_features"]
    assert features.shape == (6, 45)
    cached = np.load(feature_file(tmp_path / "features", "flow", sample["meta"]["video"]))
    first = int(math.floor(sample["meta"]["start"] + 1e-6))
    rows = np.minimum(np.arange(first, first + 6), len(cached) - 1)
    assert np.allclose(features.numpy(), cached[rows])
    assert not list((tmp_path / "features").rglob(".*tmp*"))  # atomic writes left no temporaries
    batch = next(iter(dm.train_dataloader()))
    assert batch["visual_features"].shape == (2, 6, 45) and batch["events"].shape == (2, 64)


def test_unknown_feature_kind_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="feature_kinds"):
        URMPFeaturesDataModule(feature_kinds=("i3d",))
