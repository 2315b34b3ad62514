"""Foley Music (Gan, Huang, Chen, Tenenbaum & Torralba, ECCV 2020): body keypoints -> MIDI events -> FluidSynth.

Graph-Transformer (§3.2): an ST-GCN visual encoder over the keypoint graph (``body65`` = BODY_25 + 2x20 finger
joints for URMP / MUSIC, ``hands42`` for AtinPiano) turns a 6-s clip at 22 fps (132 frames) into a pose memory at
T/4; a 6-block transformer decoder (d 512, feed-forward 1024, 8 heads, dropout 0.1) with Music-Transformer relative
self-attention and cross-attention to the memory predicts the performance events of :mod:`music.events` (vocabulary
243, up to 512 events). Training (§3.3, §4.1): cross-entropy with PAD ignored, Adam(0.9, 0.98, 1e-9), learning rate
warmed up linearly to 7e-4 over 4000 steps, then decayed with the inverse square root of the step. Generation: a real
beam search (beam 5, §3.3) with a key/value cache, or temperature / top-k sampling; events -> MIDI with the clip's
instrument program -> FluidSynth (§3.2 "Music Synthesizer").

Ablations (Tables 4-5) are constructor arguments: ``decoder="gru"`` (GRU decoder with attention), ``use_hands=False``
(the BODY_25 sub-graph of ``body65``), ``visual_input="rgb"`` / ``"flow"`` (per-frame features through a temporal
convolution encoder instead of the ST-GCN: the paper used Kinetics I3D features, which cannot be had offline; the
suite uses EfficientNet-Lite0 frame features and OpenCV Farneback optical-flow features). ``zero_memory=True``
trains the same decoder with the visual memory zeroed (the unconditioned reference of the acceptance test).

Choices the paper leaves open, settled here: the encoder's output passes through a LayerNorm (``memory_norm``; the
released code's ``nn.Transformer`` applies its encoder norm to the pose features with zero encoder layers), so the
memory's content is on the scale of its positions; the pose memory gets sinusoidal positions (``memory_positions``) so
cross-attention knows *when* a movement happens, and the decoder gets the same encoding of each event's time
(``event_clock``: the sum of the time shifts so far), so it can look up the frames of the moment it is predicting at;
keypoints are body-centred (``pose_normalization="body"``: neck at the origin, neck-hip distance 1) before the input
BatchNorm, so where the player stands does not drown the finger movements; one model is trained over all
instruments of a dataset and NLL is reported per instrument (the released code trained one model per instrument).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from datamodules.instruments import INSTRUMENT_CLASSES
from metrics.token_nll import TokenNLL
from models.generation import Example
from models.nn.decoding import SearchResult, beam_search, decoder_step, sample
from models.nn.gru_decoder import GRUDecoder
from models.nn.keypoint_augment import random_affine
from models.nn.pose_normalize import body_centred
from models.nn.schedules import noam_factor
from models.nn.stgcn import STGCN, STGCN_BLOCKS
from models.nn.temporal_encoder import TemporalConvEncoder
from models.nn.transformer_decoder import TransformerDecoder, sinusoidal_encoding
from models.video_windows import VideoWindows, feature_windows, keypoint_windows
from music import events as ev

VisualInput = Literal["keypoints", "rgb", "flow"]
Decoding = Literal["beam", "sample", "greedy"]
FEATURE_KIND = {"rgb": "effnet_lite0", "flow": "flow"}  # the datamodules.features extractor of each ablation


class FoleyMusic(pl.LightningModule):
    """Foley Music's Graph-Transformer (see module docstring).

    Args:
        visual_input: ``keypoints`` (ST-GCN, the paper's model), ``rgb`` or ``flow`` (frame features, Table 4).
        keypoint_layout: layout of the batch's keypoints (``body65`` or ``hands42``); must equal the DataModule's.
        use_hands: keep the finger joints (False = the ``body25`` sub-graph, Table 5 "w/o hands").
        in_channels: channels per joint used (3 = x, y, confidence; ``None``: 2 for ``hands42``, else 3).
        feature_dim: width of ``visual_features`` for ``rgb`` / ``flow``.
        decoder: ``transformer`` (the paper's) or ``gru`` (Table 5 baseline).
        d_model, num_layers, num_heads, dim_feedforward, dropout: decoder sizes (§4.1: 512, 6, 8, 1024, 0.1).
        relative_per_head: one relative-position table per attention head; the default shares one table by the
            heads of a layer, as the released code does (22,697,559 parameters at the defaults; 24,073,815 per head).
        gru_layers: GRU layers of the ``gru`` decoder.
        gcn_strategy: ST-GCN partition strategy. gcn_blocks: ``(in, out, stride)`` per ST-GCN block.
        temporal_kernel: ST-GCN temporal kernel (9). gcn_dropout: dropout inside ST-GCN blocks.
        gcn_center_hops: count the joints' distances to the graph centre only up to this many hops, as the released
            code's ST-GCN graph does (1; farther joints all compare equal, which moves most bones into one partition:
            65/118/10 entries per partition on ``body65``); ``None`` (default) uses the exact distances (65/64/64).
        edge_importance: learnable ST-GCN edge importance.
        feature_channels, feature_strides, feature_kernel: the temporal encoder of ``rgb`` / ``flow`` features (the
            suite's features are 1 per second, so no further downsampling by default).
        max_events: events per clip including SOS/EOS (512). memory_norm: LayerNorm on the encoder's output (as the
            released code). memory_positions: add sinusoidal positions to the memory.
        event_clock: add the sinusoidal encoding of each event's time to the transformer decoder's inputs.
        positions_per_second: the time scale of both encodings (5.5 = one position per pose-memory step at 22 fps).
        pose_normalization: ``body`` (per frame centred on the neck, divided by the clip's neck-hip distance; layouts
            without a neck keep their coordinates: ``hands42``'s place on the keyboard is the pitch) or ``none``
            (the loader's image coordinates).
        norm_first: pre-LayerNorm decoder blocks. zero_memory: zero the visual memory (unconditioned reference).
        lr: peak learning rate. warmup_steps: linear warm-up. betas, eps: Adam.
        augment: random affine keypoint augmentation during training (rotation ±``max_rotation`` degrees, scale
            ``scale_range``, shift ±``max_shift``).
        decoding: ``beam``, ``sample`` or ``greedy``. beam_size: beams (5). length_penalty: ``alpha`` of the length
            normalisation (0 = off). temperature, top_k: sampling. max_generate_events: events generated per clip.
        fps, clip_seconds: the clip the model sees (22 fps, 6 s).
        default_program: General-MIDI program when the instrument is unknown (40 = violin).
        examples_per_batch: clips turned into music by :meth:`generate_examples`.
    """

    def __init__(
        self,
        visual_input: VisualInput = "keypoints",
        keypoint_layout: str = "body65",
        use_hands: bool = True,
        in_channels: Optional[int] = None,
        feature_dim: int = 1280,
        decoder: Literal["transformer", "gru"] = "transformer",
        d_model: int = 512,
        num_layers: int = 6,
        num_heads: int = 8,
        dim_feedforward: int = 1024,
        dropout: float = 0.1,
        relative_per_head: bool = False,
        gru_layers: int = 2,
        gcn_strategy: Literal["uniform", "distance", "spatial"] = "spatial",
        gcn_blocks: Sequence[Sequence[int]] = STGCN_BLOCKS,
        temporal_kernel: int = 9,
        gcn_dropout: float = 0.0,
        gcn_center_hops: Optional[int] = None,
        edge_importance: bool = True,
        feature_channels: Sequence[int] = (256, 256, 256),
        feature_strides: Sequence[int] = (1, 1, 1),
        feature_kernel: int = 3,
        max_events: int = 512,
        memory_norm: bool = True,
        memory_positions: bool = True,
        event_clock: bool = True,
        positions_per_second: float = 5.5,
        pose_normalization: Literal["body", "none"] = "body",
        norm_first: bool = False,
        zero_memory: bool = False,
        lr: float = 7e-4,
        warmup_steps: int = 4000,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-9,
        augment: bool = True,
        max_rotation: float = 10.0,
        scale_range: tuple[float, float] = (0.9, 1.1),
        max_shift: float = 0.1,
        decoding: Decoding = "beam",
        beam_size: int = 5,
        length_penalty: float = 0.0,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        max_generate_events: int = 512,
        fps: float = 22.0,
        clip_seconds: float = 6.0,
        default_program: int = 40,
        examples_per_batch: int = 2,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.visual_input = visual_input
        self.keypoint_layout = keypoint_layout
        self.max_events = max_events
        self.memory_positions = memory_positions
        self.zero_memory = zero_memory
        self.nll = torch.nn.ModuleDict({split: TokenNLL(ev.PAD) for split in ("val", "test")})
        self.nll_by_instrument = torch.nn.ModuleDict(
            {f"{split}_{k}": TokenNLL(ev.PAD) for split in ("val", "test") for k in range(len(INSTRUMENT_CLASSES))}
        )
        self.last_nll: dict[str, dict[str, float]] = {}
        self.pose_frame: Optional[tuple[int, Optional[tuple[int, int]]]] = None  # body_centred's (centre, size joints)
        if visual_input == "keypoints":
            from datamodules.layouts import get_layout

            layout = get_layout(keypoint_layout)
            graph = layout
            if not use_hands:
                graph = get_layout("body25")
                missing = [name for name in graph.joints if name not in layout]
                if missing:
                    raise ValueError(
                        f"use_hands=False needs the BODY_25 joints; layout {keypoint_layout} lacks {missing}"
                    )
            self.register_buffer("joint_index", torch.tensor([layout.index(n) for n in graph.joints]), persistent=False)
            self.in_channels = in_channels or (2 if layout.name == "hands42" else 3)
            if pose_normalization not in ("body", "none"):
                raise ValueError(f"pose_normalization must be body or none, got {pose_normalization!r}")
            if pose_normalization == "body" and "Neck" in graph:  # neck at the origin, neck-hip distance 1
                size = (graph.index("Neck"), graph.index("MidHip")) if "MidHip" in graph else None
                self.pose_frame = (graph.index("Neck"), size)
            if self.in_channels not in (2, 3):
                raise ValueError(f"in_channels must be 2 or 3, got {self.in_channels}")
            self.encoder: torch.nn.Module = STGCN(
                self.in_channels,
                graph.num_joints,
                graph.edges,
                center=graph.center,
                out_dim=d_model,
                strategy=gcn_strategy,
                temporal_kernel=temporal_kernel,
                blocks=[tuple(b) for b in gcn_blocks],
                dropout=gcn_dropout,
                edge_importance=edge_importance,
                center_hops=gcn_center_hops,
            )
        elif visual_input in ("rgb", "flow"):
            if len(feature_strides) != len(feature_channels):
                raise ValueError(f"feature_strides {feature_strides} and feature_channels {feature_channels} differ")
            self.encoder = TemporalConvEncoder(
                feature_dim, d_model, feature_channels, feature_strides, kernel=feature_kernel, dropout=gcn_dropout
            )
        else:
            raise ValueError(f"visual_input must be keypoints, rgb or flow, got {visual_input!r}")
        # The ST-GCN's output is ~0.1 RMS at initialisation, the positions ~0.7: without the norm they drown it.
        self.memory_norm = torch.nn.LayerNorm(d_model) if memory_norm else torch.nn.Identity()
        if decoder == "transformer":
            self.decoder: torch.nn.Module = TransformerDecoder(
                ev.VOCAB_SIZE,
                d_model,
                num_layers,
                num_heads,
                dim_feedforward,
                dropout,
                max_len=max_events,
                padding_idx=ev.PAD,
                norm_first=norm_first,
                relative_per_head=relative_per_head,
                token_advance=torch.from_numpy(ev.time_advance() * positions_per_second) if event_clock else None,
            )
        elif decoder == "gru":
            self.decoder = GRUDecoder(ev.VOCAB_SIZE, d_model, gru_layers, dropout, padding_idx=ev.PAD)
        else:
            raise ValueError(f"decoder must be transformer or gru, got {decoder!r}")

    # ------------------------------------------------------------------------------------------------ encoder
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        dim = getattr(datamodule, "feature_dim", None)
        if self.visual_input != "keypoints" and dim is not None and dim != self.hparams.feature_dim:
            raise ValueError(
                f"FoleyMusic.feature_dim is {self.hparams.feature_dim} but {type(datamodule).__name__} yields "
                f"visual_features of width {dim}: set model.init_args.feature_dim: {dim}"
            )
        theirs = getattr(datamodule, "keypoint_layout", None) or getattr(
            getattr(datamodule, "options", None), "keypoint_layout", None
        )
        if self.visual_input == "keypoints" and theirs is not None and theirs != self.keypoint_layout:
            raise ValueError(
                f"FoleyMusic.keypoint_layout is {self.keypoint_layout!r} but {type(datamodule).__name__}"
                f".keypoint_layout is {theirs!r}: set both to the same layout"
            )

    def visual(self, batch: dict[str, Any]) -> Tensor:
        """The visual input of a batch: keypoints ``[B, T, J, C]`` (graph joints) or features ``[B, T, D]``."""
        if self.visual_input == "keypoints":
            if "keypoints" not in batch:
                raise KeyError(f"FoleyMusic needs batch field 'keypoints'; the batch has {sorted(batch)}")
            kp = batch["keypoints"].float()
            return kp.index_select(2, self.joint_index)[..., : self.in_channels]
        if "visual_features" not in batch:
            raise KeyError(
                f"FoleyMusic(visual_input={self.visual_input!r}) needs batch field 'visual_features'; "
                f"the batch has {sorted(batch)}"
            )
        return batch["visual_features"].float()

    def encode(self, visual: Tensor) -> Tensor:
        """Visual input -> memory ``[B, S, d_model]`` (S = T / 4)."""
        if self.pose_frame is not None:
            visual = body_centred(visual, *self.pose_frame)
        memory = self.memory_norm(self.encoder(visual))
        if self.memory_positions:  # memory step j is at j * clip_seconds / S seconds
            seconds = torch.arange(memory.shape[1], device=memory.device) * (
                self.hparams.clip_seconds / memory.shape[1]
            )
            memory = memory + sinusoidal_encoding(seconds * self.hparams.positions_per_second, memory.shape[2])
        if self.zero_memory:
            memory = torch.zeros_like(memory)
        return memory

    # ----------------------------------------------------------------------------------------------- training
    def forward(self, visual: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced logits ``[B, L, V]`` for input ``tokens`` [B, L] (SOS first)."""
        return self.decoder(tokens, self.encode(visual))

    @staticmethod
    def split_events(events: Tensor) -> tuple[Tensor, Tensor]:
        """``[SOS] e1 .. [EOS] PAD..`` -> (decoder input, target) shifted by one."""
        if events.ndim != 2:
            raise ValueError(f"events must be [B, L], got {tuple(events.shape)}")
        if not bool((events[:, 0] == ev.SOS).all()):
            sos = torch.full_like(events[:, :1], ev.SOS)
            events = torch.cat([sos, events], dim=1)
        return events[:, :-1], events[:, 1:]

    def logits_and_target(self, batch: dict[str, Any], augment: bool = False) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits ``[B, L, V]`` and targets ``[B, L]`` (PAD where nothing is to be predicted)."""
        visual = self.visual(batch)
        if augment and self.visual_input == "keypoints":
            h = self.hparams
            visual = random_affine(visual, h.max_rotation, tuple(h.scale_range), h.max_shift)
        inputs, target = self.split_events(batch["events"].long())
        return self(visual, inputs), target

    def token_nll(self, batch: dict[str, Any], augment: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Per-token NLL ``[B, L]`` (0 on PAD), target mask ``[B, L]`` and token-correct flags ``[B, L]``."""
        logits, target = self.logits_and_target(batch, augment)
        mask = target != ev.PAD
        nll = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=ev.PAD, reduction="none")
        return nll, mask, (logits.argmax(-1) == target) & mask

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        nll, mask, correct = self.token_nll(batch, augment=self.hparams.augment)
        tokens = mask.sum().clamp_min(1)
        loss = nll.sum() / tokens
        self.log("train/loss", loss, prog_bar=True, batch_size=mask.shape[0])
        self.log("train/acc", correct.sum() / tokens, batch_size=mask.shape[0])  # PAD excluded (§4.1 fix)
        return loss

    def _eval_step(self, batch: dict[str, Any], split: str) -> None:
        logits, target = self.logits_and_target(batch)
        mask = target != ev.PAD
        self.nll[split].update(logits, target)
        correct = ((logits.argmax(-1) == target) & mask).sum() / mask.sum().clamp_min(1)
        self.log(f"{split}/acc", correct, batch_size=target.shape[0], sync_dist=True)
        instruments = batch.get("instrument")
        if instruments is not None:  # NLL per instrument (Tables 4-5)
            instruments = torch.as_tensor(instruments, device=target.device).view(-1)
            for inst in instruments.unique().tolist():
                if 0 <= inst < len(INSTRUMENT_CLASSES):
                    rows = instruments == inst
                    self.nll_by_instrument[f"{split}_{inst}"].update(logits[rows], target[rows])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, split: str) -> None:
        """Log the dataset-level token NLL and the NLL of every instrument seen; keep them in ``last_nll``."""
        results = {"all": float(self.nll[split].compute()["nll"])}
        self.nll[split].reset()
        with warnings.catch_warnings():  # every rank computes every metric (DDP-safe); unseen instruments give 0
            warnings.simplefilter("ignore")
            for k, cls in enumerate(INSTRUMENT_CLASSES):
                metric = self.nll_by_instrument[f"{split}_{k}"]
                value = float(metric.compute()["nll"])
                metric.reset()
                if value > 0:
                    results[cls.name] = value
        if self._trainer is not None and self.trainer.sanity_checking:
            return
        self.log(f"{split}/nll", results["all"], prog_bar=True)
        for name, value in results.items():
            if name != "all":
                self.log(f"{split}/nll/{name}", value)
        self.last_nll[split] = results

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self) -> dict[str, Any]:
        h = self.hparams
        optimizer = torch.optim.Adam(self.parameters(), lr=h.lr, betas=tuple(h.betas), eps=h.eps)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: noam_factor(step + 1, h.warmup_steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    # --------------------------------------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(
        self,
        visual: Tensor,
        decoding: Optional[Decoding] = None,
        max_events: Optional[int] = None,
        beam_size: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
    ) -> SearchResult:
        """Event ids for a batch of visual inputs (no SOS; EOS then PAD at the end) with the configured search."""
        h = self.hparams
        decoding = decoding or h.decoding
        max_events = int(max_events or h.max_generate_events)
        memory = self.encode(visual.to(self.device))
        cache = self.decoder.init_cache(memory)
        step = decoder_step(self.decoder)
        b = memory.shape[0]
        common = dict(sos=ev.SOS, eos=ev.EOS, pad=ev.PAD, max_len=max_events - 1, device=memory.device)
        if decoding == "beam":
            return beam_search(
                step, cache, b, beam_size=beam_size or h.beam_size, length_penalty=h.length_penalty, **common
            )
        if decoding in ("sample", "greedy"):
            return sample(
                step,
                cache,
                b,
                temperature=h.temperature,
                top_k=h.top_k,
                greedy=decoding == "greedy",
                generator=generator,
                **common,
            )
        raise ValueError(f"decoding must be beam, sample or greedy, got {decoding!r}")

    def program_of(self, instrument: Optional[int]) -> int:
        """General-MIDI program of an instrument class id (the suite's shared instrument vocabulary)."""
        if instrument is None or not 0 <= int(instrument) < len(INSTRUMENT_CLASSES):
            return int(self.hparams.default_program)
        return INSTRUMENT_CLASSES[int(instrument)].program

    def events_to_midi(self, tokens: Tensor, program: int) -> Any:
        """Event ids of one clip -> MIDI (``program``), notes cut at the clip's end (``clip_seconds``)."""
        midi = ev.decode(tokens, program=program)
        end = float(self.hparams.clip_seconds)
        for inst in midi.instruments:
            inst.notes = [n for n in inst.notes if n.start < end]
            for note in inst.notes:
                note.end = min(note.end, end)
        return midi

    def generate_examples(self, batch: dict[str, Any]) -> list[Example]:
        """Generated MIDI (and the ground truth) for the first ``examples_per_batch`` clips of a batch."""
        n = min(int(self.hparams.examples_per_batch), batch["events"].shape[0])
        if n == 0:
            return []
        was_training = self.training
        self.eval()
        try:
            result = self.generate(self.visual(batch)[:n])
        finally:
            self.train(was_training)
        instruments = batch.get("instrument")
        examples = []
        for i in range(n):
            program = self.program_of(None if instruments is None else int(instruments[i]))
            meta = batch.get("meta", [{}] * n)[i] or {}
            name = str(meta.get("key") or meta.get("name") or f"clip{i}")
            seq = result.tokens[i, : result.lengths[i]]
            examples.append(Example(f"{name}/generated", midi=self.events_to_midi(seq, program)))
            truth = ev.decode(batch["events"][i], program=program)
            examples.append(Example(f"{name}/truth", midi=truth, role="reference"))
        return examples

    @torch.no_grad()
    def generate_batches(self, batches: Iterable[dict[str, Any]]) -> list[tuple[Any, Any, int]]:
        """(generated MIDI, true MIDI, program) for every clip of ``batches`` (batches with ``events`` and
        ``instrument``), generated with the configured search; the model is left in eval mode."""
        self.eval()
        out = []
        for batch in batches:
            result = self.generate(self.visual(batch))
            for i in range(result.tokens.shape[0]):
                program = self.program_of(int(batch["instrument"][i]))
                generated = self.events_to_midi(result.tokens[i, : result.lengths[i]], program)
                out.append((generated, ev.decode(batch["events"][i], program=program), program))
        return out

    def generate_from_video(
        self,
        video: str,
        keypoints: Optional[str] = None,
        program: Optional[int] = None,
        transpose: int = 0,
    ) -> Example:
        """Soundtrack for a whole video: keypoints (given, or extracted offline) or frame features -> 6-s windows
        covering the video (:mod:`models.video_windows`) -> events (one batched search) -> one MIDI track
        (``program``, optionally transposed by ``transpose`` semitones, §4.4) rendered by the caller."""
        windows = self.video_windows(video, keypoints)
        self.eval()
        result = self.generate(windows.inputs.to(self.device))
        midi = self._stitch(result, windows.duration, int(self.hparams.default_program if program is None else program))
        if transpose:
            from music.edit import transpose as transpose_midi

            midi = transpose_midi(midi, int(transpose))
        return Example(Path(video).stem, midi=midi, extra={"windows": windows.count})

    def video_windows(self, video: str | Path, keypoints: Optional[str | Path] = None) -> VideoWindows:
        """The model's visual input (:meth:`visual`) for the ``clip_seconds`` windows covering ``video``: keypoints in
        the model's layout at ``fps``, or the frame features its ablation was trained with (``rgb``: EfficientNet-Lite0,
        ``flow``: Farneback flow; 1 row per second)."""
        h = self.hparams
        clip = float(h.clip_seconds)
        if self.visual_input == "keypoints":
            windows = keypoint_windows(video, clip, float(h.fps), self.keypoint_layout, keypoints)
            field = "keypoints"
        else:
            windows = feature_windows(video, FEATURE_KIND[self.visual_input], clip)
            field = "visual_features"
        windows.inputs = self.visual({field: windows.inputs})
        return windows

    def _stitch(self, result: SearchResult, duration: float, program: int) -> Any:
        """Concatenate the windows' MIDI, window k shifted by ``k * clip_seconds`` and cut at its window's end (as
        :meth:`events_to_midi` cuts a clip) and at the video's end."""
        import pretty_midi

        out = pretty_midi.PrettyMIDI()
        track = pretty_midi.Instrument(program=program)
        clip = float(self.hparams.clip_seconds)
        for k in range(result.tokens.shape[0]):
            part = ev.decode(result.tokens[k, : result.lengths[k]], program=program)
            for note in (n for inst in part.instruments for n in inst.notes):
                stop = min((k + 1) * clip, duration)
                start, end = note.start + k * clip, min(note.end + k * clip, stop)
                if end > start:
                    track.notes.append(pretty_midi.Note(note.velocity, note.pitch, start, end))
        out.instruments.append(track)
        return out


def token_nll_baseline(train_events: Tensor, eval_events: Tensor) -> float:
    """NLL per token of a unigram model (add-one smoothed counts of the training targets) on ``eval_events``:
    the floor a model must beat to show it learned anything beyond token frequencies."""
    _, train_t = FoleyMusic.split_events(train_events.long())
    _, eval_t = FoleyMusic.split_events(eval_events.long())
    counts = torch.bincount(train_t[train_t != ev.PAD], minlength=ev.VOCAB_SIZE).double() + 1.0
    counts[ev.PAD] = 0.0
    logp = (counts / counts.sum()).log()
    tokens = eval_t[eval_t != ev.PAD]
    return float(-logp[tokens].mean())


__all__ = ["FoleyMusic", "token_nll_baseline"]
