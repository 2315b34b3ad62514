"""The networks of V2Meow's token stages (§3.2; docs/V2MEOW.md): a conditioning encoder over visual features, visual
tokens, a control embedding and (stage 2 with visual input) semantic tokens, and a token language model (a relative-
attention Transformer decoder, with cross-attention to that encoder or decoder-only as a prefix LM).

Sequence layouts (ids of one vocabulary per network; ``K`` = codes per RVQ level):

- ``visual2semantic``: encoder(visual [; control]) -> decoder over ``[BOS, s_0 .. s_{S-2}]`` predicting ``s``.
- ``semantic2coarse``, decoder-only (AudioLM): ``[s_0 .. s_{S-1}, SEP, c_0 .. c_{M-2}]`` predicting ``c``, with
  semantic ids ``0 .. Ks-1`` and coarse ids shifted by ``Ks``; with visual input: encoder(visual; semantic) ->
  decoder over ``[BOS, c ...]``.
- ``coarse2fine``, decoder-only: ``[c (3-s chunk), SEP, f_0 .. f_{M-2}]`` predicting the fine tokens ``f``.

Acoustic tokens are the RVQ codes flattened frame-major (frame 0's levels first) with level ``l``'s codes at
``l · K .. l · K + K - 1`` (:func:`flatten_codes`), so each level's ids are disjoint and a logit mask per step
restricts sampling to the level due (:func:`level_masks`).

Relative attention carries no absolute time; with ``seconds_encoding`` every encoder position (visual frames, visual
tokens, semantic tokens; not the control position) and every decoder input gets a sinusoidal encoding of the second
it stands for (a decoder input: the time of the token it predicts), on a scale of ``TIME_STEPS_PER_SECOND``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import Tensor, nn

from models.nn.decoding import StepFn
from models.nn.transformer_decoder import TransformerDecoder, sinusoidal_encoding
from models.nn.transformer_encoder import TransformerEncoder

TIME_STEPS_PER_SECOND = 25.0  # seconds encoding resolution: one unit per 40 ms (the semantic token rate)


def seconds_encoding(seconds: Tensor, dim: int) -> Tensor:
    """Sinusoidal encoding ``[..., dim]`` of times in seconds ``[...]``."""
    return sinusoidal_encoding(seconds * TIME_STEPS_PER_SECOND, dim)


def flatten_codes(codes: Tensor, codebook_size: int, first_level: int = 0, offset: int = 0) -> Tensor:
    """RVQ codes ``[B, n, F]`` -> ids ``[B, F · n]`` frame-major; level ``first_level + l`` shifted by
    ``offset + (first_level + l) · codebook_size`` (``first_level`` numbers levels within one vocabulary)."""
    b, n, f = codes.shape
    shift = offset + (first_level + torch.arange(n, device=codes.device)) * codebook_size
    return (codes + shift[None, :, None]).transpose(1, 2).reshape(b, f * n)


def unflatten_codes(ids: Tensor, levels: int, codebook_size: int, first_level: int = 0, offset: int = 0) -> Tensor:
    """Inverse of :func:`flatten_codes`: ids ``[B, F · levels]`` -> codes ``[B, levels, F]``; one ``ValueError`` if
    the length is not whole frames or an id lies outside its level's range."""
    b, length = ids.shape
    if length % levels:
        raise ValueError(f"unflatten_codes: {length} ids are not whole frames of {levels} levels")
    shift = offset + (first_level + torch.arange(levels, device=ids.device)) * codebook_size
    codes = ids.reshape(b, length // levels, levels).transpose(1, 2) - shift[None, :, None]
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook_size):
        raise ValueError("unflatten_codes: an id lies outside its level's range (not a sequence of this layout)")
    return codes


def level_masks(vocab_size: int, levels: int, codebook_size: int, first_level: int = 0, offset: int = 0) -> Tensor:
    """Bool ``[levels, vocab_size]``: row ``l`` allows only level ``first_level + l``'s ids (step ``t`` of a
    flattened sequence emits level ``t % levels``)."""
    mask = torch.zeros(levels, vocab_size, dtype=torch.bool)
    for level in range(levels):
        start = offset + (first_level + level) * codebook_size
        mask[level, start : start + codebook_size] = True
    return mask


