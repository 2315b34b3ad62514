"""Two pianist's hands (21 OpenPose keypoints each) that play given keys, for the top-view piano datasets.

Rules (keyboard units of :mod:`datamodules.synthetic.keyboard`: x in white-key widths, y in white-key lengths):

- Each hand plays its own notes (the score's right-/left-hand staff). At every change of the set of keys a hand holds,
  the keys (at most five) are given to fingers in keyboard order (thumb lowest for the right hand, highest for the
  left), choosing the fingers that fit the keys best around one hand position, never moving a finger off a key it
  still holds, avoiding thumbs on black keys and large jumps of the hand.
- A pressing fingertip sits on its key (front of a white key, middle of a black key); free fingers hover in their
  rest spread around the hand position, kept in order beside the pressing ones.
- Between notes the hand holds its place, then moves to the next notes during the last ~0.25 s before them. The hand
  reaches forward (towards the back of the keys) as far as its farthest-reaching finger needs: for black keys, and
  for the thumb, which is shorter than the other fingers.
- Knuckles, finger joints, thumb base and wrist follow from the hand position; joints get a small smooth tremor.
- A finger's ``lift`` is 0 while it presses, 0.5 in the frame before and after, 1 otherwise (the renderer shades it).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from datamodules.synthetic.keyboard import GEOMETRY, N_KEYS, smooth_walk

N_JOINTS = 21
REST_X = np.array([-2.0, -1.0, 0.0, 1.0, 1.9])  # right hand, thumb .. pinky, around the hand position
KNUCKLE_X = np.array([0.0, -1.15, -0.1, 0.9, 1.85])
KNUCKLE_Y = np.array([0.0, 1.36, 1.33, 1.36, 1.42])
HOVER_Y = np.array([0.97, 0.87, 0.84, 0.86, 0.90])
MOVE_S = 0.25


def _press_y(key: int) -> float:
    return 0.45 if GEOMETRY.is_black[key] else 0.80


def _assign(keys: list[int], sign: float, held: dict[int, int], previous: float | None) -> tuple[dict[int, int], float]:
    """Fingers (0 thumb .. 4 pinky) for ``keys`` and the hand position; ``held`` maps keys still held to fingers."""
    xs = GEOMETRY.centre[keys]
    rest = sign * REST_X
    order = [int(f) for f in np.argsort(rest)]  # fingers from low x to high x
    keys_by_x = [keys[i] for i in np.argsort(xs)]
    x_sorted = np.sort(xs)
    best: tuple[float, dict[int, int], float] | None = None
    for fingers in combinations(order, len(keys_by_x)):
        offsets = rest[list(fingers)]
        centre = float(np.mean(x_sorted - offsets))
        cost = float(np.sum((x_sorted - centre - offsets) ** 2))
        mapping = dict(zip(keys_by_x, fingers))
        cost += sum(100.0 for key, finger in held.items() if mapping.get(key, finger) != finger)
        cost += sum(1.0 for key, finger in mapping.items() if finger == 0 and GEOMETRY.is_black[key])
        if previous is not None:
            cost += 0.02 * (centre - previous) ** 2
        if best is None or cost < best[0]:
            best = (cost, mapping, centre)
    assert best is not None
    return best[1], best[2]


def _fill_gaps(values: np.ndarray, known: np.ndarray, move: int) -> np.ndarray:
    """Between known frames hold the last value, then glide to the next one over the last ``move`` frames."""
    out = values.copy()
    idx = np.flatnonzero(known)
    if len(idx) == 0:
        return out
    out[: idx[0]] = values[idx[0]]
    out[idx[-1] + 1 :] = values[idx[-1]]
    for a, b in zip(idx[:-1], idx[1:]):
        if b - a <= 1:
            continue
        start = max(a + 1, b - move)
        out[a + 1 : start] = values[a]
        n = b - start
        u = (np.arange(1, n + 1) / (n + 1)) if n > 0 else np.zeros(0)
        u = u * u * (3 - 2 * u)
        out[start:b] = values[a] + (values[b] - values[a]) * u
    return out


def play(pressed: np.ndarray, side: str, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One hand playing ``pressed`` (bool [T, 88]): keypoints [T, 21, 2] (keyboard units) and lift [T, 5]."""
    if side not in ("left", "right"):
        raise ValueError(f"hands.play: side must be 'left' or 'right', got {side!r}")
    pressed = np.asarray(pressed, dtype=bool)
    frames = len(pressed)
    sign = 1.0 if side == "right" else -1.0
    tips = np.full((frames, 5, 2), np.nan)
    down = np.zeros((frames, 5), dtype=bool)
    centre = np.zeros(frames)
    depth = np.zeros(frames)
    known = np.zeros(frames, dtype=bool)
    key_jitter = rng.normal(0.0, 0.05, (N_KEYS, 2)) * np.array([1.0, 0.5])
    mapping: dict[int, int] = {}
    previous: float | None = None
    last_keys: tuple[int, ...] = ()
    for t in range(frames):
        keys = tuple(int(k) for k in np.flatnonzero(pressed[t]))
        if not keys:
            mapping, last_keys = {}, ()
            continue
        if keys != last_keys:
            if len(keys) > 5:  # more notes than fingers: the outer ones and an even spread between them
                keys = tuple(keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, 5).round().astype(int)))
            held = {k: f for k, f in mapping.items() if k in keys}
            mapping, previous = _assign(list(keys), sign, held, previous)
            last_keys = tuple(int(k) for k in np.flatnonzero(pressed[t]))
        known[t] = True
        centre[t] = previous
        reach = 0.0
        for key, finger in mapping.items():
            tips[t, finger] = (GEOMETRY.centre[key] + key_jitter[key, 0], _press_y(key) + key_jitter[key, 1])
            down[t, finger] = True
            reach = min(reach, _press_y(key) - (HOVER_Y[0] if finger == 0 else 0.80))
        depth[t] = 0.85 * reach
    move = max(1, int(round(MOVE_S * fps)))
    centre = _fill_gaps(centre, known, move)
    depth = _fill_gaps(depth, known, move)
    if not known.any():  # a silent hand rests on its half of the keyboard
        centre[:] = 16.0 if side == "left" else 36.0
    kernel = np.ones(3) / 3
    centre = np.convolve(np.pad(centre, 1, mode="edge"), kernel, mode="valid")
    depth = np.convolve(np.pad(depth, 1, mode="edge"), kernel, mode="valid")

    rest = sign * REST_X
    order = np.argsort(rest)
    points = np.zeros((frames, N_JOINTS, 2))
    for t in range(frames):
        c, dy = centre[t], depth[t]
        tip_x = np.where(down[t], tips[t, :, 0], c + rest)
        tip_y = np.where(down[t], tips[t, :, 1], HOVER_Y + dy)
        for i in range(1, 5):  # keep free fingers in order beside pressing ones (>= 0.55 apart)
            f, g = order[i], order[i - 1]
            if not down[t, f] and tip_x[f] < tip_x[g] + 0.55:
                tip_x[f] = tip_x[g] + 0.55
        for i in range(3, -1, -1):
            f, g = order[i], order[i + 1]
            if not down[t, f] and tip_x[f] > tip_x[g] - 0.55:
                tip_x[f] = tip_x[g] - 0.55
        wrist = np.array([c + sign * 0.25, 1.36 + dy + 0.62])
        points[t, 0] = wrist
        cmc = np.array([c - sign * 1.05, 1.36 + dy + 0.42])
        tip = np.array([tip_x[0], tip_y[0]])
        points[t, 1] = cmc
        points[t, 2] = cmc + 0.38 * (tip - cmc)
        points[t, 3] = cmc + 0.70 * (tip - cmc)
        points[t, 4] = tip
        for f in range(1, 5):
            mcp = np.array([c + sign * KNUCKLE_X[f], KNUCKLE_Y[f] + dy])
            tip = np.array([tip_x[f], tip_y[f]])
            base = 4 * f + 1
            points[t, base] = mcp
            points[t, base + 1] = mcp + 0.42 * (tip - mcp)
            points[t, base + 2] = mcp + 0.72 * (tip - mcp)
            points[t, base + 3] = tip
    tremor = np.stack(
        [smooth_walk(rng, frames, 0.015, max(1, int(0.2 * fps))) for _ in range(N_JOINTS * 2)], axis=1
    ).reshape(frames, N_JOINTS, 2)
    points += tremor * (1.0 - np.repeat(down, [5, 4, 4, 4, 4], axis=1)[:, :N_JOINTS, None] * 0.8)

    lift = np.where(down, 0.0, 1.0)
    near = np.zeros_like(down)
    near[1:] |= down[:-1]
    near[:-1] |= down[1:]
    lift = np.where(~down & near, 0.5, lift)
    return points.astype(np.float32), lift.astype(np.float32)


def play_both(
    left: np.ndarray, right: np.ndarray, fps: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Both hands: keypoints [T, 2, 21, 2] (index 0 = left hand, 1 = right hand) and lift [T, 2, 5]."""
    lk, ll = play(left, "left", fps, rng)
    rk, rl = play(right, "right", fps, rng)
    return np.stack([lk, rk], axis=1), np.stack([ll, rl], axis=1)
