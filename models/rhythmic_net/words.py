"""RhythmicNet's drum words and rhythm (§3, Rhythm2Drum): one word per 16th step, the set of drum classes hit there.

A step's 9 binary hits (the :mod:`music.groove` classes, kick first) read as a 9-bit number: word
``sum_c hit_c * 2**c``, 0 = silence, 512 words in all (the released code keeps only the 152 seen in the Groove MIDI
Dataset; every combination is kept here so no played step is out of vocabulary). The rhythm of a groove is its taps:
1 at a step where any drum is hit, else 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from music.groove import NUM_CLASSES

NUM_WORDS = 2**NUM_CLASSES
SILENCE = 0
_BITS = 2 ** torch.arange(NUM_CLASSES)


def hits_to_words(hits: Tensor) -> Tensor:
    """Hits ``[..., T, 9]`` (> 0.5 = hit) -> words ``[..., T]`` (long)."""
    if hits.shape[-1] != NUM_CLASSES:
        raise ValueError(f"hits must be [..., T, {NUM_CLASSES}], got {tuple(hits.shape)}")
    return ((hits > 0.5).long() * _BITS.to(hits.device)).sum(-1)


def words_to_hits(words: Tensor) -> Tensor:
    """Words ``[..., T]`` -> hits ``[..., T, 9]`` (float 0 / 1)."""
    if bool((words < 0).any()) or bool((words >= NUM_WORDS).any()):
        raise ValueError(f"drum words must lie in 0..{NUM_WORDS - 1}")
    return ((words[..., None] // _BITS.to(words.device)) % 2).float()


def taps(hits: Tensor) -> Tensor:
    """The rhythm of hits ``[..., T, 9]``: ``[..., T]`` long, 1 where any class is hit."""
    return (hits > 0.5).any(-1).long()


__all__ = ["NUM_WORDS", "SILENCE", "hits_to_words", "taps", "words_to_hits"]
