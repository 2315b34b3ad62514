"""Synthetic AIST++ (docs/DATASETS.md §8): pkl formats, cameras, splits, music, video; dance beats on the music's beats
(determinism and the round trip: test_contract.py)."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from datamodules.synthetic import drums, probes
from datamodules.synthetic.dance_music import compose
from tests.helpers.synthetic_checks import video_info

SEQUENCE = re.compile(r"^g([A-Z]{2})_s(BM|FM)_cAll_d(\d{2})_m([A-Z]{2})(\d)_ch(\d{2})$")
GENRES = {"BR", "PO", "LO", "MH", "LH", "HO", "WA", "KR", "JS", "JB"}


@pytest.fixture(scope="module")
def root(written):
    return written("aistpp")


def sequences(root):
    return sorted(p.stem for p in (root / "keypoints2d").glob("*.pkl"))


def test_names_splits_cameras_and_music(root):
    names = sequences(root)
    assert len(names) >= 3
    for name in names:
        genre, _, _, music_genre, k, _ = SEQUENCE.match(name).groups()
        assert genre in GENRES and music_genre == genre and 0 <= int(k) <= 5
        info = sf.info(root / "music" / f"m{music_genre}{k}.wav")
        assert (info.samplerate, info.channels) == (44100, 1)
        assert (root / "keypoints3d" / f"{name}.pkl").is_file()
        assert (root / "videos" / f"{name.replace('_cAll_', '_c01_')}.mp4").is_file()
    listed = {}
    for split_set in ("crossmodal", "pose"):
        for role in ("train", "val", "test"):
            lines = (root / "splits" / f"{split_set}_{role}.txt").read_text().split()
            assert lines and set(lines) <= set(names)
            listed.setdefault(split_set, []).extend(lines)
    assert sorted(listed["crossmodal"]) == sorted(listed["pose"]) == names
    for name in (root / "splits" / "pose_test.txt").read_text().split():
        assert int(SEQUENCE.match(name).group(3)) % 3 == 0  # test dancers: ids divisible by 3
    cams = json.loads((root / "cameras" / "setting1.json").read_text())
    assert [c["name"] for c in cams] == [f"c{k:02d}" for k in range(1, 10)]
    assert all(np.shape(c["matrix"]) == (3, 3) and len(c["rotation"]) == 3 for c in cams)
    mapping = (root / "cameras" / "mapping.txt").read_text().split("\n")
    assert sorted(line.split()[0] for line in mapping if line) == names
    assert (root / "ignore_list.txt").is_file()
    video = video_info(root / "videos" / f"{names[0].replace('_cAll_', '_c01_')}.mp4")
    assert video["fps"] == 60.0 and video["audio"]


def test_keypoint_pickles(root):
    for name in sequences(root):
        with open(root / "keypoints2d" / f"{name}.pkl", "rb") as handle:
            data = pickle.load(handle)
        kp = data["keypoints2d"]
        assert kp.dtype == np.float32 and kp.shape[0] == 9 and kp.shape[2:] == (17, 3)
        assert data["det_scores"].shape == kp.shape[:2] and data["timestamps"].shape == (kp.shape[1],)
        missing = np.isnan(kp[..., 0])
        assert 0 < missing.mean() < 0.02
        xy = kp[..., :2][~missing]
        assert xy[:, 0].min() > 0 and xy[:, 0].max() < 1920 and xy[:, 1].min() > 0 and xy[:, 1].max() < 1080
        with open(root / "keypoints3d" / f"{name}.pkl", "rb") as handle:
            k3 = pickle.load(handle)
        assert k3["keypoints3d"].shape == (kp.shape[1], 17, 3)
        # nose above ankles (y up, centimetres): a standing dancer
        assert np.all(k3["keypoints3d"][:, 0, 1] > k3["keypoints3d"][:, 15, 1] + 100)


def test_dance_beats_coincide_with_the_music_beats(root):
    scores = probes.dance_beat_fmeasure(root)
    assert len(scores) == len(sequences(root))
    for name, per_view in scores.items():
        assert min(per_view) >= 0.9, (name, per_view)


def test_fills_add_accents_and_grooves_use_all_nine_drum_classes():
    rng = np.random.default_rng(0)
    used = np.zeros(9, dtype=bool)
    for genre in drums.GENRE_PATTERNS:
        track = drums.drum_track(genre, 8, 100.0, rng)
        used |= track.groove[0].max(axis=0) > 0
        fills = track.fill_times()
        bar = 4 * 60.0 / 100.0
        assert len(fills) and set(np.floor(fills / bar).astype(int)) <= {3, 7}  # last bar of each 4-bar phrase
    assert used.all()


@pytest.mark.parametrize("genre,bpm", [("HO", 120.0), ("JB", 135.0), ("BR", 84.0)])
def test_rendered_music_puts_its_onsets_on_the_beat_grid(genre, bpm):
    import librosa

    music = compose(genre, bpm, 8.0, "bach/bwv66.6", np.random.default_rng(1), 22050)
    envelope = librosa.onset.onset_strength(y=music.audio, sr=22050, hop_length=256)
    times = librosa.times_like(envelope, sr=22050, hop_length=256)

    def strength(shift: float) -> float:  # onset strength around each beat (+ shift), -30..+50 ms
        return float(np.mean([envelope[(times >= b + shift - 0.03) & (times <= b + shift + 0.05)].max()
                              for b in music.beats[1:-1]]))  # fmt: skip

    period = 60.0 / bpm
    assert strength(0.0) > 3 * max(strength(period / 3), strength(2 * period / 3))  # off the 16th grid: quiet


def test_each_piece_has_its_midi_with_the_grooves_drums(root):
    from music import groove as G

    marker = json.loads((root / "SYNTHETIC.json").read_text())
    for piece, info in marker["pieces"].items():
        midi = pretty_midi.PrettyMIDI(str(root / "midi" / f"{piece}.mid"))
        assert G.midi_bpm(midi) == pytest.approx(info["bpm"], abs=1e-3)
        drums = [i for i in midi.instruments if i.is_drum]
        assert len(drums) == 1 and {i.program for i in midi.instruments if not i.is_drum} == {33, 4}
        groove = G.midi_to_groove(midi)
        step = 60.0 / info["bpm"] / 4
        kicks = np.flatnonzero(groove[G.HITS, :, 0]) * step
        assert len(kicks) and min(np.min(np.abs(k - np.asarray(info["beats"]))) for k in kicks[:4]) < 1e-3
        hits = np.flatnonzero(groove[G.HITS].max(axis=1)) * step
        for t in info["fill_times"]:
            assert np.min(np.abs(hits - t)) < 1e-3  # every fill time is a drum hit of the MIDI


@pytest.mark.parametrize("genre", ["BR", "HO", "JB"])
def test_fill_accents_are_the_sharpest_moves(genre):
    """The dancer's largest accelerations (mean over joints) fall on the fills' hits."""
    from datamodules.synthetic.dancer import FPS, dance

    rng = np.random.default_rng(4)
    bpm, bars = 110.0, 8
    track = drums.drum_track(genre, bars, bpm, rng)
    beats = np.arange(bars * 4) * 60.0 / bpm
    fills = track.fill_times()
    joints = dance(genre, beats, bars * 4 * 60.0 / bpm, rng, fills=fills).joints
    acceleration = np.linalg.norm(np.diff(joints, n=2, axis=0), axis=-1).mean(axis=1) * FPS * FPS
    times = (np.arange(len(acceleration)) + 1) / FPS
    near = np.min(np.abs(times[:, None] - fills[None]), axis=1) < 0.1
    assert near.any() and acceleration[near].max() > 1.5 * acceleration[~near].max()
    top = np.argsort(acceleration)[::-1][: len(fills)]
    assert near[top].all()


def test_rhythmic_net_clips_carry_the_exact_beats(root):
    from datamodules.aistpp import AISTPPDataModule

    marker = json.loads((root / "SYNTHETIC.json").read_text())
    dm = AISTPPDataModule(
        root=str(root), keypoint_layout="rhythmic17", fps=60, clip_seconds=5, fields=("keypoints", "beats")
    )
    dm.setup("validate")
    clips = dm.dataset("val")
    sample = clips[0]
    assert sample["keypoints"].shape == (300, 17, 3) and sample["beats"].shape == (300,)
    piece = sample["meta"]["music"]
    truth = np.asarray(marker["pieces"][piece]["beats"])
    truth = truth[(truth >= sample["meta"]["start"]) & (truth < sample["meta"]["start"] + 5.0)]
    frames = np.round((truth - sample["meta"]["start"]) * 60).astype(int)
    assert np.flatnonzero(sample["beats"].numpy()).tolist() == frames[frames < 300].tolist()
    tracked = AISTPPDataModule(root=str(root), fps=60, clip_seconds=5, fields=("beats",), exact_beats=False)
    tracked.setup("validate")
    assert tracked.dataset("val").recordings[0].beat_times is None
    assert clips.recordings[0].beat_times is not None
