"""Video clip reading: decord first, PyAV as the fallback; frame folders (JPEG sequences) with the same interface.

A clip is asked for by time (``start`` seconds, ``num_frames`` at ``fps``) or by frame indices. Frame k of a video
shows the time ``[k / native_fps, (k + 1) / native_fps)``; the frame shown at time t is ``floor(t * native_fps)``, so
resampling 29.97 fps to 22 fps or 25 fps picks exactly the frame on screen at each output time. Frames can be
cropped to a box ``(x1, y1, x2, y2)`` (pixels of the original frame, end exclusive), converted to grayscale and
resized to ``(width, height)``. Output: uint8 ``[T, H, W, 3]`` (RGB) or ``[T, H, W]`` (grayscale).

A file that cannot be opened or decoded raises ``RuntimeError`` naming it; a clip that runs past the end of the video
raises ``ValueError`` naming it unless ``pad=True`` (then the last frame is repeated).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal, Optional

import cv2
import numpy as np

Box = tuple[int, int, int, int]
_EPS = 1e-6


def frame_indices(start: float, num_frames: int, fps: float, native_fps: float) -> np.ndarray:
    """Indices of the native frames on screen at times ``start + k / fps``, k = 0..num_frames-1."""
    if fps <= 0 or native_fps <= 0:
        raise ValueError(f"frame rates must be positive, got fps={fps}, native_fps={native_fps}")
    times = start + np.arange(num_frames) / fps
    return np.floor(times * native_fps + _EPS).astype(np.int64)


def postprocess(
    frames: np.ndarray,
    crop: Optional[Box] = None,
    gray: bool = False,
    size: Optional[tuple[int, int]] = None,
    source: str = "",
) -> np.ndarray:
    """Crop, grayscale and resize RGB uint8 frames ``[T, H, W, 3]`` (``size`` = (width, height))."""
    if crop is not None:
        x1, y1, x2, y2 = (int(v) for v in crop)
        height, width = frames.shape[1:3]
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            raise ValueError(f"crop box {crop} lies outside the {width}x{height} frames of {source}")
        frames = frames[:, y1:y2, x1:x2]
    if gray:
        frames = (
            np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames])
            if len(frames)
            else frames[..., 0]
        )
    if size is not None:
        width, height = int(size[0]), int(size[1])
        if frames.shape[2] != width or frames.shape[1] != height:
            shrink = width * height < frames.shape[1] * frames.shape[2]
            interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            resized = [cv2.resize(np.ascontiguousarray(f), (width, height), interpolation=interp) for f in frames]
            frames = np.stack(resized) if resized else np.zeros((0, height, width) + frames.shape[3:], np.uint8)
    return np.ascontiguousarray(frames)


class FrameSource:
    """What :class:`VideoFile` and :class:`FrameFolder` share: a clip by time is the native frames on screen at the
    clip's times (:meth:`clip_indices`), read with the subclass's ``read_frames(indices, crop, gray, size, pad)``."""

    fps: float
    num_frames: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def clip_indices(self, start: float, num_frames: int, fps: float) -> np.ndarray:
        """Native frame indices shown at times ``start + k / fps``, k = 0..num_frames-1."""
        raise NotImplementedError

    def read_clip(
        self,
        start: float,
        num_frames: int,
        fps: Optional[float] = None,
        crop: Optional[Box] = None,
        gray: bool = False,
        size: Optional[tuple[int, int]] = None,
        pad: bool = False,
    ) -> np.ndarray:
        """``num_frames`` frames at ``fps`` (default: the native rate) from ``start`` seconds."""
        indices = self.clip_indices(start, num_frames, fps or self.fps)
        return self.read_frames(indices, crop=crop, gray=gray, size=size, pad=pad)


class VideoFile(FrameSource):
    """One video file, opened lazily (picklable into DataLoader workers).

    Args:
        path: the video.
        backend: ``auto`` (decord, falling back to PyAV when decord cannot open the file), ``decord`` or ``pyav``.
    """

    def __init__(self, path: str | Path, backend: Literal["auto", "decord", "pyav"] = "auto") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video {self.path} does not exist")
        if backend not in ("auto", "decord", "pyav"):
            raise ValueError(f"unknown video backend {backend!r} (auto, decord, pyav)")
        self.backend = backend
        self._reader = None
        self._kind: Optional[str] = None
        self._info: Optional[tuple[float, int, int, int]] = None

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_reader": None, "_kind": None, "_times": None}

    # ------------------------------------------------------------------ opening
    def _open(self) -> None:
        if self._reader is not None:
            return
        errors = []
        if self.backend in ("auto", "decord"):
            try:
                import decord

                reader = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=1)
                if len(reader) == 0:
                    raise RuntimeError("no frames")
                self._reader, self._kind = reader, "decord"
                height, width = reader[0].shape[:2]
                reader.seek(0)
                self._info = (float(reader.get_avg_fps()), len(reader), width, height)
                return
            except Exception as error:  # noqa: BLE001 - decord raises its own DECORDError type
                errors.append(f"decord: {error}".splitlines()[0])
        if self.backend in ("auto", "pyav"):
            try:
                self._info = _pyav_info(self.path)
                self._reader, self._kind = "pyav", "pyav"
                return
            except Exception as error:  # noqa: BLE001
                errors.append(f"pyav: {error}".splitlines()[0])
        raise RuntimeError(f"cannot open video {self.path} (corrupt, truncated or not a video): {'; '.join(errors)}")

    @property
    def fps(self) -> float:
        self._open()
        return self._info[0]

    @property
    def num_frames(self) -> int:
        self._open()
        return self._info[1]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the decoded frames."""
        self._open()
        return self._info[2], self._info[3]

    @property
    def backend_used(self) -> str:
        self._open()
        return self._kind

    # ------------------------------------------------------------------ reading
    def read_frames(
        self,
        indices: Sequence[int] | np.ndarray,
        crop: Optional[Box] = None,
        gray: bool = False,
        size: Optional[tuple[int, int]] = None,
        pad: bool = False,
    ) -> np.ndarray:
        """Native frames ``indices``; indices past the end repeat the last frame when ``pad`` else raise."""
        self._open()
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and indices.min() < 0:
            raise ValueError(f"negative frame index {indices.min()} for video {self.path}")
        last = self.num_frames - 1
        if indices.size and indices.max() > last:
            if not pad:
                raise ValueError(
                    f"video {self.path} has {self.num_frames} frames ({self.duration:.3f} s at {self.fps:.3f} fps); "
                    f"frame {int(indices.max())} was asked for"
                )
            indices = np.minimum(indices, last)
        if self._kind == "decord":
            try:
                frames = self._reader.get_batch(indices.tolist()).asnumpy()
            except Exception as error:  # noqa: BLE001
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise RuntimeError(
                    f"cannot decode frames of video {self.path} (corrupt or truncated?): {reason}"
                ) from error
        else:
            frames = _pyav_read(self.path, indices, self.fps)
        return postprocess(frames, crop, gray, size, source=str(self.path))

    def clip_indices(self, start: float, num_frames: int, fps: float) -> np.ndarray:
        """By the decoded frame times when known (variable frame rate), else ``floor(t * native_fps)``."""
        native = self.fps
        indices = frame_indices(start, num_frames, fps, native)
        starts = self.frame_times()
        if starts is not None:
            times = start + np.arange(num_frames) / fps
            by_time = np.searchsorted(starts, times + _EPS, side="right") - 1
            # frames past the last one keep the fps formula, so the end-of-video check in read_frames still applies
            indices = np.where(times < starts[-1] + 1.0 / native, np.maximum(by_time, 0), indices)
        return indices

    def frame_times(self) -> Optional[np.ndarray]:
        """Presentation start time of every frame (decord), used to pick the frame on screen at each clip time, so
        variable-frame-rate videos are read exactly; None when unavailable (then ``floor(t * fps)`` is used)."""
        self._open()
        if self._kind != "decord":
            return None
        if getattr(self, "_times", None) is None:
            try:
                times = np.asarray(self._reader.get_frame_timestamp(np.arange(self.num_frames)))[:, 0]
            except Exception:  # noqa: BLE001 - decord raises its own error type; fall back to the fps formula
                times = np.zeros(0)
            ok = len(times) == self.num_frames and np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)
            self._times = times - times[0] if ok else np.zeros(0)
        return self._times if len(self._times) else None


