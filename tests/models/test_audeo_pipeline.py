"""Audeo's stages chained through files (models/audeo/pipeline.py): a trained stage's outputs are written in the
release's layout (docs/DATASETS.md §5) and read back by the next stage's DataModule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.audeo import list_segments, read_segment
from datamodules.synthetic import ensure
from models.audeo.pipeline import export_midi_results, export_roll_estimates
from tests.helpers.audeo_data import MINUTES
from tests.helpers.audeo_data import audeo_dm as _dm


@pytest.fixture(scope="module")
def root() -> Path:
    return ensure("audeo", MINUTES, 0)


def test_export_roll_estimates_round_trip(root: Path, tmp_path: Path) -> None:
    dm = _dm("video2roll", tmp_path / "cache")
    out = export_roll_estimates(dm, lambda x: torch.full((len(x), 51), 2.0), tmp_path / "est", splits=("test",))
    video = dm.video_names("test")[0]
    for seg in list_segments(root / "midi" / "testing" / video):
        written = np.load(out / "testing" / video / seg.path.name)
        assert written["logit"].shape == (seg.end - seg.start, 88)
        assert np.all(written["logit"][:, 15:66] == 2.0) and np.all(written["logit"][:, :15] == 0)
        assert np.all(written["roll"][:, 15:66] == 1)
    reader = _dm("roll2midi", tmp_path / "cache", roll_dir=str(out))
    window = reader.build_dataset(root, "test")[0]
    assert torch.allclose(window["roll_prob"][:, :50], torch.sigmoid(torch.tensor(2.0)))


def test_export_midi_results_release_layout(root: Path, tmp_path: Path) -> None:
    dm = _dm("roll2midi", tmp_path / "cache")
    out = export_midi_results(dm, lambda probs: (probs > 0.5).float(), tmp_path / "r2m")
    video = dm.video_names("test")[0]
    files = sorted((out / "testing" / video).glob("*.npz"), key=lambda p: int(p.stem.split("-")[0]))
    assert files and files[0].name == "0-50.npz"
    midi = np.load(files[0])["midi"]
    assert midi.shape == (50, 51) and midi.dtype.kind == "i"  # the release's Roll2Midi_results: keys 15..65 only
    estimate = read_segment(root / "estimate_Roll" / "testing" / video / files[0].name, "logit", 51)
    np.testing.assert_array_equal(midi, (estimate > 0).astype(np.int64))  # sigmoid(logit) > 0.5 <=> logit > 0
    refine = _dm("refine", tmp_path / "cache", roll_dir=str(out))
    item = refine.build_dataset(root, "test")[0]
    np.testing.assert_array_equal(item["roll"].numpy(), midi.T.astype(np.float32))


def _checkpoint(model: torch.nn.Module, path: Path) -> str:
    from pytorch_lightning import __version__

    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    torch.save({**checkpoint, "pytorch-lightning_version": __version__}, path)  # as Trainer.save_checkpoint
    return str(path)


def test_pipeline_command_runs_checkpoints_for_the_next_stage(root: Path, tmp_path: Path) -> None:
    """``python -m models.audeo.pipeline`` (what ``make audeo`` runs between stages): the checkpoint's own model, the
    configs' data, outputs the next stage's DataModule reads."""
    from models.audeo import Audeo
    from models.audeo.pipeline import main

    sizes = {
        "widths": (8, 16, 32, 64),
        "feature_channels": 16,
        "top_channels": 8,
        "frame_size": (20, 180),
        "feature_transform": "adaptive",
    }
    v2r = _checkpoint(Audeo(stage="video2roll", **sizes), tmp_path / "v2r.ckpt")
    data = tmp_path / "data.yaml"
    data.write_text(f"data:\n  init_args:\n    synthetic_minutes: {MINUTES}\n    cache_dir: {tmp_path / 'cache'}\n")
    configs = ["--config", "experiments/audeo.yaml", "--config", str(data)]
    estimates = main(["estimates", "--ckpt", v2r, *configs, "--out", str(tmp_path / "est"), "--splits", "test"])
    reader = _dm("roll2midi", tmp_path / "cache", roll_dir=str(estimates))
    video = reader.video_names("test")[0]
    assert sorted(p.name for p in (estimates / "testing" / video).glob("*.npz")) == sorted(
        s.path.name for s in reader.segments("test", video)
    )
    window = reader.build_dataset(root, "test")[0]

    generator = {"generator_down": (8, 16, 16, 32, 32, 32), "generator_up": (16, 16, 8, 8, 4)}
    roll2midi = Audeo(stage="roll2midi", **generator)
    r2m = _checkpoint(roll2midi, tmp_path / "r2m.ckpt")
    out = main(["midi", "--ckpt", r2m, *configs, "--roll-dir", str(estimates), "--out", str(tmp_path / "r2m"),
                "--splits", "test"])  # fmt: skip
    with torch.no_grad():
        expected = roll2midi.eval().refine_roll(window["roll_prob"][None])[0] >= 0.5  # the checkpoint's generator
    written = np.load(out / "testing" / video / f"{window['meta']['start_frame']}-50.npz")["midi"]
    np.testing.assert_array_equal(written, expected[:, :50].T.numpy().astype(np.int64))
    assert len(_dm("refine", tmp_path / "cache", roll_dir=str(out)).build_dataset(root, "test")) > 0

    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt does not exist"):
        main(["estimates", "--ckpt", str(tmp_path / "missing.ckpt"), *configs, "--out", str(tmp_path / "x")])
    with pytest.raises(FileNotFoundError, match=r"config .*nowhere\.yaml does not exist"):
        main(["estimates", "--ckpt", v2r, "--config", str(tmp_path / "nowhere.yaml"), "--out", str(tmp_path / "x")])
