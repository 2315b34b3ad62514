"""The synthetic music-video world beyond genre and tempo (datamodules/synthetic/mv100k.py, docs/SYNTHETIC.md):
leads drawn apart from the picture, energy sections heard and seen, what videos.csv / SYNTHETIC.json / captions
record, the genre-stratified splits and the ``effnet_tokens`` kind the writer stores."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from datamodules.synthetic import music_video
from datamodules.synthetic.genres import ARCS, GENRES, compose
from datamodules.synthetic.mv100k import splits, stratified_splits


@pytest.fixture(scope="module")
def root(written) -> Path:
    return written("mv100k")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_genre_has_two_or_three_distinct_leads() -> None:
    for genre in GENRES.values():
        programs = [program for program, _ in genre.leads]
        words = [name for _, name in genre.leads]
        assert 2 <= len(genre.leads) <= 3 and genre.leads[0] == genre.lead
        assert len(set(programs)) == len(programs) and len(set(words)) == len(words), genre.name


@pytest.mark.parametrize("name", ["rock", "jazz"])
def test_the_lead_changes_the_music_and_nothing_in_the_picture(name: str) -> None:
    genre = GENRES[name]
    videos, programs = [], []
    for lead in genre.leads[:2]:
        rng = np.random.default_rng(7)  # the writer's per-video stream: music first, then picture
        piece = compose(genre, 12.0, rng, lead=lead)
        frames, cuts = music_video.render(genre, piece.beats, piece.tempo, 12.0, rng, energy=piece.energy())
        videos.append((frames, cuts, piece.energy()))
        programs.append({i.program for i in piece.midi.instruments if i.name == "lead"})
        assert lead[1] in piece.caption() and piece.instruments()[0] == lead[1]
    assert programs == [{genre.leads[0][0]}, {genre.leads[1][0]}]
    np.testing.assert_array_equal(videos[0][0], videos[1][0])  # byte for byte the same picture
    assert videos[0][1] == videos[1][1] and np.array_equal(videos[0][2], videos[1][2])


def test_energy_sections_are_heard() -> None:
    genre = GENRES["rock"]
    piece = compose(genre, 24.0, np.random.default_rng(3), arc="arch")  # quiet, full, quiet
    assert [level for _, _, level in piece.sections] == [0, 2, 0]
    edges = [(a, b) for a, b, _ in piece.sections]
    assert edges[0][0] == 0 and edges[-1][1] == 24.0 and all(a[1] == b[0] for a, b in zip(edges, edges[1:]))
    drums = next(i for i in piece.midi.instruments if i.is_drum)
    quiet, full = edges[0], edges[1]
    assert not [n for n in drums.notes if quiet[0] <= n.start < quiet[1] - 1e-6], "drums drop out when quiet"
    assert len([n for n in drums.notes if full[0] <= n.start < full[1]]) > 20
    velocity = {}
    for name, (a, b) in (("quiet", quiet), ("full", full)):
        notes = [n for i in piece.midi.instruments if not i.is_drum for n in i.notes if a <= n.start < b]
        velocity[name] = np.mean([n.velocity for n in notes])
    assert velocity["quiet"] < 0.75 * velocity["full"], velocity
    energy = piece.energy()
    assert len(energy) == 24 and energy[0] == 0 and energy[12] == 2 and energy[-1] == 0


def test_energy_is_seen_as_brightness_and_motion() -> None:
    genre, tempo = GENRES["electronic"], 120.0
    beats = np.arange(0, 8, 0.5)
    brightness, motion = [], []
    for level in (0, 1, 2):
        frames, _ = music_video.render(genre, beats, tempo, 8.0, np.random.default_rng(0), energy=np.full(8, level))
        frames = frames.astype(np.float64)
        brightness.append(frames.mean())
        motion.append(np.abs(np.diff(frames[1:24], axis=0)).mean())  # within the first scene (cut every 2 s)
    assert brightness[0] < 0.7 * brightness[2] and brightness[0] < brightness[1] < brightness[2], brightness
    assert motion[0] < motion[1] < motion[2], motion


def test_written_videos_record_lead_energy_and_captions(root: Path) -> None:
    videos = _rows(root / "videos.csv")
    marker = json.loads((root / "SYNTHETIC.json").read_text())
    by_id = {v["id"]: v for v in marker["videos"]}
    captions = {c["ytid"]: c for c in _rows(root / "captions.csv")}
    for video in videos:
        genre = GENRES[video["genre"]]
        energy = [int(x) for x in video["energy"].split()]
        assert len(energy) == int(video["duration_s"]) and set(energy) <= {0, 1, 2} and len(set(energy)) > 1
        assert video["lead"] in [words for _, words in genre.leads] and video["arc"] in ARCS
        record = by_id[video["id"]]
        assert record["energy"] == energy and record["lead"] == video["lead"] and record["arc"] == video["arc"]
        assert record["lead_program"] == dict((w, p) for p, w in genre.leads)[video["lead"]]
        assert [lv for _, _, lv in record["sections_s"]] == list(ARCS[video["arc"]][0])
        caption = captions[video["id"]]["caption"]
        for part in (video["genre"], video["lead"], f"{video['tempo_bpm']} bpm", video["key"], genre.moods[0],
                     genre.moods[1], ARCS[video["arc"]][1]):  # fmt: skip
            assert part in caption, (part, caption)
        aspects = ast.literal_eval(captions[video["id"]]["aspect_list"])
        assert aspects[:2] == [video["genre"], video["lead"]] and f"{video['arc']} energy" in aspects
        tokens = np.load(root / "features" / "effnet_tokens" / f"{video['id']}.npy")
        assert tokens.dtype == np.int16 and tokens.shape == (int(video["duration_s"]), 49)
        assert tokens.min() >= 0 and tokens.max() < 8192 and len(np.unique(tokens)) > 20


def test_splits_are_stratified_by_genre() -> None:
    names = sorted(GENRES)
    genres = [names[i % 6] for i in range(25)]  # 5 of the first genre, 4 of the others
    out = stratified_splits(genres)
    for genre in names:
        mine = [s for g, s in zip(genres, out) if g == genre]
        assert mine.count("val") >= 1 and mine.count("test") >= 1 and mine.count("val") + mine.count("test") >= 2
        assert mine.count("train") == len(mine) - 2
    big = stratified_splits([names[i % 6] for i in range(60)])  # 10 per genre: 20 % held out = 2
    assert big.count("train") == 48 and big.count("val") == 6 and big.count("test") == 6
    many = stratified_splits([names[i % 6] for i in range(120)])  # 20 per genre: 4 held out
    assert (many.count("val"), many.count("test")) == (12, 12)
    few = [names[i % 6] for i in range(11)]  # a genre with < 3 videos: the plain split
    assert stratified_splits(few) == splits(11)


def test_written_features_are_what_prepare_computes(root: Path) -> None:
    """The stored ``effnet_lite0`` and ``effnet_tokens`` of a written video are exactly the extractors' output on its
    MP4 (what ``prepare --task features`` writes), byte for byte."""
    from datamodules.features import video_features

    vid = _rows(root / "videos.csv")[0]["id"]
    fresh = video_features(root / "video" / f"{vid}.mp4", ("effnet_tokens", "effnet_lite0"))
    for kind, dtype in (("effnet_lite0", np.float32), ("effnet_tokens", np.int16)):
        stored = np.load(root / "features" / kind / f"{vid}.npy")
        assert stored.dtype == dtype
        np.testing.assert_array_equal(stored, fresh[kind].astype(dtype))
