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

One LightningModule, ``stage`` selects what trains: ``video2roll``, ``roll2midi``, ``perfnet`` or ``refine``. Earlier
stages come from their checkpoints by path (``video2roll_ckpt``, ``roll2midi_ckpt``, ``perfnet_ckpt``) and stay
frozen; they are saved inside the later stage's checkpoint, so the last checkpoint of a chain generates end to end.
Facts the paper leaves open follow the released code (shlizee/Audeo): 51 keys (MIDI 36-86), Adam 1e-3 with
ReduceLROnPlateau (patience 2) for Video2Roll, two Adam(5e-4) for the GAN, 20000 balanced draws per epoch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from models.generation import Example
from models.nn.feature_pyramid import CrossScaleAttention, ResidualTransform
from models.nn.multiband import MultiBandResidual
from models.nn.patchgan import DEFAULT_LAYERS, PatchDiscriminator
from models.nn.resnet import ResNetBackbone
from models.nn.se import ContextGate
from models.nn.unet import UNet

log = logging.getLogger(__name__)

Stage = Literal["video2roll", "roll2midi", "perfnet", "refine"]
STAGES = ("video2roll", "roll2midi", "perfnet", "refine")
TRAINS = {"video2roll": "video2roll", "roll2midi": "generator", "perfnet": "perfnet", "refine": "refiner"}
LOWEST_PITCH = {51: 36, 88: 21}  # §4: 51 keys = MIDI 36..86 (released code: columns 15..65 of 88)
FPS = 25
SAMPLE_RATE = 16000


