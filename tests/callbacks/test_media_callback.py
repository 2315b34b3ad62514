"""MediaLogger: a Trainer run writes audio, piano-roll and spectrogram images to TensorBoard and .mid/.wav files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset

from callbacks.media import MediaLogger, piano_roll_image, spectrogram_image
from models.generation import Example

SR = 16000


class _Generator(pl.LightningModule):
    """Regression on noise that 'generates' one A4 piano note (symbolic) and one 660 Hz sine (waveform)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.calls: list[int] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.linear(x).squeeze(-1), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.linear(x).squeeze(-1), y))

    test_step = validation_step

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def generate_examples(self, batch) -> list[Example]:
        self.calls.append(len(batch[0]))
        midi = pretty_midi.PrettyMIDI()
        piano = pretty_midi.Instrument(0)
        piano.notes = [pretty_midi.Note(100, 69, 0.0, 1.0), pretty_midi.Note(100, 72, 1.0, 1.5)]
        midi.instruments.append(piano)
        t = np.arange(SR) / SR
        sine = 0.3 * np.sin(2 * np.pi * 660 * t)
        return [
            Example("piano", midi=midi, sample_rate=SR),
            Example("sine.take1", audio=sine, sample_rate=SR),
            Example("silent", midi=pretty_midi.PrettyMIDI(), sample_rate=SR),  # an untrained model's empty output
            Example("nothing", audio=np.zeros(0), sample_rate=SR),
        ]


def _loader(n: int) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(n, 4, generator=generator), torch.randn(n, generator=generator)), 4)


def _peak_hz(wav_bytes: bytes) -> tuple[float, int, int]:
    audio, rate = sf.read(io.BytesIO(wav_bytes), dtype="float32")
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)]), rate, len(audio)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, _Generator]:
    root = tmp_path_factory.mktemp("media")
    model = _Generator()
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=2,
        num_sanity_val_steps=1,
        logger=TensorBoardLogger(str(root), name="tb"),
        callbacks=[MediaLogger(max_examples=4)],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(model, _loader(8), _loader(8))
    trainer.test(model, _loader(4), verbose=False)
    return Path(trainer.log_dir), model


def test_event_file_holds_audio_and_images(run: tuple[Path, _Generator]) -> None:
    log_dir, _ = run
    accumulator = EventAccumulator(str(log_dir), size_guidance={"audio": 0, "images": 0, "scalars": 0}).Reload()
    tags = accumulator.Tags()
    for stage in ("val", "test"):
        assert f"{stage}/piano/audio" in tags["audio"] and f"{stage}/sine.take1/audio" in tags["audio"]
        assert {f"{stage}/piano/spectrogram", f"{stage}/piano/piano_roll", f"{stage}/sine.take1/spectrogram"} <= set(
            tags["images"]
        )
        assert f"{stage}/sine.take1/piano_roll" not in tags["images"]  # waveform-only examples have no roll
        assert {f"{stage}/silent/audio", f"{stage}/nothing/audio"} <= set(tags["audio"])
    piano = accumulator.Audio("val/piano/audio")[0]
    assert piano.sample_rate == SR
    peak, rate, length = _peak_hz(piano.encoded_audio_string)
    assert rate == SR and length == round((1.5 + 0.5) * SR)  # music end + the renderer's release
    assert abs(12 * np.log2(peak / 440.0)) < 1.0  # the A4 dominates (it sounds twice as long as the C5)
    sine_peak, _, _ = _peak_hz(accumulator.Audio("val/sine.take1/audio")[0].encoded_audio_string)
    assert sine_peak == pytest.approx(660, abs=2)
    roll = accumulator.Images("val/piano/piano_roll")[0]
    assert roll.height == 88 and roll.width == 75  # 1.5 s at 50 frames/s
    assert accumulator.Images("val/piano/spectrogram")[0].height == 513


def test_files_written_once_per_stage(run: tuple[Path, _Generator]) -> None:
    log_dir, model = run
    assert model.calls == [4, 4]  # not during the sanity check: one validation, one test
    for stage in ("val_epoch0", "test_epoch1"):  # testing after one epoch of fit: current_epoch is 1
        folder = log_dir / "media" / stage
        names = sorted(p.name for p in folder.iterdir())
        expected = ["nothing.wav", "piano.mid", "piano.wav", "silent.mid", "silent.wav", "sine.take1.wav"]
        assert names == expected  # and no temporary files left
        notes = pretty_midi.PrettyMIDI(str(folder / "piano.mid")).instruments[0].notes
        assert [n.pitch for n in notes] == [69, 72]
        audio, rate = sf.read(str(folder / "piano.wav"))
        assert rate == SR and len(audio) == 2 * SR and np.abs(audio).max() > 0.01


def test_images() -> None:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(100, 108, 0.0, 0.2), pretty_midi.Note(100, 21, 0.2, 0.4)]
    midi.instruments.append(piano)
    roll = piano_roll_image(midi)
    assert roll.shape == (1, 88, 20)
    assert roll[0, 0, :10].all() and roll[0, 87, 10:].all()  # high notes at the top
    assert piano_roll_image(pretty_midi.PrettyMIDI()).shape == (1, 88, 1)
    t = np.arange(SR) / SR
    image = spectrogram_image(np.sin(2 * np.pi * 4000 * t).astype(np.float32))
    assert image.shape[:2] == (1, 513) and 0 <= image.min() and image.max() <= 1
    row = int(np.argmax(image[0].mean(axis=1)))
    assert row == pytest.approx(512 - 4000 / (SR / 2) * 512, abs=2)  # low frequencies at the bottom
    assert spectrogram_image(np.zeros(10, dtype=np.float32)).shape[1] == 513
