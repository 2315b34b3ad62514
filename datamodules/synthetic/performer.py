"""A synthetic instrumentalist: OpenPose keypoints (BODY_25 + left hand 21 + right hand 21) driven by the notes.

Rules, per frame at the video rate:

- an instrument-specific posture (:data:`POSTURES`: standing or seated, where the instrument and each hand sit);
  instruments held alike differ a little, as MI Net §4 notes (violin vs viola, oboe vs clarinet): the viola is a
  larger violin (longer neck and bow reach, the fingering hand further out), the oboe is held a little steeper
  towards the camera than the clarinet (a shorter outline on screen, both hands a little higher);
- the stroke hand (bow, pick; the bellows hand on the accordion) moves between two end points; its direction flips
  at every note onset and its speed grows with the note density (onsets per second, smoothed over ~0.5 s); it rests
  in rests and runs out at the ends of the stroke, as a bow does;
- the fingering hand(s) follow :mod:`datamodules.synthetic.fingering`: hand position along the instrument, string
  (across the neck and a tilt), finger flexion and reach are a function of the pitch, reached ~50 ms before the onset;
  fingers relax in rests; the trombone's right hand follows the slide position;
- winds and brass breathe: the shoulders, neck and head rise before each phrase (after a rest or at the start) and
  sink while playing; everybody sways slowly; violinists and violists tilt the head onto the instrument.

Positions are computed in body units (neck to mid-hip = 1, x to the image right, y down, the subject faces the
camera so the subject's right side is on the image left) and returned in pixels. Joints are exact: detector-like
noise comes from :func:`datamodules.synthetic.detector.observe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datamodules.synthetic import kinematics
from datamodules.synthetic.fingering import RELAXED, Fingering, fingering
from datamodules.synthetic.instruments import Instrument, get

LEAD_S = 0.05  # the fingers are in place this long before the onset
UPPER_ARM, FOREARM, HAND = 0.58, 0.52, 0.36
STANDING = {
    "MidHip": (0.0, 1.0), "RHip": (-0.2, 1.0), "LHip": (0.2, 1.0), "RKnee": (-0.18, 1.55), "LKnee": (0.18, 1.55),
    "RAnkle": (-0.19, 2.08), "LAnkle": (0.19, 2.08), "RBigToe": (-0.25, 2.17), "LBigToe": (0.25, 2.17),
    "RSmallToe": (-0.3, 2.15), "LSmallToe": (0.3, 2.15), "RHeel": (-0.18, 2.13), "LHeel": (0.18, 2.13),
}  # fmt: skip
SEATED = {
    "MidHip": (0.0, 1.0), "RHip": (-0.2, 1.0), "LHip": (0.2, 1.0), "RKnee": (-0.32, 1.3), "LKnee": (0.32, 1.3),
    "RAnkle": (-0.34, 1.85), "LAnkle": (0.34, 1.85), "RBigToe": (-0.4, 1.94), "LBigToe": (0.4, 1.94),
    "RSmallToe": (-0.45, 1.92), "LSmallToe": (0.45, 1.92), "RHeel": (-0.33, 1.9), "LHeel": (0.33, 1.9),
}  # fmt: skip
UPPER = {
    "Nose": (0.0, -0.42), "Neck": (0.0, 0.0), "RShoulder": (-0.38, 0.03), "LShoulder": (0.38, 0.03),
    "REye": (-0.07, -0.49), "LEye": (0.07, -0.49), "REar": (-0.15, -0.45), "LEar": (0.15, -0.45),
}  # fmt: skip
HEAD = ("Nose", "REye", "LEye", "REar", "LEar")
BODY25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
    "RSmallToe", "RHeel",
)  # fmt: skip
LEFT_HAND = slice(25, 46)
RIGHT_HAND = slice(46, 67)


@dataclass(frozen=True)
class Hand:
    """Where one hand sits (body units): ``anchor`` wrist, ``shift`` wrist displacement per unit of
    :attr:`Fingering.shift`, ``across`` displacement per string, ``angle`` of the hand axis (deg), radians of tilt per
    string, which side the thumb is on."""

    anchor: tuple[float, float]
    angle: float
    shift: tuple[float, float] = (0.0, 0.0)
    across: tuple[float, float] = (0.0, 0.0)
    tilt: float = 0.0
    thumb_side: float = -1.0


@dataclass(frozen=True)
class Posture:
    """An instrument hold: the two hands, the stroke (end points of the stroking wrist, strokes/s = base + gain x
    note density, the end points' move per string), the instrument's outline (polyline, body units), head offset,
    breathing depth."""

    left: Hand
    right: Hand
    outline: tuple[tuple[float, float], ...]
    stroke: tuple[tuple[float, float], tuple[float, float]] | None = None
    stroke_hand: str = "right"
    stroke_speed: tuple[float, float] = (0.35, 0.25)
    stroke_string: tuple[float, float] = (0.0, 0.0)
    head: tuple[float, float] = (0.0, 0.0)
    breath: float = 0.012
    outline_width: float = 0.06


_VIOLIN = Posture(
    left=Hand((0.84, 0.02), -100.0, shift=(-0.026, -0.004), across=(0.0, 0.018), tilt=0.1, thumb_side=1.0),
    right=Hand((-0.3, 0.0), -10.0, thumb_side=1.0),
    outline=((0.05, -0.2), (0.3, -0.15), (0.95, -0.06)),
    stroke=((-0.08, -0.1), (-0.78, 0.12)),
    stroke_string=(0.0, 0.035),
    head=(0.07, 0.05),
    outline_width=0.1,
)
_VIOLA = Posture(  # a larger violin: the neck ~5 % longer, the chin rest lower, the bow starting further out
    left=Hand((0.885, 0.04), -98.5, shift=(-0.0275, -0.004), across=(0.0, 0.019), tilt=0.1, thumb_side=1.0),
    right=Hand((-0.31, 0.015), -10.0, thumb_side=1.0),
    outline=((0.045, -0.19), (0.31, -0.135), (1.0, -0.04)),
    stroke=((-0.1, -0.08), (-0.8, 0.14)),
    stroke_string=(0.0, 0.0365),
    head=(0.08, 0.06),
    outline_width=0.11,
)
_CELLO = Posture(
    left=Hand((0.42, -0.28), 180.0, shift=(-0.01, 0.045), across=(-0.015, 0.0), tilt=0.08, thumb_side=1.0),
    right=Hand((-0.3, 0.6), -10.0, thumb_side=1.0),
    outline=((0.3, -0.55), (0.2, 0.2), (0.05, 0.85), (0.0, 1.25)),
    stroke=((0.0, 0.62), (-0.95, 0.74)),
    stroke_string=(0.0, 0.04),
    outline_width=0.22,
)
_BASS = Posture(
    left=Hand((0.45, -0.48), 180.0, shift=(-0.012, 0.06), across=(-0.015, 0.0), tilt=0.08, thumb_side=1.0),
    right=Hand((-0.3, 1.0), -10.0, thumb_side=1.0),
    outline=((0.35, -0.8), (0.22, 0.3), (0.08, 1.1), (0.02, 1.9)),
    stroke=((0.02, 0.98), (-0.95, 1.1)),
    stroke_string=(0.0, 0.04),
    outline_width=0.3,
)
_FLUTE = Posture(
    left=Hand((-0.3, -0.24), -80.0, thumb_side=1.0),
    right=Hand((-0.66, -0.22), -95.0, thumb_side=-1.0),
    outline=((0.02, -0.37), (-1.1, -0.3)),
    breath=0.04,
)
_CLARINET = Posture(
    left=Hand((0.12, 0.12), 185.0, thumb_side=1.0),
    right=Hand((-0.11, 0.48), -5.0, thumb_side=-1.0),
    outline=((0.0, -0.36), (0.01, 0.3), (0.04, 0.72)),
    breath=0.04,
)
_OBOE = Posture(  # a little steeper towards the camera than the clarinet: shorter on screen, the hands higher
    left=Hand((0.115, 0.105), 184.5, thumb_side=1.0),
    right=Hand((-0.105, 0.45), -5.5, thumb_side=-1.0),
    outline=((0.0, -0.36), (0.01, 0.28), (0.04, 0.68)),
    breath=0.04,
    outline_width=0.06,
)
_SAX = Posture(
    left=Hand((0.04, 0.22), 190.0, thumb_side=1.0),
    right=Hand((-0.3, 0.55), 5.0, thumb_side=-1.0),
    outline=((-0.02, -0.36), (-0.08, 0.0), (-0.18, 0.55), (-0.12, 0.85), (0.0, 0.75)),
    breath=0.04,
    outline_width=0.12,
)
_BASSOON = Posture(
    left=Hand((0.18, 0.1), 190.0, thumb_side=1.0),
    right=Hand((-0.28, 0.55), 5.0, thumb_side=-1.0),
    outline=((-0.02, -0.34), (-0.1, 0.0), (-0.12, 0.95), (0.05, 0.2), (0.3, -0.95)),
    breath=0.04,
    outline_width=0.1,
)
_TRUMPET = Posture(
    left=Hand((0.17, -0.2), 185.0, thumb_side=1.0),
    right=Hand((-0.16, -0.3), 15.0, thumb_side=-1.0),
    outline=((0.0, -0.36), (0.0, -0.25), (0.06, -0.18)),
    breath=0.05,
    outline_width=0.14,
)
_HORN = Posture(
    left=Hand((0.06, 0.12), 195.0, thumb_side=1.0),
    right=Hand((-0.42, 0.55), -60.0, thumb_side=-1.0),
    outline=((0.0, -0.36), (-0.05, 0.1), (-0.2, 0.4), (-0.45, 0.6)),
    breath=0.05,
    outline_width=0.2,
)
_TROMBONE = Posture(
    left=Hand((0.1, -0.24), 185.0, thumb_side=1.0),
    right=Hand((-0.14, -0.02), 10.0, shift=(-0.015, 0.11), thumb_side=-1.0),
    outline=((0.0, -0.36), (-0.12, -0.1), (-0.2, 0.95)),
    breath=0.05,
    outline_width=0.08,
)
_TUBA = Posture(
    left=Hand((0.3, 0.38), 200.0, thumb_side=1.0),
    right=Hand((-0.12, 0.22), 80.0, thumb_side=-1.0),
    outline=((0.0, -0.34), (-0.05, 0.2), (0.0, 0.75), (0.25, 0.3), (0.38, -0.5)),
    breath=0.05,
    outline_width=0.3,
)
_ACCORDION = Posture(
    left=Hand((0.45, 0.6), 180.0, thumb_side=1.0),
    right=Hand((-0.42, 0.1), 0.0, shift=(0.0, 0.02), thumb_side=-1.0),
    outline=((-0.38, 0.1), (-0.38, 0.95), (0.38, 0.95), (0.38, 0.1), (-0.38, 0.1)),
    stroke=((0.42, 0.6), (0.68, 0.62)),
    stroke_hand="left",
    stroke_speed=(0.12, 0.04),
    outline_width=0.08,
)
_GUITAR = Posture(
    left=Hand((0.78, 0.52), -85.0, shift=(-0.045, 0.018), across=(0.0, -0.015), tilt=0.06, thumb_side=1.0),
    right=Hand((-0.05, 0.7), 70.0, thumb_side=-1.0),
    outline=((-0.3, 0.85), (-0.05, 0.75), (0.95, 0.33)),
    stroke=((-0.1, 0.55), (0.0, 0.88)),
    stroke_speed=(2.5, 0.5),
    outline_width=0.2,
)
_UKULELE = Posture(
    left=Hand((0.58, 0.4), -85.0, shift=(-0.03, 0.01), across=(0.0, -0.012), tilt=0.06, thumb_side=1.0),
    right=Hand((-0.05, 0.55), 70.0, thumb_side=-1.0),
    outline=((-0.15, 0.6), (0.0, 0.55), (0.65, 0.32)),
    stroke=((-0.08, 0.45), (0.0, 0.68)),
    stroke_speed=(2.5, 0.5),
    outline_width=0.14,
)
_EBASS = Posture(
    left=Hand((0.98, 0.35), -85.0, shift=(-0.06, 0.025), across=(0.0, -0.015), tilt=0.06, thumb_side=1.0),
    right=Hand((-0.18, 0.8), 75.0, thumb_side=-1.0),
    outline=((-0.35, 0.95), (-0.1, 0.85), (1.2, 0.25)),
    stroke=((-0.2, 0.74), (-0.16, 0.86)),
    stroke_speed=(2.0, 0.5),
    outline_width=0.16,
)
POSTURES: dict[str, Posture] = {
    "vn": _VIOLIN, "va": _VIOLA, "vc": _CELLO, "db": _BASS, "fl": _FLUTE, "ob": _OBOE, "cl": _CLARINET,
    "bn": _BASSOON, "sax": _SAX, "tpt": _TRUMPET, "hn": _HORN, "tbn": _TROMBONE, "tba": _TUBA, "acc": _ACCORDION,
    "gtr": _GUITAR, "uke": _UKULELE, "ebs": _EBASS,
}  # fmt: skip


@dataclass
class Performance:
    """Exact joints ``[T, 67, 2]`` (pixels; openpose67 = BODY_25 + left hand + right hand), the instrument outline
    ``[T, P, 2]`` (pixels, for drawing), the person's size in pixels and, per frame, the sounding pitch (-1 in
    rests)."""

    joints: np.ndarray
    outline: np.ndarray
    scale: float
    pitch: np.ndarray
    instrument: str
    outline_width: float = field(default=0.06)


def _current_note(notes: np.ndarray, times: np.ndarray, lead: float) -> np.ndarray:
    """Index of the last note whose onset (minus ``lead``) is <= t, -1 before the first."""
    if len(notes) == 0:
        return np.full(len(times), -1)
    return np.searchsorted(notes[:, 0] - lead, times, side="right") - 1


def _smooth(signal: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average over ``frames`` (>= 1) along axis 0, edges held."""
    if frames <= 1:
        return signal
    kernel = np.ones(frames) / frames
    pad = frames // 2
    padded = np.concatenate([np.repeat(signal[:1], pad, 0), signal, np.repeat(signal[-1:], frames - 1 - pad, 0)])
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(flat[:, k], kernel, mode="valid") for k in range(flat.shape[1])], axis=1)
    return out.reshape(signal.shape)


