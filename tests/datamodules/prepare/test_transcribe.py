"""Audio -> pseudo ground-truth MIDI (datamodules.prepare.transcribe), scored with mir_eval on a FluidSynth rendering
of Bach's Prelude in C (BWV 846, music21 corpus): basic-pitch F1 >= 0.7, transkun F1 >= 0.95 (note onsets, 50 ms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from datamodules.prepare import run
from datamodules.prepare.transcribe import transcribe
from metrics.note_scores import onset_f1

RATE = 22050


def bwv846(seconds: float | None) -> pretty_midi.PrettyMIDI:
    from music.corpus import load_corpus_midi

    midi = load_corpus_midi("bach/bwv846")
    if seconds is not None:
        for instrument in midi.instruments:
            instrument.notes = [n for n in instrument.notes if n.end <= seconds]
    return midi


def render_to(path: Path, midi: pretty_midi.PrettyMIDI) -> Path:
    from music.synth import render

    sf.write(path, render(midi, RATE), RATE)
    return path


def test_melscale_fbanks_matches_the_checkpoint_built_with_torchaudio() -> None:
    """The compatibility layer's filterbank equals the one torchaudio computed when transkun's checkpoint was saved."""
    import librosa
    import torch

    transkun = pytest.importorskip("transkun")
    from datamodules.prepare.torchaudio_compat import melscale_fbanks, torchaudio_shim

    checkpoint = torch.load(
        Path(transkun.__file__).parent / "pretrained/2.0.pt", map_location="cpu", weights_only=False
    )
    state = checkpoint.get("best_state_dict") or checkpoint["state_dict"]
    saved = state["framewiseFeatureExtractor.freq2mels"]
    ours = melscale_fbanks(4096 // 2 + 1, 30, 8000, 229, 44100)
    torch.testing.assert_close(ours, saved, atol=1e-6, rtol=0)
    htk = librosa.filters.mel(sr=44100, n_fft=4096, n_mels=229, fmin=30, fmax=8000, htk=True, norm=None)
    np.testing.assert_allclose(ours.numpy(), htk.T, atol=1e-4)
    import sys

    real = sys.modules.get("torchaudio")
    with torchaudio_shim():
        import torchaudio

        assert torchaudio.functional.melscale_fbanks(9, 0, 100, 3, 200).shape == (9, 3)
    if real is None and not hasattr(torchaudio, "__version__"):  # the stand-in was used: it is gone again
        assert "torchaudio" not in sys.modules
    from datamodules.prepare.transcribe import _transkun_model

    model = _transkun_model()  # built through the shim, with the wheel's weights
    assert model.fs == 44100 and not model.training
    torch.testing.assert_close(model.framewiseFeatureExtractor.freq2mels, saved)


def test_basic_pitch_task_on_a_bwv846_excerpt(tmp_path: Path) -> None:
    pytest.importorskip("basic_pitch")
    reference = bwv846(10.0)
    src = tmp_path / "audio"
    src.mkdir()
    render_to(src / "bwv846.wav", reference)
    sf.write(src / "silence.wav", np.zeros(RATE, np.float32), RATE)
    with pytest.raises(RuntimeError, match="silence.wav.*no notes"):
        run("transcribe", src, tmp_path / "midi", transcriber="basic_pitch", progress=False)
    assert not (tmp_path / "midi" / "silence.mid").exists()
    estimate = pretty_midi.PrettyMIDI(str(tmp_path / "midi" / "bwv846.mid"))
    assert all(not inst.pitch_bends for inst in estimate.instruments)
    scores = onset_f1(reference, estimate)
    print(f"basic-pitch, BWV 846 first 10 s: {scores}")
    assert scores["f1"] >= 0.7 and scores["recall"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize(("transcriber", "minimum"), [("basic_pitch", 0.7), ("transkun", 0.95)])
def test_whole_bwv846(tmp_path: Path, transcriber: str, minimum: float) -> None:
    pytest.importorskip(transcriber)
    reference = bwv846(None)
    estimate = transcribe(render_to(tmp_path / "bwv846.wav", reference), transcriber)
    scores = onset_f1(reference, estimate)
    print(f"{transcriber}, BWV 846 ({reference.get_end_time():.0f} s): {scores}")
    assert scores["f1"] >= minimum


@pytest.mark.slow
def test_transkun_on_an_excerpt_with_velocities(tmp_path: Path) -> None:
    pytest.importorskip("transkun")
    reference = bwv846(6.0)
    estimate = transcribe(render_to(tmp_path / "x.wav", reference), "transkun")
    assert onset_f1(reference, estimate)["f1"] >= 0.95
    velocities = [n.velocity for inst in estimate.instruments for n in inst.notes]
    assert 20 < np.median(velocities) < 127


def test_unknown_transcriber_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown transcriber"):
        run("transcribe", tmp_path, tmp_path / "o", transcriber="crepe")
    with pytest.raises(FileNotFoundError, match="no audio files"):
        run("transcribe", tmp_path, tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="nothing.wav does not exist"):
        transcribe(tmp_path / "nothing.wav")
