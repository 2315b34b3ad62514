"""Groove MIDI v1.0.0 reader (docs/DATASETS.md §13) on a copy of the real layout: info.csv rows as the dataset writes
them, Roland TD-11 pitches on the drum channel, grooves with known hits, splits, filters and the bad-input errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from datamodules.groove_midi import COLUMNS, GrooveMIDIDataModule, read_groove
from music import groove as G

BPM = 120.0  # a 16th = 0.125 s
STEP = 60.0 / BPM / 4


def _performance(path: Path, bars: int, beats: int = 4, late: float = 0.0, drums: bool = True) -> None:
    """Kick (36) on every beat, snare head / rim (38 / 40) on 2 and 4 played ``late`` steps late, hi-hat edge (22)
    on the 8ths; in a GMD file the drums are one track on the MIDI drum channel and the tempo is the row's bpm."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=BPM)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(beats, 4, 0.0))
    track = pretty_midi.Instrument(0, is_drum=drums, name="")
    for bar in range(bars):
        for beat in range(beats):
            step = (bar * beats + beat) * 4
            track.notes.append(pretty_midi.Note(100, 36, step * STEP, step * STEP + 0.1))
            if beat % 2:
                onset = (step + late) * STEP
                track.notes.append(pretty_midi.Note(90, 40 if bar % 2 else 38, onset, onset + 0.1))
            for eighth in (0, 2):
                onset = (step + eighth) * STEP
                track.notes.append(pretty_midi.Note(60, 22, onset, onset + 0.05))
    midi.instruments.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))


ROWS = [  # id, style, bpm, beat_type, time signature, split, bars
    ("drummer1/eval_session/1", "funk/groove1", "beat", "4-4", "test", 4),
    ("drummer1/eval_session/10", "soul/groove10", "beat", "4-4", "validation", 2),
    ("drummer1/session1/1", "rock", "beat", "4-4", "train", 4),
    ("drummer1/session1/2", "rock", "fill", "4-4", "train", 1),
    ("drummer2/session1/5", "jazz/swing", "beat", "3-4", "train", 4),
    ("drummer2/session2/3", "latin/samba", "beat", "4-4", "train", 8),
]


