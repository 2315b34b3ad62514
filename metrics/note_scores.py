"""Scores of a MIDI against a reference: note onsets (transcription quality) and frames on a piano-roll grid (Audeo §4
"Midi Evaluation", Table 1, applied to a MIDI file).

- :func:`onset_f1`: note-onset precision / recall / F1 with ``mir_eval.transcription.precision_recall_f1_overlap``
  and ``offset_ratio=None``: an estimated note matches a reference note of the same pitch (within 50 cents) whose
  onset lies within ``onset_tolerance`` (50 ms, the MIREX note-tracking default); every note matches at most once
  (maximum bipartite matching). Drum tracks are left out. A reference without notes is an error; an estimate
  without notes scores 0.
- :func:`frame_scores`: the MIDI drawn as a binary roll on the grid of a ``[keys, T]`` reference roll (``fps`` frames
  per second, keys ``low .. low + keys - 1``; :func:`music.roll.midi_to_roll`) and scored with
  :class:`metrics.frame_prf.FramePRF` (micro: TP, FP, FN summed over all frames and keys).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from metrics.frame_prf import FramePRF
from music.roll import midi_to_roll


def _intervals(midi: Any) -> tuple[np.ndarray, np.ndarray]:
    """``([N, 2] onset/offset seconds, [N] Hz)`` of every non-drum note, sorted by onset."""
    notes = sorted((n.start, n.end, n.pitch) for inst in midi.instruments if not inst.is_drum for n in inst.notes)
    if not notes:
        return np.zeros((0, 2)), np.zeros(0)
    arr = np.asarray(notes, dtype=np.float64)
    return arr[:, :2], 440.0 * 2.0 ** ((arr[:, 2] - 69.0) / 12.0)


def onset_f1(reference: Any, estimate: Any, onset_tolerance: float = 0.05) -> dict[str, float]:
    """``{"precision", "recall", "f1"}`` of the note onsets of ``estimate`` against ``reference`` (PrettyMIDI objects):
    same pitch, onset within ``onset_tolerance`` seconds, offsets ignored."""
    import mir_eval

    ref_iv, ref_hz = _intervals(reference)
    est_iv, est_hz = _intervals(estimate)
    if len(ref_iv) == 0:
        raise ValueError("onset_f1: the reference has no notes")
    if len(est_iv) == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=onset_tolerance, offset_ratio=None
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def frame_scores(midi: Any, truth: Any, fps: float, low: int) -> dict[str, float]:
    """``{"precision", "recall", "accuracy", "f1"}`` (micro) of ``midi`` on the grid of ``truth`` ``[keys, T]``,
    whose row ``k`` is MIDI pitch ``low + k`` and whose columns are frames at ``fps``. Notes outside the keys are left
    out; a key of ``truth`` is on where it is > 0."""
    truth = np.asarray(truth)
    if truth.ndim != 2:
        raise ValueError(f"frame_scores: truth must be a [keys, T] roll, got shape {truth.shape}")
    high = low + truth.shape[0] - 1
    roll = midi_to_roll(midi, fps, low=low, high=high, frames=truth.shape[1], binary=True)
    scores = FramePRF(threshold=0.5).forward(torch.as_tensor(roll), torch.as_tensor(truth))
    return {name: float(value) for name, value in scores.items()}


__all__ = ["frame_scores", "onset_f1"]
