"""callbacks.generative_metrics: FAD / KL / NDB of generated vs reference audio logged at validation/test end."""

from __future__ import annotations

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from callbacks.generative_metrics import GenerativeMetrics, batch_reference_audio, is_reference
from metrics import FAD, KLDivergence
from models.generation import Example
from tests.helpers.metrics import RandomProjectionEmbedder

SR = 16000


def _clips(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    return [
        {"audio": torch.from_numpy((0.5 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)).astype(np.float32))}
        for _ in range(n)
    ]


def _collate(items: list[dict]) -> dict:
    return {"audio": torch.stack([i["audio"] for i in items]), "meta": [{"sample_rate": SR} for _ in items]}


class Generator(pl.LightningModule):
    """Generates each clip at half volume plus a little noise; optionally also returns the references itself."""

    def __init__(self, with_truth: bool = False) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.with_truth = with_truth

    def training_step(self, batch, batch_idx):
        return self.layer(batch["audio"][:, :1]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        return None

    def test_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def generate_examples(self, batch):
        examples = []
        for i, audio in enumerate(batch["audio"].numpy()):
            examples.append(Example(f"clip{i}/generated", audio=generated_audio(audio)))
            if self.with_truth:
                examples.append(Example(f"clip{i}/truth", audio=audio, role="reference"))
        return examples


def generated_audio(audio: np.ndarray) -> np.ndarray:
    return 0.5 * audio + 0.01 * np.cos(np.arange(audio.size) * 0.3).astype(np.float32)


def _trainer(tmp_path, callback) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=3,
        num_sanity_val_steps=0,
        logger=TensorBoardLogger(str(tmp_path), name="run"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        callbacks=[callback],
    )


@pytest.mark.parametrize("with_truth", [False, True])
def test_callback_logs_fad_kl_ndb_equal_to_direct_computation(tmp_path, with_truth):
    embedder = RandomProjectionEmbedder()
    callback = GenerativeMetrics(audio_model=embedder, ndb_k=4, ndb_train_batches=4, max_batches=2)
    train = DataLoader(_clips(16, seed=0), batch_size=4, collate_fn=_collate)
    val_clips = _clips(12, seed=1)
    val = DataLoader(val_clips, batch_size=4, collate_fn=_collate)
    trainer = _trainer(tmp_path, callback)
    trainer.fit(Generator(with_truth), train_dataloaders=train, val_dataloaders=val)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}

    used = [c["audio"].numpy() for c in val_clips[:8]]  # max_batches=2 of 4 clips
    fad = FAD(embedder)
    fad.update(used, real=True)
    fad.update([generated_audio(a) for a in used], real=False)
    kl = KLDivergence(embedder)
    kl.update([generated_audio(a) for a in used], used)
    assert logged["val/fad_random_projection"] == pytest.approx(float(fad.compute()), rel=1e-6)
    assert logged["val/kl_random_projection"] == pytest.approx(float(kl.compute()), rel=1e-6)
    assert 0 <= logged["val/ndb"] <= 4 and logged["val/ndb_js"] >= 0

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(trainer.logger.log_dir)
    events.Reload()
    assert {"val/fad_random_projection", "val/kl_random_projection", "val/ndb", "val/ndb_js"} <= set(
        events.Tags()["scalars"]
    )

    trainer.test(trainer.lightning_module, dataloaders=val, verbose=False)
    assert trainer.callback_metrics["test/fad_random_projection"] == pytest.approx(float(fad.compute()), rel=1e-6)


def test_ndb_is_skipped_with_a_warning_when_training_data_is_too_small(tmp_path):
    callback = GenerativeMetrics(audio_model=RandomProjectionEmbedder(), ndb_k=50, ndb_train_batches=1)
    train = DataLoader(_clips(4, seed=0), batch_size=4, collate_fn=_collate)
    val = DataLoader(_clips(4, seed=1), batch_size=4, collate_fn=_collate)
    with pytest.warns(UserWarning, match="fewer than ndb_k=50"):
        _trainer(tmp_path, callback).fit(Generator(), train_dataloaders=train, val_dataloaders=val)
    assert "ndb" not in callback._metrics


