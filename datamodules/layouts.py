"""Named 2-D keypoint layouts (joint names, skeleton edges, graph centre) and conversion between them.

Every joint of every layout carries a *canonical* name (OpenPose BODY_25 names for the body, ``LHand<i>`` /
``RHand<i>`` for the 21 OpenPose/MediaPipe hand points of the subject's left/right hand), so converting between layouts
is a look-up by name. Joints a source lacks are derived where a rule exists (BODY_25's Neck = mid-shoulders and MidHip
= mid-hips, used for MediaPipe and COCO; a hand's wrist <-> the body wrist), or copied with confidence 0 (toes from
feet), otherwise they come out as ``(0, 0, 0)``, i.e. "not detected" in OpenPose's convention.

Layouts (``LAYOUTS[name]``):

- ``body25``: OpenPose BODY_25 (docs/DATASETS.md §9).
- ``hand21``: one OpenPose hand (same order as MediaPipe Hands); names ``Hand<i>`` (side unknown).
- ``openpose67``: BODY_25 + left hand 21 + right hand 21, what OpenPose writes with ``--hand`` (JSON reader output).
- ``body65``: Foley Music's layout (its ST-GCN ``graph.py``): BODY_25, then left-hand points 1..20 rooted at body 7
  (LWrist), then right-hand points 1..20 rooted at body 4 (RWrist); hand wrists dropped.
- ``hands42``: Foley Music's AtinPiano layout: left hand 21, right hand 21, the two hands unconnected.
- ``solos47``: Solos skeleton release: BODY_25 joints 1..7, right hand 1..20 (root RWrist), left hand 1..20
  (root LWrist).
- ``upper47``: MI Net §3's "5 upper-body keypoints + 21 per hand": Neck, shoulders, elbows, then the right and the
  left hand with their wrists (from Solos, the hand wrists are the body wrists).
- ``coco17``: COCO keypoints (AIST++ ``keypoints2d``).
- ``rhythmic17``: RhythmicNet: BODY_25 joints 0..14 plus 19 (LBigToe) and 22 (RBigToe).
- ``mediapipe33``: MediaPipe Pose landmarks; ``mediapipe75``: MediaPipe Pose + left hand 21 + right hand 21.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

BODY25_JOINTS = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
    "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
    "RSmallToe", "RHeel",
)  # fmt: skip
BODY25_EDGES = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12), (12, 13), (13, 14),
    (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
)  # fmt: skip

HAND_JOINTS = (
    "Wrist", "Thumb1CMC", "Thumb2Knuckles", "Thumb3IP", "Thumb4FingerTip", "Index1Knuckles", "Index2PIP", "Index3DIP",
    "Index4FingerTip", "Middle1Knuckles", "Middle2PIP", "Middle3DIP", "Middle4FingerTip", "Ring1Knuckles", "Ring2PIP",
    "Ring3DIP", "Ring4FingerTip", "Pinky1Knuckles", "Pinky2PIP", "Pinky3DIP", "Pinky4FingerTip",
)  # fmt: skip
# (parent, child) for one hand, wrist = 0; the 5 fingers are chains wrist -> 1..4, wrist -> 5..8, ...
HAND_EDGES = tuple((0 if k % 4 == 1 else k - 1, k) for k in range(1, 21))

COCO17_JOINTS = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LHip",
    "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle",
)  # fmt: skip
COCO17_EDGES = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (7, 5), (8, 6), (9, 7), (10, 8),
    (1, 2), (1, 0), (2, 0), (3, 1), (4, 2), (3, 5), (4, 6),
)  # fmt: skip

# MediaPipe Pose landmark order; canonical names where a BODY_25/COCO joint is the same point.
MEDIAPIPE33_JOINTS = (
    "Nose", "MpLEyeInner", "LEye", "MpLEyeOuter", "MpREyeInner", "REye", "MpREyeOuter", "LEar", "REar", "MpMouthLeft",
    "MpMouthRight", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "MpLPinky", "MpRPinky",
    "MpLIndex", "MpRIndex", "MpLThumb", "MpRThumb", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "LHeel",
    "RHeel", "LBigToe", "RBigToe",
)  # fmt: skip
MEDIAPIPE33_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15), (15, 17),
    (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20), (11, 23), (12, 24),
    (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip


def hand_names(side: str, points: range = range(21)) -> tuple[str, ...]:
    """Canonical names of hand points: ``side`` is "L" or "R" (the subject's left/right hand)."""
    return tuple(f"{side}Hand{k}" for k in points)


def _hand_edges(offset: int, root: int | None = None) -> tuple[tuple[int, int], ...]:
    """Edges of a 21-point hand stored from ``offset``; with ``root`` the wrist (0) is dropped, points 1..20 are stored
    from ``offset`` and fingers attach to joint ``root`` (a body wrist) instead."""
    if root is None:
        return tuple((a + offset, b + offset) for a, b in HAND_EDGES)
    return tuple((root if a == 0 else a - 1 + offset, b - 1 + offset) for a, b in HAND_EDGES)


@dataclass(frozen=True)
class Layout:
    """A keypoint layout: ordered canonical joint names, undirected skeleton edges (index pairs) and a graph centre."""

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int = 0
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {name: k for k, name in enumerate(self.joints)})
        if len(self._index) != len(self.joints):
            raise ValueError(f"layout {self.name}: duplicate joint names")
        for a, b in self.edges:
            if not (0 <= a < len(self.joints) and 0 <= b < len(self.joints)):
                raise ValueError(f"layout {self.name}: edge ({a}, {b}) outside 0..{len(self.joints) - 1}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Position of the canonical joint name ``joint``; KeyError names the layout when absent."""
        try:
            return self._index[joint]
        except KeyError:
            raise KeyError(f"layout {self.name} has no joint {joint!r}") from None

    def __contains__(self, joint: str) -> bool:
        return joint in self._index

    def adjacency(self, self_loops: bool = False) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix [J, J] of the skeleton graph."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, j in self.edges:
            a[i, j] = a[j, i] = 1.0
        if self_loops:
            a[np.diag_indices(self.num_joints)] = 1.0
        return a


_SOLOS_BODY = BODY25_JOINTS[1:8]
_OP67 = BODY25_JOINTS + hand_names("L") + hand_names("R")
_MP75 = MEDIAPIPE33_JOINTS + hand_names("L") + hand_names("R")

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("body25", BODY25_JOINTS, BODY25_EDGES, center=1),
        Layout("hand21", HAND_JOINTS, HAND_EDGES, center=0),
        Layout(
            "openpose67",
            _OP67,
            BODY25_EDGES + ((7, 25), (4, 46)) + _hand_edges(25) + _hand_edges(46),
            center=1,
        ),
        Layout(
            "body65",
            BODY25_JOINTS + hand_names("L", range(1, 21)) + hand_names("R", range(1, 21)),
            BODY25_EDGES + _hand_edges(25, root=7) + _hand_edges(45, root=4),
            center=1,
        ),
        Layout("hands42", hand_names("L") + hand_names("R"), _hand_edges(0) + _hand_edges(21), center=0),
        Layout(
            "solos47",
            _SOLOS_BODY + hand_names("R", range(1, 21)) + hand_names("L", range(1, 21)),
            ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6)) + _hand_edges(7, root=3) + _hand_edges(27, root=6),
            center=0,
        ),
        Layout(
            "upper47",
            ("Neck", "RShoulder", "RElbow", "LShoulder", "LElbow") + hand_names("R") + hand_names("L"),
            ((0, 1), (1, 2), (0, 3), (3, 4), (2, 5), (4, 26)) + _hand_edges(5) + _hand_edges(26),
            center=0,
        ),
        Layout("coco17", COCO17_JOINTS, COCO17_EDGES, center=0),
        Layout(
            "rhythmic17",
            BODY25_JOINTS[:15] + ("LBigToe", "RBigToe"),
            tuple(e for e in BODY25_EDGES if max(e) < 15) + ((14, 15), (11, 16)),
            center=1,
        ),
        Layout("mediapipe33", MEDIAPIPE33_JOINTS, MEDIAPIPE33_EDGES, center=0),
        Layout(
            "mediapipe75",
            _MP75,
            MEDIAPIPE33_EDGES + ((15, 33), (16, 54)) + _hand_edges(33) + _hand_edges(54),
            center=0,
        ),
    )
}

