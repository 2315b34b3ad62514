"""RhythmicNet (Su, Liu & Shlizerman, NeurIPS 2021): the LightningModule, one stage at a time (docs/RHYTHMIC_NET.md).

Stages (``stage``), in training order:

* ``video2rhythm`` trains ``beat_net`` (:class:`~models.rhythmic_net.networks.Video2Rhythm`) on AIST++ keypoints
  (``rhythmic17``, 60 fps, 5-s clips) against the music's beats: weighted binary cross-entropy per frame with
  ``pos_weight = negatives / positives`` of the batch (beat frames are rare); beats are decoded from the sigmoid
  activation by :func:`metrics.dbn_beat_track` and scored by :class:`metrics.BeatFMeasure` (70 ms);
* ``rhythm2drum`` trains ``drum_net`` (:class:`~models.rhythmic_net.networks.Rhythm2Drum`) on Groove MIDI windows
  (2 bars = 32 sixteenths): the rhythm is the groove's taps, the targets its drum words; cross-entropy on the tap
  steps only (the released code's ``mask_zero``: steps without a tap are silence by construction), plus the U-Net's
  velocity and offset MSE given the true hits. Offsets are ``music.groove``'s ``onset - grid`` in 16th steps
  (the ``0.5 * tanh`` head's range); their loss is computed in GrooVAE's units (``music.groove.to_groovae``,
  twice the scale), so it weighs as much as in the released code.

The third stage of the paper, Drum2Music (drums -> piano or guitar by a Transformer-XL), is not built here yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.layouts import get_layout
from metrics.beat_fmeasure import BeatFMeasure
from metrics.dbn_beat import dbn_beat_track
from models.generation import Example
from models.rhythmic_net.networks import STGCN_CHANNELS, Rhythm2Drum, Video2Rhythm
from models.rhythmic_net.words import hits_to_words, taps, words_to_hits
from models.staged import StagedModule, StageSpec
from music.groove import groove_to_midi, to_groovae

BEAT_SIZES = (
    "keypoint_layout",
    "stgcn_channels",
    "temporal_kernel",
    "stgcn_strategy",
    "edge_importance",
    "beat_d_model",
    "beat_layers",
    "beat_heads",
    "beat_feedforward",
    "max_frames",
    "max_relative_position",
    "ssm_bias",
    "ssm_kernel",
)
DRUM_SIZES = (
    "drum_d_model",
    "drum_encoder_layers",
    "drum_decoder_layers",
    "drum_heads",
    "drum_feedforward",
    "unet_down",
    "unet_up",
)
RHYTHMIC_NET_STAGES = {
    "video2rhythm": StageSpec("beat_net", ckpt="video2rhythm_ckpt", sizes=BEAT_SIZES),
    "rhythm2drum": StageSpec("drum_net", ckpt="rhythm2drum_ckpt", sizes=DRUM_SIZES),
}


def balanced_bce(logits: Tensor, target: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Binary cross-entropy with ``pos_weight = negatives / positives`` over the (valid) frames of the batch."""
    if valid is None:
        valid = torch.ones_like(target, dtype=torch.bool)
    logits, target = logits[valid], target[valid].float()
    positives = target.sum()
    pos_weight = (target.numel() - positives) / positives.clamp_min(1.0)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


