"""Synthetic URMP (docs/DATASETS.md §1) and the performer rules behind it: format and learnability (determinism and
the round trip: test_contract.py)."""

from __future__ import annotations

import re

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from datamodules.synthetic import fingering, instruments, performer, probes, read_marker, write
from tests.helpers.synthetic_checks import midi_pitch, video_info

PIECE = re.compile(r"^(\d{2})_([A-Za-z]+)_((?:[a-z]+_?)+)$")
AUMIX = re.compile(r"^AuMix_(\d{2})_(\w+?)_(.+)\.wav$")
AUSEP = re.compile(r"^AuSep_(\d+)_([a-z]+)_(\d{2})_([A-Za-z]+)\.wav$")
F0S = re.compile(r"^F0s_(\d+)_([a-z]+)_(\d{2})_([A-Za-z]+)\.txt$")
NOTES = re.compile(r"^Notes_(\d+)_([a-z]+)_(\d{2})_([A-Za-z]+)\.txt$")
SCO = re.compile(r"^Sco_(\d{2})_([A-Za-z]+)_(.+)\.(mid|pdf)$")
VID = re.compile(r"^Vid_(\d{2})_([A-Za-z]+)_(.+)\.mp4$")


@pytest.fixture(scope="module")
def root(written):
    return written("urmp")


def pieces(root):
    return sorted(p for p in root.iterdir() if p.is_dir() and PIECE.match(p.name))


def test_tree_follows_the_urmp_naming(root):
    assert (root / "Supplementary_Files").is_dir()
    folders = pieces(root)
    assert len(folders) >= 2
    for folder in folders:
        number, name, parts = PIECE.match(folder.name).groups()
        parts = parts.split("_")
        assert 2 <= len(parts) <= 5 and set(parts) <= set(instruments.URMP_KEYS)
        files = sorted(p.name for p in folder.iterdir())
        patterns = (AUMIX, AUSEP, F0S, NOTES, SCO, VID)
        assert all(any(p.match(f) for p in patterns) for f in files), files
        for k, inst in enumerate(parts, start=1):
            for kind, suffix in (("AuSep", "wav"), ("F0s", "txt"), ("Notes", "txt")):
                assert f"{kind}_{k}_{inst}_{number}_{name}.{suffix}" in files
            assert (root / "pose" / inst / f"PoseSep_{k}_{inst}_{number}_{name}.npy").is_file()
            assert (root / "midi" / inst / f"ScoSep_{k}_{inst}_{number}_{name}.mid").is_file()
        assert sum(bool(AUMIX.match(f)) for f in files) == sum(bool(SCO.match(f)) for f in files) == 1


def test_audio_is_48k_pcm24_mono_and_the_mix_is_the_sum_of_the_parts(root):
    for folder in pieces(root):
        mix_path = next(folder.glob("AuMix_*.wav"))
        info = sf.info(mix_path)
        assert (info.samplerate, info.channels, info.subtype) == (48000, 1, "PCM_24")
        mix, _ = sf.read(mix_path)
        parts = [sf.read(p)[0] for p in sorted(folder.glob("AuSep_*.wav"))]
        assert all(len(p) == len(mix) for p in parts)
        assert np.abs(np.sum(parts, axis=0) - mix).max() < 1e-4
        assert all(np.sqrt(np.mean(p**2)) > 1e-3 for p in parts)  # every part sounds