# Joints a layout may lack, built from others: name -> [(sources averaged, confidence scale), ...] tried in order.
# Scale 0 keeps a plausible position but marks the joint as not observed (toes copied from the feet).
DERIVED: dict[str, tuple[tuple[tuple[str, ...], float], ...]] = {
    "Neck": ((("LShoulder", "RShoulder"), 1.0),),
    "MidHip": ((("LHip", "RHip"), 1.0),),
    "LWrist": ((("LHand0",), 1.0),),
    "RWrist": ((("RHand0",), 1.0),),
    "LHand0": ((("LWrist",), 1.0),),
    "RHand0": ((("RWrist",), 1.0),),
    "LBigToe": ((("LAnkle",), 0.0),),
    "RBigToe": ((("RAnkle",), 0.0),),
    "LSmallToe": ((("LBigToe",), 0.0), (("LAnkle",), 0.0)),
    "RSmallToe": ((("RBigToe",), 0.0), (("RAnkle",), 0.0)),
    "LHeel": ((("LAnkle",), 0.0),),
    "RHeel": ((("RAnkle",), 0.0),),
}


def get_layout(layout: str | Layout) -> Layout:
    """``LAYOUTS[name]`` with an error listing the known names."""
    if isinstance(layout, Layout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise KeyError(f"unknown keypoint layout {layout!r}; known: {sorted(LAYOUTS)}") from None


@cache
def conversion_plan(src: str, dst: str) -> tuple[tuple[tuple[int, ...], float], ...]:
    """For each joint of ``dst``: (source indices to average, confidence scale); ``()`` when it cannot be had."""
    s, d = get_layout(src), get_layout(dst)
    plan = []
    for joint in d.joints:
        if joint in s:
            plan.append(((s.index(joint),), 1.0))
            continue
        entry: tuple[tuple[int, ...], float] = ((), 0.0)
        for sources, scale in DERIVED.get(joint, ()):
            if all(name in s for name in sources):
                entry = (tuple(s.index(name) for name in sources), scale)
                break
        plan.append(entry)
    if not any(sources for sources, _ in plan):
        raise ValueError(f"cannot convert keypoints from layout {src} to {dst}: they share no joint")
    return tuple(plan)


def convert(keypoints: np.ndarray, src: str | Layout, dst: str | Layout) -> np.ndarray:
    """Convert keypoints ``[..., J_src, C]`` (C = 2: x, y or C = 3: x, y, confidence) to layout ``dst``.

    A derived joint is the mean of its sources with the minimum of their confidences (times the rule's scale);
    joints that cannot be had are zeros (confidence 0). With C = 2 there is no confidence to carry."""
    src_layout, dst_layout = get_layout(src), get_layout(dst)
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-2] != src_layout.num_joints or keypoints.shape[-1] not in (2, 3):
        raise ValueError(
            f"convert: expected keypoints [..., {src_layout.num_joints}, 2|3] in layout {src_layout.name}, "
            f"got shape {keypoints.shape}"
        )
    if src_layout.name == dst_layout.name:
        return keypoints.copy()
    plan = conversion_plan(src_layout.name, dst_layout.name)
    out = np.zeros(keypoints.shape[:-2] + (dst_layout.num_joints, keypoints.shape[-1]), dtype=keypoints.dtype)
    for j, (sources, scale) in enumerate(plan):
        if not sources:
            continue
        picked = keypoints[..., list(sources), :]
        out[..., j, :2] = picked[..., :2].mean(axis=-2)
        if keypoints.shape[-1] == 3:
            out[..., j, 2] = picked[..., 2].min(axis=-1) * scale
    return out


__all__ = ["LAYOUTS", "DERIVED", "Layout", "get_layout", "convert", "conversion_plan", "hand_names"]
