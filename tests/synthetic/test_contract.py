"""The contract of every writer in the synthetic registry (datamodules/synthetic/__init__.py, docs/SYNTHETIC.md):
the same seed writes the same bytes and another seed other data; the root carries the SYNTHETIC.json marker; the
writer's DataModule reads the dataset back as synthetic batches of the expected shapes. A writer added to the registry
is covered here automatically; its format details and learnability are tested in tests/synthetic/test_<name>.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datamodules.synthetic import MARKER, WRITERS, read_marker, write
from tests.helpers.synthetic_checks import CONTRACT_MINUTES, case, stub_video_features, tree_digest

DATASETS = sorted(WRITERS)


@pytest.mark.parametrize("dataset", DATASETS)
def test_same_seed_same_bytes_other_seed_other_data(dataset: str, written, tmp_path: Path, monkeypatch) -> None:
    if case(dataset).stub_features:
        stub_video_features(monkeypatch)
        first = write(dataset, tmp_path / "first", minutes=CONTRACT_MINUTES, seed=0)
    else:
        first = written(dataset, CONTRACT_MINUTES, 0)
    again = write(dataset, tmp_path / "again", minutes=CONTRACT_MINUTES, seed=0)
    other = write(dataset, tmp_path / "other", minutes=CONTRACT_MINUTES, seed=1)
    digest = tree_digest(first)
    assert tree_digest(again) == digest  # same files, byte for byte
    data = {path: md5 for path, md5 in digest.items() if path != MARKER}
    other_data = {path: md5 for path, md5 in tree_digest(other).items() if path != MARKER}
    assert other_data != data
    unchanged = {path for path in data.keys() & other_data.keys() if data[path] == other_data[path]}
    assert unchanged <= case(dataset).fixed_files, f"{dataset}: files the seed does not change: {sorted(unchanged)}"
    assert read_marker(other)["seed"] == 1


@pytest.mark.parametrize("dataset", DATASETS)
def test_marker_says_synthetic(dataset: str, written) -> None:
    marker = read_marker(written(dataset))
    assert marker["synthetic"] is True and marker["dataset"] == dataset
    assert (marker["minutes"], marker["seed"]) == (case(dataset).minutes, 0)


@pytest.mark.parametrize("dataset", DATASETS)
def test_round_trip_through_its_datamodule(dataset: str, round_trip) -> None:
    dm, batch = round_trip(dataset)
    assert dm.is_synthetic and batch["meta"]
    if case(dataset).meta_says_synthetic:
        assert all(m["synthetic"] for m in batch["meta"])
    for key, shape in case(dataset).shapes.items():
        assert tuple(batch[key].shape) == shape, (key, tuple(batch[key].shape))
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            assert torch.isfinite(value).all(), key