def test_notes_f0_and_score_agree(root):
    for folder in pieces(root):
        parts = PIECE.match(folder.name).group(3).split("_")
        score = pretty_midi.PrettyMIDI(str(next(folder.glob("Sco_*.mid"))))
        assert [i.program for i in score.instruments] == [instruments.get(p).program for p in parts]
        for k, inst in enumerate(parts, start=1):
            notes = np.loadtxt(next(folder.glob(f"Notes_{k}_*.txt")), ndmin=2)
            assert notes.shape[1] == 3 and np.all(notes[:, 1] > 0) and np.all(notes[:, 2] > 0)
            pitches = midi_pitch(notes[:, 1])
            spec = instruments.get(inst)
            assert pitches.min() >= spec.low and pitches.max() <= spec.high
            assert pitches.tolist() == [n.pitch for n in score.instruments[k - 1].notes]
            f0 = np.loadtxt(next(folder.glob(f"F0s_{k}_*.txt")), ndmin=2)
            assert np.allclose(np.diff(f0[:, 0]), 0.01, atol=1e-3)
            for onset, hz, duration in notes[:: max(1, len(notes) // 5)]:
                inside = (f0[:, 0] > onset + 0.05) & (f0[:, 0] < onset + duration - 0.05)
                if inside.any():
                    assert np.all(np.abs(1200 * np.log2(f0[inside, 1] / hz)) < 50)  # vibrato within 50 cents


def test_pose_is_foley_body65_at_22_fps_in_video_pixels(root):
    for folder in pieces(root):
        duration = sf.info(next(folder.glob("AuMix_*.wav"))).duration
        for path in (root / "pose").rglob(f"PoseSep_*_{folder.name[:2]}_*.npy"):
            pose = np.load(path)
            assert pose.dtype == np.float32 and pose.shape[1:] == (3, 65, 1)
            assert abs(pose.shape[0] - duration * 22) <= 1
            conf = pose[:, 2, :, 0]
            assert conf.min() >= 0 and conf.max() <= 1
            missing = conf == 0
            assert 0 < missing.mean() < 0.1  # some joints missed, most seen
            xy = pose[:, :2, :, 0].transpose(0, 2, 1)[~missing]
            assert xy[:, 0].min() > -20 and xy[:, 0].max() < 500 and xy[:, 1].min() > -20 and xy[:, 1].max() < 290


def test_video_is_a_29_97_fps_stick_figure_with_the_mix(root):
    folder = pieces(root)[0]
    info = video_info(next(folder.glob("Vid_*.mp4")))
    duration = sf.info(next(folder.glob("AuMix_*.wav"))).duration
    assert abs(info["fps"] - 30000 / 1001) < 1e-3 and info["size"] == (480, 270) and info["audio"]
    assert abs(info["frames"] - duration * 30000 / 1001) <= 2


def test_marker_notes_synthetic_and_lists_the_pieces(root):
    marker = read_marker(root)
    assert "SYNTHETIC" in marker["note"]
    assert {p["folder"] for p in marker["pieces"]} == {p.name for p in pieces(root)}


def test_bow_direction_flips_at_onsets_and_speed_follows_density():
    fps = 100.0
    times = np.arange(0, 6, 1 / fps)
    slow = np.array([[t, t + 1.0, 69, 90] for t in np.arange(0, 3, 1.0)])
    fast = np.array([[t, t + 0.25, 69, 90] for t in np.arange(3, 6, 0.25)])
    notes = np.concatenate([slow, fast])
    position = performer.stroke_position(notes, times, fps, (0.1, 0.2))
    velocity = np.diff(position) * fps
    for onset in notes[1:, 0]:
        k = int(round(onset * fps))
        before, after = velocity[k - 3], velocity[k + 2]
        if abs(before) > 1e-6 and abs(after) > 1e-6:
            assert np.sign(before) != np.sign(after)
    assert np.abs(velocity[int(3.5 * fps) : int(5.5 * fps)]).max() > 1.5 * np.abs(velocity[20:250]).max()


def test_fingering_hand_differs_for_every_pitch_class():
    for key in ("vn", "va", "vc", "db"):
        spec = instruments.get(key)
        codes = set()
        for pitch in range(spec.low, spec.low + 12):
            f = fingering.fingering(spec, pitch)
            codes.add(
                (round(f.string, 2), round(f.shift, 2), tuple(np.round(f.left, 2)), tuple(np.round(f.left_spread, 3)))
            )
        assert len(codes) == 12, key


def test_probe_predicts_pitch_class_from_left_hand_keypoints():
    torch.set_num_threads(1)
    works = list(probes_works())
    x, y, groups = probes.performer_features("vn", works, seconds=20.0, seed=0)
    test = groups % 4 == 0
    result = probes.pitch_class_probe((x[~test], y[~test]), (x[test], y[test]), seconds=120.0, max_steps=1500)
    print(f"vn probe: accuracy {result.accuracy:.3f}, majority {result.majority:.3f}, steps {result.steps}")
    assert result.accuracy > max(0.5, 3 * result.majority)


def probes_works():
    from datamodules.synthetic.repertoire import CHORALES

    return CHORALES[:16]


@pytest.mark.slow
def test_probe_trained_for_a_minute_on_a_written_dataset(tmp_path):
    from datamodules.urmp import URMPDataModule

    torch.set_num_threads(1)
    root = write("urmp", tmp_path / "urmp", minutes=2.0, seed=0)
    dm = URMPDataModule(root=str(root), fields=("keypoints", "roll", "instrument"), instruments=("vn",),
                        split="pieces", clip_seconds=2.0, batch_size=16, normalization="none")  # fmt: skip
    dm.setup()
    train = probes.datamodule_features(dm, "train", passes=3)
    held_out = [probes.datamodule_features(dm, split) for split in ("val", "test")]
    test = (np.concatenate([x for x, _ in held_out]), np.concatenate([y for _, y in held_out]))
    result = probes.pitch_class_probe(train, test, seconds=60.0)
    print(f"URMP violin probe: accuracy {result.accuracy:.3f}, majority {result.majority:.3f}")
    assert result.accuracy > max(0.5, 3 * result.majority, 3 / 12)