# ------------------------------------------------------------------------------------------------------- networks
class Video2RollNet(nn.Module):
    """Multi-scale feature-attention ResNet-18 (§3 "Video2Roll Net", Fig. 2): [B, 5, H, W] -> key logits [B, K]."""

    def __init__(
        self,
        keys: int = 51,
        in_frames: int = 5,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        feature_channels: int = 128,
        top_channels: int = 64,
    ) -> None:
        super().__init__()
        self.backbone = ResNetBackbone(in_frames, widths, blocks, stem_kernel=11, stem_stride=2, stem_padding=4)
        c = feature_channels
        # feature transform (stage 2 is transformed twice, as it is two pyramid steps below the top)
        self.transform2a = ResidualTransform(widths[1], c)
        self.transform2b = ResidualTransform(c, c)
        self.transform3 = ResidualTransform(widths[2], c)
        self.transform4 = ResidualTransform(widths[3], c)
        self.top = nn.Sequential(nn.Conv2d(widths[3], top_channels, 1), nn.BatchNorm2d(top_channels), nn.ReLU(True))
        # top-down refinement: each level re-calibrated by the level above it
        self.gate4 = ContextGate(c, top_channels)
        self.gate3 = ContextGate(c, c)
        self.gate2 = ContextGate(c, c)
        self.correlation = CrossScaleAttention(c)
        self.classifier = nn.Linear(c, keys)

    def refined(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The refined levels (R1, R2, R3) on the grid of the last stage."""
        _, c2, c3, c4 = self.backbone(x)
        grid = tuple(c4.shape[-2:])
        t2 = self.transform2b(self.transform2a(c2, size=tuple(c3.shape[-2:])), size=grid)
        t3 = self.transform3(c3, size=grid)
        t4 = self.transform4(c4, size=grid)
        r3 = self.gate4(t4, self.top(c4))
        r2 = self.gate3(t3, r3)
        r1 = self.gate2(t2, r2)
        return r1, r2, r3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r1, r2, r3 = self.refined(x)
        features = self.correlation(r1, r2, r3).mean(dim=(2, 3))
        return self.classifier(features)


def roll2midi_generator(
    down: Sequence[int] = (64, 128, 256, 512, 1024, 1024),
    up: Sequence[int] = (512, 256, 128, 64, 16),
    down_dropout: Sequence[float] = (0.0, 0.0, 0.5, 0.5, 0.5, 0.5),
    up_dropout: Sequence[float] = (0.5, 0.5, 0.5, 0.0, 0.0),
) -> UNet:
    """Roll2Midi's U-Net generator: 1 x keys x 100 probabilities -> 1 x keys x 100 Midi probabilities (sigmoid)."""
    return UNet(1, 1, down, up, stride=1, down_dropout=down_dropout, up_dropout=up_dropout, out_activation="sigmoid")


def gan_init(module: nn.Module) -> None:
    """DCGAN initialisation used for both GAN networks: convs N(0, 0.02), BatchNorm weight N(1, 0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class PerfNet(nn.Module):
    """PerformanceNet (Wang & Yang, AAAI 2019) as Audeo's deep synthesizer: roll [B, K, T] -> log-spectrogram [B, F, T].

    ContourNet: a 1-D U-Net over time whose input channels are the keys' roll and onset roll (the onset/offset
    conditioning of the original, here concatenated to the input); TextureNet: multi-band residual blocks with 2, 4, 8,
    16 bands; a final conv to the frequency bins.
    """

    def __init__(
        self,
        keys: int = 51,
        n_bins: int = 576,
        down: Sequence[int] = (256, 512, 1024, 2048, 4096),
        up: Sequence[int] = (2048, 1024, 1024, 1024),
        width: int = 1024,
        bands: Sequence[int] = (2, 4, 8, 16),
    ) -> None:
        super().__init__()
        self.contour = UNet(2 * keys, width, down, up, stride=2, dims=1, norm="instance")
        self.texture = nn.Sequential(*[MultiBandResidual(width, b) for b in bands])
        self.head = nn.Conv1d(width, n_bins, 3, padding=1)

    def forward(self, roll: torch.Tensor) -> torch.Tensor:
        onset = F.relu(roll - F.pad(roll, (1, 0))[..., :-1])
        x = self.contour(torch.cat([roll, onset], dim=1))
        return self.head(F.leaky_relu(self.texture(x), 0.01))


def log_spectrogram(audio: torch.Tensor, n_fft: int = 2048, hop: int = 256, n_bins: int = 576) -> torch.Tensor:
    """log(1 + |STFT|) of [B, N] audio, Hann window, centred frames, the lowest ``n_bins`` bins: [B, n_bins, T]
    (2 s at 16 kHz -> 126 frames; bin 576 is 4.5 kHz, above the top piano key, §4.1)."""
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, return_complex=True).abs()
    return torch.log1p(spec[:, :n_bins])


def griffin_lim(log_spec: np.ndarray, n_fft: int = 2048, hop: int = 256, n_iter: int = 32, length: int | None = None):
    """Waveform from a [F, T] log(1 + magnitude) spectrogram (bins above F are silent): Griffin & Lim (1984) with
    the fast momentum of Perraudin et al. (2013), in torch (librosa's version spends ~1 min JIT-compiling on first use
    on a small CPU; torchaudio does not install here)."""
    spec = torch.as_tensor(np.asarray(log_spec, dtype=np.float32))
    magnitude = torch.zeros(n_fft // 2 + 1, spec.shape[1])
    magnitude[: spec.shape[0]] = torch.expm1(spec.clamp_min(0.0))
    window = torch.hann_window(n_fft)
    generator = torch.Generator().manual_seed(0)
    angles = torch.exp(2j * math.pi * torch.rand(magnitude.shape, generator=generator))
    previous = torch.zeros_like(angles)
    length = length or hop * (spec.shape[1] - 1)
    for _ in range(max(1, n_iter)):
        audio = torch.istft(magnitude * angles, n_fft, hop, window=window, length=length)
        rebuilt = torch.stft(audio, n_fft, hop, window=window, return_complex=True)
        accelerated = rebuilt - 0.99 * previous
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp_min(1e-8)
    audio = torch.istft(magnitude * angles, n_fft, hop, window=window, length=length)
    return audio.numpy().astype(np.float32)


TABLE1_STATS = ("precision", "recall", "accuracy", "f1")
# Audeo Table 1 (%, frame level; TS = 0.4 unless stated), Pseudo Midi Evaluation set (Paul Barton, Bach WTC).
TABLE1 = {
    "ResNet [33]": (64.3, 54.7, 40.4, 49.7),
    "ResNet+Aggregation+slope [33]": (61.5, 57.3, 41.2, 50.8),
    "Video2Roll Net": (61.2, 65.6, 46.4, 56.4),
    "Roll2Midi Net TS=0.4": (60.0, 77.0, 50.6, 61.5),
    "Roll2Midi Net TS=0.5": (65.1, 69.9, 50.8, 60.4),
}


def format_table1(rows: dict[str, Sequence[float]], dataset: str) -> str:
    """Table 1's layout: measured precision / recall / accuracy / F1 (%) next to the paper's, rows as in the paper."""
    head = f"{'Model':32s} | " + " | ".join(f"{s[:4].title():>5s} {'paper':>5s}" for s in TABLE1_STATS)
    lines = [f"Audeo Table 1 (frame level, micro, %) on {dataset}", head, "-" * len(head)]
    for name, paper in TABLE1.items():
        measured = rows.get(name)
        cells = [("  n/a" if measured is None else f"{measured[i]:5.1f}") + f" {paper[i]:5.1f}" for i in range(4)]
        lines.append(f"{name:32s} | " + " | ".join(cells))
    lines.append("n/a: not measured in this run (the ResNet baselines of [33] are not part of Audeo).")
    return "\n".join(lines)


# the hyper-parameters that size each network (an earlier stage's come from its checkpoint)
NET_HPARAMS = {
    "video2roll": ("widths", "blocks", "feature_channels", "top_channels", "frame_size"),
    "generator": ("generator_down", "generator_up", "generator_down_dropout", "generator_up_dropout"),
    "perfnet": ("n_bins", "spec_frames", "perfnet_down", "perfnet_up", "perfnet_width", "perfnet_bands"),
    "refiner": ("refine_channels",),
}


def _plain(value: Any) -> Any:
    """Lists and tuples compare equal (YAML gives lists, defaults are tuples)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _frozen(module: nn.Module) -> nn.Module:
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