def _pyav_info(path: Path) -> tuple[float, int, int, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise RuntimeError("no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise RuntimeError("unknown frame rate")
        fps = float(rate)
        count = stream.frames
        if not count:
            duration = (
                float(stream.duration * stream.time_base)
                if stream.duration
                else (container.duration or 0) / 1_000_000  # microseconds
            )
            count = int(round(duration * fps))
        if count <= 0:
            raise RuntimeError("no frames")
        return fps, int(count), int(stream.codec_context.width), int(stream.codec_context.height)


def _pyav_read(path: Path, indices: np.ndarray, fps: float) -> np.ndarray:
    """Decode the frames ``indices`` with PyAV: seek before the first, decode forward, keep by presentation time."""
    import av

    if indices.size == 0:
        return np.zeros((0, 1, 1, 3), dtype=np.uint8)
    wanted = sorted(set(indices.tolist()))
    got: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = stream.start_time or 0
            first_time = wanted[0] / fps
            container.seek(int(start + first_time / stream.time_base), stream=stream, backward=True, any_frame=False)
            previous = None
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                index = int(np.floor(float((frame.pts - start) * stream.time_base) * fps + 0.5))
                image = frame.to_ndarray(format="rgb24")
                # frames missing from the stream (variable rate) show the previous one
                for k in wanted:
                    if k not in got and previous is not None and previous[0] < k < index:
                        got[k] = previous[1]
                if index in wanted:
                    got[index] = image
                previous = (index, image)
                if index >= wanted[-1]:
                    break
            if previous is not None:
                for k in wanted:
                    if k not in got and k > previous[0]:
                        raise RuntimeError(f"stream ends at frame {previous[0]}, frame {k} was asked for")
    except (av.error.FFmpegError, RuntimeError, IndexError) as error:
        raise RuntimeError(f"cannot decode frames of video {path} (corrupt or truncated?): {error}") from error
    missing = [k for k in wanted if k not in got]
    if missing:
        raise RuntimeError(f"cannot decode frames {missing[:5]} of video {path} (corrupt or truncated?)")
    return np.stack([got[int(k)] for k in indices])


class FrameFolder(FrameSource):
    """A folder of numbered still frames used as a video (Sound-of-Pixels ``000001.jpg``, Audeo ``frame{N}.jpg``).

    Frames are ordered by the last number in their names; row k of the folder is frame ``first + k``, shown at time
    ``(number - first + offset) / fps``. A gap in the numbering is an error naming the folder (never a silent shift).

    Args:
        folder: the folder.
        fps: its frame rate.
        pattern: glob of frame files.
        offset: frames to add to (number - first) to get the timeline index, e.g. 0.5 for Sound-of-Pixels whose
            1-based frame i is centred at (i - 0.5) / 8 s.
    """

    def __init__(self, folder: str | Path, fps: float, pattern: str = "*.jpg", offset: float = 0.0) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"frame folder {self.folder} does not exist")
        numbered = []
        for path in self.folder.glob(pattern):
            match = re.search(r"(\d+)(?!.*\d)", path.stem)
            if match is None:
                raise ValueError(f"frame file {path} has no frame number in its name")
            numbered.append((int(match.group(1)), path))
        if not numbered:
            raise FileNotFoundError(f"no frames matching {pattern!r} in {self.folder}")
        numbered.sort()
        numbers = np.array([n for n, _ in numbered])
        gaps = np.nonzero(np.diff(numbers) != 1)[0]
        if gaps.size:
            raise ValueError(
                f"frame folder {self.folder}: frame numbers are not consecutive ({numbers[gaps[0]]} -> "
                f"{numbers[gaps[0] + 1]})"
            )
        self.first = int(numbers[0])
        self.paths = [p for _, p in numbered]
        self.fps = float(fps)
        self.offset = float(offset)

    @property
    def num_frames(self) -> int:
        return len(self.paths)

    def read_frames(
        self,
        indices: Sequence[int] | np.ndarray,
        crop: Optional[Box] = None,
        gray: bool = False,
        size: Optional[tuple[int, int]] = None,
        pad: bool = False,
    ) -> np.ndarray:
        """Rows ``indices`` (0 = the first file) as RGB / grayscale uint8."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_frames):
            if not pad or indices.min() < 0:
                raise ValueError(f"frame folder {self.folder} has {self.num_frames} frames; rows "
                                 f"{int(indices.min())}..{int(indices.max())} were asked for")  # fmt: skip
            indices = np.minimum(indices, self.num_frames - 1)
        frames = []
        for k in indices:
            image = cv2.imread(str(self.paths[k]), cv2.IMREAD_COLOR)
            if image is None:
                raise RuntimeError(f"cannot decode image {self.paths[k]} (corrupt or not an image)")
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        if frames and len({f.shape for f in frames}) != 1:
            raise ValueError(f"frame folder {self.folder}: frames have different sizes")
        stacked = np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)
        return postprocess(stacked, crop, gray, size, source=str(self.folder))

    def clip_indices(self, start: float, num_frames: int, fps: float) -> np.ndarray:
        """Rows on screen at the clip's times (frame row k is centred at ``(k + offset) / fps`` when offset)."""
        times = start + np.arange(num_frames) / fps
        rows = np.floor(times * self.fps - self.offset + 0.5 + _EPS).astype(np.int64) if self.offset else None
        if rows is None:
            rows = np.floor(times * self.fps + _EPS).astype(np.int64)
        return np.maximum(rows, 0)


def open_video(path: str | Path, fps: Optional[float] = None, backend: str = "auto") -> VideoFile | FrameFolder:
    """A video file, or a folder of frames (then ``fps`` is required)."""
    path = Path(path)
    if path.is_dir():
        if fps is None:
            raise ValueError(f"{path} is a frame folder: its fps must be given")
        return FrameFolder(path, fps)
    return VideoFile(path, backend=backend)  # type: ignore[arg-type]


def write_video(path: str | Path, frames: np.ndarray, fps: float, codec: str = "libx264", crf: int = 23) -> Path:
    """Write uint8 RGB ``[T, H, W, 3]`` (or grayscale ``[T, H, W]``) frames as an MP4 with PyAV, atomically."""
    import av

    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"write_video: expected [T, H, W, 3] uint8 frames, got {frames.shape}")
    height, width = frames.shape[1:3]
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix or '.mp4'}")
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for image in frames:
            if width % 2 or height % 2:
                image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        container.mux(stream.encode(None))
    tmp.replace(path)
    return path


__all__ = ["FrameFolder", "FrameSource", "VideoFile", "frame_indices", "open_video", "postprocess", "write_video"]
