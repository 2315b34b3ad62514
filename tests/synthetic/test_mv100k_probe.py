"""What the synthetic music videos' visual features tell (docs/SYNTHETIC.md, Music videos): genre and energy are
readable from them on held-out videos, the lead instrument is not (it is drawn apart from the picture). Linear and
nearest-neighbour probes on the 1-fps ``effnet_lite0`` + ``flow`` features and on bags of ``effnet_tokens``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

PROBE_MINUTES = 4.0  # 22 videos of 11 s: at least three per genre, so the splits are stratified


def load(root: Path) -> list[dict]:
    """Per video: genre, lead, split, per-second energy, per-second features [T, D] and the bag of tokens [8192]."""
    with open(root / "videos.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    videos = []
    for row in rows:
        effnet = np.load(root / "features" / "effnet_lite0" / f"{row['id']}.npy")
        flow = np.load(root / "features" / "flow" / f"{row['id']}.npy")
        tokens = np.load(root / "features" / "effnet_tokens" / f"{row['id']}.npy")
        effnet = effnet / np.linalg.norm(effnet, axis=1, keepdims=True)
        videos.append(
            {
                "genre": row["genre"],
                "lead": row["lead"],
                "split": row["split"],
                "energy": np.array([int(x) for x in row["energy"].split()]),
                "features": np.concatenate([effnet, flow], axis=1),
                "bag": np.bincount(tokens.reshape(-1).astype(np.int64), minlength=8192) / tokens.size,
            }
        )
    return videos


def second_probe(videos: list[dict], label: str) -> tuple[float, float]:
    """(accuracy, majority-class rate) on the held-out videos' seconds of a logistic probe for the per-second
    ``label`` (genre or energy level), trained on the training videos' seconds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def stack(train: bool) -> tuple[np.ndarray, np.ndarray]:
        chosen = [v for v in videos if (v["split"] == "train") == train]
        labels = [v["energy"] if label == "energy" else np.array([v[label]] * len(v["features"])) for v in chosen]
        return np.concatenate([v["features"] for v in chosen]), np.concatenate(labels)

    (x_train, y_train), (x_test, y_test) = stack(True), stack(False)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000)).fit(x_train, y_train)
    majority = np.unique(y_test, return_counts=True)[1].max() / len(y_test)
    return float((probe.predict(x_test) == y_test).mean()), float(majority)


def lead_accuracy(videos: list[dict], key: str) -> tuple[float, float]:
    """(accuracy, chance) of naming each video's lead by its nearest other video of the same genre (video-mean
    features, standardised; leave one out over all videos). Chance: the share of the other videos of the same genre
    that have the same lead, i.e. what the nearest neighbour scores when the features say nothing about the lead."""
    x = np.stack([v[key].mean(0) if v[key].ndim == 2 else v[key] for v in videos])
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    hits, chance = [], []
    for i, video in enumerate(videos):
        others = [j for j, v in enumerate(videos) if j != i and v["genre"] == video["genre"]]
        nearest = min(others, key=lambda j: float(((x[j] - x[i]) ** 2).sum()))
        hits.append(videos[nearest]["lead"] == video["lead"])
        chance.append(np.mean([videos[j]["lead"] == video["lead"] for j in others]))
    return float(np.mean(hits)), float(np.mean(chance))


@pytest.mark.slow
def test_genre_and_energy_are_seen_the_lead_is_not(written) -> None:
    videos = load(written("mv100k", PROBE_MINUTES))
    genres = {v["genre"] for v in videos}
    held = [v for v in videos if v["split"] != "train"]
    assert len(genres) == 6 and all(sum(v["genre"] == g for v in held) >= 2 for g in genres)
    accuracy, _ = second_probe(videos, "genre")
    assert accuracy >= 0.6, accuracy  # chance 1/6
    accuracy, majority = second_probe(videos, "energy")
    assert accuracy >= majority + 0.15, (accuracy, majority)
    for key in ("features", "bag"):
        accuracy, chance = lead_accuracy(videos, key)
        assert accuracy <= chance + 0.1, (key, accuracy, chance)
