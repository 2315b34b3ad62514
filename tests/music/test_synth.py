"""FluidSynth rendering: pitch and length of a piano A4, drums and programs, isolation between calls, errors, speed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from music import synth
from music.corpus import load_corpus_midi
from music.synth import RELEASE_S, render

TIMGM = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _single(pitch: int = 69, program: int = 0, start: float = 0.0, end: float = 1.0, drum: bool = False):
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program, is_drum=drum)
    instrument.notes.append(pretty_midi.Note(100, pitch, start, end))
    midi.instruments.append(instrument)
    return midi


def _peak_hz(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / sample_rate)[np.argmax(spectrum)])


def _semitones(f: float, ref: float) -> float:
    return abs(12 * np.log2(f / ref))


@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_piano_a4_has_its_pitch_and_length(sample_rate: int) -> None:
    audio = render(_single(69), sample_rate=sample_rate)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == round((1.0 + RELEASE_S) * sample_rate)
    assert _semitones(_peak_hz(audio, sample_rate), 440.0) < 1.0
    assert 0.01 < np.abs(audio).max() <= 1.0
    # sound while the key is down, (almost) silence at the very end of the release
    loud = np.sqrt(np.mean(audio[: sample_rate // 2] ** 2))
    tail = np.sqrt(np.mean(audio[-sample_rate // 20 :] ** 2))
    assert tail < 0.1 * loud


def test_programs_drums_and_timing() -> None:
    sr = 16000
    violin = render(_single(76, program=40, start=0.5, end=1.5), sr)  # E5 on a violin, starting at 0.5 s
    assert len(violin) == round((1.5 + RELEASE_S) * sr)
    assert np.abs(violin[: int(0.45 * sr)]).max() < 1e-3 < np.abs(violin[int(0.55 * sr) : sr]).max()
    assert _semitones(_peak_hz(violin[int(0.5 * sr) : int(1.5 * sr)], sr), 659.26) < 1.0
    piano = render(_single(76, program=0, start=0.5, end=1.5), sr)
    assert not np.allclose(violin, piano, atol=1e-3)  # the program changes the sound
    kick = render(_single(36, drum=True, end=0.1), sr)
    assert np.abs(kick).max() > 0.01
    tone = render(_single(36, program=0, end=0.1), sr)
    assert not np.allclose(kick, tone, atol=1e-3)  # a drum kit, not a low C on the piano


def test_renders_are_independent_and_deterministic() -> None:
    chord = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(127, p, 0.0, 2.0) for p in (48, 52, 55, 60, 64, 67)]
    piano.control_changes.append(pretty_midi.ControlChange(64, 127, 0.0))  # sustain pedal held
    chord.instruments.append(piano)
    first = render(_single(69))
    render(chord)  # a loud piece with the pedal down must not leak into the next render
    second = render(_single(69))
    np.testing.assert_array_equal(first, second)


def test_empty_midi_renders_as_short_silence() -> None:
    audio = render(pretty_midi.PrettyMIDI(), sample_rate=16000)
    assert audio.shape == (round(RELEASE_S * 16000),) and not audio.any()
    audio = render(pretty_midi.PrettyMIDI(), sample_rate=16000, release=0.0)
    assert audio.shape == (0,)


def test_soundfont_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if synth.FLUIDR3.is_file():
        monkeypatch.delenv("V2M_SOUNDFONT", raising=False)
        assert synth.default_soundfont() == synth.FLUIDR3
    monkeypatch.setenv("V2M_SOUNDFONT", str(TIMGM))
    assert synth.default_soundfont() == TIMGM
    tim = render(_single(69))
    assert _semitones(_peak_hz(tim, 16000), 440.0) < 1.0
    assert np.array_equal(tim, render(_single(69), soundfont=TIMGM))
    if synth.FLUIDR3.is_file():
        assert not np.allclose(tim, render(_single(69), soundfont=synth.FLUIDR3), atol=1e-3)
    with pytest.raises(FileNotFoundError, match="missing.sf2"):
        render(_single(69), soundfont=tmp_path / "missing.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont")
    with pytest.raises(RuntimeError, match="bad.sf2"):
        render(_single(69), soundfont=bad)


def test_missing_libfluidsynth_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # `import fluidsynth` now raises ImportError
    monkeypatch.setattr(synth, "_soundfonts", {})  # as in a fresh process
    with pytest.raises(RuntimeError, match="apt-get install libfluidsynth3 fluid-soundfont-gm"):
        render(_single(69))


def test_faster_than_real_time() -> None:
    midi = load_corpus_midi("mozart/k545")
    render(midi)  # load the SoundFont
    start = time.perf_counter()
    audio = render(midi)
    factor = (time.perf_counter() - start) / (len(audio) / 16000)
    assert factor < 0.2, f"real-time factor {factor:.3f}"  # measured ~0.01 on 2 shared cores
    assert len(audio) == round((synth.music_end(midi) + RELEASE_S) * 16000)
