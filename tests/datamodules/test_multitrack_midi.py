"""Multi-track MIDI reader (docs/DATASETS.md §14) on a Lakh-layout tree (``lmd_full/<h>/<md5>.mid``): bar-by-bar REMI
rows of the drums and of the piano or guitar, the song filter, the split and the bad-input errors."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import pretty_midi
import pytest

from datamodules.multitrack_midi import MultitrackMIDIDataModule, read_song, song_bars, tokenizer

BEAT = 0.5  # 120 bpm


def _song(bars: int = 3, drums: bool = True, piano: bool = True, guitar: bool = True, signature=(4, 4)):
    """Kick on beats 1 and 3, snare on 2 and 4; a C major chord on 1 and 3 split over two piano tracks (GM 0 and 1);
    a guitar (GM 25) G on beat 2; a bass (GM 33) on every beat."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(*signature, 0.0))
    kit = pretty_midi.Instrument(0, is_drum=True)
    keys, upper, strings, bass = (pretty_midi.Instrument(p) for p in (0, 1, 25, 33))
    for bar in range(bars):
        for beat in range(4):
            t = (bar * 4 + beat) * BEAT
            kit.notes.append(pretty_midi.Note(100, 36 if beat % 2 == 0 else 38, t, t + 0.1))
            bass.notes.append(pretty_midi.Note(90, 36, t, t + 0.4))
            if beat % 2 == 0:
                keys.notes.append(pretty_midi.Note(80, 48, t, t + 0.9))
                upper.notes += [pretty_midi.Note(80, p, t, t + 0.9) for p in (64, 67)]
            if beat == 1:
                strings.notes.append(pretty_midi.Note(70, 55, t, t + 0.4))
    midi.instruments += [bass] + [kit] * drums + [keys, upper] * piano + [strings] * guitar
    return midi


def _write_lakh(root: Path, midi: pretty_midi.PrettyMIDI) -> Path:
    buffer = io.BytesIO()
    midi.write(buffer)
    md5 = hashlib.md5(buffer.getvalue()).hexdigest()
    path = root / "lmd_full" / md5[0] / f"{md5}.mid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def _names(row) -> list[str]:
    tok = tokenizer()
    return tok.tokens([int(t) for t in row if int(t) != tok.pad_id])


def test_bars_of_drums_and_of_the_merged_piano(tmp_path: Path) -> None:
    path = _write_lakh(tmp_path, _song(bars=3))
    drums, piano = read_song(path, "piano")
    assert [(i.program, i.is_drum) for i in piano.instruments] == [(0, False)]  # GM 0 and 1 merged, as program 0
    assert len(piano.instruments[0].notes) == 3 * 2 * 3 and len(drums.instruments[0].notes) == 12
    drum_rows, piano_rows = song_bars(path, "piano", 256)
    assert len(drum_rows) == len(piano_rows) == 3
    for drum_row, piano_row in zip(drum_rows, piano_rows):
        names = _names(drum_row)
        assert names[0] == "Bar_None" and names[-1] == "EOS_None" and "Bar_None" not in names[1:]
        assert [n for n in names if n.startswith("Position_")] == ["Position_0", "Position_4", "Position_8",
                                                                   "Position_12"]  # fmt: skip
        assert [n for n in names if n.startswith("PitchDrum_")] == ["PitchDrum_36", "PitchDrum_38"] * 2
        names = _names(piano_row)
        assert [n for n in names if n.startswith("Position_")] == ["Position_0", "Position_8"]
        assert {n for n in names if n.startswith("Program_")} == {"Program_0"}
        assert sorted(n for n in names if n.startswith("Pitch_")) == sorted(["Pitch_48", "Pitch_64", "Pitch_67"] * 2)
    _, guitar_rows = song_bars(path, "guitar", 256)
    names = _names(guitar_rows[0])
    assert {n for n in names if n.startswith("Program_")} == {"Program_24"} and "Position_4" in names
    # a bar longer than the row keeps whole notes and its EOS
    short = song_bars(path, "piano", 12)[0][0]
    assert len(short) <= 12 and _names(short)[-1] == "EOS_None" and _names(short)[-2].startswith("Duration_")


