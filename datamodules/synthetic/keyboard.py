"""A top-view 88-key piano keyboard, rendered frame by frame from the keys held down and the hands over them.

Used by the synthetic top-view piano datasets (Audeo's keyboard crops, AtinPiano's hand keypoints come from the same
hand model, :mod:`datamodules.synthetic.hands`). Written here because no library draws a keyboard; OpenCV does the
rasterising.

Geometry (keyboard units): ``x`` in white-key widths from the left edge of A0 (0..52), ``y`` in white-key lengths from
the back of the keys (0) to their front edge (1); the camera looks straight down with the player at the bottom of the
image, low keys on the left. Real proportions: a white key is 23.5 mm x 150 mm, black keys are ~0.58 white widths wide
and 0.63 white lengths long. Black keys sit off-centre the way they do on a real piano: the C-E group (3 white keys)
is divided into 5 equal slots (C C# D D# E) and the F-B group (4 white keys) into 7 (F F# G G# A A# B); each black key
is centred in its slot.

What a pressed key looks like: a white key goes down, so its top is shaded darker, the sides of its neighbours show as
dark gaps and its front edge drops back; a black key goes down, so its bevelled front face disappears, it looks
shorter and its top catches less light (lighter grey here, seen against the shadow it leaves). Hands (21 OpenPose
keypoints each) are drawn as a palm polygon and thick finger segments with a soft shadow; raised fingers are lighter
(nearer the lamp) than fingers pressing keys. Per video: a lighting gradient and a slowly drifting brightness;
per frame: a smooth sub-pixel camera jitter (translation and a small rotation) and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LOWEST_PITCH = 21  # A0
N_KEYS = 88
N_WHITE = 52
BLACK_WIDTH = 0.58  # white-key widths
BLACK_LENGTH = 0.63  # white-key lengths
WHITE_PITCH_CLASSES = (0, 2, 4, 5, 7, 9, 11)
_BLACK_CENTRES = {1: 0.9, 3: 2.1, 6: 3 + 1.5 * 4 / 7, 8: 3 + 3.5 * 4 / 7, 10: 3 + 5.5 * 4 / 7}
_WHITE_LEFT = {0: 0, 2: 1, 4: 2, 5: 3, 7: 4, 9: 5, 11: 6}
_A0_OFFSET = 7 * (LOWEST_PITCH // 12) + _WHITE_LEFT[LOWEST_PITCH % 12]


@dataclass(frozen=True)
class KeyboardGeometry:
    """Left/right edges, centres and colour of the 88 keys in keyboard units (index k = MIDI pitch 21 + k)."""

    left: np.ndarray
    right: np.ndarray
    is_black: np.ndarray

    @property
    def centre(self) -> np.ndarray:
        return 0.5 * (self.left + self.right)


def geometry() -> KeyboardGeometry:
    """The real 88-key layout (see the module docstring)."""
    left = np.zeros(N_KEYS)
    right = np.zeros(N_KEYS)
    black = np.zeros(N_KEYS, dtype=bool)
    for k in range(N_KEYS):
        pitch = LOWEST_PITCH + k
        octave, pc = divmod(pitch, 12)
        if pc in _BLACK_CENTRES:
            centre = 7 * octave + _BLACK_CENTRES[pc] - _A0_OFFSET
            left[k], right[k], black[k] = centre - BLACK_WIDTH / 2, centre + BLACK_WIDTH / 2, True
        else:
            left[k] = 7 * octave + _WHITE_LEFT[pc] - _A0_OFFSET
            right[k] = left[k] + 1.0
    return KeyboardGeometry(left=left, right=right, is_black=black)


GEOMETRY = geometry()


def press_point(key: int, rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Where a fingertip touches ``key`` (keyboard units): the front part of a white key, the middle of a black one."""
    g = GEOMETRY
    x = float(g.centre[key])
    y = 0.45 if g.is_black[key] else 0.80
    if rng is not None:
        x += float(rng.normal(0.0, 0.06 * (BLACK_WIDTH if g.is_black[key] else 1.0)))
        y += float(rng.normal(0.0, 0.03))
    return x, y


@dataclass(frozen=True)
class View:
    """Affine map from keyboard units to image pixels: ``px = x0 + x * sx``, ``py = y0 + y * sy``."""

    width: int
    height: int
    x0: float
    y0: float
    sx: float
    sy: float

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """``[..., 2]`` keyboard units -> pixels."""
        out = np.empty_like(points, dtype=np.float64)
        out[..., 0] = self.x0 + points[..., 0] * self.sx
        out[..., 1] = self.y0 + points[..., 1] * self.sy
        return out


