"""MI Net's networks (Su, Liu & Shlizerman 2021): the multi-band residual VQ-VAE over log-spectrograms (§3.1), the
bi-GRU body-movement encoder and the pose-conditioned prior over the codes (§3.2), the content-conditioned prior
(§3.3) and the two baselines of §4 (RNN Seq2Seq and Graph-Transformer, both regressing log-spectrograms).

Every network takes log-spectrograms as ``[B, F, T]`` (bins as channels), keypoints as ``[B, T, J, C]`` (x, y[,
confidence]) and codes as long ``[B, T']``. The choices the paper leaves open are documented in
:class:`models.mi_net.model.MINet`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.nn.gru_decoder import GRUDecoder
from models.nn.multiband import MultiBandResidual
from models.nn.pose_normalize import body_centred
from models.nn.residual1d import Residual1d
from models.nn.stgcn import STGCN, STGCN_BLOCKS
from models.nn.transformer_decoder import TransformerDecoder, sinusoidal_encoding, sinusoidal_positions
from models.nn.vector_quantizer import Quantized, VectorQuantizer


# ------------------------------------------------------------------------------------------------------- VQ-VAE
def _mbr(channels: int, bands: int, kernel: int) -> MultiBandResidual:
    """MI Net's MBR block: per band conv-ReLU-conv (no normalisation), concatenated and added to the input."""
    return MultiBandResidual(channels, bands, kernel=kernel, norm=False, activation="relu", band_residual=False)


