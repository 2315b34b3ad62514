"""Synthetic music videos: the MV100K layout exactly, genre-true music and pictures, batches holding the stored
features, and the genre being readable from the 1-fps visual features (determinism and the round trip:
test_contract.py)."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datamodules.synthetic import music_video
from datamodules.synthetic.genres import GENRES, MODES, compose
from datamodules.synthetic.mv100k import MUSICCAPS_COLUMNS, SAMPLE_RATE


@pytest.fixture(scope="module")
def root(written) -> Path:
    return written("mv100k")


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_layout_names_shapes_dtypes(root: Path) -> None:
    header, videos = _csv(root / "videos.csv")
    assert header[:4] == ["id", "split", "duration_s", "labels"] and "genre" in header
    assert {v["split"] for v in videos} == {"train", "val", "test"}
    for video in videos:
        vid, seconds = video["id"], int(video["duration_s"])
        assert re.fullmatch(r"[A-Za-z0-9_-]{11}", vid) and seconds >= 11 and video["genre"] in GENRES
        for kind, dim in (("effnet_lite0", 1280), ("flow", 45)):
            features = np.load(root / "features" / kind / f"{vid}.npy")
            assert features.shape == (seconds, dim) and features.dtype == np.float32 and np.isfinite(features).all()
        audio, rate = sf.read(str(root / "audio" / f"{vid}.wav"))
        assert rate == SAMPLE_RATE and audio.ndim == 1 and len(audio) == seconds * SAMPLE_RATE
        assert np.sqrt(np.mean(audio**2)) > 1e-3
        import av

        with av.open(str(root / "video" / f"{vid}.mp4")) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == music_video.SIZE
            assert stream.average_rate == music_video.FPS
            assert sum(1 for _ in container.decode(stream)) == seconds * music_video.FPS
    header, captions = _csv(root / "captions.csv")
    assert header == list(MUSICCAPS_COLUMNS)
    assert sorted(c["ytid"] for c in captions) == sorted(v["id"] for v in videos)
    by_id = {v["id"]: v for v in videos}
    for row in captions:
        video = by_id[row["ytid"]]
        aspects = ast.literal_eval(row["aspect_list"])
        assert isinstance(aspects, list) and aspects[0] == video["genre"]
        assert video["genre"] in row["caption"] and f"{video['tempo_bpm']} bpm" in row["caption"]
        assert row["is_balanced_subset"] == "True" and row["is_audioset_eval"] in ("True", "False")
        assert all(m.startswith("/m/") for m in row["audioset_positive_labels"].split(","))
        assert int(row["start_s"]) == 0 and int(row["end_s"]) == int(video["duration_s"])


@pytest.mark.parametrize("name", sorted(GENRES))
def test_music_follows_the_genre(name: str) -> None:
    genre = GENRES[name]
    piece = compose(genre, 12.0, np.random.default_rng(1))
    assert genre.tempo[0] <= piece.tempo <= genre.tempo[1]
    programs = {i.program for i in piece.midi.instruments if not i.is_drum}
    assert programs == {genre.lead[0], genre.comp[0], genre.bass[0]}
    assert any(i.is_drum for i in piece.midi.instruments) == (genre.drums != "none")
    scale = {(piece.tonic + s) % 12 for s in MODES[piece.mode]}
    pitched = [n.pitch % 12 for i in piece.midi.instruments if not i.is_drum and i.name != "bass" for n in i.notes]
    assert pitched and set(pitched) <= scale, "diatonic: every harmony / melody note is in the mode"
    assert max(n.end for i in piece.midi.instruments for n in i.notes) <= 12.0 + 1e-9
    np.testing.assert_allclose(np.diff(piece.beats), 60.0 / piece.tempo)


def test_pictures_follow_tempo_and_genre() -> None:
    """Cuts fall every ``cut_beats`` beats; energetic genres move more between frames than calm ones."""
    motion = {}
    for name in ("ambient", "classical", "electronic", "rock"):
        genre = GENRES[name]
        piece = compose(genre, 12.0, np.random.default_rng(2))
        frames, cuts = music_video.render(genre, piece.beats, piece.tempo, 12.0, np.random.default_rng(3))
        assert frames.shape == (12 * music_video.FPS, music_video.SIZE[1], music_video.SIZE[0], 3)
        np.testing.assert_allclose(np.diff(cuts), genre.cut_beats * 60.0 / piece.tempo, rtol=1e-6)
        within = [i for i in range(1, len(frames)) if not any(abs(i / music_video.FPS - c) < 0.1 for c in cuts)]
        motion[name] = float(np.mean([np.abs(frames[i].astype(float) - frames[i - 1]).mean() for i in within]))
    assert min(motion["electronic"], motion["rock"]) > 2 * max(motion["ambient"], motion["classical"]), motion


def test_batches_hold_the_stored_features_and_the_genre(root: Path, round_trip) -> None:
    _, batch = round_trip("mv100k")
    assert batch["audio"].abs().max() > 0.01
    meta = batch["meta"][0]
    assert meta["genre"] in GENRES and meta["genre"] in batch["text"][0]
    start = int(meta["start_s"])
    expected = np.load(root / "features" / "effnet_lite0" / f"{meta['id']}.npy")[start : start + 10]
    np.testing.assert_allclose(batch["visual_features"][0, :, :1280].numpy(), expected)


def test_genre_is_readable_from_visual_features(root: Path) -> None:
    """Nearest-centroid genre from one second of EfficientNet features: centroids from the first half of every video,
    scored on the seconds of the second half (chance = 1 / number of genres)."""
    _, videos = _csv(root / "videos.csv")
    genres = sorted({v["genre"] for v in videos})
    train, test = {g: [] for g in genres}, []
    for video in videos:
        x = np.load(root / "features" / "effnet_lite0" / f"{video['id']}.npy")
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        half = len(x) // 2
        train[video["genre"]].append(x[:half])
        test += [(row, video["genre"]) for row in x[half:]]
    centroids = np.stack([np.concatenate(train[g]).mean(0) for g in genres])
    accuracy = np.mean([genres[int(np.argmax(centroids @ row))] == genre for row, genre in test])
    assert len(genres) >= 3 and accuracy > 0.8, accuracy
