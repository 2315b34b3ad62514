"""Abstract music videos whose look follows the music: palette and shapes from the genre, pace and cuts from the tempo.

A video is a sequence of scenes; a cut falls on a beat every ``genre.cut_beats`` beats (so fast genres and fast
tempi cut more often). A scene is a two-colour gradient background and a handful of shapes in the genre's palette
and style (rings and lines for electronic music, soft blobs for ambient...), drifting at ``genre.motion`` screen
widths per beat (faster music moves faster), growing and brightening on every beat by ``genre.pulse`` and relaxing
within a fraction of a beat; a slow camera zoom runs through each scene. The music's energy (one level per second:
0 quiet, 1 medium, 2 full; :meth:`datamodules.synthetic.genres.Piece.energy`) shows as brightness, as the number of
shapes on screen and as their pace (:data:`BRIGHTNESS`, :data:`SHAPES`, :data:`PACE`); the music's lead instrument
does not show at all. OpenCV draws, PyAV encodes H.264.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from datamodules.synthetic.genres import Genre

FPS = 12
SIZE = (256, 144)  # width, height
# per energy level (0 quiet, 1 medium, 2 full): picture brightness, shapes on screen (full: all of the scene's),
# shape pace and beat-pulse strength as a fraction of the genre's
BRIGHTNESS = (0.5, 0.75, 1.0)
SHAPES = (2, 4, None)
PACE = (0.6, 0.8, 1.0)
PULSE = (0.5, 0.8, 1.0)


@dataclass
class Shape:
    kind: str
    colour: np.ndarray  # RGB float
    position: np.ndarray  # [2] in screen fractions
    velocity: np.ndarray  # [2] screen fractions per beat
    size: float  # fraction of the width
    angle: float
    spin: float  # degrees per beat


@dataclass
class Scene:
    start: float
    end: float
    top: np.ndarray
    bottom: np.ndarray
    shapes: list[Shape]
    zoom: float  # zoom change over the scene


def _jitter(colour: tuple[int, int, int], rng: np.random.Generator, amount: float = 18.0) -> np.ndarray:
    return np.clip(np.asarray(colour, dtype=np.float64) + rng.normal(0, amount, 3), 0, 255)


def plan_scenes(genre: Genre, beats: np.ndarray, duration: float, rng: np.random.Generator) -> list[Scene]:
    """Scenes cut on every ``genre.cut_beats``-th beat, each with its own colours and shapes."""
    cuts = [float(t) for t in beats[:: genre.cut_beats] if t < duration] or [0.0]
    cuts[0] = 0.0
    edges = cuts + [duration]
    palette = genre.palette
    scenes = []
    for start, end in zip(edges[:-1], edges[1:]):
        order = rng.permutation(len(palette))
        top, bottom = _jitter(palette[order[0]], rng) * 0.6, _jitter(palette[order[1]], rng) * 0.8
        shapes = []
        for _ in range(int(rng.integers(5, 9))):
            direction = rng.uniform(0, 2 * np.pi)
            speed = genre.motion * rng.uniform(0.5, 1.5)
            shapes.append(
                Shape(
                    kind=str(rng.choice(genre.shapes)),
                    colour=_jitter(palette[order[int(rng.integers(2, len(palette)))]], rng),
                    position=rng.uniform(0.1, 0.9, 2),
                    velocity=speed * np.array([np.cos(direction), np.sin(direction)]),
                    size=float(rng.uniform(0.06, 0.22)),
                    angle=float(rng.uniform(0, 180)),
                    spin=float(rng.normal(0, 20 * genre.motion / 0.1)),
                )
            )
        scenes.append(Scene(start, end, top, bottom, shapes, float(rng.uniform(-0.15, 0.15))))
    return scenes


def _draw(canvas: np.ndarray, shape: Shape, t_beats: float, pulse: float) -> None:
    h, w = canvas.shape[:2]
    pos = (shape.position + shape.velocity * t_beats) % 1.0
    centre = (int(pos[0] * w * 16), int(pos[1] * h * 16))
    radius = max(2.0, shape.size * w * (1.0 + 0.35 * pulse))
    colour = tuple(float(c) for c in np.clip(shape.colour * (0.8 + 0.5 * pulse), 0, 255))
    angle = shape.angle + shape.spin * t_beats
    if shape.kind == "circle":
        cv2.circle(canvas, centre, int(radius * 16), colour, -1, cv2.LINE_AA, 4)
    elif shape.kind == "ring":
        cv2.circle(canvas, centre, int(radius * 16), colour, max(1, int(radius / 5)), cv2.LINE_AA, 4)
    elif shape.kind in ("ellipse", "blob"):
        axes = (int(radius * 16), int(radius * 0.55 * 16))
        cv2.ellipse(canvas, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA, 4)
    elif shape.kind == "rect":
        box = cv2.boxPoints(((pos[0] * w, pos[1] * h), (radius * 1.6, radius * 0.9), angle))
        cv2.fillConvexPoly(canvas, np.round(box * 16).astype(np.int32), colour, cv2.LINE_AA, 4)
    else:  # line
        d = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))]) * radius * 1.5
        a = (int((pos[0] * w - d[0]) * 16), int((pos[1] * h - d[1]) * 16))
        b = (int((pos[0] * w + d[0]) * 16), int((pos[1] * h + d[1]) * 16))
        cv2.line(canvas, a, b, colour, max(1, int(radius / 6)), cv2.LINE_AA, 4)


def render(
    genre: Genre,
    beats: np.ndarray,
    tempo: float,
    duration: float,
    rng: np.random.Generator,
    fps: int = FPS,
    energy: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Frames uint8 [T, H, W, 3] (RGB) of a ``duration``-second video and its cut times. ``energy``: the level of
    every whole second (default: full throughout)."""
    w, h = SIZE
    scenes = plan_scenes(genre, beats, duration, rng)
    frames = np.empty((int(round(duration * fps)), h, w, 3), dtype=np.uint8)
    beat_s = 60.0 / tempo
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    levels = np.full(len(frames), 2, np.int64)
    if energy is not None and len(energy):
        energy = np.asarray(energy, dtype=np.int64)
        levels = energy[np.minimum((np.arange(len(frames)) / fps + 1e-9).astype(np.int64), len(energy) - 1)]
    # shapes move in "paced beats": beats scaled by the energy's pace, summed frame by frame (no jumps at a change)
    paced = np.concatenate([[0.0], np.cumsum([PACE[lv] / (fps * beat_s) for lv in levels[:-1]])])
    scene_index = 0
    for i in range(len(frames)):
        t, level = i / fps, int(levels[i])
        while scene_index + 1 < len(scenes) and t >= scenes[scene_index].end:
            scene_index += 1
        scene = scenes[scene_index]
        since = t - beats[beats <= t + 1e-9].max() if np.any(beats <= t + 1e-9) else 1.0
        pulse = PULSE[level] * genre.pulse * float(np.exp(-since / (0.25 * beat_s)))
        canvas = (scene.top * (1 - ramp) + scene.bottom * ramp).astype(np.float32) * np.ones((1, w, 1), np.float32)
        canvas *= 1.0 + 0.25 * pulse
        scene_first = int(np.ceil(scene.start * fps - 1e-9))
        for shape in scene.shapes[: SHAPES[level]]:
            _draw(canvas, shape, paced[i] - paced[min(scene_first, i)], pulse)
        canvas *= BRIGHTNESS[level]
        if genre.name == "ambient":
            canvas = cv2.GaussianBlur(canvas, (0, 0), 3.0)
        progress = (t - scene.start) / max(scene.end - scene.start, 1e-6)
        zoom = 1.0 + scene.zoom * progress
        if abs(zoom - 1.0) > 1e-3:
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
            canvas = cv2.warpAffine(canvas, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
        frames[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    return frames, [s.start for s in scenes]


def write_mp4(path: Path, frames: np.ndarray, fps: int = FPS) -> Path:
    """Encode RGB frames as H.264 MP4 (yuv420p), written atomically."""
    import av

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "28", "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode(None))
    tmp.replace(path)
    return path
