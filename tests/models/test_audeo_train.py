"""Each Audeo stage trains (a few steps), the GAN steps both optimisers by hand, stages chain by checkpoint path, and
generate_from_video turns a top-view piano video into MIDI + audio + an MP4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from datamodules.audeo import AudeoDataModule
from datamodules.synthetic import ensure
from models.audeo import Audeo
from tests.helpers.presets import debug_init_args

MINUTES = 0.5
TINY = debug_init_args("audeo_all_stages")  # experiments/debug/audeo_all_stages.yaml


def _dm(stage: str, tmp_path: Path, **kwargs) -> AudeoDataModule:
    return AudeoDataModule(stage=stage, synthetic_minutes=MINUTES, batch_size=4, frame_size=(20, 180),
                           cache_dir=str(tmp_path / "cache"), **kwargs)  # fmt: skip


def _trainer(tmp_path: Path, steps: int) -> pl.Trainer:
    return pl.Trainer(max_steps=steps, limit_val_batches=1, num_sanity_val_steps=0, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path,
                      enable_model_summary=False)  # fmt: skip


def _save(model: Audeo, path: Path) -> str:
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)  # as Lightning
    return str(path)


def test_video2roll_trains_and_chains_into_roll2midi(tmp_path: Path) -> None:
    model = Audeo(stage="video2roll", **TINY)
    before = [p.detach().clone() for p in model.video2roll.parameters()]
    _trainer(tmp_path, 3).fit(model, _dm("video2roll", tmp_path))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.video2roll.parameters()))
    ckpt = _save(model, tmp_path / "v2r.ckpt")
    chained = Audeo(stage="roll2midi", video2roll_ckpt=ckpt, **TINY)
    chained.setup("fit")
    for a, b in zip(model.video2roll.state_dict().values(), chained.video2roll.state_dict().values()):
        assert torch.equal(a, b)
    assert not any(p.requires_grad for p in chained.video2roll.parameters())  # frozen earlier stage
    assert "video2roll.classifier.weight" in chained.state_dict()  # rides along in the roll2midi checkpoint
    other_sizes = {**TINY, "widths": (16, 16, 32, 32), "feature_channels": 8}
    resized = Audeo(stage="roll2midi", video2roll_ckpt=ckpt, **other_sizes)  # sizes come from the checkpoint
    assert list(resized.hparams.widths) == [8, 16, 32, 64] and resized.hparams.feature_channels == 16
    torch.testing.assert_close(resized.video2roll.classifier.weight, model.video2roll.classifier.weight)
    assert Audeo(stage="video2roll", num_keys=88, **TINY).video2roll.classifier.out_features == 88
    with pytest.raises(ValueError, match="num_keys"):
        Audeo(num_keys=60)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        Audeo(stage="roll2midi", video2roll_ckpt=str(tmp_path / "missing.ckpt"), **TINY).setup("fit")


def test_roll2midi_gan_steps_both_optimisers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = Audeo(stage="roll2midi", **TINY)
    assert model.automatic_optimization is False
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    trainer = _trainer(tmp_path, 4)  # manual optimisation: every optimiser.step() counts, 2 per batch
    trainer.fit(model, _dm("roll2midi", tmp_path))
    opt_g, opt_d = model.optimizers()
    assert opt_g.optimizer.state and opt_d.optimizer.state  # both Adam optimisers have stepped
    assert {int(s["step"]) for s in opt_g.optimizer.state.values()} == {2}  # 2 batches: G then D each time
    assert {int(s["step"]) for s in opt_d.optimizer.state.values()} == {2}
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))
    assert {"train/g_loss", "train/d_loss", "train/g_mse"} <= set(trainer.callback_metrics)
    trainer.validate(model, _dm("roll2midi", tmp_path), verbose=False)
    assert {"val/roll2midi_ts50/f1_micro", "val/roll2midi_ts40/f1_frame", "val/video2roll_ts40/f1_micro"} <= set(
        trainer.callback_metrics
    )
    trainer.test(model, _dm("roll2midi", tmp_path), verbose=False)  # `test` prints Audeo's Table 1 layout
    printed = capsys.readouterr().out
    assert "Audeo Table 1" in printed and "SYNTHETIC" in printed
    row = next(line for line in printed.splitlines() if line.startswith("Roll2Midi Net TS=0.5"))
    measured_f1 = 100 * float(trainer.callback_metrics["test/roll2midi_ts50/f1_micro"])
    assert row.split("|")[-1].split() == [f"{measured_f1:.1f}", "60.4"]  # measured beside the paper's


def test_generated_and_reference_examples(tmp_path: Path) -> None:
    dm = _dm("roll2midi", tmp_path)
    dm.setup("fit")
    batch = dm.collate([dm.dataset("train")[i] for i in (0, 1)])
    examples = Audeo(stage="roll2midi", **TINY).eval().generate_examples(batch)
    assert [e.role for e in examples] == ["generated", "reference"] * 2  # the pseudo GT is the reference
    assert all(e.name.endswith("_pseudo_gt") == (e.role == "reference") for e in examples)


def _fit_steps(model: Audeo, batch: dict, steps: int) -> list[float]:
    optimizer = model.configure_optimizers()["optimizer"]
    losses = []
    model.train()
    for _ in range(steps):
        loss = model._spectrogram_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_perfnet_then_refinement_losses_decrease(tmp_path: Path) -> None:
    torch.manual_seed(0)
    dm = _dm("perfnet", tmp_path)
    dm.setup("fit")
    batch = dm.collate([dm.dataset("train")[i] for i in (1, 2)])
    perfnet = Audeo(stage="perfnet", **TINY)
    losses = _fit_steps(perfnet, batch, 10)
    assert losses[-1] < 0.7 * losses[0]
    assert perfnet.spectrogram(batch["roll"]).shape == (2, 576, 126)

    refine = Audeo(stage="refine", perfnet_ckpt=_save(perfnet, tmp_path / "perfnet.ckpt"), **TINY)
    refine.setup("fit")
    assert not any(p.requires_grad for p in refine.perfnet.parameters())
    frozen = [p.detach().clone() for p in refine.perfnet.parameters()]
    losses = _fit_steps(refine, batch, 6)
    assert losses[-1] < losses[0]
    assert all(torch.equal(a, b) for a, b in zip(frozen, refine.perfnet.parameters()))
    spec = refine.spectrogram(batch["roll"])
    assert spec.shape == (2, 576, 126) and (spec >= 0).all()
    examples = refine.generate_examples(batch)
    assert examples[0].audio.shape == (32000,) and np.isfinite(examples[0].audio).all()
    with pytest.raises(FileNotFoundError, match="perfnet_ckpt"):
        Audeo(stage="refine", **TINY).setup("fit")


@pytest.fixture(scope="module")
def piano_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, int, int, int], int]:
    """A small top-view piano MP4: the synthetic keyboard frames of a test video inside a larger dark frame."""
    from datamodules.video import FrameFolder, write_video

    root = ensure("audeo", MINUTES, 0)
    folder = next((root / "input_images" / "testing").iterdir())
    frames = FrameFolder(folder, fps=25).read_frames(np.arange(60), gray=True)  # 2.4 s of 900 x 100 crops
    canvas = np.full((len(frames), 160, 960), 30, dtype=np.uint8)
    box = (30, 40, 930, 140)
    canvas[:, box[1] : box[3], box[0] : box[2]] = frames
    path = tmp_path_factory.mktemp("video") / "piano.mp4"
    write_video(path, canvas, fps=25)
    return path, box, len(frames)


def test_generate_from_video_writes_midi_audio_and_mp4(tmp_path: Path, piano_video) -> None:
    from models.generation import write_soundtrack
    from music.roll import midi_to_roll

    video, box, count = piano_video
    v2r = Audeo(stage="video2roll", **TINY)
    torch.nn.init.constant_(v2r.video2roll.classifier.bias, 0.0)
    chained = Audeo(stage="roll2midi", video2roll_ckpt=_save(v2r, tmp_path / "v2r.ckpt"), **TINY)
    model = Audeo(stage="roll2midi", crop_box=box, **TINY)  # as `cli.py generate --ckpt`: the state brings Video2Roll
    assert model.video2roll is None
    model.load_state_dict(chained.state_dict())
    example = model.generate_from_video(str(video), progress=False)
    roll = example.extra["roll"]
    assert roll.shape == (51, count) and example.extra["probs"].shape == (51, count)
    # the MIDI is exactly the predicted roll (25 fps, MIDI 36-86, velocity 100)
    back = midi_to_roll(example.midi, 25, low=36, high=86, frames=count, binary=True)
    np.testing.assert_array_equal(back, roll)
    assert all(n.velocity == 100 for n in example.midi.instruments[0].notes)
    assert example.sample_rate == 16000 and example.audio.dtype == np.float32
    if roll.any():
        assert len(example.audio) >= int(count / 25 * 16000) - 16000 // 25
    paths = write_soundtrack(example, video, tmp_path / "out.mp4")
    assert {"midi", "wav", "video"} <= set(paths) and all(Path(p).stat().st_size > 0 for p in paths.values())
    import av

    with av.open(str(paths["video"])) as container:
        assert container.streams.audio and container.streams.video

    model.hparams.synth = "perfnet"
    with pytest.raises(RuntimeError, match="perfnet"):
        model.generate_from_video(str(video), progress=False)
