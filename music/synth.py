"""Render MIDI to audio with FluidSynth and a General-MIDI SoundFont (Foley Music §3.2's "standard synthesizer").

:func:`render` drives libfluidsynth directly (through pyfluidsynth's ctypes binding) instead of
``pretty_midi.PrettyMIDI.fluidsynth``: that one reloads the SoundFont on every call and renders every instrument
separately, which costs seconds per call with FluidR3 (142 MB). Here each SoundFont is loaded once per process and
lent to a fresh synthesizer per call (so results are deterministic), and all instruments play at once on their own
MIDI channels (drums on channel 10 with the percussion bank): 0.01-0.04 s per second of music (16-44.1 kHz).

SoundFont choice (first that applies): the ``soundfont`` argument, the ``V2M_SOUNDFONT`` environment variable,
Debian's FluidR3 (``/usr/share/sounds/sf2/FluidR3_GM.sf2``, package ``fluid-soundfont-gm``), pretty_midi's bundled
TimGM6mb.
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
INSTALL_HINT = "apt-get install libfluidsynth3 fluid-soundfont-gm"
RELEASE_S = 0.5  # audio kept after the last note-off, so the notes' release (and reverb) is not cut
GAIN = 0.4  # FluidSynth master gain: a solo piano peaks near 0.15, a string quartet near 0.5 (FluidR3)
_BLOCK = 8192  # samples rendered per libfluidsynth call between events
_FLUID_WARN = 2  # libfluidsynth's log level for warnings
_DRUM_CHANNELS = tuple(range(9, 256, 16))  # MIDI channel 10 of every 16-channel port

_lock = threading.Lock()
_soundfonts: dict[tuple[str, int], _SoundFont] = {}


def default_soundfont() -> Path:
    """The SoundFont :func:`render` uses when none is given (see the module docstring for the order)."""
    env = os.environ.get("V2M_SOUNDFONT")
    if env:
        return Path(env)
    if FLUIDR3.is_file():
        return FLUIDR3
    import pretty_midi

    return Path(pretty_midi.__file__).parent / pretty_midi.pretty_midi.DEFAULT_SF2


def _fluidsynth() -> Any:
    """Import pyfluidsynth; one clear error (with the install command) when it or libfluidsynth is missing."""
    try:
        import fluidsynth
    except (ImportError, OSError) as error:
        raise RuntimeError(
            f"FluidSynth is not available ({error}). Install the library and a General-MIDI SoundFont with "
            f"`{INSTALL_HINT}` (Debian/Ubuntu, as root) and the Python binding with `pip install pyfluidsynth`."
        ) from error
    return fluidsynth


class _SoundFont:
    """A SoundFont loaded once per process (by a holder synthesizer) and lent to a fresh synthesizer per render.

    A fresh synthesizer per render makes rendering deterministic: FluidSynth's reverb and chorus contain free-running
    modulation oscillators, so a long-lived synthesizer gives slightly different samples for the same MIDI depending
    on what it rendered before. Creating a synthesizer costs ~20 ms; loading FluidR3 ~200 ms, hence the sharing
    (``fluid_synth_add_sfont`` / ``fluid_synth_remove_sfont``, which pyfluidsynth does not wrap).
    """

    def __init__(self, path: Path) -> None:
        self.fluidsynth = fluidsynth = _fluidsynth()
        lib = fluidsynth._fl
        self._get = _cfunc(lib.fluid_synth_get_sfont_by_id, ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int])
        self.add = _cfunc(lib.fluid_synth_add_sfont, ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p])
        self.remove = _cfunc(lib.fluid_synth_remove_sfont, ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p])
        self.set_log = _cfunc(
            lib.fluid_set_log_function, ctypes.c_void_p, [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        )
        self.write = _cfunc(
            lib.fluid_synth_write_float,
            ctypes.c_int,
            [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2,
        )
        self.holder = fluidsynth.Synth()
        sfid = self.holder.sfload(str(path))
        self.sfont = self._get(self.holder.synth, sfid) if sfid >= 0 else None
        if not self.sfont:
            self.holder.delete()
            raise RuntimeError(f"FluidSynth could not load the SoundFont {path} (not a valid .sf2 file?)")


def _cfunc(function: Any, restype: Any, argtypes: list[Any]) -> Any:
    function.restype, function.argtypes = restype, argtypes
    return function


def _soundfont_for(path: Path) -> _SoundFont:
    key = (str(path.resolve()), os.getpid())
    if key not in _soundfonts:
        _soundfonts[key] = _SoundFont(path)
    return _soundfonts[key]


class _Render:
    """A fresh synthesizer at ``sample_rate`` playing ``soundfont``; renders float32 mono into given arrays."""

    def __init__(self, soundfont: _SoundFont, sample_rate: int, channels: int) -> None:
        self.soundfont = soundfont
        self.synth = soundfont.fluidsynth.Synth(
            gain=GAIN, samplerate=float(sample_rate), channels=channels, **{"synth.polyphony": 1024}
        )
        self.sfid = soundfont.add(self.synth.synth, soundfont.sfont)
        self._left = np.zeros(_BLOCK, dtype=np.float32)
        self._right = np.zeros(_BLOCK, dtype=np.float32)

    def samples(self, out: np.ndarray) -> None:
        """Render ``len(out)`` samples, writing their mono mix (mean of left and right) into ``out``."""
        done = 0
        while done < len(out):
            n = min(_BLOCK, len(out) - done)
            left, right = self._left.ctypes.data_as(ctypes.c_void_p), self._right.ctypes.data_as(ctypes.c_void_p)
            self.soundfont.write(self.synth.synth, n, left, 0, 1, right, 0, 1)
            out[done : done + n] = 0.5 * (self._left[:n] + self._right[:n])
            done += n

    def close(self) -> None:
        """Give the SoundFont back (so deleting the synthesizer does not free it) and delete the synthesizer.

        Removing the SoundFont makes FluidSynth warn once per channel that no preset is left; those warnings are
        muted for that call only.
        """
        previous = self.soundfont.set_log(_FLUID_WARN, None, None)
        try:
            self.soundfont.remove(self.synth.synth, self.soundfont.sfont)
        finally:
            self.soundfont.set_log(_FLUID_WARN, previous, None)
        self.synth.delete()


def _events(midi: Any, sample_rate: int) -> tuple[list[tuple[int, int, int, int, int]], list[tuple[int, int, bool]]]:
    """All channel events as (sample, priority, channel, a, b), and each channel's (channel, program, is_drum).

    Priority orders events at the same sample: note-offs first (so a repeated note re-sounds), then controllers and
    pitch bends, then note-ons. Each instrument gets its own channel (drums on channel 10 of a 16-channel port);
    beyond 256 channels instruments share channels round-robin.
    """
    melodic = [c for c in range(256) if c not in _DRUM_CHANNELS]
    drums = list(_DRUM_CHANNELS)
    events: list[tuple[int, int, int, int, int]] = []
    setup: list[tuple[int, int, bool]] = []
    n_melodic = n_drum = 0
    for instrument in midi.instruments:
        if instrument.is_drum:
            channel = drums[n_drum % len(drums)]
            n_drum += 1
        else:
            channel = melodic[n_melodic % len(melodic)]
            n_melodic += 1
        setup.append((channel, int(instrument.program), bool(instrument.is_drum)))
        for note in instrument.notes:
            start = int(round(note.start * sample_rate))
            end = max(int(round(note.end * sample_rate)), start + 1)
            pitch, velocity = int(note.pitch), int(np.clip(note.velocity, 1, 127))
            events.append((start, 3, channel, pitch, velocity))
            events.append((end, 0, channel, pitch, 0))
        for change in instrument.control_changes:
            events.append((int(round(change.time * sample_rate)), 1, channel, int(change.number), int(change.value)))
        for bend in instrument.pitch_bends:
            events.append((int(round(bend.time * sample_rate)), 2, channel, int(bend.pitch), 0))
    events.sort()
    return events, setup


def music_end(midi: Any) -> float:
    """Time in seconds at which the last note (of any instrument) ends; 0.0 without notes."""
    return max((note.end for instrument in midi.instruments for note in instrument.notes), default=0.0)


def render(
    midi: Any,
    sample_rate: int = 16000,
    soundfont: str | os.PathLike | None = None,
    release: float = RELEASE_S,
    normalize: bool = False,
) -> np.ndarray:
    """Render a ``pretty_midi.PrettyMIDI`` to float32 mono audio with FluidSynth.

    Every instrument plays with its General-MIDI program (``is_drum`` instruments with the percussion kit), including
    control changes (sustain pedal, volume...) and pitch bends. The result lasts from time 0 to the end of the last
    note plus ``release`` seconds: ``round((music_end(midi) + release) * sample_rate)`` samples. A MIDI without notes
    renders as ``release`` seconds of silence (not an error, so that an untrained model's empty output can still be
    logged). Levels are FluidSynth's at master gain :data:`GAIN`; ``normalize=True`` scales the peak to 0.9 instead.

    Args:
        midi: the music.
        sample_rate: output rate in Hz.
        soundfont: a .sf2 file; default :func:`default_soundfont`.
        release: seconds kept after the last note ends.
        normalize: peak-normalise the result.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if release < 0:
        raise ValueError(f"release must be >= 0 seconds, got {release}")
    soundfont = Path(soundfont) if soundfont is not None else default_soundfont()
    if not soundfont.is_file():
        raise FileNotFoundError(
            f"SoundFont {soundfont} does not exist (install one with `{INSTALL_HINT}`, or pass soundfont= / set "
            "V2M_SOUNDFONT to a .sf2 file)"
        )
    length = int(round((music_end(midi) + release) * sample_rate))
    audio = np.zeros(length, dtype=np.float32)
    events, setup = _events(midi, sample_rate)
    if not events:
        return audio
    channels = max(channel for channel, _, _ in setup) // 16 * 16 + 16
    with _lock:
        synth = _Render(_soundfont_for(soundfont), sample_rate, channels)
        try:
            fs = synth.synth
            for channel, program, is_drum in setup:
                if fs.program_select(channel, synth.sfid, 128 if is_drum else 0, program) != 0:
                    what = f"drum kit {program}" if is_drum else f"program {program}"
                    warnings.warn(f"SoundFont {soundfont} has no {what}: that track stays silent", stacklevel=2)
            position = 0
            for sample, kind, channel, a, b in events:
                sample = min(sample, length)
                if sample > position:
                    synth.samples(audio[position:sample])
                    position = sample
                if kind == 3:
                    fs.noteon(channel, a, b)
                elif kind == 0:
                    fs.noteoff(channel, a)
                elif kind == 1:
                    fs.cc(channel, a, b)
                else:
                    fs.pitch_bend(channel, a)
            if position < length:
                synth.samples(audio[position:])
        finally:
            synth.close()
    if normalize:
        peak = float(np.abs(audio).max())
        if peak > 0:
            audio *= 0.9 / peak
    return audio


def real_time_factor(midi: Any, sample_rate: int = 16000, soundfont: str | os.PathLike | None = None) -> float:
    """Seconds of computation per second of rendered audio (measured once, after a warm-up render)."""
    import time

    render(midi, sample_rate, soundfont)
    start = time.perf_counter()
    audio = render(midi, sample_rate, soundfont)
    return (time.perf_counter() - start) / max(len(audio) / sample_rate, 1e-9)


__all__ = ["FLUIDR3", "INSTALL_HINT", "RELEASE_S", "default_soundfont", "music_end", "real_time_factor", "render"]
