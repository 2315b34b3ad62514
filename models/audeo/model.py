"""Audeo (Su, Liu & Shlizerman, NeurIPS 2020): music for a silent top-view piano video in three stages.

1. **Video2Roll Net** (§3): 5 consecutive grayscale frames (100 x 900, /255) -> the keys pressed in the middle frame.
   ResNet-18 (stem 5 -> 64, 11 x 11, stride 2) + feature transform of stages 2-4 to 128 channels, top-down
   refinement with SE-style gates (FPN-like) and correlation learning: the attention of refined levels R1 * R2
   (softmax over positions) regularises R3; BCE with logits; threshold 0.4 (Table 1).
2. **Roll2Midi Net** (§3, Fig. 4): a conditional GAN on 4-s windows (100 frames) of Video2Roll probabilities: a U-Net
   generator (stride-1 levels 64..1024, dropout 0.5, sigmoid) and a PatchGAN discriminator, both trained with
   least squares (MSE); generator loss 0.001 adversarial + 0.999 MSE to the pseudo GT; threshold 0.5 at inference.
3. **Midi Synth** (§3, §4.1): the roll becomes notes (runs of active frames, 0.04 s per frame, velocity 100) rendered
   by FluidSynth at 16 kHz; or the deep path: PerfNet (PerformanceNet, Wang & Yang 2019: roll -> log-magnitude
   spectrogram, window 2048, hop 256, 576 bins) + a 5-level U-Net refinement trained with L1, then Griffin-Lim.

One LightningModule, ``stage`` selects what trains: ``video2roll``, ``roll2midi``, ``perfnet`` or ``refine`` (the stage
table ``AUDEO_STAGES``, run by :class:`models.staged.StagedModule`). Earlier stages come from their checkpoints by path
(``video2roll_ckpt``, ``roll2midi_ckpt``, ``perfnet_ckpt``) and stay frozen; they are saved inside the later stage's
checkpoint, so the last checkpoint of a chain generates end to end (``make audeo`` runs the chain;
models/audeo/pipeline.py writes each stage's outputs for the next).
Facts the paper leaves open follow the released code (shlizee/Audeo): 51 keys (MIDI 36-86), Adam 1e-3 with
ReduceLROnPlateau (patience 2) for Video2Roll, two Adam(5e-4) for the GAN, 20000 balanced draws per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from datamodules.audeo import FPS, SAMPLE_RATE, STAGES, Stage, lowest_pitch
from models.audeo.networks import PerfNet, Video2RollNet, roll2midi_generator
from models.audeo.table1 import TABLE1_STATS, format_table1
from models.generation import Example
from models.nn.patchgan import DEFAULT_LAYERS, PatchDiscriminator, gan_init
from models.nn.spectral import griffin_lim, log_spectrogram
from models.nn.unet import UNet
from models.staged import StagedModule, StageSpec

# Audeo's stages (names: datamodules.audeo.STAGES, shared with the DataModule): the network each trains, the checkpoint
# argument later stages load it from, the hyper-parameters that size it (an earlier stage's come from its checkpoint).
AUDEO_STAGES = {
    "video2roll": StageSpec(
        "video2roll",
        ckpt="video2roll_ckpt",
        sizes=("widths", "blocks", "feature_channels", "top_channels", "frame_size", "feature_transform"),
    ),
    "roll2midi": StageSpec(
        "generator",
        ckpt="roll2midi_ckpt",
        sizes=(
            "generator_down",
            "generator_up",
            "generator_down_dropout",
            "generator_up_dropout",
            "generator_norm_eps",
            "generator_dropout_mode",
            "generator_first_bias",
        ),  # fmt: skip
        aux=("discriminator",),
    ),
    "perfnet": StageSpec(
        "perfnet",
        ckpt="perfnet_ckpt",
        sizes=("n_bins", "spec_frames", "perfnet_down", "perfnet_up", "perfnet_width", "perfnet_bands"),
    ),
    "refine": StageSpec("refiner", ckpt="refine_ckpt", sizes=("refine_channels",), needs=("perfnet",)),
}
if tuple(AUDEO_STAGES) != STAGES:
    raise ImportError(f"Audeo's stage table {tuple(AUDEO_STAGES)} must list the DataModule's stages {STAGES}")


# ---------------------------------------------------------------------------------------------------- lightning
class Audeo(StagedModule):
    """Audeo, one stage at a time (see the module docstring). Every default is the paper's / the released code's.

    Args:
        stage: what trains: video2roll, roll2midi, perfnet or refine.
        num_keys: 51 (MIDI 36-86) or 88 (MIDI 21-108).
        widths, blocks, feature_channels, top_channels: Video2Roll's ResNet-18 and pyramid widths.
        feature_transform: "released" (padded 1x1 projection, fixed 2x2 pools: needs a frame size whose levels meet on
            one grid, as 100 x 900) or "adaptive" (any frame size); see :class:`Video2RollNet`.
        lr: Adam learning rate of Video2Roll, PerfNet and the refinement U-Net (§4.1: 0.001).
        plateau_patience, plateau_factor: ReduceLROnPlateau (released code: patience 2, factor 0.1).
        plateau_monitor: the loss the plateau schedule watches: "train" (the epoch's mean training loss, as the
            released Video2Roll solver steps it) or "val" (the validation loss).
        threshold: Video2Roll / Roll2Midi evaluation threshold (Table 1: 0.4).
        generator_down, generator_up, generator_down_dropout, generator_up_dropout: Roll2Midi U-Net.
        generator_norm_eps, generator_dropout_mode, generator_first_bias: the released generator's BatchNorm eps 0.8,
            element-wise dropout and bias-free first convolution (see :func:`roll2midi_generator`); 1e-5, "channel"
            and True give a textbook pix2pix U-Net.
        discriminator_layers: PatchGAN (channels, stride, instance norm) layers.
        gan_lr: Adam learning rate of both GAN networks (released code: 5e-4).
        adversarial_weight: weight of the adversarial term of the generator loss (released code: 0.001).
        midi_threshold: threshold of the Midi at inference (0.5).
        n_fft, hop, n_bins, spec_frames: spectrogram of 2-s segments (2048, 256, 576 bins, 126 frames).
        perfnet_down, perfnet_up, perfnet_width, perfnet_bands: PerfNet sizes (PerformanceNet's).
        refine_channels: the refinement U-Net's levels (5 depths).
        griffin_lim_iters: Griffin-Lim iterations for the deep synthesizer.
        synth: synthesizer of generate_from_video: "fluidsynth" or "perfnet" (PerfNet + refinement + Griffin-Lim).
        crop_box: keyboard box (x1, y1, x2, y2) in the input video for generate_from_video; None = whole frame.
        frame_size: (height, width) of the keyboard crops (100, 900).
        video2roll_ckpt, roll2midi_ckpt, perfnet_ckpt, refine_ckpt: earlier stages' checkpoints (frozen here).
    """

    STAGES = AUDEO_STAGES
    MATCHING = ("num_keys",)  # an earlier stage must have been trained on the same keys

    def __init__(
        self,
        stage: Stage = "video2roll",
        num_keys: int = 51,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        feature_channels: int = 128,
        top_channels: int = 64,
        feature_transform: Literal["released", "adaptive"] = "released",
        lr: float = 1e-3,
        plateau_patience: int = 2,
        plateau_factor: float = 0.1,
        plateau_monitor: Literal["train", "val"] = "train",
        threshold: float = 0.4,
        generator_down: Sequence[int] = (64, 128, 256, 512, 1024, 1024),
        generator_up: Sequence[int] = (512, 256, 128, 64, 16),
        generator_down_dropout: Sequence[float] = (0.0, 0.0, 0.5, 0.5, 0.5, 0.5),
        generator_up_dropout: Sequence[float] = (0.5, 0.5, 0.5, 0.0, 0.0),
        generator_norm_eps: float = 0.8,
        generator_dropout_mode: Literal["channel", "element"] = "element",
        generator_first_bias: bool = False,
        discriminator_layers: Sequence[Sequence] = DEFAULT_LAYERS,
        gan_lr: float = 5e-4,
        adversarial_weight: float = 0.001,
        midi_threshold: float = 0.5,
        n_fft: int = 2048,
        hop: int = 256,
        n_bins: int = 576,
        spec_frames: int = 126,
        perfnet_down: Sequence[int] = (256, 512, 1024, 2048, 4096),
        perfnet_up: Sequence[int] = (2048, 1024, 1024, 1024),
        perfnet_width: int = 1024,
        perfnet_bands: Sequence[int] = (2, 4, 8, 16),
        refine_channels: Sequence[int] = (64, 128, 256, 512, 1024),
        griffin_lim_iters: int = 32,
        synth: Literal["fluidsynth", "perfnet"] = "fluidsynth",
        crop_box: Optional[tuple[int, int, int, int]] = None,
        frame_size: tuple[int, int] = (100, 900),
        video2roll_ckpt: Optional[str] = None,
        roll2midi_ckpt: Optional[str] = None,
        perfnet_ckpt: Optional[str] = None,
        refine_ckpt: Optional[str] = None,
    ) -> None:
        super().__init__()
        try:
            self.low_pitch = lowest_pitch(num_keys)
        except ValueError as error:
            raise ValueError(f"Audeo: num_keys must be 51 or 88, got {num_keys}") from error
        self.save_hyperparameters()
        self.keys = num_keys
        self.automatic_optimization = stage != "roll2midi"
        self.build_stages(stage)
        self._metrics = nn.ModuleDict()
        # evaluation loss as a sample-weighted torchmetrics mean: exact under DDP (self.log's mean of rank means is not)
        self._eval_loss = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})
        self._epoch_g_losses: list[float] = []

    def _build(self, name: str) -> nn.Module:
        """A fresh network of this configuration: video2roll, generator, discriminator, perfnet or refiner."""
        hp = self.hparams
        if name == "video2roll":
            return Video2RollNet(
                hp.num_keys, 5, hp.widths, hp.blocks, hp.feature_channels, hp.top_channels, hp.feature_transform
            )
        if name == "generator":
            net = roll2midi_generator(
                hp.generator_down, hp.generator_up, hp.generator_down_dropout, hp.generator_up_dropout,
                hp.generator_norm_eps, hp.generator_dropout_mode, hp.generator_first_bias,
            )  # fmt: skip
            return net.apply(gan_init)
        if name == "discriminator":
            return PatchDiscriminator(1, hp.discriminator_layers).apply(gan_init)
        if name == "perfnet":
            return PerfNet(hp.num_keys, hp.n_bins, hp.perfnet_down, hp.perfnet_up, hp.perfnet_width, hp.perfnet_bands)
        if name == "refiner":
            return UNet(1, 1, hp.refine_channels, stride=2, out_activation="relu")
        raise KeyError(f"Audeo: no network {name!r}")

    # --------------------------------------------------------------------------------------------- inference
    def roll_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Video2Roll: [B, 5, H, W] frames in [0, 1] -> [B, K] logits."""
        return self._need("video2roll")(frames.to(self.device))

    def refine_roll(self, probs: torch.Tensor) -> torch.Tensor:
        """Roll2Midi generator: [B, K, T] Video2Roll probabilities -> [B, K, T] Midi probabilities."""
        return self._need("generator")(probs.to(self.device)[:, None])[:, 0]

    def spectrogram(self, roll: torch.Tensor) -> torch.Tensor:
        """PerfNet (+ refinement when present): [B, K, 50] rolls -> [B, n_bins, spec_frames] log-spectrograms."""
        up = F.interpolate(roll.to(self.device).float(), size=self.hparams.spec_frames, mode="nearest")
        spec = self._need("perfnet")(up)
        if self.refiner is not None and (self.trains == "refiner" or "refiner" in self._loaded):
            spec = self.refiner(spec[:, None])[:, 0]
        return spec

    # -------------------------------------------------------------------------------------------------- metrics
    def _metric(self, split: str, name: str, threshold: float, average: str) -> nn.Module:
        from metrics.frame_prf import FramePRF

        key = f"{split}_{name}_{average}_{int(round(threshold * 100))}"
        if key not in self._metrics:
            self._metrics[key] = FramePRF(threshold=threshold, average=average).to(self.device)
        return self._metrics[key]

    def _update_prf(self, split: str, name: str, probs: torch.Tensor, target: torch.Tensor, threshold: float) -> None:
        for average in ("micro", "frame"):
            self._metric(split, name, threshold, average).update(probs, target)

    def _log_prf(self, split: str) -> dict[str, tuple[float, ...]]:
        rows = {}
        for key in list(self._metrics.keys()):
            if not key.startswith(f"{split}_"):
                continue
            _, name, average, ts = key.split("_")
            values = self._metrics[key].compute()
            for stat, value in values.items():
                self.log(f"{split}/{name}_ts{ts}/{stat}_{average}", value)
            if average == "micro":
                label = "Video2Roll Net" if name == "video2roll" else f"Roll2Midi Net TS=0.{ts[0]}"
                rows[label] = tuple(100.0 * float(values[stat]) for stat in TABLE1_STATS)
            self._metrics[key].reset()
        return rows

    # ------------------------------------------------------------------------------------------------- training
    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        if self.stage == "video2roll":
            return self.roll_logits(batch["frames"])
        if self.stage == "roll2midi":
            return self.refine_roll(batch["roll_prob"])
        return self.spectrogram(batch["roll"])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Optional[torch.Tensor]:
        if self.stage == "video2roll":
            loss = F.binary_cross_entropy_with_logits(self.roll_logits(batch["frames"]), batch["roll"][..., 0])
        elif self.stage == "roll2midi":
            return self._gan_step(batch)
        else:
            loss = self._spectrogram_loss(batch)
        size = len(batch["roll"])
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/epoch_loss", loss, on_step=False, on_epoch=True, batch_size=size)  # the plateau's "train"
        return loss

    def _spectrogram_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        hp = self.hparams
        target = log_spectrogram(batch["audio"].float(), hp.n_fft, hp.hop, hp.n_bins)
        up = F.interpolate(batch["roll"].float(), size=target.shape[-1], mode="nearest")
        if self.stage == "perfnet":
            return F.mse_loss(self.perfnet(up), target)  # §4.1: PerfNet pre-trained with MSE
        with torch.no_grad():
            coarse = self.perfnet(up)
        return F.l1_loss(self.refiner(coarse[:, None])[:, 0], target)  # §3: L1(U(S_R), S)

    def _gan_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Least-squares GAN step (released Roll2Midi_train): generator first, then discriminator."""
        opt_g, opt_d = self.optimizers()
        real = batch["roll"][:, None].float()
        fake_input = batch["roll_prob"][:, None].float()
        w = self.hparams.adversarial_weight

        self.toggle_optimizer(opt_g)
        generated = self.generator(fake_input)
        score = self.discriminator(generated)
        g_adv = F.mse_loss(score, torch.ones_like(score))
        g_rec = F.mse_loss(generated, real)
        g_loss = w * g_adv + (1.0 - w) * g_rec
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.toggle_optimizer(opt_d)
        real_score = self.discriminator(real)
        fake_score = self.discriminator(generated.detach())
        d_loss = 0.5 * (
            F.mse_loss(real_score, torch.ones_like(real_score)) + F.mse_loss(fake_score, torch.zeros_like(fake_score))
        )
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        size = len(real)
        self._epoch_g_losses.append(float(g_loss.detach()))
        self.log_dict({"train/g_loss": g_loss, "train/d_loss": d_loss, "train/g_mse": g_rec}, prog_bar=True,
                      batch_size=size)  # fmt: skip
        return g_loss.detach()

    def on_train_epoch_end(self) -> None:
        if self.stage == "roll2midi" and self._epoch_g_losses:
            scheduler = self.lr_schedulers()
            scheduler.step(sum(self._epoch_g_losses) / len(self._epoch_g_losses))  # released: plateau of train g loss
            self._epoch_g_losses.clear()

    # ----------------------------------------------------------------------------------------------- evaluation
    def _eval_step(self, batch: dict[str, Any], split: str) -> torch.Tensor:
        size = len(batch["roll"])
        if self.stage == "video2roll":
            logits = self.roll_logits(batch["frames"])
            target = batch["roll"][..., 0]
            loss = F.binary_cross_entropy_with_logits(logits, target)
            probs = torch.sigmoid(logits)[..., None]
            self._update_prf(split, "video2roll", probs, batch["roll"], self.hparams.threshold)
        elif self.stage == "roll2midi":
            generated = self.refine_roll(batch["roll_prob"])
            loss = F.mse_loss(generated, batch["roll"])
            self._update_prf(split, "video2roll", batch["roll_prob"], batch["roll"], self.hparams.threshold)
            self._update_prf(split, "roll2midi", generated, batch["roll"], self.hparams.threshold)
            self._update_prf(split, "roll2midi", generated, batch["roll"], self.hparams.midi_threshold)
        else:
            loss = self._spectrogram_loss(batch)
        mean_loss = self._eval_loss[split]
        mean_loss.update(loss.detach(), weight=size)
        self.log(f"{split}/loss", mean_loss, prog_bar=split == "val", on_step=False, on_epoch=True, batch_size=size)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._eval_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._log_prf("val")

    def on_test_epoch_end(self) -> None:
        rows = self._log_prf("test")
        if rows and self.trainer.is_global_zero:
            dataset = getattr(self.trainer.datamodule, "is_synthetic", None)
            name = "SYNTHETIC Audeo-format data" if dataset else "the given Audeo data"
            print("\n" + format_table1(rows, f"{name}, test split, stage {self.stage}"))

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        if self.stage == "roll2midi":
            opt_g = torch.optim.Adam(self.generator.parameters(), lr=hp.gan_lr, betas=(0.9, 0.999))
            opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=hp.gan_lr, betas=(0.9, 0.999))
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt_g, "min", patience=hp.plateau_patience, factor=hp.plateau_factor
            )
            return [opt_g, opt_d], [plateau]
        net = getattr(self, self.trains)
        optimizer = torch.optim.Adam(net.parameters(), lr=hp.lr, betas=(0.9, 0.999))
        monitor = {"train": "train/epoch_loss", "val": "val/loss"}[hp.plateau_monitor]
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, "min", patience=hp.plateau_patience, factor=hp.plateau_factor
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": plateau, "monitor": monitor, "interval": "epoch", "strict": False},
        }

    # ----------------------------------------------------------------------------------------------- generation
    def roll_to_midi(self, roll: np.ndarray) -> Any:
        """Binary roll [K, T] at 25 fps -> PrettyMIDI (onsets/offsets from frame differences, velocity 100, §4.1)."""
        from music.roll import roll_to_midi

        return roll_to_midi((np.asarray(roll) > 0).astype(np.float32), FPS, low=self.low_pitch, velocity=100)

    def render(self, roll: np.ndarray) -> np.ndarray:
        """Audio of a binary roll [K, T] with the configured synthesizer (16 kHz)."""
        if self.hparams.synth == "perfnet":
            return self.deep_synth(roll)
        from music.synth import render

        return render(self.roll_to_midi(roll), sample_rate=SAMPLE_RATE)

    @torch.no_grad()
    def deep_synth(self, roll: np.ndarray) -> np.ndarray:
        """PerfNet (+ refinement) per 2-s segment, then Griffin-Lim; [K, T] -> 16-kHz audio of T / 25 s."""
        hp = self.hparams
        roll = np.asarray(roll, dtype=np.float32)
        segments = max(1, math.ceil(roll.shape[1] / 50))
        padded = np.zeros((roll.shape[0], segments * 50), dtype=np.float32)
        padded[:, : roll.shape[1]] = roll
        chunks = torch.from_numpy(padded).view(roll.shape[0], segments, 50).permute(1, 0, 2)
        specs = self.spectrogram(chunks).cpu().numpy()
        samples = 2 * SAMPLE_RATE
        audio = np.concatenate([griffin_lim(s, hp.n_fft, hp.hop, hp.griffin_lim_iters, samples) for s in specs])
        return audio[: int(round(roll.shape[1] / FPS * SAMPLE_RATE))]

    @torch.no_grad()
    def transcribe_probs(self, probs: torch.Tensor) -> np.ndarray:
        """Video2Roll probabilities [K, T] -> binary roll [K, T]: Roll2Midi on 100-frame windows (threshold 0.5) when
        a generator is present, else the Video2Roll threshold (0.4)."""
        if self.generator is None:
            return (probs >= self.hparams.threshold).float().cpu().numpy()
        length = probs.shape[1]
        windows = max(1, math.ceil(length / 100))
        padded = F.pad(probs, (0, windows * 100 - length))
        chunks = padded.view(probs.shape[0], windows, 100).permute(1, 0, 2)
        midi = self.refine_roll(chunks).permute(1, 0, 2).reshape(probs.shape[0], -1)[:, :length]
        return (midi >= self.hparams.midi_threshold).float().cpu().numpy()

    @torch.no_grad()
    def generate_examples(self, batch: dict[str, Any]) -> list[Example]:
        """The batch's predicted Midi (and its ground truth) as examples for the media logger."""
        examples = []
        meta = (batch.get("meta") or [{}])[0]
        name = str(meta.get("video", "clip")).replace(" ", "_")
        if self.stage == "video2roll":
            probs = torch.sigmoid(self.roll_logits(batch["frames"])).T  # consecutive frames of the val loader
            target = batch["roll"][..., 0].T
            pred = (probs >= self.hparams.threshold).float().cpu().numpy()
            examples.append(Example(f"{name}_roll", midi=self.roll_to_midi(pred), sample_rate=SAMPLE_RATE))
            examples.append(
                Example(f"{name}_pseudo_gt", midi=self.roll_to_midi(target.cpu().numpy()), role="reference")
            )
        elif self.stage == "roll2midi":
            for i in range(min(2, len(batch["roll"]))):
                midi = self.transcribe_probs(batch["roll_prob"][i])
                examples.append(Example(f"{name}_{i}_midi", midi=self.roll_to_midi(midi)))
                target = self.roll_to_midi(batch["roll"][i].cpu().numpy())
                examples.append(Example(f"{name}_{i}_pseudo_gt", midi=target, role="reference"))
        else:
            hp = self.hparams
            specs = self.spectrogram(batch["roll"][:1]).cpu().numpy()
            audio = griffin_lim(specs[0], hp.n_fft, hp.hop, hp.griffin_lim_iters, 2 * SAMPLE_RATE)
            examples.append(Example(f"{name}_{self.stage}", audio=audio, sample_rate=SAMPLE_RATE))
            target_audio = batch["audio"][0].cpu().numpy()
            examples.append(Example(f"{name}_target", audio=target_audio, sample_rate=SAMPLE_RATE, role="reference"))
        return examples

    @torch.no_grad()
    def generate_from_video(self, video: str, keypoints: str | None = None, progress: bool = True) -> Example:
        """Top-view piano video -> keyboard crop (``crop_box``), grayscale, 900 x 100 at 25 fps -> Video2Roll ->
        Roll2Midi (when trained) -> MIDI -> audio (FluidSynth, or PerfNet + refinement + Griffin-Lim)."""
        from tqdm.auto import tqdm

        from datamodules.video import VideoFile

        self.eval()
        reader = VideoFile(video)
        count = int(math.floor(reader.duration * FPS + 1e-6))
        if count < 1:
            raise ValueError(f"Audeo: video {video} is shorter than one frame at {FPS} fps")
        height, width = self.hparams.frame_size
        box = tuple(self.hparams.crop_box) if self.hparams.crop_box else None
        frames = reader.read_clip(0.0, count, FPS, crop=box, gray=True, size=(width, height), pad=True)
        stacks = torch.from_numpy(frames).float().div_(255.0)
        rows = torch.arange(count)
        logits = []
        for begin in tqdm(range(0, count, 64), desc="Audeo video2roll", disable=not progress, unit="batch"):
            index = rows[begin : begin + 64]
            window = torch.stack([stacks[(index + d).clamp(0, count - 1)] for d in range(-2, 3)], dim=1)
            logits.append(self.roll_logits(window).cpu())
        probs = torch.sigmoid(torch.cat(logits)).T
        roll = self.transcribe_probs(probs.to(self.device))
        midi = self.roll_to_midi(roll)
        audio = self.render(roll)
        return Example(
            Path(video).stem,
            midi=midi,
            audio=audio,
            sample_rate=SAMPLE_RATE,
            extra={"roll": roll, "probs": probs.numpy(), "fps": FPS, "low_pitch": self.low_pitch},
        )


__all__ = ["AUDEO_STAGES", "Audeo"]
