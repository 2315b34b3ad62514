"""Frame features for MV100K: EfficientNet-Lite0 (bundled ImageNet weights), Farneback flow, and the ``features`` task
that turns music videos into an MV100K-layout root read by MV100KDataModule."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from datamodules.features import FEATURE_DIMS, extractor
from datamodules.features.flow import FarnebackFlowFeatures
from datamodules.video import VideoFile, write_video


def test_efficientnet_lite0_recognises_real_photos() -> None:
    data = pytest.importorskip("skimage.data")
    net = extractor("effnet_lite0")
    logits = net.logits(np.stack([data.chelsea()[:300, :300], data.coffee()[:300, 150:450]]))
    assert logits.shape == (2, 1000)
    assert int(np.argmax(logits[0])) in range(281, 286), "Chelsea is a cat (ImageNet 281-285)"
    assert int(np.argmax(logits[1])) in (967, 968), "a cup of espresso (ImageNet 967/968)"
    embedding = net.embed(np.stack([data.chelsea()[:300, :300]] * 2))
    assert embedding.shape == (2, FEATURE_DIMS["effnet_lite0"]) and np.allclose(embedding[0], embedding[1])


def _moving_square(frames: int, dx: int, size=(96, 128)) -> np.ndarray:
    video = np.full((frames,) + size + (3,), 40, np.uint8)
    rng = np.random.default_rng(0)
    texture = rng.integers(80, 255, (40, 40, 3), dtype=np.uint8)
    for t in range(frames):
        x = 10 + (dx * t) % 60
        video[t, 30:70, x : x + 40] = texture
    return video


def test_flow_features_see_direction_and_stillness(tmp_path: Path) -> None:
    flow = FarnebackFlowFeatures(pairs=2, width=128)
    right = flow.video(VideoFile(write_video(tmp_path / "right.mp4", _moving_square(24, 3), 12, crf=10)), 2)
    left = flow.video(VideoFile(write_video(tmp_path / "left.mp4", _moving_square(24, 3)[:, :, ::-1], 12, crf=10)), 2)
    still = flow.video(VideoFile(write_video(tmp_path / "still.mp4", _moving_square(24, 0), 12, crf=10)), 2)
    assert right.shape == (2, 45) and np.isfinite(right).all()
    mean_dx = 40  # columns 40, 41: mean (dx, dy) of the frame
    assert (right[:, mean_dx] > 0.1).all() and (left[:, mean_dx] < -0.1).all()
    assert np.abs(still[:, 36:45]).max() < 0.05
    hof_cells = right[:, :36].reshape(2, 4, 9)
    np.testing.assert_allclose(hof_cells.sum(-1), 1.0, atol=1e-5)  # L1-normalised per cell
    assert still[:, :36].reshape(2, 4, 9)[:, :, 8].min() > 0.99  # all static bins for a still video


def test_features_task_builds_a_loadable_mv100k_root(tmp_path: Path) -> None:
    from datamodules.mux import mux_audio
    from datamodules.mv100k import MV100KDataModule
    from datamodules.prepare import run

    src = tmp_path / "videos"
    src.mkdir()
    rate = 16000
    for k, vid in enumerate(("Vid01", "vid_2")):
        silent = write_video(tmp_path / f"{vid}-silent.mp4", _moving_square(36, 2 + k), 12)
        tone = 0.3 * np.sin(2 * np.pi * 220 * (k + 1) * np.arange(3 * rate) / rate).astype(np.float32)
        mux_audio(silent, tone, rate, src / f"{vid}.mp4")
    write_video(src / "no_sound.mp4", _moving_square(12, 1), 12)
    out = tmp_path / "mv"
    with pytest.raises(RuntimeError, match="no_sound.mp4"):
        run("features", src, out, kinds=("flow",), progress=False)
    assert sorted(p.name for p in (out / "features" / "flow").glob("*.npy")) == [
        "Vid01.npy",
        "no_sound.npy",
        "vid_2.npy",
    ]
    assert np.load(out / "features" / "flow" / "Vid01.npy").shape == (3, 45)
    rows = list(csv.DictReader((out / "videos.csv").open()))
    assert sorted(r["id"] for r in rows) == ["Vid01", "vid_2"]  # no_sound has no audio: not listed
    assert all(abs(float(r["duration_s"]) - 3.0) < 0.01 and r["split"] in ("train", "val", "test") for r in rows)

    (out / "videos.csv").write_text("id,split,duration_s,labels\nVid01,val,3.0,\nvid_2,val,3.0,7\n")
    dm = MV100KDataModule(str(out), feature_kinds=("flow",), clip_seconds=3, sample_rate=8000, batch_size=2)
    dm.setup("validate")
    (batch,) = list(dm.val_dataloader())
    assert batch["visual_features"].shape == (2, 3, 45) and batch["audio"].shape == (2, 24000)
    peaks = [np.argmax(np.abs(np.fft.rfft(a.numpy()))) * 8000 / 24000 for a in batch["audio"]]
    assert abs(peaks[0] - 220) < 2 and abs(peaks[1] - 440) < 2  # each video's own soundtrack
    # rerun after deleting one output: only that one is recomputed, the split edited above is kept
    (out / "features" / "flow" / "vid_2.npy").unlink()
    with pytest.raises(RuntimeError, match="no_sound"):
        run("features", src, out, kinds=("flow",), progress=False)
    assert (out / "features" / "flow" / "vid_2.npy").is_file()
    assert [r["split"] for r in csv.DictReader((out / "videos.csv").open())] == ["val", "val"]


def test_hash_split_is_stable_and_80_10_10() -> None:
    from datamodules.prepare.mv100k import hash_split

    splits = [hash_split(f"vid{k:05d}") for k in range(3000)]
    assert splits == [hash_split(f"vid{k:05d}") for k in range(3000)]
    fractions = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert abs(fractions["train"] - 0.8) < 0.03 and abs(fractions["val"] - 0.1) < 0.02, fractions
