"""Audio reading: soundfile (WAV/FLAC/OGG/MP3 via libsndfile), PyAV for what soundfile cannot open (AAC in MP4/M4A),
resampling to the model's rate with soxr (librosa's default resampler, here called directly).

Every reader returns float32 mono ``[N]`` at the requested ``sample_rate``; the file's own rate is always read from
its header, never assumed (URMP is 48 kHz/24-bit, Solos 16 kHz, AIST++ unconfirmed), so a file at an unexpected rate
is resampled, not misread. Errors name the file; a WAV holding less data than its header declares is an error
(:func:`check_complete`), not a shorter file.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
import soxr


def _wav_data(path: Path) -> Optional[tuple[int, int, int]]:
    """(sample rate, frames the header declares, frames present) of a RIFF/WAVE file; None for anything else or a
    header that leaves the length open (data size 0 or 0xFFFFFFFF, as streaming writers leave it)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        rate = block = 0
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk_id, chunk_size = handle.read(4), struct.unpack("<I", handle.read(4))[0]
            if chunk_id == b"fmt ":
                fmt = handle.read(16)
                if len(fmt) < 16:
                    return None
                rate, block = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
            elif chunk_id == b"data":
                if not rate or not block or chunk_size in (0, 0xFFFFFFFF):
                    return None
                return rate, chunk_size // block, min(chunk_size, size - pos - 8) // block
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


@lru_cache(maxsize=4096)
def _check_complete(path: Path, size: int, mtime_ns: int) -> None:
    data = _wav_data(path) if path.suffix.lower() == ".wav" else None
    if data is not None and data[2] < data[1]:
        rate, declared, present = data
        raise ValueError(
            f"audio file {path} is truncated: header {declared / rate:.2f} s, data {present / rate:.2f} s "
            "(an interrupted download or copy?)"
        )


def check_complete(path: str | Path) -> None:
    """Raise an error naming ``path`` when a WAV holds fewer samples than its header declares (libsndfile would read
    the shorter file silently). Other formats carry no length to compare with."""
    path = Path(path)
    stat = path.stat()
    _check_complete(path, stat.st_size, stat.st_mtime_ns)


def audio_info(path: str | Path) -> tuple[int, float]:
    """(sample rate, duration in seconds) of an audio file, from its header (a truncated WAV is an error)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    check_complete(path)
    try:
        info = sf.info(str(path))
        return int(info.samplerate), float(info.frames) / info.samplerate
    except (RuntimeError, sf.LibsndfileError):
        samples, rate = _pyav_decode(path)
        return rate, len(samples) / rate


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample float32 ``[N]`` (or ``[N, C]``) from ``src_rate`` to ``dst_rate`` with soxr (high quality)."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    audio = np.asarray(audio, dtype=np.float32)
    if src_rate == dst_rate or len(audio) == 0:
        return audio
    return soxr.resample(audio, src_rate, dst_rate, quality="HQ").astype(np.float32, copy=False)


def _pyav_decode(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise RuntimeError("no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
            rate = int(stream.rate)
    except (av.error.FFmpegError, RuntimeError) as error:
        raise RuntimeError(f"cannot decode audio file {path} (corrupt or not audio): {error}") from error
    if not chunks:
        raise RuntimeError(f"audio file {path} holds no samples")
    return np.concatenate(chunks).astype(np.float32), rate


def load_audio(
    path: str | Path,
    sample_rate: Optional[int] = None,
    start: float = 0.0,
    duration: Optional[float] = None,
    pad: bool = True,
) -> np.ndarray:
    """Float32 mono samples of ``path`` from ``start`` seconds, ``duration`` seconds long (default: to the end),
    resampled to ``sample_rate`` (default: the file's rate).

    Channels are averaged. When the window runs past the end of the file the tail is zeros (``pad``; the output has
    exactly ``round(duration * sample_rate)`` samples) or an error; a window starting past the end is an error.
    Non-finite samples are an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    if start < 0:
        raise ValueError(f"negative start {start} s for audio file {path}")
    check_complete(path)
    try:
        with sf.SoundFile(str(path)) as handle:
            rate, total = int(handle.samplerate), int(handle.frames)
            first = int(round(start * rate))
            count = total - first if duration is None else int(round(duration * rate))
            if first >= total and (duration is None or duration > 0):
                raise ValueError(
                    f"audio file {path} lasts {total / rate:.3f} s; a clip from {start:.3f} s was asked for"
                )
            handle.seek(min(first, total))
            data = handle.read(max(0, min(count, total - first)), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as error:
        if "Format not recognised" not in str(error) and "unknown format" not in str(error).lower():
            raise RuntimeError(f"cannot read audio file {path} (corrupt or truncated?): {error}") from error
        samples, rate = _pyav_decode(path)
        total, first = len(samples), int(round(start * rate))
        count = total - first if duration is None else int(round(duration * rate))
        if first >= total:
            raise ValueError(
                f"audio file {path} lasts {total / rate:.3f} s; a clip from {start:.3f} s was asked for"
            ) from None
        data = samples[first : first + count, None]
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if len(audio) < count:
        if not pad:
            raise ValueError(f"audio file {path} ends at {total / rate:.3f} s, before the clip's end "
                             f"{start + count / rate:.3f} s")  # fmt: skip
        audio = np.concatenate([audio, np.zeros(count - len(audio), dtype=np.float32)])
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"audio file {path} contains NaN or Inf samples")
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, int(sample_rate))
        if duration is not None:
            want = int(round(duration * sample_rate))
            audio = audio[:want] if len(audio) >= want else np.pad(audio, (0, want - len(audio)))
    return np.ascontiguousarray(audio, dtype=np.float32)