class ConditionEncoder(nn.Module):
    """Stage 1's (and stage 2's with visual input) encoder: every input projected to ``d_model``, tagged with a
    learned modality embedding and concatenated in time, then a bidirectional relative-attention encoder.

    Args:
        d_model, layers, heads, feedforward, dropout, max_relative_position: the encoder.
        feature_dims: widths of the visual feature kinds, concatenated along D in the batch (each kind: LayerNorm ->
            linear; T positions each).
        token_vocab, token_patches: visual token kinds (``[B, T, P]`` ids; 0 = none): embedded, plus a learned
            patch embedding, flattened to T · P positions.
        control_dim: width of the control embedding (0 = no control): linear -> one extra position (§3.2 "Adding
            Control"); a learned null embedding stands for "no control" (control dropout, guidance, no prompt).
        semantic_vocab, semantic_rate: semantic tokens as input (0 = none), at ``semantic_rate`` per second.
        seconds_encoding: add the seconds encoding (module docstring) to every timed position.
    """

    def __init__(
        self,
        d_model: int,
        layers: int,
        heads: int,
        feedforward: int,
        dropout: float,
        max_relative_position: int,
        feature_dims: Sequence[int] = (),
        token_vocab: int = 0,
        token_patches: int = 0,
        control_dim: int = 0,
        semantic_vocab: int = 0,
        semantic_rate: float = 25.0,
        seconds_encoding: bool = True,
    ) -> None:
        super().__init__()
        if not feature_dims and not token_vocab:
            raise ValueError("ConditionEncoder: no visual input (feature_dims empty and token_vocab 0)")
        self.d_model = d_model
        self.feature_dims = tuple(int(d) for d in feature_dims)
        self.features = nn.ModuleList(nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d_model)) for d in self.feature_dims)
        self.tokens = nn.Embedding(token_vocab, d_model) if token_vocab else None
        self.patches = nn.Embedding(max(token_patches, 1), d_model) if token_vocab else None
        self.token_patches = int(token_patches)
        self.control = nn.Linear(control_dim, d_model) if control_dim else None
        self.null_control = nn.Parameter(torch.randn(d_model) * 0.02) if control_dim else None
        self.semantic = nn.Embedding(semantic_vocab, d_model) if semantic_vocab else None
        self.semantic_rate = float(semantic_rate)
        self.modality = nn.Embedding(len(self.feature_dims) + 3, d_model)  # kinds, tokens, control, semantic
        self.seconds = bool(seconds_encoding)
        self.encoder = TransformerEncoder(d_model, layers, heads, feedforward, dropout, max_relative_position)

    def _tag(self, x: Tensor, modality: int, seconds: Optional[Tensor]) -> Tensor:
        x = x + self.modality.weight[modality]
        if self.seconds and seconds is not None:
            x = x + seconds_encoding(seconds.to(x.device), self.d_model)
        return x

    def forward(
        self,
        features: Optional[Tensor] = None,
        tokens: Optional[Tensor] = None,
        control: Optional[Tensor] = None,
        null_control: Optional[Tensor] = None,
        semantic: Optional[Tensor] = None,
    ) -> Tensor:
        """Memory ``[B, S, d_model]`` of ``features`` [B, T, sum(feature_dims)] (1 fps), ``tokens`` [B, T, P],
        ``control`` [B, control_dim] (None: the null embedding for every row; ``null_control`` [B] bool: the null
        embedding for those rows) and ``semantic`` [B, S] ids."""
        parts = []
        if self.feature_dims:
            if features is None:
                raise ValueError("ConditionEncoder: this encoder was built for visual_features; the batch has none")
            frames = torch.arange(features.shape[1], device=features.device, dtype=torch.float32)
            for i, chunk in enumerate(features.split(self.feature_dims, dim=-1)):
                parts.append(self._tag(self.features[i](chunk.float()), i, frames))
        if self.tokens is not None:
            if tokens is None:
                raise ValueError("ConditionEncoder: this encoder was built for visual_tokens; the batch has none")
            b, t, p = tokens.shape
            x = self.tokens(tokens) + self.patches(torch.arange(p, device=tokens.device) % self.patches.num_embeddings)
            seconds = torch.arange(t, device=tokens.device, dtype=torch.float32).repeat_interleave(p)
            parts.append(self._tag(x.reshape(b, t * p, self.d_model), len(self.feature_dims), seconds))
        batch = parts[0].shape[0]
        if self.control is not None:
            null = self.null_control.expand(batch, 1, -1)
            if control is None:
                x = null
            else:
                x = self.control(control.float())[:, None]
                if null_control is not None:
                    x = torch.where(null_control.to(x.device)[:, None, None], null, x)
            parts.append(self._tag(x, len(self.feature_dims) + 1, None))
        if self.semantic is not None:
            if semantic is None:
                raise ValueError("ConditionEncoder: this encoder takes semantic tokens")
            seconds = torch.arange(semantic.shape[1], device=semantic.device) / self.semantic_rate
            parts.append(self._tag(self.semantic(semantic), len(self.feature_dims) + 2, seconds))
        return self.encoder(torch.cat(parts, dim=1))


