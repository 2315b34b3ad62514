"""REMI tokens for multi-track music through miditok (RhythmicNet's Drum2Music stage, §3; Huang & Yang 2020).

REMI writes music bar by bar: ``Bar``, ``TimeSig``, ``Position`` (sub-beat), ``Tempo``, ``Chord``, then per note
``Program``, ``Pitch`` (``PitchDrum`` for drums), ``Velocity`` and ``Duration``. RhythmicNet's REMI carries tempo
changes, chords, positions and bars, so :class:`RemiTokenizer` enables tempos and chords; ``use_programs`` puts all
tracks into one token stream (drums as program -1).

miditok 3.1.0 behaviour this wrapper takes care of:

- ``decode`` mutates the list it is given: a copy is passed.
- Tracks with the same program (and drum flag) are merged into one on encoding (e.g. a quartet's two violins).
- Tempos are quantised to ``num_tempos`` bins in ``tempo_range`` (e.g. 120 bpm decodes as 121.3), so decoded times
  in seconds drift from the original; positions in beats are exact up to the grid. Pass ``decode(ids, tempo=bpm)``
  to decode at one exact tempo (e.g. the tempo the music was written at, 120 bpm by default): then times in seconds
  are exact up to the grid.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np


def _to_score(midi: Any) -> Any:
    """``pretty_midi.PrettyMIDI`` (or a MIDI file path) to a ``symusic.Score``."""
    import symusic

    if isinstance(midi, (str, bytes)) or hasattr(midi, "__fspath__"):
        return symusic.Score(str(midi))
    buffer = io.BytesIO()
    midi.write(buffer)
    return symusic.Score.from_midi(buffer.getvalue())


def _to_pretty(score: Any) -> Any:
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(score.dumps_midi()))


class RemiTokenizer:
    """A miditok REMI tokenizer for multi-track music, with ``encode(midi) -> list[int]`` and ``decode(ids)``.

    Args:
        beat_res: positions per beat by beat range (miditok's default: 8 per beat for durations up to 4 beats, 4 up to
            12 beats).
        num_velocities: velocity bins.
        use_chords: Chord tokens with root and quality (detected by miditok within each track).
        use_tempos: Tempo tokens (``num_tempos`` bins over ``tempo_range`` bpm).
        use_time_signatures: TimeSig tokens.
        num_tempos, tempo_range: tempo quantisation.
        pitch_range: lowest and highest pitch kept (inclusive); notes outside are dropped by miditok.
    """

    def __init__(
        self,
        beat_res: dict[tuple[int, int], int] | None = None,
        num_velocities: int = 32,
        use_chords: bool = True,
        use_tempos: bool = True,
        use_time_signatures: bool = True,
        num_tempos: int = 32,
        tempo_range: tuple[int, int] = (40, 250),
        pitch_range: tuple[int, int] = (21, 108),
    ) -> None:
        from miditok import REMI, TokenizerConfig

        config = TokenizerConfig(
            pitch_range=(pitch_range[0], pitch_range[1] + 1),
            beat_res=beat_res or {(0, 4): 8, (4, 12): 4},
            num_velocities=num_velocities,
            special_tokens=["PAD", "BOS", "EOS", "MASK"],
            use_chords=use_chords,
            chord_tokens_with_root_note=True,  # as in REMI: root and quality, e.g. Chord_C:maj
            use_tempos=use_tempos,
            use_time_signatures=use_time_signatures,
            num_tempos=num_tempos,
            tempo_range=tempo_range,
            use_programs=True,
            one_token_stream_for_programs=True,
        )
        self.tokenizer = REMI(config)
        self.pad_id = self.tokenizer.vocab["PAD_None"]
        self.bos_id = self.tokenizer.vocab["BOS_None"]
        self.eos_id = self.tokenizer.vocab["EOS_None"]
        self.mask_id = self.tokenizer.vocab["MASK_None"]

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, midi: Any) -> list[int]:
        """Token ids (no BOS/EOS) of a ``pretty_midi.PrettyMIDI`` or MIDI file; empty for music without notes."""
        score = _to_score(midi)
        if score.note_num() == 0:
            return []
        sequence = self.tokenizer.encode(score)
        if isinstance(sequence, list):  # only with one_token_stream_for_programs=False
            raise RuntimeError("expected one token stream for all programs")
        return [int(i) for i in sequence.ids]

    def decode(self, ids: Iterable[int] | Any, tempo: float | None = None) -> Any:
        """``pretty_midi.PrettyMIDI`` from token ids (list, array or tensor); BOS/PAD/MASK skipped, stops at EOS.

        ``tempo`` (bpm) replaces the decoded tempo changes by this one tempo.
        """
        import pretty_midi
        import symusic

        if hasattr(ids, "detach"):
            ids = ids.detach().cpu().numpy()
        array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
        if array.ndim != 1:
            raise ValueError(f"REMI ids must be one sequence (1-D), got shape {array.shape}")
        if array.size and (array.min() < 0 or array.max() >= self.vocab_size):
            raise ValueError(f"REMI ids must lie in 0..{self.vocab_size - 1}, got {array.min()}..{array.max()}")
        clean: list[int] = []
        for token in array.tolist():
            if token == self.eos_id:
                break
            if token not in (self.pad_id, self.bos_id, self.mask_id):
                clean.append(int(token))
        if not clean:
            return pretty_midi.PrettyMIDI(initial_tempo=float(tempo or 120.0))
        score = self.tokenizer.decode(list(clean))  # miditok mutates the list it decodes
        if tempo is not None:
            score.tempos.clear()
            score.tempos.append(symusic.Tempo(0, float(tempo)))
        return _to_pretty(score)

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Token names of ids, e.g. ``['Bar_None', 'TimeSig_4/4', 'Position_0', ...]``."""
        return [self.tokenizer[int(i)] for i in ids]


@lru_cache(maxsize=1)
def default_tokenizer() -> RemiTokenizer:
    """The suite's REMI tokenizer (default arguments), built once per process."""
    return RemiTokenizer()


def encode(midi: Any) -> list[int]:
    """REMI ids of ``midi`` with :func:`default_tokenizer`."""
    return default_tokenizer().encode(midi)


def decode(ids: Iterable[int] | Any, tempo: float | None = None) -> Any:
    """``pretty_midi.PrettyMIDI`` from REMI ids of :func:`default_tokenizer`."""
    return default_tokenizer().decode(ids, tempo=tempo)


def vocab_size() -> int:
    """Vocabulary size of :func:`default_tokenizer`."""
    return default_tokenizer().vocab_size


__all__ = ["RemiTokenizer", "decode", "default_tokenizer", "encode", "vocab_size"]
