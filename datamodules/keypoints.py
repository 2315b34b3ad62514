"""Keypoint readers (OpenPose JSON, Foley Music npy, Solos memmap, AIST++ pkl) and clean-up (missing joints, NaN,
interpolation, normalisation, fps resampling). Formats: docs/DATASETS.md §3, §4, §8, §9; layouts:
:mod:`datamodules.layouts`.

All readers return float32 arrays ``[T, J, 3]`` (x, y, confidence; x, y in the source's units, pixels for all real
datasets) and name their layout. A joint is *missing* when its confidence is 0 (OpenPose's "not detected") or any of
its values is not finite (AIST++ writes NaN); :func:`clean` turns every missing joint into ``(0, 0, 0)``.
"""

from __future__ import annotations

import json
import math
import pickle
import re
from collections import deque
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from datamodules.layouts import get_layout

OPENPOSE_PARTS = (("pose_keypoints_2d", 25), ("hand_left_keypoints_2d", 21), ("hand_right_keypoints_2d", 21))
_FRAME_NUMBER = re.compile(r"_(\d+)_keypoints\.json$")
_TRAILING_DIGITS = re.compile(r"(\d+)(?!.*\d)")


# --------------------------------------------------------------------------------------------------- clean-up
def missing_mask(keypoints: np.ndarray) -> np.ndarray:
    """Boolean ``[..., J]``: confidence <= 0 or any non-finite value."""
    keypoints = np.asarray(keypoints)
    bad = ~np.all(np.isfinite(keypoints), axis=-1)
    if keypoints.shape[-1] == 3:
        bad |= ~(keypoints[..., 2] > 0)  # NaN > 0 is False: a NaN confidence is missing
    return bad


def clean(keypoints: np.ndarray) -> np.ndarray:
    """Float32 copy in which every missing joint (NaN/Inf values or confidence 0) is ``(0, 0, 0)``."""
    out = np.array(keypoints, dtype=np.float32, copy=True)
    out[missing_mask(out)] = 0.0
    return out


def _bfs_parents(layout_name: str) -> tuple[list[int], list[int]]:
    """Joints in breadth-first order from the layout's centre, and each joint's parent (-1 for roots)."""
    layout = get_layout(layout_name)
    neighbours: list[list[int]] = [[] for _ in range(layout.num_joints)]
    for a, b in layout.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    parent = [-1] * layout.num_joints
    seen = [False] * layout.num_joints
    order: list[int] = []
    for root in [layout.center] + list(range(layout.num_joints)):
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue:
            j = queue.popleft()
            order.append(j)
            for k in neighbours[j]:
                if not seen[k]:
                    seen[k], parent[k] = True, j
                    queue.append(k)
    return order, parent