class TokenLM(nn.Module):
    """A token language model: pre-LN relative-attention Transformer decoder (no absolute positions; cross-attention
    to a :class:`ConditionEncoder` when ``encoder`` is given, else a decoder-only prefix LM).

    Timing for the seconds encoding: a sequence is ``prefix_len`` prefix tokens (``prefix_rate`` frames per second,
    ``prefix_per_frame`` tokens per frame) followed by target-part inputs; input ``prefix_len + i`` predicts target
    token ``i``, at frame ``i // per_frame`` of ``rate`` frames per second.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        layers: int,
        heads: int,
        feedforward: int,
        dropout: float,
        max_relative_position: int,
        rate: float,
        per_frame: int = 1,
        prefix_rate: float = 1.0,
        prefix_per_frame: int = 1,
        encoder: Optional[ConditionEncoder] = None,
        seconds_encoding: bool = True,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.encoder = encoder
        self.rate, self.per_frame = float(rate), int(per_frame)
        self.prefix_rate, self.prefix_per_frame = float(prefix_rate), int(prefix_per_frame)
        self.seconds = bool(seconds_encoding)
        self.decoder = TransformerDecoder(
            vocab_size, d_model, layers, heads, feedforward, dropout, max_relative_position, norm_first=True,
            absolute_positions=False, cross_attention=encoder is not None,
        )  # fmt: skip

    def times(self, start: int, length: int, prefix_len: int, device: torch.device) -> Tensor:
        """Seconds of inputs ``start .. start + length - 1`` (class docstring)."""
        pos = torch.arange(start, start + length, device=device)
        prefix = torch.div(pos, self.prefix_per_frame, rounding_mode="floor") / self.prefix_rate
        target = torch.div((pos - prefix_len).clamp_min(0), self.per_frame, rounding_mode="floor") / self.rate
        return torch.where(pos < prefix_len, prefix, target)

    def extra(self, start: int, length: int, prefix_len: int, device: torch.device) -> Optional[Tensor]:
        if not self.seconds:
            return None
        return seconds_encoding(self.times(start, length, prefix_len, device), self.decoder.d_model)[None]

    def forward(self, inputs: Tensor, prefix_len: int = 0, memory: Optional[Tensor] = None) -> Tensor:
        """Teacher forcing: logits ``[B, L, V]`` of ``inputs`` [B, L]."""
        return self.decoder(inputs, memory, extra=self.extra(0, inputs.shape[1], prefix_len, inputs.device))

    def init_cache(self, memory: Optional[Tensor] = None, batch_size: Optional[int] = None) -> dict[str, Any]:
        return self.decoder.init_cache(memory, batch_size=batch_size)

    def prefill(self, prefix: Tensor, cache: dict[str, Any], prefix_len: int) -> tuple[Tensor, dict[str, Any]]:
        """Write ``prefix`` [B, P] into ``cache`` in one call -> its logits [B, P, V]."""
        start = cache["pos"]
        return self.decoder.prefill(prefix, cache, self.extra(start, prefix.shape[1], prefix_len, prefix.device))

    def step_fn(self, prefix_len: int) -> StepFn:
        """``step(tokens [N], cache) -> (logits [N, V], cache)`` for :mod:`models.nn.decoding`."""

        def step(tokens: Tensor, cache: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
            extra = self.extra(cache["pos"], 1, prefix_len, tokens.device)
            logits, cache = self.decoder.step(tokens[:, None], cache, extra)
            return logits[:, -1], cache

        return step


__all__ = [
    "TIME_STEPS_PER_SECOND", "ConditionEncoder", "TokenLM", "flatten_codes", "level_masks", "seconds_encoding",
    "unflatten_codes",
]  # fmt: skip
