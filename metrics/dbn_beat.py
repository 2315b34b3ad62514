"""Beat positions from a beat activation function with madmom's DBN beat tracker (RhythmicNet §3.1, ref. [65]).

Re-implemented from the published algorithm (Krebs, Böck & Widmer, "An efficient state-space model for joint tempo
and meter tracking", ISMIR 2015; madmom's ``DBNBeatTrackingProcessor``) because madmom 0.16 does not install on
Python 3.11. Parameters are madmom's defaults (RhythmicNet gives none): tempo 55-215 bpm, transition λ = 100,
observation λ = 16, ``correct=True``, no activation threshold, uniform initial distribution.

State space: for every integer beat interval ``i`` (frames) from ``round(60 fps / 215)`` to ``round(60 fps / 55)``,
``i`` states at beat positions ``0, 1/i, ..., (i-1)/i``. Transitions: within an interval the position advances one
state per frame (probability 1); from the last state of interval ``i`` to the first state of interval ``j`` with
probability ``∝ exp(-λ |j / i - 1|)`` (rows normalised, values <= machine epsilon dropped). Observation: states
with position < 1/λ_obs are "beat" states with density ``a``, all others ``(1 - a) / (λ_obs - 1)``. The Viterbi path
(log domain) is decoded; with ``correct=True`` each run of consecutive frames in beat states yields one beat at the
frame of highest activation within that run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_BPM, MAX_BPM = 55.0, 215.0
TRANSITION_LAMBDA = 100.0
OBSERVATION_LAMBDA = 16


def _intervals(fps: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    return np.arange(np.round(60.0 * fps / max_bpm), np.round(60.0 * fps / min_bpm) + 1).astype(int)


def _tempo_transitions(intervals: np.ndarray, transition_lambda: float) -> np.ndarray:
    """log P(first state of interval j | last state of interval i), [I, I]."""
    ratio = intervals[None, :].astype(float) / intervals[:, None]
    prob = np.exp(-transition_lambda * np.abs(ratio - 1.0))
    prob[prob <= np.spacing(1)] = 0.0
    prob /= prob.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(prob)


def dbn_beat_track(
    activation: Any,
    fps: float,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
    transition_lambda: float = TRANSITION_LAMBDA,
    observation_lambda: float = OBSERVATION_LAMBDA,
    correct: bool = True,
) -> np.ndarray:
    """Beat times in seconds (float64, ascending) decoded from a beat activation ``[T]`` in [0, 1] at ``fps``."""
    act = np.asarray(activation.detach().cpu() if hasattr(activation, "detach") else activation, dtype=np.float64)
    act = act.reshape(-1)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not 0 < min_bpm < max_bpm:
        raise ValueError(f"need 0 < min_bpm < max_bpm, got {min_bpm}, {max_bpm}")
    if act.size == 0 or not act.any():
        return np.empty(0, dtype=np.float64)
    intervals = _intervals(fps, min_bpm, max_bpm)
    if intervals[0] < 1:
        raise ValueError(f"fps {fps} is too low for tempi up to {max_bpm} bpm")
    first = np.concatenate([[0], np.cumsum(intervals)[:-1]])
    last = np.cumsum(intervals) - 1
    num_states = int(intervals.sum())
    positions = np.concatenate([np.arange(i) / i for i in intervals])
    beat_state = positions < 1.0 / observation_lambda
    log_tempo = _tempo_transitions(intervals, transition_lambda)
    not_first = np.ones(num_states, dtype=bool)
    not_first[first] = False

    with np.errstate(divide="ignore"):
        log_beat = np.log(act)
        log_other = np.log((1.0 - act) / (observation_lambda - 1))
    frames = act.size
    tempo_pointer = np.empty((frames, intervals.size), dtype=np.int32)  # best previous interval for each first state
    viterbi = np.full(num_states, -np.log(num_states))
    for t in range(frames):
        candidates = viterbi[last][:, None] + log_tempo  # [from interval, to interval]
        best = np.argmax(candidates, axis=0)
        new = np.empty_like(viterbi)
        new[not_first] = viterbi[np.flatnonzero(not_first) - 1]
        new[first] = candidates[best, np.arange(intervals.size)]
        tempo_pointer[t] = best
        viterbi = new + np.where(beat_state, log_beat[t], log_other[t])
    state = int(np.argmax(viterbi))
    interval_of = np.repeat(np.arange(intervals.size), intervals)
    first_set = np.zeros(num_states, dtype=bool)
    first_set[first] = True
    path = np.empty(frames, dtype=np.int64)
    path[-1] = state
    for t in range(frames - 1, 0, -1):
        state = last[tempo_pointer[t, interval_of[state]]] if first_set[state] else state - 1
        path[t - 1] = state

    in_beat = beat_state[path]
    if correct:
        change = np.flatnonzero(np.diff(in_beat.astype(np.int8))) + 1
        if in_beat[0]:
            change = np.r_[0, change]
        if in_beat[-1]:
            change = np.r_[change, in_beat.size]
        beats = [left + int(np.argmax(act[left:right])) for left, right in change.reshape(-1, 2)]
    else:
        from scipy.signal import argrelmin

        candidates = argrelmin(positions[path], mode="wrap")[0]
        beats = [b for b in candidates if in_beat[b]]
    return np.asarray(beats, dtype=np.float64) / float(fps)


__all__ = ["dbn_beat_track"]
