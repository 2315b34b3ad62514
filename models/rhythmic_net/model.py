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

* ``drum2music`` trains ``music_net`` (:class:`~models.rhythmic_net.drum2music.Drum2Music`) on multi-track MIDI
  (:class:`datamodules.multitrack_midi.MultitrackMIDIDataModule`): windows of consecutive bars, the drum bars read by
  the Transformer-XL encoder, the piano (or guitar) bars written by its decoder, one bar per segment; next-token
  cross-entropy on the instrument's real tokens (``PAD`` ignored), logged as ``nll`` (nats per token), with the
  accuracy and the NLL of the ``Position`` tokens alone.

The chain (:meth:`RhythmicNet.generate_from_video`, ``cli.py generate``; :mod:`models.rhythmic_net.chain`): a
drum2music model holding the three networks (its ``video2rhythm_ckpt`` and ``rhythm2drum_ckpt`` loaded, or a
drum2music checkpoint that carries them) turns a video into drums plus the instrument.
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
from models.rhythmic_net.drum2music import Drum2Music
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
    "unet_down_dropout",  # one per level: they follow the levels
    "unet_up_dropout",
)
MUSIC_SIZES = (
    "music_d_model",
    "music_encoder_layers",
    "music_decoder_layers",
    "music_heads",
    "music_feedforward",
    "music_mem_len",
    "max_bar_tokens",
)
RHYTHMIC_NET_STAGES = {
    "video2rhythm": StageSpec("beat_net", ckpt="video2rhythm_ckpt", sizes=BEAT_SIZES),
    "rhythm2drum": StageSpec("drum_net", ckpt="rhythm2drum_ckpt", sizes=DRUM_SIZES),
    "drum2music": StageSpec("music_net", ckpt="drum2music_ckpt", sizes=MUSIC_SIZES),
}
INSTRUMENTS = ("piano", "guitar")
EXAMPLE_BARS = 4  # bars generated per media example at validation


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
        stage: ``video2rhythm``, ``rhythm2drum`` or ``drum2music``.
        keypoint_layout: the skeleton (``rhythmic17``: BODY_25 joints 0-14 and the big toes). fps: keypoint rate.
        stgcn_channels, temporal_kernel, stgcn_strategy, edge_importance: Video2Rhythm's ST-GCN (stride 1).
        beat_d_model, beat_layers, beat_heads, beat_feedforward, beat_dropout: its encoder (pre-LN, GELU).
        max_frames: the learned absolute positions (the 300-frame window). max_relative_position: relative distances.
        ssm_bias, ssm_kernel: the self-similarity bias and its convolution. displacement_scale: px per motion unit.
        drum_*: Rhythm2Drum's transformer. unet_*: its velocity / offset U-Net.
        temperature, top_k: sampling of drum words. lr: Adam's learning rate (video2rhythm, rhythm2drum).
        instrument: what Drum2Music adds, ``piano`` (written as GM program 0) or ``guitar`` (24) (code).
        music_*: Drum2Music's Transformer-XL encoder-decoder (code: encoder 4 / decoder 8 layers, d 512, 8 heads of
            64, ff 2048, dropout 0.1, memory 256 tokens). max_bar_tokens: tokens per bar row (code: 256).
        music_temperature, music_top_k: its sampling (code: 1.2, 5). music_lr: its Adam learning rate (code: 2e-4).
        drum_window_steps: Rhythm2Drum's window in the chain (32 sixteenths = 2 bars, as in training).
        beat_hop_frames: the chain's hop between overlapping ``max_frames`` beat windows over a long video (paper and
            code silent: 150, half a window, so every frame but the first half-window's is seen by two windows
            whose activations are averaged; :func:`models.rhythmic_net.chain.overlap_average`).
        examples_per_batch: media examples generated per validation batch.
        video2rhythm_ckpt, rhythm2drum_ckpt, drum2music_ckpt: the stages' checkpoints.
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
        instrument: str = "piano",
        music_d_model: int = 512,
        music_encoder_layers: int = 4,
        music_decoder_layers: int = 8,
        music_heads: int = 8,
        music_feedforward: int = 2048,
        music_dropout: float = 0.1,
        music_mem_len: int = 256,
        max_bar_tokens: int = 256,
        music_temperature: float = 1.2,
        music_top_k: Optional[int] = 5,
        music_lr: float = 2e-4,
        drum_window_steps: int = 32,
        beat_hop_frames: int = 150,
        examples_per_batch: int = 2,
        video2rhythm_ckpt: Optional[str] = None,
        rhythm2drum_ckpt: Optional[str] = None,
        drum2music_ckpt: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if fps <= 0:
            raise ValueError(f"RhythmicNet: fps must be positive, got {fps}")
        if not 1 <= beat_hop_frames < max_frames:
            raise ValueError(f"RhythmicNet: beat_hop_frames must lie in 1..{max_frames - 1} (overlapping windows of "
                             f"max_frames {max_frames}), got {beat_hop_frames}")  # fmt: skip
        if instrument not in INSTRUMENTS:
            raise ValueError(f"RhythmicNet: instrument must be one of {INSTRUMENTS}, got {instrument!r}")
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
        if name == "music_net":
            from datamodules.multitrack_midi import tokenizer

            tok = tokenizer()
            return Drum2Music(
                tok.tokens(range(tok.vocab_size)),
                h.music_d_model,
                h.music_encoder_layers,
                h.music_decoder_layers,
                h.music_heads,
                h.music_feedforward,
                h.music_dropout,
                h.music_mem_len,
                h.max_bar_tokens,
                self.program,
            )
        raise ValueError(f"RhythmicNet: unknown network {name!r}")

    # ------------------------------------------------------------------------------------------------ loading
    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """A state of another stage (without this stage's network) is refused by name; the networks a state brings
        count as trained (:meth:`loaded_networks`)."""
        present = {name for name in self.network_names() if any(k.startswith(f"{name}.") for k in state_dict)}
        if strict and self.trains not in present:
            raise RuntimeError(
                f"RhythmicNet: a {self.stage} model needs {self.trains} weights, the checkpoint holds "
                f"{sorted(present) or 'none of its networks'} (a checkpoint of another stage?)"
            )
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._from_state = getattr(self, "_from_state", set()) | present
        return result

    def loaded_networks(self) -> set[str]:
        """The networks holding trained weights: loaded from a stage checkpoint or from a whole state."""
        return set(self._loaded) | getattr(self, "_from_state", set())

    # ------------------------------------------------------------------------------------------- video2rhythm
    def _keypoints(self, batch: dict[str, Any]) -> Tensor:
        if "keypoints" not in batch:
            raise KeyError("RhythmicNet video2rhythm: the batch has no 'keypoints' field")
        keypoints = batch["keypoints"].float()
        layout = self.hparams.keypoint_layout
        joints = get_layout(layout).num_joints
        if keypoints.dim() != 4 or keypoints.shape[2] != joints:
            raise ValueError(
                f"RhythmicNet: keypoints{self._sources(batch, range(len(keypoints)))} must be [B, T, {joints}, C] in "
                f"the {layout} layout, got {tuple(keypoints.shape)}"
            )
        if keypoints.shape[-1] >= 3:
            invisible = (keypoints[..., 2] <= 0).flatten(1).all(dim=1)
            if bool(invisible.any()):
                clips = invisible.nonzero().flatten().tolist()
                raise ValueError(f"RhythmicNet: clips {clips}{self._sources(batch, clips)} have no visible joint")
        return keypoints

    @staticmethod
    def _sources(batch: dict[str, Any], clips: Any) -> str:
        """`` (of <keypoint files>)`` for the batch's ``clips`` when its ``meta`` names them, else ``""``."""
        metas = batch.get("meta")
        if not isinstance(metas, (list, tuple)):
            return ""
        names = []
        for i in clips:
            meta = metas[i] if i < len(metas) and isinstance(metas[i], dict) else {}
            name = meta.get("keypoints_source") or meta.get("key")
            if name is not None:
                start = meta.get("start")
                names.append(f"{name}" + (f" at {float(start):.2f} s" if start is not None else ""))
        return f" (of {', '.join(dict.fromkeys(names))})" if names else ""

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
        """Rhythm2Drum: drums sampled for the first windows' rhythms and the true drums (``reference``); Drum2Music:
        the instrument sampled for the first bars' drums, with the drums, and the true pair (``reference``)."""
        if self.stage == "drum2music":
            return self._music_examples(batch)
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

    # --------------------------------------------------------------------------------------------- drum2music
    @property
    def program(self) -> int:
        """The General MIDI program Drum2Music writes (piano 0, guitar 24)."""
        from datamodules.multitrack_midi import FAMILIES

        return int(FAMILIES[self.hparams.instrument][1])

    def _bars(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        for key in ("drum_tokens", "instrument_tokens"):
            if key not in batch:
                raise KeyError(f"RhythmicNet drum2music: the batch has no {key!r} field (MultitrackMIDIDataModule)")
        drums, instrument = batch["drum_tokens"].long(), batch["instrument_tokens"].long()
        if "program" in batch:
            programs = {int(p) for p in torch.as_tensor(batch["program"]).reshape(-1).tolist()}
            if programs != {self.program}:
                raise ValueError(
                    f"RhythmicNet drum2music: the data's instrument programs {sorted(programs)} are not this model's "
                    f"{self.hparams.instrument} (program {self.program}); set the same instrument in model and data"
                )
        return drums, instrument

    def music_losses(self, drums: Tensor, instrument: Tensor) -> dict[str, Tensor]:
        """Next-token NLL of the instrument bars given the drum bars (nats per real token), the accuracy, and the
        NLL of the ``Position`` tokens alone."""
        net = self._need("music_net")
        logits = net(drums, instrument)
        targets = net.targets(instrument)
        valid = targets != net.pad_id
        if not bool(valid.any()):
            raise ValueError("RhythmicNet drum2music: the batch has no instrument token to predict (all PAD)")
        picked, wanted = logits[valid], targets[valid]
        nll = F.cross_entropy(picked, wanted, reduction="none")
        out = {"loss": nll.mean(), "nll": nll.mean().detach(),
               "accuracy": (picked.argmax(-1) == wanted).float().mean()}  # fmt: skip
        position = net.position_table[wanted]
        is_position = (position >= 0) & (position < 16)
        if bool(is_position.any()):
            out["position_nll"] = nll[is_position].mean().detach()
        return out

    def _music_step(self, batch: dict[str, Any], split: str) -> Tensor:
        drums, instrument = self._bars(batch)
        losses = self.music_losses(drums, instrument)
        for key, value in losses.items():
            self.log(f"{split}/{key}", value, prog_bar=key == "loss", batch_size=drums.shape[0])
        return losses["loss"]

    def allowed_music_tokens(self) -> Tensor:
        """The instrument tokens Drum2Music may sample: no drum pitches, no other program, no position beyond a
        4/4 bar nor another time signature, no ``BOS`` / ``MASK`` (``PAD`` and ``Bar`` are excluded by the net)."""
        net = self._need("music_net")
        from datamodules.multitrack_midi import tokenizer

        tok = tokenizer()
        allowed = torch.ones(net.vocab_size, dtype=torch.bool)
        for i, name in enumerate(tok.tokens(range(tok.vocab_size))):
            kind, _, value = name.partition("_")
            if (
                kind in ("PitchDrum", "BOS", "MASK")
                or (kind == "Program" and value != str(self.program))
                or (kind == "Position" and int(value) >= 16)
                or (kind == "TimeSig" and value != "4/4")
            ):
                allowed[i] = False
        return allowed.to(self.device)

    @torch.no_grad()
    def music_for_drums(
        self, drums: Tensor, greedy: bool = False, generator: Optional[torch.Generator] = None
    ) -> Tensor:
        """Instrument bar rows ``[B, bars, L]`` sampled (``music_temperature``, ``music_top_k``) for drum bar rows."""
        net = self._need("music_net")
        h = self.hparams
        return net.generate(drums, h.music_temperature, h.music_top_k, self.allowed_music_tokens(), greedy, generator)

    def _music_examples(self, batch: dict[str, Any]) -> list[Example]:
        from models.rhythmic_net.chain import bars_to_midi, merge_tracks

        drums, instrument = self._bars(batch)
        count = min(int(self.hparams.examples_per_batch), drums.shape[0])
        drums, instrument = drums[:count, :EXAMPLE_BARS], instrument[:count, :EXAMPLE_BARS]
        generated = self.music_for_drums(drums)
        examples = []
        for i in range(count):
            drum_midi = bars_to_midi(drums[i])
            bpm = float(drum_midi.get_tempo_changes()[1][0]) if len(drum_midi.get_tempo_changes()[1]) else 120.0
            name = f"{self.hparams.instrument}_{i}"
            made = merge_tracks(drum_midi, bars_to_midi(bars=generated[i], tempo=bpm))
            true = merge_tracks(bars_to_midi(drums[i], tempo=bpm), bars_to_midi(bars=instrument[i], tempo=bpm))
            examples.append(Example(name, midi=made))
            examples.append(Example(f"{name}_reference", midi=true, role="reference"))
        return examples

    # -------------------------------------------------------------------------------------------------- chain
    def generate_from_video(
        self,
        video: str,
        keypoints: Optional[str] = None,
        instrument: Optional[str] = None,
        program: Optional[int] = None,
        transpose: int = 0,
    ) -> Example:
        """The soundtrack of a silent video: beats and style -> rhythm -> drums (-> ``instrument``: the model's own
        by default, ``none`` for drums only); ``program`` / ``transpose`` edit the added track
        (:func:`models.rhythmic_net.chain.soundtrack`)."""
        from models.rhythmic_net.chain import soundtrack

        return soundtrack(self, video, keypoints, instrument, program, transpose)

    # ---------------------------------------------------------------------------------------------- lightning
    def _step(self, batch: dict[str, Any], split: str) -> Tensor:
        if self.stage == "video2rhythm":
            return self._beat_step(batch, split)
        if self.stage == "drum2music":
            return self._music_step(batch, split)
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
        lr = self.hparams.music_lr if self.stage == "drum2music" else self.hparams.lr
        return torch.optim.Adam(self._need(self.trains).parameters(), lr=lr)


__all__ = ["INSTRUMENTS", "RHYTHMIC_NET_STAGES", "RhythmicNet", "balanced_bce"]
