"""NDB + JS (Richardson & Weiss 2018)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from metrics import NDB, log_spectrogram_features
from metrics.ndb import js_divergence, two_proportion_z_test


def _blobs(n_per: int, centres: np.ndarray, seed: int, weights=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = np.ones(len(centres)) / len(centres) if weights is None else np.asarray(weights)
    labels = rng.choice(len(centres), size=n_per * len(centres), p=weights)
    return centres[labels] + rng.normal(0, 0.3, size=(labels.size, centres.shape[1]))


CENTRES = np.random.default_rng(0).normal(0, 5, size=(10, 8))


def test_two_proportion_z_test_by_hand():
    # p1 = 0.5 of 100, p2 = 0.3 of 100: pooled 0.4, se = sqrt(0.4 * 0.6 * 0.02), z = 0.2 / se = 2.8868
    p = two_proportion_z_test(np.array([0.5, 0.3, 0.0]), 100, np.array([0.3, 0.3, 0.0]), 100)
    assert p[0] == pytest.approx(2 * norm.sf(0.2 / np.sqrt(0.4 * 0.6 * 0.02)), rel=1e-12)
    assert p[0] == pytest.approx(0.003892, abs=2e-6)
    assert p[1] == pytest.approx(1.0) and np.isnan(p[2])  # equal shares; a bin empty on both sides is never counted


def test_js_divergence_by_hand():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    # m = (0.25, 0.5, 0.25): KL(p, m) = 0.5 ln 2 = KL(q, m)
    assert js_divergence(p, q) == pytest.approx(0.5 * np.log(2))
    assert js_divergence(p, p) == 0.0


def test_identical_sets_give_ndb_zero_and_js_zero():
    train = _blobs(30, CENTRES, seed=1)
    ndb = NDB(k=10, seed=0).fit(train)
    ndb.update(torch.from_numpy(train[:100]))
    ndb.update(train[100:])
    result = ndb.compute()
    assert float(result["ndb"]) == 0 and float(result["js"]) == pytest.approx(0.0, abs=1e-15)
    assert float(ndb.train_counts.sum()) == len(train)


def test_mode_collapse_gives_many_different_bins_and_matches_hand_count():
    train = _blobs(60, CENTRES, seed=1)
    ndb = NDB(k=10, seed=0).fit(train)
    collapsed = _blobs(60, CENTRES, seed=2, weights=[0.5, 0.5] + [0.0] * 8)
    ndb.update(collapsed)
    result = ndb.compute()
    # by hand: nearest-centre shares of both sets, pooled z-test per bin
    centres = ndb.centers.numpy()

    def shares(x):
        return np.bincount(((x[:, None] - centres) ** 2).sum(-1).argmin(1), minlength=10) / len(x)

    p1, p2 = shares(train), shares(collapsed)
    pooled = (p1 + p2) / 2
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (2 / 600))
    expected = int(np.sum(2 * norm.sf(np.abs(z)) < 0.05))
    assert int(result["ndb"]) == expected >= 8
    assert float(result["ndb_ratio"]) == pytest.approx(expected / 10)
    assert float(result["js"]) == pytest.approx(js_divergence(p1, p2))


def test_fit_is_reproducible_and_pinned():
    train = _blobs(20, CENTRES, seed=3)
    a, b = NDB(k=10, seed=7).fit(train), NDB(k=10, seed=7).fit(train)
    torch.testing.assert_close(a.centers, b.centers)
    assert NDB().k == 50 and NDB().alpha == 0.05 and NDB().n_init == 10
    with pytest.raises(ValueError, match="at least k=10"):
        NDB(k=10).fit(train[:5])
    with pytest.raises(RuntimeError, match="before NDB.fit"):
        NDB(k=10).update(train)


def test_log_spectrogram_features_follow_mi_net():
    clips = np.random.default_rng(0).normal(0, 0.1, size=(2, 16000 * 5)).astype(np.float32)
    features = log_spectrogram_features(clips)
    assert features.shape == (2, 513 * (64000 // 256 + 1))  # 4 s, n_fft 1024, hop 256, centred frames
    short = log_spectrogram_features([clips[0, :8000]])  # zero-padded to 4 s
    assert short.shape[1] == features.shape[1] and float(short.min()) == 0.0
    resampled = log_spectrogram_features([np.zeros(44100 * 4, dtype=np.float32)], sample_rate=44100)
    assert resampled.shape[1] == features.shape[1]
    ndb = NDB(k=2, seed=0).fit(np.concatenate([features.numpy(), features.numpy() + 1.0]))
    ndb.update(audio=clips)
    assert float(ndb.counts.sum()) == 2
    same = NDB(k=2, seed=0).fit(audio=np.concatenate([clips, 0.01 * clips]))
    same.update(audio=np.concatenate([clips, 0.01 * clips]))
    assert float(same.compute()["ndb"]) == 0
