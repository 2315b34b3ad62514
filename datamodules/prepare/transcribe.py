"""Audio -> pseudo ground-truth MIDI (Audeo §3.3 used Onsets-and-Frames on Paul Barton's audio; Foley Music §4.1 an
automatic transcription tool for URMP/MUSIC/AtinPiano), with two transcribers whose weights ship in their wheels:

- ``basic_pitch``: Spotify's Basic Pitch 0.4.0 (ICASSP 2022), any instrument, ONNX model (2 MB) run by onnxruntime.
  Installed ``--no-deps`` (its requirements name TensorFlow); per-note pitch bends are dropped by default (they share
  one MIDI channel and garble piano rolls).
- ``transkun``: Yan & Duan's Transkun 2.0.1 (NeurIPS 2021 / ISMIR 2024), piano only, far more accurate, 0.5-1x
  real time on a CPU. Installed ``--no-deps`` (its requirements name torchaudio, used only for a mel filterbank:
  :mod:`datamodules.prepare.torchaudio_compat`).

Models are loaded once per process. Audio is read with :func:`datamodules.audio.load_audio` (any format, resampled).
:func:`metrics.note_scores.onset_f1` scores a transcription against a reference (onsets only, 50 ms).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from pathlib import Path
from typing import Any, Literal

from datamodules.audio import load_audio
from datamodules.prepare.jobs import Job, Report, collect, mirror, run_jobs

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".mp4")
Transcriber = Literal["basic_pitch", "transkun"]
TRANSCRIBERS = ("basic_pitch", "transkun")


# ------------------------------------------------------------------------------------------------------ basic-pitch
@functools.cache
def _basic_pitch_model() -> Any:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # basic-pitch warns at import about every backend it does not find (TF, CoreML...)
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import Model
    except ImportError as error:
        raise RuntimeError(
            f"basic-pitch is not installed ({error}); install it with "
            "`pip install --no-deps basic-pitch==0.4.0 && pip install onnxruntime resampy` (or `make install`)"
        ) from error
    finally:
        root.setLevel(level)
    return Model(ICASSP_2022_MODEL_PATH)


def transcribe_basic_pitch(
    path: Path,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    minimum_note_ms: float = 127.7,
    program: int = 0,
    pitch_bends: bool = False,
) -> Any:
    """``pretty_midi.PrettyMIDI`` of an audio file with Basic Pitch (its published default thresholds)."""
    model = _basic_pitch_model()
    from basic_pitch.inference import predict

    try:
        # it prints "Predicting MIDI for ..." and divides by zero on silence (then finds no notes: an error below)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _, midi, _ = predict(
                str(path),
                model,
                onset_threshold=onset_threshold,
                frame_threshold=frame_threshold,
                minimum_note_length=minimum_note_ms,
                midi_tempo=120,
            )
    except Exception as error:  # noqa: BLE001 - librosa/audioread raise many types on bad files
        raise RuntimeError(f"basic-pitch cannot transcribe {path}: {error}") from error
    for instrument in midi.instruments:
        instrument.program = int(program)
        if not pitch_bends:
            instrument.pitch_bends = []
    return midi


# --------------------------------------------------------------------------------------------------------- transkun
@functools.cache
def _transkun_model() -> Any:
    import torch

    try:
        import moduleconf
        import transkun
    except ImportError as error:
        raise RuntimeError(
            f"transkun is not installed ({error}); install it with `pip install --no-deps transkun==2.0.1 && "
            "pip install moduleconf soxr pydub ncls` (or `make install`)"
        ) from error
    from datamodules.prepare.torchaudio_compat import torchaudio_shim

    folder = Path(transkun.__file__).parent / "pretrained"
    conf_manager = moduleconf.parseFromFile(str(folder / "2.0.conf"))
    with torchaudio_shim():
        model_class = conf_manager["Model"].module.TransKun
        model = model_class(conf=conf_manager["Model"].config)
    checkpoint = torch.load(folder / "2.0.pt", map_location="cpu", weights_only=False)  # the wheel's own file
    model.load_state_dict(checkpoint.get("best_state_dict", checkpoint.get("state_dict")), strict=False)
    return model.eval()


def transcribe_transkun(path: Path, program: int = 0) -> Any:
    """``pretty_midi.PrettyMIDI`` of a piano recording with Transkun 2.0 (notes with velocities, sustain pedal)."""
    import torch
    from transkun.Data import writeMidi

    model = _transkun_model()
    audio = load_audio(path, sample_rate=int(model.fs))
    if len(audio) == 0:
        raise ValueError(f"audio file {path} holds no samples")
    with torch.inference_mode():
        notes = model.transcribe(torch.from_numpy(audio)[:, None].float(), discardSecondHalf=False)
    midi = writeMidi(notes)
    for instrument in midi.instruments:
        instrument.program = int(program)
    return midi


def transcribe(path: Path, transcriber: Transcriber = "basic_pitch", **options: Any) -> Any:
    """Transcribe one audio file with ``transcriber`` (``basic_pitch`` or ``transkun``) -> ``PrettyMIDI``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    if transcriber == "basic_pitch":
        return transcribe_basic_pitch(path, **options)
    if transcriber == "transkun":
        return transcribe_transkun(path, **options)
    raise ValueError(f"unknown transcriber {transcriber!r} (one of {TRANSCRIBERS})")


# ------------------------------------------------------------------------------------------------------------ task
def prepare_transcriptions(
    src: Path,
    out: Path,
    transcriber: Transcriber = "basic_pitch",
    overwrite: bool = False,
    progress: bool = True,
    program: int = 0,
) -> Report:
    """Every audio file under ``src`` -> ``<out>/<same relative path>.mid``; a transcription without notes is an
    error for that file (a silent or non-musical recording), never an empty pseudo ground truth."""
    if transcriber not in TRANSCRIBERS:
        raise ValueError(f"unknown transcriber {transcriber!r} (one of {TRANSCRIBERS})")
    src, out = Path(src), Path(out)
    jobs = [Job(path, mirror(src, path, out, ".mid")) for path in collect(src, AUDIO_SUFFIXES, "audio")]

    def work(job: Job, tmp: Path) -> None:
        midi = transcribe(job.src, transcriber, program=program)
        if not any(inst.notes for inst in midi.instruments):
            raise ValueError(f"{transcriber} found no notes in {job.src} (silent or not music?)")
        midi.write(str(tmp))

    return run_jobs(jobs, work, f"transcribe ({transcriber})", overwrite=overwrite, progress=progress)


__all__ = ["TRANSCRIBERS", "prepare_transcriptions", "transcribe"]
