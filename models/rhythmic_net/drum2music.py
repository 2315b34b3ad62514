"""RhythmicNet's Drum2Music network (§3): a drum track -> a piano or guitar track, bar by bar, in REMI tokens.

An encoder-decoder of Transformer-XL stacks (:mod:`models.nn.transformer_xl`), one bar per segment (a row of at most
``max_bar_tokens`` tokens: ``Bar`` ... ``EOS`` then ``PAD``, :mod:`datamodules.multitrack_midi`):

* the encoder (4 layers, code) reads the drum bar ``i`` with the memory of the drum bars before it; it is
  bidirectional within the bar (the drums are given), padded tokens masked (code);
* the decoder (8 layers, code) writes the instrument bar ``i`` token by token (causal) with the memory of the
  instrument bars before it and cross-attends to the encoder's output for the current drum bar;
* d 512, 8 heads of 64, ff 2048, dropout 0.1, pre-LN, relative attention, ``mem_len`` 256 (code);
* separate token embeddings for drums and instrument (× sqrt(d)), plus one position embedding shared by both with 18
  rows (code): ``Position_k`` tokens are ``k`` (0-15 in a 4/4 bar at 16 positions), the note tokens after it
  (``Program``, ``Pitch``, ``PitchDrum``, ``Velocity``, ``Duration``) inherit ``k``, every other token is 16, ``PAD``
  is 17 (a note before any ``Position`` in its bar: 16);
* a linear head to the vocabulary.

Teacher forcing reads each full row and predicts its next token (the row shifted by one, ``PAD`` last): the memory
of a bar is the states of its whole padded row, so generation pads its bars the same way before moving on.
Generation (:meth:`Drum2Music.generate`) samples each bar after its ``Bar`` token until ``EOS`` with the key/value
cache (``use_cache=False``: the whole prefix recomputed at every step, as the released code does); both give the
same tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import Tensor, nn

from models.nn.decoding import sample
from models.nn.transformer_xl import Memory, XLStack

POSITIONS = 16  # Position tokens of a 4/4 bar at 4 per beat
OTHER = POSITIONS  # any token that is neither a position nor a note
PAD_POSITION = POSITIONS + 1
POSITION_ROWS = POSITIONS + 2
INHERIT = -1  # a note token: the position of the last Position token of its bar
NOTE_TOKENS = ("Program_", "Pitch_", "PitchDrum_", "Velocity_", "Duration_")


def position_classes(token_names: Sequence[str], pad_name: str = "PAD_None") -> Tensor:
    """Per vocabulary entry: ``k`` for ``Position_k`` (k < 16), :data:`INHERIT` for note tokens, 17 for ``PAD`` and
    16 for the rest (``Bar``, ``TimeSig``, ``Tempo``, ``Chord``, ``EOS``, positions beyond a 4/4 bar...)."""
    table = torch.full((len(token_names),), OTHER, dtype=torch.long)
    for i, name in enumerate(token_names):
        if name.startswith("Position_"):
            k = int(name.split("_")[1])
            table[i] = k if k < POSITIONS else OTHER
        elif name.startswith(NOTE_TOKENS):
            table[i] = INHERIT
        elif name == pad_name:
            table[i] = PAD_POSITION
    return table


class Drum2Music(nn.Module):
    """Drum bars -> instrument bars (see the module docstring).

    Args:
        token_names: the REMI vocabulary, in id order (position classes and the special ids come from it).
        d_model, num_heads, dim_feedforward, dropout: both stacks. encoder_layers, decoder_layers: depths.
        mem_len: memory per layer, in tokens (one padded bar).
        max_bar_tokens: tokens per bar row, ``Bar``, ``EOS`` and ``PAD`` included.
        program: the General MIDI program of the instrument it writes, kept in its state (``program`` buffer) so that
            its checkpoint says what it was trained for.
    """

    def __init__(
        self,
        token_names: Sequence[str],
        d_model: int = 512,
        encoder_layers: int = 4,
        decoder_layers: int = 8,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        mem_len: int = 256,
        max_bar_tokens: int = 256,
        program: int = 0,
    ) -> None:
        super().__init__()
        names = list(token_names)
        for special in ("PAD_None", "EOS_None", "Bar_None"):
            if special not in names:
                raise ValueError(f"Drum2Music: the vocabulary has no {special} token")
        if max_bar_tokens < 3:
            raise ValueError(f"Drum2Music: max_bar_tokens must be >= 3, got {max_bar_tokens}")
        self.vocab_size = len(names)
        self.pad_id, self.eos_id, self.bar_id = (names.index(s) for s in ("PAD_None", "EOS_None", "Bar_None"))
        self.d_model, self.max_bar_tokens = d_model, int(max_bar_tokens)
        self.register_buffer("position_table", position_classes(names), persistent=False)
        self.register_buffer("program", torch.tensor(int(program), dtype=torch.long))
        self.drum_embed = nn.Embedding(self.vocab_size, d_model, padding_idx=self.pad_id)
        self.instrument_embed = nn.Embedding(self.vocab_size, d_model, padding_idx=self.pad_id)
        self.position_embed = nn.Embedding(POSITION_ROWS, d_model, padding_idx=PAD_POSITION)
        for embedding in (self.drum_embed, self.instrument_embed):
            nn.init.normal_(embedding.weight, 0.0, d_model**-0.5)
            with torch.no_grad():
                embedding.weight[self.pad_id].zero_()
        self.encoder = XLStack(d_model, encoder_layers, num_heads, dim_feedforward, dropout, mem_len,
                               cross_attention=False, causal=False)  # fmt: skip
        self.decoder = XLStack(d_model, decoder_layers, num_heads, dim_feedforward, dropout, mem_len,
                               cross_attention=True, causal=True)  # fmt: skip
        self.head = nn.Linear(d_model, self.vocab_size)

    # ------------------------------------------------------------------------------------------------ embedding
    def positions(self, tokens: Tensor) -> Tensor:
        """The 18-way position index ``[B, L]`` of bar rows ``tokens`` [B, L] (each row one bar)."""
        classes = self.position_table[tokens]
        arange = torch.arange(tokens.shape[-1], device=tokens.device).expand_as(tokens)
        is_position = (classes >= 0) & (classes < POSITIONS)
        last = torch.where(is_position, arange, torch.full_like(arange, -1)).cummax(dim=-1).values
        inherited = torch.where(last >= 0, classes.gather(-1, last.clamp_min(0)), torch.full_like(classes, OTHER))
        return torch.where(classes == INHERIT, inherited, classes)

    def _embed(self, table: nn.Embedding, tokens: Tensor, positions: Tensor) -> Tensor:
        return table(tokens) * self.d_model**0.5 + self.position_embed(positions)

    def _check(self, tokens: Tensor, name: str) -> None:
        if tokens.dim() != 3:
            raise ValueError(f"Drum2Music: {name} must be bar rows [B, bars, L], got {tuple(tokens.shape)}")
        if tokens.shape[-1] > self.max_bar_tokens:
            raise ValueError(f"Drum2Music: {name} bars have {tokens.shape[-1]} tokens, more than max_bar_tokens "
                             f"{self.max_bar_tokens}")  # fmt: skip
        if bool((tokens < 0).any()) or bool((tokens >= self.vocab_size).any()):
            raise ValueError(f"Drum2Music: {name} tokens must lie in 0..{self.vocab_size - 1}")

    def encode(self, drums: Tensor, memory: Optional[Memory] = None) -> tuple[Tensor, Tensor, Memory]:
        """One drum bar ``[B, L]`` -> the encoder's output ``[B, L, D]``, its cross-attention mask (True = padded;
        a fully padded bar keeps its first position, so no softmax is empty) and the encoder memory."""
        padding = drums == self.pad_id
        x = self._embed(self.drum_embed, drums, self.positions(drums))
        context, memory = self.encoder(x, memory=memory, padding=padding)
        context_mask = padding.clone()
        context_mask[:, 0] = False
        return context, context_mask, memory

    # ---------------------------------------------------------------------------------------------- training
    def forward(self, drums: Tensor, instrument: Tensor) -> Tensor:
        """Teacher forcing over consecutive bars: ``drums``, ``instrument`` [B, bars, L] -> logits
        ``[B, bars, L, V]``, position ``t`` of a bar predicting its token ``t + 1`` (:meth:`targets`)."""
        self._check(drums, "drums")
        self._check(instrument, "instrument")
        if drums.shape[:2] != instrument.shape[:2]:
            raise ValueError(f"Drum2Music: drums {tuple(drums.shape)} and instrument {tuple(instrument.shape)} "
                             "differ in batch or bars")  # fmt: skip
        encoder_memory = decoder_memory = None
        logits = []
        for i in range(drums.shape[1]):
            context, context_mask, encoder_memory = self.encode(drums[:, i], encoder_memory)
            rows = instrument[:, i]
            x = self._embed(self.instrument_embed, rows, self.positions(rows))
            hidden, decoder_memory = self.decoder(x, memory=decoder_memory, padding=rows == self.pad_id,
                                                  context=context, context_mask=context_mask)  # fmt: skip
            logits.append(self.head(hidden))
        return torch.stack(logits, dim=1)

    def targets(self, instrument: Tensor) -> Tensor:
        """The next-token targets of bar rows ``[..., L]``: each row shifted left by one, ``PAD`` last."""
        return torch.cat([instrument[..., 1:], torch.full_like(instrument[..., :1], self.pad_id)], dim=-1)

    # -------------------------------------------------------------------------------------------- generation
    def _step_fn(self, use_cache: bool) -> Any:
        """A :func:`models.nn.decoding.sample` step: ``(tokens [B], state) -> (logits [B, V], state)``, the ids
        outside ``state["allowed"]`` at ``-inf``."""

        def cached(tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
            classes = self.position_table[tokens]
            state["current"] = torch.where((classes >= 0) & (classes < POSITIONS), classes, state["current"])
            positions = torch.where(classes == INHERIT, state["current"], classes)
            x = self._embed(self.instrument_embed, tokens[:, None], positions[:, None])
            hidden = self.decoder.step(x, state["cache"], (tokens == self.pad_id)[:, None])
            state["fed"].append(tokens)
            return self.head(hidden[:, -1]).masked_fill(~state["allowed"], float("-inf")), state

        def uncached(tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
            state["fed"].append(tokens)
            rows = torch.stack(state["fed"], dim=1)
            x = self._embed(self.instrument_embed, rows, self.positions(rows))
            hidden, _ = self.decoder(x, memory=state["memory"], padding=rows == self.pad_id, context=state["context"],
                                     context_mask=state["mask"])  # fmt: skip
            return self.head(hidden[:, -1]).masked_fill(~state["allowed"], float("-inf")), state

        return cached if use_cache else uncached

    @torch.no_grad()
    def generate(
        self,
        drums: Tensor,
        temperature: float = 1.2,
        top_k: Optional[int] = 5,
        allowed: Optional[Tensor] = None,
        greedy: bool = False,
        generator: Optional[torch.Generator] = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Instrument bar rows ``[B, bars, L]`` for drum bar rows ``drums`` [B, bars, L]: each bar starts with
        ``Bar`` and is sampled (``temperature``, ``top_k``; ``allowed`` [V] masks the vocabulary) until ``EOS`` or
        ``L - 2`` tokens (then ``EOS`` is forced), then padded to ``L`` and fed whole into the decoder memory, as in
        training. ``use_cache=False`` recomputes the whole prefix at every step (the same tokens, slower)."""
        self._check(drums, "drums")
        batch, bars, length = drums.shape
        if allowed is None:
            allowed = torch.ones(self.vocab_size, dtype=torch.bool, device=drums.device)
        allowed = allowed.to(drums.device).bool().clone()
        allowed[[self.pad_id, self.bar_id]] = False  # a bar ends with EOS; PAD only after it
        allowed[self.eos_id] = True
        step = self._step_fn(use_cache)
        encoder_memory = decoder_memory = None
        out = torch.full((batch, bars, length), self.pad_id, dtype=torch.long, device=drums.device)
        for i in range(bars):
            context, context_mask, encoder_memory = self.encode(drums[:, i], encoder_memory)
            current = torch.full((batch,), OTHER, dtype=torch.long, device=drums.device)
            state: dict[str, Any] = {"fed": [], "memory": decoder_memory, "context": context, "mask": context_mask,
                                     "current": current}  # fmt: skip
            if use_cache:
                state["cache"] = self.decoder.init_cache(decoder_memory, context, context_mask)
            state["allowed"] = allowed
            result = sample(step, state, batch, self.bar_id, self.eos_id, self.pad_id, length - 2,
                            temperature=temperature, top_k=top_k, greedy=greedy, generator=generator,
                            device=drums.device)  # fmt: skip
            row = out[:, i]
            row[:, 0] = self.bar_id
            row[:, 1 : 1 + result.tokens.shape[1]] = result.tokens
            unfinished = ~(result.tokens == self.eos_id).any(dim=1)
            row[unfinished, 1 + result.lengths[unfinished]] = self.eos_id
            fed = len(state["fed"])
            if use_cache:
                rest = row[:, fed:]
                positions = self.positions(row)[:, fed:]
                x = self._embed(self.instrument_embed, rest, positions)
                self.decoder.step(x, state["cache"], rest == self.pad_id)
                decoder_memory = self.decoder.cache_mems(state["cache"])
            else:
                x = self._embed(self.instrument_embed, row, self.positions(row))
                _, decoder_memory = self.decoder(x, memory=decoder_memory, padding=row == self.pad_id,
                                                 context=context, context_mask=context_mask)  # fmt: skip
        return out


__all__ = ["INHERIT", "OTHER", "PAD_POSITION", "POSITION_ROWS", "Drum2Music", "position_classes"]