def note_density(notes: np.ndarray, times: np.ndarray, width: float = 0.5) -> np.ndarray:
    """Onsets per second around each time (Gaussian window of standard deviation ``width`` s)."""
    if len(notes) == 0:
        return np.zeros(len(times))
    diff = times[:, None] - notes[None, :, 0]
    return np.exp(-0.5 * (diff / width) ** 2).sum(1) / (width * np.sqrt(2 * np.pi))


def stroke_position(notes: np.ndarray, times: np.ndarray, fps: float, speed: tuple[float, float]) -> np.ndarray:
    """Stroke position in [0, 1] per frame: direction flips at every onset, speed = base + gain x note density,
    no motion in rests, clamped at the two ends (a bow that runs out stays at the tip until the next onset)."""
    onsets = np.searchsorted(times, notes[:, 0], side="left") if len(notes) else np.zeros(0, dtype=int)
    flips = np.bincount(onsets[onsets < len(times)], minlength=len(times)) if len(notes) else np.zeros(len(times))
    index = _current_note(notes, times, 0.0)
    sounding = (index >= 0) & (times < (notes[np.maximum(index, 0), 1] if len(notes) else 0))
    velocity = (speed[0] + speed[1] * note_density(notes, times)) / fps
    position, direction = 0.5, -1.0
    out = np.empty(len(times))
    for frame in range(len(times)):
        if flips[frame] % 2:
            direction = -direction
        if sounding[frame]:
            position = min(max(position + direction * velocity[frame], 0.0), 1.0)
        out[frame] = position
    return out