def crop_view(width: int = 900, height: int = 100) -> View:
    """A keyboard crop like Audeo's: the whole keyboard, a thin strip of the back felt above and the keybed below."""
    margin = 0.005 * width
    sx = (width - 2 * margin) / N_WHITE
    y0 = 0.035 * height
    sy = 0.86 * height
    return View(width, height, margin, y0, sx, sy)


@dataclass(frozen=True)
class Lighting:
    """Per-video appearance: brightness drift, side light, vignetting, key shades, noise level, jitter amplitude."""

    gain: np.ndarray  # [T] slowly varying brightness
    gradient: np.ndarray  # [H, W] multiplicative light field
    white: float
    black: float
    skin: float
    noise: float
    shift: np.ndarray  # [T, 3] camera jitter: dx px, dy px, rotation degrees


def smooth_walk(rng: np.random.Generator, n: int, scale: float, smooth: int) -> np.ndarray:
    """A smooth random signal of length ``n`` with standard deviation about ``scale`` (moving-average of noise)."""
    if n <= 0:
        return np.zeros(0)
    noise = rng.normal(0.0, 1.0, n + 2 * smooth)
    kernel = np.hanning(2 * smooth + 1)
    walk = np.convolve(noise, kernel / np.sqrt(np.sum(kernel**2)), mode="same")[smooth : smooth + n]
    return scale * walk


def random_lighting(rng: np.random.Generator, frames: int, view: View, fps: float) -> Lighting:
    """Draw one video's lighting and camera shake (mild, as in a fixed top-view camera)."""
    h, w = view.height, view.width
    xs = np.linspace(-1.0, 1.0, w)[None, :]
    ys = np.linspace(-1.0, 1.0, h)[:, None]
    side = rng.uniform(-0.12, 0.12)
    vignette = rng.uniform(0.03, 0.10)
    gradient = (1.0 + side * xs) * (1.0 - vignette * (xs**2 + 0.3 * ys**2))
    drift = smooth_walk(rng, frames, 0.04, max(1, int(2 * fps))) + 0.02 * np.sin(
        2 * np.pi * np.arange(frames) / (fps * rng.uniform(4, 12)) + rng.uniform(0, 2 * np.pi)
    )
    gain = rng.uniform(0.85, 1.05) * (1.0 + drift)
    shift = np.stack(
        [
            smooth_walk(rng, frames, rng.uniform(0.3, 1.2), max(1, int(0.5 * fps))),
            smooth_walk(rng, frames, rng.uniform(0.2, 0.8), max(1, int(0.5 * fps))),
            smooth_walk(rng, frames, rng.uniform(0.05, 0.2), max(1, int(fps))),
        ],
        axis=1,
    )
    return Lighting(
        gain=gain.astype(np.float32),
        gradient=gradient.astype(np.float32),
        white=float(rng.uniform(215, 240)),
        black=float(rng.uniform(18, 40)),
        skin=float(rng.uniform(140, 180)),
        noise=float(rng.uniform(0.8, 2.0)),
        shift=shift,
    )