class SpectrogramVQVAE(nn.Module):
    """Multi-band residual 1-D convolutional VQ-VAE (§3.1, Fig. 3).

    Encoder: Conv1d(bins -> channels) [-> strided Conv1d when ``downsample`` > 1] -> one MBR block per entry of
    ``encoder_bands`` -> ``residual_blocks`` residual blocks -> ReLU -> Conv1d(channels -> code_dim); nearest code of
    an EMA codebook (``codebook_size`` x ``code_dim``); the decoder mirrors the encoder (``decoder_bands``).

    Args:
        n_bins: frequency bins of the input. channels: width of every MBR / residual convolution (512).
        code_dim: latent width D (64). codebook_size: K (1024).
        encoder_bands, decoder_bands: bands of each MBR block, in order (many -> few, then few -> many).
        residual_blocks: residual blocks after the MBR blocks (2). kernel: temporal kernel of the convolutions.
        downsample: temporal stride of the latent (1 or even; one strided convolution / transposed convolution).
        decay, commitment_weight, dead_code_threshold, kmeans_init: the :class:`VectorQuantizer`'s.
    """

    def __init__(
        self,
        n_bins: int = 1024,
        channels: int = 512,
        code_dim: int = 64,
        codebook_size: int = 1024,
        encoder_bands: Sequence[int] = (16, 8, 4, 2),
        decoder_bands: Sequence[int] = (2, 4, 8, 16),
        residual_blocks: int = 2,
        kernel: int = 3,
        downsample: int = 1,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        dead_code_threshold: float = 1.0,
        kmeans_init: bool = False,
    ) -> None:
        super().__init__()
        if downsample < 1 or (downsample > 1 and downsample % 2):
            raise ValueError(f"SpectrogramVQVAE: downsample must be 1 or even, got {downsample}")
        self.n_bins = n_bins
        self.downsample = downsample
        pad = kernel // 2
        down: list[nn.Module] = []
        up: list[nn.Module] = []
        if downsample > 1:
            down = [nn.Conv1d(channels, channels, 2 * downsample, stride=downsample, padding=downsample // 2)]
            up = [nn.ConvTranspose1d(channels, channels, 2 * downsample, stride=downsample, padding=downsample // 2)]
        self.encoder = nn.Sequential(
            nn.Conv1d(n_bins, channels, kernel, padding=pad),
            *down,
            *(_mbr(channels, b, kernel) for b in encoder_bands),
            *(Residual1d(channels, kernel=kernel) for _ in range(residual_blocks)),
            nn.ReLU(),
            nn.Conv1d(channels, code_dim, kernel, padding=pad),
        )
        self.quantizer = VectorQuantizer(
            codebook_size,
            code_dim,
            decay=decay,
            commitment_weight=commitment_weight,
            dead_code_threshold=dead_code_threshold,
            kmeans_init=kmeans_init,
        )
        self.decoder = nn.Sequential(
            nn.Conv1d(code_dim, channels, kernel, padding=pad),
            *(Residual1d(channels, kernel=kernel) for _ in range(residual_blocks)),
            *(_mbr(channels, b, kernel) for b in decoder_bands),
            *up,
            nn.ReLU(),
            nn.Conv1d(channels, n_bins, kernel, padding=pad),
        )

    def code_frames(self, frames: int) -> int:
        """Latent steps of a spectrogram of ``frames`` frames."""
        return math.ceil(frames / self.downsample)

    def _pad(self, spec: Tensor) -> Tensor:
        if spec.dim() != 3 or spec.shape[1] != self.n_bins:
            raise ValueError(f"SpectrogramVQVAE expects [B, {self.n_bins}, T] spectrograms, got {tuple(spec.shape)}")
        extra = -spec.shape[-1] % self.downsample
        return F.pad(spec, (0, extra), mode="replicate") if extra else spec

    def encode_latent(self, spec: Tensor) -> Tensor:
        """Continuous latent ``[B, T', D]`` before quantisation (E(S))."""
        return self.encoder(self._pad(spec)).transpose(1, 2)

    def forward(self, spec: Tensor) -> tuple[Tensor, Quantized]:
        """Reconstruction ``[B, F, T]`` and the quantiser's output (codes, commitment loss, perplexity)."""
        q = self.quantizer(self.encode_latent(spec))
        recon = self.decoder(q.quantized.transpose(1, 2))
        return recon[..., : spec.shape[-1]], q

    @torch.no_grad()
    def encode(self, spec: Tensor) -> Tensor:
        """Codes ``[B, T']`` (long) of a spectrogram; never updates the codebook."""
        return self.quantizer.encode(self.encode_latent(spec))

    def decode(self, codes: Tensor, frames: Optional[int] = None) -> Tensor:
        """Spectrogram ``[B, F, T' * downsample]`` (cut to ``frames``) of codes ``[B, T']``."""
        spec = self.decoder(self.quantizer.decode(codes).transpose(1, 2))
        return spec if frames is None else spec[..., :frames]


# ------------------------------------------------------------------------------------------------ body encoder
class BodyEncoder(nn.Module):
    """Body-movement encoder E_b (§3.2): keypoints -> body-centred x, y of every joint -> multi-layer bi-GRU; h is
    the last layer's final hidden state of both directions, concatenated (``[B, 2 * hidden]``).

    Args:
        num_joints: joints of the layout. hidden: GRU width per direction (32). layers: stacked GRU layers (3).
        center: joint at the origin of each frame (None: the mean of detected joints).
        size_joints: two joints whose median distance is the unit (None: the joints' RMS spread).
        dropout: between GRU layers.
    """

    def __init__(
        self,
        num_joints: int,
        hidden: int = 32,
        layers: int = 3,
        center: Optional[int] = None,
        size_joints: Optional[tuple[int, int]] = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.center = center
        self.size_joints = size_joints
        self.out_dim = 2 * hidden
        self.gru = nn.GRU(2 * num_joints, hidden, layers, batch_first=True, bidirectional=True, dropout=dropout)

    def sequence(self, keypoints: Tensor) -> Tensor:
        """Per-frame encoder input ``[B, T, 2 J]`` (body-centred x, y; missing joints at zero)."""
        if keypoints.dim() != 4 or keypoints.shape[2] != self.num_joints or keypoints.shape[3] < 2:
            raise ValueError(
                f"BodyEncoder expects keypoints [B, T, {self.num_joints}, C >= 2], got {tuple(keypoints.shape)}"
            )
        centred = body_centred(keypoints.float(), self.center, self.size_joints)[..., :2]
        return centred.flatten(2)

    def forward(self, keypoints: Tensor) -> Tensor:
        """h ``[B, 2 * hidden]``."""
        _, h_n = self.gru(self.sequence(keypoints))
        return torch.cat([h_n[-2], h_n[-1]], dim=-1)  # last layer: forward, backward


# ---------------------------------------------------------------------------------------------------- priors
def _drop_sos(logits: Tensor, codebook_size: int) -> Tensor:
    """Logits over the K codes (the decoder's extra SOS row is never a target)."""
    return logits[..., :codebook_size]


class PosePrior(nn.Module):
    """GPT-like prior over VQ codes conditioned on h (§3.2, Fig. 4): a decoder-only transformer whose every input
    step is joined with h; the body encoder is trained jointly with it. Token ``K`` is the start token.

    Args:
        codebook_size: K. body: the body encoder. d_model, num_layers, num_heads, dim_feedforward, dropout: the
        transformer (128, 2, 8). max_len: longest code sequence.
    """

    def __init__(
        self,
        codebook_size: int,
        body: BodyEncoder,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 8,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        max_len: int = 256,
    ) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.sos = codebook_size
        self.max_len = max_len
        self.body = body
        self.decoder = TransformerDecoder(
            codebook_size + 1,
            d_model,
            num_layers,
            num_heads,
            dim_feedforward,
            dropout,
            max_len=max_len,
            cross_attention=False,
            condition_dim=body.out_dim,
        )

    def inputs(self, codes: Tensor) -> Tensor:
        """Decoder inputs: SOS then every code but the last."""
        sos = torch.full_like(codes[:, :1], self.sos)
        return torch.cat([sos, codes[:, :-1]], dim=1)

    def forward(self, keypoints: Tensor, codes: Tensor) -> Tensor:
        """Teacher-forced logits ``[B, T', K]`` of ``codes`` ``[B, T']``."""
        h = self.body(keypoints)
        return _drop_sos(self.decoder(self.inputs(codes), condition=h), self.codebook_size)

    def start(self, keypoints: Tensor, cached: bool = True) -> tuple[Tensor, dict[str, Any]]:
        """(h, the decoding state for :meth:`step`)."""
        h = self.body(keypoints)
        if cached:
            return h, {"kv": self.decoder.init_cache(condition=h)}
        return h, {"history": torch.zeros(h.shape[0], 0, dtype=torch.long, device=h.device), "h": h}

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        """Next-code logits ``[N, K]`` after ``tokens`` [N] (KV cache, or the whole history recomputed)."""
        if "kv" in state:
            logits, kv = self.decoder.step(tokens[:, None], state["kv"])
            return _drop_sos(logits[:, -1], self.codebook_size), {"kv": kv}
        history = torch.cat([state["history"], tokens[:, None]], dim=1)
        logits = self.decoder(history, condition=state["h"])[:, -1]
        return _drop_sos(logits, self.codebook_size), dict(state, history=history)


class ContentPrior(nn.Module):
    """Content-conditioned prior (§3.3, Fig. 5): note indices (0 = rest, 1..N) embedded and joined with h -> content
    encoder -> Linear = C (LayerNorm, then positions); the decoder is the prior plus cross-attention to C after the
    self-attention. ``arch="gru"`` is Table 5's GRU-Seq2Seq: a bi-GRU content encoder and a GRU decoder with
    attention (h reaches it through C).

    Args:
        codebook_size: K. num_notes: N (the roll's keys). body: the body encoder. arch: ``transformer`` or ``gru``.
        d_model, num_layers, num_heads, dim_feedforward, dropout: both transformers (128, 2, 8).
        encoder_layers: content-encoder layers (2). max_len: longest code sequence.
    """

    def __init__(
        self,
        codebook_size: int,
        num_notes: int,
        body: BodyEncoder,
        arch: str = "transformer",
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 8,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        encoder_layers: int = 2,
        max_len: int = 256,
    ) -> None:
        super().__init__()
        if arch not in ("transformer", "gru"):
            raise ValueError(f"ContentPrior: arch must be transformer or gru, got {arch!r}")
        self.arch = arch
        self.codebook_size = codebook_size
        self.num_notes = num_notes
        self.sos = codebook_size
        self.d_model = d_model
        self.max_len = max_len
        self.body = body
        self.note_embed = nn.Embedding(num_notes + 1, d_model)
        nn.init.normal_(self.note_embed.weight, 0.0, d_model**-0.5)
        self.join = nn.Linear(d_model + body.out_dim, d_model)
        if arch == "transformer":
            layer = nn.TransformerEncoderLayer(
                d_model, num_heads, dim_feedforward, dropout, activation="relu", batch_first=True
            )
            self.encoder: nn.Module = nn.TransformerEncoder(layer, encoder_layers, enable_nested_tensor=False)
            self.decoder: nn.Module = TransformerDecoder(
                codebook_size + 1,
                d_model,
                num_layers,
                num_heads,
                dim_feedforward,
                dropout,
                max_len=max_len,
                cross_attention=True,
                condition_dim=body.out_dim,
            )
        else:
            self.encoder = nn.GRU(d_model, d_model // 2, encoder_layers, batch_first=True, bidirectional=True)
            self.decoder = GRUDecoder(codebook_size + 1, d_model, num_layers, dropout)
        self.to_c = nn.Linear(d_model, d_model)
        self.memory_norm = nn.LayerNorm(d_model)

    def memory(self, notes: Tensor, h: Tensor) -> Tensor:
        """C ``[B, T_c, d_model]`` of note indices ``[B, T_c]`` and h ``[B, H]``."""
        x = self.note_embed(notes) * math.sqrt(self.d_model)
        x = self.join(torch.cat([x, h[:, None, :].expand(-1, x.shape[1], -1)], dim=-1))
        if self.arch == "transformer":
            x = self.encoder(x + sinusoidal_positions(x.shape[1], self.d_model, device=x.device))
        else:
            x, _ = self.encoder(x)
        c = self.memory_norm(self.to_c(x))
        if self.arch == "transformer":  # content step t and code t are the same moment: same positions
            c = c + sinusoidal_positions(c.shape[1], self.d_model, device=c.device)
        return c

    def inputs(self, codes: Tensor) -> Tensor:
        return torch.cat([torch.full_like(codes[:, :1], self.sos), codes[:, :-1]], dim=1)

    def decode(self, tokens: Tensor, memory: Tensor, h: Tensor) -> Tensor:
        """Logits ``[B, L, K + 1]`` of decoder inputs ``tokens`` [B, L] given C and h."""
        if self.arch == "transformer":
            return self.decoder(tokens, memory, condition=h)
        return self.decoder(tokens, memory)

    def forward(self, keypoints: Tensor, notes: Tensor, codes: Tensor) -> Tensor:
        """Teacher-forced logits ``[B, T', K]``."""
        h = self.body(keypoints)
        return _drop_sos(self.decode(self.inputs(codes), self.memory(notes, h), h), self.codebook_size)

    def start(self, keypoints: Tensor, notes: Tensor, cached: bool = True) -> tuple[Tensor, dict[str, Any]]:
        h = self.body(keypoints)
        memory = self.memory(notes, h)
        if cached:
            if self.arch == "transformer":
                return h, {"kv": self.decoder.init_cache(memory, condition=h)}
            return h, {"kv": self.decoder.init_cache(memory)}
        history = torch.zeros(h.shape[0], 0, dtype=torch.long, device=h.device)
        return h, {"history": history, "h": h, "memory": memory}

    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        if "kv" in state:
            logits, kv = self.decoder.step(tokens[:, None], state["kv"])
            return _drop_sos(logits[:, -1], self.codebook_size), {"kv": kv}
        history = torch.cat([state["history"], tokens[:, None]], dim=1)
        logits = self.decode(history, state["memory"], state["h"])[:, -1]
        return _drop_sos(logits, self.codebook_size), dict(state, history=history)


# ------------------------------------------------------------------------------------------------- baselines
class Seq2SeqBaseline(nn.Module):
    """RNN Seq2Seq baseline (§4 (i)): the body encoder's final state h initialises a GRU decoder that regresses the
    log-spectrogram frame by frame from the previous frame (teacher forcing in training, its own output at
    generation) and h.

    Args:
        body: the encoder (MI Net's). n_bins: F. hidden: decoder width. layers: decoder GRU layers.
    """

    def __init__(self, body: BodyEncoder, n_bins: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.body = body
        self.layers = layers
        self.hidden = hidden
        self.frame_in = nn.Linear(n_bins, hidden)
        self.init_state = nn.Linear(body.out_dim, layers * hidden)
        self.gru = nn.GRU(hidden + body.out_dim, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, n_bins)

    def _state(self, h: Tensor) -> Tensor:
        return torch.tanh(self.init_state(h)).view(h.shape[0], self.layers, self.hidden).transpose(0, 1).contiguous()

    def forward(self, keypoints: Tensor, spec: Tensor) -> Tensor:
        """Teacher-forced prediction ``[B, F, T]`` of ``spec`` ``[B, F, T]``."""
        h = self.body(keypoints)
        previous = F.pad(spec.transpose(1, 2), (0, 0, 1, 0))[:, :-1]  # zero frame, then frames 0..T-2
        x = torch.cat([self.frame_in(previous), h[:, None].expand(-1, previous.shape[1], -1)], dim=-1)
        out, _ = self.gru(x, self._state(h))
        return self.out(out).transpose(1, 2)

    @torch.no_grad()
    def generate(self, keypoints: Tensor, frames: int) -> Tensor:
        """Free-running spectrogram ``[B, F, frames]``."""
        h = self.body(keypoints)
        state = self._state(h)
        frame = torch.zeros(h.shape[0], 1, self.out.out_features, device=h.device)
        outputs = []
        for _ in range(frames):
            out, state = self.gru(torch.cat([self.frame_in(frame), h[:, None]], dim=-1), state)
            frame = self.out(out)
            outputs.append(frame)
        return torch.cat(outputs, dim=1).transpose(1, 2)


class GraphTransformerBaseline(nn.Module):
    """Graph-Transformer baseline (§4 (ii)): an ST-GCN pose memory (LayerNorm, sinusoidal time positions) and a
    causal transformer decoder (self-attention, cross-attention, feed-forward) regressing the log-spectrogram frame
    by frame from the previous frame (Foley Music's structure with spectrogram frames instead of MIDI events).

    Args:
        num_joints, edges, center: the skeleton graph. n_bins: F. blocks: ST-GCN ``(in, out, stride)`` blocks.
        d_model, num_layers, num_heads, dim_feedforward, dropout: the decoder (128, 2, 8).
        frame_rate: spectrogram frames per second (positions are in frames). clip_seconds: the clip's length.
    """

    def __init__(
        self,
        num_joints: int,
        edges: Sequence[tuple[int, int]],
        center: int,
        n_bins: int,
        blocks: Sequence[Sequence[int]] = STGCN_BLOCKS,
        d_model: int = 128,
        num_layers: int = 2,
        num_heads: int = 8,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        frame_rate: float = 62.5,
        clip_seconds: float = 4.0,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.frame_rate = frame_rate
        self.clip_seconds = clip_seconds
        self.gcn = STGCN(
            2, num_joints, edges, center=center, out_dim=d_model, blocks=[tuple(b) for b in blocks], dropout=0.0
        )
        self.memory_norm = nn.LayerNorm(d_model)
        self.frame_in = nn.Linear(n_bins, d_model)
        layer = nn.TransformerDecoderLayer(
            d_model, num_heads, dim_feedforward, dropout, activation="relu", batch_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, num_layers)
        self.out = nn.Linear(d_model, n_bins)

    def features(self, keypoints: Tensor) -> Tensor:
        """ST-GCN output ``[B, S, d_model]`` (already averaged over joints)."""
        return self.gcn(keypoints[..., :2].float())

    def memory(self, keypoints: Tensor) -> Tensor:
        feats = self.memory_norm(self.features(keypoints))
        seconds = torch.arange(feats.shape[1], device=feats.device) * (self.clip_seconds / feats.shape[1])
        return feats + sinusoidal_encoding(seconds * self.frame_rate, self.d_model)

    def _decode(self, previous: Tensor, memory: Tensor) -> Tensor:
        length = previous.shape[1]
        x = self.frame_in(previous) + sinusoidal_positions(length, self.d_model, device=previous.device)
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=previous.device)
        return self.out(self.decoder(x, memory, tgt_mask=mask, tgt_is_causal=True))

    def forward(self, keypoints: Tensor, spec: Tensor) -> Tensor:
        """Teacher-forced prediction ``[B, F, T]`` of ``spec``."""
        previous = F.pad(spec.transpose(1, 2), (0, 0, 1, 0))[:, :-1]
        return self._decode(previous, self.memory(keypoints)).transpose(1, 2)

    @torch.no_grad()
    def generate(self, keypoints: Tensor, frames: int) -> Tensor:
        """Free-running spectrogram ``[B, F, frames]``."""
        memory = self.memory(keypoints)
        previous = torch.zeros(memory.shape[0], 1, self.out.out_features, device=memory.device)
        for _ in range(frames):
            nxt = self._decode(previous, memory)[:, -1:]
            previous = torch.cat([previous, nxt], dim=1)
        return previous[:, 1:].transpose(1, 2)


__all__ = [
    "BodyEncoder",
    "ContentPrior",
    "GraphTransformerBaseline",
    "PosePrior",
    "Seq2SeqBaseline",
    "SpectrogramVQVAE",
]