def test_reference_rules_and_rendered_references():
    assert is_reference(Example("a/truth", audio=np.zeros(4), role="reference"))
    assert is_reference(Example("piece_pseudo_gt", audio=np.zeros(4), role="reference"))
    assert is_reference(Example("x_target", audio=np.zeros(4), role="reference"))
    assert is_reference(Example("x", audio=np.zeros(4), role="reference"))
    assert not is_reference(Example("a/generated", audio=np.zeros(4)))
    assert not is_reference(Example("gt_roll", audio=np.zeros(4)))
    assert not is_reference(Example("a/truth", audio=np.zeros(4)))  # the role decides, not the name
    with pytest.raises(ValueError, match="role must be one of"):
        Example("x", audio=np.zeros(4), role="truth")

    import pretty_midi

    from music.events import encode
    from music.roll import midi_to_roll

    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(100, 69, 0.0, 0.5))
    midi.instruments.append(piano)
    events = torch.tensor([encode(midi)])
    clips, rates = batch_reference_audio({"events": events}, 16000)
    assert rates == [16000] and clips[0].size == pytest.approx(16000, rel=0.05) and np.abs(clips[0]).max() > 0.01
    roll = torch.from_numpy(midi_to_roll(midi, 25))[None]
    clips, _ = batch_reference_audio({"roll": roll, "meta": [{"fps": 25}]}, 16000)
    spectrum = np.abs(np.fft.rfft(clips[0][:8000]))
    assert abs(np.argmax(spectrum) * 16000 / 8000 - 440) < 5  # A4 rendered
    with pytest.raises(ValueError, match="fps"):
        batch_reference_audio({"roll": roll}, 16000)
    assert batch_reference_audio({"keypoints": torch.zeros(1, 2, 3, 3)}, 16000) is None


def test_fast_dev_run_does_not_train_the_suite_embedder(tmp_path, monkeypatch):
    monkeypatch.setenv("V2M_CACHE", str(tmp_path / "cache"))
    callback = GenerativeMetrics(ndb=False)
    train = DataLoader(_clips(4, seed=0), batch_size=4, collate_fn=_collate)
    val = DataLoader(_clips(4, seed=1), batch_size=4, collate_fn=_collate)
    trainer = pl.Trainer(fast_dev_run=1, accelerator="cpu", callbacks=[callback], enable_progress_bar=False)
    with pytest.warns(UserWarning, match="not trained yet"):
        trainer.fit(Generator(), train_dataloaders=train, val_dataloaders=val)
    assert not (tmp_path / "cache" / "embedders").exists() and callback._metrics == {}


@pytest.mark.slow  # ~25 s of CPU for two spawned processes; the metrics' own DDP test runs in the CI tier
def test_two_process_ddp_logs_the_same_values_as_direct_computation(tmp_path):
    embedder = RandomProjectionEmbedder()
    callback = GenerativeMetrics(audio_model=embedder, ndb_k=4, ndb_train_batches=4, max_batches=2)
    val_clips = _clips(12, seed=1)
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        callbacks=[callback],
    )
    trainer.fit(
        Generator(),
        train_dataloaders=DataLoader(_clips(16, seed=0), batch_size=2, collate_fn=_collate),
        val_dataloaders=DataLoader(val_clips, batch_size=4, collate_fn=_collate),
    )
    used = [c["audio"].numpy() for c in val_clips]  # 6 clips per process, 2 batches each: all 12
    fad, kl = FAD(embedder), KLDivergence(embedder)
    fad.update(used, real=True)
    fad.update([generated_audio(a) for a in used], real=False)
    kl.update([generated_audio(a) for a in used], used)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert logged["val/fad_random_projection"] == pytest.approx(float(fad.compute()), rel=1e-6)
    assert logged["val/kl_random_projection"] == pytest.approx(float(kl.compute()), rel=1e-6)
    assert 0 <= logged["val/ndb"] <= 4