def write_gmd(root: Path, rows=ROWS) -> Path:
    with open(root / "info.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for identifier, style, beat_type, signature, split, bars in rows:
            drummer, session, number = identifier.split("/")
            name = f"{identifier}_{style.replace('/', '-')}_{int(BPM)}_{beat_type}_{signature}"
            beats = int(signature[0])
            _performance(root / f"{name}.mid", bars, beats, late=0.2)
            audio = f"{name}.wav" if number != "10" else ""  # some rows have no audio
            duration = bars * beats * 60 / BPM
            writer.writerow(
                [drummer, f"{drummer}/{session}", identifier, style, int(BPM), beat_type, signature,
                 f"{name}.mid", audio, f"{duration:.6f}", split]
            )  # fmt: skip
    return root


@pytest.fixture
def gmd(tmp_path: Path) -> Path:
    return write_gmd(tmp_path)


def test_grooves_hold_the_performed_hits(gmd: Path) -> None:
    groove, bpm = read_groove(gmd / "drummer1/session1/1_rock_120_beat_4-4.mid")
    assert bpm == pytest.approx(BPM) and groove.shape == (3, 64, 9)
    hits = groove[G.HITS]
    assert np.flatnonzero(hits[:, 0]).tolist() == list(range(0, 64, 4))  # kick on the beats
    assert np.flatnonzero(hits[:, 1]).tolist() == [4, 12, 20, 28, 36, 44, 52, 60]  # snare head and rim: one class
    assert np.flatnonzero(hits[:, 2]).tolist() == list(range(0, 64, 2))  # hi-hat edge 22 -> closed hi-hat
    np.testing.assert_allclose(groove[G.OFFSETS, hits[:, 1] > 0, 1], 0.2, atol=1e-4)  # late snare
    np.testing.assert_allclose(groove[G.VELOCITIES, 4, 1], 90 / 127, atol=1e-6)
    assert hits[:, 3:].sum() == 0
    # GMD quirk: hi-hat pedal controller events (CC 4) run past the last hit; the groove ends with the last hit's bar
    path = gmd / "drummer1/session1/1_rock_120_beat_4-4.mid"
    midi = pretty_midi.PrettyMIDI(str(path))
    midi.instruments[0].control_changes.append(pretty_midi.ControlChange(4, 90, 12.0))
    midi.write(str(path))
    assert read_groove(path)[0].shape == (3, 64, 9)


def test_official_split_windows_and_filters(gmd: Path) -> None:
    dm = GrooveMIDIDataModule(root=str(gmd), batch_size=2)
    dm.setup(None)
    train, val, test = (dm.dataset(s) for s in ("train", "val", "test"))
    # train: rock beat (4 bars -> 3 windows), rock fill (1 bar -> 1 padded window), samba (8 bars -> 7); the 3-4
    # jazz performance is left out
    assert {m["style"] for m in train.metas} == {"rock", "latin/samba"} and len(train) == 3 + 1 + 7
    assert [m["key"] for m in val.metas] == ["drummer1/eval_session/10"] and len(val) == 1
    assert [m["key"] for m in test.metas] == ["drummer1/eval_session/1"] and len(test) == 3
    fill = train[3]
    assert fill["meta"]["beat_type"] == "fill"
    assert fill["groove"].shape == (3, 32, 9) and fill["groove_mask"].tolist() == [True] * 16 + [False] * 16
    assert fill["groove"][:, 16:].abs().sum() == 0
    batch = next(iter(dm.val_dataloader()))
    assert batch["groove"].shape == (1, 3, 32, 9) and batch["groove_mask"].all()
    assert batch["meta"][0]["synthetic"] is False and batch["meta"][0]["start_step"] == 0

    beats = GrooveMIDIDataModule(root=str(gmd), beat_types=("beat",), four_four_only=False, hop_steps=32)
    beats.setup("fit")
    assert {m["time_signature"] for m in beats.dataset("train").metas} == {"4-4", "3-4"}
    assert all(m["beat_type"] == "beat" for m in beats.dataset("train").metas)
    assert len(beats.dataset("train")) == 2 + 1 + 4  # rock 64 steps, jazz 48 (3-4), samba 128; hop = window


def test_sorted_split_is_eighty_ten_ten_of_the_sorted_files(tmp_path: Path) -> None:
    rows = [(f"drummer{1 + k // 5}/session1/{k}", "rock", "beat", "4-4", "train", 2) for k in range(10)]
    root = write_gmd(tmp_path, rows)
    dm = GrooveMIDIDataModule(root=str(root), split_mode="sorted")
    dm.setup(None)
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*.mid"))
    got = {s: [str(Path(m["midi"]).relative_to(root)) for m in dm.dataset(s).metas] for s in ("train", "val", "test")}
    assert got == {"train": names[:8], "val": names[8:9], "test": names[9:]}


def test_bad_input_names_the_file(tmp_path: Path, gmd: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"info\.csv not found"):
        GrooveMIDIDataModule(root=str(tmp_path / "drummer1")).setup("fit")
    missing = gmd / "drummer1/session1/2_rock_120_fill_4-4.mid"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=r"2_rock_120_fill_4-4\.mid \(listed in .*info\.csv\) does not"):
        GrooveMIDIDataModule(root=str(gmd)).setup("fit")

    waltz = tmp_path / "waltz"
    waltz.mkdir()
    write_gmd(waltz, [("drummer1/session1/1", "jazz/waltz", "beat", "3-4", "train", 2)])
    with pytest.raises(ValueError, match=r"info\.csv lists no 4-4 performance"):
        GrooveMIDIDataModule(root=str(waltz)).setup("fit")

    silent = tmp_path / "silent"
    silent.mkdir()
    write_gmd(silent, [("drummer1/session1/1", "rock", "beat", "4-4", "train", 2)])
    path = next(silent.rglob("*.mid"))
    _performance(path, 2, drums=False)  # the notes on a melodic channel
    with pytest.raises(ValueError, match=rf"{path.name} has no drum notes"):
        GrooveMIDIDataModule(root=str(silent)).setup("fit")

    columns = tmp_path / "columns"
    columns.mkdir()
    (columns / "info.csv").write_text("drummer,session,id\n")
    with pytest.raises(ValueError, match=r"info\.csv lacks the column"):
        GrooveMIDIDataModule(root=str(columns)).setup("fit")
