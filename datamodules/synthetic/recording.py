"""One synthetic recording session shared by the URMP, Solos and MUSIC writers: corpus excerpt -> per-part audio
(FluidSynth, each part with its instrument's GM program) -> one rule-driven performer per part -> stick-figure video
and detector-like keypoints at any frame rate. Each writer then stores a :class:`Take` in its dataset's own format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datamodules.synthetic import detector, performer, repertoire, stick_video
from datamodules.synthetic.instruments import get

INSTRUMENT_COLOUR = (150, 100, 60)


@dataclass
class Take:
    """A recorded excerpt: the arrangement, per-part audio (float32 mono at ``sample_rate``, equal lengths, mixed
    with one common gain so ``mix`` = sum of parts), one performance per part at ``fps`` in a ``size`` frame."""

    excerpt: repertoire.Excerpt
    audio: list[np.ndarray]
    mix: np.ndarray
    sample_rate: int
    performances: list[performer.Performance]
    fps: float
    size: tuple[int, int]

    @property
    def duration(self) -> float:
        return len(self.mix) / self.sample_rate

    @property
    def num_frames(self) -> int:
        return len(self.performances[0].joints)

    def keypoints(self, player: int, fps: float, rng: np.random.Generator) -> np.ndarray:
        """Detector-like keypoints ``[T, 67, 3]`` (openpose67, pixels) of ``player`` at ``fps`` (exact joints
        interpolated in time, then :func:`detector.observe`)."""
        perf = self.performances[player]
        frames = int(round(self.num_frames / self.fps * fps))
        position = np.arange(frames) * self.fps / fps
        low = np.clip(np.floor(position).astype(int), 0, self.num_frames - 1)
        high = np.clip(low + 1, 0, self.num_frames - 1)
        weight = (position - low)[:, None, None]
        joints = (1 - weight) * perf.joints[low] + weight * perf.joints[high]
        return detector.observe(joints, rng, perf.scale, hands=(performer.LEFT_HAND, performer.RIGHT_HAND))

    def frames(self, every: float = 1.0, offset: float = 0.0):
        """RGB frames of the stick-figure video (a generator); ``every`` > 1 keeps frames at ``fps / every``, the
        k-th at time ``(k + offset) * every / fps``."""
        count = int(self.num_frames / every - offset)
        for k in range(count):
            index = min(int(round((k + offset) * every)), self.num_frames - 1)
            people = [p.joints[index] for p in self.performances]
            props = [(p.outline[index], p.outline_width * p.scale, INSTRUMENT_COLOUR) for p in self.performances]
            thickness = 2 if self.performances[0].scale > 45 else 1
            yield stick_video.draw_frame(self.size, people, "openpose67", props=props, thickness=thickness)

    def write_video(self, path: Path) -> Path:
        """The stick-figure video as H.264 MP4 at ``fps`` with the mixture as its AAC soundtrack."""
        from datamodules.mux import mux_audio

        path = Path(path)
        silent = path.with_name(f".{path.stem}.silent.mp4")
        stick_video.write_mp4(silent, self.frames(), self.fps, self.size)
        try:
            mux_audio(silent, self.mix, self.sample_rate, path)
        finally:
            silent.unlink(missing_ok=True)
        return path


def layout_players(count: int, size: tuple[int, int]) -> tuple[list[tuple[float, float]], float]:
    """Neck positions of ``count`` players side by side in a ``size`` frame, and the body unit in pixels."""
    width, height = size
    scale = min(0.28 * height, 0.42 * width / count)
    neck_y = 0.93 * height - 2.2 * scale
    return [(width * (k + 0.5) / count, neck_y) for k in range(count)], scale


def record(
    work: str,
    instruments: list[str],
    duration: float,
    rng: np.random.Generator,
    sample_rate: int,
    fps: float,
    size: tuple[int, int],
) -> Take:
    """Arrange ``duration`` s of corpus ``work`` for ``instruments``, render each part and perform it."""
    from music.synth import render

    excerpt = repertoire.arrange(work, instruments, duration, rng)
    length = int(round((excerpt.duration + 0.5) * sample_rate))
    audio = []
    for notes, key in zip(excerpt.parts, instruments):
        part = render(repertoire.to_pretty_midi([notes], [get(key).program]), sample_rate)[:length]
        audio.append(np.pad(part, (0, length - len(part))).astype(np.float32))
    mix = np.sum(audio, axis=0)
    gain = 0.8 / max(float(np.abs(mix).max()), 1e-6)
    audio = [a * gain for a in audio]
    mix = (mix * gain).astype(np.float32)
    origins, scale = layout_players(len(instruments), size)
    seconds = length / sample_rate
    performances = [
        performer.perform(key, notes, seconds, fps, origin, scale * float(rng.uniform(0.93, 1.05)), rng)
        for key, notes, origin in zip(instruments, excerpt.parts, origins)
    ]
    return Take(excerpt, audio, mix, sample_rate, performances, fps, size)


def solo_plan(
    categories: Sequence[str], minutes: float, min_count: int, rng: np.random.Generator
) -> tuple[list[str], float]:
    """The categories of ``minutes`` of solo recordings (Solos, MUSIC) and the length of each: every category once
    (in a random order) before any repeats, each take ``total / len(categories)`` seconds clipped to 7..40 s, at least
    ``min_count`` takes."""
    total = minutes * 60.0
    seconds = float(np.clip(total / len(categories), 7.0, 40.0))
    count = max(min_count, int(round(total / seconds)))
    order: list[str] = []
    while len(order) < count:
        batch = list(categories)
        rng.shuffle(batch)
        order.extend(batch)
    return order[:count], seconds


__all__ = ["Take", "layout_players", "record", "solo_plan"]