def _interp_columns(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Float64 linear interpolation over time of every column of ``values`` [T, C, ...] from its own rows where
    ``valid`` [T, C]; ends hold the nearest valid row. Column by column this is ``np.interp`` (the same arithmetic:
    ``f0 + (f1 - f0) / (t1 - t0) * (t - t0)`` in float64), done for all columns at once; a column with no valid row
    holds its values unchanged."""
    values = np.asarray(values, dtype=np.float64)
    steps = values.shape[0]
    t = np.arange(steps)[:, None]
    before = np.maximum.accumulate(np.where(valid, t, -1), axis=0)  # the last valid row at or before t
    after = np.minimum.accumulate(np.where(valid, t, steps)[::-1], axis=0)[::-1]  # the first at or after t
    has = valid.any(axis=0)[None, :]
    lo = np.where(before >= 0, before, after)  # before the first valid row: hold it
    hi = np.where(after < steps, after, lo)  # after the last: hold it
    lo, hi = np.where(has, lo, t), np.where(has, hi, t)
    columns = np.arange(values.shape[1])[None, :]
    f0, f1 = values[lo, columns], values[hi, columns]
    span = (hi - lo).reshape(hi.shape + (1,) * (values.ndim - 2))
    inner = span > 0
    slope = np.divide(f1 - f0, span, out=np.zeros_like(f0), where=inner)
    offset = (t - lo).reshape(span.shape)
    return np.where(inner, slope * offset + f0, f0)


def interpolate_missing(keypoints: np.ndarray, layout: Optional[str] = None) -> np.ndarray:
    """Fill missing joints by linear interpolation in time (MI Net §3).

    With ``layout``, a joint is interpolated *relative to its parent* in the skeleton tree (the offset to the
    precedent joint is interpolated between the previous and next frames where both were detected, then added to the
    parent's filled position), which keeps hands attached to moving wrists; without it, absolute positions are
    interpolated. Frames before the first / after the last detection hold the nearest one. The confidence of a
    filled joint is interpolated the same way from its detections, so filled joints count as present downstream
    (resampling, normalisation); a joint never detected in the sequence stays ``(0, 0, 0)``, i.e. missing.
    Input ``[T, J, 3]``; returns a float32 copy. The interpolations run for all joints at once; only the hand-over
    from parent to child follows the tree.
    """
    kp = clean(keypoints)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise ValueError(f"interpolate_missing: expected [T, J, 3], got {kp.shape}")
    valid = ~missing_mask(np.asarray(keypoints, dtype=np.float32))
    if layout is None:
        order, parent = list(range(kp.shape[1])), [-1] * kp.shape[1]
    else:
        if get_layout(layout).num_joints != kp.shape[1]:
            raise ValueError(f"interpolate_missing: layout {layout} has {get_layout(layout).num_joints} joints, got "
                             f"{kp.shape[1]}")  # fmt: skip
        order, parent = _bfs_parents(get_layout(layout).name)
    filled = kp.copy()
    partial = np.flatnonzero(valid.any(axis=0) & ~valid.all(axis=0))  # joints with gaps to fill
    if len(partial) == 0:
        return filled
    absolute = _interp_columns(kp[:, partial], valid[:, partial])  # x, y, confidence from the joint's detections
    filled[:, partial, 2] = absolute[..., 2]
    parents = np.array([parent[j] for j in partial])
    both = valid[:, partial] & valid[:, np.maximum(parents, 0)] & (parents >= 0)[None, :]
    attached = both.any(axis=0)
    offsets = _interp_columns(kp[:, partial, :2] - kp[:, np.maximum(parents, 0), :2], both)
    free = ~attached
    filled[:, partial[free], :2] = absolute[:, free, :2]
    # attached joints take their parent's filled position, so they go down the tree level by level
    depth = np.zeros(kp.shape[1], dtype=np.int64)
    for j in order:
        depth[j] = depth[parent[j]] + 1 if parent[j] >= 0 else 0
    for level in np.unique(depth[partial[attached]]):
        cols = np.flatnonzero(attached & (depth[partial] == level))
        joints, ps = partial[cols], parents[cols]
        missing = ~valid[:, joints]
        # where the parent itself could not be filled, fall back to absolute interpolation
        parent_ok = filled[:, ps, 2] > 0
        moved = np.where(parent_ok[..., None], filled[:, ps, :2] + offsets[:, cols], absolute[:, cols, :2])
        filled[:, joints, :2] = np.where(missing[..., None], moved, filled[:, joints, :2])
    return filled


def normalize(
    keypoints: np.ndarray,
    mode: Literal["bbox", "image", "none"] = "bbox",
    image_size: Optional[tuple[float, float]] = None,
) -> np.ndarray:
    """Normalise x, y of ``[T, J, 3]``; missing joints stay ``(0, 0, 0)``.

    - ``bbox``: centre on the clip's bounding box of detected joints and divide by its larger side, so coordinates
      are in about [-0.5, 0.5] whatever the camera distance (a clip with nothing detected stays zeros);
    - ``image``: divide by ``image_size = (width, height)`` into [0, 1];
    - ``none``: unchanged.
    """
    kp = clean(keypoints)
    if mode == "none":
        return kp
    valid = ~missing_mask(kp)
    if mode == "image":
        if image_size is None:
            raise ValueError("normalize(mode='image') needs image_size=(width, height)")
        kp[..., 0] /= float(image_size[0])
        kp[..., 1] /= float(image_size[1])
    elif mode == "bbox":
        if not valid.any():
            return kp
        xy = kp[..., :2][valid]
        low, high = xy.min(axis=0), xy.max(axis=0)
        scale = float(max(high - low)) or 1.0
        kp[..., :2] = (kp[..., :2] - (low + high) / 2) / scale
    else:
        raise ValueError(f"normalize: unknown mode {mode!r} (bbox, image, none)")
    kp[~valid] = 0.0
    return kp


def resample(
    keypoints: np.ndarray, src_fps: float, dst_fps: float, start: float = 0.0, num_frames: Optional[int] = None
) -> np.ndarray:
    """Resample ``[T, J, C]`` from ``src_fps`` to ``dst_fps`` by linear interpolation in time.

    Output frame k is at time ``start + k / dst_fps`` (source frame i is at ``i / src_fps``); times past the end hold
    the last frame. A joint is missing in an output frame when it is missing in either neighbouring source frame.
    ``num_frames`` defaults to every output frame inside the source."""
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape[0] == 0:
        raise ValueError("resample: empty keypoint sequence")
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"resample: fps must be positive, got {src_fps} -> {dst_fps}")
    if num_frames is None:
        num_frames = int(np.floor((kp.shape[0] / src_fps - start) * dst_fps + 1e-6))
    pos = np.clip((start + np.arange(num_frames) / dst_fps) * src_fps, 0, kp.shape[0] - 1)
    lo = np.floor(pos + 1e-6).astype(np.int64).clip(0, kp.shape[0] - 1)
    hi = np.minimum(lo + 1, kp.shape[0] - 1)
    w = (pos - lo).clip(0, 1)[:, None, None].astype(np.float32)
    clean_kp = clean(kp) if kp.shape[-1] == 3 else kp
    out = clean_kp[lo] * (1 - w) + clean_kp[hi] * w
    if kp.shape[-1] == 3:
        miss = missing_mask(kp)
        gone = miss[lo] | (miss[hi] & (w[..., 0] > 1e-6))
        out[gone] = 0.0
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------------------- OpenPose JSON
def _openpose_frames(folder: Path) -> list[tuple[int, Path]]:
    files = sorted(folder.glob("*_keypoints.json"))
    if not files:
        raise FileNotFoundError(f"no OpenPose '*_keypoints.json' files in {folder}")
    numbered = []
    for path in files:
        match = _FRAME_NUMBER.search(path.name) or _TRAILING_DIGITS.search(path.name[: -len("_keypoints.json")])
        if match is None:
            raise ValueError(f"OpenPose file {path} has no frame number in its name (<name>_<frame>_keypoints.json)")
        numbered.append((int(match.group(1)), path))
    numbered.sort()
    numbers = [n for n, _ in numbered]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"OpenPose folder {folder} has two files for the same frame number (two videos mixed?)")
    return numbered


def _person_array(person: dict, path: Path) -> np.ndarray:
    out = np.zeros((67, 3), dtype=np.float32)
    offset = 0
    for key, count in OPENPOSE_PARTS:
        values = person.get(key) or []
        if values:
            if len(values) != count * 3:
                raise ValueError(
                    f"OpenPose file {path}: {key} has {len(values)} values, expected {count * 3} "
                    f"({'BODY_25' if count == 25 else 'a 21-point hand'}; other pose models are not supported)"
                )
            out[offset : offset + count] = np.asarray(values, dtype=np.float32).reshape(count, 3)
        offset += count
    out[~np.all(np.isfinite(out), axis=-1)] = 0.0  # a NaN / Inf joint is a missing one, as everywhere else
    return out


def read_openpose_json(path: str | Path, person: Literal["most_confident"] | int = "most_confident") -> np.ndarray:
    """One OpenPose frame file -> ``[67, 3]`` in layout ``openpose67`` (BODY_25 + left hand + right hand); zeros when
    nobody is detected, and for a joint with a NaN / Inf value (missing, as :func:`clean` treats it). ``person``: the
    index in ``people`` or the person with the largest total confidence."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read OpenPose JSON {path}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise ValueError(f"OpenPose JSON {path} has no 'people' list")
    people = [_person_array(p, path) for p in data["people"]]
    if not people:
        return np.zeros((67, 3), dtype=np.float32)
    if person == "most_confident":
        return max(people, key=lambda a: float(np.nansum(a[:, 2])))
    if not 0 <= int(person) < len(people):
        return np.zeros((67, 3), dtype=np.float32)
    return people[int(person)]


def read_openpose_folder(
    folder: str | Path, person: Literal["most_confident"] | int = "most_confident", fill_gaps: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """An OpenPose ``--write_json`` folder -> (keypoints ``[T, 67, 3]`` in ``openpose67``, frame numbers ``[T]``).

    Files are ordered by the frame number in their names. With ``fill_gaps`` a frame number absent from the folder
    (OpenPose skipped it) becomes an all-missing frame so that row k is frame ``first + k``; interpolate afterwards.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"OpenPose keypoint folder {folder} does not exist")
    frames = _openpose_frames(folder)
    arrays = [read_openpose_json(path, person) for _, path in frames]
    numbers = np.array([n for n, _ in frames], dtype=np.int64)
    kp = np.stack(arrays)
    if fill_gaps and numbers[-1] - numbers[0] + 1 != len(numbers):
        full = np.zeros((numbers[-1] - numbers[0] + 1, 67, 3), dtype=np.float32)
        full[numbers - numbers[0]] = kp
        kp, numbers = full, np.arange(numbers[0], numbers[-1] + 1)
    return kp, numbers


# ------------------------------------------------------------------------------------------------- Foley npy
FOLEY_LAYOUTS = {65: "body65", 42: "hands42", 25: "body25"}


def read_foley_pose(
    path: str | Path, start: int = 0, num_frames: Optional[int] = None, person: int = 0
) -> tuple[np.ndarray, str]:
    """Foley Music pose file ``[T, C, V, M]`` (.npy) -> (``[T', V, 3]`` frames ``start:start+num_frames``, layout).

    V = 65 -> ``body65`` (C = 3), 42 -> ``hands42`` (C = 2: no confidence; a point is taken as detected unless it is
    exactly (0, 0) or not finite), 25 -> ``body25``. Frames past the end are missing (zeros); the array is
    memory-mapped, so only the clip is read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Foley pose file {path} does not exist")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"cannot read Foley pose file {path}: {error}") from error
    if arr.ndim == 3:  # [T, C, V] without the person axis
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[1] not in (2, 3) or arr.shape[2] not in FOLEY_LAYOUTS:
        raise ValueError(f"Foley pose file {path} has shape {arr.shape}, expected [T, C=2|3, V=65|42|25, M]")
    if not 0 <= person < arr.shape[3]:
        raise ValueError(f"Foley pose file {path} has {arr.shape[3]} people, asked for person {person}")
    total = arr.shape[0]
    stop = total if num_frames is None else start + num_frames
    clip = np.asarray(arr[max(0, start) : min(total, stop), :, :, person], dtype=np.float32)  # [t, C, V]
    clip = clip.transpose(0, 2, 1)
    if clip.shape[-1] == 2:
        detected = np.all(np.isfinite(clip), axis=-1) & np.any(clip != 0, axis=-1)
        clip = np.concatenate([clip, detected[..., None].astype(np.float32)], axis=-1)
    out = np.zeros((max(0, stop - start), clip.shape[1], 3), dtype=np.float32)
    lead = max(0, -start)
    out[lead : lead + clip.shape[0]] = clip
    return clean(out), FOLEY_LAYOUTS[arr.shape[2]]


# ------------------------------------------------------------------------------------------------------ Solos
def _index_span(path: Path, ytid: str, value: object) -> tuple[int, int]:
    """``[start, stop)`` rows of ``ytid`` in a Solos ``skeleton_dict.json``: two whole numbers, or an error naming the
    file and the id (a NaN or a float there would otherwise fail far from its cause)."""
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(x, (int, float)) and math.isfinite(x) and float(x).is_integer() for x in value)
    if not ok:
        raise ValueError(f"Solos skeleton index {path}: id {ytid} has rows {value!r}, expected [start, stop) as two "
                         "whole numbers")  # fmt: skip
    return int(value[0]), int(value[1])


class SolosSkeletons:
    """Solos' released skeletons: ``skeleton.npy`` is a raw float32 memmap ``(N, 3, 47)`` with NO .npy header and
    ``skeleton_dict.json`` maps each YouTube id to its ``[start, stop)`` rows, plus ``"_counter": N``.

    Ids may start with ``_``: only the ``_counter`` key is dropped. Frames are at 25 fps, coordinates in pixels."""

    FPS = 25.0

    def __init__(self, skeleton_npy: str | Path, skeleton_dict: str | Path) -> None:
        self.path, self.dict_path = Path(skeleton_npy), Path(skeleton_dict)
        for p in (self.path, self.dict_path):
            if not p.is_file():
                raise FileNotFoundError(f"Solos skeleton file {p} does not exist")
        try:
            index = json.loads(self.dict_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read Solos skeleton index {self.dict_path}: {error}") from error
        if "_counter" not in index:
            raise ValueError(f"Solos skeleton index {self.dict_path} has no '_counter' entry")
        self.count = int(index.pop("_counter"))
        self.spans = {str(k): _index_span(self.dict_path, str(k), v) for k, v in index.items()}
        expected = self.count * 3 * 47 * 4
        size = self.path.stat().st_size
        if size != expected:
            hint = " (it has a .npy header: Solos' file is a raw memmap)" if size == expected + 128 else ""
            raise ValueError(
                f"Solos skeleton file {self.path} has {size} bytes, expected {expected} = _counter {self.count} "
                f"x 3 x 47 x float32{hint}"
            )
        for ytid, (a, b) in self.spans.items():
            if not 0 <= a <= b <= self.count:
                raise ValueError(
                    f"Solos skeleton index {self.dict_path}: id {ytid} spans [{a}, {b}) outside 0..{self.count}"
                )
        self._memmap: Optional[np.memmap] = None

    @property
    def memmap(self) -> np.memmap:
        if self._memmap is None:  # opened lazily, so the object pickles cheaply into DataLoader workers
            self._memmap = np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.count, 3, 47))
        return self._memmap

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_memmap"} | {"_memmap": None}

    def ids(self) -> list[str]:
        return sorted(self.spans)

    def __contains__(self, ytid: str) -> bool:
        return ytid in self.spans

    def num_frames(self, ytid: str) -> int:
        a, b = self._span(ytid)
        return b - a

    def _span(self, ytid: str) -> tuple[int, int]:
        try:
            return self.spans[ytid]
        except KeyError:
            raise KeyError(f"Solos id {ytid!r} is not in {self.dict_path}") from None

    def read(self, ytid: str, start: int = 0, num_frames: Optional[int] = None) -> np.ndarray:
        """Frames ``start:start+num_frames`` of ``ytid`` as ``[T, 47, 3]`` (layout ``solos47``); past the end is
        missing (zeros)."""
        a, b = self._span(ytid)
        stop = b - a if num_frames is None else start + num_frames
        rows = np.asarray(self.memmap[a + max(0, start) : a + min(b - a, stop)], dtype=np.float32)
        out = np.zeros((max(0, stop - start), 47, 3), dtype=np.float32)
        out[max(0, -start) : max(0, -start) + rows.shape[0]] = rows.transpose(0, 2, 1)
        return clean(out)


# ---------------------------------------------------------------------------------------------------- AIST++
def read_aistpp_keypoints2d(path: str | Path, view: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """AIST++ ``keypoints2d/<seq>.pkl`` -> (``[N, 17, 3]`` COCO-17 at 60 fps for camera ``view`` (0..8), det_scores
    ``[N]``). NaN (missing detections) become ``(0, 0, 0)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AIST++ keypoints file {path} does not exist")
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as error:
        raise ValueError(f"cannot read AIST++ keypoints pickle {path}: {error}") from error
    if not isinstance(data, dict) or "keypoints2d" not in data:
        raise ValueError(f"AIST++ pickle {path} has no 'keypoints2d' entry")
    kp = np.asarray(data["keypoints2d"], dtype=np.float32)
    if kp.ndim != 4 or kp.shape[2:] != (17, 3):
        raise ValueError(f"AIST++ pickle {path}: keypoints2d has shape {kp.shape}, expected (views, N, 17, 3)")
    if not 0 <= view < kp.shape[0]:
        raise ValueError(f"AIST++ pickle {path} has {kp.shape[0]} views, asked for view {view}")
    scores = np.asarray(data.get("det_scores", np.ones(kp.shape[:2])), dtype=np.float32)
    scores = scores[view] if scores.ndim == 2 else scores
    return clean(kp[view]), np.nan_to_num(scores, nan=0.0)


# ------------------------------------------------------------------------------------------------- dispatcher
def read_keypoints(path: str | Path) -> tuple[np.ndarray, str]:
    """Any supported keypoint source -> (``[T, J, 3]``, layout): an OpenPose JSON folder (``openpose67``), a Foley
    ``.npy`` (``body65`` / ``hands42``) or an AIST++ ``.pkl`` (``coco17``, view 0)."""
    path = Path(path)
    if path.is_dir():
        return read_openpose_folder(path)[0], "openpose67"
    if path.suffix == ".npy":
        return read_foley_pose(path)
    if path.suffix == ".pkl":
        return read_aistpp_keypoints2d(path)[0], "coco17"
    if not path.exists():
        raise FileNotFoundError(f"keypoint source {path} does not exist")
    raise ValueError(f"keypoint source {path}: expected an OpenPose JSON folder, a Foley .npy or an AIST++ .pkl")


__all__ = [
    "SolosSkeletons",
    "clean",
    "interpolate_missing",
    "missing_mask",
    "normalize",
    "read_aistpp_keypoints2d",
    "read_foley_pose",
    "read_keypoints",
    "read_openpose_folder",
    "read_openpose_json",
    "resample",
]
