"""Fréchet distance, FAD (+ FAD∞), KL, the VGGish front end and embedders."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

from metrics import FAD, KLDivergence, SuiteAudioEmbedder, VGGish, frechet_distance, kl_per_clip
from metrics.log_mel import SAMPLE_RATE, hz_to_mel, log_mel_examples, mel_matrix
from tests.helpers.metrics import RandomProjectionEmbedder


def _random_embedder(seed: int = 0) -> RandomProjectionEmbedder:
    return RandomProjectionEmbedder(seed=seed)


def _tone(freq: float, seconds: float = 2.0, sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def test_frechet_of_known_gaussians_is_4():
    assert frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2)) == pytest.approx(4.0, abs=1e-12)
    # torch inputs, float64 result
    assert frechet_distance(torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2)) == pytest.approx(4.0)


def test_frechet_matches_scipy_sqrtm_on_random_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-9)
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(mu1, s1, mu2[:3], s2)


def test_fad_statistics_match_numpy_and_identical_sets_give_zero():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 16)), rng.normal(0.5, 1.0, size=(280, 16))
    embedder = _random_embedder()
    fad = FAD(embedder)
    assert fad.name == "fad_random_projection"
    assert FAD(SuiteAudioEmbedder()).name == "fad_suite_embedder"
    fad.update_embeddings(torch.from_numpy(real[:100]), real=True)
    fad.update_embeddings(torch.from_numpy(real[100:]), real=True)
    fad.update_embeddings(torch.from_numpy(fake), real=False)
    expected = frechet_distance(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    assert float(fad.compute()) == pytest.approx(expected, rel=1e-9)
    same = FAD(embedder)
    same.update_embeddings(torch.from_numpy(real), real=True)
    same.update_embeddings(torch.from_numpy(real), real=False)
    assert abs(float(same.compute())) < 1e-8


def test_fad_on_audio_identical_is_zero_and_shift_is_positive():
    embedder = _random_embedder()
    clips = [_tone(f, seed=i) for i, f in enumerate((220, 330, 440, 550, 660, 770))]
    same = FAD(embedder)
    same.update(clips, real=True)
    same.update(clips, real=False)
    assert float(same.compute()) < 1e-6
    shifted = FAD(embedder)
    shifted.update(clips, real=True)
    shifted.update([_tone(4 * f, seed=9 + i) for i, f in enumerate((220, 330, 440, 550, 660, 770))], real=False)
    assert float(shifted.compute()) > 1e-3
    # 44.1 kHz input is resampled to VGGish's 16 kHz: the same tone gives the same log-mel where there is energy
    t44, t16 = np.arange(88200) / 44100, np.arange(32000) / 16000
    high = log_mel_examples(np.sin(2 * np.pi * 440 * t44), 44100)
    low = log_mel_examples(np.sin(2 * np.pi * 440 * t16), 16000)
    loud = low > -1.0
    assert loud.sum() > 100 and float((high - low)[loud].abs().max()) < 0.05


def test_fad_infinity_recovers_the_large_sample_distance():
    rng = np.random.default_rng(2)
    fad = FAD(_random_embedder(), seed=0)
    fad.update_embeddings(torch.from_numpy(rng.normal(size=(20000, 16))), real=True)
    fad.update_embeddings(torch.from_numpy(rng.normal(0.25, 1.0, size=(3000, 16))), real=False)
    result = fad.fad_infinity()
    true = 16 * 0.25**2  # 1.0: same covariance, mean shifted by 0.25 in 16 dimensions
    assert result["fad_inf"] == pytest.approx(true, abs=0.06)
    assert result["slope"] > 0  # finite-sample bias shrinks as n grows
    assert float(fad.compute()) > result["fad_inf"]


def test_kl_matches_scipy_entropy_and_identical_is_zero():
    reference = torch.tensor([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]], dtype=torch.float64)
    generated = torch.tensor([[0.1, 0.3, 0.6], [0.25, 0.25, 0.5]], dtype=torch.float64)
    values = kl_per_clip(generated, reference)
    p, q = reference[0].numpy(), generated[0].numpy()
    assert float(values[0]) == pytest.approx(float(np.sum(p * np.log(p / (q + 1e-6)))), rel=1e-12)
    assert float(values[0]) == pytest.approx(scipy.stats.entropy(p, q), rel=1e-4)  # KL(reference || generated)
    assert float(values[0]) == pytest.approx(0.7 * np.log(7) + 0.2 * np.log(2 / 3) + 0.1 * np.log(1 / 6), rel=1e-4)
    assert abs(float(values[1])) < 1e-5
    metric = KLDivergence(_random_embedder())
    assert metric.name == "kl_random_projection"
    assert KLDivergence(SuiteAudioEmbedder()).name == "kl_suite_embedder"
    metric.update_probabilities(generated, reference)
    assert float(metric.compute()) == pytest.approx(float(values.mean()))


def test_kl_on_audio_identical_clips_is_zero_and_different_is_positive():
    metric = KLDivergence(_random_embedder(3))
    clips = [_tone(300), _tone(900)]
    metric.update(clips, clips)
    assert abs(float(metric.compute())) < 1e-5
    metric.reset()
    metric.update([_tone(300)], [np.random.default_rng(0).normal(0, 0.3, 32000).astype(np.float32)])
    assert float(metric.compute()) > 1e-4
    with pytest.raises(ValueError, match="1 generated clips vs 2"):
        metric.update([_tone(300)], clips)
    sigmoid = KLDivergence(_random_embedder(3), activation="sigmoid")
    sigmoid.update(clips, clips)
    assert abs(float(sigmoid.compute())) < 1e-5


def test_vggish_frontend_follows_vggish_params():
    weights = mel_matrix()
    assert weights.shape == (257, 64) and np.all(weights[0] == 0)
    # band centres are evenly spaced on the HTK mel scale between 125 and 7500 Hz
    peak_bins = weights.argmax(axis=0) * 8000 / 256
    assert 125 < peak_bins[0] < 200 and 7000 < peak_bins[-1] < 7500
    assert hz_to_mel(700.0) == pytest.approx(1127 * np.log(2))
    examples = log_mel_examples(_tone(1000, seconds=3.0))
    assert examples.shape == (3, 96, 64)
    strongest = int(examples.mean(dim=(0, 1)).argmax())
    centres_hz = 700 * (np.exp(np.linspace(hz_to_mel(125), hz_to_mel(7500), 66)[1:-1] / 1127) - 1)
    assert abs(centres_hz[strongest] - 1000) < 80
    assert log_mel_examples(np.zeros(10)).shape == (1, 96, 64)  # short clips are padded to one example
    assert float(log_mel_examples(np.zeros(16000)).max()) == pytest.approx(np.log(0.01))


def test_vggish_loads_a_torchvggish_state_dict(tmp_path):
    generator = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        source = VGGish()
    source.load_state_dict(  # fast random weights (kaiming init of 72M parameters takes seconds)
        {
            k: torch.randn(v.shape, generator=generator) / max(v[0].numel(), 1) ** 0.5
            for k, v in source.state_dict().items()
        },
        assign=True,
    )
    keys = list(source.state_dict())
    assert keys[0] == "features.0.weight" and keys[-1] == "embeddings.4.bias" and len(keys) == 18
    path = tmp_path / "vggish-10086976.pth"
    torch.save({k: v.half() for k, v in source.state_dict().items()}, path)  # half size on disk: a faster test
    loaded = VGGish.from_checkpoint(path)
    assert loaded.features[0].weight.dtype == torch.float32
    source.load_state_dict({k: v.half().float() for k, v in source.state_dict().items()})
    clip = _tone(500, seconds=1.0)
    embedding = loaded.embed(clip)
    assert embedding.shape == (1, 128) and torch.all(embedding >= 0)
    torch.testing.assert_close(embedding, source.embed(clip))
    assert FAD(loaded).name == "fad_vggish"
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        VGGish.from_checkpoint(tmp_path / "missing.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match="bad.pth"):
        VGGish.from_checkpoint(tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match="no classifier head"):
        loaded.logits(clip)


def test_plain_callables_plug_in_as_embedder_and_classifier():
    def spectrum_embedder(waveform: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(waveform[0, :512]).abs()[:8].log1p()

    fad = FAD(spectrum_embedder, embedding_dim=8)
    assert fad.name == "fad_function"
    clips = [_tone(f, seed=i) for i, f in enumerate((200, 400, 800, 1600))]
    fad.update(clips, real=True)
    fad.update(clips, real=False)
    assert abs(float(fad.compute())) < 1e-9

    kl = KLDivergence(lambda w: torch.tensor([float(w.abs().max()), 1.0, 0.0]), num_classes=3)
    kl.update([_tone(300)], [_tone(300)])
    assert abs(float(kl.compute())) < 1e-5  # only the epsilon: -sum_c p_c log(1 + 1e-6 / p_c)
    with pytest.raises(ValueError, match="embedding_dim"):
        FAD(spectrum_embedder)