def test_datamodule_filters_songs_splits_and_batches(tmp_path: Path, caplog) -> None:
    for bars in (3, 5, 6, 7):
        _write_lakh(tmp_path, _song(bars=bars))
    _write_lakh(tmp_path, _song(drums=False))
    _write_lakh(tmp_path, _song(piano=False))
    _write_lakh(tmp_path, _song(signature=(3, 4)))
    (tmp_path / "lmd_full" / "0").mkdir(exist_ok=True)
    (tmp_path / "lmd_full" / "0" / "00000000000000000000000000000000.mid").write_bytes(b"")
    dm = MultitrackMIDIDataModule(root=str(tmp_path), bars=4, hop_bars=2, batch_size=2)
    with caplog.at_level(logging.WARNING):
        dm.setup(None)
    assert "4 of 8 files skipped" in caplog.text
    for cause in ("1 no drums", "1 no piano", "1 not 4/4", "1 unreadable"):
        assert cause in caplog.text
    keys = [m["key"] for s in ("train", "val", "test") for m in dm.dataset(s).metas]
    assert len(keys) == 4 == len(set(keys)) and all(k.startswith("lmd_full/") for k in keys)
    train = dm.dataset("train")
    assert all(len(train[i]["meta"]) for i in range(len(train)))
    batch = next(iter(dm.val_dataloader()))
    assert batch["drum_tokens"].shape[1:] == (4, 256) and batch["instrument_tokens"].shape[1:] == (4, 256)
    assert batch["program"].tolist() == [0] * len(batch["program"])
    item = dm.dataset("val")[0]
    used = item["meta"]["bars"]
    assert item["bar_mask"].sum() == used and (~item["drum_mask"][used:]).all()
    assert item["drum_mask"][:used].any(dim=1).all()
    assert (item["drum_tokens"][~item["drum_mask"]] == tokenizer().pad_id).all()
    guitar = MultitrackMIDIDataModule(root=str(tmp_path), instrument="guitar", bars=2)
    guitar.setup("fit")
    assert guitar.dataset("train")[0]["program"] == 24


def test_bad_input_names_the_file(tmp_path: Path) -> None:
    path = _write_lakh(tmp_path, _song(drums=False))
    with pytest.raises(ValueError, match=rf"{path.name} has no drum notes"):
        MultitrackMIDIDataModule(root=str(tmp_path), strict=True).setup("fit")
    with pytest.raises(ValueError, match=r"no usable 4/4 song with drums and piano under .*1 no drums"):
        MultitrackMIDIDataModule(root=str(tmp_path)).setup("fit")
    other = tmp_path / "other"
    path = _write_lakh(other, _song(piano=False, guitar=False))
    with pytest.raises(ValueError, match=rf"{path.name} has no guitar notes \(General MIDI programs 24-31\)"):
        read_song(path, "guitar")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no .mid / .midi file under"):
        MultitrackMIDIDataModule(root=str(empty)).setup("fit")
    waltz = tmp_path / "waltz"
    path = _write_lakh(waltz, _song(signature=(3, 4)))
    with pytest.raises(ValueError, match=rf"{path.name} is not in 4/4 throughout \(time signatures 3/4\)"):
        MultitrackMIDIDataModule(root=str(waltz), strict=True).setup("fit")
    with pytest.raises(ValueError, match=r"no usable 4/4 song with drums and piano under .*waltz.*1 not 4/4"):
        MultitrackMIDIDataModule(root=str(waltz)).setup("fit")


def test_token_rows_are_cached_per_tree_state(tmp_path: Path, monkeypatch) -> None:
    import datamodules.multitrack_midi as module

    tree, cache = tmp_path / "tree", tmp_path / "cache"
    for bars in (2, 3, 4):
        _write_lakh(tree, _song(bars=bars))
    first = MultitrackMIDIDataModule(root=str(tree), bars=2, cache_dir=str(cache))
    first.setup(None)
    assert len(list(cache.glob("multitrack-*.pkl"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("tokenised again despite the cache")

    monkeypatch.setattr(module, "song_bars", fail)
    again = MultitrackMIDIDataModule(root=str(tree), bars=2, cache_dir=str(cache))
    again.setup(None)
    for split in ("train", "val", "test"):
        assert [m["key"] for m in again.dataset(split).metas] == [m["key"] for m in first.dataset(split).metas]
        assert all(
            (again.dataset(split)[i]["drum_tokens"] == first.dataset(split)[i]["drum_tokens"]).all()
            for i in range(len(first.dataset(split)))
        )
    _write_lakh(tree, _song(bars=5))  # a new file: a new tree state, tokenised again
    with pytest.raises(AssertionError, match="tokenised again"):
        MultitrackMIDIDataModule(root=str(tree), bars=2, cache_dir=str(cache)).setup("fit")
