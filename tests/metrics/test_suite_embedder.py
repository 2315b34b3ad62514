"""The suite's own audio embedder (default FAD embedder / KL classifier): it trains, saves, loads and separates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics import FAD, KNNAccuracy, SuiteAudioEmbedder
from metrics import suite_embedder as se


def _separable_dataset(pieces, seconds, seed):
    """Stand-in for the rendered dataset: class c lights up mel bands 4c..4c+3 (fast, no FluidSynth)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(16).repeat(12)
    x = torch.randn(len(labels), 96, 64, generator=generator) * 0.5 - 3.0
    for c in range(16):
        x[labels == c, :, 4 * c : 4 * c + 4] += 2.0
    origin = (torch.arange(len(labels)) >= 16 * 9).long() * (len(pieces) - 1)
    return x, labels, origin


def test_training_entry_point_learns_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.setattr(se, "build_dataset", _separable_dataset)
    path = se.train_suite_embedder(
        tmp_path / "emb" / "suite.pt", pieces=("a", "b"), epochs=8, batch_size=16, lr=3e-3, channels=(4, 8, 8, 16)
    )
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["classes"][0] == "piano" and len(checkpoint["classes"]) == 16
    assert checkpoint["val_accuracy"] > 0.5  # chance is 1/16 on the held-out examples
    model = SuiteAudioEmbedder.from_checkpoint(path)
    assert model.channels == (4, 8, 8, 16) and not model.training
    clip = np.random.default_rng(0).normal(0, 0.1, 20000).astype(np.float32)
    assert model.embed(clip).shape == (1, 128) and model.logits(clip).shape == (1, 16)
    assert FAD(model).name == "fad_suite_embedder"
    assert not list((tmp_path / "emb").glob(".*tmp"))  # written atomically
    with pytest.raises(ValueError, match="two pieces"):
        se.train_suite_embedder(tmp_path / "x.pt", pieces=("a",))


def test_build_dataset_renders_every_instrument_of_every_part():
    x, labels, origin = se.build_dataset(("bach/bwv3.6",), seconds=0.5)
    assert x.shape[1:] == (96, 64) and len(x) == len(labels) == len(origin)
    assert torch.equal(labels.bincount(), torch.full((16,), 4))  # 4 chorale voices x one 0.96 s window each
    assert float(x.amax(dim=(1, 2)).min()) > np.log(0.01) + 1.0  # no silent windows


def test_checkpoint_errors_and_cache(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        SuiteAudioEmbedder.from_checkpoint(tmp_path / "nothing.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="broken.pt"):
        SuiteAudioEmbedder.from_checkpoint(tmp_path / "broken.pt")
    monkeypatch.setenv("V2M_CACHE", str(tmp_path / "cache"))
    assert se.default_checkpoint() == tmp_path / "cache" / "embedders" / "suite_audio_embedder-v1.pt"
    calls = []
    monkeypatch.setattr(se, "train_suite_embedder", lambda path: calls.append(path) or path)
    se.ensure_suite_embedder()
    assert calls == [se.default_checkpoint()]
    existing = tmp_path / "given.pt"
    existing.write_bytes(b"x")
    assert se.ensure_suite_embedder(existing) == existing and len(calls) == 1  # present: not trained again


def _instrument_clips(names: tuple[str, ...], piece: str = "bach/bwv4.8", seconds: float = 12.0):
    """1-s clips of each chorale voice of ``piece`` (held out from training) played by each instrument."""
    from music.corpus import load_corpus_midi
    from music.synth import render

    score = load_corpus_midi(piece)
    table = {name: (program, drum, centre) for name, program, drum, centre in se.INSTRUMENTS}
    clips, labels, parts = [], [], []
    for label, name in enumerate(names):
        for index, part in enumerate(score.instruments):
            part.notes = [n for n in part.notes if n.start < seconds]
            audio = render(se._arrange(part, *table[name]), sample_rate=16000)
            for start in range(0, audio.size - 16000, 16000):
                clips.append(audio[start : start + 16000])
                labels.append(label)
                parts.append(index)
    return clips, torch.tensor(labels), torch.tensor(parts)


@pytest.mark.slow
def test_trained_embedder_separates_instruments_better_than_a_random_one():
    """Measured (bwv4.8, held out): FAD violin-vs-flute / FAD violin-vs-violin = 249 trained, 4.5 random;
    1-NN accuracy from soprano/alto to tenor/bass clips 1.00 trained."""
    trained = SuiteAudioEmbedder.from_checkpoint(se.ensure_suite_embedder())
    torch.manual_seed(0)
    random = SuiteAudioEmbedder().eval()
    clips, labels, parts = _instrument_clips(("violin", "flute", "trumpet", "clarinet"))
    violin = [c for c, y in zip(clips, labels) if y == 0]
    flute = [c for c, y in zip(clips, labels) if y == 1]
    ratio = {}
    for name, model in (("trained", trained), ("random", random)):
        across, within = FAD(model), FAD(model)
        across.update(violin, real=True)
        across.update(flute, real=False)
        within.update(violin[::2], real=True)
        within.update(violin[1::2], real=False)
        ratio[name] = float(across.compute()) / float(within.compute())
    assert ratio["trained"] > 20 and ratio["trained"] > 10 * ratio["random"], ratio
    embeddings = torch.cat([trained.embed(c) for c in clips]).float()
    knn = KNNAccuracy()
    knn.update(embeddings[parts < 2], labels[parts < 2], reference=True)  # other voices, other notes
    knn.update(embeddings[parts >= 2], labels[parts >= 2])
    assert float(knn.compute()) > 0.9