def _rect(view: View, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    return np.round(view.to_pixels(pts) * 16).astype(np.int32)  # 4 fractional bits for cv2's shift=4


def _fill(canvas: np.ndarray, polygons: list[np.ndarray], value: float) -> None:
    if polygons:
        cv2.fillPoly(canvas, polygons, float(value), lineType=cv2.LINE_AA, shift=4)


def _background(view: View, light: Lighting) -> np.ndarray:
    """The keyboard with no key pressed (float32, before lighting)."""
    canvas = np.full((view.height, view.width), 0.35 * light.black, dtype=np.float32)  # felt / case
    _fill(canvas, [_rect(view, 0.0, N_WHITE, 1.0, 1.2)], 0.55 * light.white)  # keybed lip in front of the keys
    _fill(canvas, [_rect(view, 0.0, N_WHITE, 0.0, 1.0)], light.white)
    _separators(canvas, view, 0.45 * light.white)
    _draw_blacks(canvas, view, light, pressed=np.zeros(N_KEYS, dtype=bool))
    return canvas


def _separators(canvas: np.ndarray, view: View, value: float) -> None:
    """The thin gaps between neighbouring white keys."""
    lines = []
    for x in range(1, N_WHITE):
        a = np.round(view.to_pixels(np.array([x, 0.0])) * 16).astype(np.int32)
        b = np.round(view.to_pixels(np.array([x, 1.0])) * 16).astype(np.int32)
        lines.append(np.stack([a, b]))
    cv2.polylines(canvas, lines, False, float(value), 1, lineType=cv2.LINE_AA, shift=4)


def _draw_blacks(canvas: np.ndarray, view: View, light: Lighting, pressed: np.ndarray, only: bool = False) -> None:
    g = GEOMETRY
    up, down, bevel = [], [], []
    for k in np.flatnonzero(g.is_black):
        if only and not pressed[k]:
            continue
        if pressed[k]:
            down.append(_rect(view, g.left[k], g.right[k], 0.0, BLACK_LENGTH * 0.93))
        else:
            up.append(_rect(view, g.left[k], g.right[k], 0.0, BLACK_LENGTH))
            bevel.append(_rect(view, g.left[k] + 0.05, g.right[k] - 0.05, BLACK_LENGTH * 0.92, BLACK_LENGTH))
    if only:  # redrawing pressed black keys over the background: first clear the full-length key and its bevel
        clear = [
            _rect(view, g.left[k], g.right[k], 0.0, BLACK_LENGTH + 0.015) for k in np.flatnonzero(pressed & g.is_black)
        ]
        _fill(canvas, clear, 0.45 * light.white)  # the white keys' shaded sides around the sunk key
    _fill(canvas, up, light.black)
    _fill(canvas, bevel, light.black + 0.30 * (light.white - light.black))
    _fill(canvas, down, light.black + 0.16 * (light.white - light.black))


def _draw_pressed(canvas: np.ndarray, view: View, light: Lighting, pressed: np.ndarray) -> None:
    g = GEOMETRY
    whites = np.flatnonzero(pressed & ~g.is_black)
    if len(whites):
        gaps = [_rect(view, g.left[k] - 0.02, g.right[k] + 0.02, 0.0, 1.0) for k in whites]
        _fill(canvas, gaps, 0.30 * light.white)  # the neighbours' sides seen beside the sunk key
        tops = [_rect(view, g.left[k] + 0.11, g.right[k] - 0.11, 0.0, 0.975) for k in whites]
        _fill(canvas, tops, 0.76 * light.white)
        # black keys next to a sunk white key were painted over: draw them again
        neighbours = np.zeros(N_KEYS, dtype=bool)
        for k in whites:
            neighbours[max(k - 1, 0) : k + 2] = True
        redraw = neighbours & g.is_black & ~pressed
        up = [_rect(view, g.left[k], g.right[k], 0.0, BLACK_LENGTH) for k in np.flatnonzero(redraw)]
        bevel = [
            _rect(view, g.left[k] + 0.05, g.right[k] - 0.05, BLACK_LENGTH * 0.92, BLACK_LENGTH)
            for k in np.flatnonzero(redraw)
        ]
        _fill(canvas, up, light.black)
        _fill(canvas, bevel, light.black + 0.30 * (light.white - light.black))
    if np.any(pressed & g.is_black):
        _draw_blacks(canvas, view, light, pressed, only=True)


# OpenPose hand: 0 wrist; 1-4 thumb (CMC, MCP, IP, tip); 5-8 index, 9-12 middle, 13-16 ring, 17-20 pinky
FINGERS = tuple(tuple(range(1 + 4 * f, 5 + 4 * f)) for f in range(5))
FINGER_WIDTH = (0.80, 0.66, 0.68, 0.63, 0.55)  # white-key widths (thumb .. pinky)


def draw_hands(view: View, hands: np.ndarray, lift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise hands: returns (shade [H, W] float32 in 0..1 relative skin brightness, mask [H, W] float32 0..1).

    ``hands``: [n_hands, 21, 2] keyboard units (NaN rows = hand not in view); ``lift``: [n_hands, 5], 0 = finger
    pressing, 1 = fully raised.
    """
    mask = np.zeros((view.height, view.width), dtype=np.float32)
    shade = np.zeros((view.height, view.width), dtype=np.float32)
    for hand, lifts in zip(hands, lift):
        if not np.all(np.isfinite(hand)):
            continue
        px = view.to_pixels(hand)
        palm = px[[0, 1, 5, 9, 13, 17]]
        hull = cv2.convexHull(np.round(palm * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA, shift=4)
        cv2.fillConvexPoly(shade, hull, 0.92, lineType=cv2.LINE_AA, shift=4)
        for f, joints in enumerate(FINGERS):
            width = max(2, int(round(FINGER_WIDTH[f] * view.sx)))
            value = 0.85 + 0.15 * float(lifts[f])
            for a, b in zip(joints[:-1], joints[1:]):
                p, q = tuple(np.round(px[a] * 16).astype(int)), tuple(np.round(px[b] * 16).astype(int))
                cv2.line(mask, p, q, 1.0, width, lineType=cv2.LINE_AA, shift=4)
                cv2.line(shade, p, q, value, width, lineType=cv2.LINE_AA, shift=4)
            tip = tuple(np.round(px[joints[-1]] * 16).astype(int))
            cv2.circle(mask, tip, 16 * width // 2, 1.0, -1, lineType=cv2.LINE_AA, shift=4)
            cv2.circle(shade, tip, 16 * width // 2, value, -1, lineType=cv2.LINE_AA, shift=4)
    return shade, mask


def render_frame(
    background: np.ndarray,
    view: View,
    light: Lighting,
    t: int,
    pressed: np.ndarray,
    hands: np.ndarray | None,
    lift: np.ndarray | None,
    noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One grayscale frame (uint8 [H, W]) and its hand mask (float32 [H, W], before camera jitter)."""
    canvas = background.copy()
    _draw_pressed(canvas, view, light, pressed)
    mask = np.zeros_like(canvas)
    if hands is not None:
        shade, mask = draw_hands(view, hands, lift)
        dx, dy = int(round(0.25 * view.sx)), int(round(0.06 * view.sy))  # lamp behind-left: shadow right and front
        shadow = np.zeros_like(mask)
        shadow[dy:, dx:] = mask[: view.height - dy, : view.width - dx]
        shadow = cv2.GaussianBlur(shadow, (0, 0), 0.15 * view.sx)
        canvas *= 1.0 - 0.45 * shadow
        canvas = canvas * (1.0 - mask) + light.skin * shade * mask
    canvas *= light.gradient * light.gain[t]
    dx, dy, angle = light.shift[t]
    matrix = cv2.getRotationMatrix2D((view.width / 2, view.height / 2), float(angle), 1.0)
    matrix[:, 2] += (dx, dy)
    canvas = cv2.warpAffine(canvas, matrix, (view.width, view.height), borderMode=cv2.BORDER_REPLICATE)
    canvas += noise * light.noise
    return np.clip(canvas, 0, 255).astype(np.uint8), mask


def key_visibility(view: View, mask: np.ndarray) -> np.ndarray:
    """Fraction of each key's top surface not covered by the hands ([88] in 0..1), from a frame's hand mask."""
    g = GEOMETRY
    cols = np.arange(view.width)
    x = (cols + 0.5 - view.x0) / view.sx
    y_black = int(round(view.y0 + BLACK_LENGTH * view.sy))
    y_front = int(round(view.y0 + view.sy))
    back = np.cumsum(np.concatenate([[0.0], mask[max(int(view.y0), 0) : y_black].mean(axis=0)]))
    front = np.cumsum(np.concatenate([[0.0], mask[y_black:y_front].mean(axis=0)]))
    lo = np.searchsorted(x, g.left)
    hi = np.maximum(np.searchsorted(x, g.right), lo + 1)
    covered_back = (back[hi] - back[lo]) / (hi - lo)
    covered_front = (front[hi] - front[lo]) / (hi - lo)
    covered = np.where(g.is_black, covered_back, 0.5 * covered_back + 0.5 * covered_front)
    return np.clip(1.0 - covered, 0.0, 1.0)


def render_video(
    pressed: np.ndarray,
    hands: np.ndarray | None,
    lift: np.ndarray | None,
    rng: np.random.Generator,
    fps: float,
    view: View | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a top-view keyboard video: (frames uint8 [T, H, W], key visibility [T, 88] float32).

    Args:
        pressed: bool [T, 88], keys held down at each frame.
        hands: [T, n_hands, 21, 2] hand keypoints in keyboard units (or None for no hands).
        lift: [T, n_hands, 5] finger lift (0 pressing .. 1 raised).
        rng: the video's random generator (lighting, jitter, noise).
        fps: frame rate (sets the time scales of lighting drift and jitter).
        view: the image geometry; default :func:`crop_view` (900 x 100, Audeo's load size).
    """
    pressed = np.asarray(pressed, dtype=bool)
    if pressed.ndim != 2 or pressed.shape[1] != N_KEYS:
        raise ValueError(f"render_video: pressed must be [T, {N_KEYS}], got {pressed.shape}")
    view = view or crop_view()
    frames = len(pressed)
    light = random_lighting(rng, frames, view, fps)
    background = _background(view, light)
    bank = rng.normal(0.0, 1.0, (8, view.height, view.width)).astype(np.float32)
    out = np.empty((frames, view.height, view.width), dtype=np.uint8)
    visibility = np.ones((frames, N_KEYS), dtype=np.float32)
    for t in range(frames):
        noise = np.roll(bank[t % 8], int(rng.integers(0, view.width)), axis=1)
        frame_hands = None if hands is None else hands[t]
        frame_lift = None if lift is None else lift[t]
        out[t], mask = render_frame(background, view, light, t, pressed[t], frame_hands, frame_lift, noise)
        if hands is not None:
            visibility[t] = key_visibility(view, mask)
    return out, visibility
