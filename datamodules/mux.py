"""Put a generated soundtrack on a video: the video stream is copied packet for packet (no re-encoding, so no
quality loss), the waveform is encoded as AAC, and the result is written atomically. PyAV does the work."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AAC_FRAME = 1024


def mux_audio(video: Path, audio: np.ndarray, sample_rate: int, out: Path) -> Path:
    """Write ``out`` = the video stream of ``video`` + ``audio`` (float32 mono in [-1, 1]) as AAC."""
    video, out = Path(video), Path(out)
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"mux_audio: the soundtrack for {out} contains NaN or Inf samples")
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix or '.mp4'}")
    try:
        source = av.open(str(video))
    except av.error.FFmpegError as error:
        raise RuntimeError(f"mux_audio: cannot open video {video}: {error}") from error
    with source, av.open(str(tmp), mode="w", format="mp4") as sink:
        if not source.streams.video:
            raise RuntimeError(f"mux_audio: {video} has no video stream")
        in_video = source.streams.video[0]
        out_video = sink.add_stream_from_template(in_video)
        out_audio = sink.add_stream("aac", rate=sample_rate)
        out_audio.layout = "mono"
        out_audio.time_base = Fraction(1, sample_rate)
        for packet in source.demux(in_video):
            if packet.dts is None:
                continue
            packet.stream = out_video
            sink.mux(packet)
        pts = 0
        for start in range(0, len(audio), AAC_FRAME):
            chunk = np.clip(audio[start : start + AAC_FRAME], -1.0, 1.0)
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = pts
            frame.time_base = Fraction(1, sample_rate)
            pts += len(chunk)
            sink.mux(out_audio.encode(frame))
        sink.mux(out_audio.encode(None))
    tmp.replace(out)
    return out