def beat_times(
    path: str | Path, sample_rate: int = 22050, hop_length: int = 512, refine_hop: int = 32, refine_fft: int = 512
) -> np.ndarray:
    """Beat times (seconds) of the music in ``path``: librosa's dynamic-programming beat tracker (Ellis 2007) on the
    onset strength envelope, then each beat moved onto its onset. Used for the ``beats`` field where a dataset has
    music but no beat annotation.

    The tracker works on frames of ``hop_length`` samples (23 ms at 22050 Hz) and keeps a steady period, so its beats
    land up to about 30 ms after the onsets (two frames at 60 fps). Each beat is therefore moved to the strongest
    onset of a fine envelope (hop ``refine_hop``, window ``refine_fft``: 1.5 ms steps) within 1.5 tracker frames of
    it; a beat with no onset there (silence) stays where the tracker put it (docs/DATASETS.md §12)."""
    import librosa

    audio = load_audio(path, sample_rate)
    _, frames = librosa.beat.beat_track(y=audio, sr=sample_rate, hop_length=hop_length, units="frames")
    beats = np.asarray(librosa.frames_to_time(frames, sr=sample_rate, hop_length=hop_length), dtype=np.float64)
    if len(beats) == 0:
        return beats
    envelope = librosa.onset.onset_strength(y=audio, sr=sample_rate, hop_length=refine_hop, n_fft=refine_fft)
    times = librosa.frames_to_time(np.arange(len(envelope)), sr=sample_rate, hop_length=refine_hop)
    reach = 1.5 * hop_length / sample_rate
    for k, beat in enumerate(beats):
        near = np.flatnonzero(np.abs(times - beat) <= reach)
        if len(near) and envelope[near].max() > 0:
            beats[k] = times[near[np.argmax(envelope[near])]]
    return beats


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: Optional[str] = None) -> Path:
    """Write mono float audio with soundfile, atomically (tmp file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    sf.write(
        str(tmp),
        np.asarray(audio, dtype=np.float32),
        int(sample_rate),
        subtype=subtype,
        format=path.suffix[1:].upper() or "WAV",
    )
    tmp.replace(path)
    return path


__all__ = ["audio_info", "beat_times", "check_complete", "load_audio", "resample", "write_audio"]
