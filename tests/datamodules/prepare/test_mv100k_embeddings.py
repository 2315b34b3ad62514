"""``prepare --task embeddings``: one joint text-audio embedding per 10-s segment of every video of an MV100K root
(V2Meow §3.1), with any model implementing metrics.text_audio.JointTextAudioModel loaded from a checkpoint; read back
by MV100KDataModule as ``control_embedding``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.mv100k import MV100KDataModule
from datamodules.prepare import run
from datamodules.prepare.mv100k import load_joint_model, prepare_embeddings
from metrics.text_audio import JointTextAudioModel
from tests.datamodules.test_mv100k import VIDEOS, write_fixture

CLASS = f"{__name__}.TinyJoint"


class TinyJoint:
    """A deterministic joint model: audio -> (dominant frequency / 1 kHz, RMS, seconds / 10) times ``scale``."""

    name = "tiny"
    sample_rate = 8000

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    @classmethod
    def from_checkpoint(cls, path: str) -> TinyJoint:
        return cls(float(json.loads(Path(path).read_text())["scale"]))

    def embed_text(self, text: list[str]) -> torch.Tensor:
        return torch.tensor([[len(t) / 100.0, 0.0, 0.0] for t in text])

    def embed_audio(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        n = audio.shape[-1]
        peak = torch.fft.rfft(audio).abs().argmax(-1).float() * sample_rate / n
        rms = audio.pow(2).mean(-1).sqrt()
        return self.scale * torch.stack([peak / 1000.0, rms, torch.full_like(rms, n / sample_rate / 10.0)], dim=-1)


class NaNJoint(TinyJoint):
    def embed_audio(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return torch.full((audio.shape[0], 3), float("nan"))


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "joint.json"
    path.write_text(json.dumps({"scale": 2.0}))
    return path


def test_embeddings_task_writes_one_row_per_segment_and_round_trips(tmp_path: Path, checkpoint: Path) -> None:
    assert isinstance(TinyJoint(), JointTextAudioModel)
    root = write_fixture(tmp_path / "mv")
    report = run("embeddings", root, root, joint_ckpt=checkpoint, joint_class=CLASS, progress=False)
    assert len(report.done) == len(VIDEOS) and not report.failed
    lengths = {"Ab01": [1, 1, 0.35], "_x-2": [1, 0.2], "Cd03": [1, 1, 0.1], "Ef04": [0.7]}  # seconds / 10
    for k, (vid, _, _, _) in enumerate(VIDEOS):
        rows = np.load(root / "embeddings" / "tiny" / f"{vid}.npy")
        assert rows.dtype == np.float32 and rows.shape == (len(lengths[vid]), 3)
        np.testing.assert_allclose(rows[:, 2], 2.0 * np.array(lengths[vid]), rtol=1e-6)  # the last one is shorter
        np.testing.assert_allclose(rows[:, 0], 2.0 * 0.11 * (k + 1), atol=2 * 0.3 / 1000)  # each video's own tone
        np.testing.assert_allclose(rows[:, 1], 2.0 * 0.5 / np.sqrt(2), rtol=0.02)

    again = run("embeddings", root, root, joint_ckpt=checkpoint, joint_class=CLASS, progress=False)
    assert len(again.skipped) == len(VIDEOS) and not again.done  # resumable: done outputs are kept

    dm = MV100KDataModule(str(root), feature_kinds=("flow",), embedding_kind="tiny", clip_seconds=10,
                          sample_rate=8000, batch_size=2)  # fmt: skip
    dm.setup("validate")
    (batch,) = list(dm.val_dataloader())
    expected = np.load(root / "embeddings" / "tiny" / "Cd03.npy").mean(0)
    assert batch["control_embedding"].shape == (2, 3)
    np.testing.assert_allclose(batch["control_embedding"].numpy(), np.stack([expected] * 2), rtol=1e-6)


def test_cli_prepare_embeddings(tmp_path: Path, checkpoint: Path) -> None:
    from cli import run_tool

    root = write_fixture(tmp_path / "mv")
    out = tmp_path / "out"
    run_tool(["prepare", "--task", "embeddings", "--src", str(root), "--out", str(out), "--joint_ckpt",
              str(checkpoint), "--joint_class", CLASS])  # fmt: skip
    assert sorted(p.name for p in (out / "embeddings" / "tiny").iterdir()) == sorted(f"{v[0]}.npy" for v in VIDEOS)


def test_bad_joint_models_and_roots_are_one_error(tmp_path: Path, checkpoint: Path) -> None:
    root = write_fixture(tmp_path / "mv")
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*nothing.ckpt does not exist"):
        load_joint_model(tmp_path / "nothing.ckpt", CLASS)
    with pytest.raises(ValueError, match="joint_class must name"):
        load_joint_model(checkpoint, None)
    with pytest.raises(ValueError, match=r"cannot import joint_class 'no_such_module.Model'"):
        load_joint_model(checkpoint, "no_such_module.Model")
    with pytest.raises(ValueError, match=r"pathlib.Path has no from_checkpoint"):
        load_joint_model(checkpoint, "pathlib.Path")
    with pytest.raises(ValueError, match="pass joint_ckpt"):
        prepare_embeddings(root)
    with pytest.raises(RuntimeError, match=r"4 of 4 inputs failed.*Ab01.wav: joint model 'tiny' returned NaN"):
        prepare_embeddings(root, model=NaNJoint(), progress=False)
    assert not list((root / "embeddings" / "tiny").glob("*.npy"))  # nothing half-written
    (root / "audio" / "Ef04.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 audio file\(s\) .* missing: .*audio/Ef04.wav"):
        prepare_embeddings(root, model=TinyJoint())