# ---------------------------------------------------------------------------------------------------- lightning
class Audeo(pl.LightningModule):
    """Audeo, one stage at a time (see the module docstring). Every default is the paper's / the released code's.

    Args:
        stage: what trains: video2roll, roll2midi, perfnet or refine.
        num_keys: 51 (MIDI 36-86) or 88 (MIDI 21-108).
        widths, blocks, feature_channels, top_channels: Video2Roll's ResNet-18 and pyramid widths.
        lr: Adam learning rate of Video2Roll, PerfNet and the refinement U-Net (§4.1: 0.001).
        plateau_patience, plateau_factor: ReduceLROnPlateau on the validation loss (released code: patience 2).
        threshold: Video2Roll / Roll2Midi evaluation threshold (Table 1: 0.4).
        generator_down, generator_up, generator_down_dropout, generator_up_dropout: Roll2Midi U-Net.
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

    def __init__(
        self,
        stage: Stage = "video2roll",
        num_keys: int = 51,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        feature_channels: int = 128,
        top_channels: int = 64,
        lr: float = 1e-3,
        plateau_patience: int = 2,
        plateau_factor: float = 0.1,
        threshold: float = 0.4,
        generator_down: Sequence[int] = (64, 128, 256, 512, 1024, 1024),
        generator_up: Sequence[int] = (512, 256, 128, 64, 16),
        generator_down_dropout: Sequence[float] = (0.0, 0.0, 0.5, 0.5, 0.5, 0.5),
        generator_up_dropout: Sequence[float] = (0.5, 0.5, 0.5, 0.0, 0.0),
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
        if stage not in STAGES:
            raise ValueError(f"Audeo: unknown stage {stage!r}; one of {STAGES}")
        if num_keys not in LOWEST_PITCH:
            raise ValueError(f"Audeo: num_keys must be 51 or 88, got {num_keys}")
        self.save_hyperparameters()
        self.stage = stage
        self.keys = num_keys
        self.low_pitch = LOWEST_PITCH[num_keys]
        self.automatic_optimization = stage != "roll2midi"
        self.checkpoints = {
            "video2roll": video2roll_ckpt,
            "generator": roll2midi_ckpt,
            "perfnet": perfnet_ckpt,
            "refiner": refine_ckpt,
        }
        trains = TRAINS[stage]
        self.trains = trains
        wanted = {trains} | {name for name, path in self.checkpoints.items() if path}
        if stage == "refine":
            wanted.add("perfnet")
        self.video2roll = self._build("video2roll") if "video2roll" in wanted else None
        self.generator = self._build("generator") if "generator" in wanted else None
        self.discriminator = self._build("discriminator") if stage == "roll2midi" else None
        self.perfnet = self._build("perfnet") if "perfnet" in wanted else None
        self.refiner = self._build("refiner") if "refiner" in wanted else None
        self._loaded: set[str] = set()
        self._load_stage_checkpoints(required=False)
        self._metrics = nn.ModuleDict()
        # evaluation loss as a sample-weighted torchmetrics mean: exact under DDP (self.log's mean of rank means is not)
        self._eval_loss = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})
        self._epoch_g_losses: list[float] = []

    def _build(self, name: str) -> nn.Module:
        """A fresh network of this configuration: video2roll, generator, discriminator, perfnet or refiner."""
        hp = self.hparams
        if name == "video2roll":
            return Video2RollNet(hp.num_keys, 5, hp.widths, hp.blocks, hp.feature_channels, hp.top_channels)
        if name == "generator":
            net = roll2midi_generator(
                hp.generator_down, hp.generator_up, hp.generator_down_dropout, hp.generator_up_dropout
            )
            return net.apply(gan_init)
        if name == "discriminator":
            return PatchDiscriminator(1, hp.discriminator_layers).apply(gan_init)
        if name == "perfnet":
            return PerfNet(hp.num_keys, hp.n_bins, hp.perfnet_down, hp.perfnet_up, hp.perfnet_width, hp.perfnet_bands)
        return UNet(1, 1, hp.refine_channels, stride=2, out_activation="relu")

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Also builds the networks that the state holds but this configuration lacks (e.g. ``cli.py generate``
        with a roll2midi checkpoint that carries its Video2Roll), so one checkpoint generates end to end."""
        for name in ("video2roll", "generator", "discriminator", "perfnet", "refiner"):
            if getattr(self, name) is None and any(key.startswith(f"{name}.") for key in state_dict):
                setattr(self, name, self._build(name).to(self.device))
                if name not in (self.trains, "discriminator"):
                    _frozen(getattr(self, name))
                self._loaded.add(name)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # ------------------------------------------------------------------------------------------------ chaining
    def _load_stage_checkpoints(self, required: bool) -> None:
        """Load (and freeze) the earlier stages from their checkpoints; ``required`` makes a missing file an error."""
        for name, path in self.checkpoints.items():
            if path and name not in self._loaded:
                self._load_net(name, Path(path), required)  # the trained stage's own checkpoint = warm start

    def _load_net(self, name: str, path: Path, required: bool) -> None:
        net = getattr(self, name)
        if not path.is_file():
            if required:
                raise FileNotFoundError(f"Audeo: {name} checkpoint {path} does not exist (train that stage first)")
            return
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # noqa: BLE001 - re-raised with the file named
            raise RuntimeError(f"Audeo: cannot read checkpoint {path}: {error}") from error
        state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise RuntimeError(f"Audeo: {path} holds no state_dict")
        prefix = f"{name}."
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not weights:
            raise RuntimeError(f"Audeo: checkpoint {path} has no {name} weights (keys start with {sorted(state)[:3]})")
        net = self._adopt_sizes(name, checkpoint.get("hyper_parameters") or {}, path) or net
        try:
            net.load_state_dict(weights)
        except RuntimeError as error:
            raise RuntimeError(f"Audeo: {name} weights in {path} do not fit this configuration: {error}") from error
        if name != self.trains:
            _frozen(net)
        self._loaded.add(name)
        log.info("Audeo: loaded %s from %s", name, path)

    def _adopt_sizes(self, name: str, hyper: dict[str, Any], path: Path) -> Optional[nn.Module]:
        """An earlier stage keeps the sizes it was trained with: take them from its checkpoint's hyper-parameters
        (and record them in this model's, so this stage's checkpoint rebuilds the same networks)."""
        if "num_keys" in hyper and int(hyper["num_keys"]) != self.keys:
            raise ValueError(f"Audeo: {path} was trained with {hyper['num_keys']} keys, this model has {self.keys}")
        changed = {
            key: hyper[key]
            for key in NET_HPARAMS[name]
            if key in hyper and _plain(hyper[key]) != _plain(self.hparams[key])
        }
        if not changed:
            return None
        self.hparams.update(changed)
        log.info("Audeo: %s takes the sizes of %s: %s", name, path, changed)
        net = self._build(name).to(self.device)
        setattr(self, name, net)
        return net

    def setup(self, stage: str) -> None:
        self._load_stage_checkpoints(required=stage == "fit")
        if self.stage == "refine" and "perfnet" not in self._loaded:
            raise FileNotFoundError("Audeo: the refine stage needs perfnet_ckpt (a trained PerfNet checkpoint)")

    def train(self, mode: bool = True) -> Audeo:
        super().train(mode)
        for name in ("video2roll", "generator", "perfnet", "refiner"):
            net = getattr(self, name)
            if net is not None and name != self.trains:
                net.eval()
        return self

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

    def _need(self, name: str) -> nn.Module:
        net = getattr(self, name)
        if net is None:
            raise RuntimeError(f"Audeo: this model has no {name}; give that stage's checkpoint or train that stage")
        return net

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
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["roll"]))
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
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, "min", patience=hp.plateau_patience, factor=hp.plateau_factor
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": plateau, "monitor": "val/loss", "interval": "epoch", "strict": False},
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
            examples.append(Example(f"{name}_pseudo_gt", midi=self.roll_to_midi(target.cpu().numpy())))
        elif self.stage == "roll2midi":
            for i in range(min(2, len(batch["roll"]))):
                midi = self.transcribe_probs(batch["roll_prob"][i])
                examples.append(Example(f"{name}_{i}_midi", midi=self.roll_to_midi(midi)))
                target = self.roll_to_midi(batch["roll"][i].cpu().numpy())
                examples.append(Example(f"{name}_{i}_pseudo_gt", midi=target))
        else:
            hp = self.hparams
            specs = self.spectrogram(batch["roll"][:1]).cpu().numpy()
            audio = griffin_lim(specs[0], hp.n_fft, hp.hop, hp.griffin_lim_iters, 2 * SAMPLE_RATE)
            examples.append(Example(f"{name}_{self.stage}", audio=audio, sample_rate=SAMPLE_RATE))
            examples.append(Example(f"{name}_target", audio=batch["audio"][0].cpu().numpy(), sample_rate=SAMPLE_RATE))
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


__all__ = [
    "TABLE1",
    "format_table1",
    "Audeo",
    "PerfNet",
    "Video2RollNet",
    "griffin_lim",
    "log_spectrogram",
    "roll2midi_generator",
]
