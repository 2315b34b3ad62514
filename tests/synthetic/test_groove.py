"""Synthetic Groove MIDI (docs/DATASETS.md §13): the GMD tree and info.csv, the Roland pitches, tempi, beats and fills,
3-4 performances, style-dependent swing and accents, bars that vary (determinism and the round trip: test_contract.py).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from datamodules.groove_midi import COLUMNS, read_groove
from datamodules.synthetic import groove as synth
from music import groove as G

NAME = re.compile(r"^(drummer\d+)/(session\d|eval_session)/(\d+)_([a-z0-9-]+)_(\d+)_(beat|fill)_(\d-\d)\.mid$")
ROLAND_22 = {36, 38, 40, 37, 48, 50, 45, 47, 43, 58, 46, 26, 42, 22, 44, 49, 55, 57, 52, 51, 59, 53}


@pytest.fixture(scope="module")
def root(written) -> Path:
    return written("groove", 2.0)


@pytest.fixture(scope="module")
def rows(root: Path) -> list[dict[str, str]]:
    with open(root / "info.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def test_tree_and_info_rows(root: Path, rows: list[dict[str, str]]) -> None:
    assert len(rows) >= 6
    for row in rows:
        match = NAME.match(row["midi_filename"])
        assert match, row["midi_filename"]
        drummer, session, number, style, bpm, beat_type, signature = match.groups()
        assert row["drummer"] == drummer and row["session"] == f"{drummer}/{session}"
        assert row["id"] == f"{drummer}/{session}/{number}" and style == row["style"].replace("/", "-")
        assert (bpm, beat_type, signature) == (row["bpm"], row["beat_type"], row["time_signature"])
        assert row["split"] in ("train", "validation", "test") and row["audio_filename"] == ""
        midi = pretty_midi.PrettyMIDI(str(root / row["midi_filename"]))
        assert [i.is_drum for i in midi.instruments] == [True]
        assert G.midi_bpm(midi) == pytest.approx(int(bpm), abs=1e-3)
        assert midi.time_signature_changes[0].numerator == int(signature[0])
        assert float(row["duration"]) == pytest.approx(midi.get_end_time(), abs=60 / int(bpm))
    assert {r["split"] for r in rows if r["time_signature"] == "4-4" and r["beat_type"] == "beat"} == {
        "train",
        "validation",
        "test",
    }


def test_pitches_tempi_fills_and_time_signatures_over_styles() -> None:
    rng = np.random.default_rng(3)
    pitches: set[int] = set()
    for name, style in synth.STYLES.items():
        assert 60 <= style.tempo[0] <= style.tempo[1] <= 200
        for fill_file in (False, True):
            midi = synth.perform(style, 8 if not fill_file else 2, float(style.tempo[0]), fill_file, rng)
            pitches |= {n.pitch for n in midi.instruments[0].notes}
            if fill_file:
                groove = G.midi_to_groove(midi)
                last_bar = groove[G.HITS, 4 * style.beats :]
                assert last_bar[:, [4, 5, 6]].sum() + last_bar[:, 1].sum() >= 2 * style.beats, name  # toms / snare
    assert pitches <= ROLAND_22 and len(pitches) >= 18
    assert {s.beats for s in synth.STYLES.values()} == {3, 4}
    tempi = [s.tempo for s in synth.STYLES.values()]
    assert min(t[0] for t in tempi) == 60 and max(t[1] for t in tempi) == 200


def _groove(style: str, seed: int = 0, bars: int = 16) -> np.ndarray:
    midi = synth.perform(synth.STYLES[style], bars, 120.0, False, np.random.default_rng(seed))
    return G.midi_to_groove(midi)


def test_swing_and_accents_depend_on_the_style() -> None:
    jazz, rock = _groove("jazz/swing"), _groove("rock")
    ride, hats = G.PITCH_CLASS[51], G.PITCH_CLASS[42]
    # jazz: the swung 8th sits 1/3 step early on the 4th 16th of the beat; rock plays straight 8ths
    swung = jazz[G.HITS, 3::4, ride] > 0
    assert swung.mean() > 0.3
    assert np.median(jazz[G.OFFSETS, 3::4, ride][swung]) == pytest.approx(-1 / 3, abs=0.08)
    assert rock[G.HITS, 3::4, hats].sum() == 0 and rock[G.HITS, 2::4, hats].sum() > 20
    assert abs(np.median(rock[G.OFFSETS, 2::4, hats][rock[G.HITS, 2::4, hats] > 0])) < 0.1
    # hip-hop lays its backbeat back; funk's hi-hat is accented off the beat, rock's on it
    hiphop = _groove("hiphop")
    snare = G.PITCH_CLASS[38]
    assert np.median(hiphop[G.OFFSETS, 4::8, snare][hiphop[G.HITS, 4::8, snare] > 0]) > 0.06

    def on_off(groove: np.ndarray) -> float:
        velocity, hit = groove[G.VELOCITIES, :, hats], groove[G.HITS, :, hats] > 0
        on = hit & (np.arange(len(hit)) % 4 == 0)
        off = hit & (np.arange(len(hit)) % 4 == 2)
        return float(velocity[on].mean() - velocity[off].mean())

    assert on_off(rock) > 0.1 and on_off(_groove("funk/groove1")) < -0.05


def test_bars_vary_and_phrases_end_in_fills() -> None:
    groove = _groove("rock", seed=5)
    bars = groove[G.HITS, : 16 * 16].reshape(16, 16, 9)
    distinct = {bars[k].tobytes() for k in range(16)}
    assert len(distinct) >= 8  # ghost notes, kicks added / dropped, open hi-hats, fills
    toms = bars[:, :, 4:7].sum(axis=(1, 2))
    assert all(toms[k] + bars[k, 12:, 1].sum() >= 2 for k in (3, 7, 11))  # fills close the phrases
    assert bars[4::4, 0, 7].all()  # a crash on each phrase's downbeat


def test_the_reader_reads_every_synthetic_file(root: Path, rows: list[dict[str, str]]) -> None:
    for row in rows:
        groove, bpm = read_groove(root / row["midi_filename"])
        bar = 4 * int(row["time_signature"][0])
        assert groove.shape[1] % bar == 0 and groove[G.HITS].sum() > 8
        assert bpm == pytest.approx(int(row["bpm"]), abs=1e-3)
