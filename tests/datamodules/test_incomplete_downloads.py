"""Incomplete and imperfect downloads (docs/DATASETS.md §12): spans, beats, truncated files, NaN, missing videos.

Each test writes a tiny fixture in the real on-disk format (tests/helpers/real_formats.py) and spoils it the way real
downloads are spoiled."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from datamodules.aistpp import AISTPPDataModule
from datamodules.audio import audio_info, beat_times, load_audio
from datamodules.clips import group_split
from datamodules.instruments import instrument_index
from datamodules.keypoints import read_openpose_folder
from datamodules.midi import load_midi
from datamodules.music import MUSICDataModule
from datamodules.solos import SolosDataModule
from datamodules.urmp import URMPDataModule
from music.events import decode
from tests.helpers import real_formats as rf

FRAME_60 = 1.0 / 60.0


def click_track(beats: np.ndarray, seconds: float, sample_rate: int = 22050) -> np.ndarray:
    """Decaying 1 kHz clicks starting exactly at ``beats`` (seconds)."""
    y = np.zeros(int(seconds * sample_rate), np.float32)
    n = int(0.01 * sample_rate)
    click = 0.8 * np.sin(2 * np.pi * 1000 * np.arange(n) / sample_rate) * np.exp(-np.arange(n) / (0.003 * sample_rate))
    for beat in beats:
        i = int(round(beat * sample_rate))
        y[i : i + n] += click[: len(y) - i]
    return y


# ------------------------------------------------------------------------------------------- wrong data, silently
def test_solos_segment_last_frame_is_inclusive(tmp_path):
    root = rf.write_solos(tmp_path / "solos", seconds=6.4)  # 160 skeleton rows per id
    ids = json.loads((root / "solos_ids.json").read_text())
    stamps = {cat: {vid: [[0, 159]] for vid in vids} for cat, vids in ids.items()}  # frames 0..159, both included
    (root / "solos_timestamps.json").write_text(json.dumps(stamps))
    dm = SolosDataModule(str(root), fields=("keypoints",), clip_seconds=1.0)
    for split in ("train", "val", "test"):
        for rec in dm.recordings(root, split):
            assert rec.start == 0.0 and math.isclose(rec.end, 6.40), rec


def test_aistpp_beats_are_not_late(tmp_path):
    beats = np.arange(0.25, 3.9, 0.75)  # 0.25, 1.00, 1.75, 2.50, 3.25 s
    root = rf.write_aistpp(tmp_path / "aist", seconds=4.0)
    for path in (root / "music").glob("*.wav"):
        sf.write(path, click_track(beats, 4.0), 22050)
    found = beat_times(root / "music" / "mBR0.wav")
    errors = np.array([np.abs(found - b).min() for b in beats])
    assert errors.max() < FRAME_60, (found, errors)
    dm = AISTPPDataModule(str(root), fields=("beats",), fps=60.0, clip_seconds=3.0)
    dm.setup("validate")
    sample = dm.dataset("val")[0]
    frames = np.flatnonzero(sample["beats"].numpy())
    expected = np.round(beats[beats < 3.0] * 60).astype(int)  # 15, 60, 105, 150
    assert len(frames) == len(expected) and np.abs(frames - expected).max() <= 1, frames


def test_truncated_wav_is_an_error_not_a_shorter_file(tmp_path):
    path = tmp_path / "AuSep_1_vn_01_Jupiter.wav"
    sf.write(path, rf.tone(4.0, 16000), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 2 * 16000 * 2])  # the header still says 4 s
    message = r"AuSep_1_vn_01_Jupiter.wav is truncated: header 4.00 s, data 2.00 s"
    with pytest.raises(ValueError, match=message):
        audio_info(path)
    with pytest.raises(ValueError, match=message):
        load_audio(path, 16000, start=0.0, duration=4.0)
    root = rf.write_urmp(tmp_path / "Dataset", seconds=4.0, video=False)
    wav = root / "01_Jupiter_vn_vc" / "AuSep_1_vn_01_Jupiter.wav"
    wav.write_bytes(wav.read_bytes()[: len(wav.read_bytes()) // 2])
    dm = URMPDataModule(str(root), fields=("audio",), split="pieces", clip_seconds=1.0)
    with pytest.raises(ValueError, match="AuSep_1_vn_01_Jupiter.wav is truncated: header 4.00 s, data 2.00 s"):
        dm.setup()


def test_openpose_nan_joint_reads_as_missing(tmp_path):
    folder = rf.write_openpose_folder(tmp_path / "pose", 3, 30.0)
    frame = folder / "clip_000000000001_keypoints.json"
    data = json.loads(frame.read_text())
    body = data["people"][0]["pose_keypoints_2d"]
    body[4 * 3 : 4 * 3 + 3] = [float("nan"), 250.0, float("nan")]  # right wrist, as some exporters write it
    body[7 * 3] = float("nan")  # left wrist: x only
    frame.write_text(json.dumps(data))  # json writes NaN, as the exporters do
    kp, numbers = read_openpose_folder(folder)
    assert numbers.tolist() == [0, 1, 2] and np.isfinite(kp).all()
    assert kp[1, 4].tolist() == [0.0, 0.0, 0.0] and kp[1, 7].tolist() == [0.0, 0.0, 0.0]
    assert kp[0, 4, 2] > 0 and kp[1, 1, 2] > 0  # other frames / joints untouched


# ---------------------------------------------------------------------------------- stops a run that should go on
def _drop_download(root, cat, vid):
    """Remove what a download of a dead YouTube video lacks: its audio and frames (Foley's pose / MIDI remain)."""
    for path in (root / "audio" / cat).glob(f"{vid}.*"):
        path.unlink()
    for path in sorted((root / "frames" / cat / f"{vid}.mp4").glob("*"), reverse=True):
        path.unlink()
    (root / "frames" / cat / f"{vid}.mp4").rmdir()


def test_music_ids_split_skips_videos_not_downloaded(tmp_path, caplog):
    data = rf.write_music(tmp_path / "MUSIC_dataset" / "data")
    ids = json.loads((data / "MUSIC21_solo_videos.json").read_text())["videos"]
    for name in ("MUSIC21_solo_videos.json", "MUSIC_solo_videos.json"):  # the id lists live beside data/
        (data / name).rename(data.parent / name)
    pairs = [(c, v) for c, vs in ids.items() for v in vs]
    train = group_split([v for _, v in pairs], "train")
    cat, gone = next((c, v) for c, v in pairs if v in train)
    _drop_download(data, cat, gone)
    fields = ("keypoints", "audio", "events")
    dm = MUSICDataModule(str(data), fields=fields, split="ids", clip_seconds=1.0)
    with caplog.at_level(logging.WARNING, logger="datamodules.music"):
        dm.setup()
    kept = {r.meta["ytid"] for split in ("train", "val", "test") for r in dm.dataset(split).recordings}
    assert kept == {v for _, v in pairs} - {gone}
    warnings = [r.getMessage() for r in caplog.records if gone in r.getMessage()]
    assert len(warnings) == 1 and "1 of" in warnings[0], warnings
    with pytest.raises(FileNotFoundError, match=f"audio of video {cat}/{gone} not found"):
        MUSICDataModule(str(data), fields=fields, split="ids", clip_seconds=1.0, strict=True).setup("fit")


def test_music_foley_lists_skip_videos_not_downloaded(tmp_path, caplog):
    root = rf.write_music(tmp_path / "data")
    folder = tmp_path / "splits" / "violin"
    folder.mkdir(parents=True)
    for name in ("train", "val"):
        (folder / f"{name}.csv").write_text("vid,start_time,duration\nvA1b2C3d4E5,0.0,2.0\n_vF6g7H8i9J,1.0,2.0\n")
    _drop_download(root, "violin", "_vF6g7H8i9J")
    dm = MUSICDataModule(str(root), fields=("audio", "events"), split=str(tmp_path / "splits"), clip_seconds=1.0)
    with caplog.at_level(logging.WARNING, logger="datamodules.music"):
        dm.setup()
    for split in ("train", "val", "test"):
        assert [r.meta["ytid"] for r in dm.dataset(split).recordings] == ["vA1b2C3d4E5"]
    assert len([r for r in caplog.records if "_vF6g7H8i9J" in r.getMessage()]) == 1  # said once, not per split
    _drop_download(root, "violin", "vA1b2C3d4E5")
    with pytest.raises(FileNotFoundError, match="holds no video: the 2 listed .* not found"):
        MUSICDataModule(str(root), fields=("audio",), split=str(tmp_path / "splits")).setup("fit")


def test_urmp_foley_release_alone(tmp_path):
    root = tmp_path / "URMP"  # Foley Music's data/URMP: pose/<inst>/PoseSep_*.npy + midi/<inst>/ScoSep_*.mid only
    tracks = [(1, "vn", 1, "Jupiter"), (2, "vc", 1, "Jupiter"), (1, "fl", 3, "Dance")]
    for part, inst, number, piece in tracks:
        stem = f"{part}_{inst}_{number:02d}_{piece}"
        (root / "pose" / inst).mkdir(parents=True, exist_ok=True)
        (root / "midi" / inst).mkdir(parents=True, exist_ok=True)
        np.save(root / "pose" / inst / f"PoseSep_{stem}.npy", rf.foley_body65(44))
        rf.write_midi(root / "midi" / inst / f"ScoSep_{stem}.mid", [(60 + part, 0.25, 0.5), (67, 1.2, 1.6)], 40)
    rf.write_urmp_split(
        tmp_path / "splits",
        {
            "vn": {"train": [(1, 1, "Jupiter", 0.0, 2.0)], "val": [(1, 1, "Jupiter", 0.0, 2.0)]},
            "fl": {"train": [(1, 3, "Dance", 0.0, 2.0)], "val": [(1, 3, "Dance", 0.0, 2.0)]},
        },
    )
    fields = ("keypoints", "events", "instrument")
    dm = URMPDataModule(str(root), fields=fields, split=str(tmp_path / "splits"), clip_seconds=1.0)
    dm.setup("validate")
    ds = dm.dataset("val")
    assert sorted(r.key for r in ds.recordings) == ["01_Jupiter/1_vn", "03_Dance/1_fl"]
    sample = next(ds[i] for i in range(len(ds)) if ds[i]["meta"]["key"] == "01_Jupiter/1_vn")
    notes = decode(sample["events"][sample["events_mask"]]).instruments[0].notes
    assert [n.pitch for n in notes] == [61] and abs(notes[0].start - 0.25) < 0.02
    assert sample["keypoints"].shape == (22, 65, 3) and sample["instrument"].item() == instrument_index("vn")
    pieces = URMPDataModule(str(root), fields=fields, split="pieces", clip_seconds=1.0)
    pieces.setup()
    assert {r.key for s in ("train", "val", "test") for r in pieces.dataset(s).recordings} >= {"01_Jupiter/2_vc"}
    with pytest.raises(FileNotFoundError, match="audio .*needs URMP's Dataset/ piece folders"):
        URMPDataModule(str(root), fields=("audio", "events"), split=str(tmp_path / "splits")).setup("fit")


# ----------------------------------------------------------------------------------- errors that say what is wrong
def test_solos_nan_in_skeleton_dict_names_file_and_id(tmp_path):
    root = rf.write_solos(tmp_path / "solos")
    index = json.loads((root / "skeleton_dict.json").read_text())
    index["vIoLiN00001"][1] = float("nan")
    (root / "skeleton_dict.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"skeleton_dict.json: id vIoLiN00001 .*\[.*nan"):
        SolosDataModule(str(root), clip_seconds=1.0).setup()


def test_solos_nan_in_timestamps_names_file_and_id(tmp_path):
    root = rf.write_solos(tmp_path / "solos")
    stamps = json.loads((root / "solos_timestamps.json").read_text())
    stamps["Cello"]["cElLo000001"] = [[0, float("nan")]]
    (root / "solos_timestamps.json").write_text(json.dumps(stamps))
    with pytest.raises(ValueError, match=r"solos_timestamps.json: id cElLo000001 \(Cello\) .*nan"):
        SolosDataModule(str(root), clip_seconds=1.0).setup()


def test_zero_byte_midi_says_0_bytes(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.mid.*0 bytes"):
        load_midi(path)
    pretty_midi.PrettyMIDI().write(str(tmp_path / "ok.mid"))  # a MIDI without notes still says so
    with pytest.raises(ValueError, match="ok.mid has no notes"):
        load_midi(tmp_path / "ok.mid")
