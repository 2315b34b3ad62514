"""KNN accuracy, token NLL/perplexity, text-audio consistency."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier
from torchmetrics.text import Perplexity

from metrics import KNNAccuracy, TextAudioConsistency, TokenNLL


def test_knn_by_hand_cosine_not_euclidean():
    # query (1, 0.1) is nearest to (10, 0) by cosine but to (0.9, 0.5) by Euclidean distance
    ref = torch.tensor([[10.0, 0.0], [0.9, 0.5]])
    metric = KNNAccuracy()
    metric.update(ref, torch.tensor([0, 1]), reference=True)
    metric.update(torch.tensor([[1.0, 0.1], [0.0, 1.0]]), torch.tensor([0, 1]))
    assert float(metric.compute()) == 1.0


def test_knn_matches_sklearn_and_leave_one_out_by_hand():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    x[y == 1] += 1.5
    metric = KNNAccuracy(k=1)
    metric.update(torch.from_numpy(x[:40]), torch.from_numpy(y[:40]), reference=True)
    metric.update(torch.from_numpy(x[40:]), torch.from_numpy(y[40:]))
    expected = KNeighborsClassifier(1, metric="cosine").fit(x[:40], y[:40]).score(x[40:], y[40:])
    assert float(metric.compute()) == pytest.approx(expected)
    loo = KNNAccuracy()
    loo.update(torch.from_numpy(x), torch.from_numpy(y))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    assert float(loo.compute()) == pytest.approx(np.mean(y[similarity.argmax(1)] == y))


def test_token_nll_ignores_pad_and_equals_torchmetrics_perplexity():
    torch.manual_seed(0)
    pad = 242
    logits = torch.randn(3, 7, 243)
    target = torch.randint(0, 240, (3, 7))
    target[0, 5:] = pad
    target[2, 3:] = pad
    metric = TokenNLL(ignore_index=pad)
    metric.update(logits[:2], target[:2])
    metric.update(logits[2:], target[2:])
    result = metric.compute()
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 243), target.reshape(-1), ignore_index=pad)
    assert float(result["nll"]) == pytest.approx(float(expected), rel=1e-6)
    reference = Perplexity(ignore_index=pad)
    reference.update(logits, target)
    assert float(result["perplexity"]) == pytest.approx(float(reference.compute()), rel=1e-5)
    masked = TokenNLL(ignore_index=None)
    masked.update(logits, target, mask=target != pad)
    assert float(masked.compute()["nll"]) == pytest.approx(float(result["nll"]))


def test_text_audio_consistency_is_the_mean_cosine():
    text = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    audio = torch.tensor([[2.0, 0.0], [-1.0, 1.0]])
    metric = TextAudioConsistency()
    metric.update_embeddings(text, audio)
    assert float(metric.compute()) == pytest.approx((1.0 + 0.0) / 2)
    assert metric.name == "text_audio_consistency_embeddings"

    class Joint:
        name = "toy_joint"

        def embed_text(self, captions):
            return torch.tensor([[float(len(c)), 1.0] for c in captions])

        def embed_audio(self, clips, sample_rate):
            return torch.stack([torch.tensor([float(c.abs().max()), 1.0]) for c in clips])

    joint = TextAudioConsistency(Joint())
    joint.update(["ab", "abc"], torch.tensor([[0.0, 2.0], [3.0, 0.0]]))
    assert joint.name == "text_audio_consistency_toy_joint"
    assert float(joint.compute()) == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="no joint model"):
        metric.update(["a"], torch.zeros(1, 10))
