"""``interpolate_missing`` fills all joints at once; it must give exactly what joint-by-joint ``np.interp`` gives."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

from datamodules import keypoints as kp
from datamodules.layouts import get_layout


def _series(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    t = np.arange(values.shape[0])
    return np.stack([np.interp(t, t[valid], values[valid, d]) for d in range(values.shape[1])], axis=1)


def _joint_by_joint(keypoints: np.ndarray, layout: Optional[str]) -> np.ndarray:
    """The definition: each joint in tree order, one ``np.interp`` per coordinate."""
    out = kp.clean(keypoints)
    valid = ~kp.missing_mask(np.asarray(keypoints, dtype=np.float32))
    if layout is None:
        order, parent = list(range(out.shape[1])), [-1] * out.shape[1]
    else:
        order, parent = kp._bfs_parents(get_layout(layout).name)
    source = out.copy()
    for j in order:
        ok = valid[:, j]
        if ok.all() or not ok.any():
            continue
        out[:, j, 2] = _series(source[:, j, 2:], ok)[:, 0]
        p = parent[j]
        both = ok & valid[:, p] if p >= 0 else ok[:0]
        if p >= 0 and both.any():
            offset = _series(source[:, j, :2] - source[:, p, :2], both)
            absolute = _series(source[:, j, :2], ok)
            parent_ok = out[:, p, 2] > 0
            out[~ok, j, :2] = np.where(parent_ok[~ok, None], out[~ok, p, :2] + offset[~ok], absolute[~ok])
        else:
            out[:, j, :2] = _series(source[:, j, :2], ok)
    return out


@pytest.mark.parametrize("layout", [None, "body25", "openpose67"])
@pytest.mark.parametrize("seed", range(6))
def test_vectorised_fill_equals_joint_by_joint_interp(layout: Optional[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    joints = get_layout(layout).num_joints if layout else 9
    seq = rng.normal(100.0, 40.0, size=(90, joints, 3)).astype(np.float32)
    seq[..., 2] = rng.uniform(0.1, 1.0, size=(90, joints))
    missing_rate = rng.uniform(0.05, 0.9, size=joints)  # some joints barely seen, some nearly always
    seq[rng.uniform(size=(90, joints)) < missing_rate, 2] = 0.0
    seq[:, 0, 2] = 0.0  # a joint never detected (the root for body25: children fall back to absolute)
    seq[:, 1, 2] = 0.7  # one always detected
    seq[rng.uniform(size=(90, joints)) < 0.02, 0:2] = np.nan  # NaN values count as missing too
    fast, slow = kp.interpolate_missing(seq, layout), _joint_by_joint(seq, layout)
    assert fast.dtype == np.float32 and fast.shape == seq.shape
    np.testing.assert_array_equal(fast, slow)
    assert (fast[:, 0] == 0).all()  # never detected: stays missing
    filled = (seq[..., 2] == 0) & (fast[..., 2] > 0)
    assert filled.any()  # gaps were filled


def test_missing_mask_treats_nan_and_inf_confidences_like_nan_to_num() -> None:
    conf = np.array([0.5, 0.0, -1.0, np.nan, np.inf, -np.inf, 1e-8], dtype=np.float32)
    seq = np.ones((len(conf), 1, 3), dtype=np.float32)
    seq[:, 0, 2] = conf
    expected = ~np.all(np.isfinite(seq), axis=-1) | ~(np.nan_to_num(seq[..., 2], nan=0.0) > 0)
    np.testing.assert_array_equal(kp.missing_mask(seq), expected)
    assert kp.missing_mask(seq)[:, 0].tolist() == [False, True, True, True, True, True, False]
