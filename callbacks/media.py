"""Render what a model generates into TensorBoard and the run directory.

At the end of validation and test, :class:`MediaLogger` takes the first batch of the epoch, asks the model for
examples through :class:`models.generation.GeneratesExamples`, renders MIDI with FluidSynth (:mod:`music.synth`),
and logs for each example: the audio, a piano-roll image and a log-spectrogram image; the ``.mid`` / ``.wav``
files go to ``<log_dir>/media/<stage>_epoch<N>/``. Only global rank 0 renders and writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger

from models.generation import Example, GeneratesExamples, write_wav

ROLL_FPS = 50


def spectrogram_image(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Log-magnitude spectrogram as a [1, F, T] image in [0, 1], low frequencies at the bottom."""
    signal = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    if signal.numel() < n_fft:
        signal = torch.nn.functional.pad(signal, (0, n_fft - signal.numel()))
    magnitude = torch.stft(signal, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs()
    db = 20 * torch.log10(magnitude.clamp_min(1e-5))
    image = ((db - db.max() + 80).clamp_min(0) / 80).numpy()
    return image[::-1][None].copy()


def piano_roll_image(midi: Any, fps: int = ROLL_FPS) -> np.ndarray:
    """Piano roll of all non-drum notes (MIDI 21-108) as a [1, 88, T] image, high notes at the top."""
    from music.roll import midi_to_roll

    roll = midi_to_roll(midi, fps)
    if roll.shape[1] == 0:
        roll = np.zeros((roll.shape[0], 1), dtype=np.float32)
    return (roll > 0).astype(np.float32)[::-1][None].copy()


class MediaLogger(Callback):
    """Logs generated audio, piano rolls and spectrograms; writes .mid/.wav files. Rank 0 only.

    Args:
        every_n_epochs: render at validation end every N epochs (test always renders).
        max_examples: at most this many examples per render.
    """

    def __init__(self, every_n_epochs: int = 1, max_examples: int = 4) -> None:
        self.every_n_epochs = every_n_epochs
        self.max_examples = max_examples
        self._first_batch: dict[str, Any] = {}

    # -- collect the first batch of each evaluation loop -------------------------------------------------------
    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and not trainer.sanity_checking:
            self._first_batch["val"] = batch

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            self._first_batch["test"] = batch

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self._render(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._render(trainer, pl_module, "test")

    # -- rendering -----------------------------------------------------------------------------------------------
    def _render(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        batch = self._first_batch.pop(stage, None)
        log_dir = trainer.log_dir  # a broadcast under DDP: every rank must ask, before rank 0 goes on alone
        if batch is None or not trainer.is_global_zero or not isinstance(pl_module, GeneratesExamples):
            return
        with torch.no_grad():
            examples = pl_module.generate_examples(batch)[: self.max_examples]
        out_dir = Path(log_dir or trainer.default_root_dir) / "media" / f"{stage}_epoch{trainer.current_epoch}"
        out_dir.mkdir(parents=True, exist_ok=True)
        writer = _tensorboard(trainer)
        for example in examples:
            self._log_example(example, f"{stage}/{example.name}", out_dir, writer, trainer.global_step)

    @staticmethod
    def _log_example(example: Example, tag: str, out_dir: Path, writer: Any, step: int) -> None:
        from music.synth import render

        stem = example.name.replace("/", "_")  # names may contain dots ("clip_1.5s"): append suffixes, never replace
        audio = example.audio
        if example.midi is not None:
            tmp = out_dir / f".{stem}.tmp.mid"
            example.midi.write(str(tmp))
            tmp.replace(out_dir / f"{stem}.mid")
            if audio is None:
                audio = render(example.midi, sample_rate=example.sample_rate)
        if audio.size == 0:  # TensorBoard's add_audio fails on empty audio; an empty generation is still logged
            audio = np.zeros(max(2, example.sample_rate // 100), dtype=np.float32)  # 10 ms of silence
        write_wav(out_dir / f"{stem}.wav", audio, example.sample_rate)
        if writer is None:
            return
        writer.add_audio(f"{tag}/audio", torch.as_tensor(audio)[None], step, sample_rate=example.sample_rate)
        writer.add_image(f"{tag}/spectrogram", spectrogram_image(audio), step, dataformats="CHW")
        if example.midi is not None:
            writer.add_image(f"{tag}/piano_roll", piano_roll_image(example.midi), step, dataformats="CHW")


def _tensorboard(trainer: Trainer) -> Any:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None
