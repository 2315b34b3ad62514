"""MV100KDataModule on a fixture in the MV100K layout (datamodules/mv100k.py docstring) with MusicCaps captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from datamodules.mv100k import MV100KDataModule, read_captions

MUSICCAPS_HEADER = (
    "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval"
)
VIDEOS = (("Ab01", "train", 23.5, "3 17"), ("_x-2", "train", 12.0, ""), ("Cd03", "val", 21.0, "21"),
          ("Ef04", "test", 7.0, "21 3"))  # fmt: skip


def write_fixture(root: Path, rate: int = 22050) -> Path:
    for k, (vid, _, duration, _) in enumerate(VIDEOS):
        seconds = int(np.floor(duration))
        for kind, dim in (("effnet_lite0", 6), ("flow", 4)):
            (root / "features" / kind).mkdir(parents=True, exist_ok=True)
            # row t of video k holds 100*k + t, so a clip's rows can be traced back to its seconds
            rows = 100 * k + np.arange(seconds, dtype=np.float32)[:, None] + np.zeros(dim, np.float32)
            np.save(root / "features" / kind / f"{vid}.npy", rows if kind == "flow" else -rows)
        (root / "audio").mkdir(exist_ok=True)
        t = np.arange(int(duration * rate)) / rate
        audio = np.stack([np.sin(2 * np.pi * 110 * (k + 1) * t)] * 2, axis=1).astype(np.float32) * 0.5  # stereo
        sf.write(root / "audio" / f"{vid}.wav", audio, rate, subtype="PCM_16")
    lines = ["id,split,duration_s,labels,ytid"] + [f"{v},{s},{d},{lab},yt{v}" for v, s, d, lab in VIDEOS]
    (root / "videos.csv").write_text("\n".join(lines) + "\n")
    (root / "captions.csv").write_text(
        MUSICCAPS_HEADER + "\n"
        'Cd03,0,10,"/m/0140xf,/m/02cjck","[\'pop\', \'tinny wide hi hats\']","A pop song.\nWith a newline, and commas."'
        ",4,False,True\n"
        "Cd03,10,20,/m/04rlf,\"['rock']\",A loud rock song.,7,True,False\n"
    )
    (root / "vocabulary.csv").write_text(
        "Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl,Vertical1,Vertical2,Vertical3,WikiDescription\n"
        "3,10,/m/x,Guitar,u,Arts,,,d\n17,5,/m/y,Dance,u,Arts,,,d\n21,7,/m/z,Music video,u,Arts,,,d\n"
    )
    return root


def test_batches_hold_aligned_features_audio_and_captions(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "mv")
    dm = MV100KDataModule(str(root), feature_kinds=("flow", "effnet_lite0"), clip_seconds=10, sample_rate=8000,
                          batch_size=2)  # fmt: skip
    dm.setup("fit")
    dm.setup("test")
    assert not dm.is_synthetic and dm.feature_dims == (4, 6) and dm.feature_dim == 10
    assert {k: len(v) for k, v in dm.datasets.items()} == {"train": 3, "val": 2, "test": 1}

    torch.manual_seed(0)
    batch = next(iter(dm.train_dataloader()))
    assert batch["visual_features"].shape == (2, 10, 10) and batch["audio"].shape == (2, 80000)
    for features, meta in zip(batch["visual_features"], batch["meta"]):
        k = [v[0] for v in VIDEOS].index(meta["id"])
        start = meta["start_s"]
        assert start == int(start) and 0 <= start <= VIDEOS[k][2] - 10
        expected = 100 * k + start + torch.arange(10.0)
        torch.testing.assert_close(features[:, 0], expected)  # flow first (the requested order)
        torch.testing.assert_close(features[:, 4], -expected)

    val = list(dm.val_dataloader())
    assert len(val) == 1
    (batch,) = val
    assert [m["start_s"] for m in batch["meta"]] == [0.0, 10.0]
    torch.testing.assert_close(batch["visual_features"][1, :, 0], 200 + 10 + torch.arange(10.0))
    assert batch["text"] == ["A pop song.\nWith a newline, and commas.", "A loud rock song."]
    assert batch["meta"][0]["label_names"] == ["Music video"] and batch["meta"][0]["ytid"] == "ytCd03"
    # audio: the stereo 330 Hz sine, mixed down and resampled to 8 kHz
    spectrum = np.abs(np.fft.rfft(batch["audio"][0].numpy()))
    assert abs(np.argmax(spectrum) * 8000 / 80000 - 330) < 1

    (batch,) = list(dm.test_dataloader())
    assert batch["meta"][0]["valid_seconds"] == 7.0 and batch["text"] == [""]
    torch.testing.assert_close(batch["visual_features"][0, :, 0], 300 + torch.tensor([0, 1, 2, 3, 4, 5, 6, 6, 6, 6.0]))
    tail = batch["audio"][0, 7 * 8000 + 200 :]
    assert tail.abs().max() < 1e-2 < batch["audio"][0, : 7 * 8000].abs().max()  # after the video's end: silence


def test_musiccaps_parsing(tmp_path: Path) -> None:
    captions = read_captions(write_fixture(tmp_path / "mv") / "captions.csv")
    assert [c.aspects for c in captions["Cd03"]] == [("pop", "tinny wide hi hats"), ("rock",)]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda r: (r / "videos.csv").unlink(), "videos.csv does not exist"),
        (lambda r: (r / "features/flow/Cd03.npy").unlink(), r"1 file\(s\).*features/flow/Cd03.npy"),
        (lambda r: (r / "audio/Ab01.wav").unlink(), "audio/Ab01.wav"),
        (
            lambda r: (r / "videos.csv").write_text("id,split,duration_s\nAb01,train,3\n"),
            r"lacks the column\(s\) \['labels'\]",
        ),
        (
            lambda r: (r / "videos.csv").write_text("id,split,duration_s,labels\nAb01,training,3,\n"),
            "line 2.*train, val or test",
        ),
        (lambda r: (r / "videos.csv").write_text("id,split,duration_s,labels\nA b,train,3,\n"), "bad video id"),
        (lambda r: (r / "videos.csv").write_text("id,split,duration_s,labels\n"), "lists no videos"),
    ],
)
def test_broken_roots_raise_one_clear_error(tmp_path: Path, damage, match: str) -> None:
    root = write_fixture(tmp_path / "mv")
    damage(root)
    with pytest.raises((FileNotFoundError, ValueError), match=match):
        MV100KDataModule(str(root), feature_kinds=("flow",), batch_size=1).setup("fit")


def test_bad_feature_files_are_errors_not_silent_samples(tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "mv")
    np.save(root / "features/flow/Cd03.npy", np.full((21, 4), np.nan, np.float32))
    np.save(root / "features/flow/Ef04.npy", np.zeros((3, 4), np.float32))
    dm = MV100KDataModule(str(root), feature_kinds=("flow",), batch_size=1)
    dm.setup("validate")
    with pytest.raises(ValueError, match="Cd03.npy holds NaN"):
        dm.datasets["val"][0]
    dm.setup("test")
    with pytest.raises(ValueError, match="Ef04.npy has 3 rows but videos.csv says 7 s"):
        dm.datasets["test"][0]
    with pytest.raises(FileNotFoundError, match="root .*nowhere does not exist"):
        MV100KDataModule(str(tmp_path / "nowhere")).setup("fit")
    with pytest.raises(FileNotFoundError, match="features/clip does not exist"):
        MV100KDataModule(str(root), feature_kinds=("clip",)).setup("fit")
    with pytest.raises(ValueError, match="no 'test' videos"):
        (root / "videos.csv").write_text("id,split,duration_s,labels\nAb01,train,23.5,\n")
        MV100KDataModule(str(root), feature_kinds=("flow",)).setup("test")


def test_synthetic_default_is_in_the_same_format() -> None:
    pytest.importorskip("datamodules.synthetic.mv100k", reason="the synthetic MV100K writer is not there yet")
    dm = MV100KDataModule(None, clip_seconds=2, batch_size=2, synthetic_minutes=0.2, seed=0)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.is_synthetic
    batch = next(iter(dm.train_dataloader()))
    assert batch["visual_features"].shape[1:] == (2, dm.feature_dim) and batch["audio"].shape[1] == 32000
    assert all(m["synthetic"] for m in batch["meta"])
    assert torch.isfinite(batch["visual_features"]).all()
