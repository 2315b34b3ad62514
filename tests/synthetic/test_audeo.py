"""Synthetic Audeo data: the released Drive layout exactly, what each stage's batches hold, pressed keys being
learnable (determinism and the generic round trip: test_contract.py)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from datamodules.synthetic import write
from datamodules.synthetic.audeo import FPS, MAX_KEY, MIN_KEY, SAMPLE_RATE, SEGMENT
from music.roll import midi_to_roll
from tests.helpers.piano_probe import run_probe

VIDEO = re.compile(r"^Bach Prelude and Fugue No\.(\d+) (B1|B2)$")


@pytest.fixture(scope="module")
def root(written) -> Path:
    return written("audeo")


def _videos(root: Path, split: str) -> list[str]:
    return sorted(p.name for p in (root / "input_images" / split).iterdir())


def test_layout_names_shapes_dtypes(root: Path) -> None:
    for split, suffix in (("training", "B1"), ("testing", "B2")):
        videos = _videos(root, split)
        assert videos, split
        numbers = sorted(int(VIDEO.match(v).group(1)) for v in videos)
        assert numbers == list(range(1, len(videos) + 1))
        assert all(VIDEO.match(v).group(2) == suffix for v in videos)
        assert sorted(p.stem for p in (root / "labels" / split).glob("*.pkl")) == videos
        for video in videos:
            frames = sorted(int(p.stem[5:]) for p in (root / "input_images" / split / video).glob("frame*.jpg"))
            assert frames == list(range(len(frames))), "frame numbers must be consecutive from 0"
            image = cv2.imread(str(root / "input_images" / split / video / "frame0.jpg"), cv2.IMREAD_UNCHANGED)
            assert image.ndim == 2 and image.dtype == np.uint8 and image.shape == (100, 900)
            with open(root / "labels" / split / f"{video}.pkl", "rb") as handle:
                labels = pickle.load(handle)
            assert sorted(labels) == frames
            assert all(v.shape == (88,) and v.dtype == np.float32 for v in labels.values())
            roll = np.stack([labels[n] for n in frames])
            assert set(np.unique(roll)) <= {0.0, 1.0} and roll[0].any(), "the first frame has a key down (trimmed)"

            segments = sorted(tuple(map(int, p.stem.split("-"))) for p in (root / "midi" / split / video).glob("*.npz"))
            assert segments[0][0] == 0 and segments[-1][1] == len(frames)
            assert all(b[0] == a[1] for a, b in zip(segments, segments[1:])), "segments tile the frames"
            assert all(e - s == SEGMENT for s, e in segments[:-1]) and 0 < segments[-1][1] - segments[-1][0] <= SEGMENT
            midi = np.concatenate(
                [np.load(root / "midi" / split / video / f"{s}-{e}.npz")["midi"] for s, e in segments]
            )
            np.testing.assert_array_equal(midi > 0, roll > 0)

            estimates = sorted(p.name for p in (root / "estimate_Roll" / split / video).glob("*.npz"))
            assert estimates == sorted(f"{s}-{e}.npz" for s, e in segments)
            with np.load(root / "estimate_Roll" / split / video / estimates[0]) as data:
                logit, est = data["logit"], data["roll"]
            assert logit.shape == est.shape == (SEGMENT, 88) and logit.dtype == np.float64
            assert np.issubdtype(est.dtype, np.integer)
            assert not logit[:, :MIN_KEY].any() and not logit[:, MAX_KEY + 1 :].any() and not est[:, :MIN_KEY].any()
            inside = slice(MIN_KEY, MAX_KEY + 1)
            np.testing.assert_array_equal(est[:, inside], (1 / (1 + np.exp(-logit[:, inside])) >= 0.4).astype(int))

            audio, rate = sf.read(str(root / "audio" / split / f"{video}.wav"))
            assert rate == SAMPLE_RATE and len(audio) == len(frames) * SAMPLE_RATE // FPS
            assert np.abs(audio).max() > 0.01
            performance = pretty_midi.PrettyMIDI(str(root / "OF_midi_files" / split / f"{video}.mid"))
            reroll = midi_to_roll(performance, FPS, frames=len(frames), binary=True).T
            np.testing.assert_array_equal(reroll > 0, roll > 0)


def test_simulated_estimates_are_informative_but_imperfect(root: Path) -> None:
    truth, guess = [], []
    for video in _videos(root, "training"):
        for path in (root / "midi" / "training" / video).glob("*.npz"):
            gt = np.load(path)["midi"][:, MIN_KEY : MAX_KEY + 1] > 0
            est = np.load(root / "estimate_Roll" / "training" / video / path.name)["roll"][
                : len(gt), MIN_KEY : MAX_KEY + 1
            ]
            truth.append(gt)
            guess.append(est > 0)
    truth, guess = np.concatenate(truth), np.concatenate(guess)
    f1 = 2 * np.sum(truth & guess) / (truth.sum() + guess.sum())
    assert 0.5 < f1 < 0.98, f1


def test_stage_batches_hold_the_files_content(root: Path, round_trip, tmp_path: Path) -> None:
    from datamodules.audeo import AudeoDataModule

    dm, _ = round_trip("audeo")  # video2roll, 88 keys, batch 4, one video
    batch = next(iter(dm.val_dataloader()))
    assert batch["frames"].shape == (4, 5, 100, 900) and batch["roll"].shape == (4, 88, 1)
    meta = batch["meta"][0]
    video, frame = meta["video"], meta["frame"]
    image = cv2.imread(str(root / "input_images" / "testing" / video / f"frame{frame}.jpg"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_allclose(batch["frames"][0, 2].numpy(), image / 255.0, atol=1e-6)
    with open(root / "labels" / "testing" / f"{video}.pkl", "rb") as handle:
        labels = pickle.load(handle)
    np.testing.assert_array_equal(batch["roll"][0, :, 0].numpy(), labels[frame] > 0)

    roll2midi = AudeoDataModule(root=str(root), stage="roll2midi", batch_size=2, cache_dir=str(tmp_path))
    roll2midi.setup("fit")
    batch = next(iter(roll2midi.train_dataloader()))
    assert batch["roll"].shape == batch["roll_prob"].shape == (2, 51, 100)
    perfnet = AudeoDataModule(root=str(root), stage="perfnet", batch_size=2, cache_dir=str(tmp_path))
    perfnet.setup("fit")
    batch = next(iter(perfnet.val_dataloader()))  # the first 2 s of a test video: it starts with a key press
    assert batch["roll"].shape == (2, 51, 50) and batch["audio"].shape == (2, 2 * SAMPLE_RATE)
    assert batch["roll"][0].any() and batch["audio"][0].abs().max() > 0.01


def test_pressed_keys_are_learnable_from_frames_fast(root: Path) -> None:
    result = run_probe(root, seconds=6.0)
    chance = max(result["chance_prior"], result["chance_all"])
    assert result["f1"] > 0.35 and result["f1"] > 4 * chance, result


@pytest.mark.slow
def test_pressed_keys_are_learnable_from_frames_one_minute(tmp_path: Path) -> None:
    root = write("audeo", tmp_path / "root", minutes=2.0, seed=0)
    result = run_probe(root, seconds=60.0)
    print("audeo pressed-key probe (2 min of data, 60 s of training):", result)
    chance = max(result["chance_prior"], result["chance_all"])
    assert result["f1"] > 0.5 and result["f1"] > 5 * chance, result


def test_keyboard_geometry_is_a_real_88_key_piano() -> None:
    from datamodules.synthetic.keyboard import GEOMETRY, N_WHITE

    g = GEOMETRY
    assert g.is_black.sum() == 36 and (~g.is_black).sum() == N_WHITE == 52
    assert not g.is_black[0] and not g.is_black[-1] and g.is_black[1]  # A0 white, C8 white, A#0 black
    whites = np.flatnonzero(~g.is_black)
    np.testing.assert_allclose(g.left[whites], np.arange(52))  # white keys tile the keyboard
    for k in np.flatnonzero(g.is_black):  # every black key straddles the gap between its two white neighbours
        assert g.left[k] < g.right[k - 1] == g.left[k + 1] < g.right[k]
    pitch_classes = [(21 + k) % 12 for k in np.flatnonzero(g.is_black)]
    assert set(pitch_classes) == {1, 3, 6, 8, 10}
    c4, cs4, ds4 = 39, 40, 42  # off-centre like a real piano: C# leans towards C, D# towards E
    assert g.centre[cs4] < g.right[c4] and g.centre[ds4] > g.right[c4] + 1.0


def test_pressed_keys_look_pressed() -> None:
    """Without hands: a pressed white key is darker than when released, a pressed black key lighter (it sinks, its
    bevel disappears); other keys do not change."""
    from datamodules.synthetic.keyboard import GEOMETRY, crop_view, render_video

    pressed = np.zeros((2, 88), dtype=bool)
    pressed[1, [39, 40]] = True  # C4 (white) and C#4 (black)
    view = crop_view()

    def key_mean(frame: np.ndarray, k: int, y0: float, y1: float) -> float:
        inset = 0.2 * (GEOMETRY.right[k] - GEOMETRY.left[k])
        xs = slice(
            int(view.x0 + (GEOMETRY.left[k] + inset) * view.sx), int(view.x0 + (GEOMETRY.right[k] - inset) * view.sx)
        )
        ys = slice(int(view.y0 + y0 * view.sy), int(view.y0 + y1 * view.sy))
        return float(frame[ys, xs].mean())

    frames, _ = render_video(pressed, None, None, np.random.default_rng(0), 25.0)
    assert key_mean(frames[1], 39, 0.7, 0.95) < key_mean(frames[0], 39, 0.7, 0.95) - 20
    assert key_mean(frames[1], 40, 0.2, 0.5) > key_mean(frames[0], 40, 0.2, 0.5) + 10
    assert abs(key_mean(frames[1], 44, 0.7, 0.95) - key_mean(frames[0], 44, 0.7, 0.95)) < 8
