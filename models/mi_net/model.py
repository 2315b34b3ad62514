"""Multi-Instrumentalist Net (Su, Liu & Shlizerman 2021): music for a video of a musician, learned without labels.

Stages (``stage``), one LightningModule (:class:`MINet`, the stage table ``MINET_STAGES``):

1. ``vqvae`` (§3.1): 4-s clips of 16-kHz audio -> magnitude log-spectrogram (hop 256, 1024 bins) -> multi-band
   residual 1-D convolutional VQ-VAE (MBR / residual convolutions of 512 channels, 4 MBR blocks, 2 residual blocks,
   latent 64 channels, codebook 1024 x 64 with EMA updates); loss ``||S - D(e)||^2 + beta ||E(S) - sg[e]||^2``.
2. ``prior`` (§3.2): the frozen VQ-VAE's codes of a clip, predicted autoregressively by a GPT-like transformer
   (2 layers, d 128, 8 heads, ReLU feed-forward) whose every step is joined with h, the last hidden state of a 3-layer
   bi-GRU (hidden 32) over the player's ``upper47`` keypoints (5 upper-body + 2 x 21 hand joints, x and y); the body
   encoder and the prior train jointly (cross-entropy); no instrument label is ever read for training.
3. ``content`` (§3.3): the prior plus cross-attention to C, the output of a transformer content encoder (2 layers,
   d 128, 8 heads) over the clip's monophonic MIDI as one note index per step (joined with h), through a Linear.
   ``content_arch="gru"`` is Table 5's GRU-Seq2Seq ablation.
4. Baselines of §4, regressing log-spectrograms from the pose: ``seq2seq`` (bi-GRU encoder, GRU decoder) and
   ``graph_transformer`` (ST-GCN + transformer decoder with cross-attention). Table 4's "w/o MBR" VQ-VAE is
   ``encoder_bands = decoder_bands = [1, 1, 1, 1]`` (each MBR block a plain full-width residual conv block).

Earlier stages come from their checkpoints (``vqvae_ckpt``) and stay frozen (:class:`models.staged.StagedModule`);
the last checkpoint of a chain generates end to end: keypoints of 4-s windows -> h -> sampled codes -> decoded
log-spectrogram -> Griffin-Lim waveform, stitched over the whole video (``python cli.py generate``).

Choices the paper leaves open (✱), each a constructor argument:

- spectrogram: ``n_fft`` 2048 keeping the lowest 1024 bins (0-8 kHz, only the Nyquist bin dropped: "1024 frequency
  bins" literally), Hann window, centred frames (251 per 4 s); ``log(1 + |STFT|)`` without further scaling (the
  suite's :func:`models.nn.spectral.log_spectrogram`, inverted by its Griffin-Lim);
- VQ-VAE: kernel 3 everywhere; no temporal downsampling (``downsample=1``: the codes keep the spectrogram's 62.5
  frames/s, so a 4-s clip is 251 codes); MBR bands 16, 8, 4, 2 in the encoder and 2, 4, 8, 16 in the decoder (as
  PerformanceNet's counts, whose MBR MI Net adopts); separate weights per band (PerformanceNet's); no normalisation
  (the paper lists conv-ReLU-conv only); pre-activation residual blocks (ReLU, conv 3, ReLU, conv 1, as van den Oord
  et al.'s); EMA decay 0.99 and beta 0.25 (van den Oord et al.'s values); codes whose EMA count falls below 1 per
  batch are restarted from batch vectors (Jukebox's threshold; with a slower restart the codebook collapsed to one code
  on a fixed batch and the reconstruction stalled at the mean spectrum);
- body encoder: keypoints centred on the neck and divided by the shoulder width (where the player stands and their
  size are not the instrument); h = the last layer's final states of both directions, concatenated (64 wide);
  keypoints at 30 fps (URMP's video rate);
- prior: feed-forward width 512 (4 x d, GPT-1's ratio); dropout 0.1; sinusoidal absolute positions plus the suite
  decoder's relative self-attention; embedding initialised at std d^-1/2; h joined by concatenation and projection;
- content: one note index per code step (the roll resampled to the code rate, so content step t and code t are the
  same moment; 0 = rest, 1..88 = MIDI 21-108); a frame where two notes sound on is polyphonic and an error, except a
  legato hand-over (the newer note wins); C goes through a LayerNorm and gets the decoder's positions; the content
  stage trains its own body encoder (as the prior does), on the frozen VQ-VAE;
- baselines: MSE on the log-spectrogram; the Seq2Seq encoder is MI Net's body encoder, its decoder a 2-layer GRU
  of width 256; the Graph-Transformer uses Foley Music's ST-GCN blocks and MI Net's transformer sizes;
- training: Adam, learning rate 3e-4 (a common VQ-VAE / small-transformer rate), batch 16 (data config);
- waveform: Griffin-Lim, 32 iterations (pluggable: :meth:`MINet.waveform`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn
from torchmetrics import MeanMetric

from metrics.knn_accuracy import KNNAccuracy
from metrics.token_nll import TokenNLL
from models.generation import Example
from models.mi_net.networks import (
    BodyEncoder,
    ContentPrior,
    GraphTransformerBaseline,
    PosePrior,
    Seq2SeqBaseline,
    SpectrogramVQVAE,
)
from models.nn.decoding import sample
from models.nn.spectral import griffin_lim, log_spectrogram
from models.nn.stgcn import STGCN_BLOCKS
from models.staged import StagedModule, StageSpec

log = logging.getLogger(__name__)

Stage = Literal["vqvae", "prior", "content", "seq2seq", "graph_transformer"]
VQVAE_SIZES = (
    "n_fft",
    "hop",
    "n_bins",
    "channels",
    "code_dim",
    "codebook_size",
    "encoder_bands",
    "decoder_bands",
    "residual_blocks",
    "kernel",
    "downsample",
)
BODY_SIZES = ("gru_hidden", "gru_layers", "keypoint_layout")
TRANSFORMER_SIZES = ("d_model", "num_layers", "num_heads", "dim_feedforward", "clip_seconds")
MINET_STAGES = {
    "vqvae": StageSpec("vqvae", ckpt="vqvae_ckpt", sizes=VQVAE_SIZES),
    "prior": StageSpec("prior", ckpt="prior_ckpt", sizes=BODY_SIZES + TRANSFORMER_SIZES, needs=("vqvae",)),
    "content": StageSpec(
        "content",
        ckpt="content_ckpt",
        sizes=BODY_SIZES + TRANSFORMER_SIZES + ("content_arch", "content_layers", "num_notes"),
        needs=("vqvae",),
    ),
    "seq2seq": StageSpec(
        "seq2seq",
        ckpt="seq2seq_ckpt",
        sizes=BODY_SIZES + ("n_fft", "hop", "n_bins", "seq2seq_hidden", "seq2seq_layers"),
    ),
    "graph_transformer": StageSpec(
        "graph_transformer",
        ckpt="graph_transformer_ckpt",
        sizes=("keypoint_layout", "n_fft", "hop", "n_bins", "gcn_blocks") + TRANSFORMER_SIZES,
    ),
}
CODE_STAGES = ("prior", "content")  # stages that predict VQ codes (the others regress spectrograms or reconstruct)
FIRST_CODES = 8  # the NLL of the first codes (most dependent on h: nothing earlier to copy from) is logged apart


class MINet(StagedModule):
    """MI Net, one stage at a time (see the module docstring for the stages and every ✱ choice).

    Args:
        stage: vqvae, prior, content, seq2seq or graph_transformer.
        sample_rate, clip_seconds: 16 kHz, 4-s segments (§4). fps: keypoint (and roll) frames per second ✱.
        keypoint_layout: ``upper47`` (§3: 5 upper-body + 21 per hand).
        n_fft, hop, n_bins: the log-spectrogram (✱ 2048, 256, 1024).
        channels, code_dim, codebook_size: VQ-VAE widths (512, 64, 1024).
        encoder_bands, decoder_bands: MBR band counts ✱ (``[1, 1, 1, 1]`` = no MBR, Table 4).
        residual_blocks: 2. kernel ✱ 3. downsample ✱ 1. ema_decay ✱ 0.99. commitment_weight (beta) ✱ 0.25.
        dead_code_threshold ✱: EMA count under which a code is restarted (0 = never). kmeans_init: k-means codebook.
        gru_hidden, gru_layers: body encoder (32, 3).
        d_model, num_layers, num_heads: all transformers (128, 2, 8). dim_feedforward ✱ 512. dropout ✱ 0.1.
        content_arch: ``transformer`` (§3.3) or ``gru`` (Table 5). content_layers: content-encoder layers (2).
        num_notes, lowest_note: the roll's keys (88 from MIDI 21, the DataModules' ``roll``).
        seq2seq_hidden, seq2seq_layers ✱: the Seq2Seq baseline's decoder. gcn_blocks ✱: its ST-GCN blocks.
        lr ✱: Adam learning rate. temperature, top_k: ancestral sampling of codes.
        griffin_lim_iters ✱: Griffin-Lim iterations. eval_knn: KNN accuracy of h on the validation / test split
            (needs the ``instrument`` field; evaluation only). knn_k: its K (1, cosine).
        examples_per_batch: clips turned into audio by :meth:`generate_examples`. seed: of generation.
        vqvae_ckpt, prior_ckpt, content_ckpt, seq2seq_ckpt, graph_transformer_ckpt: stage checkpoints.
    """

    STAGES = MINET_STAGES
    MATCHING = ("sample_rate",)  # an earlier stage must have heard the same audio

    def __init__(
        self,
        stage: Stage = "vqvae",
        sample_rate: int = 16000,
        clip_seconds: float = 4.0,
        fps: float = 30.0,
        keypoint_layout: str = "upper47",
        n_fft: int = 2048,
        hop: int = 256,
        n_bins: int = 1024,
        channels: int = 512,
        code_dim: int = 64,
        codebook_size: int = 1024,
        encoder_bands: Sequence[int] = (16, 8, 4, 2),
        decoder_bands: Sequence[int] = (2, 4, 8, 16),
        residual_blocks: int = 2,
        kernel: int = 3,
        downsample: int = 1,
        ema_decay: float = 0.99,
        commitment_weight: float = 0.25,
        dead_code_threshold: float = 1.0,
        kmeans_init: bool = False,
        gru_hidden: int = 32,
        gru_layers: int = 3,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 8,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        content_arch: Literal["transformer", "gru"] = "transformer",
        content_layers: int = 2,
        num_notes: int = 88,
        lowest_note: int = 21,
        seq2seq_hidden: int = 256,
        seq2seq_layers: int = 2,
        gcn_blocks: Sequence[Sequence[int]] = STGCN_BLOCKS,
        lr: float = 3e-4,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        griffin_lim_iters: int = 32,
        eval_knn: bool = True,
        knn_k: int = 1,
        examples_per_batch: int = 2,
        seed: int = 0,
        vqvae_ckpt: Optional[str] = None,
        prior_ckpt: Optional[str] = None,
        content_ckpt: Optional[str] = None,
        seq2seq_ckpt: Optional[str] = None,
        graph_transformer_ckpt: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if n_bins > n_fft // 2 + 1:
            raise ValueError(f"MINet: n_bins {n_bins} exceeds the {n_fft // 2 + 1} bins of n_fft {n_fft}")
        self.build_stages(stage)
        self.val_loss = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})
        self.val_l2 = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})
        self.nll = nn.ModuleDict({split: TokenNLL(None) for split in ("val", "test")})
        self.nll_first = nn.ModuleDict({split: TokenNLL(None) for split in ("val", "test")})
        self.knn = nn.ModuleDict({split: KNNAccuracy(k=knn_k) for split in ("val", "test")})
        self.register_buffer("code_counts", torch.zeros(codebook_size), persistent=False)
        self.last_metrics: dict[str, dict[str, float]] = {}

    # ---------------------------------------------------------------------------------------------- networks
    @property
    def layout(self) -> Any:
        """The keypoint layout (:mod:`datamodules.layouts`) the body encoder reads."""
        from datamodules.layouts import get_layout

        return get_layout(self.hparams.keypoint_layout)

    def _body(self) -> BodyEncoder:
        hp = self.hparams
        names = self.layout.joints
        center = names.index("Neck") if "Neck" in names else None
        size = (
            (names.index("RShoulder"), names.index("LShoulder")) if {"RShoulder", "LShoulder"} <= set(names) else None
        )
        return BodyEncoder(self.layout.num_joints, hp.gru_hidden, hp.gru_layers, center=center, size_joints=size)

    @property
    def frame_rate(self) -> float:
        """Spectrogram frames (and, with ``downsample`` 1, codes) per second."""
        return self.hparams.sample_rate / self.hparams.hop

    @property
    def clip_samples(self) -> int:
        return int(round(self.hparams.clip_seconds * self.hparams.sample_rate))

    @property
    def clip_frames(self) -> int:
        """Spectrogram frames of one clip (centred STFT)."""
        return 1 + self.clip_samples // self.hparams.hop

    @property
    def clip_codes(self) -> int:
        return math.ceil(self.clip_frames / self.hparams.downsample)

    def _build(self, name: str) -> nn.Module:
        hp = self.hparams
        if name == "vqvae":
            return SpectrogramVQVAE(
                hp.n_bins,
                hp.channels,
                hp.code_dim,
                hp.codebook_size,
                tuple(hp.encoder_bands),
                tuple(hp.decoder_bands),
                hp.residual_blocks,
                hp.kernel,
                hp.downsample,
                hp.ema_decay,
                hp.commitment_weight,
                hp.dead_code_threshold,
                hp.kmeans_init,
            )
        common = dict(
            d_model=hp.d_model,
            num_layers=hp.num_layers,
            num_heads=hp.num_heads,
            dim_feedforward=hp.dim_feedforward,
            dropout=hp.dropout,
        )
        if name == "prior":
            return PosePrior(hp.codebook_size, self._body(), max_len=self.clip_codes, **common)
        if name == "content":
            return ContentPrior(
                hp.codebook_size,
                hp.num_notes,
                self._body(),
                arch=hp.content_arch,
                encoder_layers=hp.content_layers,
                max_len=self.clip_codes,
                **common,
            )
        if name == "seq2seq":
            return Seq2SeqBaseline(self._body(), hp.n_bins, hp.seq2seq_hidden, hp.seq2seq_layers)
        if name == "graph_transformer":
            return GraphTransformerBaseline(
                self.layout.num_joints,
                self.layout.edges,
                self.layout.center,
                hp.n_bins,
                hp.gcn_blocks,
                frame_rate=self.frame_rate,
                clip_seconds=hp.clip_seconds,
                **common,
            )
        raise KeyError(f"MINet: no network {name!r}")

    # ------------------------------------------------------------------------------------------ input checks
    def setup(self, stage: str) -> None:
        """Check the DataModule's sample rate and keypoint layout against the model's; load the earlier stages.

        Under ``fast_dev_run`` (a smoke test of the code path) a stage whose earlier checkpoint is absent runs on
        the untrained network, with a warning; any other ``fit`` needs the checkpoint (one error names it)."""
        self._check_datamodule()
        trainer = self._trainer
        if stage == "fit" and trainer is not None and trainer.fast_dev_run:
            self._load_stage_checkpoints(required=False)
            missing = [
                self.STAGES[n].ckpt for n in self.STAGES[self.stage].needs if self.STAGES[n].trains not in self._loaded
            ]
            if missing:
                rank_zero_warn(
                    f"MINet: fast_dev_run without {missing}: the {self.stage} stage runs on untrained networks"
                )
            return
        super().setup(stage)

    def _check_datamodule(self) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        options = getattr(datamodule, "options", None)
        if options is None:
            return
        name = type(datamodule).__name__
        hp = self.hparams
        rate = getattr(options, "sample_rate", None)
        if "audio" in getattr(options, "fields", ()) and rate is not None and int(rate) != int(hp.sample_rate):
            raise ValueError(
                f"MINet: {name} yields audio at {rate} Hz but the model's sample_rate is {hp.sample_rate}: "
                f"set data.init_args.sample_rate: {hp.sample_rate}"
            )
        layout = getattr(options, "keypoint_layout", None)
        if self.stage != "vqvae" and layout is not None and layout != self.layout.name:
            raise ValueError(
                f"MINet: {name} yields keypoint_layout {layout!r} but the model's is {self.layout.name!r}: "
                f"set data.init_args.keypoint_layout: {self.layout.name}"
            )

    @staticmethod
    def _where(batch: dict[str, Any]) -> str:
        meta = batch.get("meta") or []
        keys = [str(m.get("key") or m.get("video") or "?") for m in meta if isinstance(m, dict)]
        return f" (clips {keys[:4]})" if keys else ""

    def _keypoints(self, batch: dict[str, Any]) -> Tensor:
        if "keypoints" not in batch:
            raise KeyError(f"MINet ({self.stage}) needs batch field 'keypoints'; the batch has {sorted(batch)}")
        kp = torch.as_tensor(batch["keypoints"]).to(self.device).float()
        if kp.dim() != 4 or kp.shape[2] != self.layout.num_joints or kp.shape[3] < 2:
            raise ValueError(
                f"MINet: keypoints must be [B, T, {self.layout.num_joints}, C>=2] in layout {self.layout.name}, "
                f"got {tuple(kp.shape)}{self._where(batch)}"
            )
        if not torch.isfinite(kp).all():
            bad = (~torch.isfinite(kp)).flatten(1).any(1).nonzero().flatten().tolist()
            raise ValueError(
                f"MINet: keypoints contain NaN or Inf (batch rows {bad}){self._where(batch)}; "
                "interpolate or drop missing joints before the encoder (missing joints are confidence 0)"
            )
        return kp

    def spectrogram(self, audio: Tensor, where: str = "") -> Tensor:
        """Log-spectrogram ``[B, n_bins, frames]`` of ``[B, samples]`` audio at ``sample_rate``."""
        hp = self.hparams
        audio = torch.as_tensor(audio).to(self.device).float()
        if audio.dim() != 2:
            raise ValueError(f"MINet: audio must be [B, samples], got {tuple(audio.shape)}{where}")
        shortest = max(hp.n_fft // 2 + 1, hp.hop * hp.downsample)
        if audio.shape[1] < shortest:
            raise ValueError(
                f"MINet: clips of {audio.shape[1]} samples are shorter than the VQ-VAE's stride "
                f"({shortest} samples = {shortest / hp.sample_rate:.3f} s at {hp.sample_rate} Hz){where}"
            )
        if not torch.isfinite(audio).all():
            raise ValueError(f"MINet: audio contains NaN or Inf{where}")
        return log_spectrogram(audio, hp.n_fft, hp.hop, hp.n_bins)

    def _batch_spectrogram(self, batch: dict[str, Any]) -> Tensor:
        if "audio" not in batch:
            raise KeyError(f"MINet ({self.stage}) needs batch field 'audio'; the batch has {sorted(batch)}")
        return self.spectrogram(batch["audio"], self._where(batch))

    def notes(self, roll: Tensor, steps: int, where: str = "") -> Tensor:
        """Note index per step ``[B, steps]`` (0 rest, 1..num_notes) of a roll ``[B, num_notes, T]``, resampled to
        ``steps`` (nearest). A frame where two notes sound on from the previous frame is polyphonic: an error."""
        hp = self.hparams
        roll = torch.as_tensor(roll).to(self.device)
        if roll.dim() != 3 or roll.shape[1] != hp.num_notes:
            raise ValueError(
                f"MINet: content roll must be [B, {hp.num_notes}, T] (MIDI {hp.lowest_note}-"
                f"{hp.lowest_note + hp.num_notes - 1}), got {tuple(roll.shape)}{where}"
            )
        active = roll > 0
        previous = F.pad(active, (1, 0))[..., :-1]
        sustained = (active & previous).sum(1)  # [B, T]
        if bool((sustained > 1).any()):
            row, frame = (sustained > 1).nonzero()[0].tolist()
            pitches = (active[row, :, frame].nonzero().flatten() + hp.lowest_note).tolist()
            raise ValueError(
                f"MINet: content MIDI must be monophonic (§3.3); clip {row} holds notes {pitches} together at roll "
                f"frame {frame}{where}"
            )
        onsets = active & ~previous
        chosen = torch.where(onsets.any(1, keepdim=True), onsets, active)  # legato hand-over: the newer note
        index = torch.where(
            active.any(1), chosen.float().argmax(1) + 1, torch.zeros_like(active[:, 0], dtype=torch.long)
        )
        source = ((torch.arange(steps, device=roll.device) + 0.5) * roll.shape[-1] / steps).long()
        return index[:, source.clamp(max=roll.shape[-1] - 1)]

    def midi_notes(self, midi_path: str, start: float, steps: int) -> Tensor:
        """Note indices ``[steps]`` of the clip at ``start`` of a MIDI file (out-of-range notes are an error)."""
        from datamodules.midi import load_midi, midi_window
        from music.roll import midi_to_roll

        hp = self.hparams
        midi = load_midi(midi_path)
        low, high = hp.lowest_note, hp.lowest_note + hp.num_notes - 1
        outside = sorted(
            {n.pitch for i in midi.instruments if not i.is_drum for n in i.notes if not low <= n.pitch <= high}
        )
        if outside:
            raise ValueError(f"MINet: {midi_path} has notes {outside} outside the content range MIDI {low}-{high}")
        window = midi_window(midi, start, hp.clip_seconds, keep_sustained=True)
        frames = int(round(hp.clip_seconds * hp.fps))
        roll = torch.from_numpy(midi_to_roll(window, hp.fps, low=low, high=high, frames=frames, binary=True))
        return self.notes(roll[None].float(), steps, f" ({midi_path} at {start:.1f} s)")[0]

    # --------------------------------------------------------------------------------------------- inference
    def encode_pose(self, keypoints: Tensor) -> Tensor:
        """h ``[B, 2 * gru_hidden]`` of the stage's body encoder (Seq2Seq: its encoder state; Graph-Transformer: the
        ST-GCN output averaged over time and joints, §4.2)."""
        kp = self._keypoints({"keypoints": keypoints})
        net = self._generator_net()
        if isinstance(net, GraphTransformerBaseline):
            return net.features(kp).mean(1)
        return net.body(kp)

    def _generator_net(self) -> nn.Module:
        """The network that makes music in this configuration (the trained stage's, else the latest loaded)."""
        if self.stage != "vqvae":
            return self._need(self.trains)
        for name in ("content", "prior", "graph_transformer", "seq2seq"):
            if getattr(self, name) is not None:
                return getattr(self, name)
        raise RuntimeError(
            "MINet: a vqvae-stage model has no prior to generate with; give prior_ckpt (a trained prior stage) or "
            "use the prior stage's checkpoint"
        )

    def code_logits(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
        """(teacher-forced logits ``[B, T', K]``, the clip's codes ``[B, T']`` under the frozen VQ-VAE, h)."""
        vqvae = self._need("vqvae")
        kp = self._keypoints(batch)
        codes = vqvae.encode(self._batch_spectrogram(batch))
        net = self._need(self.trains)
        if self.stage == "content":
            if "roll" not in batch:
                raise KeyError(f"MINet (content) needs batch field 'roll'; the batch has {sorted(batch)}")
            notes = self.notes(batch["roll"], codes.shape[1], self._where(batch))
            h = net.body(kp)
            logits = net.decode(net.inputs(codes), net.memory(notes, h), h)[..., : self.hparams.codebook_size]
        else:
            h = net.body(kp)
            logits = net.decoder(net.inputs(codes), condition=h)[..., : self.hparams.codebook_size]
        return logits, codes, h

    @torch.no_grad()
    def sample_codes(
        self,
        keypoints: Tensor,
        notes: Optional[Tensor] = None,
        steps: Optional[int] = None,
        cached: bool = True,
        greedy: bool = False,
        generator: Optional[torch.Generator] = None,
        net: Optional[nn.Module] = None,
    ) -> Tensor:
        """Ancestral sampling (``temperature``, ``top_k``; or greedy) of ``steps`` codes ``[B, steps]`` per clip
        from the prior (or, with ``notes``, the content prior); ``cached=False`` recomputes every step from scratch
        (the reference the KV cache must equal). ``net``: the prior to sample (default :meth:`_generator_net`)."""
        net = net or self._generator_net()
        kp = self._keypoints({"keypoints": keypoints})
        steps = int(steps or self.clip_codes)
        if isinstance(net, ContentPrior):
            if notes is None:
                raise ValueError("MINet: the content prior samples with notes (the clip's MIDI); pass notes / --midi")
            _, state = net.start(kp, notes.to(self.device), cached=cached)
        elif isinstance(net, PosePrior):
            _, state = net.start(kp, cached=cached)
        else:
            raise RuntimeError(f"MINet: {type(net).__name__} does not sample codes")
        k = self.hparams.codebook_size
        result = sample(
            net.step,
            state,
            kp.shape[0],
            sos=k,
            eos=k,  # never drawn: the step's logits cover the K codes only
            pad=0,
            max_len=steps,
            temperature=self.hparams.temperature,
            top_k=self.hparams.top_k,
            greedy=greedy,
            generator=generator,
            device=kp.device,
        )
        return result.tokens

    @torch.no_grad()
    def generate_spectrograms(
        self,
        keypoints: Tensor,
        notes: Optional[Tensor] = None,
        generator: Optional[torch.Generator] = None,
        net: Optional[nn.Module] = None,
    ) -> Tensor:
        """Log-spectrograms ``[B, n_bins, clip_frames]`` for clips' keypoints: sampled codes decoded by the VQ-VAE,
        or the baseline's free-running regression (``net``: default :meth:`_generator_net`)."""
        net = net or self._generator_net()
        if isinstance(net, (Seq2SeqBaseline, GraphTransformerBaseline)):
            return net.generate(self._keypoints({"keypoints": keypoints}), self.clip_frames)
        codes = self.sample_codes(keypoints, notes, generator=generator, net=net)
        return self._need("vqvae").decode(codes, self.clip_frames)

    def waveform(self, spec: np.ndarray | Tensor, samples: Optional[int] = None) -> np.ndarray:
        """Audio of one log-spectrogram ``[n_bins, T]`` (Griffin-Lim; override for another vocoder)."""
        hp = self.hparams
        spec = spec.detach().float().cpu().numpy() if isinstance(spec, Tensor) else np.asarray(spec, np.float32)
        return griffin_lim(spec, hp.n_fft, hp.hop, hp.griffin_lim_iters, samples or self.clip_samples)

    # ---------------------------------------------------------------------------------------------- training
    def _losses(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """The stage's loss and what it logs."""
        if self.stage == "vqvae":
            spec = self._batch_spectrogram(batch)
            recon, q = self.vqvae(spec)
            l2 = F.mse_loss(recon, spec)
            return {"loss": l2 + q.commitment_loss, "l2": l2, "commitment": q.commitment_loss,
                    "perplexity": q.perplexity, "codes": q.codes}  # fmt: skip
        if self.stage in CODE_STAGES:
            logits, codes, h = self.code_logits(batch)
            loss = F.cross_entropy(logits.transpose(1, 2), codes)
            acc = (logits.argmax(-1) == codes).float().mean()
            return {"loss": loss, "acc": acc, "logits": logits, "codes": codes, "h": h}
        spec = self._batch_spectrogram(batch)
        net = self._need(self.trains)
        kp = self._keypoints(batch)
        pred = net(kp, spec)
        l2 = F.mse_loss(pred, spec)
        h = net.features(kp).mean(1) if isinstance(net, GraphTransformerBaseline) else net.body(kp)
        return {"loss": l2, "l2": l2, "h": h}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        out = self._losses(batch)
        size = int(torch.as_tensor(batch.get("audio", batch.get("keypoints"))).shape[0])
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=size)
        for name in ("l2", "commitment", "perplexity", "acc"):
            if name in out:
                self.log(f"train/{name}", out[name], batch_size=size)
        return out["loss"]

    def _eval_step(self, batch: dict[str, Any], split: str) -> None:
        out = self._losses(batch)
        size = int(torch.as_tensor(batch["audio"]).shape[0])
        self.val_loss[split].update(out["loss"].detach(), weight=size)
        self.log(f"{split}/loss", self.val_loss[split], prog_bar=split == "val", on_epoch=True, batch_size=size)
        if "l2" in out:
            self.val_l2[split].update(out["l2"].detach(), weight=size)
            self.log(f"{split}/l2", self.val_l2[split], on_epoch=True, batch_size=size)
        if self.stage == "vqvae":
            self.code_counts += torch.bincount(out["codes"].flatten(), minlength=self.hparams.codebook_size).float()
            self.log(f"{split}/commitment", out["commitment"], on_epoch=True, batch_size=size)
            self.log(f"{split}/perplexity", out["perplexity"], on_epoch=True, batch_size=size)
        if self.stage in CODE_STAGES:
            logits, codes = out["logits"], out["codes"]
            self.nll[split].update(logits, codes)
            first = torch.zeros_like(codes, dtype=torch.bool)
            first[:, :FIRST_CODES] = True
            self.nll_first[split].update(logits, codes, first)
            self.log(f"{split}/acc", out["acc"], on_epoch=True, batch_size=size)
        if "h" in out and self.hparams.eval_knn:
            if "instrument" not in batch:
                raise KeyError(
                    f"MINet: eval_knn needs batch field 'instrument' (evaluation only); the batch has {sorted(batch)}: "
                    "add instrument to data.init_args.fields or set model.init_args.eval_knn: false"
                )
            labels = torch.as_tensor(batch["instrument"], device=self.device).view(-1)
            self.knn[split].update(out["h"].detach(), labels)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, split: str) -> None:
        results: dict[str, float] = {}
        if self.stage == "vqvae":
            used = self.code_counts > 0
            if bool(used.any()):
                results["codebook_usage"] = float(used.float().mean())
                probs = self.code_counts / self.code_counts.sum()
                results["code_perplexity"] = float(torch.exp(-(probs[used] * probs[used].log()).sum()))
            self.code_counts.zero_()
        if self.stage in CODE_STAGES and int(self.nll[split].count) > 0:
            results["nll"] = float(self.nll[split].compute()["nll"])
            results["nll_first8"] = float(self.nll_first[split].compute()["nll"])
        self.nll[split].reset()
        self.nll_first[split].reset()
        knn = self.knn[split]
        if knn.features and sum(len(f) for f in knn.features) > self.hparams.knn_k:
            results["knn"] = float(knn.compute())
        sanity = self._trainer is not None and self.trainer.sanity_checking
        if knn.features and not sanity:
            self.log_embedding(split, torch.cat(list(knn.features)), torch.cat(list(knn.labels)))
        knn.reset()
        if sanity:
            return
        for name, value in results.items():
            self.log(f"{split}/{name}", value, prog_bar=name in ("nll", "knn"))
        self.last_metrics[split] = results

    def log_embedding(self, split: str, features: Tensor, labels: Tensor, writer: Any = None) -> None:
        """h of every evaluated clip to TensorBoard's embedding projector, labelled by instrument (Fig. 7); a no-op
        without a TensorBoard logger (``writer``: a ``SummaryWriter``, default the trainer's)."""
        from datamodules.instruments import INSTRUMENT_CLASSES

        if writer is None:
            logger = self.logger if self._trainer is not None else None
            writer = getattr(logger, "experiment", None) if type(logger).__name__ == "TensorBoardLogger" else None
        if writer is None or not hasattr(writer, "add_embedding"):
            return
        names = [INSTRUMENT_CLASSES[k].name if 0 <= k < len(INSTRUMENT_CLASSES) else str(k) for k in labels.tolist()]
        step = self.global_step if self._trainer is not None else 0
        writer.add_embedding(features.float().cpu(), metadata=names, tag=f"{split}/h", global_step=step)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        net = self._need(self.trains)
        return torch.optim.Adam(net.parameters(), lr=self.hparams.lr)

    # -------------------------------------------------------------------------------------------- generation
    def _can_generate(self) -> bool:
        try:
            self._generator_net()
        except RuntimeError:
            return False
        return True

    @torch.no_grad()
    def generate_examples(self, batch: dict[str, Any]) -> list[Example]:
        """Audio (Griffin-Lim) of the first ``examples_per_batch`` clips: the VQ-VAE's reconstruction (vqvae stage)
        or a sample for the clip's pose (and MIDI), beside the clip's own audio (Fig. 6)."""
        n = min(int(self.hparams.examples_per_batch), int(torch.as_tensor(batch["audio"]).shape[0]))
        if n == 0:
            return []
        was_training = self.training
        self.eval()
        try:
            generator = torch.Generator(device=self.device).manual_seed(int(self.hparams.seed))
            if self.stage == "vqvae":
                specs, _ = self.vqvae(self._batch_spectrogram(batch)[:n])
                kind = "reconstruction"
            else:
                notes = None
                if self.stage == "content":
                    notes = self.notes(batch["roll"][:n], self.clip_codes, self._where(batch))
                specs = self.generate_spectrograms(batch["keypoints"][:n], notes, generator)
                kind = "sample"
        finally:
            self.train(was_training)
        meta = batch.get("meta") or [{}] * n
        rate = int(self.hparams.sample_rate)
        examples = []
        for i in range(n):
            name = str((meta[i] or {}).get("key") or f"clip{i}").replace(" ", "_")
            audio = self.waveform(specs[i], int(torch.as_tensor(batch["audio"]).shape[1]))
            examples.append(Example(f"{name}/{kind}", audio=audio, sample_rate=rate))
            truth = torch.as_tensor(batch["audio"][i]).float().cpu().numpy()
            examples.append(Example(f"{name}/truth", audio=truth, sample_rate=rate, role="reference"))
        return examples

    @torch.no_grad()
    def generate_from_video(
        self, video: str, keypoints: Optional[str] = None, midi: Optional[str] = None, seed: Optional[int] = None
    ) -> Example:
        """Soundtrack of a whole video: keypoints (given, or extracted offline) in ``clip_seconds`` windows covering
        it (:mod:`models.video_windows`) -> h -> sampled codes (content stage: with the window's notes of ``midi``)
        -> decoded log-spectrogram -> Griffin-Lim -> windows placed end to end and cut at the video's end. Seeded
        (``seed``, default the ``seed`` hyper-parameter): the same video gives the same audio. A content model given
        no MIDI samples the unconditioned prior when its checkpoint holds one, else it is an error."""
        from models.video_windows import keypoint_windows

        self.eval()
        net = self._generator_net()
        hp = self.hparams
        windows = keypoint_windows(video, float(hp.clip_seconds), float(hp.fps), self.layout.name, keypoints)
        inputs = windows.inputs
        detected = (
            (inputs[..., 2] > 0).flatten(1).any(1)
            if inputs.shape[-1] > 2
            else torch.ones(len(inputs), dtype=torch.bool)
        )
        if not bool(detected.all()):
            k = int((~detected).nonzero()[0])
            raise ValueError(
                f"MINet: no person in {video} from {windows.start(k):.1f} s to {windows.start(k + 1):.1f} s "
                f"(window {k} of {windows.count} has no detected keypoint)"
            )
        notes = None
        if isinstance(net, ContentPrior) and midi is None:
            if self.prior is None:
                raise ValueError(f"MINet: the content stage generates from {video} and its MIDI: pass --midi FILE")
            log.warning("MINet: no MIDI for %s; sampling the unconditioned prior instead of the content model", video)
            net = self.prior
        if isinstance(net, ContentPrior):
            notes = torch.stack(
                [self.midi_notes(midi, windows.start(k), self.clip_codes) for k in range(windows.count)]
            )
        generator = torch.Generator(device=self.device).manual_seed(int(hp.seed if seed is None else seed))
        specs = self.generate_spectrograms(inputs.to(self.device), notes, generator, net)
        audio = np.concatenate([self.waveform(spec) for spec in specs])
        audio = audio[: int(round(windows.duration * hp.sample_rate))]
        return Example(Path(video).stem, audio=audio, sample_rate=int(hp.sample_rate), extra={"windows": windows.count})


__all__ = ["MINET_STAGES", "MINet"]