def breathing(notes: np.ndarray, times: np.ndarray, rest: float = 0.3) -> np.ndarray:
    """Lung filling in [0, 1]: an inhalation (0.35 s) before each phrase start, slow exhalation while playing."""
    fill = np.zeros(len(times))
    if len(notes) == 0:
        return fill
    gaps = notes[1:, 0] - notes[:-1, 1]
    starts = np.r_[notes[0, 0], notes[1:, 0][gaps >= rest]]
    ends = np.r_[notes[:-1, 1][gaps >= rest], notes[-1, 1]]
    for start, end in zip(starts, ends):
        inhale = (times >= start - 0.35) & (times < start)
        fill[inhale] = np.maximum(fill[inhale], (times[inhale] - start + 0.35) / 0.35)
        playing = (times >= start) & (times < end + 0.3)
        fill[playing] = np.maximum(fill[playing], np.exp(-(times[playing] - start) / max(end - start, 1.0) * 1.5))
    return fill


def perform(
    instrument: str | Instrument,
    notes: np.ndarray,
    duration: float,
    fps: float,
    origin: tuple[float, float],
    scale: float,
    rng: np.random.Generator,
) -> Performance:
    """Keypoints of one player of ``instrument`` playing ``notes`` (``[N, >=3]``: start s, end s, pitch).

    Args:
        duration: seconds; ``round(duration * fps)`` frames are made.
        origin: the neck's pixel position (the person's resting place in the frame).
        scale: pixels per body unit (neck to mid-hip).
        rng: random generator for the player's idiosyncrasies (sway phase, per-note variation).
    """
    spec = get(instrument) if isinstance(instrument, str) else instrument
    posture = POSTURES[spec.key]
    notes = np.asarray(notes, dtype=np.float64)
    notes = notes if notes.size else np.zeros((0, 4))
    notes = notes[np.argsort(notes[:, 0], kind="stable")]
    frames = int(round(duration * fps))
    times = np.arange(frames) / fps
    smooth = max(1, int(round(0.06 * fps)))

    # fingering per note -> per frame (in place LEAD_S early, relaxed in rests)
    plans = [fingering(spec, int(p)) for p in notes[:, 2]] if len(notes) else []
    plans.append(Fingering())  # index -1: before the first note
    index = _current_note(notes, times, LEAD_S)
    pick = np.where(index >= 0, index, len(plans) - 1)
    variation = rng.normal(0.0, 0.03, (len(plans), 2, 5))

    def per_frame(values: np.ndarray) -> np.ndarray:
        return values[pick]

    left_flex = per_frame(np.stack([p.left for p in plans]) + variation[:, 0])
    right_flex = per_frame(np.stack([p.right for p in plans]) + variation[:, 1])
    left_spread = per_frame(np.stack([p.left_spread for p in plans]))
    right_spread = per_frame(np.stack([p.right_spread for p in plans]))
    shift = per_frame(np.array([p.shift for p in plans]))
    string = per_frame(np.array([p.string for p in plans]))
    ends = notes[:, 1] if len(notes) else np.zeros(0)
    sounding = (index >= 0) & (times < (ends[np.maximum(index, 0)] + 0.08 if len(notes) else 0))
    rest = _smooth((~sounding).astype(np.float64), max(3, 3 * smooth))[:, None]
    left_flex = (1 - rest) * left_flex + rest * RELAXED
    if posture.stroke is None or posture.stroke_hand != "right":
        right_flex = (1 - rest) * right_flex + rest * RELAXED
    left_flex, right_flex, left_spread, right_spread = (
        _smooth(x, smooth) for x in (left_flex, right_flex, left_spread, right_spread)
    )
    shift, string = _smooth(shift, smooth), _smooth(string, smooth)

    # whole-body motion: sway, breathing, head
    phase = rng.uniform(0, 2 * np.pi, 3)
    sway = 0.03 * np.sin(2 * np.pi * 0.21 * times + phase[0]) + 0.015 * np.sin(2 * np.pi * 0.53 * times + phase[1])
    bob = 0.01 * np.sin(2 * np.pi * 0.37 * times + phase[2])
    lift = posture.breath * breathing(notes, times)
    upper_offset = np.stack([sway, bob - lift], axis=1)  # moves shoulders, head, instrument and hands
    joints: dict[str, np.ndarray] = {}
    lower = SEATED if spec.seated else STANDING
    for name, (x, y) in lower.items():
        joints[name] = np.tile([x, y], (frames, 1)) + np.stack([0.3 * sway, np.zeros(frames)], axis=1)
    for name, (x, y) in UPPER.items():
        offset = upper_offset + (np.array(posture.head) if name in HEAD else 0.0)
        joints[name] = np.array([x, y]) + offset
    joints["Neck"] = joints["Neck"] - np.stack([np.zeros(frames), 0.3 * lift], axis=1)

    # wrists: fingering hands from anchor + shift + string; the stroking hand between its end points
    def wrist_of(hand: Hand) -> np.ndarray:
        base = np.array(hand.anchor) + shift[:, None] * np.array(hand.shift) + string[:, None] * np.array(hand.across)
        return base + upper_offset

    wrists = {"L": wrist_of(posture.left), "R": wrist_of(posture.right)}
    if posture.stroke is not None:
        position = stroke_position(notes, times, fps, posture.stroke_speed)
        start, end = np.array(posture.stroke[0]), np.array(posture.stroke[1])
        stroked = start + position[:, None] * (end - start) + string[:, None] * np.array(posture.stroke_string)
        wrists["L" if posture.stroke_hand == "left" else "R"] = stroked + upper_offset
    drift = np.cumsum(rng.normal(0, 0.004, (frames, 2)), axis=0)
    drift = np.radians(3.0) * np.tanh(drift)
    for side, hand, flex, spread, tilt in (
        ("L", posture.left, left_flex, left_spread, drift[:, 0] + string * posture.left.tilt),
        ("R", posture.right, right_flex, right_spread, drift[:, 1] + string * posture.right.tilt),
    ):
        shoulder = joints[f"{side}Shoulder"]
        wrist = wrists[side]
        joints[f"{side}Wrist"] = wrist
        joints[f"{side}Elbow"] = kinematics.arm(shoulder, wrist, UPPER_ARM, FOREARM)
        angle = np.radians(hand.angle) + tilt
        points = kinematics.hand(wrist, angle, HAND, flex, spread, thumb_side=hand.thumb_side)
        for k in range(21):
            joints[f"{side}Hand{k}"] = points[:, k]

    order = BODY25 + tuple(f"LHand{k}" for k in range(21)) + tuple(f"RHand{k}" for k in range(21))
    body = np.stack([joints[name] for name in order], axis=1)
    outline = np.array(posture.outline)[None] + upper_offset[:, None]
    if spec.key == "tbn":  # the slide ends at the right hand
        outline[:, -1] = joints["RWrist"] + np.array([-0.05, 0.55])
    if spec.key == "acc":  # the bellows open with the left hand
        outline[:, 2:4, 0] = joints["LWrist"][:, None, 0] - 0.05
    origin_arr = np.array(origin, dtype=np.float64)
    pitch = np.where(sounding & (index >= 0), notes[np.maximum(index, 0), 2] if len(notes) else -1, -1).astype(int)
    # only frames at or after the onset count as sounding that pitch
    if len(notes):
        started = times >= notes[np.maximum(index, 0), 0]
        pitch = np.where(started, pitch, -1)
    return Performance(
        joints=origin_arr + scale * body,
        outline=origin_arr + scale * outline,
        scale=float(scale),
        pitch=pitch,
        instrument=spec.key,
        outline_width=posture.outline_width,
    )


__all__ = ["HAND", "LEFT_HAND", "POSTURES", "Performance", "Posture", "RIGHT_HAND", "breathing", "note_density",
           "perform", "stroke_position"]  # fmt: skip
