"""AudeoDataModule on the synthetic Audeo-format data (release layout, docs/DATASETS.md §5): stages, alignment,
errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.audeo import AudeoDataModule, list_segments, read_labels, read_segment
from datamodules.synthetic import ensure
from tests.helpers.audeo_data import MINUTES
from tests.helpers.audeo_data import audeo_dm as _dm


@pytest.fixture(scope="module")
def root() -> Path:
    return ensure("audeo", MINUTES, 0)


def test_video2roll_items_match_labels(root: Path, tmp_path: Path) -> None:
    dm = _dm("video2roll", tmp_path)
    dm.setup("fit")
    assert dm.is_synthetic
    batch = next(iter(dm.val_dataloader()))
    assert batch["frames"].shape == (4, 5, 20, 180) and batch["frames"].dtype == torch.float32
    assert 0.0 <= float(batch["frames"].min()) and float(batch["frames"].max()) <= 1.0
    assert batch["roll"].shape == (4, 51, 1)
    meta = batch["meta"][0]
    labels = read_labels(root / "labels" / "testing" / f"{meta['video']}.pkl")
    expected = (labels[meta["frame"]][15:66] > 0).astype(np.float32)
    np.testing.assert_array_equal(batch["roll"][0, :, 0].numpy(), expected)
    assert meta["frame"] == 2  # the first frame with two neighbours on each side (released code)
    # the middle of the stack is the labelled frame: the cache holds the resized JPEG of frame N
    video = dm.frames("val", meta["video"])
    np.testing.assert_array_equal(batch["frames"][0, 2].numpy(), video.array[video.row(2)] / np.float32(255.0))
    # cached once, memory-mapped
    assert isinstance(video.array, np.memmap) and len(list(tmp_path.rglob("*.npy"))) >= 2


def test_balanced_training_loader_covers_rare_keys(tmp_path: Path) -> None:
    dm = _dm("video2roll", tmp_path, samples_per_epoch=400)
    dm.setup("fit")
    labels = dm.dataset("train").labels
    loader = dm.train_dataloader()
    assert len(loader.sampler) == 400
    drawn = labels[np.array(list(loader.sampler))]
    present = labels.sum(0) > 0
    rare = present & (labels.mean(0) < np.median(labels.mean(0)[present]))
    assert drawn.mean(0)[rare].mean() > labels.mean(0)[rare].mean()  # rare keys over-sampled


def test_roll2midi_windows(root: Path, tmp_path: Path) -> None:
    dm = _dm("roll2midi", tmp_path)
    dm.setup("fit")
    train, val = dm.dataset("train"), dm.dataset("val")
    item = train[0]
    assert item["roll"].shape == item["roll_prob"].shape == (51, 100)
    assert set(torch.unique(item["roll"]).tolist()) <= {0.0, 1.0}
    assert 0.0 < float(item["roll_prob"].min()) and float(item["roll_prob"].max()) < 1.0
    video = item["meta"]["video"]
    segments = list_segments(root / "midi" / "training" / video)
    first = read_segment(segments[0].path, "midi", 51)
    np.testing.assert_array_equal(item["roll"][:, :50].numpy(), (first.T > 0).astype(np.float32))
    # training windows overlap by one segment, test windows do not
    starts = [train[i]["meta"]["start_frame"] for i in range(3) if train[i]["meta"]["video"] == video]
    assert starts[:2] == [0, 50]
    assert [val[i]["meta"]["start_frame"] for i in range(min(2, len(val)))][:2] in ([0, 100], [0])


def test_perfnet_items_pair_roll_and_audio(tmp_path: Path) -> None:
    dm = _dm("perfnet", tmp_path)
    dm.setup("fit")
    item = dm.dataset("train")[1]
    assert item["roll"].shape == (51, 50) and item["audio"].shape == (32000,)
    assert float(item["audio"].abs().max()) > 0.0


def test_bad_roots_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AudeoDataModule(root=str(tmp_path / "nowhere")).setup("fit")
    (tmp_path / "labels" / "training").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no videos"):
        AudeoDataModule(root=str(tmp_path)).setup("fit")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({0: np.zeros(12)}))
    with pytest.raises(ValueError, match="bad.pkl"):
        read_labels(bad)
    with pytest.raises(FileNotFoundError, match="roll_dir .*missing"):
        _dm("roll2midi", tmp_path, roll_dir=str(tmp_path / "missing")).setup("fit")
    with pytest.raises(ValueError, match="keys"):
        AudeoDataModule(num_keys=60)


def test_octave_shift_moves_frames_and_keys_together(tmp_path: Path) -> None:
    """The keyboard's pattern repeats every ``OCTAVE_WIDTH`` of the width: a rendered frame with key k pressed, moved
    up by that many pixels, matches the frame with k + 12 pressed better than any other move of 30-46 pixels; the
    label moves with it, and moving down again restores both."""
    import cv2

    from datamodules.audeo import OCTAVE_WIDTH, shift_octave
    from datamodules.synthetic import keyboard

    pressed = np.zeros((3, keyboard.N_KEYS), dtype=bool)
    pressed[0, 40], pressed[1, 52] = True, True  # E3, E4 (88-key columns), then nothing pressed
    rendered, _ = keyboard.render_video(pressed, None, None, np.random.default_rng(0), 25, view=keyboard.crop_view())
    frames = np.stack([cv2.resize(f, (288, 32), interpolation=cv2.INTER_AREA) for f in rendered]) / np.float32(255)
    frames = torch.from_numpy(frames)
    change = frames[:2] - frames[2:]  # what each press changes (with the frames' drift and noise)
    roll = torch.zeros(51)
    roll[40 - 15] = 1.0  # 51-key rows start at column 15
    pixels = round(288 * OCTAVE_WIDTH)

    def match(px: int) -> float:
        moved = shift_octave(change[:1], roll, 1, px)[0][0]
        return float(torch.corrcoef(torch.stack([moved.flatten(), change[1].flatten()]))[0, 1])

    scores = {px: match(px) for px in range(30, 47)}
    assert max(scores, key=scores.get) == pixels == 38, scores
    moved_roll = shift_octave(frames[:1], roll, 1, pixels)[1]
    assert moved_roll.nonzero().flatten().tolist() == [52 - 15]
    back, back_roll = shift_octave(shift_octave(frames[:1], roll, 1, pixels)[0], moved_roll, -1, pixels)
    torch.testing.assert_close(back[..., pixels:-pixels], frames[:1, :, pixels:-pixels])
    assert torch.equal(back_roll, roll)


def test_octave_shift_only_in_training(tmp_path: Path) -> None:
    dm = _dm("video2roll", tmp_path, octave_shift=1.0)
    dm.setup("fit")
    from datamodules.audeo import OCTAVE_WIDTH

    train, val = dm.dataset("train"), dm.dataset("val")
    assert train.octave_shift == 1.0 and train.octave_pixels == round(180 * OCTAVE_WIDTH) and val.octave_shift == 0.0
    torch.manual_seed(0)
    rows = [train[i]["roll"][:, 0] for i in range(40)]
    assert any(not torch.equal(r, torch.from_numpy(train.labels[i])) for i, r in enumerate(rows))
    with pytest.raises(ValueError, match="octave_shift is a probability"):
        _dm("video2roll", tmp_path, octave_shift=1.5)