class RhythmicNet(StagedModule):
    """RhythmicNet, one stage at a time (see the module docstring).

    Args:
        stage: ``video2rhythm`` or ``rhythm2drum``.
        keypoint_layout: the skeleton (``rhythmic17``: BODY_25 joints 0-14 and the big toes). fps: keypoint rate.
        stgcn_channels, temporal_kernel, stgcn_strategy, edge_importance: Video2Rhythm's ST-GCN (stride 1).
        beat_d_model, beat_layers, beat_heads, beat_feedforward, beat_dropout: its encoder (pre-LN, GELU).
        max_frames: the learned absolute positions (the 300-frame window). max_relative_position: relative distances.
        ssm_bias, ssm_kernel: the self-similarity bias and its convolution. displacement_scale: px per motion unit.
        drum_*: Rhythm2Drum's transformer. unet_*: its velocity / offset U-Net.
        temperature, top_k: sampling of drum words. lr: Adam's learning rate.
        video2rhythm_ckpt, rhythm2drum_ckpt: the stages' checkpoints.
    """

    STAGES = RHYTHMIC_NET_STAGES

    def __init__(
        self,
        stage: str = "video2rhythm",
        keypoint_layout: str = "rhythmic17",
        fps: float = 60.0,
        stgcn_channels: Sequence[int] = STGCN_CHANNELS,
        temporal_kernel: int = 9,
        stgcn_strategy: str = "distance",
        edge_importance: bool = True,
        beat_d_model: int = 64,
        beat_layers: int = 2,
        beat_heads: int = 2,
        beat_feedforward: int = 256,
        beat_dropout: float = 0.1,
        max_frames: int = 300,
        max_relative_position: int = 299,
        ssm_bias: bool = True,
        ssm_kernel: int = 3,
        displacement_scale: float = 100.0,
        drum_d_model: int = 128,
        drum_encoder_layers: int = 3,
        drum_decoder_layers: int = 3,
        drum_heads: int = 4,
        drum_feedforward: int = 256,
        drum_dropout: float = 0.1,
        unet_down: Sequence[int] = (16, 32, 64, 128, 128),
        unet_up: Sequence[int] = (64, 32, 16, 4),
        unet_down_dropout: Sequence[float] = (0.0, 0.0, 0.15, 0.15, 0.15),
        unet_up_dropout: Sequence[float] = (0.15, 0.0, 0.0, 0.0),
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        lr: float = 1e-4,
        examples_per_batch: int = 2,
        video2rhythm_ckpt: Optional[str] = None,
        rhythm2drum_ckpt: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if fps <= 0:
            raise ValueError(f"RhythmicNet: fps must be positive, got {fps}")
        self.build_stages(stage)
        self.beat_f = BeatFMeasure(tolerance=0.07)

    def _build(self, name: str) -> nn.Module:
        h = self.hparams
        if name == "beat_net":
            layout = get_layout(h.keypoint_layout)
            return Video2Rhythm(
                layout.num_joints,
                layout.edges,
                layout.center,
                h.stgcn_channels,
                h.temporal_kernel,
                h.stgcn_strategy,
                h.edge_importance,
                h.beat_d_model,
                h.beat_layers,
                h.beat_heads,
                h.beat_feedforward,
                h.beat_dropout,
                h.max_frames,
                h.max_relative_position,
                h.ssm_bias,
                h.ssm_kernel,
                h.displacement_scale,
            )
        if name == "drum_net":
            return Rhythm2Drum(
                h.drum_d_model,
                h.drum_encoder_layers,
                h.drum_decoder_layers,
                h.drum_heads,
                h.drum_feedforward,
                h.drum_dropout,
                h.unet_down,
                h.unet_up,
                h.unet_down_dropout,
                h.unet_up_dropout,
            )
        raise ValueError(f"RhythmicNet: unknown network {name!r}")

    # ------------------------------------------------------------------------------------------- video2rhythm
    def _keypoints(self, batch: dict[str, Any]) -> Tensor:
        if "keypoints" not in batch:
            raise KeyError("RhythmicNet video2rhythm: the batch has no 'keypoints' field")
        keypoints = batch["keypoints"].float()
        layout = self.hparams.keypoint_layout
        joints = get_layout(layout).num_joints
        if keypoints.dim() != 4 or keypoints.shape[2] != joints:
            raise ValueError(
                f"RhythmicNet: keypoints must be [B, T, {joints}, C] in the {layout} layout, "
                f"got {tuple(keypoints.shape)}"
            )
        if keypoints.shape[-1] >= 3:
            invisible = (keypoints[..., 2] <= 0).flatten(1).all(dim=1)
            if bool(invisible.any()):
                raise ValueError(f"RhythmicNet: clips {invisible.nonzero().flatten().tolist()} have no visible joint")
        return keypoints

    def beat_activation(self, keypoints: Tensor) -> Tensor:
        """Beat probabilities ``[B, T]`` at ``fps`` for keypoints ``[B, T, V, C]``."""
        return torch.sigmoid(self._need("beat_net")(keypoints))

    def track_beats(self, activation: Tensor) -> list[np.ndarray]:
        """Beat times (s) per clip from activations ``[B, T]`` by the DBN beat tracker."""
        return [dbn_beat_track(row, fps=self.hparams.fps) for row in activation.float().cpu()]

    def _beat_step(self, batch: dict[str, Any], split: str) -> Tensor:
        logits = self._need("beat_net")(self._keypoints(batch))
        target = batch["beats"].to(logits.dtype)
        loss = balanced_bce(logits, target)
        self.log(f"{split}/loss", loss, prog_bar=True, batch_size=logits.shape[0])
        if split != "train":
            estimated = self.track_beats(torch.sigmoid(logits))
            reference = [np.flatnonzero(row.cpu().numpy() >= 0.5) / self.hparams.fps for row in target]
            self.beat_f.update(estimated, reference)
        return loss

    # -------------------------------------------------------------------------------------------- rhythm2drum
    @staticmethod
    def _groove(batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        if "groove" not in batch:
            raise KeyError("RhythmicNet rhythm2drum: the batch has no 'groove' field (GrooveMIDIDataModule)")
        groove = batch["groove"].float()
        mask = batch.get("groove_mask")
        if mask is None:
            mask = torch.ones(groove.shape[0], groove.shape[2], dtype=torch.bool, device=groove.device)
        return groove, mask.bool()

    def drum_losses(self, groove: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Word cross-entropy on tap steps, accuracy there, velocity and offset MSE (GrooVAE units) on valid steps."""
        net = self._need("drum_net")
        hits = groove[:, 0] * mask[..., None]
        rhythm = taps(hits)
        words = hits_to_words(hits)
        logits = net(rhythm, words)
        tapped = rhythm.bool() & mask
        if bool(tapped.any()):
            word_loss = F.cross_entropy(logits[tapped], words[tapped])
            accuracy = (logits[tapped].argmax(-1) == words[tapped]).float().mean()
        else:
            word_loss = logits.new_zeros(())
            accuracy = logits.new_ones(())
        velocity, offset = net.velocity_offset(hits)
        cells = mask[..., None].expand_as(hits)
        velocity_loss = F.mse_loss(velocity[cells], groove[:, 1][cells])
        offset_loss = F.mse_loss(to_groovae(offset[cells]), to_groovae(groove[:, 2][cells]))
        loss = word_loss + velocity_loss + offset_loss
        return {"loss": loss, "word_nll": word_loss, "word_accuracy": accuracy, "velocity_mse": velocity_loss,
                "offset_mse": offset_loss}  # fmt: skip

    def _drum_step(self, batch: dict[str, Any], split: str) -> Tensor:
        groove, mask = self._groove(batch)
        losses = self.drum_losses(groove, mask)
        for key, value in losses.items():
            self.log(f"{split}/{key}", value, prog_bar=key == "loss", batch_size=groove.shape[0])
        return losses["loss"]

    @torch.no_grad()
    def drums_for_rhythm(
        self, rhythm: Tensor, greedy: bool = False, generator: Optional[torch.Generator] = None
    ) -> Tensor:
        """A groove ``[B, 3, T, 9]`` (``music.groove`` convention) for a rhythm ``[B, T]`` of 16th-step taps: drum
        words sampled (``temperature``, ``top_k``) with hits only on taps, then velocities and offsets of the hits."""
        net = self._need("drum_net")
        words = net.generate(rhythm, self.hparams.temperature, self.hparams.top_k, greedy, generator)
        hits = words_to_hits(words)
        velocity, offset = net.velocity_offset(hits)
        return torch.stack([hits, velocity * hits, offset * hits], dim=1)

    def generate_examples(self, batch: dict[str, Any]) -> list[Example]:
        """Rhythm2Drum: drums sampled for the first windows' rhythms and the true drums (``reference``)."""
        if self.stage != "rhythm2drum":
            return []
        groove, mask = self._groove(batch)
        count = min(int(self.hparams.examples_per_batch), groove.shape[0])
        hits = groove[:count, 0] * mask[:count, :, None]
        generated = self.drums_for_rhythm(taps(hits))
        metas = batch.get("meta") or [{}] * count
        examples = []
        for i in range(count):
            bpm = float(metas[i].get("bpm", 120.0)) if isinstance(metas[i], dict) else 120.0
            name = f"drums_{i}"
            examples.append(Example(name, midi=groove_to_midi(generated[i], bpm)))
            examples.append(Example(f"{name}_reference", midi=groove_to_midi(groove[i], bpm), role="reference"))
        return examples

    # ---------------------------------------------------------------------------------------------- lightning
    def _step(self, batch: dict[str, Any], split: str) -> Tensor:
        if self.stage == "video2rhythm":
            return self._beat_step(batch, split)
        return self._drum_step(batch, split)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def _log_beats(self, split: str) -> None:
        if self.stage == "video2rhythm" and int(self.beat_f.clips) > 0:
            for key, value in self.beat_f.compute().items():
                self.log(f"{split}/beat_{key}", value.float())
        self.beat_f.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_beats("val")

    def on_test_epoch_end(self) -> None:
        self._log_beats("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self._need(self.trains).parameters(), lr=self.hparams.lr)


__all__ = ["RHYTHMIC_NET_STAGES", "RhythmicNet", "balanced_bce"]
