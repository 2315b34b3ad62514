"""A synthetic dancer: 3-D COCO-17 joints (metres, y up) at 60 fps whose moves are timed by the music's beats.

Rules:

- bounce: on every beat the body dips (hips, torso and head lowest exactly on the beat, knees bending forward);
- steps: the weight shifts to alternate sides, one foot lifting between beats and landing on the beat (every beat
  or every other beat, by genre);
- arms: "hit" poses from the genre's move set, reached exactly on the beat after a quick ease-in-out, held until
  the next move; bigger poses on downbeats;
- extra accents on drum fills: alternating forward punches on each of the fill's hits;
- style: bounce depth, sway and twist per genre; dancer-specific size and energy; slow travel across the stage.

:func:`motion_peaks` is the inverse rule used to check the result: the beats are recovered as the peaks of the
hips' downward displacement in a 2-D view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FPS = 60.0
COCO = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LHip",
    "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
)  # fmt: skip
J = {name: k for k, name in enumerate(COCO)}
# rest pose, metres, dancer facing +z, +x is the dancer's left
REST = np.array(
    [
        [0.0, 1.6, 0.09], [0.035, 1.64, 0.07], [-0.035, 1.64, 0.07], [0.075, 1.61, 0.0], [-0.075, 1.61, 0.0],
        [0.19, 1.42, 0.0], [-0.19, 1.42, 0.0], [0.24, 1.15, 0.02], [-0.24, 1.15, 0.02], [0.26, 0.9, 0.05],
        [-0.26, 0.9, 0.05], [0.11, 0.95, 0.0], [-0.11, 0.95, 0.0], [0.12, 0.52, 0.02], [-0.12, 0.52, 0.02],
        [0.12, 0.08, 0.0], [-0.12, 0.08, 0.0],
    ]
)  # fmt: skip
# arm poses: (elbow, wrist) offsets from the shoulder for the LEFT arm (mirrored for the right), metres
ARM_POSES = {
    "down": ((0.05, -0.27, 0.02), (0.07, -0.52, 0.05)),
    "up": ((0.08, 0.26, 0.0), (0.1, 0.52, 0.02)),
    "out": ((0.27, 0.0, 0.0), (0.54, 0.02, 0.0)),
    "forward": ((0.02, -0.02, 0.27), (0.03, 0.0, 0.54)),
    "bent_up": ((0.27, -0.02, 0.0), (0.28, 0.24, 0.02)),
    "chest": ((0.2, -0.2, 0.1), (0.0, -0.1, 0.25)),
    "diag_up": ((0.2, 0.18, 0.0), (0.38, 0.38, 0.0)),
    "hip": ((0.2, -0.18, -0.05), (0.05, -0.42, 0.0)),
}
GENRE_STYLE = {  # bounce depth (m), sway (m), twist (rad), step every n beats, arm moves
    "BR": (0.07, 0.1, 0.3, 1, ("out", "forward", "bent_up", "down")),
    "PO": (0.05, 0.05, 0.2, 2, ("out", "bent_up", "forward", "chest")),
    "LO": (0.06, 0.08, 0.2, 1, ("forward", "up", "out", "diag_up")),
    "MH": (0.08, 0.09, 0.25, 1, ("chest", "down", "forward", "out")),
    "LH": (0.08, 0.1, 0.3, 1, ("forward", "chest", "diag_up", "down")),
    "HO": (0.06, 0.12, 0.2, 1, ("down", "out", "hip", "forward")),
    "WA": (0.05, 0.06, 0.15, 2, ("up", "diag_up", "out", "bent_up")),
    "KR": (0.09, 0.08, 0.35, 1, ("forward", "bent_up", "chest", "out")),
    "JS": (0.06, 0.1, 0.25, 2, ("diag_up", "out", "hip", "up")),
    "JB": (0.05, 0.12, 0.2, 2, ("out", "up", "diag_up", "hip")),
}  # fmt: skip


@dataclass
class Dance:
    """3-D joints ``[T, 17, 3]`` (metres, COCO-17, y up) at ``fps``, and the beat times they follow."""

    joints: np.ndarray
    fps: float
    beats: np.ndarray


def _pulse(times: np.ndarray, events: np.ndarray, width: float) -> np.ndarray:
    """Sum of Gaussian bumps of standard deviation ``width`` at ``events``."""
    if len(events) == 0:
        return np.zeros_like(times)
    return np.exp(-0.5 * ((times[:, None] - events[None]) / width) ** 2).sum(1)


def _ease(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _keyframes(times: np.ndarray, keys: np.ndarray, values: np.ndarray, attack: np.ndarray) -> np.ndarray:
    """Piecewise hold-and-move: at ``keys[k]`` reach ``values[k]`` after an ease-in-out of ``attack[k]`` seconds."""
    out = np.repeat(values[:1], len(times), axis=0).astype(np.float64)
    for k in range(1, len(keys)):
        blend = _ease((times - (keys[k] - attack[k])) / attack[k])[:, None]
        out = np.where((times >= keys[k] - attack[k])[:, None], (1 - blend) * out + blend * values[k], out)
    return out


def dance(
    genre: str,
    beats: np.ndarray,
    duration: float,
    rng: np.random.Generator,
    fills: np.ndarray | None = None,
    fps: float = FPS,
) -> Dance:
    """A dancer of AIST++ ``genre`` moving to ``beats`` (s) for ``duration`` s; ``fills`` are extra accent times."""
    depth, sway, twist, step_every, moves = GENRE_STYLE[genre]
    fills = np.zeros(0) if fills is None else np.asarray(fills, dtype=np.float64)
    energy = float(rng.uniform(0.8, 1.2))
    size = float(rng.uniform(0.92, 1.08))
    frames = int(round(duration * fps))
    times = np.arange(frames) / fps
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 0.5
    joints = np.repeat(REST[None] * size, frames, axis=0)

    # bounce: lowest exactly on each beat
    bounce = depth * energy * size * _pulse(times, beats, 0.14 * period)
    # weight shift side to side, extreme on the beats where a step lands
    steps = beats[::step_every]
    side = np.where(np.arange(len(steps)) % 2 == 0, 1.0, -1.0)
    shift = _keyframes(times, steps, (side * sway * energy)[:, None], np.full(len(steps), 0.8 * period))[:, 0]
    turn = twist * np.sin(np.pi * times / (2 * period) + rng.uniform(0, 2 * np.pi))

    upper = [J[n] for n in COCO[:11]]
    hips = [J["LHip"], J["RHip"]]
    joints[:, upper + hips, 1] -= bounce[:, None]
    joints[:, upper + hips, 0] += shift[:, None]
    knees = [J["LKnee"], J["RKnee"]]
    joints[:, knees, 1] -= 0.45 * bounce[:, None]
    joints[:, knees, 2] += 1.2 * bounce[:, None]
    joints[:, knees, 0] += 0.5 * shift[:, None]
    # the stepping foot lifts between beats and lands on the beat
    for k, (start, end) in enumerate(zip(steps[:-1], steps[1:])):
        foot = J["LAnkle"] if side[k + 1] > 0 else J["RAnkle"]
        knee = J["LKnee"] if side[k + 1] > 0 else J["RKnee"]
        inside = (times > start) & (times < end)
        lift = 0.08 * energy * np.sin(np.pi * (times[inside] - start) / (end - start))
        joints[inside, foot, 1] += lift
        joints[inside, knee, 1] += 0.5 * lift
        joints[inside, knee, 2] += 0.6 * lift

    # arms: hit poses reached on the beats (bigger on downbeats), punches on fill accents
    for side_sign, (shoulder, elbow, wrist) in (
        (1.0, ("LShoulder", "LElbow", "LWrist")),
        (-1.0, ("RShoulder", "RElbow", "RWrist")),
    ):  # noqa: E501
        names = [str(rng.choice(moves)) if k % 4 else "up" if rng.random() < 0.4 else str(rng.choice(moves))
                 for k in range(len(beats))]  # fmt: skip
        if len(beats) == 0:
            continue
        poses = np.array([np.concatenate(ARM_POSES[n]) for n in names]) * size
        keys = beats.copy()
        attack = np.full(len(keys), 0.35 * period)
        if len(fills):
            punches = np.array([np.concatenate(ARM_POSES["forward" if i % 2 == (side_sign > 0) else "chest"])
                                for i in range(len(fills))]) * size  # fmt: skip
            keys = np.concatenate([keys, fills])
            poses = np.concatenate([poses, punches])
            attack = np.concatenate([attack, np.full(len(fills), 0.08)])
            order = np.argsort(keys, kind="stable")
            keys, poses, attack = keys[order], poses[order], attack[order]
        arm = _keyframes(times, keys, poses, attack)
        mirror = np.array([side_sign, 1.0, 1.0])
        base = joints[:, J[shoulder]]
        joints[:, J[elbow]] = base + arm[:, :3] * mirror
        joints[:, J[wrist]] = base + arm[:, 3:] * mirror

    # twist about the vertical axis through the hips, slow travel and facing drift
    centre = joints[:, hips].mean(axis=1, keepdims=True)
    angle = turn[:, None] * np.where(np.arange(17) < 11, 1.0, 0.3)[None]
    rel = joints - centre
    x = np.cos(angle) * rel[..., 0] + np.sin(angle) * rel[..., 2]
    z = -np.sin(angle) * rel[..., 0] + np.cos(angle) * rel[..., 2]
    joints = np.stack([x, rel[..., 1], z], axis=-1) + centre
    travel = np.cumsum(rng.normal(0, 0.002, (frames, 2)), axis=0)
    travel = 0.6 * np.tanh(travel)
    joints[..., 0] += travel[:, None, 0]
    joints[..., 2] += travel[:, None, 1]
    return Dance(joints, fps, np.asarray(beats, dtype=np.float64))


def motion_peaks(keypoints2d: np.ndarray, fps: float = FPS, min_interval: float = 0.3) -> np.ndarray:
    """Times (s) of the dips of the hips in a 2-D view ``[T, 17, 3]`` (COCO-17, image y down; NaN or confidence 0
    where missing): peaks of the hips' detrended downward position, at least ``min_interval`` s apart."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import find_peaks

    hips = keypoints2d[:, [J["LHip"], J["RHip"]]]
    valid = np.isfinite(hips[..., 1]) & (np.nan_to_num(hips[..., 2]) > 0)
    y = np.where(valid, hips[..., 1], np.nan)
    y = np.nanmean(np.where(valid.any(1, keepdims=True), y, 0.0), axis=1)
    missing = ~valid.any(1)
    if missing.all():
        return np.zeros(0)
    frames = np.arange(len(y))
    y[missing] = np.interp(frames[missing], frames[~missing], y[~missing])
    y = uniform_filter1d(y, 3)
    y = y - uniform_filter1d(y, int(fps))
    scale = np.percentile(np.abs(y), 90) + 1e-9
    peaks, _ = find_peaks(y, distance=max(1, int(min_interval * fps)), prominence=0.3 * scale)
    return peaks / fps


__all__ = ["COCO", "Dance", "FPS", "GENRE_STYLE", "dance", "motion_peaks"]
