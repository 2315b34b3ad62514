"""RhythmicNet's networks (Su, Liu & Shlizerman, NeurIPS 2021, §3); the LightningModule is :mod:`.model`.

* :class:`Video2Rhythm` (§3, Video2Rhythm): body keypoints -> per-frame beat logits. Frame-to-frame keypoint motion
  (x, y differences / ``displacement_scale`` px) -> ST-GCN (joint mean) -> pose features ``P`` -> transformer encoder
  with learned absolute positions, relative positions and the self-similarity bias of ``P``
  (:class:`models.nn.self_similarity.SelfSimilarityBias`: ``softmax((QKᵀ + Ŝ + R) / √d_k)``) -> Linear -> one logit
  per frame.
* :class:`Rhythm2Drum` (§3, Rhythm2Drum): a rhythm (taps on a 16th grid) -> drum words (:mod:`.words`) by an
  encoder-decoder transformer with sinusoidal positions, plus a U-Net that turns the hits into velocities and offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor, nn

from models.nn.self_similarity import SelfSimilarityBias
from models.nn.stgcn import STGCN
from models.nn.transformer_decoder import TransformerDecoder, sinusoidal_positions
from models.nn.transformer_encoder import TransformerEncoder
from models.nn.unet import UNet
from models.rhythmic_net.words import NUM_WORDS, SILENCE

# ST-GCN widths of the released code: 4 blocks of 32 then 6 of 64, all stride 1
STGCN_CHANNELS: tuple[int, ...] = (32, 32, 32, 32, 64, 64, 64, 64, 64, 64)


def keypoint_motion(keypoints: Tensor, scale: float) -> Tensor:
    """(x, y) of ``keypoints`` [B, T, V, C>=2] -> frame differences ``[B, T, V, 2] / scale`` (first frame: 0)."""
    xy = keypoints[..., :2]
    motion = torch.zeros_like(xy)
    motion[:, 1:] = xy[:, 1:] - xy[:, :-1]
    return motion / scale


class Video2Rhythm(nn.Module):
    """Keypoints ``[B, T, V, C]`` (T >= 2) -> beat logits ``[B, T]``.

    Args:
        num_joints, edges, center: the skeleton graph (``datamodules.layouts`` ``rhythmic17``).
        stgcn_channels: widths of the ST-GCN blocks (stride 1). temporal_kernel: their temporal convolution.
        strategy: ST-GCN partition strategy. edge_importance: learn the edge-importance masks.
        d_model, num_layers, num_heads, dim_feedforward, dropout: the encoder (pre-LN, GELU).
        max_frames: frames of the learned absolute position table (the longest window).
        max_relative_position: relative distances learned per head (0: none, an ablation).
        ssm_bias: add the self-similarity bias (False: an ablation). ssm_kernel: its convolution size.
        displacement_scale: pixels per unit of the motion input.
    """

    def __init__(
        self,
        num_joints: int,
        edges: Sequence[tuple[int, int]],
        center: int = 1,
        stgcn_channels: Sequence[int] = STGCN_CHANNELS,
        temporal_kernel: int = 9,
        strategy: str = "distance",
        edge_importance: bool = True,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 2,
        dim_feedforward: int = 256,
        dropout: float = 0.1,
        max_frames: int = 300,
        max_relative_position: int = 299,
        ssm_bias: bool = True,
        ssm_kernel: int = 3,
        displacement_scale: float = 100.0,
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.max_frames = max_frames
        self.displacement_scale = float(displacement_scale)
        blocks = tuple((-1, int(c), 1) for c in stgcn_channels)
        self.stgcn = STGCN(
            2,
            num_joints,
            list(edges),
            center,
            out_dim=d_model,
            strategy=strategy,  # type: ignore[arg-type]
            temporal_kernel=temporal_kernel,
            blocks=blocks,
            edge_importance=edge_importance,
        )
        self.positions = nn.Parameter(torch.randn(max_frames, d_model) * 0.02)
        self.ssm = SelfSimilarityBias(num_heads, ssm_kernel) if ssm_bias else None
        self.encoder = TransformerEncoder(
            d_model, num_layers, num_heads, dim_feedforward, dropout, max_relative_position, "gelu", norm_first=True
        )
        self.head = nn.Linear(d_model, 1)

    def check(self, keypoints: Tensor) -> None:
        if keypoints.dim() != 4 or keypoints.shape[2] != self.num_joints or keypoints.shape[3] < 2:
            raise ValueError(
                f"Video2Rhythm: keypoints must be [B, T, {self.num_joints}, C>=2] (the rhythmic17 layout), "
                f"got {tuple(keypoints.shape)}"
            )
        frames = keypoints.shape[1]
        if frames < 2:
            raise ValueError(f"Video2Rhythm: needs at least 2 frames (motion is a frame difference), got {frames}")
        if frames > self.max_frames:
            raise ValueError(
                f"Video2Rhythm: {frames} frames exceed the position table ({self.max_frames}); cut the video into "
                "windows"
            )

    def features(self, keypoints: Tensor) -> Tensor:
        """The pose features ``P`` [B, T, d_model] (ST-GCN of the motion, mean over joints)."""
        self.check(keypoints)
        return self.stgcn(keypoint_motion(keypoints, self.displacement_scale))

    def forward(self, keypoints: Tensor) -> Tensor:
        pose = self.features(keypoints)
        bias = self.ssm(pose) if self.ssm is not None else None
        x = pose + self.positions[: pose.shape[1]]
        return self.head(self.encoder(x, attn_bias=bias)).squeeze(-1)


class VelocityOffsetNet(nn.Module):
    """Hits ``[B, T, 9]`` -> velocities in [0, 1] and offsets in [-0.5, 0.5] (16th steps, ``music.groove``'s
    convention), each ``[B, T, 9]``: a stride-1 U-Net over the hit map ``[B, 1, T, 9]`` with two output channels,
    sigmoid and ``0.5 * tanh``."""

    def __init__(
        self,
        down_channels: Sequence[int] = (16, 32, 64, 128, 128),
        up_channels: Sequence[int] = (64, 32, 16, 4),
        down_dropout: Sequence[float] = (0.0, 0.0, 0.15, 0.15, 0.15),
        up_dropout: Sequence[float] = (0.15, 0.0, 0.0, 0.0),
    ) -> None:
        super().__init__()
        self.unet = UNet(
            1,
            2,
            down_channels,
            up_channels,
            stride=1,
            down_dropout=down_dropout,
            up_dropout=up_dropout,
            dims=2,
            dropout_mode="element",
        )

    def forward(self, hits: Tensor) -> tuple[Tensor, Tensor]:
        out = self.unet(hits[:, None])
        return torch.sigmoid(out[:, 0]), 0.5 * torch.tanh(out[:, 1])


class Rhythm2Drum(nn.Module):
    """Rhythm ``[B, T]`` (0 / 1 taps) -> drum-word logits ``[B, T, 512]``, and hits -> velocities / offsets.

    The encoder reads the rhythm (vocabulary 2), the decoder the words so far after a start token (word ``512``).
    Both use sinusoidal positions and plain attention (the relative-attention blocks of :mod:`models.nn` with a
    single distance embedding, whose logit ``q·e`` is the same for every key and cancels in the softmax).

    Args:
        d_model, num_heads, dim_feedforward, dropout: both stacks (post-LN, ReLU).
        encoder_layers, decoder_layers: depths.
        unet_*: the :class:`VelocityOffsetNet`.
    """

    START = NUM_WORDS

    def __init__(
        self,
        d_model: int = 128,
        encoder_layers: int = 3,
        decoder_layers: int = 3,
        num_heads: int = 4,
        dim_feedforward: int = 256,
        dropout: float = 0.1,
        unet_down: Sequence[int] = (16, 32, 64, 128, 128),
        unet_up: Sequence[int] = (64, 32, 16, 4),
        unet_down_dropout: Sequence[float] = (0.0, 0.0, 0.15, 0.15, 0.15),
        unet_up_dropout: Sequence[float] = (0.15, 0.0, 0.0, 0.0),
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.rhythm_embed = nn.Embedding(2, d_model)
        self.drop = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(
            d_model, encoder_layers, num_heads, dim_feedforward, dropout, 0, "relu", norm_first=False
        )
        self.decoder = TransformerDecoder(
            NUM_WORDS + 1, d_model, decoder_layers, num_heads, dim_feedforward, dropout, max_len=1, norm_first=False
        )
        self.velocity_offset = VelocityOffsetNet(unet_down, unet_up, unet_down_dropout, unet_up_dropout)

    def encode(self, rhythm: Tensor) -> Tensor:
        if rhythm.dim() != 2 or bool(((rhythm != 0) & (rhythm != 1)).any()):
            raise ValueError(f"Rhythm2Drum: rhythm must be [B, T] of 0 / 1 taps, got shape {tuple(rhythm.shape)}")
        x = self.rhythm_embed(rhythm.long()) * self.d_model**0.5
        x = x + sinusoidal_positions(rhythm.shape[1], self.d_model, device=rhythm.device)
        return self.encoder(self.drop(x))

    @staticmethod
    def constrain(logits: Tensor, rhythm: Tensor) -> Tensor:
        """Silence exactly where there is no tap, a played word where there is one (``-inf`` elsewhere)."""
        silent = torch.zeros_like(logits, dtype=torch.bool)
        silent[..., SILENCE] = True
        allowed = torch.where(rhythm.bool()[..., None], ~silent, silent)
        return logits.masked_fill(~allowed, float("-inf"))

    def forward(self, rhythm: Tensor, words: Tensor) -> Tensor:
        """Teacher forcing: ``rhythm`` [B, T], target ``words`` [B, T] -> constrained logits ``[B, T, 512]``."""
        memory = self.encode(rhythm)
        start = torch.full_like(words[:, :1], self.START)
        logits = self.decoder(torch.cat([start, words[:, :-1]], dim=1), memory)[..., :NUM_WORDS]
        return self.constrain(logits, rhythm)

    @torch.no_grad()
    def generate(
        self,
        rhythm: Tensor,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        greedy: bool = False,
        generator: Optional[torch.Generator] = None,
    ) -> Tensor:
        """Words ``[B, T]`` for ``rhythm`` [B, T], one step at a time with the key/value cache; each step's word is
        drawn from the constrained distribution (so hits fall on taps only) and fed back as the next input."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        cache = self.decoder.init_cache(self.encode(rhythm))
        token = torch.full_like(rhythm[:, 0], self.START).long()
        words = []
        for t in range(rhythm.shape[1]):
            logits, cache = self.decoder.step(token[:, None], cache)
            logits = self.constrain(logits[:, -1, :NUM_WORDS], rhythm[:, t])
            if greedy:
                token = logits.argmax(-1)
            else:
                logits = logits / temperature
                if top_k is not None and 0 < top_k < NUM_WORDS:
                    kth = logits.topk(top_k, dim=-1).values[..., -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                token = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
            words.append(token)
        return torch.stack(words, dim=1)


__all__ = ["STGCN_CHANNELS", "Rhythm2Drum", "VelocityOffsetNet", "Video2Rhythm", "keypoint_motion"]
